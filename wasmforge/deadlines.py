"""Deadlines that the environment may shorten (tests of a frozen engine or a silent registry
should not wait minutes), read and checked in one place."""

from __future__ import annotations

import os

from wasmforge.errors import ConfigError


def seconds_from_env(name: str, default: float) -> float:
    """``$name`` as a positive number of seconds, else ``default``; a ConfigError naming the
    variable when it is set to something else."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        msg = f"{name}: expected a positive number of seconds, got {raw!r}"
        raise ConfigError(msg)
    return value
