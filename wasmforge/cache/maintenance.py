"""Looking after the local store: its size, pruning, checking, clearing (``wasmforge cache ...``).

Pruning drops the least recently used results first (a hit touches its entry and blobs), then every
blob no remaining result names, then the fetched crate sets no build used for 30 days. Blobs younger than a grace period are never swept: a build running
at the same moment may have written a blob whose entry it has not written yet.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.cache.deps import DependencyStore
from wasmforge.cache.digests import file_digest
from wasmforge.cache.record import ActionRecord, DamagedEntry
from wasmforge.cache.store import LocalStore
from wasmforge.fsutil import file_lock

# Blobs this young are left alone by the sweep (see the module docstring).
SWEEP_GRACE_SECONDS = 600
# Fetched crate sets unused this long are pruned (their lock files have moved on).
DEPENDENCY_UNUSED_SECONDS = 30 * 24 * 3600
# Pruning goes below the limit by this much, so that the next builds do not prune again at once.
PRUNE_TO = 0.8


@dataclass
class StoreStats:
    directory: Path
    entries: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    entry_bytes: int = 0
    stamps: int = 0
    # Crate sets fetched for Cargo builds (see ``deps``), apart from the results.
    dependency_sets: int = 0
    dependency_bytes: int = 0
    oldest: float | None = None  # last use of the least recently used entry (epoch seconds)
    newest: float | None = None

    @property
    def total_bytes(self) -> int:
        return self.blob_bytes + self.entry_bytes

    def as_dict(self, max_size: int) -> dict[str, Any]:
        return {
            "directory": str(self.directory), "entries": self.entries, "blobs": self.blobs,
            "size": self.total_bytes, "max_size": max_size, "stamps": self.stamps,
            "dependency_sets": self.dependency_sets, "dependency_size": self.dependency_bytes,
            "oldest_use": self.oldest, "newest_use": self.newest,
        }


@dataclass
class PruneReport:
    entries_removed: int = 0
    blobs_removed: int = 0
    dependency_sets_removed: int = 0
    bytes_freed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"entries_removed": self.entries_removed, "blobs_removed": self.blobs_removed,
                "dependency_sets_removed": self.dependency_sets_removed,
                "bytes_freed": self.bytes_freed}


@dataclass
class VerifyReport:
    entries: int = 0
    blobs: int = 0
    damaged: list[str] = field(default_factory=list)  # what was found wrong (and removed)

    def as_dict(self) -> dict[str, Any]:
        return {"entries": self.entries, "blobs": self.blobs, "damaged": list(self.damaged)}


def stats(store: LocalStore) -> StoreStats:
    found = StoreStats(store.root)
    for _, info in _files(store.blobs_dir):
        found.blobs += 1
        found.blob_bytes += info.st_size
    for path, info in _files(store.actions_dir):
        if path.suffix == ".json":
            found.entries += 1
            found.entry_bytes += info.st_size
            used = info.st_mtime
            found.oldest = used if found.oldest is None else min(found.oldest, used)
            found.newest = used if found.newest is None else max(found.newest, used)
    found.stamps = sum(1 for _ in _files(store.stamps_dir))
    for entry in DependencyStore(store.root).entries():
        found.dependency_sets += 1
        found.dependency_bytes += sum(info.st_size for _, info in _files(entry))
    return found


def prune_if_over(store: LocalStore, max_size: int) -> PruneReport | None:
    """Prune when the store is larger than ``max_size``; None when it is not."""
    if stats(store).total_bytes <= max_size:
        return None
    return prune(store, int(max_size * PRUNE_TO))


def prune(store: LocalStore, max_size: int) -> PruneReport:
    """Keep the most recently used results that fit in ``max_size`` bytes (with the blobs they
    name), drop the older ones, then the blobs no kept result names."""
    report = PruneReport()
    with file_lock(store.lock_path):
        entries = sorted(
            ((info.st_mtime_ns, path, info.st_size)
             for path, info in _files(store.actions_dir) if path.suffix == ".json"),
            reverse=True,
        )
        blob_sizes = {path.name: info.st_size for path, info in _files(store.blobs_dir)}
        kept_blobs: set[str] = set()
        used = 0
        full = False
        for _, path, size in entries:
            named = _blobs_of(path) - kept_blobs
            cost = size + sum(blob_sizes.get(name, 0) for name in named)
            if not full and used + cost <= max_size:
                used += cost
                kept_blobs |= named
                continue
            full = True  # least recently used from here on: all of them go
            with contextlib.suppress(OSError):
                path.unlink()
                report.entries_removed += 1
                report.bytes_freed += size
                _remove_empty_parents(path.parent, store.actions_dir)
        young = time.time() - SWEEP_GRACE_SECONDS
        for path, info in _files(store.blobs_dir):
            if path.name not in kept_blobs and info.st_mtime < young:
                with contextlib.suppress(OSError):
                    path.unlink()
                    report.blobs_removed += 1
                    report.bytes_freed += info.st_size
        _prune_dependencies(DependencyStore(store.root), report)
    return report


def _prune_dependencies(deps: DependencyStore, report: PruneReport) -> None:
    """Crate sets no build used for DEPENDENCY_UNUSED_SECONDS go: they are fetched again if a
    lock file names them again."""
    stale = time.time() - DEPENDENCY_UNUSED_SECONDS
    for entry in deps.entries():
        with contextlib.suppress(OSError):
            if entry.stat().st_mtime < stale:
                size = sum(info.st_size for _, info in _files(entry))
                deps.remove(entry)
                report.dependency_sets_removed += 1
                report.bytes_freed += size


def verify(store: LocalStore) -> VerifyReport:
    """Check every blob against its digest and every entry for its blobs; remove what is bad."""
    report = VerifyReport()
    with file_lock(store.lock_path):
        for path, _ in _files(store.blobs_dir):
            report.blobs += 1
            try:
                digest, _ = file_digest(path)
            except OSError as error:
                digest = f"unreadable ({error.strerror})"
            if digest != f"sha256:{path.name}":
                report.damaged.append(f"blob {path.name[:12]}: content does not match its name")
                path.unlink(missing_ok=True)
        for path, _ in _files(store.actions_dir):
            if path.suffix != ".json":
                continue
            report.entries += 1
            problem = _entry_problem(store, path)
            if problem is not None:
                report.damaged.append(f"entry {path.parent.name[:12]}/{path.stem[:12]}: {problem}")
                path.unlink(missing_ok=True)
        for path, _ in _files(store.stamps_dir):
            from wasmforge.cache.stamp import readable_stamp

            if not readable_stamp(path):
                report.damaged.append(f"stamp {path.name}: unreadable")
                path.unlink(missing_ok=True)
    return report


def clear(store: LocalStore) -> StoreStats:
    """Remove everything the store holds; what there was."""
    with file_lock(store.lock_path):
        before = stats(store)
        for directory in (store.blobs_dir.parent, store.actions_dir, store.stamps_dir,
                          DependencyStore(store.root).root):
            shutil.rmtree(directory, ignore_errors=True)
    return before


def _entry_problem(store: LocalStore, path: Path) -> str | None:
    try:
        record = ActionRecord.from_bytes(path.read_bytes(), key=path.parent.name)
    except (DamagedEntry, OSError) as error:
        return str(error)
    if record.variant != path.stem:
        return "its dependencies do not match its name"
    for output, out in record.outputs.items():
        blob = store.blob_path(out.digest)
        if not blob.is_file() or blob.stat().st_size != out.size:
            return f"the blob of {output} is missing"
    return None


def _blobs_of(entry: Path) -> set[str]:
    """The blob names an entry's result uses (none for an entry that does not parse: it goes
    when next looked up)."""
    try:
        record = ActionRecord.from_bytes(entry.read_bytes())
    except (DamagedEntry, OSError):
        return set()
    return {out.digest.removeprefix("sha256:") for out in record.outputs.values()}


def _files(directory: Path) -> Iterator[tuple[Path, Any]]:
    """Every regular file below ``directory`` (none if it does not exist), with its stat, leaving
    out temporary files of writes in progress."""
    if not directory.is_dir():
        return
    for path in directory.rglob("*"):
        if path.name.startswith(".tmp-"):
            continue
        with contextlib.suppress(OSError):
            info = path.stat()
            if path.is_file():
                yield path, info


def _remove_empty_parents(directory: Path, top: Path) -> None:
    while directory != top and directory.is_relative_to(top):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
