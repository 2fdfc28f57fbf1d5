"""Fetching a Cargo package's crates into the dependency store, once per lock file.

The fetch runs ``cargo vendor --locked`` in the package's toolchain with the network on (the only
step that has it), reading registries, mirrors and source replacement from the project's own
``.cargo/config.toml`` (``--respect-source-config``), with registry credentials and proxies from
the environment. It works in a staging dir with a ``CARGO_HOME`` of its own (not the image's, which
sends crates.io to the crates baked into the image) and leaves behind only the crates and the
``[source]`` tables that stand for them; the store entry is keyed by the lock file and the cargo
configs, so a changed lock fetches again and an unchanged one never does. A build that the cache
answers needs no fetch at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wasmforge.build.cargo_deps import (
    LOCK_FILE,
    CargoDependencies,
    cargo_version_of,
    check_lock_version,
    sparse_flags,
    vendored_sources,
)
from wasmforge.cache.deps import VENDOR_DIR, DependencyStore
from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import Settings
from wasmforge.console import Console
from wasmforge.errors import ToolchainError, ToolNotFoundError, UserError
from wasmforge.fsutil import atomic_write_bytes
from wasmforge.runner.base import Runner, Step
from wasmforge.runner.local import LocalRunner, find_program

# Bump when what a fetch leaves in the store changes.
FETCH_VERSION = 1
_CARGO_HOME = "cargo-home"
_PRINTED_CONFIG = "vendor-config.toml"
_VENDOR_ADVICE = "add this to your .cargo/config.toml for this project:"
# The environment a fetch takes from the user's: registry tokens, cargo's network settings, proxies.
_PASSED_PREFIXES = ("CARGO_REGISTRIES_", "CARGO_REGISTRY_", "CARGO_HTTP_", "CARGO_NET_")
_PASSED_NAMES = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                           "no_proxy"})


@dataclass(frozen=True)
class Fetched:
    entry: Path  # the store entry
    crates: int
    ran: bool  # False: the store had it


def fetch_key(root: Path, deps: CargoDependencies) -> str:
    """The store key: the lock file's and the cargo configs' contents."""
    digest = hashlib.sha256()
    parts = {"version": FETCH_VERSION,
             "lock": hashlib.sha256((root / deps.lock).read_bytes()).hexdigest(),
             "configs": {c: hashlib.sha256((root / c).read_bytes()).hexdigest()
                         for c in deps.configs}}
    digest.update(json.dumps(parts, sort_keys=True).encode())
    return digest.hexdigest()


def passed_environment(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k in _PASSED_NAMES or k.startswith(_PASSED_PREFIXES)}


class Fetcher:
    """Fetches for one build (or ``wasmforge fetch``): one fetch per key even when several
    targets share a lock file."""

    def __init__(
        self, root: Path, config: WasmforgeConfig, runner: Runner, store: DependencyStore,
        console: Console,
    ) -> None:
        self.root = root
        self.config = config
        self.runner = runner
        self.store = store
        self.console = console
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._cargo: tuple[tuple[int, int] | None, str] | None = None

    def check(self, target: str, deps: CargoDependencies) -> None:
        """Stop before cargo runs when it cannot read the lock file."""
        version, where = self.cargo_version()
        check_lock_version(deps, target, version, where)

    def ensure(self, target: str, deps: CargoDependencies, toolchain: str) -> Fetched:
        key = fetch_key(self.root, deps)
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self.store.entry(key)
            if entry is not None:
                return Fetched(entry, _count(entry), ran=False)
            return self._fetch(target, deps, toolchain, key)

    def cargo_version(self) -> tuple[tuple[int, int] | None, str]:
        """The cargo a build runs, and how to name it: the shipped recipe's (from its verify
        expectations), the host's for the local runner; None for an image of the user's own."""
        if self._cargo is None:
            self._cargo = self._find_cargo_version()
        return self._cargo

    def _find_cargo_version(self) -> tuple[tuple[int, int] | None, str]:
        if isinstance(self.runner, LocalRunner):
            try:
                done = subprocess.run([find_program("cargo"), "--version"], capture_output=True,
                                      text=True, timeout=60, check=False,
                                      stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired, ToolNotFoundError):
                return None, "this machine"
            return cargo_version_of(done.stdout), "this machine"
        from wasmforge.toolchains.images import resolve_source

        source = resolve_source("rust", self.config, self.root)
        if not source.judge_versions:
            return None, "the rust toolchain image"
        expected = " ".join(check.expect for check in source.checks)
        return cargo_version_of(expected), "the rust toolchain image"

    def _fetch(self, target: str, deps: CargoDependencies, toolchain: str, key: str) -> Fetched:
        self.console.info(f"[{target}] fetching the crates {deps.lock} names")
        cargo, _ = self.cargo_version()
        with self.store.staging() as staged:
            layout = self.runner.fetch_layout(staged)
            work = layout.out_base
            vendor = f"{work}/{VENDOR_DIR}"
            # cargo vendor prints the [source] tables to use on stdout; its progress on stderr.
            script = 'cargo vendor --locked --respect-source-config --versioned-dirs "$1" > "$2"'
            step = Step(
                description="fetch the crates (cargo vendor)",
                argv=("sh", "-c", script, "vendor", vendor, f"{work}/{_PRINTED_CONFIG}"),
                cwd=layout.in_src(deps.package),
                env=tuple(sorted({"CARGO_HOME": f"{work}/{_CARGO_HOME}",
                                  **sparse_flags(cargo)}.items())),
            )

            def sink(line: str) -> None:
                # cargo vendor tells the user to edit their config: wasmforge does it for them.
                if not line.endswith((_VENDOR_ADVICE, "] ")):
                    self.console.info(line)

            try:
                self.runner.run_fetch(step, target=target, toolchain=toolchain, workdir=staged,
                                      env=passed_environment(os.environ), sink=sink)
            except ToolchainError as failed:
                msg = f"{failed.message}: the crates {deps.lock} names could not be fetched"
                raise ToolchainError(
                    msg, hint="check the registry named in .cargo/config.toml (or crates.io) is "
                         "reachable, and the lock file is up to date (cargo's lines above say "
                         "which); `wasmforge fetch` retries the fetch alone") from None
            sources = vendored_sources(
                (staged / _PRINTED_CONFIG).read_text("utf-8"), vendor)
            shutil.rmtree(staged / _CARGO_HOME, ignore_errors=True)
            (staged / _PRINTED_CONFIG).unlink()
            entry = self.store.commit(staged, key, sources)
        return Fetched(entry, _count(entry), ran=True)


def _count(entry: Path) -> int:
    vendor = entry / VENDOR_DIR
    return sum(1 for _ in vendor.iterdir()) if vendor.is_dir() else 0


def generate_lock(
    root: Path, config: WasmforgeConfig, settings: Settings, target: str, runner: Runner,
    console: Console,
) -> Path:
    """Write ``Cargo.lock`` of the Cargo target ``target``, resolved by the toolchain's cargo
    (network on, the project's registries) in a copy of the project; the one there is replaced
    whole, and only once the new one is complete."""
    from wasmforge.build.rust import copy_project_argv
    from wasmforge.build.sources import project_dir
    from wasmforge.config.model import RustTarget
    from wasmforge.kinds import toolchain_of

    spec = config.targets.get(target)
    if not isinstance(spec, RustTarget) or spec.source is not None:
        msg = f"target {target!r} is not a Cargo package (kind = \"rust\" with a 'path')"
        raise UserError(msg)
    package = project_dir(root, target, "path", spec.path).removeprefix("./") or "."
    fetcher = Fetcher(root, config, runner, DependencyStore(settings.cache.directory), console)
    cargo, _ = fetcher.cargo_version()
    console.info(f"[{target}] resolving the dependencies of {package}/Cargo.toml")
    with fetcher.store.staging() as staged:
        layout = runner.fetch_layout(staged)
        copy = f"{layout.out_base}/project"
        inside = settings.out_dir.is_relative_to(root) and settings.out_dir != root
        copy_argv = copy_project_argv(
            layout.src, copy, package,
            settings.out_dir.relative_to(root).as_posix() if inside else None)
        script = copy_argv[2] + ' && cd "$dst/$WASMFORGE_PACKAGE" && cargo generate-lockfile'
        step = Step(
            description="write Cargo.lock (cargo generate-lockfile)",
            argv=("sh", "-c", script, *copy_argv[3:]), cwd=layout.src,
            env=tuple(sorted({"CARGO_HOME": f"{layout.out_base}/{_CARGO_HOME}",
                              "WASMFORGE_PACKAGE": package, **sparse_flags(cargo)}.items())),
        )
        runner.run_fetch(step, target=target, toolchain=toolchain_of("rust"), workdir=staged,
                         env=passed_environment(os.environ), sink=console.info)
        written = root / package / LOCK_FILE
        atomic_write_bytes(written, (staged / "project" / package / LOCK_FILE).read_bytes())
    return written
