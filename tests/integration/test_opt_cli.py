"""``wasmforge opt`` end to end, and the corpus through the release profile (real wasm-opt)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.needs import need
from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import resolve_profile
from wasmforge.errors import ExitCode
from wasmforge.optimize.pipeline import host_invoker, optimize_module
from wasmforge.tools import wabt_tool, wasm_tools

pytestmark = pytest.mark.toolchain
CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def wasmforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], cwd=cwd,
                          capture_output=True, text=True, check=False)


@pytest.fixture
def module(tmp_path: Path) -> Path:
    (tmp_path / "m.wat").write_text(
        '(module (func $inc (param i32) (result i32) local.get 0 i32.const 1 i32.add)'
        ' (func (export "twice") (param i32) (result i32) (call $inc (call $inc (local.get 0)))))')
    subprocess.run([wabt_tool("wat2wasm"), "--debug-names", tmp_path / "m.wat", "-o",
                    tmp_path / "m.wasm"], check=True)
    return tmp_path / "m.wasm"


def test_output_must_be_named(module: Path) -> None:
    done = wasmforge("opt", module.name, cwd=module.parent)
    assert done.returncode == ExitCode.USER_ERROR
    assert "name one with -o" in done.stderr
    assert "Traceback" not in done.stderr


def test_input_is_not_overwritten_without_force(module: Path) -> None:
    need(shutil.which("wasm-opt") is not None, "wasm-opt (binaryen) on PATH")
    before = module.read_bytes()
    done = wasmforge("opt", "m.wasm", "-o", "m.wasm", cwd=module.parent)
    assert done.returncode == ExitCode.USER_ERROR
    assert "would overwrite the input" in done.stderr
    assert module.read_bytes() == before
    done = wasmforge("opt", "m.wasm", "-o", "m.wasm", "--force", "-Oz", "--strip-names",
                     cwd=module.parent)
    assert done.returncode == 0, done.stderr
    assert len(module.read_bytes()) < len(before)


def test_json_result_and_explicit_output_is_replaced(module: Path) -> None:
    need(shutil.which("wasm-opt") is not None, "wasm-opt (binaryen) on PATH")
    out = module.parent / "out.wasm"
    out.write_bytes(b"old")
    done = wasmforge("opt", "m.wasm", "-o", "out.wasm", "-O2", "--strip-names", "--json",
                     "--pass=--vacuum", cwd=module.parent)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["size-after"] == out.stat().st_size < result["size-before"]
    assert result["sections-after"]["names"] == 0
    assert result["sections-before"]["names"] > 0
    assert result["steps"][-1]["detail"].endswith("-O2 --vacuum")
    subprocess.run([wasm_tools(), "validate", out], check=True)


@pytest.mark.parametrize(("args", "message"), [
    (["-Ox"], "unknown optimisation level"),
    (["--pass=-o"], "--pass: '-o' changes the output file"),
])
def test_bad_arguments_are_one_line_errors(module: Path, args: list[str], message: str) -> None:
    done = wasmforge("opt", "m.wasm", "-o", "o.wasm", *args, cwd=module.parent)
    assert done.returncode == ExitCode.USER_ERROR
    assert message in done.stderr
    assert not (module.parent / "o.wasm").exists()


def test_missing_wasm_opt_is_a_tool_error(module: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wasmforge", "opt", "m.wasm", "-o", "o.wasm"],
                          cwd=module.parent, capture_output=True, text=True, check=False,
                          env={"PATH": str(module.parent)})
    assert done.returncode == ExitCode.TOOL_MISSING
    assert "apt-get install binaryen" in done.stderr


def test_module_binaryen_cannot_read_is_kept_valid_with_a_note(tmp_path: Path) -> None:
    """Binaryen 108 rejects block parameters (multi-value); the build continues without it."""
    need(shutil.which("wasm-opt") is not None, "wasm-opt (binaryen) on PATH")
    (tmp_path / "b.wat").write_text(
        '(module (func (export "f") (param i32) (result i32)'
        ' (local.get 0) (block (param i32) (result i32) (i32.const 2) (i32.mul))))')
    subprocess.run([wabt_tool("wat2wasm"), tmp_path / "b.wat", "-o", tmp_path / "b.wasm"],
                   check=True)
    profile = resolve_profile(_config(), "release")
    report = optimize_module(tmp_path / "b.wasm", tmp_path / "out.wasm", profile,
                             invoke=host_invoker(), label="b")
    assert report.notes
    assert report.notes[0].startswith("wasm-opt skipped: binaryen cannot read this module")
    assert "multivalue" in report.features.enabled
    subprocess.run([wasm_tools(), "validate", tmp_path / "out.wasm"], check=True)


def _config() -> WasmforgeConfig:
    return WasmforgeConfig.model_validate(
        {"project": {"name": "p"}, "targets": {"t": {"kind": "wat", "source": "t.wat"}}})


@pytest.mark.parametrize("source", sorted(CORPUS.glob("*.wat")), ids=lambda p: p.stem)
def test_corpus_through_the_release_profile(tmp_path: Path, source: Path) -> None:
    need(shutil.which("wasm-opt") is not None, "wasm-opt (binaryen) on PATH")
    module = tmp_path / "in.wasm"
    subprocess.run([wabt_tool("wat2wasm"), "--debug-names", source, "-o", module], check=True)
    out = tmp_path / "out.wasm"
    report = optimize_module(module, out, resolve_profile(_config(), "release"),
                             invoke=host_invoker(), label=source.name)
    assert report.after["total"] <= report.before["total"]
    assert report.after["total"] == out.stat().st_size
    subprocess.run([wasm_tools(), "validate", out], check=True)
