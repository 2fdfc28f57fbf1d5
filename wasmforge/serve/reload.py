"""``wasmforge serve --watch``: rebuild on every change, and serve what rebuilt.

The watch loop (``wasmforge.build.watch``) runs on a thread of its own while the server serves.
After each burst of changes it builds the served targets (the cache decides what actually runs);
then every route whose target's module changed gets a new handler, compiled before anything is
swapped (``WagiServer.reload_target``). A build that fails, or a module that does not load, leaves
the last good handlers serving; the compiler's messages appear in ``serve``'s own output. Web
pages need nothing: their files are replaced in place by the build and read per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from wasmforge.build.watch import rebuild_on_changes
from wasmforge.errors import UserError

if TYPE_CHECKING:
    from wasmforge.build.manifest import BuildManifest
    from wasmforge.console import Console
    from wasmforge.serve.server import WagiServer


def start_reloading(
    server: WagiServer, *, root: Path, out_dir: Path, profile: str,
    build: Callable[[], None], unchanged: Callable[[], bool], console: Console,
) -> threading.Event:
    """Watch ``root`` on a daemon thread, rebuilding with ``build`` and reloading what changed;
    set the returned event to stop watching."""
    stop = threading.Event()
    served = _served_modules(server, _manifest(out_dir, profile))

    def rebuild_and_reload() -> None:
        nonlocal served
        build()
        now = _served_modules(server, _manifest(out_dir, profile))
        for target, (module, digest) in now.items():
            if served.get(target, (None, None))[1] == digest:
                continue  # not rebuilt: its handler stays, compiled as it is
            try:
                server.reload_target(target, module)
            except UserError as failed:
                console.error(f"{target}: the rebuilt module cannot serve: {failed.message}",
                              hint="the previous one goes on serving")
                continue
            console.info(f"{target}: now serving the rebuilt {module.name}")
            served[target] = (module, digest)

    # The first build ran before the server started: this thread only rebuilds on changes.
    thread = threading.Thread(
        target=rebuild_on_changes, name="wasmforge-serve-watch", daemon=True,
        args=(root, rebuild_and_reload, console),
        kwargs={"excluded": (out_dir,), "stop": stop, "first": False, "unchanged": unchanged},
    )
    thread.start()
    return stop


def _manifest(out_dir: Path, profile: str) -> BuildManifest:
    from wasmforge.build.manifest import BuildManifest

    return BuildManifest.read(out_dir, profile)


def _served_modules(server: WagiServer, manifest: BuildManifest) -> dict[str, tuple[Path, str]]:
    """Each served handler target's module and its sha256, as the manifest says."""
    found = {}
    for target in {route.target for route in server.routes}:
        entry = manifest.targets.get(target)
        if entry is None:
            continue
        digest = next((f.sha256 for f in entry.files if f.name == entry.main_module), "")
        found[target] = (entry.main_path(manifest.directory), digest)
    return found
