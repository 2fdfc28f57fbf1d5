"""The build cache against real parts: Docker, the toolchain images, and a registry on 127.0.0.1.

What a user sees: a no-op rebuild that starts no container and loads nothing heavy, edits that
rebuild exactly what they touch, damage that costs a rebuild and never a wrong output, concurrent
and killed builds that come out right, and a second checkout that restores everything from a
registry, byte for byte, without running a compiler.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.build_support import (
    SAMPLES,
    copy_sample,
    docker_engine_answers,
    project_containers,
    run_wasi_command,
    wasmforge,
)
from tests.integration.oci_registry import make_htpasswd, registry_available, run_registry
from tests.needs import need

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

SHARED_HEADER = "#define SCALE 3\n"
TARGET_SOURCE = """#include <stdio.h>
{include}
int main(void) {{
    printf("target {n} says %d\\n", {value});
    return 0;
}}
"""


@pytest.fixture(scope="module")
def docker_ready() -> None:
    need(docker_engine_answers(), "a Docker engine")


def _env(cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a build with its own local cache (and no stray registry login)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WASMFORGE_CACHE", "WASMFORGE_REGISTRY"))}
    return {**env, "WASMFORGE_CACHE_DIR": str(cache), **extra}


def _build(
    project: Path, env: Mapping[str, str], *args: str, verbose: bool = False
) -> dict[str, Any]:
    done = wasmforge(*(["-v"] if verbose else []), "build", *args, "--runner", "docker", "--json",
                     cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    report["stderr"] = done.stderr
    return report


def _from_cache(report: dict[str, Any]) -> dict[str, str | None]:
    return {t["name"]: t["from_cache"] for t in report["targets"]}


def _multi_target_project(root: Path) -> Path:
    """Three C targets: a and b include the shared header, c does not; a has two sources."""
    (root / "include").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "include" / "common.h").write_text(SHARED_HEADER)
    for n, include, value in (("a", '#include "common.h"', "SCALE * 2"),
                              ("b", '#include "common.h"', "SCALE"),
                              ("c", "", "7")):
        (root / "src" / f"{n}.c").write_text(TARGET_SOURCE.format(n=n, include=include,
                                                                  value=value))
    (root / "src" / "a_util.c").write_text("int a_util(void) { return 1; }\n")
    (root / "wasmforge.toml").write_text("""
[project]
name = "multi"

[targets.a]
kind = "wasi-sdk"
sources = ["src/a.c", "src/a_util.c"]
include-dirs = ["include"]

[targets.b]
kind = "wasi-sdk"
sources = ["src/b.c"]
include-dirs = ["include"]

