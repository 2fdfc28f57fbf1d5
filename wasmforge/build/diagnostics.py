"""Compiler diagnostics as GitHub Actions annotations, so that errors show on the pull request's
diff (``::error file=src/main.c,line=4,col=15::expected ';'``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

# clang, emcc and wat2wasm: "file:line:col: error: message"; rustc puts "--> file:line:col" on the
# next line, which carries no message, so Rust errors are annotated without a position.
_DIAGNOSTIC = re.compile(
    r"^\[(?P<target>[^\]]+)\] (?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?"
    r" (?:fatal )?error: (?P<message>.+)$"
)


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
    for line in lines:
        match = _DIAGNOSTIC.match(line)
        if match is None:
            continue
        file = _escape(_workspace_relative(match["file"])).replace(",", "%2C").replace(":", "%3A")
        where = f"file={file},line={match['line']}"
        if match["col"]:
            where += f",col={match['col']}"
        commands.append(f"::error {where},title={match['target']}::{_escape(match['message'])}")
    return commands
