"""``wasmforge componentize``: turn any WASI core module into a WASI 0.2 component.

As with ``opt``, the output is named with ``-o`` and never the input itself unless ``--force``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from wasmforge.commands._common import (
    ForceFlag,
    JsonFlag,
    command_console,
    existing_file,
    output_file,
)
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.component.adapters import AdapterKind


def componentize(
    source: Annotated[Path, typer.Argument(metavar="IN.wasm", help="A WASI core module.",
                                           show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="OUT.wasm",
                     help="Where to write the component (required; replaced if it exists)."),
    ] = None,
    adapter_kind: Annotated[
        str | None,
        typer.Option("--adapter", metavar="command|reactor",
                     help="The preview1 adapter (default: command if the module exports "
                          "_start, else reactor)."),
    ] = None,
    wit: Annotated[
        Path | None,
        typer.Option("--wit", metavar="DIR", help="A WIT directory whose world to export."),
    ] = None,
    world: Annotated[
        str | None, typer.Option("--world", metavar="NAME", help="With --wit: the world.")
    ] = None,
    force: ForceFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Wrap a WASI preview1 module into a WASI 0.2 component (wasm-tools and the pinned adapter)."""
    from wasmforge.component.componentize import componentize as make_component

    console = command_console(json_flag)
    source = existing_file(source, "WebAssembly module")
    output = output_file(source, output, force=force,
                         suggestion=f"wasmforge componentize {source} -o "
                                    f"{source.stem}.component.wasm")
    if adapter_kind not in (None, "command", "reactor"):
        msg = f"--adapter: {adapter_kind!r} is not command or reactor"
        raise UserError(msg)
    if wit is not None and not wit.is_dir():
        msg = f"--wit: {wit}: not a directory"
        raise UserError(msg)
    made = make_component(source, output, kind=cast("AdapterKind | None", adapter_kind),
                          wit=wit, world=world)
    how = "already a component: validated and copied" if made.adapter is None else (
        f"with the {made.adapter.kind} adapter ({made.adapter.version})")
    console.info(f"wrote {output}: {how}")
    console.result({"input": str(source), **made.as_dict()})


def register(app: typer.Typer) -> None:
    app.command("componentize")(componentize)
