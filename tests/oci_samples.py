"""WASI modules for the OCI tests, assembled from WAT with WABT (no toolchain image needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from wasmforge.tools import wabt_tool

HELLO_OUTPUT = "hello from wasm\n"

HELLO_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "hello from wasm\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 8))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 24)))))
"""

# Exits with the code given as its last byte of data (proc_exit), to check exit-code pass-through.
EXIT_WAT = """(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 3))))
"""

# The 36-byte module of the research notes' artifact example: (module (func (export "_start"))).
EMPTY_START = bytes.fromhex("0061736d0100000001040160000003020100070a01065f737461727400000a040102000b")


def assemble(wat: str, directory: Path, name: str) -> Path:
    source = directory / f"{name}.wat"
    source.write_text(wat, encoding="utf-8")
    output = directory / f"{name}.wasm"
    subprocess.run([str(wabt_tool("wat2wasm")), str(source), "-o", str(output)], check=True)
    return output
