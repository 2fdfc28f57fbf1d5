"""Packaging WASI 0.2 components: the CNCF artifact with ``os: wasip2`` and the ``component`` field,
the compat image carrying a component, reproducible digests, and what a build adds (target world,
adapter). Components are made by wasm-tools from WIT (no adapter needed) or, for commands, from a
WAT module with the real pinned adapter (fetched from the npm registry, as the adapter tests do)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.oci_samples import HELLO_WAT
from wasmforge.errors import UserError
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import sha256_digest
from wasmforge.oci.layout import LoadedImage, load_layout
from wasmforge.oci.package import BuiltComponent, PackageResult, package_module
from wasmforge.tools import run_tool, wasm_tools

# A world with every kind of item the config names: interfaces of the component's own package
# and of another (ns:pkg/iface@version), an inline interface and functions (their plain names).
APP_WIT = """package acme:app@1.0.0;

interface greeter {
  greet: func(name: string) -> string;
}

world app {
  import wasi:cli/environment@0.2.0;
  import log: func(msg: string);
  import host: interface {
    now: func() -> u64;
  }
  export greeter;
  export wasi:cli/run@0.2.0;
  export version: func() -> u32;
}

package wasi:cli@0.2.0 {
  interface environment {
    get-arguments: func() -> list<string>;
  }
  interface run {
    run: func() -> result;
  }
}
"""
# In the component's order, as wasm-tools (and so oci-wasm, the same decoder) lists them.
APP_IMPORTS = ["wasi:cli/environment@0.2.0", "host", "log"]
APP_EXPORTS = ["version", "acme:app/greeter@1.0.0", "wasi:cli/run@0.2.0"]
ADAPTER = "@bytecodealliance/jco@1.35.0 wasi_snapshot_preview1.reactor.wasm"
REFERENCE = "127.0.0.1:5000/wf/app:v1"


def _tool(*args: str | Path) -> None:
    done = run_tool([wasm_tools(), *args])
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture
def wit(tmp_path: Path) -> Path:
    directory = tmp_path / "wit"
    directory.mkdir()
    (directory / "app.wit").write_text(APP_WIT, encoding="utf-8")
    return directory


@pytest.fixture
def component(tmp_path: Path, wit: Path) -> Path:
    """A component of the ``app`` world (a dummy core module that satisfies it)."""
    core = tmp_path / "core.wasm"
    _tool("component", "embed", wit, "--world", "app", "--dummy", "-o", core)
    made = tmp_path / "app.wasm"
    _tool("component", "new", core, "-o", made)
    return made


def _package(
    wasm: Path, out: Path, *, built: BuiltComponent | None = None, created: int = 0,
) -> PackageResult:
    return package_module(
        wasm, name="app", reference=REFERENCE, formats=("image", "artifact"),
        annotations={mt.ANNOTATION_VERSION: "1.0"}, created=created, out_dir=out, built=built,
    )


def _config_pairs(image: LoadedImage) -> list[tuple[str, Any]]:
    """The config's keys in their serialised order (the order wkg writes them in)."""
    pairs: list[tuple[str, Any]] = json.loads(image.config.data, object_pairs_hook=list)
    return pairs


