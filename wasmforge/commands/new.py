"""``wasmforge new``: start a project from a template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.errors import UserError


def new(
    template: Annotated[
        str | None, typer.Argument(help="Template name (see --list).", show_default=False)
    ] = None,
    directory: Annotated[
        Path | None, typer.Argument(help="Directory to create (default: the template name).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: the directory name).")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the templates.")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Create a new Wasm project from a template."""
    from wasmforge.scaffold import create_project, find_template, list_templates

    console = command_console(json_flag)
    if list_ or template is None:
        templates = list_templates()
        console.table(["template", "description"], [[t.name, t.description] for t in templates])
        console.result([{"name": t.name, "description": t.description} for t in templates])
        if template is None and not list_:
            msg = "name a template: wasmforge new TEMPLATE [DIR]"
            raise UserError(msg)
        return
    chosen = find_template(template)
    destination = directory or Path(template)
    files = create_project(chosen, destination, name)
    console.info(f"created {destination} from template {chosen.name} ({len(files)} files)")
    here = destination.resolve() == Path.cwd().resolve()
    console.info("next: wasmforge build" if here else f"next: cd {destination} && wasmforge build")
    console.result({"template": chosen.name, "directory": str(destination),
                    "files": [str(f) for f in files]})


def register(app: typer.Typer) -> None:
    app.command("new")(new)
