"""``wasmforge schema``: the JSON schema of ``wasmforge.toml``, for editors (taplo, VS Code's Even
Better TOML). ``wasmforge new`` writes it into each project as ``.wasmforge/wasmforge.schema.json``,
which the ``#:schema`` line of its ``wasmforge.toml`` names; ``wasmforge schema -o
.wasmforge/wasmforge.schema.json`` brings that copy up to date with the installed wasmforge."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.errors import UserError


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE",
                                  help="Write the schema to FILE instead of stdout.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Print or write the JSON schema of wasmforge.toml."""
    from wasmforge.config.schema import config_schema_text

    console = command_console(json_output)
    text = config_schema_text()
    if output is None:
        # The schema is the result, with or without --json: one JSON document on stdout.
        sys.stdout.write(text)
        console.result_printed = True
        return
    write_schema(output)
    console.info(f"wrote {output}")
    console.result({"path": str(output), "bytes": len(text.encode("utf-8"))})


def write_schema(output: Path) -> None:
    """Write the schema to ``output`` (its directory made if needed), whole or not at all."""
    from wasmforge.config.schema import config_schema_text
    from wasmforge.fsutil import atomic_write_bytes

    if output.is_dir():
        msg = f"{output}: is a directory; -o takes a file name"
        raise UserError(msg)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(output, config_schema_text().encode("utf-8"))
    except OSError as error:  # named by the file asked for, not the temporary one beside it
        msg = f"{output}: cannot write: {(error.strerror or str(error)).lower()}"
        raise UserError(msg) from None
