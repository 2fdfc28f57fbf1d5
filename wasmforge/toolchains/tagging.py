"""Naming toolchain images by content: a changed recipe can never reuse an old image.

The tag is the first 16 hex digits of a SHA-256 over every file of the recipe directory (sorted
relative paths, executable bit and contents: what ``docker build`` sees of it) and the identity of
the base image (its pinned, digest-qualified reference: the same on every machine, unlike the id of
a base created offline, which differs per debootstrap run).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

TAG_HEX_DIGITS = 16
IMAGE_REPOSITORY_PREFIX = "wasmforge/"
# Bumped when the hashing scheme itself changes, so that old tags cannot collide with new ones.
_SCHEME = b"wasmforge-toolchain-recipe-v1\0"
# Never part of a recipe, only of the machine it sits on.
_IGNORED_NAMES = frozenset({".git", "__pycache__", ".DS_Store"})


def recipe_files(directory: Path) -> list[Path]:
    """Every regular file under ``directory`` (following links), sorted by relative path."""
    files = [
        path
        for path in directory.rglob("*")
        if path.is_file() and not _IGNORED_NAMES.intersection(path.relative_to(directory).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(directory).as_posix())


def recipe_digest(directory: Path, base_identity: str) -> str:
    """Hex SHA-256 of the recipe directory's files and the base image's identity."""
    digest = hashlib.sha256(_SCHEME)
    for path in recipe_files(directory):
        relative = path.relative_to(directory).as_posix().encode()
        data = path.read_bytes()
        executable = b"x" if path.stat().st_mode & 0o111 else b"-"
        # Length-prefixed fields: no two different file sets can hash the same byte stream.
        digest.update(b"file\0%d\0%s\0%s\0%d\0" % (len(relative), relative, executable, len(data)))
        digest.update(data)
    identity = base_identity.encode()
    digest.update(b"base\0%d\0%s" % (len(identity), identity))
    return digest.hexdigest()


def image_tag(name: str, digest: str) -> str:
    """``wasmforge/<name>:<first 16 hex digits>``."""
    return f"{IMAGE_REPOSITORY_PREFIX}{name}:{digest[:TAG_HEX_DIGITS]}"
