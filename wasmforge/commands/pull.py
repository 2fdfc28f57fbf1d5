"""``wasmforge pull REF -o DIR``: fetch an image from a registry into an OCI layout, digests checked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.commands.push import InsecureFlag


def pull(
    reference: Annotated[str, typer.Argument(help="Image to pull, e.g. ghcr.io/acme/hello:1.0.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="OCI layout directory to write.")],
    insecure: InsecureFlag = False,
    force: Annotated[bool, typer.Option("--force", help="Replace DIR if it exists.")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Pull an image or Wasm artifact into an OCI image layout directory."""
    from wasmforge.errors import UserError
    from wasmforge.oci.inspect import describe
    from wasmforge.oci.reference import parse_reference
    from wasmforge.oci.transfer import client_for, fetch_image, write_pulled_layout

    console = command_console(json_flag)
    if output.exists() and not force and (not output.is_dir() or any(output.iterdir())):
        msg = f"{output}: already exists; not overwriting it"
        raise UserError(msg, hint="pass --force to replace it, or -o to write elsewhere")
    ref = parse_reference(reference)
    image = fetch_image(ref, client_for(ref, os.environ, insecure=insecure))
    write_pulled_layout(image, ref, output)
    console.info(f"pulled {ref} ({image.format}) {image.digest} into {output}")
    console.result({"reference": str(ref), "layout": str(output), **describe(image)})


def register(app: typer.Typer) -> None:
    app.command("pull")(pull)
