"""Stripping custom sections exactly, and size breakdowns that add up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wasmforge.errors import UserError
from wasmforge.optimize.sizes import CATEGORIES, breakdown_of, size_breakdown
from wasmforge.optimize.strip import StripPlan, strip_sections
from wasmforge.tools import wabt_tool
from wasmforge.wasm.module import parse_module


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def custom(name: str, payload: bytes) -> bytes:
    encoded = name.encode()
    body = leb(len(encoded)) + encoded + payload
    return b"\x00" + leb(len(body)) + body


@pytest.fixture(scope="module")
def base_module(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A module with a name section (from $names), code and data."""
    root = tmp_path_factory.mktemp("strip")
    (root / "m.wat").write_text(
        '(module (memory 1) (data (i32.const 0) "hello")'
        ' (func $answer (export "answer") (result i32) i32.const 42))'
    )
    subprocess.run([wabt_tool("wat2wasm"), "--debug-names", root / "m.wat", "-o", root / "m.wasm"],
                   check=True)
    return (root / "m.wasm").read_bytes()


@pytest.fixture
def decorated(base_module: bytes) -> bytes:
    return (base_module + custom(".debug_info", b"\x01" * 300) + custom(".debug_line", b"\x02" * 50)
            + custom("producers", b"\x00") + custom("sourceMappingURL", b"\x03map")
            + custom("my-metadata", b"keep me"))


def custom_names(data: bytes) -> list[str]:
    return [s.name for s in parse_module(data).sections if s.custom]


def test_breakdown_adds_up_and_sorts_sections(decorated: bytes) -> None:
    sizes = breakdown_of(decorated)
    assert sizes["total"] == len(decorated)
    assert sum(sizes[c] for c in CATEGORIES) == len(decorated)
    assert sizes["debug"] > 350  # both DWARF sections and the source map pointer, with headers
    assert sizes["names"] > 0
    assert sizes["code"] > 0
    assert sizes["data"] > 5
    assert sizes["custom"] == len(custom("producers", b"\x00")) + len(custom("my-metadata", b"keep me"))


def test_size_breakdown_reads_a_file(tmp_path: Path, decorated: bytes) -> None:
    path = tmp_path / "m.wasm"
    path.write_bytes(decorated)
    assert size_breakdown(path) == breakdown_of(decorated)
    with pytest.raises(UserError, match=r"missing\.wasm: cannot read"):
        size_breakdown(tmp_path / "missing.wasm")


def test_strip_debug_keeps_names_and_other_sections(decorated: bytes) -> None:
    stripped, dropped = strip_sections(decorated, StripPlan(debug=True))
    assert dropped == [".debug_info", ".debug_line", "sourceMappingURL"]
    assert custom_names(stripped) == ["name", "producers", "my-metadata"]
    assert len(decorated) - len(stripped) == breakdown_of(decorated)["debug"]


def test_strip_names_and_producers(decorated: bytes) -> None:
    stripped, dropped = strip_sections(decorated, StripPlan(names=True, producers=True))
    assert dropped == ["name", "producers"]
    assert custom_names(stripped) == [".debug_info", ".debug_line", "sourceMappingURL",
                                      "my-metadata"]


def test_nothing_to_strip_is_byte_identical(base_module: bytes) -> None:
    stripped, dropped = strip_sections(base_module, StripPlan(debug=True, producers=True))
    assert dropped == []
    assert stripped == base_module


def test_stripped_module_is_still_valid_and_complete(tmp_path: Path, decorated: bytes) -> None:
    stripped, _ = strip_sections(decorated, StripPlan(debug=True, names=True, producers=True))
    path = tmp_path / "s.wasm"
    path.write_bytes(stripped)
    subprocess.run([wabt_tool("wasm-validate"), path], check=True)
    kept = parse_module(stripped)
    assert [e.name for e in kept.exports] == ["answer"]
    assert custom_names(stripped) == ["my-metadata"]


def test_components_are_refused() -> None:
    component = b"\0asm\x0d\x00\x01\x00"
    with pytest.raises(UserError, match="is a component"):
        strip_sections(component, StripPlan(debug=True), "c.wasm")


def test_plan_description() -> None:
    assert StripPlan(debug=True, producers=True).describe() == "strip debug, producers"
    assert not StripPlan().anything
