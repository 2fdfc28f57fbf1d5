"""The structural reader of wasm binaries (wasmforge.wasm.module) on good, odd and broken input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.wat_support import CORPUS, corpus_files
from wasmforge.errors import UserError
from wasmforge.wasm.module import MalformedModuleError, parse_module, read_module_file
from wasmforge.wasm.wabt import text_to_binary

HEADER = b"\0asm\x01\0\0\0"


def section(section_id: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([section_id, len(payload)]) + payload


def malformed(data: bytes) -> str:
    with pytest.raises(MalformedModuleError) as error:
        parse_module(data, "t.wasm")
    return error.value.message


@pytest.mark.parametrize("source", corpus_files(), ids=lambda p: p.stem)
def test_every_corpus_module_parses(source: Path) -> None:
    data = text_to_binary(source, debug_names=True)
    info = parse_module(data, source.name)
    assert info.kind == "module"
    assert info.size == len(data)
    assert info.has_names
    assert info.exports


def test_minimal_module() -> None:
    info = parse_module(HEADER)
    assert info.sections == []
    assert info.exec_model == "library"
    assert info.wasi_version is None


def test_empty_file() -> None:
    assert malformed(b"") == "t.wasm: empty file"


def test_text_where_binary_expected() -> None:
    message = malformed((CORPUS / "names.wat").read_bytes())
    assert message == ("t.wasm: not a WebAssembly binary (bad magic number); it looks like "
                       "WebAssembly text: use wat2wasm")
    assert "looks like WebAssembly text" in malformed(b"\n  (module)")


def test_bad_magic_and_version() -> None:
    assert "bad magic number" in malformed(b"\x7fELF\x02\x01\x01\0\0\0")
    assert malformed(b"\0asm\x02\0\0\0") == "t.wasm: unsupported binary version 2"


@pytest.mark.parametrize("length", range(1, 8))
def test_truncated_header(length: int) -> None:
    message = malformed(HEADER[:length])
    if length < 4:
        assert "bad magic number" in message
    else:
        assert message == f"t.wasm: truncated header ({length} bytes; a module starts with 8)"


def test_component_header() -> None:
    assert parse_module(b"\0asm\x0d\0\x01\0").kind == "component"


def test_unknown_section_id() -> None:
    message = malformed(HEADER + section(1, b"\0") + bytes([0x42, 0]))
    assert message == "t.wasm: unknown section id 66 at byte 11"


def test_section_longer_than_the_file() -> None:
    message = malformed(HEADER + bytes([10, 50]) + b"\0" * 5)
    assert message == ("t.wasm: code section declares 50 bytes but only 5 remain (truncated file?)"
                       " at byte 10")


def test_section_size_missing() -> None:
    assert malformed(HEADER + bytes([10])) == (
        "t.wasm: unexpected end of data (truncated file?) at byte 9")


def test_leb_too_long() -> None:
    # A section size whose LEB128 encoding runs past 5 bytes.
    message = malformed(HEADER + bytes([1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))
    assert message == "t.wasm: LEB128 integer too long for u32 at byte 9"


def test_leb_too_large() -> None:
    # Five bytes, but the last one sets bits above 32.
    message = malformed(HEADER + bytes([1, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]))
    assert message == "t.wasm: LEB128 integer too large for u32 at byte 9"


def test_redundant_leb_padding_is_fine() -> None:
    # "0 with padding" is a valid (non-minimal) LEB128 encoding.
    info = parse_module(HEADER + bytes([1, 0x81, 0x00]) + b"\0")
    assert info.sections[0].size == 1


def test_leftover_bytes_in_a_section() -> None:
    # An export section that says 0 exports but carries a byte more.
    message = malformed(HEADER + section(7, b"\0\0"))
    assert message == "t.wasm: export section: 1 unexpected bytes at the end of the section at byte 11"


def test_truncated_inside_a_section() -> None:
    # One export named "ab" declared, but the name is cut after one byte.
    message = malformed(HEADER + section(7, b"\x01\x02a"))
    assert message.startswith("t.wasm: export section: unexpected end of data (needed 2 bytes)")


def test_bad_export_kind() -> None:
    message = malformed(HEADER + section(7, b"\x01\x01f\x09\x00"))
    assert message == "t.wasm: export section: unknown export kind 0x09 at byte 13"


def test_bad_import_kind() -> None:
    message = malformed(HEADER + section(2, b"\x01\x01m\x01n\x07\x00"))
    assert "import section: unknown import kind 0x07" in message


def test_bad_limits_flags() -> None:
    message = malformed(HEADER + section(5, b"\x01\x10\x01"))
    assert message == "t.wasm: memory section: unknown limits flags 0x10 at byte 11"


def test_name_not_utf8() -> None:
    message = malformed(HEADER + section(0, b"\x02\xff\xfe"))
    assert "name is not valid UTF-8" in message


def test_memory64_and_custom_page_size() -> None:
    # flags 0x05: has max + memory64; flags 0x09: has max + custom page size (log2 = 0).
    info = parse_module(HEADER + section(5, b"\x02\x05\x01\x02\x09\x01\x01\x00"))
    assert [(m.minimum, m.maximum, m.memory64) for m in info.memories] == [(1, 2, True),
                                                                          (1, 1, False)]


def test_unknown_types_stop_signature_reading() -> None:
    # A GC struct type (0x5f) is not described, and the import that uses type 0 has no signature.
    types = section(1, b"\x01\x5f\x00")
    imports = section(2, b"\x01\x01m\x01f\x00\x00")
    info = parse_module(HEADER + types + imports)
    assert info.imports[0].signature is None


def test_read_module_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read: Is a directory"):
        read_module_file(tmp_path)
    with pytest.raises(UserError, match="cannot read: No such file"):
        read_module_file(tmp_path / "missing.wasm")
