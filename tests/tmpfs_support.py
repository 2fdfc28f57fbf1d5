"""A small tmpfs of a test's own, for tests of a full disk (mounting needs root)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.needs import in_ci


@contextlib.contextmanager
def small_tmpfs(mount: Path, size: str, *, fill: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mount``; with ``fill``, full to the last byte."""
    mount.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True, check=False).returncode == 0
    if not mounted:
        if in_ci():
            pytest.fail("mounting a small tmpfs (as root) is required under CI=true",
                        pytrace=False)
        pytest.skip("needs root to mount a small tmpfs")
    try:
        if fill:
            with contextlib.suppress(OSError), (mount / "filler").open("wb") as filler:
                while True:  # ENOSPC ends it
                    filler.write(b"x" * 1024)
                    filler.flush()
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