[targets.c]
kind = "wasi-sdk"
sources = ["src/c.c"]
""")
    return root


@contextmanager
def _container_starts(under: Path) -> Iterator[list[str]]:
    """The wasmforge containers started while the block runs for projects below ``under`` (from
    the engine's events; other tests may build at the same time)."""
    import docker

    client = docker.from_env(version="1.41")
    since = time.time()
    found: list[str] = []
    try:
        yield found
    finally:
        time.sleep(0.5)  # events are delivered asynchronously
        events = client.events(since=since, until=time.time(), decode=True,
                               filters={"label": "wasmforge=1", "event": "start"})
        for event in events:
            attributes = event.get("Actor", {}).get("Attributes", {})
            if attributes.get("wasmforge.project", "").startswith(str(under)):
                found.append(str(attributes.get("name")))
        client.close()


def test_noop_rebuild_starts_no_container_and_loads_nothing_heavy(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    project = copy_sample("c-hello", tmp_path)
    env = _env(tmp_path / "cache")
    first = _build(project, env, "--release")
    assert _from_cache(first) == {"hello": None}
    with _container_starts(tmp_path) as started:
        again = _build(project, env, "--release")
    assert started == []
    assert _from_cache(again) == {"hello": "local"}
    assert again["packages"] == first["packages"]  # the same digests, from the stamp
    # The answer comes before typer, pydantic or the Docker SDK are imported.
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "wasmforge", "build",
                           "--release", "--runner", "docker", "--json"],
                          cwd=project, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert {"typer", "pydantic", "docker", "rich", "requests"}.isdisjoint(imported), imported


def test_edits_rebuild_exactly_what_they_touch(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = _multi_target_project(tmp_path / "multi")
    env = _env(tmp_path / "cache")
    assert set(_from_cache(_build(project, env)).values()) == {None}

    # One source of one target: only that target runs, and only that compile in it.
    (project / "src" / "a_util.c").write_text("int a_util(void) { return 2; }\n")
    report = _build(project, env, verbose=True)
    assert _from_cache(report) == {"a": None, "b": "local", "c": "local"}
    assert "[a] compile src/a.c: from the local cache" in report["stderr"]
    assert "[a] compile src/a_util.c: from the" not in report["stderr"]

    # The shared header: exactly the targets that include it.
    (project / "include" / "common.h").write_text("#define SCALE 5\n")
    assert _from_cache(_build(project, env)) == {"a": None, "b": None, "c": "local"}
    assert run_wasi_command(project / "dist" / "debug" / "b.wasm") == "target b says 5\n"

    # Back to the old header: an earlier result of the same key serves it again.
    (project / "include" / "common.h").write_text(SHARED_HEADER)
    assert _from_cache(_build(project, env)) == {"a": "local", "b": "local", "c": "local"}
    assert run_wasi_command(project / "dist" / "debug" / "b.wasm") == "target b says 3\n"

    # A touch that changes no byte: the stamp no longer holds, but every action is a hit.
    os.utime(project / "src" / "c.c")
    assert _from_cache(_build(project, env)) == {"a": "local", "b": "local", "c": "local"}


def test_a_new_source_matching_a_glob_is_built(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = copy_sample("c-hello", tmp_path)
    env = _env(tmp_path / "cache")
    _build(project, env)
    (project / "src" / "extra.c").write_text("int extra_function(void) { return 42; }\n")
    report = _build(project, env)  # src/*.c now matches one more file
    assert _from_cache(report) == {"hello": None}


def test_damaged_cache_costs_a_rebuild_never_a_wrong_output(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    project = copy_sample("c-hello", tmp_path)
    cache = tmp_path / "cache"
    env = _env(cache)
    _build(project, env, "--release")
    good = (project / "dist" / "release" / "hello.wasm").read_bytes()

    blobs = [b for b in sorted((cache / "blobs").rglob("*")) if b.is_file()]
    entries = sorted((cache / "actions").rglob("*.json"))
    assert blobs
    assert entries
    for blob in blobs:  # same size, other bytes: only the digest can tell
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
    entries[0].write_text('{"schema": 1, "key": "trunc')
    for stamp in (cache / "stamps").glob("*.json"):
        stamp.write_bytes(b"\x00garbage")
    shutil.rmtree(project / "dist")

    report = _build(project, env, "--release")
    assert "warning: cache entry" in report["stderr"]
    assert "dropped it, building again" in report["stderr"]
    assert _from_cache(report) == {"hello": None}
    assert (project / "dist" / "release" / "hello.wasm").read_bytes() == good
    # The rebuild replaced what was bad: the next build is served by the cache again.
    shutil.rmtree(project / "dist")
    assert _from_cache(_build(project, env, "--release")) == {"hello": "local"}
    assert (project / "dist" / "release" / "hello.wasm").read_bytes() == good
    verified = wasmforge("cache", "verify", "--json", env=env)
    assert verified.returncode == 0, verified.stderr


def test_an_unwritable_cache_is_a_warning(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = copy_sample("c-hello", tmp_path)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache should be")
    report = _build(project, _env(blocked))
    assert "building without the local cache" in report["stderr"]
    assert (project / "dist" / "debug" / "hello.wasm").is_file()


def test_two_builds_at_once_both_land(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = _multi_target_project(tmp_path / "multi")
    env = _env(tmp_path / "cache")
    runs = [subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "build", "--runner", "docker", *args],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in (["--target", "a", "--target", "c"], ["--target", "b"], [])]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    manifest = json.loads((project / "dist" / "debug" / "wasmforge-build.json").read_text())
    assert [t["name"] for t in manifest["targets"]] == ["a", "b", "c"]
    for name in "abc":
        assert run_wasi_command(project / "dist" / "debug" / f"{name}.wasm").startswith(
            f"target {name} says")


def test_a_build_killed_with_sigkill_leaves_no_container_and_rebuilds_right(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    project = tmp_path / "slow"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.c").write_text('#include <stdio.h>\nint main(void) { puts("ok"); }\n')
    (project / "wasmforge.toml").write_text("""
[project]
name = "slow"

[targets.slow]
kind = "wasi-sdk"
command = "echo started && sleep 120"
artifact = "never.wasm"

[targets.fine]
kind = "wasi-sdk"
sources = ["src/main.c"]
""")
    env = _env(tmp_path / "cache")
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "build", "--runner", "docker", "--target", "slow"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.strip() == "[slow] started":
                break
        assert project_containers(project), "the build's container should be running"
        process.kill()  # SIGKILL: no cleanup code runs
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
    # The container ends with the process that started it (its stdin closes) and removes itself.
    deadline = time.monotonic() + 30
    while project_containers(project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert project_containers(project) == []
    killed_scratch = [p for p in (project / "dist").iterdir() if p.name != "debug"]
    assert killed_scratch  # what the killed build had under way
    report = _build(project, env, "--target", "fine")
    assert _from_cache(report) == {"fine": None}
    assert run_wasi_command(project / "dist" / "debug" / "fine.wasm") == "ok\n"
    # The next build reaped the killed one's scratch dir: its owner is gone.
    assert sorted(p.name for p in (project / "dist").iterdir()) == ["debug"]




def test_a_source_edited_while_it_builds_is_not_cached_under_its_old_content(
    docker_ready: None, tmp_path: Path
) -> None:
    # The key is taken from the sources before the compiler runs; a compiler that then reads the
    # edited file must not leave its module under the old content's key, nor a stamp that says
    # the edit was built.
    del docker_ready
    project = tmp_path / "edited"
    (project / "src").mkdir(parents=True)
    main = project / "src" / "main.c"
    original = '#include <stdio.h>\nint main(void) { puts("before"); }\n'
    main.write_text(original)
    (project / "wasmforge.toml").write_text("""
[project]
name = "edited"

[targets.t]
kind = "wasi-sdk"
command = "echo waiting && sleep 3 && $CC $CFLAGS src/main.c -o $WASMFORGE_OUT/t.wasm"
artifact = "t.wasm"
""")
    env = _env(tmp_path / "cache")
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "-v", "build", "--runner", "docker"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    said: list[str] = []
    try:
        for line in process.stdout:
            said.append(line)
            if line.strip() == "[t] waiting":
                main.write_text(original.replace("before", "during"))
        assert process.wait(timeout=300) == 0, "".join(said)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
    assert "an input changed while it ran; not cached" in "".join(said)
    assert run_wasi_command(project / "dist" / "debug" / "t.wasm") == "during\n"
    # Back to the old content: its key must not bring back the module built from the edit.
    main.write_text(original)
    report = _build(project, env)
    assert _from_cache(report) == {"t": None}
    assert run_wasi_command(project / "dist" / "debug" / "t.wasm") == "before\n"


def test_a_path_dependencys_manifest_is_an_input(docker_ready: None, tmp_path: Path) -> None:
    # Cargo's dep-info names the dependency's sources, never its Cargo.toml: a feature turned on
    # there must still rebuild, and turning it off again must bring back the first module.
    del docker_ready
    project = tmp_path / "pathdep"
    (project / "app" / "src").mkdir(parents=True)
    (project / "shared" / "src").mkdir(parents=True)
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "pathdep"\n\n[targets.app]\nkind = "rust"\npath = "app"\n')
    (project / "app" / "Cargo.toml").write_text(
        '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[dependencies]\nshared = { path = "../shared" }\n')
    (project / "app" / "Cargo.lock").write_text(
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n"
        "dependencies = [\n \"shared\",\n]\n\n"
        "[[package]]\nname = \"shared\"\nversion = \"0.1.0\"\n")
    (project / "app" / "src" / "main.rs").write_text(
        'fn main() { println!("{}", shared::word()); }\n')
    manifest = project / "shared" / "Cargo.toml"
    quiet = ('[package]\nname = "shared"\nversion = "0.1.0"\nedition = "2021"\n\n'
             "[features]\ndefault = []\nloud = []\n")
    manifest.write_text(quiet)
    (project / "shared" / "src" / "lib.rs").write_text(
        '#[cfg(feature = "loud")]\npub fn word() -> &\'static str { "LOUD" }\n'
        '#[cfg(not(feature = "loud"))]\npub fn word() -> &\'static str { "quiet" }\n')
    env = _env(tmp_path / "cache")
    module = project / "dist" / "debug" / "app.wasm"
    _build(project, env)
    assert run_wasi_command(module) == "quiet\n"
    manifest.write_text(quiet.replace("default = []", 'default = ["loud"]'))
    assert _from_cache(_build(project, env)) == {"app": None}
    assert run_wasi_command(module) == "LOUD\n"
    manifest.write_text(quiet)
    assert _from_cache(_build(project, env)) == {"app": "local"}
    assert run_wasi_command(module) == "quiet\n"


def test_keep_going_builds_the_others_when_one_fails(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = _multi_target_project(tmp_path / "multi")
    (project / "src" / "b.c").write_text("int main(void) { return oops; }\n")
    env = _env(tmp_path / "cache")
    done = wasmforge("build", "--keep-going", "--jobs", "1", "--runner", "docker", cwd=project,
                     env=env)
    assert done.returncode == 5, done.stderr
    assert "target 'b'" in done.stderr
    published = sorted(p.name for p in (project / "dist" / "debug").iterdir())
    assert published == ["a.wasm", "c.wasm", "wasmforge-build.json"]


# The registry ------------------------------------------------------------------------------


def _sample_projects(base: Path) -> list[Path]:
    return [copy_sample(p.parent.name, base) for p in sorted(SAMPLES.glob("*/wasmforge.toml"))]


def _outputs(project: Path) -> dict[str, str]:
    """sha256 of every published file: modules, glue, the build manifest, OCI layouts and tars
    (not wasmforge-package.json, a local note of where they are, with host paths in it)."""
    import hashlib

    published = project / "dist" / "release"
    return {p.relative_to(published).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(published.rglob("*"))
            if p.is_file() and p.name != "wasmforge-package.json"}


@pytest.mark.registry
def test_a_second_checkout_restores_every_sample_from_the_registry(
    docker_ready: None, tmp_path: Path
) -> None:
    """Done when: a fresh clone elsewhere, an empty local cache, --cache-from the registry: every
    sample built without a compiler or wasm-opt, outputs and OCI digests byte-identical."""
    del docker_ready
    need(registry_available(), "docker-registry (apt-get install docker-registry)")
    need(make_htpasswd(tmp_path / "htpasswd", "ci", "s3cret"), "htpasswd (apache2-utils)")
    (tmp_path / "registry").mkdir()
    with run_registry(tmp_path / "registry", htpasswd=tmp_path / "htpasswd") as registry:
        repository = f"{registry.host}/team/wasm-cache"
        login = {"WASMFORGE_REGISTRY_USERNAME": "ci", "WASMFORGE_REGISTRY_PASSWORD": "s3cret",
                 "SOURCE_DATE_EPOCH": "1700000000"}
        first_env = _env(tmp_path / "cache-1", **login)
        first = {p.name: p for p in _sample_projects(tmp_path / "machine-1")}
        for project in first.values():
            report = _build(project, first_env, "--release", "--cache-to", repository,
                            "--insecure")
            assert "warning" not in report["stderr"], report["stderr"]

        second_env = _env(tmp_path / "cache-2", **login)
        with _container_starts(tmp_path) as started:
            for project in _sample_projects(tmp_path / "machine-2"):
                report = _build(project, second_env, "--release", "--cache-from", repository,
                                "--insecure", "--cache-required")
                assert set(_from_cache(report).values()) == {"remote"}, report["stderr"]
                assert _outputs(project) == _outputs(first[project.name])
        assert started == []  # no compiler, no wasm-opt: no container at all

        # Wrong credentials: a warning, and the build goes on locally; required: exit 7.
        bad = _env(tmp_path / "cache-3", WASMFORGE_REGISTRY_USERNAME="ci",
                   WASMFORGE_REGISTRY_PASSWORD="wrong")
        project = copy_sample("c-hello", tmp_path / "machine-3")
        report = _build(project, bad, "--cache-from", repository, "--insecure")
        assert "cache: cannot restore from" in report["stderr"]
        assert "authentication refused" in report["stderr"]
        shutil.rmtree(project / "dist")
        refused = wasmforge("build", "--runner", "docker", "--cache-to", repository,
                            "--insecure", "--cache-required", "--no-cache", cwd=project, env=bad)
        assert refused.returncode == 7, refused.stderr
        assert "authentication refused" in refused.stderr


@pytest.mark.registry
def test_results_found_locally_are_uploaded_when_a_registry_is_given_later(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    need(registry_available(), "docker-registry (apt-get install docker-registry)")
    project = copy_sample("c-hello", tmp_path / "machine-1")
    env = _env(tmp_path / "cache-1")
    _build(project, env)  # warms the local store only
    (tmp_path / "registry").mkdir()
    with run_registry(tmp_path / "registry") as registry:
        repository = f"{registry.host}/team/cache"
        report = _build(project, env, "--cache-to", repository, "--insecure")
        assert set(_from_cache(report).values()) == {"local"}
        assert "warning" not in report["stderr"], report["stderr"]
        elsewhere = copy_sample("c-hello", tmp_path / "machine-2")
        with _container_starts(tmp_path) as started:
            report = _build(elsewhere, _env(tmp_path / "cache-2"), "--cache-from", repository,
                            "--insecure", "--cache-required")
        assert set(_from_cache(report).values()) == {"remote"}, report["stderr"]
        assert started == []


@pytest.mark.registry
def test_read_only_cache_never_uploads_and_a_dead_registry_is_a_warning(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    need(registry_available(), "docker-registry (apt-get install docker-registry)")
    project = copy_sample("c-hello", tmp_path)
    (tmp_path / "registry").mkdir()
    with run_registry(tmp_path / "registry") as registry:
        repository = f"{registry.host}/pr/cache"
        env = _env(tmp_path / "cache", WASMFORGE_CACHE_READ_ONLY="1",
                   WASMFORGE_CACHE_TO=repository)
        _build(project, env, "--insecure")
        listing = requests.get(f"http://{registry.host}/v2/pr/cache/tags/list", timeout=10)
        # Nothing was ever pushed: the repository does not even exist.
        assert listing.status_code == 404, listing.text
        assert "NAME_UNKNOWN" in listing.text
    # Nothing listens there any more.
    shutil.rmtree(project / "dist")
    env = _env(tmp_path / "cache-2")
    started = time.monotonic()
    report = _build(project, env, "--cache-from", repository, "--insecure")
    assert "cache: cannot restore from" in report["stderr"]
    assert time.monotonic() - started < 120
    down = wasmforge("build", "--runner", "docker", "--cache-from", repository, "--insecure",
                     "--cache-required", "--no-cache", "--cache-to", repository, cwd=project,
                     env=_env(tmp_path / "cache-3"))
    assert down.returncode == 7, down.stderr
    # Results that did not reach the registry are not forgotten: the same build again is no
    # no-op, it tries the upload again.
    env = _env(tmp_path / "cache-4")
    for _ in range(2):
        report = _build(project, env, "--cache-to", repository, "--insecure")
        assert "cache: cannot upload to" in report["stderr"]

