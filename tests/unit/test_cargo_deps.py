"""Cargo dependencies as the plan sees them: the lock file, the fetch it asks for, the lock
versions a cargo reads, and the config that points a build at the fetched crates."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.unit.test_plan import CARGO_TOML, _files, _only, _plan
from wasmforge.build.cargo_deps import (
    DEPS_CONFIG,
    CargoDependencies,
    cargo_version_of,
    check_lock_version,
    read_lock,
    remote_dependencies,
    render_config,
    sparse_flags,
    vendored_sources,
)
from wasmforge.build.fetch import fetch_key, passed_environment
from wasmforge.cache.deps import DependencyStore
from wasmforge.errors import ConfigError

REMOTE_LOCK = """version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["itoa"]

[[package]]
name = "itoa"
version = "1.0.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "00"
"""
LOCAL_LOCK = 'version = 3\n\n[[package]]\nname = "app"\nversion = "0.1.0"\n'


def _deps(version: int = 3, *, fetch: bool = True) -> CargoDependencies:
    return CargoDependencies(package=".", lock="Cargo.lock", lock_version=version, configs=(),
                             fetch=fetch)


def test_a_lock_naming_registry_crates_fetches_them_first(tmp_path: Path) -> None:
    _files(tmp_path, "app/Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "app/Cargo.lock", text=REMOTE_LOCK)
    _files(tmp_path, ".cargo/config.toml", text="[source.crates-io]\n")
    target = _only(_plan(tmp_path, '[targets.app]\nkind = "rust"\npath = "app"\n'))
    build = target.action("build")
    assert build.cargo == CargoDependencies(
        package="app", lock="app/Cargo.lock", lock_version=3, configs=(".cargo/config.toml",),
        fetch=True)
    (step,) = build.steps
    assert step.argv[:6] == ("cargo", "build", "--offline", "--locked", "--config",
                             f"/out/app/{DEPS_CONFIG}")
    # the image's own cargo config does not get a say on sources
    assert dict(step.env)["CARGO_HOME"] == "/out/app/.home/cargo"


def test_a_lock_with_only_path_packages_fetches_nothing(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "Cargo.lock", text=LOCAL_LOCK)
    build = _only(_plan(tmp_path, '[targets.app]\nkind = "rust"\n')).action("build")
    assert build.cargo is not None
    assert not build.cargo.fetch
    assert "--config" not in build.steps[0].argv
    assert "CARGO_HOME" not in dict(build.steps[0].env)


def test_registry_dependencies_without_a_lock_file_are_a_config_error(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML + '\n[dependencies]\nitoa = "1"\n')
    with pytest.raises(ConfigError, match=r"Cargo.lock is missing, and the package depends on "
                                          r"itoa") as raised:
        _plan(tmp_path, '[targets.app]\nkind = "rust"\n')
    assert raised.value.hint == "make one with: wasmforge lock app (and commit it)"


def test_remote_dependencies_are_those_without_a_path() -> None:
    manifest = tomllib.loads("""
[dependencies]
a = "1"
b = { path = "../b" }
c = { path = "../c", version = "1" }
d = { git = "https://example.invalid/d", path = "x" }
[build-dependencies]
e = { version = "1" }
[target.'cfg(unix)'.dependencies]
f = "2"
""")
    assert remote_dependencies(manifest) == ["a", "d", "e", "f"]


def test_read_lock_version_and_sources(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.lock", text=REMOTE_LOCK)
    assert read_lock(tmp_path, "Cargo.lock", "app") == (3, True)
    _files(tmp_path, "Cargo.lock", text='[[package]]\nname = "app"\nversion = "0.1.0"\n')
    assert read_lock(tmp_path, "Cargo.lock", "app") == (1, False)  # versions 1-2: no number
    _files(tmp_path, "Cargo.lock", text="version = [\n")
    with pytest.raises(ConfigError, match=r"targets.app: .*Cargo.lock: cannot read the lock"):
        read_lock(tmp_path, "Cargo.lock", "app")


@pytest.mark.parametrize(("version", "cargo", "readable"), [
    (3, (1, 65), True), (4, (1, 65), False), (4, (1, 78), True), (4, None, True),
    (1, (1, 40), True), (5, (1, 90), False),
])
def test_lock_versions_each_cargo_reads(
    version: int, cargo: tuple[int, int] | None, readable: bool,
) -> None:
    if readable:
        check_lock_version(_deps(version), "app", cargo, "the rust toolchain image")
        return
    with pytest.raises(ConfigError, match=rf"Cargo.lock is lock file version {version}") as err:
        check_lock_version(_deps(version), "app", cargo, "the rust toolchain image")
    assert "the rust toolchain image has cargo" in err.value.message
    assert err.value.hint is not None
    assert "wasmforge lock app" in err.value.hint


def test_cargo_versions_and_sparse_registries() -> None:
    assert cargo_version_of("cargo 1.65.0") == (1, 65)
    assert cargo_version_of("cargo 1.85.1 (d73d2caf9 2024-12-31)") == (1, 85)
    assert cargo_version_of("rustc 1.63.0") is None
    assert sparse_flags((1, 65)) == {"RUSTC_BOOTSTRAP": "1",
                                     "CARGO_UNSTABLE_SPARSE_REGISTRY": "true"}
    assert sparse_flags((1, 68)) == {}
    assert sparse_flags(None) == {}


def test_vendored_sources_round_trip_to_the_build_config() -> None:
    printed = """
