"""``wasmforge build``: build a project's targets into ``<out_dir>/<profile>/``.

A rebuild with nothing changed never gets here: ``wasmforge.build.noop`` answers it from the stamp
of the last build before this module (typer, pydantic, docker) is even imported.
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
    from wasmforge.config.resolve import Settings
    from wasmforge.console import Console


def register(app: typer.Typer) -> None:
    app.command("build")(build)


def build(
    path: ProjectArgument = Path(),
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", metavar="NAME", help="Build only this target (repeatable)."),
    ] = None,
    release: ReleaseFlag = False,
    debug: DebugFlag = False,
    profile: ProfileOption = None,
    runner: Annotated[
        str | None,
        typer.Option("--runner", metavar="auto|docker|local",
                     help="Where steps run: toolchain containers, host tools, or auto (docker if "
                          "an engine answers, else host tools)."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1,
                     help="Actions run in parallel (default: the number of CPUs)."),
    ] = None,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", "-k",
                           help="Build the other targets when one fails.")
    ] = False,
    out_dir: OutDirOption = None,
    check_reproducible: Annotated[
        bool,
        typer.Option("--check-reproducible",
                     help="Build twice from clean, without the cache, and fail (exit 8) if any "
                          "output differs."),
    ] = False,
    no_package: Annotated[
        bool, typer.Option("--no-package",
                           help="Do not package targets that have a package table in wasmforge.toml."),
    ] = False,
    component: Annotated[
        bool, typer.Option("--component",
                           help="Make every WASI target a WASI 0.2 component (as the profile's "
                                "component = true).")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache",
                           help="Run every action; do not take results from the cache.")
    ] = False,
    cache_from: Annotated[
        str | None,
        typer.Option("--cache-from", metavar="REPOSITORY",
                     help="Restore results from this registry repository (e.g. "
                          "ghcr.io/acme/wasm-cache)."),
    ] = None,
    cache_to: Annotated[
        str | None,
        typer.Option("--cache-to", metavar="REPOSITORY",
                     help="Upload results to this registry repository."),
    ] = None,
    cache_required: Annotated[
        bool, typer.Option("--cache-required",
                           help="Fail (exit 7) when a cache registry fails, instead of warning.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure",
                           help="Plain HTTP to a cache registry on this machine.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="K/N",
                     help="Build the K-th of N slices of the targets (CI matrix fan-out)."),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w",
                           help="Build, then build again after every change to the project "
                                "(only what changed runs; Ctrl-C stops).")
    ] = False,
    print_targets: Annotated[
        bool, typer.Option("--print-targets",
                           help="Print the targets that would be built (after --target and "
                                "--shard), and build nothing.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Build the project's WebAssembly targets (C/C++, Rust, Emscripten, WAT)."""
    import dataclasses
    import os

    from wasmforge.build.project import build_project, inputs_unchanged
    from wasmforge.cli import invocation_args
    from wasmforge.config.load import find_config, load_config
    from wasmforge.config.resolve import BuildFlags, resolve_settings

    console = command_console(json_output)
    profile_name = chosen_profile(release, debug, profile)
    check_runner(runner)
    config_path = find_config(path)
    root = config_path.parent.resolve()

    def current_settings() -> Settings:
        """From wasmforge.toml as it is now (a watched build reads it again each time)."""
        settings = resolve_settings(
            root, load_config(config_path), os.environ,
            BuildFlags(profile=profile_name, runner=runner, jobs=jobs,
                       out_dir=out_dir.resolve() if out_dir else None,
                       targets=tuple(dict.fromkeys(target or ())), keep_going=keep_going,
                       cache_from=cache_from, cache_to=cache_to, no_cache=no_cache,
                       cache_required=cache_required, insecure=insecure, component=component),
        )
        if shard is not None:
            settings = dataclasses.replace(settings, targets=shard_of(settings.targets, shard))
        return settings

    settings = current_settings()
    if print_targets:
        _print_targets(settings, console)
        return

    def build_once() -> None:
        outcome = build_project(current_settings(), config_path, console,
                                request_args=invocation_args(),
                                check_reproducible=check_reproducible, package=not no_package)
        console.result(outcome.report)

    if watch:
        if check_reproducible:
            msg = "--watch and --check-reproducible contradict each other: give one"
            raise UserError(msg)
        from wasmforge.build.watch import rebuild_on_changes

        rebuild_on_changes(
            root, build_once, console, excluded=(settings.out_dir,),
            unchanged=lambda: inputs_unchanged(current_settings(), invocation_args()))
        return
    build_once()


def shard_of(targets: tuple[str, ...], spec: str) -> tuple[str, ...]:
    """The K-th of N slices (``K/N``, from 1) of ``targets``: every N-th target in file order,
    starting at the K-th. The same config always gives the same slices, and together they hold
    every target once."""
    count, _, total = spec.partition("/")
    if not (count.isdigit() and total.isdigit() and 1 <= int(count) <= int(total)):
        msg = f"--shard {spec!r}: expected K/N with 1 <= K <= N, e.g. 2/4"
        raise UserError(msg)
    return targets[int(count) - 1::int(total)]


def _print_targets(settings: Settings, console: Console) -> None:
    from wasmforge.kinds import toolchain_label

    rows = [{"name": name, "kind": kind, "toolchain": toolchain_label(kind)}
            for name in settings.targets
            for kind in (settings.config.targets[name].kind,)]
    for row in rows:
        console.info(f"{row['name']}  ({row['kind']})")
    console.result({"targets": rows})
