"""``[cache]`` < ``WASMFORGE_CACHE_*`` < ``--cache-*`` flags: registries without tags, read-only
drops uploads, sizes in bytes or with units; and the job count's default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import (
    DEFAULT_CACHE_MAX_SIZE,
    BuildFlags,
    CacheSettings,
    parse_size,
    resolve_cache,
    resolve_settings,
)
from wasmforge.errors import ConfigError

FILE_REPO = "ghcr.io/acme/file-cache"
ENV_REPO = "registry.example.com/team/env-cache"
FLAG_REPO = "localhost:5000/flag-cache"


def config(cache: dict[str, Any] | None = None) -> WasmforgeConfig:
    document: dict[str, Any] = {"project": {"name": "p"},
                                "targets": {"t": {"kind": "wat", "source": "t.wat"}}}
    if cache is not None:
        document["cache"] = cache
    return WasmforgeConfig.model_validate(document)


def resolve(cache: dict[str, Any] | None = None, env: dict[str, str] | None = None,
            **flags: Any) -> CacheSettings:
    return resolve_cache(config(cache), env or {}, BuildFlags(**flags))


def test_defaults() -> None:
    settings = resolve(env={"WASMFORGE_CACHE_DIR": "/cache"})
    assert settings == CacheSettings(directory=Path("/cache"))
    assert settings.read is True
    assert (settings.remote_from, settings.remote_to) == (None, None)
    assert settings.max_size == DEFAULT_CACHE_MAX_SIZE == 5 * 1024**3
    assert (settings.required, settings.insecure) == (False, False)


def test_directory_follows_the_environment() -> None:
    assert resolve(env={"XDG_CACHE_HOME": "/xdg"}).directory == Path(
        "/xdg/wasmforge/build-cache")


def test_file_names_the_registries() -> None:
    settings = resolve({"from": FILE_REPO, "to": FILE_REPO})
    assert (settings.remote_from, settings.remote_to) == (FILE_REPO, FILE_REPO)


def test_environment_wins_over_the_file() -> None:
    env = {"WASMFORGE_CACHE_FROM": ENV_REPO, "WASMFORGE_CACHE_TO": ENV_REPO}
    settings = resolve({"from": FILE_REPO, "to": FILE_REPO}, env)
    assert (settings.remote_from, settings.remote_to) == (ENV_REPO, ENV_REPO)


def test_flags_win_over_the_environment() -> None:
    env = {"WASMFORGE_CACHE_FROM": ENV_REPO, "WASMFORGE_CACHE_TO": ENV_REPO}
    settings = resolve({"from": FILE_REPO, "to": FILE_REPO}, env, cache_from=FLAG_REPO,
                       cache_to=FLAG_REPO)
    assert (settings.remote_from, settings.remote_to) == (FLAG_REPO, FLAG_REPO)


def test_each_direction_is_resolved_on_its_own() -> None:
    settings = resolve({"to": FILE_REPO}, {"WASMFORGE_CACHE_FROM": ENV_REPO})
    assert (settings.remote_from, settings.remote_to) == (ENV_REPO, FILE_REPO)
    settings = resolve({"from": FILE_REPO}, cache_to=FLAG_REPO)
    assert (settings.remote_from, settings.remote_to) == (FILE_REPO, FLAG_REPO)


def test_an_empty_environment_variable_is_not_set() -> None:
    settings = resolve({"from": FILE_REPO}, {"WASMFORGE_CACHE_FROM": ""})
    assert settings.remote_from == FILE_REPO


def test_read_only_in_the_file_drops_uploads_but_keeps_restores() -> None:
    settings = resolve({"from": FILE_REPO, "to": FILE_REPO, "read-only": True})
    assert (settings.remote_from, settings.remote_to) == (FILE_REPO, None)


def test_read_only_drops_uploads_named_by_a_flag_too() -> None:
    settings = resolve({"read-only": True}, cache_from=FLAG_REPO, cache_to=FLAG_REPO)
    assert (settings.remote_from, settings.remote_to) == (FLAG_REPO, None)


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE", " 1 "])
def test_read_only_from_the_environment(value: str) -> None:
    settings = resolve({"to": FILE_REPO}, {"WASMFORGE_CACHE_READ_ONLY": value})
    assert settings.remote_to is None


@pytest.mark.parametrize("value", ["0", "false", "no", "off", ""])
def test_environment_can_switch_read_only_off(value: str) -> None:
    settings = resolve({"to": FILE_REPO, "read-only": True}, {"WASMFORGE_CACHE_READ_ONLY": value})
    assert settings.remote_to == FILE_REPO


def test_bad_read_only_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="WASMFORGE_CACHE_READ_ONLY"):
        resolve(env={"WASMFORGE_CACHE_READ_ONLY": "maybe"})


@pytest.mark.parametrize(
    ("cache", "env", "flags", "where"),
    [
        ({"from": "ghcr.io/acme/cache:latest"}, {}, {}, "cache.from"),
        ({"to": "ghcr.io/acme/cache:v1"}, {}, {}, "cache.to"),
        ({}, {"WASMFORGE_CACHE_FROM": "ghcr.io/acme/cache:main"}, {}, "WASMFORGE_CACHE_FROM"),
        ({}, {"WASMFORGE_CACHE_TO": "ghcr.io/acme/cache@sha256:" + "a" * 64}, {},
         "WASMFORGE_CACHE_TO"),
        ({}, {}, {"cache_from": "localhost:5000/c:tag"}, "--cache-from"),
        ({}, {}, {"cache_to": "ghcr.io/acme/cache:latest"}, "--cache-to"),
    ],
)
def test_a_repository_with_a_tag_or_digest_is_a_config_error(
    cache: dict[str, Any], env: dict[str, str], flags: dict[str, Any], where: str
) -> None:
    with pytest.raises(ConfigError, match=rf"{where}: .*without a tag or digest"):
        resolve(cache, env, **flags)


@pytest.mark.parametrize(
    ("cache", "flags", "where"),
    [
        ({"from": "GHCR.io/Acme/Cache"}, {}, "cache.from"),
        ({}, {"cache_to": "ghcr.io/acme//cache"}, "--cache-to"),
        ({}, {"cache_from": " ghcr.io/acme/cache"}, "--cache-from"),
    ],
)
def test_a_bad_repository_name_is_a_config_error_naming_its_source(
    cache: dict[str, Any], flags: dict[str, Any], where: str
) -> None:
    with pytest.raises(ConfigError, match=where):
        resolve(cache, **flags)


def test_a_tagged_file_value_is_harmless_when_the_environment_overrides_it() -> None:
    settings = resolve({"from": "ghcr.io/acme/cache:latest"}, {"WASMFORGE_CACHE_FROM": ENV_REPO})
    assert settings.remote_from == ENV_REPO


def test_no_cache_still_keeps_results_and_other_flags_pass_through() -> None:
    settings = resolve({"to": FILE_REPO}, no_cache=True, cache_required=True, insecure=True)
    assert settings.read is False
    assert settings.remote_to == FILE_REPO  # fresh results are still kept and uploaded
    assert (settings.required, settings.insecure) == (True, True)


# Sizes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512MiB", 512 * 1024**2),
        ("2GB", 2_000_000_000),
        ("2 GB", 2_000_000_000),
        ("1.5GiB", 1024**3 + 512 * 1024**2),
        ("5GiB", 5 * 1024**3),
        ("1TiB", 1024**4),
        ("1TB", 10**12),
        ("64KiB", 65536),
        ("64KB", 64000),
        ("10MB", 10_000_000),
        ("100B", 100),
        ("4096", 4096),
        (" 7 ", 7),
        ("0", 0),
        (1024, 1024),
        (0, 0),
    ],
)
def test_parse_size(value: str | int, size: int) -> None:
    assert parse_size(value, "x") == size


@pytest.mark.parametrize("value", ["", "lots", "5XB", "-1", "1,5GiB", "GiB", "1.GiB", "5 G", "1e9"])
def test_bad_sizes_are_config_errors_naming_where(value: str) -> None:
    with pytest.raises(ConfigError, match=r"where: .* is not a size"):
        parse_size(value, "where")


def test_max_size_from_the_file() -> None:
    assert resolve({"max-size": "512MiB"}).max_size == 512 * 1024**2
    assert resolve({"max-size": 1024}).max_size == 1024


def test_max_size_environment_wins_over_the_file() -> None:
    settings = resolve({"max-size": "512MiB"}, {"WASMFORGE_CACHE_MAX_SIZE": "2GB"})
    assert settings.max_size == 2_000_000_000


def test_empty_max_size_environment_falls_back_to_the_file() -> None:
    assert resolve({"max-size": "1GiB"}, {"WASMFORGE_CACHE_MAX_SIZE": ""}).max_size == 1024**3


def test_bad_max_size_in_the_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="WASMFORGE_CACHE_MAX_SIZE: 'huge' is not a size"):
        resolve(env={"WASMFORGE_CACHE_MAX_SIZE": "huge"})


@pytest.mark.parametrize("value", ["huge", "5 XB", -1, True])
def test_bad_max_size_in_the_file_is_refused_when_loading(value: object) -> None:
    with pytest.raises(ValidationError):
        config({"max-size": value})


def test_unknown_cache_key_is_refused() -> None:
    with pytest.raises(ValidationError):
        config({"form": FILE_REPO})


def test_cache_table_reaches_the_build_settings(tmp_path: Path) -> None:
    settings = resolve_settings(tmp_path, config({"from": FILE_REPO, "max-size": "1GiB"}),
                                {"WASMFORGE_CACHE_DIR": str(tmp_path / "c")},
                                BuildFlags(no_cache=True))
    assert settings.cache == CacheSettings(directory=tmp_path / "c", read=False,
                                           remote_from=FILE_REPO, max_size=1024**3)


# Jobs ---------------------------------------------------------------------------------------------


def test_jobs_default_to_the_number_of_cpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert resolve_settings(tmp_path, config(), {}, BuildFlags()).jobs == 7


def test_jobs_default_to_one_when_the_cpu_count_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert resolve_settings(tmp_path, config(), {}, BuildFlags()).jobs == 1


def test_jobs_setting_wins_over_the_cpu_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    cfg = WasmforgeConfig.model_validate(
        {"project": {"name": "p"}, "build": {"jobs": 3},
         "targets": {"t": {"kind": "wat", "source": "t.wat"}}})
    assert resolve_settings(tmp_path, cfg, {}, BuildFlags()).jobs == 3
    assert resolve_settings(tmp_path, cfg, {"WASMFORGE_JOBS": "5"}, BuildFlags()).jobs == 5
    assert resolve_settings(tmp_path, cfg, {"WASMFORGE_JOBS": "5"}, BuildFlags(jobs=2)).jobs == 2
