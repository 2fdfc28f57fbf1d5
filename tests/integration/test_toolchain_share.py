"""``wasmforge toolchains push|pull`` against a real registry (docker-registry on 127.0.0.1) and the
real Docker engine, with the debian-12 ``wasi-sdk`` image.

A pull is proven by taking the local tag away first (the image itself stays, held by a tag of the
test's own, so nothing the rest of the suite needs is ever deleted; every tag taken away is put
back). Each test uses a lock file of its own, never the user's.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.integration.build_support import (
    copy_sample,
    expected_output,
    run_wasi_command,
    use_toolchain_set,
    wasmforge,
)
from tests.integration.oci_registry import RunningRegistry
from wasmforge.console import Console
from wasmforge.errors import ExitCode
from wasmforge.toolchain_sets import ToolchainSetName
from wasmforge.toolchains.images import ensure_image, resolve_source, tag_for
from wasmforge.toolchains.lock import LockFile
from wasmforge.toolchains.share import DIGEST_LABEL, NAME_LABEL

if TYPE_CHECKING:
    import docker

pytestmark = [pytest.mark.docker, pytest.mark.toolchain, pytest.mark.registry]

SET: ToolchainSetName = "debian-12"
KIND = "wasi-sdk"


@pytest.fixture(scope="module")
def wasi_sdk(engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The debian-12 wasi-sdk image's tag, the image built first if this engine lacks it."""
    lock = LockFile(tmp_path_factory.mktemp("lock") / "toolchains.lock.json", "test")
    image = ensure_image(KIND, None, Console(env={}), client=engine, lock=lock, toolchain_set=SET)
    tag = tag_for(resolve_source(KIND, None, None, SET))
    assert image.reference == tag
    return tag


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: a lock file of the test's own, no registry credentials."""
    env = {**os.environ, "WASMFORGE_TOOLCHAINS_LOCK": str(tmp_path / "toolchains.lock.json")}
    env.pop("WASMFORGE_REGISTRY_USERNAME", None)
    env.pop("WASMFORGE_REGISTRY_PASSWORD", None)
    return env


def _prefix(registry: RunningRegistry) -> str:
    """A repository prefix no other test pushes to."""
    return f"{registry.host}/share-{uuid.uuid4().hex[:8]}"


def _image_id(engine: docker.DockerClient, reference: str) -> str | None:
    from docker.errors import ImageNotFound

    try:
        return str(engine.images.get(reference).id)
    except ImageNotFound:
        return None


@contextmanager
def tag_taken_away(engine: docker.DockerClient, tag: str) -> Iterator[str]:
    """``docker rmi`` of ``tag`` only (a tag of the test's own holds the image), put back after;
    yields the image id."""
    image_id = _image_id(engine, tag)
    assert image_id is not None, f"{tag} is not on this engine"
    keep = f"wasmforge-test-keep/{tag.split('/', 1)[1].replace(':', '-')}"
    engine.images.get(image_id).tag(keep, "held")
    try:
        engine.images.remove(tag)
        assert _image_id(engine, tag) is None
        yield image_id
    finally:
        if _image_id(engine, tag) != image_id:
            engine.images.get(image_id).tag(*tag.split(":", 1))
        engine.images.remove(f"{keep}:held")
    assert _image_id(engine, tag) == image_id


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert isinstance(value, dict)
    return value


def _manifest_digest(registry: RunningRegistry, reference: str) -> str:
    repository, tag = reference.split("/", 1)[1].rsplit(":", 1)
    response = requests.head(
        f"http://{registry.host}/v2/{repository}/manifests/{tag}", timeout=10,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                 "application/vnd.oci.image.manifest.v1+json"})
    assert response.status_code == 200, response.status_code
    return response.headers["Docker-Content-Digest"]


def test_push_then_pull_restores_the_tag_and_a_build_uses_it(
    engine: docker.DockerClient, wasi_sdk: str, registry: RunningRegistry, env: dict[str, str],
    tmp_path: Path,
) -> None:
    prefix = _prefix(registry)
    hex_tag = wasi_sdk.rsplit(":", 1)[1]
    remote = f"{prefix}/{KIND}:{hex_tag}"
    try:
        pushed = _json(wasmforge("toolchains", "push", prefix, KIND, "--set", SET, "--json",
                                 env=env))
        [row] = pushed["toolchains"]
        assert row["reference"] == remote
        assert row["status"] == "pushed"
        assert row["digest"] == _manifest_digest(registry, remote)
        assert row["pinned"] == f"{prefix}/{KIND}@{row['digest']}"

        with tag_taken_away(engine, wasi_sdk) as image_id:
            engine.images.remove(remote)  # nor the registry's name: the image comes by the pull
            pulled = _json(wasmforge("toolchains", "pull", prefix, KIND, "--set", SET, "--insecure",
                                     "--json", env=env))
            [got] = pulled["toolchains"]
            assert (got["status"], got["reference"], got["tag"]) == ("pulled", remote, wasi_sdk)
            assert got["digest"] == row["digest"]
            assert got["image_id"] == image_id
            assert _image_id(engine, wasi_sdk) == image_id  # the tag is back

            entry = LockFile(Path(env["WASMFORGE_TOOLCHAINS_LOCK"]), _engine_id(engine)).get(
                f"{SET}/{KIND}")
            assert entry is not None
            assert (entry.tag, entry.image_id, entry.recipe_digest) == (wasi_sdk, image_id, hex_tag)
            assert entry.base is not None
            assert entry.base.origin == "pulled"
            assert entry.packages["clang-16"] == entry.pins["clang-16"]

            again = _json(wasmforge("toolchains", "pull", prefix, KIND, "--set", SET, "--json",
                                    env=env))
            assert [t["status"] for t in again["toolchains"]] == ["present"]

            project = copy_sample("c-hello", tmp_path)
            use_toolchain_set(project, SET)
            built = wasmforge("build", project, "--runner", "docker", "--no-cache", "--json",
                              env=env)
            report = _json(built)
            assert " | building " not in built.stderr
            assert "base | " not in built.stderr
            [target] = report["targets"]
            assert target["toolchain_image_id"] == image_id
            assert _image_id(engine, wasi_sdk) == image_id  # nothing built over it
            assert run_wasi_command(Path(target["main_module"])) == expected_output("c-hello")
    finally:
        subprocess.run(["docker", "rmi", remote], check=False, capture_output=True)