[source.crates-io]
replace-with = "vendored-sources"

[source."git+https://example.invalid/x?branch=main"]
git = "https://example.invalid/x"
branch = "main"
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/fetch/vendor"
"""
    sources = vendored_sources(printed, "/fetch/vendor")
    assert sources["vendored-sources"] == {"directory": "."}
    config = tomllib.loads(render_config(sources, "/deps/abc/vendor"))
    assert config["source"]["vendored-sources"] == {"directory": "/deps/abc/vendor"}
    assert config["source"]["git+https://example.invalid/x?branch=main"]["branch"] == "main"
    assert config["source"]["crates-io"] == {"replace-with": "vendored-sources"}


def test_fetch_key_follows_the_lock_and_the_configs(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.lock", text=REMOTE_LOCK)
    _files(tmp_path, ".cargo/config.toml", text="[net]\n")
    deps = CargoDependencies(package=".", lock="Cargo.lock", lock_version=3,
                             configs=(".cargo/config.toml",), fetch=True)
    first = fetch_key(tmp_path, deps)
    assert fetch_key(tmp_path, deps) == first
    _files(tmp_path, ".cargo/config.toml", text="[net]\nretry = 3\n")
    second = fetch_key(tmp_path, deps)
    assert second != first
    _files(tmp_path, "Cargo.lock", text=REMOTE_LOCK + "\n")
    assert fetch_key(tmp_path, deps) not in (first, second)


def test_credentials_and_proxies_reach_the_fetch_and_nothing_else() -> None:
    env = {"CARGO_REGISTRIES_MIRROR_TOKEN": "t", "CARGO_REGISTRY_TOKEN": "u",
           "HTTPS_PROXY": "http://127.0.0.1:3128", "CARGO_NET_RETRY": "5",
           "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "no", "CARGO_HOME": "/elsewhere"}
    assert passed_environment(env) == {
        "CARGO_REGISTRIES_MIRROR_TOKEN": "t", "CARGO_REGISTRY_TOKEN": "u",
        "HTTPS_PROXY": "http://127.0.0.1:3128", "CARGO_NET_RETRY": "5"}


def test_the_store_takes_a_whole_entry_or_none(tmp_path: Path) -> None:
    store = DependencyStore(tmp_path)
    assert store.entry("k") is None
    with store.staging() as staged:
        (staged / "vendor" / "a-1.0.0").mkdir(parents=True)
        assert store.entry("k") is None  # not until committed
        entry = store.commit(staged, "k", {"vendored-sources": {"directory": "."}})
    assert store.entry("k") == entry
    assert store.sources(entry) == {"vendored-sources": {"directory": "."}}
    with store.staging() as late:  # another process fetched the same key meanwhile
        (late / "vendor").mkdir()
        assert store.commit(late, "k", {}) == entry
    assert store.entries() == [entry]
    assert not list((tmp_path / "deps" / ".staging").iterdir())
    store.remove(entry)
    assert store.entry("k") is None


def test_a_package_without_lock_file_is_built_in_a_copy_of_the_whole_project(
    tmp_path: Path,
) -> None:
    _files(tmp_path, "app/Cargo.toml", text=CARGO_TOML)
    target = _only(_plan(tmp_path, '[targets.app]\nkind = "rust"\npath = "app"\n'))
    copy, build = target.steps
    assert copy.argv[3:7] == ("copy", "/src", "/out/app/cargo-src", "--exclude=./app/target")
    assert "--exclude=./.git" in copy.argv
    assert build.cwd == "/out/app/cargo-src/app"  # ../ of the package is the project's
