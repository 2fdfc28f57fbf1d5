"""Writing outputs so that a failure never leaves a half-written file behind."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wasmforge.errors import UserError


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(mode)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``; renamed onto it only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def file_lock(guard: Path, *, shared: bool = False) -> Iterator[None]:
    """An advisory lock (flock) on ``guard``, created if missing, held for the block. Separate
    processes and threads (each opens its own handle) wait for each other; OSError if the guard
    cannot be created."""
    guard.parent.mkdir(parents=True, exist_ok=True)
    with guard.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An advisory lock on a directory itself (no lock file left in it), held for the block."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """A temporary directory next to ``path`` that replaces it whole if the block succeeds."""
    path = path.resolve()
    if path == Path.cwd().resolve() or path in Path.cwd().resolve().parents:
        msg = f"{path}: is the current directory (or holds it); not replacing it"
        raise UserError(msg, hint="name a new directory with -o")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result should look like mkdir's
    try:
        yield tmp
        _replace_dir(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_dir(new: Path, path: Path) -> None:
    """Put the directory ``new`` at ``path``, replacing what is there. Another process may replace
    the same directory at the same moment (two builds of one project): each moves the old one away
    to a name of its own, and tries again if the other won the race."""
    for _ in range(20):
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            try:
                path.replace(old / "replaced")
            except FileNotFoundError:  # moved away by the other process: look again
                shutil.rmtree(old, ignore_errors=True)
                continue
        try:
            new.rename(path)
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            continue  # the other process put its own in place meanwhile: replace that
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return
    msg = f"{path}: another process keeps replacing it; try again"
    raise UserError(msg)


def refuse_overwriting_input(source: Path, output: Path, *, hint: str) -> None:
    """A user error if writing ``output`` would replace ``source`` (also through a symlink)."""
    if output.exists() and output.resolve() == source.resolve():
        msg = f"{output}: the output would overwrite the input"
        raise UserError(msg, hint=hint)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def refuse_overwrite(path: Path, *, force: bool, flag: str = "--force") -> None:
    """A user error if ``path`` exists and the user did not ask to replace it."""
    if path.exists() and not force:
        msg = f"{path}: already exists; not overwriting it"
        raise UserError(msg, hint=f"pass {flag} to replace it, or -o to write elsewhere")