def test_component_artifact_follows_the_spec(component: Path, tmp_path: Path) -> None:
    _package(component, tmp_path / "out")
    image = load_layout(tmp_path / "out" / "artifact")
    manifest = image.manifest_json()
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert "artifactType" not in manifest  # identified by config.mediaType, as wkg leaves it
    assert manifest["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    [layer] = manifest["layers"]  # v0 consumers reject more than one
    assert layer["mediaType"] == "application/wasm"  # one layer type for modules and components
    assert layer["annotations"] == {"org.opencontainers.image.title": "app.wasm"}
    assert layer["digest"] == sha256_digest(component.read_bytes())
    assert image.layers[0].data == component.read_bytes()  # raw: no tar, no compression
    assert manifest["annotations"] == {"org.opencontainers.image.created": "1970-01-01T00:00:00Z",
                                       "org.opencontainers.image.version": "1.0"}
    pairs = _config_pairs(image)
    assert [key for key, _ in pairs] == [
        "created", "author", "architecture", "os", "layerDigests", "component"]
    config = dict(pairs)
    assert config["created"] == "1970-01-01T00:00:00Z"
    assert config["author"] is None
    assert (config["architecture"], config["os"]) == ("wasm", "wasip2")
    assert config["layerDigests"] == [layer["digest"]]
    assert [key for key, _ in config["component"]] == ["exports", "imports", "target"]
    assert dict(config["component"]) == {
        "exports": APP_EXPORTS, "imports": APP_IMPORTS,
        "target": None,  # a file on its own: the binary does not name its world
    }


def test_component_in_the_compat_image(component: Path, tmp_path: Path) -> None:
    result = _package(component, tmp_path / "out")
    image = load_layout(tmp_path / "out" / "image")
    config = image.config_json()
    assert image.config.media_type == mt.IMAGE_CONFIG
    assert (config["os"], config["architecture"]) == ("wasi", "wasm")  # docker --platform wasi/wasm
    assert config["config"]["Entrypoint"] == ["/app.wasm"]
    # crun's and youki's handlers (which this annotation selects) run core modules only.
    assert mt.ANNOTATION_VARIANT not in image.manifest_json()["annotations"]
    [layer] = image.layers
    assert layer.media_type == mt.LAYER_TAR
    with tarfile.open(fileobj=io.BytesIO(layer.data)) as archive:
        [member] = archive.getmembers()
        extracted = archive.extractfile(member)
        assert extracted is not None
        assert (member.name, member.mode) == ("app.wasm", 0o755)
        assert extracted.read() == component.read_bytes()
    index = json.loads((tmp_path / "out" / "image" / "index.json").read_bytes())
    assert index["manifests"][0]["platform"] == {"architecture": "wasm", "os": "wasi"}
    recorded = json.loads((tmp_path / "out" / "wasmforge-package.json").read_bytes())
    assert recorded["component"] == {"exports": APP_EXPORTS, "imports": APP_IMPORTS,
                                     "target": None, "adapter": None}
    assert result.component is not None


def test_what_the_build_knows_names_the_target_and_the_adapter(
    component: Path, wit: Path, tmp_path: Path
) -> None:
    built = BuiltComponent(adapter=ADAPTER, adapter_kind="reactor", world="app", wit_dir=wit)
    _package(component, tmp_path / "out", built=built)
    artifact = load_layout(tmp_path / "out" / "artifact")
    # A bare world name is qualified with the package its WIT directory declares.
    assert artifact.config_json()["component"]["target"] == "acme:app/app@1.0.0"
    for fmt in ("image", "artifact"):
        annotations = load_layout(tmp_path / "out" / fmt).manifest_json()["annotations"]
        assert annotations[mt.ANNOTATION_ADAPTER] == ADAPTER
    qualified = BuiltComponent(world="acme:app/app@1.0.0")
    _package(component, tmp_path / "again", built=qualified)
    again = load_layout(tmp_path / "again" / "artifact")
    assert again.config_json()["component"]["target"] == "acme:app/app@1.0.0"
    assert mt.ANNOTATION_ADAPTER not in again.manifest_json()["annotations"]


def test_same_component_in_different_places_gives_the_same_digests(
    component: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "elsewhere" / "deeper" / "renamed.wasm"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(component.read_bytes())
    os.utime(copy, (1, 1))  # file times must not leak into the output
    first = _package(component, tmp_path / "one", created=1_700_000_000)
    monkeypatch.chdir(copy.parent)
    second = _package(copy, Path("two"), created=1_700_000_000)
    assert [f.manifest_digest for f in first.formats] == [f.manifest_digest for f in second.formats]
    for a, b in zip(first.formats, second.formats, strict=True):
        assert a.tar.read_bytes() == b.tar.read_bytes()


def test_a_wit_package_is_not_a_component(wit: Path, tmp_path: Path) -> None:
    package = tmp_path / "witpkg.wasm"
    _tool("component", "wit", wit, "--wasm", "-o", package)
    with pytest.raises(UserError, match=r"WIT package \(.*acme:app@1\.0\.0\), not a component"):
        _package(package, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_invalid_component_is_refused(component: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.wasm"
    broken.write_bytes(component.read_bytes()[:-7])
    with pytest.raises(UserError, match=r"broken\.wasm: not a valid component"):
        _package(broken, tmp_path / "out")


def test_an_empty_component_has_an_empty_world(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wasm"
    empty.write_bytes(b"\0asm\x0d\x00\x01\x00")  # the component-model preamble, nothing else
    _package(empty, tmp_path / "out")
    config = load_layout(tmp_path / "out" / "artifact").config_json()
    assert config["os"] == "wasip2"
    assert config["component"] == {"exports": [], "imports": [], "target": None}


# A whole build: a WAT command (no container) made a component with the command adapter, packaged
# by the build and again by `wasmforge package`.

def _wasmforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], cwd=cwd,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
                          capture_output=True, text=True, check=False, timeout=300)


def test_a_built_command_component_targets_wasi_cli_command(tmp_path: Path) -> None:
    (tmp_path / "hello.wat").write_text(HELLO_WAT, encoding="utf-8")
    (tmp_path / "wasmforge.toml").write_text(
        '[project]\nname = "hello"\nversion = "1.0.0"\n'
        '[targets.hello]\nkind = "wat"\nsource = "hello.wat"\ncomponent = true\n'
        'package = { format = "both", image = "127.0.0.1:5000/wf/hello:1.0.0" }\n')
    built = _wasmforge("build", "--runner", "local", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    out = tmp_path / "dist" / "debug" / "oci" / "hello"
    recorded = json.loads((out / "wasmforge-package.json").read_bytes())
    [run] = recorded["component"]["exports"]
    version = run.removeprefix("wasi:cli/run@")
    assert run.startswith("wasi:cli/run@")
    assert version
    assert recorded["component"]["target"] == f"wasi:cli/command@{version}"
    adapter = recorded["component"]["adapter"]
    assert adapter.endswith("wasi_snapshot_preview1.command.wasm")
    artifact = load_layout(out / "artifact")
    assert artifact.config_json()["component"]["target"] == f"wasi:cli/command@{version}"
    assert artifact.manifest_json()["annotations"][mt.ANNOTATION_ADAPTER] == adapter
    image_annotations = load_layout(out / "image").manifest_json()["annotations"]
    assert image_annotations[mt.ANNOTATION_ADAPTER] == adapter
    digests = [f["digest"] for f in recorded["formats"]]
    again = _wasmforge("package", "--json", cwd=tmp_path)  # the same bytes, from the manifest
    assert again.returncode == 0, again.stderr
    [package] = json.loads(again.stdout)["packages"]
    assert [f["digest"] for f in package["formats"]] == digests


def test_a_component_packages_as_an_artifact_unless_told_otherwise(tmp_path: Path) -> None:
    """The format components are consumed in; a module keeps the compat image by default."""
    (tmp_path / "hello.wat").write_text(HELLO_WAT, encoding="utf-8")
    (tmp_path / "wasmforge.toml").write_text(
        '[project]\nname = "hello"\nversion = "1.0.0"\n'
        '[targets.hello]\nkind = "wat"\nsource = "hello.wat"\ncomponent = true\n'
        'package = { image = "127.0.0.1:5000/wf/hello:1.0.0" }\n'
        '[targets.plain]\nkind = "wat"\nsource = "hello.wat"\n'
        'package = { image = "127.0.0.1:5000/wf/plain:1.0.0" }\n')
    built = _wasmforge("build", "--runner", "local", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    oci = tmp_path / "dist" / "debug" / "oci"
    assert sorted(p.name for p in (oci / "hello").iterdir() if p.is_dir()) == ["artifact"]
    assert sorted(p.name for p in (oci / "plain").iterdir() if p.is_dir()) == ["image"]
    alone = _wasmforge("package", str(tmp_path / "dist" / "debug" / "hello.wasm"), "-o",
                       str(tmp_path / "alone"), cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert (tmp_path / "alone" / "artifact").is_dir()
    assert not (tmp_path / "alone" / "image").exists()
