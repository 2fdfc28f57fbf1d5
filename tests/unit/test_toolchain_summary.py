"""What `toolchains list` says each image carries: read from the recipes' exact pins."""

from __future__ import annotations

import pytest

from wasmforge.toolchains.recipe import shipped_recipe
from wasmforge.toolchains.summary import describe, tool_versions, upstream_version


@pytest.mark.parametrize(("debian", "upstream"), [
    ("1:22.1.8-1~deb13u5", "22.1.8"),
    ("1.85.1+dfsg1-1+deb13u1", "1.85.1"),
    ("3.1.69+dfsg-3", "3.1.69"),
    ("3.1.6~dfsg-5", "3.1.6"),
    ("0.0~git20241209.574b88d-2", "0.0~git20241209.574b88d"),
    ("1.0.36+dfsg+~cs1.0.36-2", "1.0.36"),
    ("120-4", "120"),
    ("20.19.2+dfsg-1+deb13u3", "20.19.2"),
])
def test_upstream_version_drops_debians_additions(debian: str, upstream: str) -> None:
    assert upstream_version(debian) == upstream


def test_debian_13_versions() -> None:
    assert tool_versions(shipped_recipe("wasi-sdk", "debian-13"), "debian-13") == {
        "clang": "22.1.8", "wasi-libc": "0.0~git20241209.574b88d", "binaryen": "120",
        "wabt": "1.0.36"}
    rust = tool_versions(shipped_recipe("rust", "debian-13"), "debian-13")
    assert rust["rustc"] == "1.85.1"
    assert rust["targets"] == "wasm32-wasip1 wasm32-wasip2 wasm32-unknown-unknown"
    emscripten = tool_versions(shipped_recipe("emscripten", "debian-13"), "debian-13")
    assert (emscripten["emscripten"], emscripten["node"], emscripten["binaryen"]) == (
        "3.1.69", "20.19.2", "120")
    assert tool_versions(shipped_recipe("wasmedge", "debian-13"), "debian-13") == {
        "wasmedge": "0.14.1"}


def test_debian_12_versions() -> None:
    rust = tool_versions(shipped_recipe("rust", "debian-12"), "debian-12")
    assert describe(rust) == "rustc 1.63.0, binaryen 108, wabt 1.0.32, targets wasm32-wasi"
    emscripten = tool_versions(shipped_recipe("emscripten", "debian-12"), "debian-12")
    assert emscripten["emscripten"] == "3.1.6"
