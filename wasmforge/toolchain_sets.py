"""Toolchain sets: which Debian release every shipped toolchain image of a project comes from.

A set is a folder ``toolchains/<set>/`` with a ``base.toml`` and one recipe folder per image. What
the planners must know about a set (the WASI target names its compilers take) is in this table, so
that a new set is a new folder and a new row. Standard library only: the config model reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ToolchainSetName = Literal["debian-13", "debian-12"]
TOOLCHAIN_SETS: tuple[ToolchainSetName, ...] = get_args(ToolchainSetName)
# Changing the default is a breaking change for every project without `[toolchains] set`: its
# toolchains, and so its output bytes, change. The changelog must say so.
DEFAULT_SET: ToolchainSetName = "debian-13"

WASIP1 = "wasm32-wasip1"
WASIP2 = "wasm32-wasip2"


@dataclass(frozen=True)
class ToolchainSet:
    name: ToolchainSetName
    # What clang's --target says for WASI preview 1 (clang 16 knows only "wasm32-wasi").
    c_wasip1_target: str
    # The Rust target a `kind = "rust"` target builds for when it names none.
    rust_default_triple: str
    # The Rust targets whose standard library the rust image carries.
    rust_targets: tuple[str, ...]
    # Whether the C and Rust toolchains can build for wasm32-wasip2.
    wasip2: bool
    # The linker a bare rustc must be told (`-C linker=`): Debian's rustc has neither rust-lld nor
    # wasm-component-ld. Cargo builds get it from the image's CARGO_TARGET_<TRIPLE>_LINKER. None:
    # rustc's default.
    rustc_linker: str | None = None
    # Whether emcc's Node glue fetch()es its .wasm (3.1.6), which Node cannot do for a file path
    # (3.1.69's reads the file): then wasmforge hides fetch from it under Node.
    emcc_node_fetches: bool = False


SETS: dict[ToolchainSetName, ToolchainSet] = {
    "debian-13": ToolchainSet(
        "debian-13", c_wasip1_target=WASIP1,
        rust_default_triple=WASIP1,
        rust_targets=(WASIP1, WASIP2, "wasm32-unknown-unknown"), wasip2=True,
        rustc_linker="wasm-ld-19"),
    "debian-12": ToolchainSet(
        "debian-12", c_wasip1_target="wasm32-wasi",
        rust_default_triple="wasm32-wasi", rust_targets=("wasm32-wasi",), wasip2=False,
        emcc_node_fetches=True),
}

