"""Packaging a project's built targets: wasmforge.toml + the build manifest -> ``package_module``.

Outputs go to ``<out_dir>/<profile>/oci/<target>/``. The image reference is the target's
``package.image``, else ``<target>:<project version>``; the format is the flag, else the target's
``package.format``, else ``artifact`` for a component and ``image`` for a module.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wasmforge.build.manifest import BuildManifest, ManifestEntry
from wasmforge.config.model import PackageConfig, WasmforgeConfig
from wasmforge.errors import UserError
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.package import (
    BuiltComponent,
    FormatName,
    PackageResult,
    expand_format,
    package_module,
)


@dataclass(frozen=True)
class Project:
    root: Path
    config: WasmforgeConfig
    out_dir: Path
    profile: str

    def built(self) -> BuildManifest:
        return BuildManifest.read(self.out_dir, self.profile)

    def oci_dir(self, target: str) -> Path:
        return self.out_dir / self.profile / "oci" / target

    def package_config(self, target: str) -> PackageConfig:
        return self.config.targets[target].package or PackageConfig()

    def package_format(self, target: str, *, component: bool) -> str:
        """The target's ``package.format``; unset, ``artifact`` for a component (the form
        component runtimes consume: crun and youki run core modules only) and ``image`` for a
        module."""
        config = self.package_config(target)
        if "format" in config.model_fields_set:
            return config.format
        return "artifact" if component else "image"

    def reference(self, target: str) -> str:
        configured = self.package_config(target).image
        return configured or f"{target.lower()}:{self.config.project.version}"


def open_project(
    path: Path, env: Mapping[str, str], *, profile: str | None, targets: Sequence[str] = ()
) -> tuple[Project, tuple[str, ...]]:
    """The project at ``path`` and the targets to work on (all of them when none are named)."""
    from wasmforge.config.load import find_config, load_config
    from wasmforge.config.resolve import BuildFlags, resolve_settings

    config_file = find_config(path)
    config = load_config(config_file)
    settings = resolve_settings(config_file.parent, config, env,
                                BuildFlags(profile=profile, targets=tuple(targets)))
    project = Project(config_file.parent, config, settings.out_dir, settings.profile.name)
    return project, settings.targets


def package_targets(
    project: Project, targets: Sequence[str], env: Mapping[str, str], *, format_flag: str | None,
    into: Path | None = None, built: BuildManifest | None = None,
) -> list[PackageResult]:
    """Package each target into ``<out_dir>/<profile>/oci/<target>/``, or ``into/<target>/``.
    ``built`` is what a build just made; otherwise the build manifest on disk says."""
    manifest = built or project.built()
    results = []
    for name in targets:
        target = manifest.targets.get(name)
        if target is None:
            msg = f"target {name!r} is not in the {project.profile} build output"
            raise UserError(msg, hint="run wasmforge build first")
        refuse_js_glue(target)
        main = target.main_path(manifest.directory)
        if not main.is_file():
            msg = f"{main}: the built module of target {name!r} is missing"
            raise UserError(msg, hint="run wasmforge build first")
        created = _created(project, target, env)
        choice = format_flag or project.package_format(name, component=target.component
                                                       is not None)
        results.append(package_module(
            main,
            name=name,
            reference=project.reference(name),
            formats=expand_format(choice),
            annotations=project_annotations(project, name, created),
            created=created,
            out_dir=into / name if into is not None else project.oci_dir(name),
            author=", ".join(project.config.project.authors) or None,
            built=built_component(project, target),
        ))
    return results


def built_component(project: Project, target: ManifestEntry) -> BuiltComponent | None:
    """What the build recorded of the target's component; None for a core module. (A component
    the toolchain made itself has a record with no adapter: its world is read from its bytes.)"""
    record = target.component
    if record is None:
        return None
    configured = project.config.targets.get(target.name)
    wit = configured.wit if configured is not None else None
    return BuiltComponent(adapter=record.adapter, adapter_kind=record.adapter_kind,
                          world=record.world, wit_dir=project.root / wit if wit else None)


def refuse_js_glue(target: ManifestEntry) -> None:
    if not target.wasi:
        msg = (f"target {target.name!r} is Emscripten {target.environment or 'JS'} output "
               "(JavaScript glue + .wasm), not a WASI module; no Wasm runtime can run it as an "
               "OCI image")
        raise UserError(msg, hint="set environment = \"standalone\" to build a WASI module, or "
                        "ship the JS and .wasm as static files")


def _created(project: Project, target: ManifestEntry, env: Mapping[str, str]) -> int:
    from wasmforge.epoch import source_date_epoch

    if not env.get("SOURCE_DATE_EPOCH", "").strip():
        return target.source_date_epoch  # the build's own timestamp, so both agree
    return source_date_epoch(project.root, env)


def project_annotations(project: Project, target: str, created: int) -> dict[str, str]:
    """The org.opencontainers.image.* annotations, then the target's own (which win)."""
    from wasmforge.oci.image import rfc3339

    meta = project.config.project
    annotations = {mt.ANNOTATION_TITLE: target, mt.ANNOTATION_VERSION: meta.version,
                   mt.ANNOTATION_CREATED: rfc3339(created)}
    if meta.source:
        annotations[mt.ANNOTATION_SOURCE] = meta.source
    revision = git_revision(project.root)
    if revision:
        annotations[mt.ANNOTATION_REVISION] = revision
    if meta.description:
        annotations[mt.ANNOTATION_DESCRIPTION] = meta.description
    if meta.licenses:
        annotations[mt.ANNOTATION_LICENSES] = meta.licenses
    if meta.authors:
        annotations[mt.ANNOTATION_AUTHORS] = ", ".join(meta.authors)
    annotations.update(project.package_config(target).annotations)
    return annotations


def git_revision(root: Path) -> str | None:
    """HEAD's commit id when ``root`` is in a git work tree (uncommitted changes not marked)."""
    from wasmforge.gitinfo import head_commit

    # Read from .git without starting git; git itself decides what that cannot read (reftable)
    # or what is no commit (an unborn branch).
    commit = head_commit(root)
    if commit is None:
        return None
    if len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit):
        return commit
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=False, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.strip()
    return text if done.returncode == 0 and len(text) in (40, 64) else None


def single_format(choice: str) -> FormatName:
    formats = expand_format(choice)
    if len(formats) != 1:
        msg = "--format both: a push or run uses one format; choose image or artifact"
        raise UserError(msg)
    return formats[0]
