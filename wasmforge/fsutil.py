"""Writing outputs so that a failure never leaves a half-written file behind."""

from __future__ import annotations

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
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
