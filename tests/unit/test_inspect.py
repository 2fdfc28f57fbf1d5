"""``wasmforge inspect`` on corpus modules, WASI commands and reactors, and tool metadata."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.wat_support import CORPUS, run_cli
from wasmforge.commands.inspect import inspect_target, inspect_wasm
from wasmforge.errors import UserError
from wasmforge.tools import wasm_tools
from wasmforge.wasm.wabt import text_to_binary


def compiled(name: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{name}.wasm"
    path.write_bytes(text_to_binary(CORPUS / f"{name}.wat", debug_names=True))
    return path


def custom_section(name: str, payload: bytes) -> bytes:
    """A custom section (id 0) with ``name``; sizes as one-byte LEB128 (test payloads are small)."""
    body = bytes([len(name)]) + name.encode() + payload
    assert len(body) < 128
    return b"\0" + bytes([len(body)]) + body


def test_command_module(tmp_path: Path) -> None:
    report = inspect_wasm(compiled("wasi_command", tmp_path))
    assert report["kind"] == "module"
    assert report["wasi"] == {"version": "preview1", "exec_model": "command"}
    assert report["has_start_export"] is True
    assert report["start_function"] is None
    assert [(i["module"], i["name"], i["kind"], i["signature"]) for i in report["imports"]] == [
        ("wasi_snapshot_preview1", "fd_write", "func", "(i32, i32, i32, i32) -> (i32)"),
        ("wasi_snapshot_preview1", "proc_exit", "func", "(i32) -> ()"),
    ]
    assert [(e["name"], e["kind"]) for e in report["exports"]] == [("memory", "memory"),
                                                                 ("_start", "func")]
    assert report["memories"] == [{"minimum_pages": 1, "maximum_pages": None, "shared": False,
                                   "memory64": False, "imported": False}]
    assert report["has_name_section"] is True


def test_reactor_and_old_wasi(tmp_path: Path) -> None:
    reactor = inspect_wasm(compiled("wasi_reactor", tmp_path))
    assert reactor["wasi"] == {"version": "preview1", "exec_model": "reactor"}
    assert reactor["memories"][0]["maximum_pages"] == 16
    old = inspect_wasm(compiled("wasi_unstable", tmp_path))
    assert old["wasi"] == {"version": "preview0", "exec_model": "command"}


def test_library_with_start_function(tmp_path: Path) -> None:
    report = inspect_wasm(compiled("mvp_control", tmp_path))
    assert report["wasi"] == {"version": None, "exec_model": "library"}
    assert report["start_function"] == 0
    assert report["imports"] == []
    names = {e["name"]: e["kind"] for e in report["exports"]}
    assert names["counter"] == "global"
    assert names["fac"] == "func"
    assert report["function_count"] == 14


def test_section_sizes_add_up(tmp_path: Path) -> None:
    path = compiled("bulk_memory", tmp_path)
    report = inspect_wasm(path)
    sizes = report["section_sizes"]
    assert {"type", "function", "table", "memory", "export", "element", "datacount", "code",
            "data", "custom:name"} <= set(sizes)
    headers = sum(s["offset"] - previous_end for s, previous_end in
                  zip(report["sections"], [8] + [s["offset"] + s["size"] for s in report["sections"]],
                      strict=False))
    assert 8 + headers + sum(sizes.values()) == path.stat().st_size


def test_imported_shared_memory(tmp_path: Path) -> None:
    source = tmp_path / "threads.wat"
    source.write_text('(module (import "env" "memory" (memory 2 10 shared))'
                      ' (import "env" "table" (table 1 funcref)) (import "env" "g" (global i32)))')
    from wasmforge.wasm.wabt import feature_request

    module = tmp_path / "threads.wasm"
    module.write_bytes(text_to_binary(source, feature_request(["threads"], [], [])))
    report = inspect_wasm(module)
    assert report["memories"] == [{"minimum_pages": 2, "maximum_pages": 10, "shared": True,
                                   "memory64": False, "imported": True}]
    assert [i["kind"] for i in report["imports"]] == ["memory", "table", "global"]


def test_producers_from_wasm_tools(tmp_path: Path) -> None:
    plain = compiled("wasi_command", tmp_path)
    tagged = tmp_path / "tagged.wasm"
    done = subprocess.run(
        [str(wasm_tools()), "metadata", "add", "--language", "C11=", "--processed-by",
         "clang=16.0.6", "--sdk", "wasi-sdk=20", str(plain), "-o", str(tagged)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = inspect_wasm(tagged)
    assert report["producers"] == {
        "language": [{"name": "C11", "version": ""}],
        "processed-by": [{"name": "clang", "version": "16.0.6"}],
        "sdk": [{"name": "wasi-sdk", "version": "20"}],
    }
    assert "custom:producers" in report["section_sizes"]


def test_target_features_section(tmp_path: Path) -> None:
    plain = compiled("simd", tmp_path).read_bytes()
    payload = bytes([3]) + b"+\x04simd" + b"+\x0bbulk-memory" + b"-\x07atomics"
    module = tmp_path / "features.wasm"
    module.write_bytes(plain + custom_section("target_features", payload))
    report = inspect_wasm(module)
    assert report["target_features"] == ["simd", "bulk-memory"]
    assert report["section_sizes"]["custom:target_features"] == len("target_features") + 1 + len(
        payload)


def test_malformed_custom_section_content_is_tolerated(tmp_path: Path) -> None:
    plain = compiled("names", tmp_path).read_bytes()
    module = tmp_path / "odd.wasm"
    module.write_bytes(plain + custom_section("producers", b"\x05\x01"))
    report = inspect_wasm(module)
    assert report["producers"] == {}


def test_text_input_is_compiled_in_memory() -> None:
    report = inspect_target(str(CORPUS / "reference_types.wat"))
    assert report["format"] == "text"
    assert {"name": "externs", "kind": "table", "index": 0} in report["exports"]
    assert not (CORPUS / "reference_types.wasm").exists()


def test_component(tmp_path: Path) -> None:
    component = tmp_path / "c.wasm"
    done = subprocess.run([str(wasm_tools()), "parse", "-", "-o", str(component)],
                          input="(component)", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert inspect_wasm(component)["kind"] == "component"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (Path.exists, "no such file"),  # (a no-op: nothing is created)
        (Path.mkdir, "is a directory"),
        (lambda p: p.write_bytes(b"\x7fELF\0\0\0\0"), "not a WebAssembly module"),
    ],
)
def test_not_a_module(setup: Any, message: str, tmp_path: Path) -> None:
    target = tmp_path / "thing"
    setup(target)
    with pytest.raises(UserError, match=message):
        inspect_target(str(target))


def test_cli_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = compiled("wasi_command", tmp_path)
    run = run_cli(capsys, "inspect", str(module), "--json")
    assert run.code == 0
    report = json.loads(run.stdout)
    assert report["wasi"]["exec_model"] == "command"
    assert report["path"] == str(module)
    human = run_cli(capsys, "inspect", str(module))
    assert human.code == 0
    assert human.stdout == ""
    for expected in ("size by section", "fd_write", "_start", "preview1", "command"):
        assert expected in human.stderr


def test_cli_truncated_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = compiled("mvp_numeric", tmp_path)
    cut = tmp_path / "cut.wasm"
    cut.write_bytes(module.read_bytes()[:100])
    run = run_cli(capsys, "inspect", str(cut))
    assert run.code == 2
    # 100 bytes end inside the export section, which declares more than is left.
    assert run.stderr.startswith(f"error: {cut}: export section declares ")
    assert "but only 7 remain (truncated file?)" in run.stderr
