"""``wasmforge run`` of a module that traps: one line naming the module and the trap, then wasmtime's
backtrace with the function names of the name section; exit 134 either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oci_samples import assemble
from wasmforge.wasirun import TRAP_EXIT_CODE, backtrace_lines
from wasmforge.wasm.module import parse_module

# Three named functions: the trap is two calls deep.
NAMED = """(module
  (memory (export "memory") 1)
  (func $explode unreachable)
  (func $divide_by (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $middle (call $explode))
  (func $zero (drop (call $divide_by (i32.const 0))))
  (func (export "_start") (call $middle))
  (func (export "divide") (call $zero)))
"""
STARTS_BADLY = """(module
  (func $setup (call $check))
  (func $check unreachable)
  (start $setup)
  (func (export "_start")))
"""


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, check=False, timeout=120, env={**os.environ, **(env or {})})


def _frames(stderr: str) -> list[str]:
    """The function name of each frame line (``  0:   0x33 - name``), innermost first."""
    return [line.split(" - ", 1)[1] for line in stderr.splitlines() if " - " in line]


def test_a_trap_names_the_module_and_the_trap_then_the_functions(tmp_path: Path) -> None:
    module = tmp_path / "named.wat"  # wasmtime gives text $names a name section
    module.write_text(NAMED)
    done = _run("run", str(module))
    assert done.returncode == TRAP_EXIT_CODE
    lines = done.stderr.splitlines()
    assert lines[0] == (f"error: {module}: trapped: wasm trap: wasm `unreachable` instruction "
                        "executed")
    assert lines[1] == "wasm backtrace (innermost call first):"
    assert _frames(done.stderr) == ["explode", "middle", "<wasm function 4>"]
    assert "no function names" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_binary_module_keeps_its_names(tmp_path: Path) -> None:
    # wat2wasm --debug-names writes the name section, as a compiler keeping names does.
    source = tmp_path / "named.wat"
    source.write_text(NAMED)
    module = tmp_path / "named.wasm"
    from wasmforge.tools import wabt_tool

    subprocess.run([str(wabt_tool("wat2wasm")), "--debug-names", str(source), "-o", str(module)],
                   check=True)
    assert any(s.name == "name" for s in parse_module(module.read_bytes(), "m").sections)
    done = _run("--quiet", "run", str(module))  # the backtrace belongs to the error: always shown
    assert done.returncode == TRAP_EXIT_CODE
    assert _frames(done.stderr) == ["explode", "middle", "<wasm function 4>"]


def test_without_a_name_section_the_frames_are_numbered_and_a_hint_says_why(
    tmp_path: Path
) -> None:
    module = assemble(NAMED, tmp_path, "stripped")  # wat2wasm writes no names by default
    assert not any(s.name == "name" for s in parse_module(module.read_bytes(), "m").sections)
    done = _run("run", str(module))
    assert done.returncode == TRAP_EXIT_CODE
    assert _frames(done.stderr) == ["<wasm function 0>", "<wasm function 2>",
                                    "<wasm function 4>"]
    assert done.stderr.splitlines()[-1] == (
        "(no function names: the module has no name section; build it with a profile that keeps "
        "names, strip-names = false)")


def test_a_trap_in_the_start_function_has_a_backtrace_too(tmp_path: Path) -> None:
    module = tmp_path / "starts.wat"
    module.write_text(STARTS_BADLY)
    done = _run("run", str(module))
    assert done.returncode == TRAP_EXIT_CODE
    assert done.stderr.startswith(f"error: {module}: trapped while starting: wasm trap: ")
    assert _frames(done.stderr) == ["check", "setup"]


def test_an_integer_division_by_zero_is_named(tmp_path: Path) -> None:
    module = tmp_path / "divide.wat"
    module.write_text(NAMED.replace('(export "_start") (call $middle)',
                                    '(export "_start") (call $zero)'))
    done = _run("run", str(module))
    assert done.returncode == TRAP_EXIT_CODE
    assert "trapped: wasm trap: integer divide by zero" in done.stderr.splitlines()[0]
    assert _frames(done.stderr)[:2] == ["divide_by", "zero"]


@pytest.mark.parametrize(("message", "frames"), [
    # What wasmtime 50 writes: the frames, a note (no DWARF details asked for), the cause.
    (("error while executing at wasm backtrace:\n"
      "    0:     0x33 - <unknown>!inner\n"
      "    1:     0x37 - <unknown>!_start\n"
      "note: using the `WASMTIME_BACKTRACE_DETAILS=1` environment variable may show more\n"
      "\nCaused by:\n    wasm trap: wasm `unreachable` instruction executed\n"),
     ["    0:     0x33 - inner", "    1:     0x37 - _start"]),
    # With DWARF details: a file and line under a frame.
    (("error while executing at wasm backtrace:\n"
      "    0:    0x1b4 - fail_here\n"
      "                    at ././src/main.c:8:9\n"
      "    1:   0x1149 - <unknown>!_start.command_export\n\nCaused by:\n    wasm trap: x\n"),
     ["    0:    0x1b4 - fail_here", "                    at ././src/main.c:8:9",
      "    1:   0x1149 - _start.command_export"]),
    ("wasm trap: out of bounds memory access", []),
])
def test_backtrace_lines_are_wasmtimes_frames(message: str, frames: list[str]) -> None:
    assert backtrace_lines(message) == frames
