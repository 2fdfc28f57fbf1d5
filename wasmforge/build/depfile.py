"""What the tools say they read: make-syntax dependency files and the linker's trace.

clang and emcc (``-MD -MF``), rustc (``--emit=dep-info``) and Cargo (``<artifact>.d``) write make
rules; wasm-ld (``--trace``) prints one input file per line, archive members as ``lib.a(member.o)``.
Only files of the project matter to the cache: the toolchain's own files are pinned by its image.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

# A trace line: an absolute path alone on its line (diagnostics always have ": " in them).
_TRACE_LINE = re.compile(r"^/[^\t]*$")
_MEMBER = re.compile(r"\([^()]*\)$")


def prerequisites(text: str) -> list[str]:
    """Every prerequisite of every rule in a make-syntax dependency file, in order, once each."""
    found: dict[str, None] = {}  # ordered, and each once in constant time (a C++ file reads 500)
    for line in _logical_lines(text):
        if line.lstrip().startswith("#"):
            continue  # Cargo's "# env-dep:" notes
        split = _rule_colon(line)
        if split is None:
            continue
        found.update(dict.fromkeys(_words(line[split + 1:])))
    return list(found)


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash-newline continuations joined."""
    return re.sub(r"\\\r?\n", " ", text).splitlines()


def _rule_colon(line: str) -> int | None:
    """Where the rule's targets end: the first unescaped colon followed by a blank or the end."""
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char == ":" and (index + 1 == len(line) or line[index + 1] in " \t"):
            return index
        index += 1
    return None


def _words(text: str) -> list[str]:
    """Blank-separated words, with make's escapes undone (``\\ `` ``\\#`` ``$$``)."""
    words: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in " #\\":
            current.append(text[index + 1])
            index += 2
            continue
        if char == "$" and text[index + 1:index + 2] == "$":
            current.append("$")
            index += 2
            continue
        if char in " \t":
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
        index += 1
    if current:
        words.append("".join(current))
    return words


def is_trace_line(line: str) -> bool:
    """True for a line of wasm-ld's ``--trace`` output (shown to nobody: it is bookkeeping)."""
    return bool(_TRACE_LINE.match(line)) and ": " not in line


def traced_files(lines: Iterable[str]) -> list[str]:
    """The files a ``--trace`` output names (an archive once, not per member)."""
    found: dict[str, None] = {}
    for line in lines:
        if is_trace_line(line):
            found[_MEMBER.sub("", line.rstrip())] = None
    return list(found)


def in_project(paths: Iterable[str], src: str, cwd: str) -> list[str]:
    """The project-relative form of those ``paths`` that are inside the project, which the tools
    saw at ``src`` (relative paths are relative to ``cwd``)."""
    found: dict[str, None] = {}
    prefix = src.rstrip("/") + "/"
    for path in paths:
        full = posixpath.normpath(posixpath.join(cwd, path))
        if full.startswith(prefix):
            found[full[len(prefix):]] = None
    return list(found)
