"""``wasmforge doctor``: is this machine ready to build, and if not, what to do.

Each check says ok, warn (works, but worth knowing: an image not built yet is built on first use)
or fail (a build would fail), with what to do. Inside a project its ``[toolchains]``, ``[cache]``
and package registries are looked at too; outside one, the shipped toolchains.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wasmforge.errors import ExitCode

Status = Literal["ok", "warn", "fail"]
# Below these, free space is worth a warning, or a failure.
LOW_SPACE = 2 * 1024**3
NO_SPACE = 200 * 1024**2
# How far the clock may be from the engine's before it is worth saying.
CLOCK_DRIFT_SECONDS = 300


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    code: ExitCode = ExitCode.USER_ERROR  # the exit code when this check fails

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def run_checks(project: Path, env: Mapping[str, str]) -> list[Check]:
    from wasmforge.config.load import CONFIG_FILE, load_config

    config_file = project / CONFIG_FILE if project.is_dir() else project
    config = load_config(config_file) if config_file.is_file() else None
    root = config_file.parent.resolve()
    checks: list[Check] = []
    client, engine = _engine()
    checks.append(engine)
    if client is not None:
        checks += _images(client, config, root)
        checks.append(_clock(client))
    checks += _space(root, config, env)
    checks.append(_cache(env, config))
    checks += _credentials(config, env)
    if client is not None:
        client.close()
    return checks


def _engine() -> tuple[Any, Check]:
    from wasmforge.engine import ENGINE_HINT, docker_client, engine_url
    from wasmforge.errors import EngineUnavailableError

    try:
        client = docker_client()
        version = client.version()
    except EngineUnavailableError as error:
        return None, Check("engine", "fail", error.message, ENGINE_HINT,
                           ExitCode.ENGINE_UNAVAILABLE)
    except Exception as error:  # noqa: BLE001 - anything the engine says is the finding
        return None, Check("engine", "fail", f"{engine_url()}: {error}", ENGINE_HINT,
                           ExitCode.ENGINE_UNAVAILABLE)
    return client, Check("engine", "ok", f"{engine_url()}: Docker {version.get('Version', '?')} "
                         f"(API {version.get('ApiVersion', '?')})")


def _images(client: Any, config: Any, root: Path) -> list[Check]:
    from wasmforge.kinds import IMAGE_KINDS
    from wasmforge.toolchains.images import default_lock, find_image, resolve_source, tag_for
    from wasmforge.toolchains.verify import verify_source

    checks = []
    lock = default_lock(client)
    for kind in IMAGE_KINDS:
        source = resolve_source(kind, config, root)
        name = f"toolchain {kind} ({source.toolchain_set})"
        reference = tag_for(source)
        if find_image(client, reference) is None:
            checks.append(Check(name, "warn", f"{reference} is not built yet (a build makes it "
                                "on first use, in about a minute)",
                                f"wasmforge toolchains build {kind}"))
            continue
        entry = lock.get(source.lock_name)
        failed = [r for r in verify_source(client, source, reference, entry) if not r.ok]
        if failed:
            checks.append(Check(name, "fail", f"{reference}: {failed[0].name}: {failed[0].detail}",
                                f"wasmforge toolchains build --rebuild {kind}",
                                ExitCode.TOOLCHAIN_FAILED))
        else:
            checks.append(Check(name, "ok", f"{reference}: present and verified"))
    return checks


def _clock(client: Any) -> Check:
    from datetime import UTC, datetime

    try:
        # RFC 3339 with nanoseconds ("...T19:05:12.123456789Z"): Python reads microseconds.
        stamp, _, fraction = str(client.info().get("SystemTime", "")).rstrip("Z").partition(".")
        theirs = datetime.fromisoformat(f"{stamp}.{fraction[:6] or '0'}").replace(
            tzinfo=UTC).timestamp()
    except (ValueError, TypeError, OSError) as error:
        return Check("clock", "warn", f"the engine's time is unreadable ({error})")
    drift = time.time() - theirs
    if time.gmtime().tm_year < 2024:
        return Check("clock", "fail", f"this machine says it is {time.strftime('%Y')}",
                     "set the clock (timestamps of builds and TLS depend on it)")
    if abs(drift) > CLOCK_DRIFT_SECONDS:
        return Check("clock", "warn", f"{abs(drift):.0f} s off the engine's clock",
                     "synchronise the clocks (NTP)")
    return Check("clock", "ok", f"within {abs(drift):.1f} s of the engine's")


def _space(root: Path, config: Any, env: Mapping[str, str]) -> list[Check]:
    from wasmforge.cache.location import default_cache_dir

    places = {"the cache": default_cache_dir(env)}
    if config is not None:
        places["the output dir"] = root / config.build.out_dir
    checks = []
    for what, path in places.items():
        existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
        free = shutil.disk_usage(existing).free
        detail = f"{free / 1024**3:.1f} GiB free for {what} ({path})"
        if free < NO_SPACE:
            checks.append(Check(f"space: {what}", "fail", detail, "free some space"))
        elif free < LOW_SPACE:
            checks.append(Check(f"space: {what}", "warn", detail, "builds of large projects may "
                                "run out; free some space"))
        else:
            checks.append(Check(f"space: {what}", "ok", detail))
    return checks


def _cache(env: Mapping[str, str], config: Any) -> Check:
    from wasmforge.cache.location import default_cache_dir
    from wasmforge.cache.maintenance import stats
    from wasmforge.cache.store import LocalStore
    from wasmforge.config.resolve import cache_max_size
    from wasmforge.console import human_size

    directory = default_cache_dir(env)
    limit = cache_max_size(config.cache, env) if config is not None else None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".doctor-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        return Check("cache", "warn", f"{directory}: not writable ({error.strerror}); builds "
                     "run without it", "set WASMFORGE_CACHE_DIR to a writable directory")
    found = stats(LocalStore(directory, warn=lambda _: None))
    detail = f"{directory}: {found.entries} results, {human_size(found.total_bytes)}"
    if limit is not None:
        detail += f" of {human_size(limit)}"
    return Check("cache", "ok", detail)


def _credentials(config: Any, env: Mapping[str, str]) -> list[Check]:
    from wasmforge.config.resolve import BuildFlags, resolve_cache
    from wasmforge.errors import RegistryError
    from wasmforge.oci.credentials import find_credentials
    from wasmforge.oci.reference import parse_reference

    if config is None:
        return []
    cache = resolve_cache(config, env, BuildFlags())
    references = [r for r in (cache.remote_from, cache.remote_to) if r]
    references += [t.package.image for t in config.targets.values()
                   if t.package is not None and t.package.image]
    checks = []
    for registry in sorted({parse_reference(r).registry for r in references}):
        try:
            found = find_credentials(registry, env)
        except RegistryError as error:
            checks.append(Check(f"credentials: {registry}", "fail", error.message,
                                "install the credential helper, or fix the Docker config",
                                ExitCode.REGISTRY_ERROR))
            continue
        if found is None:
            checks.append(Check(f"credentials: {registry}", "warn",
                                "none found: pushes will be anonymous",
                                "docker login, or WASMFORGE_REGISTRY_USERNAME/_PASSWORD"))
        else:
            checks.append(Check(f"credentials: {registry}", "ok",
                                f"{found.username} (from {found.source})"))
    return checks
