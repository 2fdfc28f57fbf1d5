from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.oci_samples import EMPTY_START, HELLO_WAT, assemble
from wasmforge.errors import UserError
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import sha256_digest
from wasmforge.oci.image import wasm_artifact
from wasmforge.oci.layout import load_layout
from wasmforge.oci.package import package_module


def _package(
    wasm: Path, out: Path, created: int = 1_700_000_000, fmt: str = "both"
) -> dict[str, Any]:
    formats = ("image", "artifact") if fmt == "both" else (fmt,)
    result = package_module(
        wasm, name="hello", reference="127.0.0.1:5000/wf/hello:v1", formats=formats,  # type: ignore[arg-type]
        annotations={mt.ANNOTATION_VERSION: "1.0"}, created=created, out_dir=out,
    )
    return result.as_dict()


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    return assemble(HELLO_WAT, tmp_path, "hello")


def test_artifact_bytes_match_the_reference_example() -> None:
    # The research notes' example (config and manifest as wkg/oci-wasm write them, created = 0).
    image = wasm_artifact(EMPTY_START, file_name="hello.wasm", created=0, annotations={})
    assert image.config.digest == (
        "sha256:6661433c2315e96ab671c09c9f78ac8ca543fa490e2140d71ead6f9deedd579d"
    )
    assert image.config.size == 192
    assert image.digest == "sha256:db880cadeb03b935ed67ca85fb515a47a11009cf3d2bf0bcfd22edb7312e61f8"
    assert image.manifest.size == 504


def test_same_module_in_different_places_and_times_gives_same_bytes(
    hello: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "elsewhere" / "other-name.wasm"
    copy.parent.mkdir()
    copy.write_bytes(hello.read_bytes())
    os.utime(copy, (1, 1))  # file times must not leak into the output
    first = _package(hello, tmp_path / "one")
    monkeypatch.chdir(copy.parent)
    second = _package(copy, tmp_path / "two" / "deeper")
    for a, b in zip(first["formats"], second["formats"], strict=True):
        assert a["digest"] == b["digest"]
        assert Path(a["tar"]).read_bytes() == Path(b["tar"]).read_bytes()


def test_created_changes_the_digest(hello: Path, tmp_path: Path) -> None:
    one = _package(hello, tmp_path / "a", created=0, fmt="image")
    two = _package(hello, tmp_path / "b", created=1, fmt="image")
    assert one["formats"][0]["digest"] != two["formats"][0]["digest"]


def test_compat_image_layout(hello: Path, tmp_path: Path) -> None:
    _package(hello, tmp_path / "out", created=86400, fmt="image")
    image = load_layout(tmp_path / "out" / "image")
    manifest = image.manifest_json()
    config = image.config_json()
    assert manifest["mediaType"] == mt.MANIFEST
    assert manifest["annotations"] == {
        "module.wasm.image/variant": "compat",
        "org.opencontainers.image.created": "1970-01-02T00:00:00Z",
        "org.opencontainers.image.version": "1.0",
    }
    assert (config["os"], config["architecture"]) == ("wasi", "wasm")
    assert config["config"]["Entrypoint"] == ["/hello.wasm"]
    assert config["created"] == "1970-01-02T00:00:00Z"
    [layer] = image.layers
    assert layer.media_type == mt.LAYER_TAR
    assert config["rootfs"]["diff_ids"] == [sha256_digest(layer.data)]
    with tarfile.open(fileobj=io.BytesIO(layer.data)) as archive:
        [member] = archive.getmembers()
        assert (member.name, member.mode, member.mtime) == ("hello.wasm", 0o755, 86400)
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        extracted = archive.extractfile(member)
        assert extracted is not None
        assert extracted.read() == hello.read_bytes()


def test_dual_tar_has_oci_layout_and_docker_manifest(hello: Path, tmp_path: Path) -> None:
    _package(hello, tmp_path / "out", fmt="image")
    with tarfile.open(tmp_path / "out" / "image.tar") as archive:
        names = archive.getnames()
        assert names == sorted(names)
        index = json.loads(archive.extractfile("index.json").read())  # type: ignore[union-attr]
        docker = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {"oci-layout", "index.json", "manifest.json"} <= set(names)
    [entry] = index["manifests"]
    assert entry["annotations"] == {
        "io.containerd.image.name": "127.0.0.1:5000/wf/hello:v1",
        "org.opencontainers.image.ref.name": "v1",
    }
    assert docker[0]["RepoTags"] == ["127.0.0.1:5000/wf/hello:v1"]
    assert load_layout(tmp_path / "out" / "image.tar").digest == entry["digest"]


def test_artifact_layout(hello: Path, tmp_path: Path) -> None:
    _package(hello, tmp_path / "out", created=0, fmt="artifact")
    image = load_layout(tmp_path / "out" / "artifact")
    config = image.config_json()
    [layer] = image.layers
    assert image.config.media_type == mt.WASM_CONFIG
    assert layer.media_type == "application/wasm"
    assert layer.data == hello.read_bytes()
    assert dict(layer.annotations) == {"org.opencontainers.image.title": "hello.wasm"}
    assert config == {"created": "1970-01-01T00:00:00Z", "author": None, "architecture": "wasm",
                      "os": "wasip1", "layerDigests": [layer.digest], "component": None}
    assert "artifactType" not in image.manifest_json()
    assert not (tmp_path / "out" / "artifact" / "manifest.json").exists()


def test_corrupt_blob_is_detected(hello: Path, tmp_path: Path) -> None:
    result = _package(hello, tmp_path / "out", fmt="image")
    layer = result["formats"][0]["layer_digests"][0].split(":")[1]
    path = tmp_path / "out" / "image" / "blobs" / "sha256" / layer
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.raises(UserError, match="corrupt"):
        load_layout(tmp_path / "out" / "image")


def test_not_a_module_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"not wasm")
    with pytest.raises(UserError, match=r"bogus\.wasm"):
        _package(bogus, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_repackaging_replaces_output_whole(hello: Path, tmp_path: Path) -> None:
    _package(hello, tmp_path / "out", fmt="both")
    _package(hello, tmp_path / "out", fmt="image")
    assert not (tmp_path / "out" / "artifact").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
