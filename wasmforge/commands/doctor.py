"""``wasmforge doctor``: check that this machine can build, and say what to do where it cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wasmforge.commands._common import JsonFlag, command_console


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    project: Annotated[
        Path, typer.Option("--project", "-p",
                           help="Project directory whose settings to check too (when it has "
                                "a wasmforge.toml).")
    ] = Path(),
    json_output: JsonFlag = False,
) -> None:
    """Engine, toolchain images, disk space, cache, registry credentials and clock: each ok, a
    warning, or a failure with what to do. Exits non-zero when a check fails."""
    import os

    from wasmforge.doctor import run_checks

    console = command_console(json_output)
    checks = run_checks(project, os.environ)
    console.table(("check", "status", "detail", "what to do"),
                  [[c.name, c.status, c.detail, c.fix or "-"] for c in checks], title="doctor")
    failed = [c for c in checks if c.status == "fail"]
    console.result({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    if failed:
        console.error(f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}",
                      hint=failed[0].fix or None)
        raise typer.Exit(int(failed[0].code))
