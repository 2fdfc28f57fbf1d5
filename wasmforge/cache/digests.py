"""Digests of project files and directories, remembered by their stat so that an unchanged file is
hashed once (like ninja's log and ccache's direct mode).

A file counts as unchanged when its size, mtime, ctime and inode are those recorded with its digest:
ctime cannot be set back by tools that restore an mtime, so a rewritten file is always hashed again.
Safe to share between the threads of one build.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

READ_CHUNK = 1 << 20  # bytes per read when hashing or copying a file
# Never part of a project's inputs: version control, and wasmforge's own scratch dirs.
SKIPPED_NAMES = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class FileStat:
    """What says a file (or directory) is unchanged, and its digest when it was hashed."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    digest: str | None = None

    @classmethod
    def of(cls, result: os.stat_result, digest: str | None = None) -> FileStat:
        return cls(result.st_size, result.st_mtime_ns, result.st_ctime_ns, result.st_ino, digest)

    def same_file(self, other: FileStat) -> bool:
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode) == (
            other.size, other.mtime_ns, other.ctime_ns, other.inode)

    def to_json(self) -> list[object]:
        return [self.size, self.mtime_ns, self.ctime_ns, self.inode, self.digest]

    @classmethod
    def from_json(cls, value: object) -> FileStat | None:
        if not isinstance(value, list) or len(value) != 5:
            return None
        size, mtime, ctime, inode, digest = value
        if not all(isinstance(v, int) for v in (size, mtime, ctime, inode)):
            return None
        if digest is not None and not isinstance(digest, str):
            return None
        return cls(size, mtime, ctime, inode, digest)


def file_digest(path: Path) -> tuple[str, int]:
    """``("sha256:<hex>", size)`` of a file's bytes."""
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(READ_CHUNK), b""):
            hasher.update(block)
            size += len(block)
    return f"sha256:{hasher.hexdigest()}", size


class ProjectDigests:
    """Digests of files under ``root``, by project-relative path, remembered across builds through
    ``memo`` (absolute path -> FileStat, from the previous build's stamp)."""

    def __init__(self, root: Path, memo: Mapping[str, FileStat] | None = None) -> None:
        self.root = root
        self._memo = dict(memo or {})
        self._lock = threading.Lock()
        # Everything looked at in this build: files (with digests) and directories of trees.
        self.files: dict[str, FileStat] = {}
        self.dirs: dict[str, FileStat] = {}

    def file(self, relative: str) -> str:
        """The digest of a project file; OSError (FileNotFoundError, ...) when it cannot be read."""
        path = self.root / relative
        key = str(path)
        with self._lock:
            seen = self.files.get(key)
        if seen is not None and seen.digest is not None:
            return seen.digest
        before = path.stat()
        if not stat.S_ISREG(before.st_mode):
            raise IsADirectoryError(21, "not a regular file", key)
        current = FileStat.of(before)
        remembered = self._memo.get(key)
        if remembered is not None and remembered.digest and remembered.same_file(current):
            digest = remembered.digest
        else:
            digest, _ = file_digest(path)
        with self._lock:
            self.files[key] = FileStat.of(before, digest)
        return digest

    def matches(self, deps: Mapping[str, str]) -> bool:
        """True if every file of ``deps`` (project-relative -> digest) still has that digest."""
        for relative, digest in deps.items():
            try:
                if self.file(relative) != digest:
                    return False
            except OSError:
                return False
        return True

    def tree(self, relative: str, excludes: Iterable[str] = ()) -> str:
        """One digest over every file below a project directory (paths, executable bits, contents;
        links by their target), leaving out ``excludes`` (project-relative), version control dirs
        and wasmforge's scratch dirs."""
        entries = []
        for path, kind in self.walk(relative, excludes):
            name = path.relative_to(self.root / relative).as_posix()
            if kind == "link":
                entries.append(f"link\0{name}\0{path.readlink()}")
            else:
                executable = "x" if path.stat().st_mode & 0o111 else "-"
                digest = self.file(path.relative_to(self.root).as_posix())
                entries.append(f"file\0{name}\0{executable}\0{digest}")
        return "sha256:" + hashlib.sha256("\n".join(entries).encode()).hexdigest()

    def unchanged_below(self, relative: str) -> bool:
        """True if every file and directory recorded below a project directory still has the stat
        it had when it was read: nothing was edited, added or removed there since."""
        top = self.root / relative
        with self._lock:
            recorded = [*self.files.items(), *self.dirs.items()]
        for key, seen in recorded:
            path = Path(key)
            if path != top and not path.is_relative_to(top):
                continue
            try:
                if not seen.same_file(FileStat.of(path.stat())):
                    return False
            except OSError:
                return False
        return True

    def walk(self, relative: str, excludes: Iterable[str] = ()) -> list[tuple[Path, str]]:
        """Files and links below a project directory, sorted; its directories go into ``dirs``."""
        # Here, not at the top: the no-op path reads stamps (FileStat) and never walks, and the
        # owner module brings in socket.
        from wasmforge.runner.owner import SCRATCH_PREFIX

        top = self.root / relative
        skipped = {(self.root / e).resolve() for e in excludes}
        found: list[tuple[Path, str]] = []
        pending = [top]
        while pending:
            directory = pending.pop()
            if directory.resolve() in skipped:
                continue
            info = directory.stat()
            with self._lock:
                self.dirs[str(directory)] = FileStat.of(info)
            with os.scandir(directory) as listing:
                for entry in listing:
                    if entry.name in SKIPPED_NAMES or entry.name.startswith(SCRATCH_PREFIX):
                        continue
                    path = Path(entry.path)
                    if entry.is_symlink():
                        found.append((path, "link"))
                    elif entry.is_dir():
                        pending.append(path)
                    elif entry.is_file() and path.resolve() not in skipped:
                        found.append((path, "file"))
        return sorted(found)
