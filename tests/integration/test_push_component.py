"""A WASI 0.2 component packaged, pushed to a real registry on 127.0.0.1, pulled back with
``wasmforge pull`` (same bytes) and read by skopeo. The component is HELLO_WAT made a command with
the real pinned adapter (fetched from the npm registry on first use)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.external_tools import required_program
from tests.integration.oci_registry import RunningRegistry, registry_cli
from tests.oci_samples import HELLO_WAT, assemble
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.layout import load_layout

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def packaged_component(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello.wasm made a component and packaged in both formats."""
    work = tmp_path_factory.mktemp("component")
    module = assemble(HELLO_WAT, work, "hello")
    component = work / "hello.component.wasm"
    made = registry_cli("componentize", str(module), "-o", str(component))
    assert made.returncode == 0, made.stderr
    done = registry_cli("package", str(component), "--name", "hello", "-o", str(work / "out"),
                        "--format", "both", "--tag", "wf/hello-component:v1")
    assert done.returncode == 0, done.stderr
    return work / "out"


def test_component_artifact_push_then_pull_gives_the_same_bytes(
    registry: RunningRegistry, packaged_component: Path, tmp_path: Path
) -> None:
    local = load_layout(packaged_component / "artifact")
    assert local.config_json()["os"] == "wasip2"
    ref = f"{registry.host}/wf/hello-component:v1"
    pushed = registry_cli("push", ref, "--layout", str(packaged_component / "artifact"),
                          "--insecure", "--json")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["digest"] == local.digest
    pulled = registry_cli("pull", ref, "-o", str(tmp_path / "pulled"), "--insecure", "--json")
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == local.digest
    back = load_layout(tmp_path / "pulled")
    assert back.manifest.data == local.manifest.data
    assert back.config.data == local.config.data
    assert [layer.data for layer in back.layers] == [layer.data for layer in local.layers]


def test_skopeo_reads_the_component_artifact(
    registry: RunningRegistry, packaged_component: Path
) -> None:
    skopeo = required_program("skopeo")
    local = load_layout(packaged_component / "artifact")
    ref = f"docker://{registry.host}/wf/skopeo-component:v1"
    pushed = registry_cli("push", ref.removeprefix("docker://"), "--layout",
                          str(packaged_component / "artifact"), "--insecure")
    assert pushed.returncode == 0, pushed.stderr
    # containers/image reads an artifact's manifest and config raw (its image view refuses any
    # config that is not an image config, a module's artifact alike).
    raw = subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false", ref],
                         check=True, capture_output=True).stdout
    assert raw == local.manifest.data
    manifest = json.loads(raw)
    assert manifest["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/wasm"]
    config_bytes = subprocess.run([skopeo, "inspect", "--config", "--raw", "--tls-verify=false",
                                   ref], check=True, capture_output=True).stdout
    assert config_bytes == local.config.data
    config = json.loads(config_bytes)
    assert (config["architecture"], config["os"]) == ("wasm", "wasip2")
    assert config["component"]["exports"][0].startswith("wasi:cli/run@0.2.")
    assert "wasi:cli/stdout@" + config["component"]["exports"][0].split("@")[1] in (
        config["component"]["imports"])


def test_skopeo_reads_the_component_image(
    registry: RunningRegistry, packaged_component: Path
) -> None:
    skopeo = required_program("skopeo")
    ref = f"{registry.host}/wf/component-image:v1"
    pushed = registry_cli("push", ref, "--layout", str(packaged_component / "image.tar"),
                          "--insecure")
    assert pushed.returncode == 0, pushed.stderr
    shown = json.loads(subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", f"docker://{ref}"],
        check=True, capture_output=True, text=True).stdout)
    assert shown["Digest"] == load_layout(packaged_component / "image").digest
    assert (shown["Os"], shown["Architecture"]) == ("wasi", "wasm")
    manifest = json.loads(subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        check=True, capture_output=True, text=True).stdout)
    assert mt.ANNOTATION_VARIANT not in manifest["annotations"]


def test_push_a_projects_component_target(registry: RunningRegistry, tmp_path: Path) -> None:
    ref = f"{registry.host}/wf/project-component:1.0.0"
    (tmp_path / "hello.wat").write_text(HELLO_WAT, encoding="utf-8")
    (tmp_path / "wasmforge.toml").write_text(
        '[project]\nname = "hello"\nversion = "1.0.0"\n'
        '[targets.hello]\nkind = "wat"\nsource = "hello.wat"\ncomponent = true\n'
        f'package = {{ format = "artifact", image = "{ref}" }}\n')
    built = registry_cli("build", str(tmp_path), "--runner", "local")
    assert built.returncode == 0, built.stderr
    packaged = load_layout(tmp_path / "dist" / "debug" / "oci" / "hello" / "artifact")
    component = packaged.config_json()["component"]
    assert component["target"].startswith("wasi:cli/command@0.2.")
    pushed = registry_cli("push", "-C", str(tmp_path), "--insecure", "--json")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["digest"] == packaged.digest  # packaged afresh: same bytes
    pulled = registry_cli("pull", ref, "-o", str(tmp_path / "pulled"), "--insecure")
    assert pulled.returncode == 0, pulled.stderr
    back = load_layout(tmp_path / "pulled")
    assert back.config.data == packaged.config.data
    assert dict(back.manifest_json()["annotations"])[mt.ANNOTATION_ADAPTER].endswith(
        "wasi_snapshot_preview1.command.wasm")
