"""Executing a plan and recording it, with WAT targets (WABT ships with wasmforge, so no Docker and
no compiler is needed): publishing, the build manifest, the summary, failures leaving nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wasmforge.build.diagnostics import github_annotations
from wasmforge.build.execute import BuildResult, run_build
from wasmforge.build.manifest import MANIFEST_NAME, BuildManifest
from wasmforge.build.summary import result_json, size_report_rows, summary_rows
from wasmforge.config.load import load_config
from wasmforge.config.resolve import BuildFlags, Settings, resolve_settings
from wasmforge.console import Console, human_size
from wasmforge.errors import NotReproducibleError, ToolchainError, UserError
from wasmforge.runner.local import LocalRunner

HELLO = """(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 0))))
"""
LIBRARY = '(module (func (export "answer") (result i32) (i32.const 42)))\n'


def _project(tmp_path: Path, targets: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "hello.wat").write_text(HELLO)
    (root / "lib.wat").write_text(LIBRARY)
    (root / "wasmforge.toml").write_text(f'[project]\nname = "demo"\n{targets}')
    return root


TWO_TARGETS = """
[targets.hello]
kind = "wat"
source = "hello.wat"

[targets.lib]
kind = "wat"
source = "lib.wat"
output = "answer.wasm"
"""


def _settings(root: Path, *targets: str, profile: str = "debug") -> Settings:
    config = load_config(root / "wasmforge.toml")
    return resolve_settings(root, config, {}, BuildFlags(profile=profile, targets=targets,
                                                         jobs=2))


def _run(settings: Settings, root: Path, *, epoch: int = 0, check: bool = False) -> BuildResult:
    return run_build(settings, LocalRunner(root), epoch=epoch, action_epoch=0,
                     console=Console(env={}), cache=None, check_reproducible=check)


def _build(root: Path, *targets: str, check: bool = False) -> dict[str, Any]:
    return result_json(_run(_settings(root, *targets), root, epoch=1700000000, check=check))


def _manifest_names(root: Path) -> list[str]:
    return list(BuildManifest.read(root / "dist", "debug").targets)


def test_outputs_and_manifest_are_published(tmp_path: Path) -> None:
    root = _project(tmp_path, TWO_TARGETS)
    result = _build(root)
    publish = root / "dist" / "debug"
    assert sorted(p.name for p in publish.iterdir()) == ["answer.wasm", "hello.wasm",
                                                        MANIFEST_NAME]
    assert sorted(p.name for p in (root / "dist").iterdir()) == ["debug"]  # no scratch left
    manifest = json.loads((publish / MANIFEST_NAME).read_text())
    assert manifest["project"] == "demo"
    hello, lib = manifest["targets"]
    assert hello["name"] == "hello"
    assert hello["exec_model"] == "command"
    assert lib["exec_model"] == "library"
    assert lib["main_module"] == "answer.wasm"
    assert hello["wasi"]
    assert not hello["js_glue"]
    assert hello["source_date_epoch"] == 1700000000
    assert hello["toolchain"] == "wabt"
    (record,) = hello["files"]
    data = (publish / "hello.wasm").read_bytes()
    assert record == {"path": "hello.wasm", "sha256": hashlib.sha256(data).hexdigest(),
                      "size": len(data)}
    targets = result["targets"]
    assert isinstance(targets, list)
    assert [t["name"] for t in targets] == ["hello", "lib"]


def test_building_one_target_keeps_the_others_in_the_manifest(tmp_path: Path) -> None:
    root = _project(tmp_path, TWO_TARGETS)
    _build(root)
    _build(root, "lib")
    names = _manifest_names(root)
    assert names == ["hello", "lib"]
    # ... unless its file was changed or removed since.
    (root / "dist/debug/hello.wasm").unlink()
    _build(root, "lib")
    names = _manifest_names(root)
    assert names == ["lib"]


def test_a_failing_target_leaves_nothing_behind(tmp_path: Path) -> None:
    root = _project(tmp_path, '[targets.bad]\nkind = "wat"\nsource = "bad.wat"\n')
    (root / "bad.wat").write_text("(module\n  (func (result i32) (i64.const 1)))\n")
    with pytest.raises(ToolchainError, match=r"target 'bad': assembly failed"):
        _build(root)
    assert not (root / "dist").exists()


def test_a_partial_failure_still_records_what_was_published(tmp_path: Path) -> None:
    root = _project(tmp_path, TWO_TARGETS + '[targets.bad]\nkind = "wat"\nsource = "bad.wat"\n')
    (root / "bad.wat").write_text("(module (func (result i32) (i64.const 1)))\n")
    with pytest.raises(ToolchainError, match="target 'bad'"):
        _build(root)
    published = sorted(p.name for p in (root / "dist/debug").iterdir())
    assert published == ["answer.wasm", "hello.wasm", MANIFEST_NAME]
    names = _manifest_names(root)
    assert names == ["hello", "lib"]


def test_output_dir_problems_are_user_errors(tmp_path: Path) -> None:
    root = _project(tmp_path, TWO_TARGETS)
    (root / "dist").write_text("a file where the output dir should be")
    with pytest.raises(UserError, match="cannot create the output directory"):
        _build(root)
    (root / "dist").unlink()
    (root / "dist" / "debug" / "hello.wasm" / "x").mkdir(parents=True)
    with pytest.raises(UserError, match=r"hello\.wasm: cannot publish the output of target 'hello'"):
        _build(root, "hello")


def test_check_reproducible_passes_for_deterministic_tools(tmp_path: Path) -> None:
    root = _project(tmp_path, TWO_TARGETS)
    result = _build(root, check=True)
    assert result["reproducible"] is True
    assert sorted(p.name for p in (root / "dist").iterdir()) == ["debug"]


def test_outputs_are_world_readable_and_modules_executable(tmp_path: Path) -> None:
    root = _project(tmp_path, TWO_TARGETS)
    _build(root)
    mode = (root / "dist/debug/hello.wasm").stat().st_mode & 0o777
    assert mode == 0o755
    assert (root / "dist/debug/hello.wasm").stat().st_uid == os.getuid()


def test_summary_rows_and_sizes(tmp_path: Path) -> None:
    root = _project(tmp_path, TWO_TARGETS)
    settings = _settings(root)
    rows = summary_rows(result_json(_run(settings, root)))
    assert [row[0] for row in rows] == ["hello", "lib"]
    assert rows[0][1] == "wabt (host)"
    assert rows[1][2].endswith("answer.wasm")
    assert human_size(100) == "100 B"
    assert human_size(2048) == "2.0 KiB"
    assert human_size(3 * 1024 * 1024) == "3.0 MiB"


def test_release_summary_reports_sizes_before_and_after(tmp_path: Path) -> None:
    import shutil

    from tests.needs import need

    need(shutil.which("wasm-opt") is not None, "binaryen's wasm-opt on PATH")
    root = _project(tmp_path, TWO_TARGETS)
    settings = _settings(root, profile="release")
    result = _run(settings, root)
    rows = size_report_rows(result_json(result))
    assert [row[0] for row in rows] == ["hello", "lib"]
    for target, row in zip(result.targets, rows, strict=True):
        report = target.optimize_report
        assert report is not None
        assert row[1] == human_size(report["size-before"])
        assert row[2] == human_size(report["size-after"])
        assert report["size-after"] <= report["size-before"]
    assert "optimize" in result_json(result)["targets"][0]


def test_check_reproducible_names_the_file_that_differs(tmp_path: Path) -> None:
    # A build command that writes different bytes every time (the local runner needs only sh).
    root = _project(tmp_path, """
