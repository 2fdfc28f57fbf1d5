"""Precedence: defaults < wasmforge.toml < WASMFORGE_* environment < flags; profiles inherit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wasmforge.config.load import load_config
from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import BuildFlags, resolve_profile, resolve_settings
from wasmforge.errors import ConfigError, UserError

BASE = '[project]\nname = "x"\n\n[targets.a]\nkind = "wat"\nsource = "a.wat"\n'


def config_from(tmp_path: Path, extra: str = "") -> WasmforgeConfig:
    path = tmp_path / "wasmforge.toml"
    path.write_text(BASE + extra)
    return load_config(path)


def test_defaults(tmp_path: Path) -> None:
    settings = resolve_settings(tmp_path, config_from(tmp_path), {}, BuildFlags())
    assert settings.profile.name == "debug"
    assert settings.runner == "auto"
    assert settings.jobs == (os.cpu_count() or 1)  # actions are mostly waiting on tools
    assert settings.out_dir == tmp_path / "dist"
    assert settings.targets == ("a",)


def test_file_overrides_defaults(tmp_path: Path) -> None:
    config = config_from(tmp_path, '[build]\nprofile = "release"\nrunner = "local"\njobs = 3\n')
    settings = resolve_settings(tmp_path, config, {}, BuildFlags())
    assert (settings.profile.name, settings.runner, settings.jobs) == ("release", "local", 3)


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = config_from(tmp_path, '[build]\nprofile = "release"\njobs = 3\nout-dir = "o"\n')
    env = {"WASMFORGE_PROFILE": "debug", "WASMFORGE_JOBS": "2", "WASMFORGE_OUT_DIR": "/tmp/x"}
    settings = resolve_settings(tmp_path, config, env, BuildFlags())
    assert (settings.profile.name, settings.jobs, settings.out_dir) == ("debug", 2, Path("/tmp/x"))


def test_flags_override_environment(tmp_path: Path) -> None:
    env = {"WASMFORGE_PROFILE": "debug", "WASMFORGE_RUNNER": "docker"}
    flags = BuildFlags(profile="release", runner="local", jobs=4, targets=("a",))
    settings = resolve_settings(tmp_path, config_from(tmp_path), env, flags)
    assert (settings.profile.name, settings.runner, settings.jobs) == ("release", "local", 4)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"WASMFORGE_JOBS": "many"}, "WASMFORGE_JOBS: expected a whole number"),
        ({"WASMFORGE_JOBS": "0"}, "WASMFORGE_JOBS: must be at least 1"),
        ({"WASMFORGE_RUNNER": "podman"}, "WASMFORGE_RUNNER: unknown runner 'podman'"),
        ({"WASMFORGE_PROFILE": "fast"}, "unknown profile 'fast'"),
    ],
)
def test_bad_environment_is_named(tmp_path: Path, env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        resolve_settings(tmp_path, config_from(tmp_path), env, BuildFlags())


def test_unknown_target_flag(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--target: no target named 'b'"):
        resolve_settings(tmp_path, config_from(tmp_path), {}, BuildFlags(targets=("b",)))


def test_a_broken_profile_is_an_error_even_when_unused(tmp_path: Path) -> None:
    config = config_from(tmp_path, '[profile.broken]\ninherits = "nowhere"\n')
    with pytest.raises(ConfigError, match="unknown profile 'nowhere'"):
        resolve_settings(tmp_path, config, {}, BuildFlags(profile="debug"))


def test_user_profile_inherits_release(tmp_path: Path) -> None:
    config = config_from(tmp_path, '[profile.small]\ninherits = "release"\nopt-level = "z"\n')
    small = resolve_profile(config, "small")
    assert small.opt_level == "z"
    assert small.wasm_opt is True
    assert small.strip_debug is True


def test_user_overrides_builtin_release_field_by_field(tmp_path: Path) -> None:
    config = config_from(tmp_path, "[profile.release]\nstrip-names = true\n")
    release = resolve_profile(config, "release")
    assert release.strip_names is True
    assert release.wasm_opt is True


def test_profile_without_inherits_starts_from_debug(tmp_path: Path) -> None:
    config = config_from(tmp_path, "[profile.custom]\nwasm-opt = true\n")
    custom = resolve_profile(config, "custom")
    assert custom.wasm_opt is True
    assert custom.opt_level == 0


def test_inheritance_loop_is_an_error(tmp_path: Path) -> None:
    config = config_from(
        tmp_path, '[profile.a]\ninherits = "b"\n[profile.b]\ninherits = "a"\n'
    )
    with pytest.raises(ConfigError, match="loops back"):
        resolve_profile(config, "a")


def test_builtin_profile_may_not_inherit(tmp_path: Path) -> None:
    config = config_from(tmp_path, '[profile.release]\ninherits = "debug"\n')
    with pytest.raises(ConfigError, match=r"profile\.release\.inherits: 'release' is a built-in"):
        resolve_profile(config, "release")
