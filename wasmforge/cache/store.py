"""The local cache store: output files as blobs by digest, action records by key.

    <cache dir>/blobs/sha256/ab/abcd…        one file per distinct output, named by its digest
    <cache dir>/actions/12/1234…/<variant>.json   the results of one action key (one per set of
                                                 headers read: another branch adds a variant)
    <cache dir>/stamps/<id>.json              the last build of a project (see ``stamp``)

Every write goes to a temporary file and is renamed into place, so several wasmforge processes can
share the store without locks: a reader sees a whole file or none. Nothing is trusted on the way
out: a record that does not parse, names a missing blob, or a blob whose bytes do not match its
digest is dropped with a warning and the action runs again. Pruning (``maintenance``) takes the
store's lock; a build racing with it rebuilds what it has not yet looked up, and fails (exit 5,
"run the build again") if a result it already found is removed before it is copied out.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from wasmforge.cache.digests import READ_CHUNK, file_digest
from wasmforge.cache.location import STAMPS_DIR
from wasmforge.cache.record import ActionRecord, DamagedEntry, OutputFile
from wasmforge.oci.blob import digest_hex, sha256_digest

# Results kept per action key: enough for a few branches that include different headers.
VARIANTS_PER_KEY = 8


class LocalStore:
    def __init__(self, root: Path, *, warn: Callable[[str], None]) -> None:
        self.root = root
        self._warn = warn
        self._lock = threading.Lock()
        self._sound: set[str] = set()  # blobs whose bytes were checked in this process

    # Layout ---------------------------------------------------------------------------------

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def actions_dir(self) -> Path:
        return self.root / "actions"

    @property
    def stamps_dir(self) -> Path:
        return self.root / STAMPS_DIR

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    def blob_path(self, digest: str) -> Path:
        name = digest_hex(digest)
        return self.blobs_dir / name[:2] / name

    def entry_dir(self, key: str) -> Path:
        return self.actions_dir / key[:2] / key

    # Lookups --------------------------------------------------------------------------------

    def lookup(
        self, key: str, deps_match: Callable[[Mapping[str, str]], bool]
    ) -> ActionRecord | None:
        """The newest result of ``key`` whose recorded dependencies still hold, or None."""
        for path in self._variants(key):
            try:
                record = ActionRecord.from_bytes(path.read_bytes(), key=key)
                if record.variant != path.stem:
                    msg = "its dependencies do not match its name"
                    raise DamagedEntry(msg)
            except FileNotFoundError:
                continue  # pruned meanwhile
            except (DamagedEntry, OSError) as error:
                self.drop(path, f"cache entry {key[:12]}: {error}")
                continue
            if not deps_match(record.deps):
                continue
            damaged = next((p for p, out in record.outputs.items() if not self._blob_sound(out)),
                           None)
            if damaged is not None:
                self.drop(path, f"cache entry {key[:12]}: the blob of {damaged} is missing or "
                          "damaged")
                continue
            self._touch(path, *(self.blob_path(out.digest) for out in record.outputs.values()))
            return record
        return None

    def _variants(self, key: str) -> list[Path]:
        """The stored results of ``key``, most recently used first."""
        found = []
        with contextlib.suppress(OSError):
            for path in self.entry_dir(key).glob("*.json"):
                with contextlib.suppress(OSError):
                    found.append((path.stat().st_mtime_ns, path))
        return [path for _, path in sorted(found, reverse=True)]

    def _blob_sound(self, out: OutputFile) -> bool:
        """The blob is there and its bytes hash to its digest (a damaged blob is removed). Checked
        once per blob and process: restoring from a cache must never restore damage."""
        path = self.blob_path(out.digest)
        with self._lock:
            if out.digest in self._sound:
                return True
        try:
            digest, size = file_digest(path)
        except OSError:
            return False
        if digest != out.digest or size != out.size:
            path.unlink(missing_ok=True)
            return False
        with self._lock:
            self._sound.add(out.digest)
        return True

    # Writes ---------------------------------------------------------------------------------

    def save(self, record: ActionRecord, files: Mapping[str, Path]) -> None:
        """Keep ``record`` with the output files it names (``files``: its paths -> where they are
        now). Each file is copied in and checked against its digest on the way."""
        for path, out in record.outputs.items():
            self.put_file(files[path], out.digest)
        directory = self.entry_dir(record.key)
        self._write(directory / f"{record.variant}.json", record.to_bytes())
        for stale in self._variants(record.key)[VARIANTS_PER_KEY:]:
            stale.unlink(missing_ok=True)

    def put_file(self, source: Path, digest: str) -> None:
        """Copy ``source`` in as the blob ``digest`` (checked while copying) unless it is there."""
        target = self.blob_path(digest)
        with contextlib.suppress(OSError):
            size = source.stat().st_size
            if target.stat().st_size == size and self._blob_sound(OutputFile(digest, size)):
                self._touch(target)
                return
        with source.open("rb") as handle, self._staged(target) as sink:
            hasher = hashlib.sha256()
            for block in iter(lambda: handle.read(READ_CHUNK), b""):
                hasher.update(block)
                sink.write(block)
            if f"sha256:{hasher.hexdigest()}" != digest:
                msg = f"{source}: changed while it was being cached"
                raise OSError(msg)

    def put_bytes(self, data: bytes, digest: str) -> None:
        """Keep ``data`` as the blob ``digest`` (a DamagedEntry if it is not that)."""
        if sha256_digest(data) != digest:
            msg = f"blob {digest[:19]} arrived with other content"
            raise DamagedEntry(msg)
        target = self.blob_path(digest)
        if not target.is_file():
            with self._staged(target) as sink:
                sink.write(data)

    def materialize(self, out: OutputFile, dest: Path) -> None:
        """Write the blob of ``out`` to ``dest`` (atomically), checking its digest on the way; a
        DamagedEntry, and the blob gone, if it does not match."""
        source = self.blob_path(out.digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        size = 0
        try:
            handle = source.open("rb")
        except FileNotFoundError:
            msg = f"blob {out.digest[:19]} is missing"
            raise DamagedEntry(msg) from None
        with handle, self._staged(dest) as sink:
            for block in iter(lambda: handle.read(READ_CHUNK), b""):
                hasher.update(block)
                size += len(block)
                sink.write(block)
            if f"sha256:{hasher.hexdigest()}" != out.digest or size != out.size:
                source.unlink(missing_ok=True)
                msg = f"blob {out.digest[:19]} is damaged (its bytes do not match its digest)"
                raise DamagedEntry(msg)
        dest.chmod(0o755 if out.executable else 0o644)

    def read_blob(self, out: OutputFile) -> bytes:
        """The checked bytes of a blob (for uploading it to a registry)."""
        try:
            data = self.blob_path(out.digest).read_bytes()
        except FileNotFoundError:
            msg = f"blob {out.digest[:19]} is missing"
            raise DamagedEntry(msg) from None
        if sha256_digest(data) != out.digest:
            self.blob_path(out.digest).unlink(missing_ok=True)
            msg = f"blob {out.digest[:19]} is damaged"
            raise DamagedEntry(msg)
        return data

    def drop(self, entry: Path, why: str) -> None:
        """Remove a damaged entry, saying so once: the action runs again instead."""
        self._warn(f"{why}; dropped it, building again")
        with contextlib.suppress(OSError):
            entry.unlink()

    # Helpers --------------------------------------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        with self._staged(path) as sink:
            sink.write(data)

    @contextlib.contextmanager
    def _staged(self, path: Path) -> Iterator[BinaryIO]:
        """A temporary file next to ``path``, renamed onto it when the block ends without an
        error (an error leaves ``path`` as it was)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as sink:
                yield sink
            Path(name).replace(path)
        finally:
            Path(name).unlink(missing_ok=True)

    @staticmethod
    def _touch(*paths: Path) -> None:
        """Mark as just used (pruning drops the least recently used first)."""
        for path in paths:
            with contextlib.suppress(OSError):
                os.utime(path)
