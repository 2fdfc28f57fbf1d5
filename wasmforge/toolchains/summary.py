"""What a shipped toolchain image carries, in a few words, read from its recipe's exact pins.

``toolchains list`` shows it before anything is built: the pins are what the image will have
(``toolchains build`` checks that with dpkg), so the recipe is the one owner of these versions.
"""

from __future__ import annotations

import re

from wasmforge.toolchain_sets import SETS, ToolchainSetName
from wasmforge.toolchains.recipe import Recipe

# (label, package name pattern): the packages whose versions say what an image is.
_NOTABLE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("clang", re.compile(r"^clang-\d+$")),
    ("rustc", re.compile(r"^rustc$")),
    ("emscripten", re.compile(r"^emscripten$")),
    ("wasi-libc", re.compile(r"^wasi-libc$")),
    ("node", re.compile(r"^nodejs$")),
    ("wasmedge", re.compile(r"^wasmedge$")),
    ("binaryen", re.compile(r"^binaryen$")),
    ("wabt", re.compile(r"^wabt$")),
)
# Debian's additions to an upstream version: the epoch, a repack suffix, the revision.
_EPOCH = re.compile(r"^\d+:")
_REPACK = re.compile(r"[+~](dfsg|ds)[^-]*")
_REVISION = re.compile(r"-[^-]+$")


def upstream_version(debian_version: str) -> str:
    """``1:22.1.8-1~deb13u5`` → ``22.1.8``; ``3.1.69+dfsg-3`` → ``3.1.69``."""
    version = _EPOCH.sub("", debian_version)
    version = _REVISION.sub("", version)
    return _REPACK.sub("", version)


def tool_versions(recipe: Recipe, toolchain_set: ToolchainSetName) -> dict[str, str]:
    """Label → upstream version of the image's notable packages, and the Rust targets it has."""
    found: dict[str, str] = {}
    for label, pattern in _NOTABLE:
        for package, version in recipe.packages.items():
            if pattern.match(package) and label not in found:
                found[label] = upstream_version(version)
    if "rustc" in found:
        found["targets"] = " ".join(SETS[toolchain_set].rust_targets)
    return found


def describe(versions: dict[str, str]) -> str:
    """One line: ``clang 22.1.8, wasi-libc 0.0~git20241209.574b88d, binaryen 120``."""
    return ", ".join(f"{label} {value}" for label, value in versions.items())
