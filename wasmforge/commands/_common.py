"""Options shared by every command, so each one spells ``--json`` the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wasmforge.console import Console, get_console
from wasmforge.errors import UserError

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON on stdout (human output on stderr).")
]


def command_console(json_flag: bool) -> Console:
    """The run's console, switched to JSON mode if this command was given ``--json``."""
    console = get_console()
    if json_flag:
        console.json_mode = True
    return console


def existing_file(path: Path, what: str = "file") -> Path:
    """``path`` if it is a readable file, else a one-line user error naming it."""
    if not path.exists():
        msg = f"{path}: no such {what}"
        raise UserError(msg)
    if path.is_dir():
        msg = f"{path}: is a directory, expected a {what}"
        raise UserError(msg)
    return path
