"""The timestamp that goes into every output: ``SOURCE_DATE_EPOCH``, else the last git commit's time.

Both builds and OCI packaging use it, so the same sources give the same bytes on any machine and day
(https://reproducible-builds.org/specs/source-date-epoch/).

Build actions (compile, link, optimise) see it only when the user sets it: otherwise they get a
fixed value, so that a new commit changes the timestamps of packages and manifests but never a
module, and cached actions stay valid across commits (see docs/cache.md).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from wasmforge.errors import ConfigError

# When there is neither SOURCE_DATE_EPOCH nor a git history, a constant keeps outputs reproducible.
FALLBACK_EPOCH = 0
# 9999-12-31T23:59:59Z: the last second an RFC 3339 timestamp (OCI's `created`) can name.
LATEST_EPOCH = 253402300799


def source_date_epoch(root: Path, env: Mapping[str, str]) -> int:
    explicit = explicit_epoch(env)
    if explicit is not None:
        return explicit
    commit_time = _last_commit_time(root)
    return commit_time if commit_time is not None else FALLBACK_EPOCH


def action_epoch(env: Mapping[str, str]) -> int:
    """What build actions get as ``SOURCE_DATE_EPOCH`` (see the module docstring)."""
    explicit = explicit_epoch(env)
    return explicit if explicit is not None else FALLBACK_EPOCH


def explicit_epoch(env: Mapping[str, str]) -> int | None:
    """``SOURCE_DATE_EPOCH`` when the environment sets it (checked), else None."""
    raw = env.get("SOURCE_DATE_EPOCH")
    if raw is not None and raw.strip():
        try:
            value = int(raw.strip())
        except ValueError:
            msg = f"SOURCE_DATE_EPOCH: expected seconds since 1970, got {raw!r}"
            raise ConfigError(msg) from None
        if not 0 <= value <= LATEST_EPOCH:
            msg = f"SOURCE_DATE_EPOCH: must be between 0 and {LATEST_EPOCH}, got {value}"
            raise ConfigError(msg)
        return value
    return None


def _last_commit_time(root: Path) -> int | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"],
            capture_output=True, text=True, check=False, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.strip()
    return int(text) if done.returncode == 0 and text.isdigit() else None
