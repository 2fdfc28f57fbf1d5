"""Reading what ``wasmforge build`` produced: ``<out_dir>/<profile>/wasmforge-build.json``.

Packaging, pushing and running a project target start here. The file is written by
``wasmforge.build.manifest``; only the fields needed here are read: each target's name, kind,
``main_module`` (relative to the manifest's directory), ``wasi``/``js_glue`` and
``source_date_epoch``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.errors import UserError

BUILD_MANIFEST = "wasmforge-build.json"


@dataclass(frozen=True)
class BuiltTarget:
    name: str
    kind: str
    main: Path  # the .wasm (for Emscripten web/node, the .js next to it loads it)
    wasi: bool  # a WASI module a Wasm runtime can run (not JS glue)
    environment: str | None  # Emscripten: web, node or standalone
    source_date_epoch: int | None


def manifest_path(out_dir: Path, profile: str) -> Path:
    return out_dir / profile / BUILD_MANIFEST


def read_build_manifest(out_dir: Path, profile: str) -> dict[str, BuiltTarget]:
    path = manifest_path(out_dir, profile)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path}: no build output for profile {profile!r}"
        raise UserError(msg, hint="run wasmforge build first") from None
    except (OSError, ValueError) as error:
        msg = f"{path}: unreadable build manifest: {error}"
        raise UserError(msg) from None
    raw_targets = document.get("targets") if isinstance(document, dict) else None
    if isinstance(raw_targets, dict):
        entries = [{"name": name, **value} for name, value in raw_targets.items()]
    elif isinstance(raw_targets, list):
        entries = raw_targets
    else:
        msg = f"{path}: has no 'targets'"
        raise UserError(msg, hint="run wasmforge build again")
    targets = {}
    for entry in entries:
        built = _target(path, entry)
        targets[built.name] = built
    return targets


def _target(path: Path, entry: Any) -> BuiltTarget:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        msg = f"{path}: a target entry has no name"
        raise UserError(msg)
    name = entry["name"]
    main = _first(entry, "main_module", "main")
    if isinstance(main, dict):
        main = main.get("path")
    if not isinstance(main, str):
        msg = f"{path}: targets.{name}: no main output path"
        raise UserError(msg)
    main_path = Path(main) if Path(main).is_absolute() else path.parent / main
    kind = str(entry.get("kind", ""))
    environment = entry.get("environment")
    js_glue = entry.get("js_glue")
    wasi_flag = entry.get("wasi")
    if isinstance(wasi_flag, bool):
        wasi = wasi_flag
    elif isinstance(js_glue, bool):
        wasi = not js_glue
    else:
        wasi = not (kind == "emscripten" and environment in ("web", "node"))
    epoch = entry.get("source_date_epoch")
    return BuiltTarget(name, kind, main_path, wasi,
                       environment if isinstance(environment, str) else None,
                       epoch if isinstance(epoch, int) else None)


def _first(entry: dict[str, Any], *keys: str) -> Any:
    return next((entry[k] for k in keys if entry.get(k) is not None), None)
