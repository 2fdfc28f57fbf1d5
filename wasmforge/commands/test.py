"""``wasmforge test``: build the targets that ``[[test]]`` checks name, then run the checks.

The build is the one ``wasmforge build`` runs (``wasmforge.build.project``), without packaging;
the checks are in ``wasmforge.testrun``. Exit 0 when every check passes, 9 when one fails (after
all of them ran), and a build's own code (5, 6, ...) when the build fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmforge.commands._common import (
    DebugFlag,
    JsonFlag,
    OutDirOption,
    ProfileOption,
    ProjectArgument,
    ReleaseFlag,
    check_runner,
    chosen_profile,
    command_console,
)
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.testrun import CheckResult


def register(app: typer.Typer) -> None:
    app.command("test")(run_checks)


def run_checks(
    path: ProjectArgument = Path(),
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", metavar="NAME",
                     help="Run only the checks of this target (repeatable)."),
    ] = None,
    release: ReleaseFlag = False,
    debug: DebugFlag = False,
    profile: ProfileOption = None,
    runner: Annotated[
        str | None,
        typer.Option("--runner", metavar="auto|docker|local",
                     help="Where build steps run (as for wasmforge build)."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Build actions run in parallel."),
    ] = None,
    out_dir: OutDirOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Build the project, then run the checks its wasmforge.toml declares (test entries)."""
    import os
    import time

    from wasmforge.build.project import build_project
    from wasmforge.cli import invocation_args
    from wasmforge.config.load import find_config, load_config
    from wasmforge.config.resolve import BuildFlags, resolve_settings
    from wasmforge.errors import TestsFailedError
    from wasmforge.testrun import BuiltTarget, run_check, select_tests

    console = command_console(json_output)
    profile_name = chosen_profile(release, debug, profile)
    check_runner(runner)
    config_path = find_config(path)
    root = config_path.parent.resolve()
    config = load_config(config_path)
    named = tuple(dict.fromkeys(target or ()))
    unknown = [name for name in named if name not in config.targets]
    if unknown:
        msg = f"--target: no target named {unknown[0]!r} (targets: {', '.join(config.targets)})"
        raise UserError(msg)
    tests = select_tests(config.test, named)
    if not tests:
        where = f" of target {', '.join(named)}" if named else ""
        msg = f"{config_path}: no [[test]] checks{where}"
        raise UserError(msg, hint="add one: [[test]] name = \"smoke\" target = \"...\" "
                        "expect-stdout-contains = \"...\" (see docs/test.md)")
    settings = resolve_settings(
        root, config, os.environ,
        BuildFlags(profile=profile_name, runner=runner, jobs=jobs,
                   out_dir=out_dir.resolve() if out_dir else None,
                   targets=tuple(dict.fromkeys(t.target for t in tests))),
    )
    outcome = build_project(settings, config_path, console, request_args=invocation_args(),
                            package=False)
    built = {t.entry.name: BuiltTarget(t.entry, outcome.result.publish_dir)
             for t in outcome.result.targets if t.entry is not None}
    started = time.monotonic()
    results = []
    for check in tests:
        result = run_check(check, built[check.target])
        _print_result(result)
        results.append(result)
    failed = [r for r in results if not r.passed]
    seconds = time.monotonic() - started
    console.info(f"{len(results) - len(failed)} passed, {len(failed)} failed "
                 f"({settings.profile.name}, {seconds:.2f}s)")
    console.result({"profile": settings.profile.name, "passed": len(results) - len(failed),
                    "failed": len(failed), "tests": [r.as_dict() for r in results],
                    "build": outcome.report})
    if failed:
        names = ", ".join(r.name for r in failed)
        msg = f"{len(failed)} of {len(results)} checks failed: {names}"
        raise TestsFailedError(msg)


def _print_result(result: CheckResult) -> None:
    from wasmforge.console import get_console

    console = get_console()
    label = f"{result.name} ({result.target}, {result.kind})"
    if result.passed:
        console.info(f"ok    {label} {result.seconds:.2f}s")
    else:  # shown even with --quiet: it is what the exit code is about
        console.detail(f"FAIL  {label}: {result.problem}")
