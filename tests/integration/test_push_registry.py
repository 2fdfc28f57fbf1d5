"""Package -> push -> pull back with skopeo and wasmforge, against a real registry on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.external_tools import required_program
from tests.integration.oci_registry import (
    RunningRegistry,
    free_port,
    make_htpasswd,
    registry_available,
    registry_cli,
    run_registry,
)
from tests.needs import need
from tests.oci_samples import HELLO_OUTPUT
from wasmforge.errors import RegistryError
from wasmforge.oci.layout import load_layout
from wasmforge.oci.reference import parse_reference
from wasmforge.oci.registry import RegistryClient

pytestmark = pytest.mark.registry


@pytest.mark.parametrize("fmt", ["image", "artifact"])
def test_push_then_skopeo_copy_gives_identical_bytes(
    registry: RunningRegistry, packaged: Path, tmp_path: Path, fmt: str
) -> None:
    ref = f"{registry.host}/wf/{fmt}-copy:v1"
    pushed = registry_cli("push", ref, "--layout", str(packaged / fmt), "--insecure", "--json")
    assert pushed.returncode == 0, pushed.stderr
    digest = json.loads(pushed.stdout)["digest"]
    local = load_layout(packaged / fmt)
    assert digest == local.digest
    copy = tmp_path / "copy"
    subprocess.run([required_program("skopeo"), "copy", "--preserve-digests", "--src-tls-verify=false",
                    f"docker://{ref}", f"oci:{copy}:v1"], check=True, capture_output=True)
    copied = load_layout(copy)
    assert copied.digest == local.digest
    assert copied.manifest.data == local.manifest.data
    assert copied.config.data == local.config.data
    assert [layer.data for layer in copied.layers] == [layer.data for layer in local.layers]


def test_skopeo_inspect_reads_both_formats(registry: RunningRegistry, packaged: Path) -> None:
    image_ref = f"{registry.host}/wf/inspect-image:v1"
    artifact_ref = f"{registry.host}/wf/inspect-artifact:v1"
    for ref, fmt in ((image_ref, "image"), (artifact_ref, "artifact")):
        done = registry_cli("push", ref, "--layout", str(packaged / fmt), "--insecure")
        assert done.returncode == 0, done.stderr
    shown = json.loads(subprocess.run(
        [required_program("skopeo"), "inspect", "--tls-verify=false", f"docker://{image_ref}"],
        check=True, capture_output=True, text=True).stdout)
    assert (shown["Os"], shown["Architecture"]) == ("wasi", "wasm")
    raw = json.loads(subprocess.run(
        [required_program("skopeo"), "inspect", "--raw", "--tls-verify=false", f"docker://{artifact_ref}"],
        check=True, capture_output=True, text=True).stdout)
    assert raw["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    assert raw["layers"][0]["mediaType"] == "application/wasm"


def test_chunked_push_pull_and_run(registry: RunningRegistry, packaged: Path, tmp_path: Path
                                   ) -> None:
    ref = f"{registry.host}/wf/chunked:v2"
    # The 10 KiB layer goes up in 3 PATCH chunks.
    pushed = registry_cli("push", ref, "--layout", str(packaged / "image.tar"), "--insecure",
                       "--chunk-size", "4096")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.strip() == load_layout(packaged / "image").digest
    pulled = registry_cli("pull", ref, "-o", str(tmp_path / "pulled"), "--insecure", "--json")
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == pushed.stdout.strip()
    assert load_layout(tmp_path / "pulled").digest == pushed.stdout.strip()
    ran = registry_cli("run", "--insecure", ref)
    assert (ran.returncode, ran.stdout) == (0, HELLO_OUTPUT), ran.stderr
    from_layout = registry_cli("run", str(tmp_path / "pulled"))
    assert from_layout.stdout == HELLO_OUTPUT


def test_run_pushed_artifact(registry: RunningRegistry, packaged: Path) -> None:
    ref = f"{registry.host}/wf/run-artifact:v1"
    assert registry_cli("push", ref, "--layout", str(packaged / "artifact"),
                     "--insecure").returncode == 0
    ran = registry_cli("run", ref, "--insecure")
    assert (ran.returncode, ran.stdout) == (0, HELLO_OUTPUT), ran.stderr


def test_registry_down_is_one_clear_line(packaged: Path) -> None:
    ref = f"127.0.0.1:{free_port()}/wf/hello:v1"
    done = registry_cli("push", ref, "--layout", str(packaged / "image"), "--insecure")
    assert done.returncode == 7
    assert "cannot connect (connection refused)" in done.stderr
    assert "Traceback" not in done.stderr


def test_manifest_naming_missing_blobs_is_rejected(registry: RunningRegistry, packaged: Path
                                                   ) -> None:
    image = load_layout(packaged / "image")
    client = RegistryClient(registry.host, insecure=True, attempts=1)
    # The config and layer were never uploaded to this repository: the registry must refuse.
    with pytest.raises(RegistryError, match=r"manifest v1 rejected.*BLOB_UNKNOWN"):
        client.put_manifest("wf/never-uploaded", "v1", image.manifest)
    assert not client.blob_exists("wf/never-uploaded", image.config.digest)


def test_pushing_twice_uploads_nothing_new(registry: RunningRegistry, packaged: Path) -> None:
    ref = f"{registry.host}/wf/twice:v1"
    first = registry_cli("push", ref, "--layout", str(packaged / "image"), "--insecure", "--json")
    again = registry_cli("push", ref, "--layout", str(packaged / "image"), "--insecure", "--json")
    assert json.loads(first.stdout)["digest"] == json.loads(again.stdout)["digest"]
    assert json.loads(again.stdout)["uploaded_blobs"] == 0


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    need(registry_available(), "docker-registry")
    work = tmp_path_factory.mktemp("auth-registry")
    need(make_htpasswd(work / "htpasswd", "wfuser", "wfpass"),
         "htpasswd (apt-get install apache2-utils)")
    with run_registry(work, htpasswd=work / "htpasswd") as running:
        yield running


class TestAuth:
    def test_credentials_from_docker_config(
        self, auth_registry: RunningRegistry, packaged: Path, tmp_path: Path
    ) -> None:
        import base64

        auth = base64.b64encode(b"wfuser:wfpass").decode()
        (tmp_path / "config.json").write_text(
            json.dumps({"auths": {auth_registry.host: {"auth": auth}}}))
        done = registry_cli("push", f"{auth_registry.host}/wf/secret:v1", "--layout",
                         str(packaged / "image"), "--insecure",
                         env={"DOCKER_CONFIG": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == load_layout(packaged / "image").digest

    def test_wrong_password_is_refused(
        self, auth_registry: RunningRegistry, packaged: Path, tmp_path: Path
    ) -> None:
        done = registry_cli("push", f"{auth_registry.host}/wf/secret:v1", "--layout",
                         str(packaged / "image"), "--insecure",
                         env={"DOCKER_CONFIG": str(tmp_path),
                              "WASMFORGE_REGISTRY_USERNAME": "wfuser",
                              "WASMFORGE_REGISTRY_PASSWORD": "wrong"})
        assert done.returncode == 7
        assert "authentication refused as wfuser" in done.stderr
        assert "wrong" not in done.stderr

    def test_no_credentials_is_refused(
        self, auth_registry: RunningRegistry, packaged: Path, tmp_path: Path
    ) -> None:
        done = registry_cli("push", f"{auth_registry.host}/wf/secret:v1", "--layout",
                         str(packaged / "image"), "--insecure",
                         env={"DOCKER_CONFIG": str(tmp_path)})
        assert done.returncode == 7
        assert "authentication refused (no credentials)" in done.stderr


def test_reference_parsing_of_registry_host(registry: RunningRegistry) -> None:
    assert parse_reference(f"{registry.host}/wf/x:y").registry == registry.host


def test_inspect_registry_reference(registry: RunningRegistry, packaged: Path) -> None:
    ref = f"{registry.host}/wf/inspected:v1"
    assert registry_cli("push", ref, "--layout", str(packaged / "artifact"),
                     "--insecure").returncode == 0
    done = registry_cli("inspect", ref, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "artifact"
    assert report["digest"] == load_layout(packaged / "artifact").digest
