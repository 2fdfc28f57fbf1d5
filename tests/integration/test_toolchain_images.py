"""The real toolchain images: built from the shipped recipes, verified by running their tools.

The images are built once per session (and reused across sessions by tag: that is the point of
content tags), so the build engineer's tests that call ``ensure_image`` later do no image work.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.oci_registry import registry_available, run_registry
from tests.needs import need
from wasmforge.config.model import WasmforgeConfig
from wasmforge.console import Console
from wasmforge.errors import RegistryError, ToolchainError
from wasmforge.toolchain_sets import TOOLCHAIN_SETS, ToolchainSetName
from wasmforge.toolchains.base import PULLED, ensure_base, find_base
from wasmforge.toolchains.images import (
    IMAGE_KINDS,
    ToolchainImage,
    default_lock,
    ensure_image,
    image_names,
    resolve_source,
)
from wasmforge.toolchains.lock import LockFile
from wasmforge.toolchains.recipe import BaseSpec, load_base, shipped_recipe
from wasmforge.toolchains.verify import verify_source

if TYPE_CHECKING:
    import docker

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]


@pytest.fixture(scope="session")
def toolchain_images(engine: docker.DockerClient) -> dict[str, ToolchainImage]:
    """All three shipped images, built if missing (the base debootstrapped if it cannot be
    pulled)."""
    need(shutil.which("debootstrap") is not None, "debootstrap (to create the base offline)")
    console = Console(env={})
    return {kind: ensure_image(kind, None, console, client=engine) for kind in IMAGE_KINDS}


def _config(toolchains: dict[str, dict[str, str]]) -> WasmforgeConfig:
    return WasmforgeConfig.model_validate(
        {
            "project": {"name": "demo"},
            "toolchains": toolchains,
            "targets": {"hello": {"kind": "wat", "source": "hello.wat"}},
        }
    )


@pytest.fixture(scope="session")
def every_image(engine: docker.DockerClient) -> dict[tuple[str, str], ToolchainImage]:
    """Every image of every set (toolchains and runtimes), built if missing."""
    need(shutil.which("debootstrap") is not None, "debootstrap (to create the base offline)")
    console = Console(env={})
    return {(toolchain_set, kind): ensure_image(kind, None, console, client=engine,
                                                toolchain_set=toolchain_set)
            for toolchain_set in TOOLCHAIN_SETS for kind in image_names(toolchain_set)}


EVERY_IMAGE = [(s, kind) for s in TOOLCHAIN_SETS for kind in image_names(s)]


@pytest.mark.parametrize(("toolchain_set", "kind"), EVERY_IMAGE)
def test_image_verifies(
    engine: docker.DockerClient, every_image: dict[tuple[str, str], ToolchainImage],
    toolchain_set: ToolchainSetName, kind: str,
) -> None:
    image = every_image[(toolchain_set, kind)]
    assert image.reference.startswith(f"wasmforge/{kind}:")
    assert image.image_id.startswith("sha256:")
    source = resolve_source(kind, None, toolchain_set=toolchain_set)
    results = verify_source(engine, source, image.reference, default_lock(engine).get(
        source.lock_name))
    failed = [f"{r.name}: {r.detail}" for r in results if not r.ok]
    assert failed == []
    names = {r.name for r in results}
    assert {"present", "lock", "env", "packages"} <= names
    assert len(results) == 4 + len(source.checks)


def test_sets_share_no_image(every_image: dict[tuple[str, str], ToolchainImage]) -> None:
    references = [image.reference for image in every_image.values()]
    assert len(set(references)) == len(references)


def test_emscripten_env_reaches_the_caller(toolchain_images: dict[str, ToolchainImage]) -> None:
    assert toolchain_images["emscripten"].env["NODE_PATH"] == "/usr/share/nodejs"


def test_second_ensure_does_no_work(
    engine: docker.DockerClient,
    toolchain_images: dict[str, ToolchainImage],
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    started = time.monotonic()
    again = {kind: ensure_image(kind, None, Console(env={}), client=engine) for kind in IMAGE_KINDS}
    elapsed = time.monotonic() - started
    assert again == toolchain_images
    assert capsys.readouterr().err == "", "no build, no pull, no progress"
    assert elapsed < 5


def test_lock_records_what_was_built(
    engine: docker.DockerClient, toolchain_images: dict[str, ToolchainImage]
) -> None:
    entries = default_lock(engine).entries()
    for kind, image in toolchain_images.items():
        entry = entries[f"{image.toolchain_set}/{kind}"]
        assert (entry.tag, entry.image_id) == (image.reference, image.image_id)
        assert entry.base is not None
        assert entry.base.pin == load_base(toolchain_set=image.toolchain_set).identity
        assert entry.base.origin in ("pulled", "debootstrap")
        for package, version in entry.pins.items():
            assert entry.packages[package] == version
        assert "libc6" in entry.packages  # every package, not just the pinned ones


def test_cli_list_and_verify(toolchain_images: dict[str, ToolchainImage], tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "wasmforge", "toolchains", "list", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["toolchains"]}
    for kind, image in toolchain_images.items():
        assert rows[kind]["built"] is True
        assert rows[kind]["image_id"] == image.image_id
        assert rows[kind]["tag"] == image.reference
    verified = subprocess.run(
        [sys.executable, "-m", "wasmforge", "toolchains", "verify", "rust", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["ok"] is True


def test_apt_failure_names_the_package(
    engine: docker.DockerClient, toolchain_images: dict[str, ToolchainImage], tmp_path: Path
) -> None:
    del toolchain_images  # only for its base image
    recipe = tmp_path / "broken"
    recipe.mkdir()
    shutil.copy(
        shipped_recipe("rust").directory / "apt-sources",
        recipe / "apt-sources",
    )
    (recipe / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nARG PACKAGES\nCOPY apt-sources /etc/apt/sources.list.d/d.sources\n"
        "RUN rm -f /etc/apt/sources.list && apt-get update -qq"
        " && apt-get install -y --no-install-recommends ${PACKAGES}\n"
    )
    (recipe / "toolchain.toml").write_text(
        f'# {uuid.uuid4()}\n[packages]\nmake = "0.0-wasmforge-bogus"\n'
    )
    lock = LockFile(tmp_path / "lock.json", "test")
    with pytest.raises(ToolchainError) as caught:
        ensure_image(
            "rust",
            _config({"rust": {"recipe": str(recipe)}}),
            Console(env={}),
            client=engine,
            lock=lock,
        )
    assert caught.value.message.startswith("rust: apt cannot install make=0.0-wasmforge-bogus: ")
    assert lock.entries() == {}


@pytest.fixture(scope="session")
def pushed_base(
    engine: docker.DockerClient,
    every_image: dict[tuple[str, str], ToolchainImage],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BaseSpec, str]]:
    """The debian-12 set's debootstrapped (or pulled) base, pushed to a registry on 127.0.0.1;
    its pinned spec (that set's base.toml pins a published image; debian-13's pins none)."""
    del every_image  # only for the bases its images were built on
    need(registry_available(), "docker-registry")
    debian_12 = load_base(toolchain_set="debian-12")
    base = find_base(engine, debian_12)
    assert base is not None
    with run_registry(tmp_path_factory.mktemp("toolchain-registry")) as registry:
        repository = f"{registry.host}/wasmforge-test-{uuid.uuid4().hex[:8]}/debian"
        engine.images.get(base.image_id).tag(repository, "bookworm")
        try:
            digest = None
            for event in engine.api.push(repository, tag="bookworm", stream=True, decode=True):
                assert "error" not in event, event
                digest = event.get("aux", {}).get("Digest") or digest
            assert digest is not None
        finally:
            # Untagging drops the local repo digest too: the pull below must go to the registry.
            engine.images.remove(f"{repository}:bookworm")
        spec = BaseSpec(
            image=f"{repository}:bookworm@{digest}", suite="bookworm", mirror=debian_12.mirror
        )
        yield spec, base.image_id


def _pinned(spec: BaseSpec) -> str:
    """The digest-pinned reference of a base that has one (the debian-12 set's, pushed here)."""
    assert spec.image is not None
    return spec.image


@pytest.mark.registry
def test_base_pulled_by_digest_from_a_local_registry(
    engine: docker.DockerClient, pushed_base: tuple[BaseSpec, str]
) -> None:
    from docker.errors import ImageNotFound

    spec, image_id = pushed_base
    repository, digest = _pinned(spec).split(":bookworm@")
    with pytest.raises(ImageNotFound):
        engine.images.get(f"{repository}@{digest}")
    base = ensure_base(engine, spec, Console(env={}), offline_fallback=False)
    try:
        assert base.origin == PULLED
        assert base.image_id == image_id
        assert engine.images.get(f"{repository}@{digest}").id == image_id
        assert find_base(engine, spec) == base  # next time: found locally, no pull
    finally:
        engine.images.remove(base.reference)
        engine.images.remove(f"{repository}@{digest}")


@pytest.mark.registry
def test_unknown_digest_is_a_registry_error(
    engine: docker.DockerClient, pushed_base: tuple[BaseSpec, str]
) -> None:
    spec, _ = pushed_base
    missing = _pinned(spec).rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    bad = BaseSpec(image=missing, suite="bookworm", mirror=spec.mirror)
    with pytest.raises(RegistryError, match=r"^cannot pull .*@sha256:0{64}: "):
        ensure_base(engine, bad, Console(env={}), offline_fallback=False)


@pytest.mark.registry
def test_user_image_pulled_by_digest_and_checked_for_tools(
    engine: docker.DockerClient, pushed_base: tuple[BaseSpec, str], tmp_path: Path
) -> None:
    """A user's digest-pinned image is pulled, and verify says which tools it lacks."""
    spec, image_id = pushed_base
    config = _config({"emscripten": {"image": _pinned(spec)}})
    lock = LockFile(tmp_path / "lock.json", "test")
    image = ensure_image("emscripten", config, Console(env={}), client=engine, lock=lock)
    try:
        repository, digest = _pinned(spec).split(":bookworm@")
        assert (image.reference, image.image_id) == (f"{repository}@{digest}", image_id)
        source = resolve_source("emscripten", config)
        results = {
            r.name: r
            for r in verify_source(engine, source, image.reference, lock.get("emscripten"))
        }
        assert results["present"].ok
        assert results["lock"].ok
        assert not results["emcc"].ok
        assert results["emcc"].detail.startswith("exit 127")
    finally:
        repository, digest = _pinned(spec).split(":bookworm@")
        engine.images.remove(f"{repository}@{digest}")


def test_unreachable_registry_falls_back_to_debootstrap(engine: docker.DockerClient) -> None:
    """The offline path on its own: a pin no registry can serve gives a debootstrapped base."""
    need(shutil.which("debootstrap") is not None, "debootstrap")
    from tests.integration.oci_registry import free_port

    nowhere = f"127.0.0.1:{free_port()}/wasmforge-test/debian@sha256:{uuid.uuid4().hex * 2}"
    spec = BaseSpec(image=nowhere, suite="bookworm", mirror=load_base(toolchain_set="debian-12").mirror)
    base = ensure_base(engine, spec, Console(env={}))
    try:
        assert base.origin == "debootstrap"
        image = engine.images.get(base.reference)
        assert image.labels["org.wasmforge.base.pin"] == nowhere
        probe = engine.containers.run(
            base.reference, ["cat", "/etc/debian_version"], remove=True, network_mode="none"
        )
        assert probe.decode().startswith("12.")
        assert find_base(engine, spec) == base
    finally:
        engine.images.remove(base.reference)


def test_list_shows_both_sets_and_their_versions(
    every_image: dict[tuple[str, str], ToolchainImage],
) -> None:
    from tests.integration.build_support import wasmforge

    done = wasmforge("toolchains", "list", "--set", "all", "--json")
    assert done.returncode == 0, done.stderr
    rows = {(r["set"], r["name"]): r for r in json.loads(done.stdout)["toolchains"]}
    assert set(rows) == set(every_image)
    for key, image in every_image.items():
        assert rows[key]["tag"] == image.reference
        assert rows[key]["built"] is True
    assert rows[("debian-13", "wasi-sdk")]["versions"]["clang"] == "22.1.8"
    assert rows[("debian-12", "wasi-sdk")]["versions"]["clang"] == "16.0.6"
    assert rows[("debian-13", "emscripten")]["versions"]["binaryen"] == "120"
    assert "wasm32-wasip2" in rows[("debian-13", "rust")]["versions"]["targets"]
    assert "debian-12  rust" in done.stderr  # the human table names set and toolchain


def test_a_project_chooses_its_set(tmp_path: Path) -> None:
    from tests.integration.build_support import wasmforge

    (tmp_path / "wasmforge.toml").write_text(
        '[toolchains]\nset = "debian-12"\n[toolchains.rust]\nset = "debian-13"\n\n'
        '[project]\nname = "p"\n\n[targets.t]\nkind = "wat"\nsource = "t.wat"\n')
    done = wasmforge("toolchains", "list", "--project", tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    sets = {r["name"]: r["set"] for r in json.loads(done.stdout)["toolchains"]}
    assert sets == {"wasi-sdk": "debian-12", "rust": "debian-13", "emscripten": "debian-12"}
    unknown = wasmforge("toolchains", "list", "--set", "debian-11")
    assert unknown.returncode == 2
    assert "--set: unknown toolchain set 'debian-11' (known: debian-13, debian-12, all)" in (
        unknown.stderr)
