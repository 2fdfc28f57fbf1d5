"""Odd and broken OCI layouts: run and inspect give one clear line (or run what a runtime would)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oci_samples import HELLO_OUTPUT, HELLO_WAT, assemble

CONFIG = json.dumps({"architecture": "wasm", "os": "wasip1",
                     "config": {"Entrypoint": ["/m.wasm"]}}).encode()
RUNWASI_LAYER = "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm"
TAR_LAYER = "application/vnd.oci.image.layer.v1.tar"


def _blob(root: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_layout(root: Path, config: bytes, layers: list[tuple[str, bytes]],
                 manifests: list[object] | None = None) -> Path:
    root.mkdir()
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(root, config)},
        "layers": [{"mediaType": media_type, **_blob(root, data)} for media_type, data in layers],
    }).encode()
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **_blob(root, manifest)}
    index = {"schemaVersion": 2, "manifests": [entry] if manifests is None else manifests}
    (root / "index.json").write_text(json.dumps(index))
    return root


def wasmforge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, check=False, timeout=60)


def test_runwasi_style_raw_wasm_layer_runs(tmp_path: Path) -> None:
    module = assemble(HELLO_WAT, tmp_path, "hello").read_bytes()
    layout = write_layout(tmp_path / "runwasi", CONFIG, [(RUNWASI_LAYER, module)])
    done = wasmforge("run", str(layout))
    assert (done.returncode, done.stdout) == (0, HELLO_OUTPUT)


@pytest.mark.parametrize(
    ("config", "layers", "manifests", "commands", "message"),
    [
        (CONFIG, [(TAR_LAYER, b"not a tar")], None, ["run"], "is not a tar archive"),
        (b"\xff\xfe{", [], None, ["run", "inspect"], "image config is not valid JSON"),
        (CONFIG, [], [1], ["run", "inspect"], "every entry of 'manifests' must be a descriptor"),
    ],
)
def test_broken_layouts_give_one_clear_line(
    tmp_path: Path, config: bytes, layers: list[tuple[str, bytes]], manifests: list[object] | None,
    commands: list[str], message: str,
) -> None:
    layout = write_layout(tmp_path / "broken", config, layers, manifests)
    for command in commands:
        done = wasmforge(command, str(layout))
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "internal error" not in done.stderr


def test_a_truncated_layout_tar_is_a_user_error(tmp_path: Path) -> None:
    from wasmforge.errors import UserError
    from wasmforge.oci.layout import load_layout
    from wasmforge.oci.tarball import TarEntry, deterministic_tar

    whole = deterministic_tar([TarEntry("oci-layout", b'{"imageLayoutVersion": "1.0.0"}', 0o644),
                               TarEntry("index.json", b"{}", 0o644),
                               TarEntry("blobs/sha256/x", b"y" * 4000, 0o644)], mtime=0)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[:3000])
    with pytest.raises(UserError, match=r"cut\.tar: a truncated or damaged tar"):
        load_layout(cut)
