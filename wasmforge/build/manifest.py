"""``<out_dir>/<profile>/wasmforge-build.json``: what a build produced, for packaging and for people.

Written atomically after every build. A build of some targets keeps the entries of the others from an
earlier build, as long as their files are still there, so that ``--target x`` does not make the
package step forget ``y``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.fsutil import atomic_write_bytes

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
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return FileRecord(name=name or path.name, sha256=digest.hexdigest(), size=size)


def target_entry(
    *, name: str, kind: str, profile: str, main_module: str, files: list[FileRecord],
    js_glue: bool, exec_model: str | None, source_date_epoch: int, toolchain: str,
    toolchain_image_id: str | None, runner: str,
) -> dict[str, Any]:
    """One target in the manifest. Paths are relative to the manifest's directory."""
    return {
        "name": name,
        "kind": kind,
        "profile": profile,
        "main_module": main_module,
        "files": [f.as_dict() for f in files],
        "wasi": not js_glue,
        "js_glue": js_glue,
        "exec_model": exec_model,
        "source_date_epoch": source_date_epoch,
        "toolchain": toolchain,
        "toolchain_image_id": toolchain_image_id,
        "runner": runner,
    }


def write_manifest(
    directory: Path, *, project: str, profile: str, entries: list[dict[str, Any]]
) -> Path:
    path = directory / MANIFEST_NAME
    built = {entry["name"] for entry in entries}
    kept = [e for e in read_manifest_targets(path) if e.get("name") not in built
            and _files_present(directory, e)]
    targets = sorted([*kept, *entries], key=lambda e: str(e.get("name")))
    document = {
        "schema": SCHEMA_VERSION,
        "project": project,
        "profile": profile,
        "targets": targets,
    }
    atomic_write_bytes(path, (json.dumps(document, indent=2) + "\n").encode())
    return path


def read_manifest_targets(path: Path) -> list[dict[str, Any]]:
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
