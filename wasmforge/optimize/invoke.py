"""How the optimiser runs a tool: a ``ToolInvoker`` is given by whoever knows where tools live.

The build passes one that runs in the pinned toolchain container (whose images carry binaryen 108 and
WABT); ``wasmforge opt`` and the local runner use :func:`host_invoker`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from wasmforge.errors import ToolchainError
from wasmforge.tools import host_program, run_tool, wabt_tool, wasm_tools

# Runs ``argv`` (argv[0] a tool name: "wasm-opt", "wasm-validate", ...) with the given host directory
# as its working directory (writable); files in argv are named relative to it. Raises ToolchainError
# with the tool's stderr when the tool fails.
ToolInvoker = Callable[[Sequence[str], Path], None]

_WABT_TOOLS = frozenset({"wasm-validate", "wasm-strip", "wasm2wat", "wat2wasm", "wasm-objdump"})
_MAX_STDERR_LINES = 20


def _host_path(tool: str) -> Path:
    if tool in _WABT_TOOLS:
        return wabt_tool(tool)
    if tool == "wasm-tools":
        return wasm_tools()
    if tool.startswith("wasm-opt") or tool in ("wasm-metadce", "wasm-ctor-eval", "wasm-dis"):
        return host_program(tool, hint="apt-get install binaryen (version 108 or newer)")
    return host_program(tool, hint=f"install {tool} or put it on PATH")


def tool_failure(tool: str, returncode: int, stderr: bytes) -> ToolchainError:
    """A ToolchainError quoting the tool's stderr (its first lines; the rest is rarely news)."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    shown = "; ".join(lines[:_MAX_STDERR_LINES]) or "no error output"
    return ToolchainError(f"{tool} failed (exit status {returncode}): {shown}")


def host_invoker(env: Mapping[str, str] | None = None) -> ToolInvoker:
    """Runs tools installed on this machine: wasm-opt from PATH, WABT and wasm-tools from their
    wheels; with ``env`` as their environment (default: this process's)."""

    def invoke(argv: Sequence[str], cwd: Path) -> None:
        if not argv:
            msg = "no tool to run"
            raise ValueError(msg)
        completed = run_tool([_host_path(argv[0]), *argv[1:]], cwd=cwd, env=env)
        if completed.returncode != 0:
            raise tool_failure(argv[0], completed.returncode, completed.stderr)

    return invoke
