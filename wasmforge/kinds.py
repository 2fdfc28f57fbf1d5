"""The target kinds and the toolchains they build with: the one table every part of wasmforge reads.

A new kind is a new row here, a config model and a planner module; the planner dispatch (``match``
with ``assert_never``) makes the type checker point at every place that must learn about it.
Standard library only: the no-op fast path of ``wasmforge build`` reads it before anything heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# What ``kind = "..."`` of a target may say.
TargetKind = Literal["wasi-sdk", "rust", "emscripten", "wat"]
TARGET_KINDS: tuple[TargetKind, ...] = get_args(TargetKind)

# Where a build action runs: a toolchain image kind, or the host (WABT ships inside wasmforge).
HOST_TOOLCHAIN = "host"


@dataclass(frozen=True)
class KindInfo:
    kind: TargetKind
    # The toolchain image its compile actions run in; None: they run on the host (HOST_TOOLCHAIN).
    image: str | None
    # The image whose binaryen optimises its modules: its own, or a pinned one when it has none.
    optimizer: str
    # The program a host must have for ``--runner local`` (None: nothing beyond wasmforge).
    driver: str | None
    # What to install for the local runner (Debian 12 package names, as in the images).
    install: str | None


KINDS: dict[TargetKind, KindInfo] = {
    "wasi-sdk": KindInfo(
        "wasi-sdk", image="wasi-sdk", optimizer="wasi-sdk", driver="clang",
        install="apt-get install clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32 "
        "libc++-16-dev-wasm32 libc++abi-16-dev-wasm32"),
    "rust": KindInfo(
        "rust", image="rust", optimizer="rust", driver="cargo",
        install="apt-get install cargo rustc libstd-rust-dev-wasm32 lld-14"),
    "emscripten": KindInfo(
        "emscripten", image="emscripten", optimizer="emscripten", driver="emcc",
        install="apt-get install emscripten nodejs"),
    "wat": KindInfo("wat", image=None, optimizer="wasi-sdk", driver=None, install=None),
}

# The toolchain images, in the order they are listed and built.
IMAGE_KINDS: tuple[str, ...] = tuple(info.image for info in KINDS.values() if info.image)
# Images a set may ship besides its toolchains: Wasm runtimes that `wasmforge run --runtime` uses.
RUNTIME_IMAGES: tuple[str, ...] = ("wasmedge",)


def toolchain_of(kind: TargetKind) -> str:
    """Where a kind's compile actions run: its image kind, or HOST_TOOLCHAIN."""
    return KINDS[kind].image or HOST_TOOLCHAIN


def toolchain_label(kind: TargetKind) -> str:
    """How reports name where a kind builds: its image kind, or "wabt" (on the host)."""
    return KINDS[kind].image or "wabt"


def driver_of(toolchain: str) -> str | None:
    """The program that a toolchain's actions start with on the host, if any."""
    return next((info.driver for info in KINDS.values() if info.image == toolchain), None)
