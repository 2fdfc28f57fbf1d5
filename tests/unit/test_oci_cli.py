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


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("(func (export \"_start\") unreachable)", 134,
         "trapped: wasm trap: wasm `unreachable` instruction executed"),
        ("(func $s unreachable) (start $s) (func (export \"_start\"))", 134,
         "trapped while starting: wasm trap"),
        (("(import \"wasi_snapshot_preview1\" \"proc_exit\" (func $e (param i32)))"
          " (memory (export \"memory\") 1) (func (export \"_start\") (call $e (i32.const 200)))"),
         1,
         "stopped: exit with invalid exit status"),
        ("(func (export \"_start\") (param i32))", 2, "takes or returns values"),
        ("(memory (export \"_start\") 1)", 2, "exports no _start function"),
    ],
)
def test_run_reports_what_stopped_a_module(
    tmp_path: Path, body: str, code: int, message: str
) -> None:
    module = tmp_path / "m.wat"
    module.write_text(f"(module {body})\n")
    done = wasmforge("run", str(module))
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [["run", "nope.wasm"], ["run", "./nope"], ["inspect", "dist/x.wasm"],
     ["package", "dist/x.wasm"], ["run", "../x.tar"]],
)
def test_missing_files_are_not_looked_up_in_a_registry(tmp_path: Path, args: list[str]) -> None:
    done = wasmforge(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith("no such file")


def test_invalid_module_is_not_packaged(tmp_path: Path) -> None:
    from wasmforge.tools import wabt_tool

    invalid = tmp_path / "inv.wasm"
    source = tmp_path / "inv.wat"
    source.write_text("(module (func (result i32) (i64.const 1)))\n")
    subprocess.run([str(wabt_tool("wat2wasm")), "--no-check", str(source), "-o", str(invalid)],
                   check=True)
    done = wasmforge("package", str(invalid), "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "not a valid module: func 0 failed to validate" in done.stderr
    assert not (tmp_path / "out").exists()


def test_output_directory_may_not_be_the_current_one(hello: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = wasmforge("package", str(hello), "-o", ".", "--force", cwd=work)
    assert done.returncode == 2
    assert "is the current directory" in done.stderr
