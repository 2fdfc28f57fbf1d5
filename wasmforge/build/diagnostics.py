"""Compiler diagnostics as GitHub Actions annotations, so that errors show on the pull request's
diff (``::error file=src/main.c,line=4,col=15::expected ';'``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

# clang, emcc and wat2wasm: "file:line:col: error: message".
_DIAGNOSTIC = re.compile(
    r"^\[(?P<target>[^\]]+)\] (?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?"
    r" (?:fatal )?error: (?P<message>.+)$"
)
# rustc: "error[E0425]: message", then "  --> file:line:col" a line or two below.
_RUST_ERROR = re.compile(r"^\[(?P<target>[^\]]+)\] error(?:\[E\d+\])?: (?P<message>.+)$")
_RUST_WHERE = re.compile(r"^\[[^\]]+\]\s+--> (?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+)$")


def _workspace_relative(path: str) -> str:
    """Relative to the working directory (the workspace in CI) when the file is inside it."""
    if Path(path).is_absolute() and Path(path).is_relative_to(Path.cwd()):
        return os.path.relpath(path)
    return path


def _escape(value: str) -> str:
    # The workflow command syntax: % CR LF are escaped in messages; also , and : in properties.
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_annotations(lines: Iterable[str]) -> list[str]:
    """One ``::error`` command for each compiler error among a target's output lines."""
    commands: list[str] = []
    rust_error: re.Match[str] | None = None  # waiting for its "-->" line
    for line in lines:
        if (match := _DIAGNOSTIC.match(line)) is not None:
            commands.append(_command(match["target"], match["file"], match["line"],
                                     match["col"], match["message"]))
        elif (match := _RUST_ERROR.match(line)) is not None:
            rust_error = match
        elif rust_error is not None and (where := _RUST_WHERE.match(line)) is not None:
            commands.append(_command(rust_error["target"], where["file"], where["line"],
                                     where["col"], rust_error["message"]))
            rust_error = None
    return commands


def _command(target: str, path: str, line: str, col: str | None, message: str) -> str:
    file = _escape(_workspace_relative(path)).replace(",", "%2C").replace(":", "%3A")
    where = f"file={file},line={line}" + (f",col={col}" if col else "")
    return f"::error {where},title={target}::{_escape(message)}"