[targets.random]
kind = "wasi-sdk"
command = "printf '\\\\0asm\\\\1\\\\0\\\\0\\\\0' > \\"$WASMFORGE_OUT/r.wasm\\"; date +%N >> \\"$WASMFORGE_OUT/r.wasm\\""
artifact = "r.wasm"
""")
    with pytest.raises(NotReproducibleError, match=r"target 'random': random\.wasm differs "
                                                   r"between two builds"):
        _build(root, check=True)
    assert not (root / "dist").exists()


def test_compiler_errors_become_github_annotations() -> None:
    lines = [
        "[app] src/main.c:4:15: error: expected ';' after expression",
        "[app]     puts(\"hi\")",
        "[app] src/x.h:2: fatal error: 'nope.h' file not found, 100% sure",
        "[app] src/main.c:9:1: warning: unused",
        "[app] 1 error generated.",
    ]
    assert github_annotations(lines) == [
        "::error file=src/main.c,line=4,col=15,title=app::expected ';' after expression",
        "::error file=src/x.h,line=2,title=app::'nope.h' file not found, 100%25 sure",
    ]


def test_github_actions_gets_annotations_for_a_failed_target(tmp_path: Path) -> None:
    root = _project(tmp_path, '[targets.bad]\nkind = "wat"\nsource = "bad.wat"\n')
    (root / "bad.wat").write_text("(module\n  (func (result i32) (i64.const 1)))\n")
    done = subprocess.run(
        [sys.executable, "-m", "wasmforge", "build", str(root), "--runner", "local"],
        capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "GITHUB_ACTIONS": "true", "CI": "true"})
    assert done.returncode == 5
    # Outside the working directory the path stays absolute (GitHub then shows it unanchored).
    assert f"::error file={root}/bad.wat,line=2,col=" in done.stderr, done.stderr


def test_rust_errors_become_github_annotations() -> None:
    lines = [
        "[app]    Compiling app v0.1.0 (/w/app)",
        "[app] error[E0425]: cannot find value `x` in this scope",
        "[app]  --> src/main.rs:2:20",
        "[app]   |",
        "[app] error: aborting due to previous error",
    ]
    assert github_annotations(lines) == [
        "::error file=src/main.rs,line=2,col=20,title=app::cannot find value `x` in this scope",
    ]
