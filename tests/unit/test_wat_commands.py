"""wat2wasm / wasm2wat / validate through the real CLI entry point, on real WABT binaries."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.wat_support import CORPUS, corpus_files, run_cli

# (module (func (result i32) i64.const 1)): well-formed, but returns an i64 where i32 is declared.
TYPE_ERROR_WASM = bytes.fromhex(
    "0061736d01000000" "0105016000017f" "03020100" "0a0601040042010b"
)
MALFORMED_WAT = """(module
  (func (result i32)
    i32.const 1)
  (func foo bar)
)
"""


@pytest.fixture
def good_wat(tmp_path: Path) -> Path:
    path = tmp_path / "answer.wat"
    path.write_text('(module (func (export "answer") (result i32) i32.const 42))\n')
    return path


# The "done when" of the issue: text -> binary -> text -> binary gives the same bytes. ----------


@pytest.mark.parametrize("source", corpus_files(), ids=lambda p: p.stem)
def test_corpus_roundtrip_is_byte_identical(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, text, second = tmp_path / "first.wasm", tmp_path / "back.wat", tmp_path / "second.wasm"
    assert run_cli(capsys, "wat2wasm", str(source), "--debug-names", "-o", str(first)).code == 0
    assert run_cli(capsys, "wasm2wat", str(first), "-o", str(text)).code == 0
    assert run_cli(capsys, "wat2wasm", str(text), "--debug-names", "-o", str(second)).code == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[:4] == b"\0asm"
    assert "(module" in text.read_text()


def test_roundtrip_through_python_m_wasmforge(tmp_path: Path) -> None:
    """The installed entry point in a fresh interpreter, as users and CI scripts call it."""
    source = CORPUS / "mvp_control.wat"
    first, text, second = tmp_path / "a.wasm", tmp_path / "a.wat", tmp_path / "b.wasm"
    for args in (["wat2wasm", str(source), "-o", str(first)],
                 ["wasm2wat", str(first), "-o", str(text)],
                 ["wat2wasm", str(text), "-o", str(second)]):
        done = subprocess.run([sys.executable, "-m", "wasmforge", *args],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    assert first.read_bytes() == second.read_bytes()


# wat2wasm -----------------------------------------------------------------------------------------


def test_default_output_is_next_to_the_input(good_wat: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wat2wasm", str(good_wat))
    assert run.code == 0, run.stderr
    assert (good_wat.parent / "answer.wasm").read_bytes()[:4] == b"\0asm"


def test_refuses_to_overwrite_the_default_output(
    good_wat: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = good_wat.with_suffix(".wasm")
    existing.write_bytes(b"user's file")
    run = run_cli(capsys, "wat2wasm", str(good_wat))
    assert run.code == 2
    assert f"{existing}: already exists" in run.stderr
    assert existing.read_bytes() == b"user's file"
    assert run_cli(capsys, "wat2wasm", str(good_wat), "--force").code == 0
    assert existing.read_bytes()[:4] == b"\0asm"


def test_explicit_output_may_be_replaced(good_wat: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.wasm"
    target.write_bytes(b"old")
    assert run_cli(capsys, "wat2wasm", str(good_wat), "-o", str(target)).code == 0
    assert target.read_bytes()[:4] == b"\0asm"


def test_json_result_describes_the_output(good_wat: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "o.wasm"
    run = run_cli(capsys, "wat2wasm", str(good_wat), "-o", str(target), "--json")
    assert run.code == 0
    result = json.loads(run.stdout)
    data = target.read_bytes()
    assert result == {"input": str(good_wat), "output": str(target), "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest(), "valid": True, "errors": []}


def test_malformed_wat_names_file_line_and_column(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "broken.wat"
    source.write_text(MALFORMED_WAT)
    run = run_cli(capsys, "wat2wasm", str(source))
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert lines == [f"error: {source}:4:9: unexpected token foo, expected ). (and 1 more error)"]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "broken.wasm").exists()
    assert list(tmp_path.iterdir()) == [source]  # no temporary file left behind either


def test_type_error_in_wat_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "types.wat"
    source.write_text("(module\n  (func (result i32)\n    i64.const 1))\n")
    run = run_cli(capsys, "wat2wasm", str(source), "--json")
    assert run.code == 2
    message = f"{source}:3:5: type mismatch in implicit return, expected [i32] but got [i64]"
    assert message in run.stderr
    assert json.loads(run.stdout) == {"input": str(source), "valid": False, "errors": [message]}


def test_binary_given_to_wat2wasm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = tmp_path / "m.wat"
    module.write_bytes(TYPE_ERROR_WASM)
    run = run_cli(capsys, "wat2wasm", str(module))
    assert run.code == 2
    assert f"{module}: is a WebAssembly binary, not text" in run.stderr


@pytest.mark.parametrize("command", ["wat2wasm", "wasm2wat"])
def test_missing_and_directory_inputs(command: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    missing = run_cli(capsys, command, str(tmp_path / "nope"))
    assert missing.code == 2
    assert f"{tmp_path / 'nope'}: no such" in missing.stderr
    directory = run_cli(capsys, command, str(tmp_path))
    assert directory.code == 2
    assert f"{tmp_path}: is a directory" in directory.stderr
    assert "Traceback" not in missing.stderr + directory.stderr


def test_one_input_only(good_wat: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wat2wasm", str(good_wat), str(good_wat))
    assert run.code == 2
    assert "expected one input .wat file, got 2" in run.stderr


def test_output_never_replaces_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text_named_wasm = tmp_path / "odd.wasm"
    text_named_wasm.write_text("(module)")
    run = run_cli(capsys, "wat2wasm", str(text_named_wasm), "--force")
    assert run.code == 2
    assert "would overwrite the input" in run.stderr
    assert text_named_wasm.read_text() == "(module)"


def test_global_option_after_the_command_gets_a_hint(
    good_wat: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "wat2wasm", str(good_wat), "-q")
    assert run.code == 2
    assert "option of wasmforge itself" in run.stderr


# Feature flags ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [["--disable", "simd"], ["--disable-simd"]])
def test_disabling_a_feature_rejects_its_instructions(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_cli(capsys, "wat2wasm", str(CORPUS / "simd.wat"), "-o", str(tmp_path / "s.wasm"),
                  *flags)
    assert run.code == 2
    assert f"{CORPUS / 'simd.wat'}:" in run.stderr
    assert "v128" in run.stderr or "simd" in run.stderr.lower()
    assert not (tmp_path / "s.wasm").exists()


@pytest.mark.parametrize("flags", [["--enable", "threads"], ["--enable-threads"], ["--enable-all"],
                                   ["--enable", "all"]])
def test_enabling_a_feature_accepts_it(flags: list[str], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "shared.wat"
    source.write_text("(module (memory 1 1 shared))")
    assert run_cli(capsys, "wat2wasm", str(source), "-o", str(tmp_path / "a.wasm")).code == 2
    run = run_cli(capsys, "wat2wasm", str(source), "-o", str(tmp_path / "b.wasm"), *flags)
    assert run.code == 0, run.stderr
    # and validate needs the same feature to accept the binary
    assert run_cli(capsys, "validate", str(tmp_path / "b.wasm")).code == 2
    assert run_cli(capsys, "validate", str(tmp_path / "b.wasm"), *flags).code == 0


def test_enabling_a_default_feature_is_harmless(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # WABT itself rejects --enable-simd (SIMD is on by default); wasmforge accepts both spellings.
    run = run_cli(capsys, "wat2wasm", str(CORPUS / "simd.wat"), "--enable-simd", "--enable",
                  "bulk_memory", "-o", str(tmp_path / "s.wasm"))
    assert run.code == 0, run.stderr


def test_unknown_feature_is_a_clear_error(good_wat: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wat2wasm", str(good_wat), "--enable", "simdd")
    assert run.code == 2
    assert "unknown WebAssembly feature 'simdd'" in run.stderr
    assert "did you mean 'simd'?" in run.stderr
    assert not good_wat.with_suffix(".wasm").exists()


def test_unknown_option_is_a_clear_error(good_wat: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wat2wasm", str(good_wat), "--enable-simdd")
    assert run.code == 2
    assert "unknown WebAssembly feature 'simdd'" in run.stderr
    run = run_cli(capsys, "wat2wasm", "--bogus", str(good_wat))
    assert run.code == 2
    assert "unknown option '--bogus'" in run.stderr


# wasm2wat -----------------------------------------------------------------------------------------


@pytest.fixture
def answer_wasm(good_wat: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run_cli(capsys, "wat2wasm", str(good_wat)).code == 0
    return good_wat.with_suffix(".wasm")


def test_wasm2wat_prints_to_stdout(answer_wasm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wasm2wat", str(answer_wasm))
    assert run.code == 0
    assert '(export "answer" (func 0))' in run.stdout
    assert "i32.const 42" in run.stdout


def test_wasm2wat_options(answer_wasm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folded = run_cli(capsys, "wasm2wat", str(answer_wasm), "--fold-exprs", "--generate-names")
    assert folded.code == 0
    assert "(i32.const 42)" in folded.stdout
    assert "(type $t0 (func (result i32)))" in folded.stdout


def test_wasm2wat_json_carries_the_text(answer_wasm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wasm2wat", str(answer_wasm), "--json")
    result = json.loads(run.stdout)
    assert result["valid"] is True
    assert result["output"] is None
    assert "i32.const 42" in result["text"]


def test_wasm2wat_on_text(good_wat: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wasm2wat", str(good_wat))
    assert run.code == 2
    assert "it looks like WebAssembly text: use wat2wasm" in run.stderr


def test_wasm2wat_on_truncated_module(answer_wasm: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.wasm"
    cut.write_bytes(answer_wasm.read_bytes()[:-3])
    run = run_cli(capsys, "wasm2wat", str(cut))
    assert run.code == 2
    assert str(cut) in run.stderr
    assert "truncated file?" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_wasm2wat_on_type_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = tmp_path / "bad.wasm"
    module.write_bytes(TYPE_ERROR_WASM)
    run = run_cli(capsys, "wasm2wat", str(module))
    assert run.code == 2
    assert run.stderr.strip() == (
        f"error: {module}: type mismatch in implicit return, expected [i32] but got [i64] "
        "(at byte 0x1a)"
    )


# validate -----------------------------------------------------------------------------------------


def test_validate_accepts_text_and_binary(answer_wasm: Path, good_wat: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "validate", str(answer_wasm), str(good_wat), "--json")
    assert run.code == 0
    result = json.loads(run.stdout)
    assert result["valid"] is True
    assert [f["path"] for f in result["files"]] == [str(answer_wasm), str(good_wat)]


def test_validate_names_the_first_problem_of_each_file(
    answer_wasm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(TYPE_ERROR_WASM)
    cut = tmp_path / "cut.wasm"
    cut.write_bytes(answer_wasm.read_bytes()[:20])
    broken = tmp_path / "broken.wat"
    broken.write_text(MALFORMED_WAT)
    empty = tmp_path / "empty.wasm"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.wasm"
    paths = [answer_wasm, bad, cut, broken, empty, missing]
    run = run_cli(capsys, "validate", *map(str, paths), "--json")
    assert run.code == 2
    files = json.loads(run.stdout)["files"]
    assert [f["valid"] for f in files] == [True, False, False, False, False, False]
    errors = [f["errors"][0] for f in files[1:]]
    assert errors[0].startswith(f"{bad}: type mismatch")
    assert errors[1].startswith(f"{cut}: ")
    assert "truncated" in errors[1]
    assert errors[2].startswith(f"{broken}:4:9: unexpected token foo")
    assert errors[3] == f"{empty}: empty file"
    assert errors[4] == f"{missing}: no such file"
    assert "5 of 6 files invalid" in run.stderr


def test_validate_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "validate")
    assert run.code == 2
