"""Where the local cache lives, and where stamps go in it.

Standard library only: the no-op path (``wasmforge.build.noop``) finds the stamp through this
module before anything heavy is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CACHE_DIR_ENV = "WASMFORGE_CACHE_DIR"
STAMPS_DIR = "stamps"  # below the cache dir: one stamp per way of asking for a build


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """``WASMFORGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/wasmforge/build-cache`` (``~/.cache``)."""
    if env.get(CACHE_DIR_ENV):
        return Path(env[CACHE_DIR_ENV]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "wasmforge" / "build-cache"
