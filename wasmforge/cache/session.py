"""The cache as one build uses it: the local store, and the registries to restore from and upload to.

The cache never fails a build. A local store that cannot be written (permissions, a full disk) is
a warning and the build goes on without it; a registry that is down, slow or refuses is a warning
and the build goes on locally (unless ``--cache-required``), and after its first failure it is not
asked again in the same build, so a dead registry costs one timeout, not one per action.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wasmforge.cache.record import ActionRecord, DamagedEntry, OutputFile
from wasmforge.cache.store import LocalStore
from wasmforge.config.resolve import CacheSettings
from wasmforge.console import Console
from wasmforge.errors import RegistryError, UserError

if TYPE_CHECKING:
    from wasmforge.cache.remote import RegistryCache

Origin = Literal["local", "remote"]


@dataclass(frozen=True)
class Hit:
    record: ActionRecord
    origin: Origin


class CacheSession:
    def __init__(
        self, settings: CacheSettings, console: Console, env: Mapping[str, str], *,
        reads: bool = True,
    ) -> None:
        self.settings = settings
        self._console = console
        self._reads = reads and settings.read
        self.store: LocalStore | None = LocalStore(settings.directory, warn=self._warn)
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self.saved = 0
        # Results that were to be uploaded and are not: the next build must not be a no-op.
        self.upload_failed = False
        self._from = (_registry(settings.remote_from, env, settings.insecure)
                      if settings.remote_from and self._reads else None)
        self._to = (_registry(settings.remote_to, env, settings.insecure)
                    if settings.remote_to else None)

    @property
    def directory(self) -> Path:
        return self.settings.directory

    def lookup(self, key: str, deps_match: Callable[[Mapping[str, str]], bool]) -> Hit | None:
        """A result for ``key`` from the local store, else from the registry; None to build."""
        store = self.store
        if not self._reads or store is None:
            return None
        try:
            record = store.lookup(key, deps_match)
        except OSError as error:
            self._local_failed(error)
            return None
        if record is not None:
            self._export(record, store)
            return Hit(record, "local")
        remote = self._from
        if remote is None:
            return None
        try:
            record = remote.fetch(key, deps_match, store)
        except (DamagedEntry, UserError) as error:
            reason = getattr(error, "message", None) or str(error)
            self._warn(f"cache: entry {key[:12]} in {remote.reference} is damaged ({reason}); "
                       "building it")
            return None
        except (RegistryError, OSError) as error:
            self._remote_failed("from", error)
            return None
        if record is None:
            return None
        self._export(record, store)
        return Hit(record, "remote")

    def save(self, record: ActionRecord, files: Mapping[str, Path]) -> None:
        """Keep a fresh result locally, and upload it when a registry is to be written."""
        store = self.store
        if store is None:
            return
        try:
            store.save(record, files)
        except OSError as error:
            self._local_failed(error)
            return
        with self._lock:
            self.saved += 1
        remote = self._to
        if remote is not None:
            try:
                remote.push(record, store)
            except (RegistryError, DamagedEntry, OSError) as error:
                self._remote_failed("to", error)

    def _export(self, record: ActionRecord, store: LocalStore) -> None:
        """Upload a result found in the cache that the registry to write does not hold yet: every
        result of the build reaches it, not only the fresh ones (a cache warmed on this machine
        before ``--cache-to`` was given, or restored from another repository)."""
        remote = self._to
        if remote is None:
            return
        try:
            if not remote.has(record.key):
                remote.push(record, store)
        except (RegistryError, DamagedEntry, OSError) as error:
            self._remote_failed("to", error)

    def materialize(self, out: OutputFile, dest: Path) -> None:
        """Write a cached output into the build's scratch dir (DamagedEntry if it went bad)."""
        if self.store is None:
            msg = "the local cache was switched off during the build"
            raise DamagedEntry(msg)
        self.store.materialize(out, dest)

    def finish(self) -> None:
        """Keep the store within its size limit, after a build that added to it."""
        if self.saved and self.store is not None:
            from wasmforge.cache.maintenance import prune_if_over

            try:
                prune_if_over(self.store, self.settings.max_size)
            except OSError as error:
                self._warn(f"cache: pruning {self.directory} failed: {error}")

    def _local_failed(self, error: OSError) -> None:
        self.store = None
        reason = error.strerror or str(error)
        self._warn(f"cache: {self.directory}: {reason}; building without the local cache",
                   once="local")

    def _remote_failed(self, direction: Literal["from", "to"], error: Exception) -> None:
        remote = self._from if direction == "from" else self._to
        if remote is None:
            return
        message = getattr(error, "message", None) or str(error)
        if self.settings.required:
            what = "restoring from" if direction == "from" else "uploading to"
            msg = f"cache registry {remote.reference}: {what} it failed: {message}"
            raise RegistryError(msg, hint="drop --cache-required to build without it")
        if direction == "from":
            self._from = None
            self._warn(f"cache: cannot restore from {remote.reference}: {message}; building "
                       "locally", once=direction)
        else:
            self._to = None
            self.upload_failed = True
            self._warn(f"cache: cannot upload to {remote.reference}: {message}; results stay "
                       "local", once=direction)

    def _warn(self, message: str, once: str | None = None) -> None:
        with self._lock:
            if once is not None:
                if once in self._warned:
                    return
                self._warned.add(once)
        self._console.warn(message)


def _registry(reference: str, env: Mapping[str, str], insecure: bool) -> RegistryCache:
    # Imported only for a build that names a registry: it brings in requests.
    from wasmforge.cache.remote import RegistryCache

    return RegistryCache(reference, env, insecure=insecure)
