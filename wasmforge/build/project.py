"""One build of a project as ``wasmforge build`` runs it: the runner chosen, the no-op stamp read
and written, the cache session, packaging, the summary printed. ``build``, ``build --watch``,
``serve`` and ``test`` all build through :func:`build_project`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wasmforge.build.execute import BuildResult, TargetResult
    from wasmforge.cache.digests import FileStat
    from wasmforge.config.resolve import Settings
    from wasmforge.console import Console


@dataclass(frozen=True)
class BuildOutcome:
    result: BuildResult
    report: dict[str, Any]  # what --json prints


def build_project(
    settings: Settings, config_path: Path, console: Console, *, request_args: Sequence[str],
    check_reproducible: bool = False, package: bool = True,
) -> BuildOutcome:
    """Build ``settings.targets`` and print the summary; remember the build for the no-op path
    of the same command line (``request_args``)."""
    from wasmforge.build.execute import run_build
    from wasmforge.build.summary import print_summary, result_json
    from wasmforge.cache.digests import ProjectDigests
    from wasmforge.cache.session import CacheSession
    from wasmforge.cache.stamp import load_stamp, request_id, stamp_path
    from wasmforge.epoch import action_epoch, source_date_epoch
    from wasmforge.runner.select import select_runner

    root, config = settings.root, settings.config
    kinds = {str(config.targets[name].kind) for name in settings.targets} - {"wat"}
    chosen_runner = select_runner(settings.runner, root, config, kinds)
    epoch = source_date_epoch(root, os.environ)
    console.debug(f"profile {settings.profile.name}, runner {chosen_runner.name}, "
                  f"SOURCE_DATE_EPOCH={epoch}")
    stamp_file = stamp_path(settings.cache.directory,
                            request_id(str(Path.cwd()), request_args, os.environ))
    previous = load_stamp(stamp_file)
    digests = ProjectDigests(root, previous.files if previous else None)
    # Stat before the build reads them: an edit made while it runs must not look seen.
    read_before = _stat_files([config_path, *_recipe_files(settings)])
    cache = CacheSession(settings.cache, console, os.environ)
    result = run_build(
        settings, chosen_runner, epoch=epoch, action_epoch=action_epoch(os.environ),
        console=console, cache=cache, digests=digests, check_reproducible=check_reproducible,
        package=_packager(settings) if package else None,
    )
    report = result_json(result)
    print_summary(console, report)
    if result.settled and not cache.upload_failed:
        # Otherwise the next build must run: an input changed under this one, or results that
        # were to reach the remote cache did not.
        _write_stamp(stamp_file, settings, read_before, result, report)
    return BuildOutcome(result, report)


def inputs_unchanged(settings: Settings, request_args: Sequence[str]) -> bool:
    """True if the last build of this command line succeeded and nothing it read has changed
    since: a change elsewhere in the project (a log file, an editor's backup) needs no build."""
    from wasmforge.cache.stamp import load_stamp, request_id, stamp_path

    stamp = load_stamp(stamp_path(settings.cache.directory,
                                  request_id(str(Path.cwd()), request_args, os.environ)))
    try:
        return stamp is not None and stamp.inputs_unchanged()
    except (OSError, ValueError):
        return False


def _packager(settings: Settings) -> Any:
    """Packages one target the build just published (its ``package`` table says how)."""
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
    """The toolchain recipes the build's keys depend on: those of the sets the project builds
    with (base.toml included), and the project's own."""
    from wasmforge.kinds import IMAGE_KINDS
    from wasmforge.toolchains.recipe import set_dir
    from wasmforge.toolchains.tagging import recipe_files

    toolchains = settings.config.toolchains
    directories = [set_dir(s) for s in sorted({toolchains.set_for(k) for k in IMAGE_KINDS})]
    for override in toolchains.overrides().values():
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
