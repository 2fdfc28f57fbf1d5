"""Which commit a project's checkout is at, read from the ``.git`` files without running git.

The build's timestamp and the OCI revision annotation come from HEAD, so the no-op check of
``wasmforge build`` must notice a new commit, and must do so without starting a process. Only the
plain layouts are read (a ``.git`` directory or a ``gitdir:`` file, loose and packed refs); anything
else is reported as UNKNOWN, and the caller then does the full work.
"""

from __future__ import annotations

from pathlib import Path

UNKNOWN = "unknown"
_MAX_SYMREF_DEPTH = 5


def head_commit(start: Path) -> str | None:
    """HEAD's commit id for the repository holding ``start``; None outside any repository;
    UNKNOWN when the repository cannot be read this simply (a new ref format, say)."""
    git_dir = _find_git_dir(start.resolve())
    if git_dir is None:
        return None
    if (_common_dir(git_dir) / "reftable").is_dir():
        return UNKNOWN  # refs in reftable files (git 2.45+), not readable here
    try:
        return _resolve(git_dir, "HEAD") or UNKNOWN
    except (OSError, UnicodeDecodeError):
        return UNKNOWN


def _find_git_dir(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                linked = Path(text.removeprefix("gitdir:").strip())
                return linked if linked.is_absolute() else (directory / linked).resolve()
            return None
    return None


def _resolve(git_dir: Path, name: str) -> str | None:
    common = _common_dir(git_dir)
    for _ in range(_MAX_SYMREF_DEPTH):
        # HEAD of a worktree lives in its own dir; branches are shared in the common dir.
        where = git_dir if name == "HEAD" else common
        path = where / name
        if path.is_file():
            text = path.read_text(encoding="utf-8").strip()
            if text.startswith("ref:"):
                name = text.removeprefix("ref:").strip()
                if name.endswith(".invalid"):  # a stub left for old git by a newer ref format
                    return None
                continue
            return text if _is_object_id(text) else None
        # A branch with no commit yet reads as itself: stable until the first commit.
        return _packed_ref(common, name) or f"unborn:{name}"
    return None


def _common_dir(git_dir: Path) -> Path:
    pointer = git_dir / "commondir"
    if pointer.is_file():
        target = Path(pointer.read_text(encoding="utf-8").strip())
        return target if target.is_absolute() else (git_dir / target).resolve()
    return git_dir


def _packed_ref(common: Path, name: str) -> str | None:
    packed = common / "packed-refs"
    if not packed.is_file():
        return None
    for line in packed.read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "^")):
            continue
        object_id, _, ref = line.partition(" ")
        if ref.strip() == name and _is_object_id(object_id):
            return object_id
    return None


def _is_object_id(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)
