"""``wasmforge build``: build a project's targets into ``<out_dir>/<profile>/``.

A rebuild with nothing changed never gets here: ``wasmforge.build.noop`` answers it from the stamp
of the last build before this module (typer, pydantic, docker) is even imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wasmforge.commands._common import JsonFlag, command_console
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.build.execute import BuildResult, TargetResult
    from wasmforge.cache.digests import FileStat
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
        int | None,
        typer.Option("--jobs", "-j", min=1,
                     help="Actions run in parallel (default: the number of CPUs)."),
    ] = None,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", "-k",
                           help="Build the other targets when one fails.")
    ] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", "-o", help="Output directory (default: dist).")
    ] = None,
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

    from wasmforge.build.execute import run_build
    from wasmforge.build.summary import print_summary, result_json
    from wasmforge.cache.digests import ProjectDigests
    from wasmforge.cache.session import CacheSession
    from wasmforge.cache.stamp import load_stamp, request_id, stamp_path
    from wasmforge.cli import invocation_args
    from wasmforge.config.load import find_config, load_config
    from wasmforge.config.resolve import BuildFlags, resolve_settings
    from wasmforge.epoch import action_epoch, source_date_epoch
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
                   targets=tuple(dict.fromkeys(target or ())), keep_going=keep_going,
                   cache_from=cache_from, cache_to=cache_to, no_cache=no_cache,
                   cache_required=cache_required, insecure=insecure, component=component),
    )
    if shard is not None:
        settings = dataclasses.replace(settings, targets=shard_of(settings.targets, shard))
    if print_targets:
        _print_targets(settings, console)
        return
    kinds = {str(config.targets[name].kind) for name in settings.targets} - {"wat"}
    chosen_runner = select_runner(settings.runner, root, config, kinds)
    epoch = source_date_epoch(root, os.environ)
    console.debug(f"profile {settings.profile.name}, runner {chosen_runner.name}, "
                  f"SOURCE_DATE_EPOCH={epoch}")
    stamp_file = stamp_path(settings.cache.directory,
                            request_id(str(Path.cwd()), invocation_args(), os.environ))
    previous = load_stamp(stamp_file)
    digests = ProjectDigests(root, previous.files if previous else None)
    # Stat before the build reads them: an edit made while it runs must not look seen.
    read_before = _stat_files([config_path, *_recipe_files(settings)])
    cache = CacheSession(settings.cache, console, os.environ)
    result = run_build(
        settings, chosen_runner, epoch=epoch, action_epoch=action_epoch(os.environ),
        console=console, cache=cache, digests=digests, check_reproducible=check_reproducible,
        package=None if no_package else _packager(settings),
    )
    report = result_json(result)
    print_summary(console, report)
    if result.settled and not cache.upload_failed:
        # Otherwise the next build must run: an input changed under this one, or results that
        # were to reach the remote cache did not.
        _write_stamp(stamp_file, settings, read_before, result, report)
    console.result(report)


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


def _packager(settings: Settings) -> Any:
    """Packages one target the build just published (its ``package`` table says how)."""
    import os

    from wasmforge.build.manifest import BuildManifest, manifest_path
    from wasmforge.oci.project import Project, package_targets

    project = Project(settings.root, settings.config, settings.out_dir, settings.profile.name)

    def package(result: TargetResult) -> Any:
        assert result.entry is not None
        built = BuildManifest(path=manifest_path(project.out_dir, project.profile), project="",
                              profile=project.profile, targets={result.entry.name: result.entry})
        (packaged,) = package_targets(project, [result.entry.name], os.environ,
                                      format_flag=None, built=built)
        return packaged

    return package


def _write_stamp(
    path: Path, settings: Settings, read_before: dict[str, FileStat], result: BuildResult,
    report: dict[str, Any],
) -> None:
    """Remember what this build read and wrote, for the no-op check of the next one."""
    import contextlib

    from wasmforge.cache.stamp import Stamp
    from wasmforge.fsutil import atomic_write_bytes
    from wasmforge.gitinfo import head_commit

    assert result.digests is not None
    stamp = Stamp(request=path.stem, project=str(settings.root), git=head_commit(settings.root),
                  files=dict(result.digests.files), dirs=dict(result.digests.dirs),
                  globs=[(pattern, list(matches)) for pattern, matches in result.globs],
                  absent=list(result.absent), report=report)
    for name, stat in read_before.items():
        stamp.files.setdefault(name, stat)
    for name, stat in _stat_files(_published_files(result)).items():
        stamp.files.setdefault(name, stat)
    with contextlib.suppress(OSError):  # without a stamp the next build only takes longer
        atomic_write_bytes(path, stamp.to_bytes())


def _stat_files(files: list[Path]) -> dict[str, FileStat]:
    """Each file's stat by absolute path; a file that cannot be read is left out (and a build
    that needed it has failed)."""
    from wasmforge.cache.digests import FileStat

    stats: dict[str, FileStat] = {}
    for file in files:
        try:
            stats[str(file)] = FileStat.of(file.stat())
        except OSError:
            continue
    return stats


def _recipe_files(settings: Settings) -> list[Path]:
    """The toolchain recipes the build's keys depend on (shipped ones, and the project's own)."""
    from wasmforge.resources import toolchains_dir
    from wasmforge.toolchains.tagging import recipe_files

    directories = [toolchains_dir()]
    for override in settings.config.toolchains.overrides().values():
        if override.recipe:
            directories.append(settings.root / override.recipe)
    return [p for d in directories if d.is_dir() for p in recipe_files(d)]


def _published_files(result: BuildResult) -> list[Path]:
    files = [result.publish_dir / f.name for t in result.targets for f in t.files]
    if result.manifest is not None:
        files.append(result.manifest)
    for target in result.targets:
        if target.package is not None:
            files += [p for p in sorted(target.package.out_dir.rglob("*")) if p.is_file()]
    return files
