"""Compiler flags that every C-family and Rust target shares: optimisation, debug info, and the
path remapping that makes outputs independent of where the project was checked out."""

from __future__ import annotations

import re

from wasmforge.config.model import OptLevel
from wasmforge.runner.base import Layout

# Inside outputs, the project is "." and a target's writable dir "/out", on any runner and machine.
REMAPPED_OUT = "/out"
# clang's optimisation levels (its O_Group): -O, -O0 to -O4, -Os, -Oz, -Og, -Ofast, --optimize[=N].
_OPT_LEVEL = re.compile(r"-O(?:[0-9]|s|z|g|fast)?|--optimize(?:=.*)?")


def clang_opt_flag(level: OptLevel) -> str:
    # clang's highest level is -O3 (it takes -O4 as -O3 with a warning); 4 is a wasm-opt level.
    return f"-O{3 if level == 4 else level}"


def without_opt_levels(flags: list[str]) -> list[str]:
    """``flags`` without clang's optimisation levels (``-O2``, ``-Os``, ``-Ofast``, ``-O``,
    ``--optimize=...``): for a link, where clang 16 reads them only to run wasm-opt itself."""
    return [flag for flag in flags if not _OPT_LEVEL.fullmatch(flag)]


def rust_opt_level(level: OptLevel) -> str:
    return str(3 if level == 4 else level)


def c_remap_flags(layout: Layout, target: str) -> list[str]:
    return [
        f"-ffile-prefix-map={layout.src}=.",
        f"-ffile-prefix-map={layout.out(target)}={REMAPPED_OUT}",
    ]


def rust_remap_flags(layout: Layout, target: str) -> list[str]:
    return [
        f"--remap-path-prefix={layout.src}=.",
        f"--remap-path-prefix={layout.out(target)}={REMAPPED_OUT}",
    ]


def define_flags(defines: list[str]) -> list[str]:
    return [f"-D{d}" for d in defines]
