"""Components as text, and validating them: wasm-tools (WABT reads core modules only).

``wasm-tools parse`` assembles without validating, so text is validated after it is assembled, as
WABT's wat2wasm does for modules. Errors are one line: ``file:line:col: message`` for text,
``file: message`` for binaries.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wasmforge.errors import UserError
from wasmforge.optimize.validate import one_line_reason
from wasmforge.tools import run_tool, wasm_tools

# "error: unknown operator or unexpected token" then "     --> in.wat:2:36" under it.
_TEXT_LOCATION = re.compile(r"^\s*--> (?P<where>.+:\d+:\d+)\s*$")
_ENV = {**os.environ, "RUST_LOG": "error"}


def component_to_text(
    component: Path, *, fold_exprs: bool = False, generate_names: bool = False
) -> str:
    """The text of a binary component (``wasm-tools print``)."""
    argv: list[str | Path] = [wasm_tools(), "print", component]
    if fold_exprs:
        argv.append("--fold-instructions")
    if generate_names:
        argv.append("--name-unnamed")
    done = run_tool(argv, env=_ENV)
    if done.returncode != 0:
        msg = f"{component}: {_reason(done.stderr)}"
        raise UserError(msg)
    return done.stdout.decode("utf-8")


def text_to_component(source: Path) -> bytes:
    """The binary of component text, validated (in memory; the caller writes it)."""
    # No -o: the binary comes on stdout (a pipe here); "-o -" would name a file "-".
    done = run_tool([wasm_tools(), "parse", source], env=_ENV)
    if done.returncode != 0:
        raise UserError(_text_error(done.stderr, source))
    problem = binary_problem(done.stdout)
    if problem is not None:
        msg = f"{source}: {problem}"
        raise UserError(msg)
    return done.stdout


def binary_problem(data: bytes) -> str | None:
    """None if wasm-tools validates ``data`` (default features: the component model and the
    standardised proposals), else its reason on one line."""
    done = run_tool([wasm_tools(), "validate"], env=_ENV, input_bytes=data)
    return None if done.returncode == 0 else _reason(done.stderr)


def text_problem(source: Path) -> str | None:
    """None if the component text assembles and validates, else its first error, one line."""
    try:
        text_to_component(source)
    except UserError as error:
        return error.message
    return None


def _text_error(stderr: bytes, source: Path) -> str:
    text = stderr.decode("utf-8", "replace")
    lines = text.splitlines()
    for number, line in enumerate(lines):
        located = _TEXT_LOCATION.match(line)
        if located and number > 0 and lines[number - 1].startswith("error: "):
            return f"{located['where']}: {lines[number - 1].removeprefix('error: ').strip()}"
    return f"{source}: {one_line_reason(text)}"


def _reason(stderr: bytes) -> str:
    return one_line_reason(stderr.decode("utf-8", "replace"))
