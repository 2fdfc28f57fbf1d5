"""The one place where defaults < wasmforge.toml < ``WASMFORGE_*`` environment < flags are merged.

The environment is passed in (never read from ``os.environ`` here) so that tests can give any.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from wasmforge.config.model import (
    DURATION_PATTERN,
    SIZE_PATTERN,
    CacheConfig,
    OptLevel,
    ProfileConfig,
    RunnerName,
    WasmforgeConfig,
)
from wasmforge.errors import ConfigError, UserError

ENV_PREFIX = "WASMFORGE_"
DEFAULT_CACHE_MAX_SIZE = 5 * 1024**3
DEFAULT_MEMORY = 8 * 1024**3
DEFAULT_PIDS = 4096
DEFAULT_STEP_TIMEOUT = 3600
_DURATION_PART = re.compile(r"([0-9]+)\s*([hms])")
_SIZE = re.compile(SIZE_PATTERN)
_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

# Built-in profiles. Release aims at size without giving up speed: -Os keeps loops fast while
# dropping most of what -O3 inlines; debug info and producers go, the name section stays so that
# traps still show function names (strip it per project with strip-names = true).
BUILTIN_PROFILES: Mapping[str, ProfileConfig] = {
    "debug": ProfileConfig(
        opt_level=0, debug_info=True, wasm_opt=False, wasm_opt_passes=[],
        strip_debug=False, strip_names=False, strip_producers=False, component=False,
    ),
    "release": ProfileConfig(
        opt_level="s", debug_info=False, wasm_opt=True, wasm_opt_passes=[],
        strip_debug=True, strip_names=False, strip_producers=True, component=False,
    ),
}


@dataclass(frozen=True, kw_only=True)
class Profile:
    """A fully resolved build profile: every setting known."""

    name: str
    opt_level: OptLevel
    debug_info: bool
    wasm_opt: bool
    wasm_opt_passes: tuple[str, ...]
    strip_debug: bool
    strip_names: bool
    strip_producers: bool
    # WASI targets become components (a target's own 'component' wins).
    component: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "opt-level": self.opt_level, "debug-info": self.debug_info,
            "wasm-opt": self.wasm_opt, "wasm-opt-passes": list(self.wasm_opt_passes),
            "strip-debug": self.strip_debug, "strip-names": self.strip_names,
            "strip-producers": self.strip_producers, "component": self.component,
        }


@dataclass(frozen=True, kw_only=True)
class BuildFlags:
    """What the command line said; ``None`` means 'not given'."""

    profile: str | None = None
    runner: str | None = None
    jobs: int | None = None
    out_dir: Path | None = None
    targets: tuple[str, ...] = ()
    keep_going: bool = False
    cache_from: str | None = None
    cache_to: str | None = None
    no_cache: bool = False
    cache_required: bool = False
    insecure: bool = False
    component: bool = False  # --component: the profile's 'component' for this build


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    """Where build results are looked up and kept (see docs/cache.md)."""

    directory: Path  # the local store
    read: bool = True  # False with --no-cache: build everything, still keep the results
    remote_from: str | None = None  # registry repository to restore from
    remote_to: str | None = None  # registry repository to upload to (None when read-only)
    max_size: int = DEFAULT_CACHE_MAX_SIZE
    required: bool = False  # a registry that fails is an error, not a warning
    insecure: bool = False  # plain HTTP to a registry on this machine


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one build container may use, and how long a step may run (see ``[limits]``)."""

    memory: int = DEFAULT_MEMORY  # bytes; 0: no limit
    pids: int = DEFAULT_PIDS  # 0: no limit
    cpus: float = 0.0  # 0: all of them
    step_timeout: int = DEFAULT_STEP_TIMEOUT  # seconds


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a build needs to know, after precedence is applied."""

    root: Path
    config: WasmforgeConfig
    profile: Profile
    runner: RunnerName
    jobs: int
    out_dir: Path
    targets: tuple[str, ...] = field(default=())
    keep_going: bool = False
    cache: CacheSettings = field(default_factory=lambda: CacheSettings(directory=Path()))
    limits: Limits = field(default_factory=Limits)


def resolve_profile(config: WasmforgeConfig, name: str) -> Profile:
    """Merge ``[profile.NAME]`` over what it inherits (a built-in of the same name, or ``inherits``)."""
    chain: list[ProfileConfig] = []
    seen: set[str] = set()
    current: str | None = name
    while current is not None:
        if current in seen:
            msg = f"profile.{name}: 'inherits' loops back to {current!r}"
            raise ConfigError(msg)
        seen.add(current)
        user = config.profile.get(current)
        builtin = BUILTIN_PROFILES.get(current)
        if user is None and builtin is None:
            known = sorted({*BUILTIN_PROFILES, *config.profile})
            msg = f"unknown profile {current!r} (known: {', '.join(known)})"
            raise ConfigError(msg)
        if user is not None and builtin is not None and user.inherits:
            msg = (f"profile.{current}.inherits: '{current}' is a built-in profile and does not "
                   "inherit; define a new profile with inherits instead")
            raise ConfigError(msg)
        if user is not None:
            chain.append(user)
        if builtin is not None:
            chain.append(builtin)
        parent = user.inherits if user is not None and user.inherits else None
        current = parent if parent is not None else (None if builtin else "debug")
    values: dict[str, Any] = {}
    for layer in reversed(chain):  # base first, so nearer layers win
        values.update({k: v for k, v in layer.model_dump().items() if v is not None})
    values.pop("inherits", None)
    values["wasm_opt_passes"] = tuple(values.get("wasm_opt_passes") or ())
    return Profile(name=name, **values)


def runner_choice(flag: str | None, env: Mapping[str, str], default: str) -> str:
    """``--runner``, else ``WASMFORGE_RUNNER``, else ``default`` (``[build] runner``)."""
    runner = flag or env.get(f"{ENV_PREFIX}RUNNER") or default
    if runner not in get_args(RunnerName):
        source = "--runner" if flag else f"{ENV_PREFIX}RUNNER"
        msg = f"{source}: unknown runner {runner!r} (expected auto, docker or local)"
        raise ConfigError(msg)
    return runner


def resolve_settings(
    root: Path, config: WasmforgeConfig, env: Mapping[str, str], flags: BuildFlags
) -> Settings:
    """Apply defaults < file < environment < flags for the build settings."""
    build = config.build
    profile_name = flags.profile or env.get(f"{ENV_PREFIX}PROFILE") or build.profile
    runner = runner_choice(flags.runner, env, build.runner)
    jobs = flags.jobs or _env_int(env, "JOBS") or build.jobs or os.cpu_count() or 1
    out_dir = flags.out_dir or Path(env.get(f"{ENV_PREFIX}OUT_DIR") or build.out_dir)
    unknown = [t for t in flags.targets if t not in config.targets]
    if unknown:  # a bad argument, not a bad file
        msg = f"--target: no target named {unknown[0]!r} (targets: {', '.join(config.targets)})"
        raise UserError(msg)
    for name in config.profile:  # every profile, used or not: a broken one is broken now
        resolve_profile(config, name)
    return Settings(
        root=root,
        config=config,
        profile=dataclasses.replace(resolve_profile(config, profile_name), component=True)
        if flags.component else resolve_profile(config, profile_name),
        runner=runner,  # type: ignore[arg-type]  # checked against RunnerName above
        jobs=jobs,
        out_dir=out_dir if out_dir.is_absolute() else root / out_dir,
        targets=flags.targets or tuple(config.targets),
        keep_going=flags.keep_going,
        cache=resolve_cache(config, env, flags),
        limits=resolve_limits(config, env),
    )


def resolve_limits(config: WasmforgeConfig, env: Mapping[str, str]) -> Limits:
    """``[limits]`` < ``WASMFORGE_STEP_TIMEOUT`` (which tests and CI jobs shorten)."""
    file = config.limits
    timeout = env.get(f"{ENV_PREFIX}STEP_TIMEOUT")
    return Limits(
        memory=DEFAULT_MEMORY if file.memory is None else parse_size(file.memory, "limits.memory"),
        pids=DEFAULT_PIDS if file.pids is None else file.pids,
        cpus=file.cpus or 0.0,
        step_timeout=parse_duration(timeout, f"{ENV_PREFIX}STEP_TIMEOUT") if timeout else (
            DEFAULT_STEP_TIMEOUT if file.step_timeout is None
            else parse_duration(file.step_timeout, "limits.step-timeout")),
    )


def parse_duration(value: str | int, where: str) -> int:
    """Seconds from ``30m``, ``90s``, ``1h30m`` or a number of seconds."""
    if isinstance(value, int) or value.strip().isdigit():
        seconds = int(value)
    else:
        if not re.match(DURATION_PATTERN, value):
            msg = f"{where}: {value!r} is not a duration (e.g. '30m', '90s', '1h30m')"
            raise ConfigError(msg)
        seconds = sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u]
                      for n, u in _DURATION_PART.findall(value))
    if seconds < 1:
        msg = f"{where}: {value!r} must be at least one second"
        raise ConfigError(msg)
    return seconds


def resolve_cache(config: WasmforgeConfig, env: Mapping[str, str], flags: BuildFlags) -> CacheSettings:
    """``[cache]`` < ``WASMFORGE_CACHE_*`` < ``--cache-*`` flags."""
    from wasmforge.cache.location import default_cache_dir

    file = config.cache
    remote_from = _repository(flags.cache_from, "--cache-from") \
        or _repository(env.get(f"{ENV_PREFIX}CACHE_FROM"), f"{ENV_PREFIX}CACHE_FROM") \
        or _repository(file.from_, "cache.from")
    remote_to = _repository(flags.cache_to, "--cache-to") \
        or _repository(env.get(f"{ENV_PREFIX}CACHE_TO"), f"{ENV_PREFIX}CACHE_TO") \
        or _repository(file.to, "cache.to")
    read_only = _env_bool(env, "CACHE_READ_ONLY")
    if read_only is None:
        read_only = file.read_only
    return CacheSettings(
        directory=default_cache_dir(env),
        read=not flags.no_cache,
        remote_from=remote_from,
        remote_to=None if read_only else remote_to,
        max_size=cache_max_size(file, env),
        required=flags.cache_required,
        insecure=flags.insecure,
    )


def cache_max_size(file: CacheConfig, env: Mapping[str, str]) -> int:
    """The local store's limit: ``WASMFORGE_CACHE_MAX_SIZE``, else ``[cache] max-size``, else the
    default."""
    size = env.get(f"{ENV_PREFIX}CACHE_MAX_SIZE")
    if size:
        return parse_size(size, f"{ENV_PREFIX}CACHE_MAX_SIZE")
    if file.max_size is not None:
        return parse_size(file.max_size, "cache.max-size")
    return DEFAULT_CACHE_MAX_SIZE


def parse_size(value: str | int, where: str) -> int:
    """Bytes from ``512MiB``, ``2 GB``, ``1.5GiB`` or a number of bytes."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if match is None:
        msg = f"{where}: {value!r} is not a size (e.g. '512MiB', '5GiB', '2GB')"
        raise ConfigError(msg)
    return int(float(match[1]) * _UNITS[match[2] or "B"])


def _repository(value: str | None, where: str) -> str | None:
    """A cache repository (``registry/name``, no tag: entries are tagged by their keys)."""
    if not value:
        return None
    from wasmforge.oci.reference import parse_reference

    try:
        reference = parse_reference(value, what=where)
    except UserError as error:
        raise ConfigError(error.message) from None
    if reference.tag or reference.digest:
        msg = f"{where}: {value!r}: name a repository without a tag or digest (each cache " \
              "entry is tagged by its key)"
        raise ConfigError(msg)
    return value


def _env_bool(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(f"{ENV_PREFIX}{name}")
    if raw is None:
        return None
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    msg = f"{ENV_PREFIX}{name}: expected 1/true/yes or 0/false/no, got {raw!r}"
    raise ConfigError(msg)


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(f"{ENV_PREFIX}{name}")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        msg = f"{ENV_PREFIX}{name}: expected a whole number, got {raw!r}"
        raise ConfigError(msg) from None
    if value < 1:
        msg = f"{ENV_PREFIX}{name}: must be at least 1, got {value}"
        raise ConfigError(msg)
    return value
