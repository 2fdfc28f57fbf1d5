"""The toolchain lock file: what was built, from what, with which package versions.

It lives in the per-user cache, ``$XDG_CACHE_HOME/wasmforge/toolchains.lock.json`` (``~/.cache/...``
when unset; ``WASMFORGE_TOOLCHAINS_LOCK`` names another file), not in a project: image ids belong to
one Docker engine, and one user may talk to several (``DOCKER_HOST``), so entries are kept per
engine id. The recipes in the repository pin the inputs; this file records the outputs on this
engine.

Writes are atomic (a reader never sees half a file) and read-modify-write cycles are serialised by
an advisory lock on a sibling file, so two builds at once cannot lose each other's entries.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.errors import UserError
from wasmforge.fsutil import atomic_write_bytes, file_lock

LOCK_VERSION = 1
LOCK_ENV = "WASMFORGE_TOOLCHAINS_LOCK"


@dataclass(frozen=True)
class BaseRecord:
    pin: str  # the digest-pinned reference (base.toml)
    image_id: str
    origin: str  # "pulled" or "debootstrap"


@dataclass(frozen=True)
class LockEntry:
    """One built (or pulled) toolchain image on one engine."""

    name: str
    tag: str  # local tag, or the user's digest-pinned reference
    image_id: str
    recipe_digest: str | None  # None for a user's prebuilt image
    base: BaseRecord | None
    pins: dict[str, str] = field(default_factory=dict)  # what the recipe asked for
    packages: dict[str, str] = field(default_factory=dict)  # every package in the image (dpkg)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LockEntry:
        base = data.get("base")
        return cls(
            name=str(data["name"]),
            tag=str(data["tag"]),
            image_id=str(data["image_id"]),
            recipe_digest=data.get("recipe_digest"),
            base=BaseRecord(**base) if isinstance(base, dict) else None,
            pins=dict(data.get("pins") or {}),
            packages=dict(data.get("packages") or {}),
        )


def lock_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the lock file is, per the module docstring."""
    source = os.environ if env is None else env
    if source.get(LOCK_ENV):
        return Path(source[LOCK_ENV])
    cache = source.get("XDG_CACHE_HOME") or str(Path(source.get("HOME") or Path.home()) / ".cache")
    return Path(cache) / "wasmforge" / "toolchains.lock.json"


class LockFile:
    """Reads and updates the lock file at ``path`` for the engine ``engine``."""

    def __init__(self, path: Path, engine: str) -> None:
        self.path = path
        self.engine = engine

    def entries(self) -> dict[str, LockEntry]:
        """This engine's entries by toolchain name (empty when there is no lock file yet)."""
        raw = self._read().get("engines", {}).get(self.engine, {})
        try:
            return {name: LockEntry.from_json(entry) for name, entry in raw.items()}
        except (KeyError, TypeError, AttributeError) as error:
            msg = f"{self.path}: malformed entry ({error}); delete the file to start afresh"
            raise UserError(msg) from None

    def get(self, name: str) -> LockEntry | None:
        return self.entries().get(name)

    def record(self, entry: LockEntry) -> None:
        """Add or replace ``entry`` for this engine, atomically and under the file lock."""
        with self._guard("write"):
            data = self._read()
            data["version"] = LOCK_VERSION
            engines = data.setdefault("engines", {})
            engines.setdefault(self.engine, {})[entry.name] = entry.to_json()
            text = json.dumps(data, indent=2, sort_keys=True) + "\n"
            atomic_write_bytes(self.path, text.encode())

    def building(self) -> contextlib.AbstractContextManager[None]:
        """Held around building an image, so two processes or threads never build one at once."""
        return self._guard("build")

    @contextmanager
    def _guard(self, purpose: str) -> Iterator[None]:
        # flock locks belong to an open file, so each purpose has its own guard file: a build that
        # records its entry takes "write" while holding "build" without deadlocking on itself.
        guard = self.path.with_name(f"{self.path.name}.{purpose}-guard")
        held = contextlib.ExitStack()
        try:
            held.enter_context(file_lock(guard))
        except OSError as error:  # e.g. a CI container whose HOME is not writable
            msg = f"{self.path.parent}: cannot write the toolchain lock: {error.strerror}"
            raise UserError(msg, hint="set XDG_CACHE_HOME to a writable directory") from None
        with held:
            yield

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            msg = f"{self.path}: cannot read the toolchain lock file: {error.strerror}"
            raise UserError(msg) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            msg = f"{self.path}:{error.lineno}: not valid JSON ({error.msg}); delete it to rebuild"
            raise UserError(msg) from None
        if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
            msg = f"{self.path}: not a version {LOCK_VERSION} toolchain lock file; delete it"
            raise UserError(msg)
        return data
