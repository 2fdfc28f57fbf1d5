"""Options shared by every command, so each one spells ``--json`` the same way."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmforge.console import Console, get_console
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.toolchain_sets import ToolchainSetName

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


ForceFlag = Annotated[
    bool, typer.Option("--force", "-f", help="Allow OUT to be the input file itself.")
]


def output_file(source: Path, output: Path | None, *, suggestion: str, force: bool) -> Path:
    """The ``-o`` file of a command that writes one module from another: required, not a
    directory, and not the input itself unless ``--force`` (a named file is otherwise replaced:
    naming it is the request)."""
    from wasmforge.fsutil import refuse_overwriting_input

    if output is None:
        msg = "no output file: name one with -o OUT.wasm"
        raise UserError(msg, hint=suggestion)
    if output.is_dir():
        msg = f"{output}: is a directory; -o takes a file name"
        raise UserError(msg)
    if not force:
        refuse_overwriting_input(source, output,
                                 hint="pass --force to write over it, or -o another file")
    return output


ReleaseFlag = Annotated[bool, typer.Option("--release", help="Use the release profile.")]
DebugFlag = Annotated[bool, typer.Option("--debug", help="Use the debug profile.")]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", metavar="NAME", help="Use this profile.")
]
RUNNERS = ("auto", "docker", "local")


def chosen_profile(release: bool, debug: bool, profile: str | None) -> str | None:
    """The profile ``--release``/``--debug``/``--profile`` name (None: the config's default);
    a UserError when they name more than one."""
    given = [flag for flag, on in
             (("--release", release), ("--debug", debug), ("--profile", profile is not None))
             if on]
    if len(given) > 1:
        msg = f"{' and '.join(given)} contradict each other: give one"
        raise UserError(msg)
    return "release" if release else "debug" if debug else profile


def toolchain_set_named(raw: str, *, also: str | None = None) -> ToolchainSetName:
    """The toolchain set ``--set`` names; a UserError listing the known ones (and ``also``, a
    further word the option takes, such as ``all``)."""
    from wasmforge.toolchain_sets import TOOLCHAIN_SETS

    for known in TOOLCHAIN_SETS:
        if raw == known:
            return known
    choices = ", ".join((*TOOLCHAIN_SETS, *((also,) if also else ())))
    msg = f"--set: unknown toolchain set {raw!r} (known: {choices})"
    raise UserError(msg)


def check_runner(runner: str | None) -> None:
    """A bad ``--runner`` is a bad argument (exit 2), not a bad config file."""
    if runner is not None and runner not in RUNNERS:
        msg = f"--runner: unknown runner {runner!r} (expected auto, docker or local)"
        raise UserError(msg)


ProjectArgument = Annotated[
    Path, typer.Argument(help="Project directory (or its wasmforge.toml).", show_default=False)
]
OutDirOption = Annotated[
    Path | None, typer.Option("--out-dir", "-o", help="Output directory (default: dist).")
]
