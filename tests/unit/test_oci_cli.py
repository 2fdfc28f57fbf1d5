"""``package``, ``run`` and ``push`` argument handling through the real entry point (no registry)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.oci_samples import EXIT_WAT, HELLO_OUTPUT, HELLO_WAT, assemble


def wasmforge(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, "SOURCE_DATE_EPOCH": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    return assemble(HELLO_WAT, tmp_path, "hello")


def test_package_file_prints_digests_as_json(hello: Path, tmp_path: Path) -> None:
    done = wasmforge("package", str(hello), "-o", str(tmp_path / "out"), "--format", "both",
                     "--tag", "wf/hello:v1", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    formats = {f["format"]: f for f in result["packages"][0]["formats"]}
    assert set(formats) == {"image", "artifact"}
    assert formats["image"]["digest"].startswith("sha256:")
    assert Path(formats["image"]["tar"]).is_file()


def test_package_refuses_to_replace_a_users_directory(hello: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    done = wasmforge("package", str(hello), "-o", str(mine))
    assert done.returncode == 2
    assert "not replacing" in done.stderr
    assert "Traceback" not in done.stderr
    assert (mine / "notes.txt").read_text() == "keep me"


def test_package_project_before_build_says_build_first(tmp_path: Path) -> None:
    (tmp_path / "wasmforge.toml").write_text(
        '[project]\nname = "demo"\n\n[targets.hello]\nkind = "wat"\nsource = "hello.wat"\n'
    )
    done = wasmforge("package", str(tmp_path))
    assert done.returncode == 2
    assert "run wasmforge build first" in done.stderr


def _project_with_build(tmp_path: Path, hello: Path, entry: dict[str, object]) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "demo"\nversion = "2.0.0"\nsource = "https://example.com/demo"\n\n'
        '[targets.hello]\nkind = "wat"\nsource = "hello.wat"\n'
        '[targets.hello.package]\nformat = "both"\nimage = "127.0.0.1:5000/demo/hello:2.0.0"\n'
        '[targets.hello.package.annotations]\n"com.example.team" = "wasm"\n'
    )
    out = project / "dist" / "debug"
    out.mkdir(parents=True)
    (out / "hello.wasm").write_bytes(hello.read_bytes())
    manifest = {"profile": "debug", "targets": [{"name": "hello", "kind": "wat",
                                                 "main_module": "hello.wasm", **entry}]}
    (out / "wasmforge-build.json").write_text(json.dumps(manifest))
    return project


def test_package_project_from_build_manifest(hello: Path, tmp_path: Path) -> None:
    project = _project_with_build(tmp_path, hello, {"source_date_epoch": 1000})
    done = wasmforge("package", str(project), "--json", env={"SOURCE_DATE_EPOCH": ""})
    assert done.returncode == 0, done.stderr
    [package] = json.loads(done.stdout)["packages"]
    assert package["reference"] == "127.0.0.1:5000/demo/hello:2.0.0"
    assert package["created"] == 1000
    layout = project / "dist" / "debug" / "oci" / "hello" / "image"
    shown = wasmforge("run", str(layout))
    assert shown.stdout == HELLO_OUTPUT
    from wasmforge.oci.layout import load_layout

    annotations = load_layout(layout).manifest_json()["annotations"]
    assert annotations["org.opencontainers.image.version"] == "2.0.0"
    assert annotations["org.opencontainers.image.source"] == "https://example.com/demo"
    assert annotations["org.opencontainers.image.title"] == "hello"
    assert annotations["com.example.team"] == "wasm"
    assert annotations["org.opencontainers.image.created"] == "1970-01-01T00:16:40Z"


def test_emscripten_js_output_is_refused(hello: Path, tmp_path: Path) -> None:
    project = _project_with_build(tmp_path, hello, {"kind": "emscripten", "wasi": False, "js_glue": True})
    done = wasmforge("package", str(project))
    assert done.returncode == 2
    assert "not a WASI module" in done.stderr


def test_run_passes_output_and_exit_code(hello: Path, tmp_path: Path) -> None:
    shown = wasmforge("run", str(hello))
    assert (shown.returncode, shown.stdout) == (0, HELLO_OUTPUT)
    exits = wasmforge("run", str(assemble(EXIT_WAT, tmp_path, "exit3")))
    assert exits.returncode == 3


def test_run_image_from_layout_tar(hello: Path, tmp_path: Path) -> None:
    assert wasmforge("package", str(hello), "-o", str(tmp_path / "out")).returncode == 0
    shown = wasmforge("run", str(tmp_path / "out" / "image.tar"))
    assert (shown.returncode, shown.stdout) == (0, HELLO_OUTPUT)


def test_insecure_is_refused_for_remote_registries(hello: Path, tmp_path: Path) -> None:
    assert wasmforge("package", str(hello), "-o", str(tmp_path / "out")).returncode == 0
    done = wasmforge("push", "registry.example.com/x/hello:1", "--layout",
                     str(tmp_path / "out" / "image"), "--insecure")
    assert done.returncode == 2
    assert "only allowed for registries on this machine" in done.stderr


def test_inspect_layout_reports_platform_and_digest(hello: Path, tmp_path: Path) -> None:
    assert wasmforge("package", str(hello), "-o", str(tmp_path / "out")).returncode == 0
    done = wasmforge("inspect", str(tmp_path / "out" / "image"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["platform"] == {"os": "wasi", "architecture": "wasm"}
    assert report["annotations"]["module.wasm.image/variant"] == "compat"
    packaged = json.loads((tmp_path / "out" / "wasmforge-package.json").read_text())
    assert report["digest"] == packaged["formats"][0]["digest"]
