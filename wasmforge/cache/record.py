"""An action's result as the cache keeps it: its output files by digest, the project files the tools
reported reading (with their digests, checked on every lookup), and a little metadata.

The same JSON document is an entry of the local store and the config blob of a registry entry, so
it is read as untrusted input: anything malformed is a ``DamagedEntry``, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from wasmforge.oci.blob import DIGEST_PATTERN

RECORD_SCHEMA = 1
CHECKSUM = "checksum"
_KEY = re.compile(r"^[0-9a-f]{64}$")


class DamagedEntry(Exception):
    """A cache entry or blob that cannot be trusted: it is dropped and the action runs instead."""


@dataclass(frozen=True)
class OutputFile:
    digest: str  # "sha256:<hex>"
    size: int
    executable: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "size": self.size, "executable": self.executable}


@dataclass(frozen=True)
class ActionRecord:
    key: str  # hex SHA-256 of the action's definition and declared inputs
    outputs: Mapping[str, OutputFile]  # path in the target's dir -> file
    deps: Mapping[str, str] = field(default_factory=dict)  # project file -> digest, as it was read
    meta: Mapping[str, Any] = field(default_factory=dict)  # optimiser report, image id, ...

    @property
    def variant(self) -> str:
        """Names this result among others of the same key that read other headers (say, on
        another branch): a digest of its discovered dependencies."""
        return hashlib.sha256(sorted_json(dict(self.deps))).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RECORD_SCHEMA,
            "key": self.key,
            "outputs": {path: out.to_json() for path, out in sorted(self.outputs.items())},
            "deps": dict(sorted(self.deps.items())),
            "meta": dict(self.meta),
        }

    def to_bytes(self) -> bytes:
        """The stored form: the record and a checksum of it, so that damage which still parses
        (a flipped digit) is caught too."""
        body = self.to_json()
        return sorted_json({**body, CHECKSUM: _checksum(body)})

    @classmethod
    def from_bytes(cls, data: bytes, *, key: str | None = None) -> ActionRecord:
        """Parse and check a stored record; ``key``, when given, must be the one it names."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            msg = f"not JSON ({error})"
            raise DamagedEntry(msg) from None
        if not isinstance(document, dict) or not _is_int(document.get("schema")) \
                or document["schema"] != RECORD_SCHEMA:
            msg = "not a wasmforge action record"
            raise DamagedEntry(msg)
        checksum = document.pop(CHECKSUM, None)
        if checksum != _checksum(document):
            msg = "its checksum does not match its content"
            raise DamagedEntry(msg)
        stored_key = document.get("key")
        if not isinstance(stored_key, str) or not _KEY.match(stored_key):
            msg = "no valid key"
            raise DamagedEntry(msg)
        if key is not None and stored_key != key:
            msg = f"names key {stored_key[:12]}, stored under {key[:12]}"
            raise DamagedEntry(msg)
        outputs = document.get("outputs")
        deps = document.get("deps")
        meta = document.get("meta")
        if not isinstance(outputs, dict) or not outputs or not isinstance(deps, dict) \
                or not isinstance(meta, dict):
            msg = "missing outputs, deps or meta"
            raise DamagedEntry(msg)
        files = {}
        for path, out in outputs.items():
            if not _safe_path(path) or not isinstance(out, dict):
                msg = f"bad output {path!r}"
                raise DamagedEntry(msg)
            digest, size, executable = out.get("digest"), out.get("size"), out.get("executable")
            if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest) \
                    or not _is_int(size) or size < 0 or not isinstance(executable, bool):
                msg = f"bad output {path!r}"
                raise DamagedEntry(msg)
            files[path] = OutputFile(digest, size, executable)
        for path, digest in deps.items():
            if not _safe_path(path) or not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
                msg = f"bad dependency {path!r}"
                raise DamagedEntry(msg)
        return cls(key=stored_key, outputs=files, deps=dict(deps), meta=meta)


def sorted_json(value: Any) -> bytes:
    """One byte form per value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _safe_path(path: object) -> bool:
    """A relative path that stays inside its directory (records may come from a registry)."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path:
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _is_int(value: object) -> TypeGuard[int]:
    """An int that is not a bool (JSON's true is no size)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _checksum(body: Any) -> str:
    return hashlib.sha256(sorted_json(body)).hexdigest()
