"""Watching a project for changes: ``wasmforge build --watch`` and ``wasmforge serve --watch``.

Polling, with the standard library: every ``interval`` the project tree is listed and each file's
(mtime, size) compared with the last listing. Polling needs no OS-specific notifier, sees every
editor's way of saving (write in place, rename over, delete and create), and costs little on a
project's source tree (stat is a few µs a file). Left out: the output dir, Cargo's ``target/``
dirs, dot-dirs (``.git``, editors' swap dirs) and ``node_modules``; nothing a build reads is in
them.

A burst of changes (a save that writes several files, a ``git checkout``) is one rebuild: after the
first change the watcher waits until the tree has been still for ``debounce`` seconds. Which targets
then rebuild is the build cache's decision: those whose inputs changed run, the others are hits.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from wasmforge.errors import WasmforgeError

if TYPE_CHECKING:
    from wasmforge.console import Console

# (mtime in ns, size) of every watched file, by project-relative path.
TreeState = dict[str, tuple[int, int]]

POLL_SECONDS = 0.25
DEBOUNCE_SECONDS = 0.3
# A tree that never settles (a log written into the project) still gets its build this soon.
LONGEST_BURST_SECONDS = 2.0
_SKIPPED_DIRS = frozenset({"target", "node_modules", "__pycache__"})


def tree_state(root: Path, excluded: tuple[Path, ...] = ()) -> TreeState:
    """What the watched files of ``root`` look like now."""
    state: TreeState = {}
    skipped = {p.resolve() for p in excluded}
    for directory, names in _walk(root, skipped):
        for name in names:
            path = Path(directory, name)
            try:
                info = path.stat()
            except OSError:
                continue  # removed between the listing and the stat: the next poll sees it
            state[path.relative_to(root).as_posix()] = (info.st_mtime_ns, info.st_size)
    return state


def _walk(root: Path, skipped: set[Path]) -> Iterator[tuple[str, list[str]]]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS
                   and Path(directory, d).resolve() not in skipped]
        yield directory, files


def changed_paths(before: TreeState, after: TreeState) -> list[str]:
    """Files added, removed or modified between two states, sorted."""
    return sorted(path for path in before.keys() | after.keys()
                  if before.get(path) != after.get(path))


def watch(
    root: Path, on_change: Callable[[list[str]], None], *, stop: threading.Event,
    excluded: tuple[Path, ...] = (), interval: float = POLL_SECONDS,
    debounce: float = DEBOUNCE_SECONDS,
) -> None:
    """Call ``on_change(paths)`` after each settled burst of changes below ``root``, until
    ``stop`` is set. ``on_change`` runs on this thread: changes made while it runs are seen by
    the next poll (against the state from before it ran), so none is lost."""
    state = tree_state(root, excluded)
    while not stop.wait(interval):
        current = tree_state(root, excluded)
        if current == state:
            continue
        # Wait for the burst to end: the tree unchanged for a whole debounce period (or the
        # longest burst over: a file written all the time must not hold the build back).
        burst_ends = time.monotonic() + LONGEST_BURST_SECONDS
        while not stop.wait(debounce):
            settled = tree_state(root, excluded)
            if settled == current or time.monotonic() > burst_ends:
                current = settled
                break
            current = settled
        if stop.is_set():
            return
        changed = changed_paths(state, current)
        state = current
        on_change(changed)


def rebuild_on_changes(
    root: Path, build: Callable[[], None], console: Console, *, excluded: tuple[Path, ...] = (),
    stop: threading.Event | None = None, first: bool = True,
    unchanged: Callable[[], bool] | None = None,
) -> None:
    """Build now (unless not ``first``), then after each settled burst of changes, until
    ``stop`` (or Ctrl-C); not when ``unchanged()`` says nothing the last build read changed. A
    failed build is reported and the watch goes on: the next save may fix it."""

    def attempt() -> None:
        try:
            build()
        except WasmforgeError as failed:
            console.error(failed.message, hint=failed.hint)

    def changed(paths: list[str]) -> None:
        if unchanged is not None and unchanged():
            console.debug(f"changed, but not read by the build: {', '.join(paths[:5])}")
            return
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        console.info(f"changed: {shown}; building")
        attempt()
        console.info("watching for changes (Ctrl-C to stop)")

    if first:
        attempt()
    console.info("watching for changes (Ctrl-C to stop)")
    watch(root, changed, stop=stop or threading.Event(), excluded=excluded)
