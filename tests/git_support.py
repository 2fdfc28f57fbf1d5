"""Running the real ``git`` in a test's own directory, with no global or system configuration."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def git(root: Path, *args: str) -> str:
    """``git -C root ARGS``; its stdout, stripped (a failure raises)."""
    done = subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True, env={**GIT_ENV, "HOME": str(root)})
    return done.stdout.strip()
