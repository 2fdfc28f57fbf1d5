"""The dependency store: the crates a fetch brought, one directory per fetch key.

    <cache dir>/deps/<key>/vendor/<crate>-<version>/…   the crates, as ``cargo vendor`` left them
    <cache dir>/deps/<key>/sources.json                 the sources they stand in for (complete:
                                                        written last, it marks a whole entry)
    <cache dir>/deps/.staging/<random>/                 a fetch in progress

A fetch works in a staging dir and is renamed into place whole, so a build never sees half an entry
and two wasmforge processes fetching the same key both succeed (the second one's rename finds the
first one's entry and its own copy is dropped). Builds see the store read-only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

DEPS_DIR = "deps"  # below the cache dir
VENDOR_DIR = "vendor"
SOURCES_FILE = "sources.json"
_STAGING = ".staging"


class DependencyStore:
    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir / DEPS_DIR

    def entry(self, key: str) -> Path | None:
        """The complete entry of ``key``, or None. Its use is noted (for ``cache prune``)."""
        directory = self.root / key
        if not (directory / SOURCES_FILE).is_file():
            return None
        with contextlib.suppress(OSError):
            os.utime(directory)
        return directory

    def sources(self, entry: Path) -> dict[str, dict[str, str]]:
        """``[source.NAME]`` tables of the entry, with ``directory`` relative to the entry."""
        data = json.loads((entry / SOURCES_FILE).read_text("utf-8"))
        assert isinstance(data, dict)
        return data

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh dir to fetch into; removed afterwards unless committed."""
        parent = self.root / _STAGING
        parent.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(dir=parent))
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def commit(self, staged: Path, key: str, sources: Mapping[str, Mapping[str, str]]) -> Path:
        """Make ``staged`` (holding ``vendor/``) the entry of ``key``; an entry that appeared
        meanwhile is kept and ``staged`` left to be removed."""
        (staged / SOURCES_FILE).write_text(json.dumps(sources, indent=1, sort_keys=True),
                                           encoding="utf-8")
        final = self.root / key
        try:
            staged.rename(final)
        except OSError:
            if self.entry(key) is None:  # not a race lost: a real failure
                raise
        return final

    def entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir()
                      if p.name != _STAGING and (p / SOURCES_FILE).is_file())

    def remove(self, entry: Path) -> None:
        """Out of sight first (a build may be looking), then deleted."""
        doomed = self.root / _STAGING / f"removed-{entry.name}"
        with contextlib.suppress(OSError):
            (self.root / _STAGING).mkdir(parents=True, exist_ok=True)
            entry.rename(doomed)
            entry = doomed
        shutil.rmtree(entry, ignore_errors=True)
