"""``<out_dir>/<profile>/wasmforge-build.json``: what a build produced, for packaging and for people.

This module owns the file: ``wasmforge build`` writes it through :func:`update_manifest` and every
command that works on built targets (package, push, run) reads it through :meth:`BuildManifest.read`.

Written atomically after every build, under a lock, so that two builds of one project at once both
land. A build of some targets keeps the entries of the others from an earlier build, as long as
their files are still there, so that ``--target x`` does not make the package step forget ``y``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.cache.digests import file_digest
from wasmforge.errors import UserError
from wasmforge.fsutil import atomic_write_bytes, directory_lock

MANIFEST_NAME = "wasmforge-build.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FileRecord:
    name: str
    sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.name, "sha256": self.sha256, "size": self.size}


def file_record(path: Path, name: str | None = None) -> FileRecord:
    digest, size = file_digest(path)
    return FileRecord(name=name or path.name, sha256=digest.removeprefix("sha256:"), size=size)


@dataclass(frozen=True)
class ComponentRecord:
    """How a component target's component was made (``componentize`` in wasmforge.component)."""

    adapter: str | None  # "@bytecodealliance/jco@1.35.0 wasi_snapshot_preview1.command.wasm"
    adapter_sha256: str | None
    adapter_kind: str | None  # command or reactor; None: the toolchain made the component
    world: str | None  # the WIT world it exports, when the target named one

    def to_json(self) -> dict[str, Any]:
        return {"adapter": {"version": self.adapter, "sha256": self.adapter_sha256,
                            "kind": self.adapter_kind} if self.adapter else None,
                "world": self.world}

    @classmethod
    def from_json(cls, data: Any) -> ComponentRecord:
        """From ``to_json``'s shape (also what the componentize action records); TypeError if
        it is not that."""
        if not isinstance(data, dict):
            msg = f"component is {data!r}, not an object"
            raise TypeError(msg)
        adapter = data.get("adapter")
        world = data.get("world")
        if adapter is not None and not isinstance(adapter, dict):
            msg = f"component.adapter is {adapter!r}, not an object"
            raise TypeError(msg)
        adapter = adapter or {}
        return cls(adapter=_optional_text(adapter, "version"),
                    adapter_sha256=_optional_text(adapter, "sha256"),
                    adapter_kind=_optional_text(adapter, "kind"),
                    world=world if isinstance(world, str) else None)


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ManifestEntry:
    """One built target. File paths are relative to the manifest's directory."""

    name: str
    kind: str
    profile: str
    main_module: str
    files: tuple[FileRecord, ...]
    js_glue: bool
    exec_model: str | None
    source_date_epoch: int
    toolchain: str
    toolchain_image_id: str | None
    runner: str
    environment: str | None = None  # Emscripten: web, node or standalone
    # Node output linked with NODERAWFS (sees the host's files). Builds before wasmforge added it
    # by default have no such field, and were linked without it: False.
    node_rawfs: bool = False
    # A WASI 0.2 component (its main module), and how it was made; None for a core module.
    component: ComponentRecord | None = None

    @property
    def wasi(self) -> bool:
        """A WASI module a Wasm runtime can run (not JS glue)."""
        return not self.js_glue

    def main_path(self, directory: Path) -> Path:
        return directory / self.main_module

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "profile": self.profile,
            "main_module": self.main_module,
            "files": [f.as_dict() for f in self.files],
            "wasi": self.wasi,
            "js_glue": self.js_glue,
            "exec_model": self.exec_model,
            "source_date_epoch": self.source_date_epoch,
            "toolchain": self.toolchain,
            "toolchain_image_id": self.toolchain_image_id,
            "runner": self.runner,
        }
        if self.environment is not None:
            document["environment"] = self.environment
        if self.environment == "node":
            document["node_rawfs"] = self.node_rawfs
        if self.component is not None:
            document["component"] = self.component.to_json()
        return document

    @classmethod
    def from_json(cls, where: Path, data: Any) -> ManifestEntry:
        """An entry read back; a UserError naming the file for anything that is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            msg = f"{where}: a target entry has no name"
            raise UserError(msg, hint="run wasmforge build again")
        name = data["name"]
        try:
            files = tuple(
                FileRecord(str(f["path"]), str(f["sha256"]), int(f["size"]))
                for f in data.get("files") or []
            )
            epoch = data.get("source_date_epoch")
            image_id = data.get("toolchain_image_id")
            node_rawfs = data.get("node_rawfs", False)
            if not isinstance(node_rawfs, bool):
                msg = f"node_rawfs is {node_rawfs!r}, not true or false"
                raise TypeError(msg)
            return cls(
                name=name, kind=str(data.get("kind", "")), profile=str(data.get("profile", "")),
                main_module=_text(data, "main_module"), files=files,
                js_glue=bool(data.get("js_glue", False)),
                exec_model=data.get("exec_model") if isinstance(data.get("exec_model"), str)
                else None,
                source_date_epoch=epoch if isinstance(epoch, int) else 0,
                toolchain=str(data.get("toolchain", "")),
                toolchain_image_id=image_id if isinstance(image_id, str) else None,
                runner=str(data.get("runner", "")),
                environment=data.get("environment") if isinstance(data.get("environment"), str)
                else None,
                node_rawfs=node_rawfs,
                component=ComponentRecord.from_json(data["component"])
                if data.get("component") is not None else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            msg = f"{where}: targets.{name}: malformed entry ({error})"
            raise UserError(msg, hint="run wasmforge build again") from None


@dataclass(frozen=True)
class BuildManifest:
    path: Path
    project: str
    profile: str
    targets: dict[str, ManifestEntry]

    @property
    def directory(self) -> Path:
        return self.path.parent

    @classmethod
    def read(cls, out_dir: Path, profile: str) -> BuildManifest:
        """The manifest of ``profile``; a UserError saying to build when there is none."""
        path = manifest_path(out_dir, profile)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            msg = f"{path}: no build output for profile {profile!r}"
            raise UserError(msg, hint="run wasmforge build first") from None
        except (OSError, ValueError) as error:
            msg = f"{path}: unreadable build manifest: {error}"
            raise UserError(msg) from None
        raw = document.get("targets") if isinstance(document, dict) else None
        if not isinstance(raw, list):
            msg = f"{path}: has no 'targets'"
            raise UserError(msg, hint="run wasmforge build again")
        entries = [ManifestEntry.from_json(path, item) for item in raw]
        return cls(path=path, project=str(document.get("project", "")), profile=profile,
                   targets={entry.name: entry for entry in entries})


def manifest_path(out_dir: Path, profile: str) -> Path:
    return out_dir / profile / MANIFEST_NAME


def update_manifest(
    directory: Path, *, project: str, profile: str, entries: list[ManifestEntry]
) -> Path:
    """Write the manifest with ``entries`` and the still-valid entries of the one there, under a
    lock (two builds of one project at once must not lose each other's targets)."""
    path = directory / MANIFEST_NAME
    built = {entry.name for entry in entries}
    with directory_lock(directory):
        kept = [e for e in _existing_entries(path)
                if e.get("name") not in built and _files_present(directory, e)]
        targets = sorted([*kept, *(e.to_json() for e in entries)], key=lambda e: str(e["name"]))
        document = {"schema": SCHEMA_VERSION, "project": project, "profile": profile,
                    "targets": targets}
        atomic_write_bytes(path, (json.dumps(document, indent=2) + "\n").encode())
    return path


def _existing_entries(path: Path) -> list[dict[str, Any]]:
    """The target entries of an existing manifest; none if it is missing or not one of ours."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(document, dict) or document.get("schema") != SCHEMA_VERSION:
        return []
    targets = document.get("targets")
    return [t for t in targets if isinstance(t, dict)] if isinstance(targets, list) else []


def _files_present(directory: Path, entry: dict[str, Any]) -> bool:
    files = entry.get("files")
    if not isinstance(files, list):
        return False
    for record in files:
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            return False
        path = directory / record["path"]
        if not path.is_file() or file_record(path).sha256 != record.get("sha256"):
            return False
    return True


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        msg = f"no {key}"
        raise TypeError(msg)
    return value
