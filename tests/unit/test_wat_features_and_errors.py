"""Feature-flag resolution against WABT's own list, and the parsing of WABT's error output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge.errors import UserError
from wasmforge.wasm.wabt import (
    FeatureRequest,
    feature_request,
    first_binary_error,
    first_text_error,
    parse_feature_help,
    tool_features,
)

HELP = """options:
      --help                                   Print this help message
      --disable-simd                           Disable SIMD support
      --enable-threads                         Enable Threading support
      --disable-bulk-memory                    Disable Bulk-memory operations
      --enable-all                             Enable all features
  -o, --output=FILE                            Output wasm binary file.
"""


def test_help_parsing_finds_defaults() -> None:
    features = parse_feature_help(HELP)
    assert dict(features.defaults) == {"simd": True, "threads": False, "bulk-memory": True}


def test_only_real_changes_become_flags() -> None:
    features = parse_feature_help(HELP)
    request = feature_request(["simd", "threads"], ["bulk_memory"], [])
    assert features.argv(request) == ["--disable-bulk-memory", "--enable-threads"]


def test_later_flags_win_and_all_expands() -> None:
    features = parse_feature_help(HELP)
    assert features.argv(feature_request([], [], ["--enable-threads", "--disable-threads"])) == []
    everything = feature_request([], ["simd"], ["--enable-all"])
    assert features.argv(everything) == ["--disable-simd", "--enable-threads"]


def test_unknown_feature_suggests_the_closest() -> None:
    features = parse_feature_help(HELP)
    with pytest.raises(UserError, match="unknown WebAssembly feature 'thread'") as error:
        features.argv(FeatureRequest((("thread", True),)))
    assert error.value.hint is not None
    assert error.value.hint.startswith("did you mean 'threads'?")


@pytest.mark.parametrize("flag", ["--disable-all", "--simd", "-x"])
def test_bad_wabt_style_flags(flag: str) -> None:
    with pytest.raises(UserError):
        feature_request([], [], [flag])


def test_installed_wabt_lists_the_usual_features() -> None:
    features = tool_features("wat2wasm").defaults
    for name in ("simd", "bulk-memory", "reference-types", "multi-value", "sign-extension",
                 "saturating-float-to-int", "threads", "memory64"):
        assert name in features
    assert features["simd"] is True
    assert features["threads"] is False


def test_first_text_error_and_count() -> None:
    stderr = (
        "a.wat:6:9: error: unexpected token foo, expected ).\n"
        "  (func foo bar)\n        ^^^\n"
        "a.wat:6:13: error: unexpected token bar.\n"
        "  (func foo bar)\n            ^^^\n"
        "a.wat:7:1: error: another.\n"
    )
    assert first_text_error(stderr, "a.wat") == (
        "a.wat:6:9: unexpected token foo, expected ). (and 2 more errors)"
    )
    assert first_text_error("a.wat:1:2: error: only one\n", "a.wat") == "a.wat:1:2: only one"


def test_paths_with_colons_keep_their_name() -> None:
    assert first_text_error("c:/x y/a.wat:3:4: error: bad\n", "ignored") == "c:/x y/a.wat:3:4: bad"


def test_binary_errors_with_and_without_file_names() -> None:
    assert first_binary_error("m.wasm:000001a: error: type mismatch\n", "m.wasm") == (
        "m.wasm: type mismatch (at byte 0x1a)"
    )
    assert first_binary_error("0000014: error: unable to read u32 leb128\n", "m.wasm") == (
        "m.wasm: unable to read u32 leb128 (at byte 0x14)"
    )
    assert first_binary_error("", "m.wasm") == "m.wasm: failed with no message"
    assert first_binary_error("something odd\n", "m.wasm") == "m.wasm: something odd"


def test_a_nul_byte_in_text_is_named_by_line_and_column(tmp_path: Path) -> None:
    source = tmp_path / "nul.wat"
    source.write_bytes(b"(module\n  (func)\x00)\n")
    done = subprocess.run([sys.executable, "-m", "wasmforge", "wat2wasm", str(source)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert f"{source}:2:9: a NUL byte in WebAssembly text" in done.stderr
