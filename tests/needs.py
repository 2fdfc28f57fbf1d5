"""Gating tests on real parts (Docker, toolchains, a registry, a Wasm runtime).

On a developer's laptop a missing part skips the test. Under ``CI=true`` it fails: CI installs
every part, so a missing one means .ci/run is broken, and a silent skip would hide that.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(available: bool, what: str) -> None:
    """Skip (laptop) or fail (CI) the calling test when ``what`` is not available."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} is not available")
