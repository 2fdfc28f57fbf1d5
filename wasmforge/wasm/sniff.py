"""Telling a binary module, WebAssembly text and anything else apart by content, not by file name.

Users rename files and tools write ``.wasm`` text by mistake, so every command looks at the first bytes
before choosing a tool, and says what it found when the file is not what the command expects.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from wasmforge.errors import UserError
from wasmforge.wasm.module import MAGIC

_HEAD_SIZE = 4096


class FileKind(Enum):
    BINARY = "binary"  # starts with the \0asm magic (a core module or a component)
    TEXT = "text"  # no NUL bytes in the first 4 KiB: possibly WebAssembly text
    OTHER = "other"  # some other binary file


def read_head(path: Path, size: int = _HEAD_SIZE) -> bytes:
    """The first ``size`` bytes of ``path``, or a one-line user error that names it."""
    try:
        with path.open("rb") as stream:
            return stream.read(size)
    except IsADirectoryError:
        msg = f"{path}: is a directory, expected a file"
        raise UserError(msg) from None
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise UserError(msg) from None
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise UserError(msg) from None


def kind_of_head(head: bytes) -> FileKind:
    if head.startswith(MAGIC):
        return FileKind.BINARY
    if b"\0" in head:
        return FileKind.OTHER
    return FileKind.TEXT


def binary_in_text(path: Path, head: bytes) -> str:
    """What to say of a would-be text file with a NUL byte: where the NUL is, when the rest reads
    as text (a stray byte in a .wat), else that it is some binary file."""
    at = head.index(b"\0")
    before = head[:at]
    rest = head[:at] + head[at + 1:]
    if sum(byte < 9 or 13 < byte < 32 for byte in rest) > len(rest) // 100:
        return f"{path}: is a binary file, not WebAssembly text"
    line = before.count(b"\n") + 1
    column = at - (before.rfind(b"\n") + 1) + 1
    return f"{path}:{line}:{column}: a NUL byte in WebAssembly text"


def file_kind(path: Path) -> FileKind:
    return kind_of_head(read_head(path))


def is_wasm_file(path: Path) -> bool:
    """An existing file that is a binary module: named .wasm, or starting with the wasm magic."""
    if not path.is_file():
        return False
    return path.suffix.lower() == ".wasm" or file_kind(path) is FileKind.BINARY


_COMPONENT_FORM = re.compile(rb"\(\s*component(?![A-Za-z0-9_.$-])")


def is_component_text(head: bytes) -> bool:
    """WebAssembly text whose first form is ``(component ...)``: for wasm-tools, not WABT."""
    pos = 0
    while pos < len(head):
        if head[pos:pos + 1].isspace():
            pos += 1
        elif head.startswith(b";;", pos):
            end = head.find(b"\n", pos)
            if end < 0:
                return False
            pos = end + 1
        elif head.startswith(b"(;", pos):
            pos = _block_comment_end(head, pos)
            if pos < 0:
                return False
        else:
            return _COMPONENT_FORM.match(head, pos) is not None
    return False


def _block_comment_end(text: bytes, pos: int) -> int:
    # Block comments nest: (; a (; b ;) c ;) is one comment. -1: not closed within ``text``.
    depth = 0
    while pos < len(text):
        if text.startswith(b"(;", pos):
            depth += 1
            pos += 2
        elif text.startswith(b";)", pos):
            depth -= 1
            pos += 2
            if depth == 0:
                return pos
        else:
            pos += 1
    return -1
