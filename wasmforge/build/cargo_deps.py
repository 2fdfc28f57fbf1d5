"""A Cargo package's dependencies, as the plan sees them: what its ``Cargo.lock`` asks for, whether
the toolchain's cargo can read it, and how a build finds the crates a fetch brought.

A package whose lock file names packages from a registry or a git repository gets them fetched
first (``wasmforge.build.fetch``: ``cargo vendor`` with the network on, into the dependency store);
its build then runs with the network off and the fetched crates in place of every source, through a
``--config`` file in its own dir (``DEPS_CONFIG``), written just before the build runs. A package
that needs nothing from outside (no dependencies, or only path ones) is built as it is.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wasmforge.errors import ConfigError

LOCK_FILE = "Cargo.lock"
# In the target's dir: the cargo config that points every source at the fetched crates.
DEPS_CONFIG = "cargo-deps.toml"

# The cargo release that first read each lock file version (versions 1 and 2 carry no number).
_LOCK_VERSION_SINCE: Mapping[int, tuple[int, int]] = {3: (1, 53), 4: (1, 78)}
# Before this release cargo reads sparse registries only as an unstable feature.
SPARSE_STABLE_SINCE = (1, 68)
_CARGO_VERSION = re.compile(r"\bcargo (\d+)\.(\d+)")


@dataclass(frozen=True)
class CargoDependencies:
    """What a Cargo build needs besides its package: declared in the plan, used when it runs."""

    package: str  # project-relative package dir
    lock: str  # project-relative Cargo.lock
    lock_version: int
    # The project's .cargo/config.toml files (registries, mirrors, source replacement).
    configs: tuple[str, ...]
    # The lock names registry or git packages: they are fetched before the build.
    fetch: bool


def read_lock(root: Path, lock: str, target: str) -> tuple[int, bool]:
    """The lock file's format version, and whether it names packages from outside the project."""
    path = root / lock
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        msg = f"targets.{target}: {path}: cannot read the lock file: {error}"
        raise ConfigError(msg) from None
    version = data.get("version", 1)
    if not isinstance(version, int):
        msg = f"targets.{target}: {path}: 'version' is not a number"
        raise ConfigError(msg)
    packages = data.get("package", [])
    remote = isinstance(packages, list) and any(
        isinstance(p, dict) and "source" in p for p in packages)
    return version, remote


def remote_dependencies(manifest: Mapping[str, object]) -> list[str]:
    """Dependencies of a Cargo.toml that come from a registry or git (not ``path`` ones)."""
    tables: list[object] = [manifest.get(name) for name in
                            ("dependencies", "build-dependencies", "dev-dependencies")]
    targets = manifest.get("target")
    if isinstance(targets, dict):
        for platform in targets.values():
            if isinstance(platform, dict):
                tables += [platform.get(name) for name in
                           ("dependencies", "build-dependencies", "dev-dependencies")]
    names = []
    for table in tables:
        if not isinstance(table, dict):
            continue
        for name, spec in table.items():
            # A path dependency is built from its path (its version only matters to publish).
            if not (isinstance(spec, dict) and "path" in spec and "git" not in spec):
                names.append(name)
    return sorted(set(names))


def cargo_version_of(text: str) -> tuple[int, int] | None:
    """``(major, minor)`` from what ``cargo --version`` prints (or a recipe's expectation of it)."""
    found = _CARGO_VERSION.search(text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def check_lock_version(
    deps: CargoDependencies, target: str, cargo: tuple[int, int] | None, where: str,
) -> None:
    """A ConfigError, with the ways out, when ``cargo`` (None: unknown) cannot read the lock."""
    needed = _LOCK_VERSION_SINCE.get(deps.lock_version)
    if cargo is None or (needed is not None and cargo >= needed):
        return
    if needed is None and deps.lock_version <= max(_LOCK_VERSION_SINCE):
        return
    since = f"cargo {needed[0]}.{needed[1]}" if needed else "a cargo newer than wasmforge knows"
    msg = (f"targets.{target}: {deps.lock} is lock file version {deps.lock_version}, which needs "
           f"{since} or later; {where} has cargo {cargo[0]}.{cargo[1]}")
    hint = (f"regenerate the lock with that cargo: wasmforge lock {target} (it resolves the "
            "dependencies again), or build with a newer cargo ([toolchains.rust] image or recipe)")
    raise ConfigError(msg, hint=hint)


def sparse_flags(cargo: tuple[int, int] | None) -> dict[str, str]:
    """What lets a cargo older than 1.68 read sparse registries (its unstable feature, opened as
    cargo's own documentation says); nothing for a cargo that reads them as they are."""
    if cargo is None or cargo >= SPARSE_STABLE_SINCE:
        return {}
    return {"RUSTC_BOOTSTRAP": "1", "CARGO_UNSTABLE_SPARSE_REGISTRY": "true"}


def vendored_sources(config_text: str, vendor_dir: str) -> dict[str, dict[str, str]]:
    """The ``[source]`` tables ``cargo vendor`` printed, with its vendor dir written as ``.``
    (the store entry's dir is only known when a build uses it)."""
    data = tomllib.loads(config_text)
    sources = data.get("source", {})
    result: dict[str, dict[str, str]] = {}
    for name, table in sources.items():
        entry = {key: str(value) for key, value in table.items()}
        if entry.get("directory", "").rstrip("/") == vendor_dir.rstrip("/"):
            entry["directory"] = "."
        result[name] = entry
    return result


def render_config(sources: Mapping[str, Mapping[str, str]], vendor_dir: str) -> str:
    """The cargo config that points the build at the fetched crates in ``vendor_dir``."""
    lines = ["# Written by wasmforge: the crates fetched for this build, in place of every source."]
    for name, table in sorted(sources.items()):
        lines.append(f"\n[source.{json.dumps(name)}]")
        for key, value in sorted(table.items()):
            if key == "directory" and value == ".":
                value = vendor_dir
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
