"""``wasmforge build``: build a project's targets into ``<out_dir>/<profile>/``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.config.resolve import Settings
    from wasmforge.console import Console

RUNNERS = ("auto", "docker", "local")


def register(app: typer.Typer) -> None:
    app.command("build")(build)


def build(
    path: Annotated[
        Path, typer.Argument(help="Project directory (or its wasmforge.toml).", show_default=False)
    ] = Path(),
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", metavar="NAME", help="Build only this target (repeatable)."),
    ] = None,
    release: Annotated[bool, typer.Option("--release", help="Use the release profile.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Use the debug profile.")] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="NAME", help="Use this profile.")
    ] = None,
    runner: Annotated[
        str | None,
        typer.Option("--runner", metavar="auto|docker|local",
                     help="Where steps run: toolchain containers, host tools, or auto (docker if "
                          "an engine answers, else host tools)."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Targets built in parallel.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", "-o", help="Output directory (default: dist).")
    ] = None,
    check_reproducible: Annotated[
        bool,
        typer.Option("--check-reproducible",
                     help="Build twice from clean and fail (exit 8) if any output differs."),
    ] = False,
    no_package: Annotated[
        bool, typer.Option("--no-package",
                           help="Do not package targets that have a package table in wasmforge.toml."),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Build the project's WebAssembly targets (C/C++, Rust, Emscripten, WAT)."""
    import os

    from wasmforge.build.execute import run_build
    from wasmforge.build.summary import print_summary, result_json
    from wasmforge.config.load import find_config, load_config
    from wasmforge.config.resolve import BuildFlags, resolve_settings
    from wasmforge.epoch import source_date_epoch
    from wasmforge.runner.select import select_runner

    console = command_console(json_output)
    chosen = [flag for flag, given in
              (("--release", release), ("--debug", debug), ("--profile", profile is not None))
              if given]
    if len(chosen) > 1:
        msg = f"{' and '.join(chosen)} contradict each other: give one"
        raise UserError(msg)
    if runner is not None and runner not in RUNNERS:
        msg = f"--runner: unknown runner {runner!r} (expected auto, docker or local)"
        raise UserError(msg)
    profile_name = "release" if release else "debug" if debug else profile
    config_path = find_config(path)
    root = config_path.parent.resolve()
    config = load_config(config_path)
    settings = resolve_settings(
        root, config, os.environ,
        BuildFlags(profile=profile_name, runner=runner, jobs=jobs,
                   out_dir=out_dir.resolve() if out_dir else None,
                   targets=tuple(dict.fromkeys(target or ()))),
    )
    kinds = {str(config.targets[name].kind) for name in settings.targets} - {"wat"}
    chosen_runner = select_runner(settings.runner, root, config, kinds)
    epoch = source_date_epoch(root, os.environ)
    console.debug(f"profile {settings.profile.name}, runner {chosen_runner.name}, "
                  f"SOURCE_DATE_EPOCH={epoch}")
    result = run_build(settings, chosen_runner, epoch=epoch, console=console,
                       check_reproducible=check_reproducible)
    print_summary(console, result)
    report = result_json(result)
    if not no_package:
        report["packages"] = _package_built_targets(settings, console)
    console.result(report)


def _package_built_targets(settings: Settings, console: Console) -> list[dict[str, Any]]:
    """Package the targets that have a ``package`` table, from the build just made."""
    import os

    from wasmforge.oci.project import PACKAGE_HEADERS, Project, package_rows, package_targets

    wanted = [name for name in settings.targets if settings.config.targets[name].package]
    if not wanted:
        return []
    project = Project(settings.root, settings.config, settings.out_dir, settings.profile.name)
    results = package_targets(project, wanted, os.environ, format_flag=None)
    console.table(PACKAGE_HEADERS, package_rows(results), title="packaged")
    return [r.as_dict() for r in results]
