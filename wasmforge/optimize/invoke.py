"""How the optimiser runs a tool: a ``ToolInvoker`` is given by whoever knows where tools live.

The build and ``wasmforge opt`` pass one that runs in a pinned toolchain container (binaryen 120 in the
debian-13 set's images, 108 in debian-12's; see ``Runner.invoker``); the local runner uses
:func:`host_invoker`. Invokers return no output: :func:`tool_version` asks one which version it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from wasmforge.errors import ToolchainError, WasmforgeError
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


VERSION_FILE = "tool-version.txt"


def tool_version(invoke: ToolInvoker, tool: str, workdir: Path) -> str | None:
    """The first line ``tool --version`` prints where ``invoke`` runs tools (``wasm-opt version
    120``), or None when it cannot tell. A shell writes it into ``workdir``, which it must be able
    to write (an invoker keeps no output of a tool that succeeded)."""
    target = workdir / VERSION_FILE
    try:
        invoke(["sh", "-c", f'exec "$0" --version > {VERSION_FILE} 2>&1', tool], workdir)
        lines = target.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except (WasmforgeError, OSError):  # no answer is not a failure of what was asked
        return None
    finally:
        target.unlink(missing_ok=True)
    return lines[0].strip() if lines else None
