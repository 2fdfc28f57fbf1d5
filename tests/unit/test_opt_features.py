"""Feature detection: target_features mapping, the dependency closure, and probing by validation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wasmforge.errors import UserError
from wasmforge.optimize.features import (
    BY_NAME,
    FEATURES,
    FeatureSet,
    dependents,
    detect_features,
    from_target_features,
)
from wasmforge.optimize.validate import feature_argument, one_line_reason
from wasmforge.tools import wabt_tool


def assemble(tmp_path: Path, text: str, name: str = "m") -> Path:
    source = tmp_path / f"{name}.wat"
    source.write_text(text)
    out = tmp_path / f"{name}.wasm"
    subprocess.run([wabt_tool("wat2wasm"), "--enable-all", source, "-o", out], check=True)
    return out


def test_llvm_names_map_to_binaryen_flags() -> None:
    known, unknown = from_target_features(
        ["bulk-memory", "sign-ext", "nontrapping-fptoint", "simd128", "multivalue",
         "reference-types", "mutable-globals", "atomics", "tail-call", "exception-handling",
         "fp16"]
    )
    assert known == {"bulk-memory", "sign-ext", "nontrapping-float-to-int", "simd", "multivalue",
                     "reference-types", "mutable-globals", "threads", "tail-call",
                     "exception-handling"}
    assert unknown == ("fp16",)
    flags = FeatureSet(used=frozenset(), declared=known).binaryen_flags()
    assert flags[0] == "--mvp-features"
    assert "--enable-nontrapping-float-to-int" in flags
    assert "--enable-simd" in flags
    assert "--enable-threads" in flags


def test_disabling_a_feature_disables_what_builds_on_it() -> None:
    assert dependents("simd") == {"simd", "relaxed-simd"}
    assert {"reference-types", "typed-function-references", "gc", "exnref",
            "stack-switching"} <= dependents("reference-types")
    assert dependents("sign-ext") == {"sign-ext"}
    for feature in FEATURES:
        for required in feature.requires:
            assert required in BY_NAME, f"{feature.name} requires unknown {required}"


def test_unsupported_features_are_reported_only_when_used() -> None:
    declared_only = FeatureSet(used=frozenset(), declared=frozenset({"sign-ext"}))
    assert declared_only.unsupported == ()
    uses_gc = FeatureSet(used=frozenset({"gc", "reference-types"}), declared=frozenset())
    assert uses_gc.unsupported == ("gc",)
    assert "--enable-gc" not in uses_gc.binaryen_flags()
    assert "--enable-reference-types" in uses_gc.binaryen_flags()


def test_enabled_order_is_stable() -> None:
    one = FeatureSet(used=frozenset({"simd", "bulk-memory"}), declared=frozenset({"sign-ext"}))
    assert one.enabled == ("sign-ext", "simd", "bulk-memory")
    assert one.as_dict()["from-validation"] == ["bulk-memory", "simd"]


def test_feature_argument_is_exact() -> None:
    assert feature_argument(["simd", "bulk-memory"]) == "--features=-all,floats,gc-types,bulk-memory,simd"


def test_wasm_tools_errors_become_one_line() -> None:
    stderr = ("[2026-01-01T00:00:00Z WARN ] failed to parse DWARF\n"
              "error: func 5 failed to validate\n\nCaused by:\n"
              "    0: SIMD support is not enabled (at offset 0xb3)\n")
    assert one_line_reason(stderr) == (
        "func 5 failed to validate: SIMD support is not enabled (at offset 0xb3)")


def test_mvp_module_needs_nothing(tmp_path: Path) -> None:
    path = assemble(tmp_path, '(module (func (export "f") (result i32) i32.const 1))')
    found = detect_features(path, [], label="mvp")
    assert found.enabled == ()
    assert found.binaryen_flags() == ["--mvp-features"]


@pytest.mark.parametrize(
    ("body", "feature"),
    [
        ('(func (export "f") (param i32) (result i32) local.get 0 i32.extend8_s)', "sign-ext"),
        ('(func (export "f") (param f32) (result i32) local.get 0 i32.trunc_sat_f32_s)',
         "nontrapping-float-to-int"),
        ('(memory 1) (func (export "f") (memory.fill (i32.const 0) (i32.const 1) (i32.const 2)))',
         "bulk-memory"),
        ('(func (export "f") (result i32 i32) i32.const 1 i32.const 2)', "multivalue"),
        (('(func (export "f") (param i32) (result i32) (i32x4.extract_lane 0 (i32x4.splat '
          '(local.get 0))))'), "simd"),
        ('(global (export "g") (mut i32) (i32.const 0))', "mutable-globals"),
        ('(table 1 funcref) (func (export "f") (result funcref) (table.get 0 (i32.const 0)))',
         "reference-types"),
        ('(func $g (result i32) i32.const 1) (func (export "f") (result i32) return_call $g)',
         "tail-call"),
        ('(memory 1 1 shared) (func (export "f") (result i32) (i32.atomic.load (i32.const 0)))',
         "threads"),
    ],
)
def test_each_feature_is_found_by_validation(tmp_path: Path, body: str, feature: str) -> None:
    path = assemble(tmp_path, f"(module {body})")
    found = detect_features(path, [], label="probe")
    assert found.used == {feature}
    assert f"--enable-{feature}" in found.binaryen_flags()


def test_declared_and_used_features_are_combined(tmp_path: Path) -> None:
    path = assemble(tmp_path, '(module (func (export "f") (param i32) (result i32) '
                              'local.get 0 i32.extend16_s))')
    found = detect_features(path, ["mutable-globals", "unknown-thing"], label="m")
    assert found.enabled == ("sign-ext", "mutable-globals")
    assert found.ignored == ("unknown-thing",)


def test_invalid_module_is_a_user_error_naming_it(tmp_path: Path) -> None:
    path = assemble(tmp_path, '(module (func (export "f") (result i32) i32.const 1))')
    data = bytearray(path.read_bytes())
    data[data.rindex(0x41)] = 0x42  # i32.const -> i64.const: the function now returns the wrong type
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"^broken\.wasm: not a valid WebAssembly module: .*type"):
        detect_features(path, [], label="broken.wasm")


@pytest.mark.parametrize(
    ("declared", "used"),
    [
        # What compilers do: declare a few features, use some of them. Only those are probed.
        (["sign-ext", "mutable-globals", "bulk-memory"], {"sign-ext"}),
        # A section that under-declares (simd is used, not declared): every feature is probed.
        (["mutable-globals"], {"sign-ext", "simd"}),
    ],
)
def test_declared_features_narrow_the_probe_without_changing_its_answer(
    tmp_path: Path, declared: list[str], used: set[str]
) -> None:
    uses_simd = "simd" in used
    body = ('(func (export "f") (param i32) (result i32) local.get 0 i32.extend16_s)'
            + ('(func (export "g") (param i32) (result i32) (i32x4.extract_lane 0 (i32x4.splat '
               '(local.get 0))))' if uses_simd else ""))
    path = assemble(tmp_path, f"(module {body})")
    found = detect_features(path, declared, label="m")
    assert found.used == used
    assert found.used == detect_features(path, [], label="m").used  # the full probe agrees