def _engine_id(engine: docker.DockerClient) -> str:
    from wasmforge.engine import engine_id

    return engine_id(engine)


def test_pull_of_a_reference_the_registry_lacks_is_a_registry_error(
    engine: docker.DockerClient, wasi_sdk: str, registry: RunningRegistry, env: dict[str, str],
) -> None:
    prefix = _prefix(registry)
    remote = f"{prefix}/{KIND}:{wasi_sdk.rsplit(':', 1)[1]}"
    with tag_taken_away(engine, wasi_sdk):
        done = wasmforge("toolchains", "pull", prefix, KIND, "--set", SET, env=env)
        assert _image_id(engine, wasi_sdk) is None  # nothing tagged
    assert done.returncode == ExitCode.REGISTRY_ERROR, done.stderr
    assert f"error: {remote}: not found in the registry (" in done.stderr
    assert f"hint: push it from a machine that built it (wasmforge toolchains push {prefix} " \
        f"{KIND} --set {SET})" in done.stderr
    assert not Path(env["WASMFORGE_TOOLCHAINS_LOCK"]).exists()


def test_pull_of_another_image_under_the_name_is_refused_naming_both_digests(
    engine: docker.DockerClient, wasi_sdk: str, registry: RunningRegistry, env: dict[str, str],
    tmp_path: Path,
) -> None:
    """An impostor: a small image labelled as wasi-sdk of another recipe, pushed under the
    expected name with the plain docker CLI."""
    prefix = _prefix(registry)
    hex_tag = wasi_sdk.rsplit(":", 1)[1]
    remote = f"{prefix}/{KIND}:{hex_tag}"
    other = "f" * 16
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "rootfs" / "hello").write_text("not a toolchain\n")
    archive = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(tmp_path / "rootfs"), "-cf", str(archive), "."], check=True)
    subprocess.run(["docker", "import", "--change", f"LABEL {NAME_LABEL}={KIND}", "--change",
                    f"LABEL {DIGEST_LABEL}={other}", str(archive), remote],
                   check=True, capture_output=True)
    try:
        subprocess.run(["docker", "push", "-q", remote], check=True, capture_output=True,
                       timeout=120)
        with tag_taken_away(engine, wasi_sdk):
            done = wasmforge("toolchains", "pull", prefix, KIND, "--set", SET, env=env)
            assert _image_id(engine, wasi_sdk) is None  # the impostor was not tagged as ours
        assert done.returncode == ExitCode.TOOLCHAIN_FAILED, done.stderr
        assert (f"error: {remote} is not the {KIND} image of this recipe: it says "
                f"{DIGEST_LABEL}={other}; the recipe's digest is {hex_tag}") in done.stderr
        assert _image_id(engine, remote) is None  # and not left behind under the registry's name
        assert not Path(env["WASMFORGE_TOOLCHAINS_LOCK"]).exists()
    finally:
        subprocess.run(["docker", "rmi", remote], check=False, capture_output=True)


def test_pushing_an_image_not_built_here_names_it_with_a_hint(
    engine: docker.DockerClient, wasi_sdk: str, registry: RunningRegistry, env: dict[str, str],
) -> None:
    prefix = _prefix(registry)
    with tag_taken_away(engine, wasi_sdk):
        done = wasmforge("toolchains", "push", prefix, KIND, "--set", SET, env=env)
    assert done.returncode == ExitCode.USER_ERROR, done.stderr
    assert f"error: {wasi_sdk} ({SET} {KIND}) is not built on this engine: nothing to push" \
        in done.stderr
    assert f"hint: build it first: wasmforge toolchains build {KIND} --set {SET}" in done.stderr
    response = requests.get(f"http://{registry.host}/v2/_catalog", timeout=10)
    assert not [r for r in response.json()["repositories"] if r.startswith(prefix.split("/")[1])]
