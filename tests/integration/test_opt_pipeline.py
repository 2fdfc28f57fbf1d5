"""The optimiser with real binaryen where wasmforge runs it: the wasi-sdk image of each toolchain
set (binaryen 120 in debian-13, 108 in debian-12) and the host's wasm-opt; WABT, wasm-tools and
wasmtime.

Modules are executed with wasmtime before and after optimisation: the results must not change.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.opt_support import (
    BINARYEN,
    BLOCK_PARAMS_WAT,
    HOST,
    PASSIVE_ELEMENTS_WAT,
    TABLE_INIT_CALLS,
    TABLE_INIT_RESULTS,
    TABLE_INIT_WAT,
    Optimiser,
    need_engine,
    run_exports,
)
from tests.needs import need
from wasmforge.config.resolve import Profile
from wasmforge.errors import ToolchainError, UserError
from wasmforge.optimize.invoke import ToolInvoker, host_invoker, tool_failure
from wasmforge.optimize.pipeline import optimize_module
from wasmforge.optimize.sizes import size_breakdown
from wasmforge.tools import wabt_tool, wasm_tools
from wasmforge.wasm.module import read_module_file

pytestmark = pytest.mark.toolchain

# Bulk memory, sign extension, non-trapping conversions, SIMD and multi-value, each behind an export
# with a checkable result. Nobody names these features: the optimiser must find them.
FEATURES_WAT = """
(module
  (memory (export "memory") 1)
  (func $divmod (param i32 i32) (result i32 i32)
    (i32.div_u (local.get 0) (local.get 1)) (i32.rem_u (local.get 0) (local.get 1)))
  (func (export "divmod") (param i32 i32) (result i32 i32)
    (call $divmod (local.get 0) (local.get 1)))
  (func (export "divmod_sum") (param i32 i32) (result i32)
    (call $divmod (local.get 0) (local.get 1)) i32.add)
  (func (export "ext8") (param i32) (result i32) (i32.extend8_s (local.get 0)))
  (func (export "ext16_64") (param i64) (result i64) (i64.extend16_s (local.get 0)))
  (func (export "sat") (param f64) (result i32) (i32.trunc_sat_f64_s (local.get 0)))
  (func (export "sat_u") (param f32) (result i32) (i32.trunc_sat_f32_u (local.get 0)))
  (func (export "fill_copy") (param i32 i32) (result i32)
    (memory.fill (i32.const 100) (local.get 0) (local.get 1))
    (memory.copy (i32.const 300) (i32.const 100) (local.get 1))
    (i32.add (i32.load8_u (i32.const 300)) (i32.load8_u (i32.add (i32.const 299) (local.get 1)))))
  (func (export "dot") (param i32 i32 i32 i32) (result i32)
    (local $v v128)
    (local.set $v (i32x4.mul
      (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1
        (i32x4.splat (local.get 0)) (local.get 1)) (local.get 2)) (local.get 3))
      (v128.const i32x4 1 10 100 1000)))
    (i32.add (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
             (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))
)
"""
CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("divmod", (17, 5)), ("divmod_sum", (100, 7)), ("ext8", (0x80,)), ("ext8", (0x7F,)),
    ("ext16_64", (0x8001,)), ("sat", (1e20,)), ("sat", (-3.7,)), ("sat", (float("nan"),)),
    ("sat_u", (-5.0,)), ("fill_copy", (7, 20)), ("dot", (1, 2, 3, 4)),
]


def profile(level: int | str = "z", *, debug: bool = False, names: bool = False,
            producers: bool = False, passes: tuple[str, ...] = ()) -> Profile:
    return Profile(name="test", opt_level=level, debug_info=not debug, wasm_opt=True,  # type: ignore[arg-type]
                   wasm_opt_passes=passes, strip_debug=debug, strip_names=names,
                   strip_producers=producers)


def assemble(tmp: Path, text: str, name: str) -> Path:
    (tmp / f"{name}.wat").write_text(text)
    out = tmp / f"{name}.wasm"
    subprocess.run([wabt_tool("wat2wasm"), tmp / f"{name}.wat", "-o", out], check=True)
    return out


@pytest.fixture
def features_module(tmp_path: Path) -> Path:
    return assemble(tmp_path, FEATURES_WAT, "features")


def test_feature_module_is_optimised_without_naming_features(features_module: Path,
                                                             optimiser: Optimiser) -> None:
    expected = run_exports(features_module, CALLS)
    assert expected[0] == [3, 2]  # multi-value really returns two values
    out = optimiser.workdir / "out" / "features.wasm"
    report = optimize_module(features_module, out, profile("z"), invoke=optimiser.invoke,
                             label="features.wasm")
    assert set(report.features.enabled) == {"sign-ext", "nontrapping-float-to-int", "simd",
                                            "bulk-memory", "multivalue"}
    assert run_exports(out, CALLS) == expected
    subprocess.run([wasm_tools(), "validate", out], check=True)
    assert [s.name for s in report.steps] in ([], ["wasm-opt -Oz"])


@pytest.mark.docker
def test_opt_command_on_the_feature_module(features_module: Path, tmp_path: Path) -> None:
    need_engine()
    out = tmp_path / "opt.wasm"
    done = subprocess.run(
        [sys.executable, "-m", "wasmforge", "opt", str(features_module), "-o", str(out), "-O3",
         "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["output"] == str(out)
    assert result["size-after"] == out.stat().st_size
    assert "simd" in result["features"]["enabled"]
    assert result["steps"][0]["name"] == "wasm-opt -O3"
    assert "--enable-simd" in result["steps"][0]["detail"]
    assert "section" in done.stderr  # the human table went to stderr
    assert result["wasm-opt"]["binaryen"] == BINARYEN["debian-13"]  # the default set's image
    assert run_exports(out, CALLS) == run_exports(features_module, CALLS)


def test_output_is_deterministic(features_module: Path, optimiser: Optimiser) -> None:
    outputs = []
    for run in ("a", "b"):
        out = optimiser.workdir / run / "m.wasm"
        optimize_module(features_module, out, profile(3, producers=True), invoke=optimiser.invoke,
                        label="m")
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def fake_wasm_opt(tmp: Path, payload: Path | None) -> ToolInvoker:
    """A ToolInvoker whose wasm-opt is a small script that writes garbage (or ``payload``)."""
    script = tmp / "bad-wasm-opt"
    copy = f'cp "{payload}" "$out"' if payload else 'printf "this is not wasm" > "$out"'
    script.write_text(
        "#!/bin/sh\n"
        'out=""\nwhile [ $# -gt 0 ]; do\n  if [ "$1" = "-o" ]; then out="$2"; fi\n  shift\ndone\n'
        f"{copy}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    def invoke(argv: list[str] | Any, cwd: Path) -> None:
        assert argv[0] == "wasm-opt"
        completed = subprocess.run([str(script), *argv[1:]], cwd=cwd, capture_output=True,
                                   check=False)
        if completed.returncode != 0:
            raise tool_failure(argv[0], completed.returncode, completed.stderr)

    return invoke


def test_garbage_from_wasm_opt_fails_naming_the_step(features_module: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "out.wasm"
    with pytest.raises(ToolchainError) as error:
        optimize_module(features_module, out, profile("z"), invoke=fake_wasm_opt(tmp_path, None),
                        label="features.wasm")
    assert error.value.message.startswith(
        "features.wasm: wasm-opt -Oz produced an invalid module: ")
    assert "magic" in error.value.message
    assert not out.exists()
    assert not list(tmp_path.glob(".wasmforge-opt-*"))  # the work directory is gone


def test_output_using_a_feature_the_input_did_not_fails(tmp_path: Path) -> None:
    """Validation is exact: a step may not introduce a feature the input does not use."""
    mvp = assemble(tmp_path, '(module (func (export "f") (param i32) (result i32)'
                             ' local.get 0 i32.const 24 i32.shl i32.const 24 i32.shr_s))', "mvp")
    with_sign_ext = assemble(tmp_path, '(module (func (export "f") (param i32) (result i32)'
                                       ' local.get 0 i32.extend8_s))', "signext")
    with pytest.raises(ToolchainError, match=r"^mvp: wasm-opt -O2 produced an invalid module: .*"
                                             r"sign extension"):
        optimize_module(mvp, tmp_path / "o.wasm", profile(2),
                        invoke=fake_wasm_opt(tmp_path, with_sign_ext), label="mvp")


def test_a_failing_tool_is_a_toolchain_error(features_module: Path, optimiser: Optimiser) -> None:
    with pytest.raises(ToolchainError, match="wasm-opt failed"):
        optimize_module(features_module, optimiser.workdir / "o.wasm",
                        profile(2, passes=("--no-such-pass",)), invoke=optimiser.invoke, label="m")


def test_invalid_and_non_module_inputs_are_user_errors(tmp_path: Path) -> None:
    text = tmp_path / "text.wasm"
    text.write_text("(module)")
    with pytest.raises(UserError, match="looks like WebAssembly text"):
        optimize_module(text, tmp_path / "o.wasm", profile(), invoke=host_invoker(), label="t")
    component = tmp_path / "c.wasm"
    component.write_bytes(b"\0asm\x0d\x00\x01\x00")
    with pytest.raises(UserError, match="component"):
        optimize_module(component, tmp_path / "o.wasm", profile(), invoke=host_invoker(),
                        label="c")


def test_wat_module_with_dwarf_shrinks_with_strip_debug(tmp_path: Path,
                                                        optimiser: Optimiser) -> None:
    (tmp_path / "f.wat").write_text(FEATURES_WAT)
    debug = tmp_path / "f.wasm"
    # wasm-tools writes real DWARF (line tables pointing into the .wat) with -g.
    subprocess.run([wasm_tools(), "parse", "-g", tmp_path / "f.wat", "-o", debug], check=True)
    before = size_breakdown(debug)
    assert before["debug"] > 0
    out = optimiser.workdir / "out.wasm"
    report = optimize_module(debug, out, profile("s", debug=True), invoke=optimiser.invoke,
                             label="f.wasm")
    assert report.after["debug"] == 0
    assert report.after["total"] < before["total"]
    assert report.after["names"] == before["names"]  # strip-debug keeps names
    assert run_exports(out, CALLS) == run_exports(debug, CALLS)


def clang() -> str | None:
    found = shutil.which("clang-16") or shutil.which("clang")
    wasi = Path("/usr/lib/wasm32-wasi/libc.a").is_file()
    return found if found and wasi else None


def run_wasi(path: Path, tmp: Path) -> str:
    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    config = wasmtime.WasiConfig()
    stdout = tmp / f"{path.stem}.stdout"
    config.stdout_file = str(stdout)
    store.set_wasi(config)
    instance = linker.instantiate(store, wasmtime.Module(engine, path.read_bytes()))
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    code = 0
    try:
        start(store)
    except wasmtime.ExitTrap as done:  # proc_exit, even with status 0
        code = done.code
    assert code == 0
    return stdout.read_text()


C_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(void) {
    char buf[64];
    memset(buf, 'x', sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    printf("fib(20)=%d len=%zu %.3f\n", fib(20), strlen(buf), 2.0 / 3.0);
    return 0;
}
"""


@pytest.mark.parametrize("names", [False, True])
def test_clang_debug_build_shrinks_and_still_runs(tmp_path: Path, names: bool,
                                                  optimiser: Optimiser) -> None:
    compiler = clang()
    need(compiler is not None, "clang with the wasm32-wasi sysroot (Debian wasi-libc)")
    assert compiler is not None
    (tmp_path / "p.c").write_text(C_PROGRAM)
    debug = tmp_path / "p.wasm"
    subprocess.run([compiler, "--target=wasm32-wasi", "--sysroot=/usr", "-O0", "-g",
                    tmp_path / "p.c", "-o", debug], check=True)
    info = read_module_file(debug)
    assert info.target_features  # clang declares its features
    out = optimiser.workdir / "out" / "p.wasm"
    report = optimize_module(debug, out, profile("s", debug=True, names=names, producers=True),
                             invoke=optimiser.invoke, label="p.wasm")
    assert report.before["debug"] > 0
    assert report.after["debug"] == 0
    assert (report.after["names"] == 0) is names
    assert report.after["total"] < report.before["total"] / 3
    assert report.features.declared == set(info.target_features) & {"sign-ext", "mutable-globals"}
    assert [s.name.split()[0] for s in report.steps] == ["strip", "wasm-opt"]
    assert run_wasi(out, tmp_path) == run_wasi(debug, tmp_path) == "fib(20)=6765 len=63 0.667\n"


def test_each_optimiser_runs_the_binaryen_its_set_pins(optimiser: Optimiser) -> None:
    version = optimiser.version()
    assert version is not None
    if optimiser.name != HOST:
        assert version.startswith(f"wasm-opt version {BINARYEN[optimiser.name]}")


def test_table_init_is_optimised_by_binaryen_120_and_kept_by_108(
    tmp_path: Path, optimiser: Optimiser, capsys: pytest.CaptureFixture[str]
) -> None:
    """binaryen 108 cannot parse table.init: the module is kept as it was, with a warning. 120
    optimises it: smaller, valid, and the exports give the same results."""
    module = assemble(tmp_path, TABLE_INIT_WAT, "table_init")
    assert run_exports(module, TABLE_INIT_CALLS) == TABLE_INIT_RESULTS
    out = optimiser.workdir / "out.wasm"
    report = optimize_module(module, out, profile("s"), invoke=optimiser.invoke, label="ti")
    assert set(report.features.enabled) == {"bulk-memory", "reference-types"}
    version = optimiser.version() or ""
    if version.startswith("wasm-opt version 108"):
        assert len(report.notes) == 1
        assert report.notes[0].startswith(  # 0xfc 12 is table.init
            "wasm-opt skipped: binaryen cannot read this module (parse exception: invalid code "
            "after misc prefix: 12")
        assert f"warning: ti: {report.notes[0]}" in capsys.readouterr().err
        assert out.read_bytes() == module.read_bytes()
        assert report.steps == ()
    else:
        assert [s.name for s in report.steps] == ["wasm-opt -Os"]
        assert report.notes == ()
        assert report.after["total"] < report.before["total"]
        assert report.after["code"] < report.before["code"]
    subprocess.run([wasm_tools(), "validate", out], check=True)
    subprocess.run([wabt_tool("wasm-validate"), "--enable-all", out], check=True)
    assert run_exports(out, TABLE_INIT_CALLS) == TABLE_INIT_RESULTS


@pytest.mark.parametrize(("wat", "features", "binaryen_120_says"), [
    (BLOCK_PARAMS_WAT, ("multivalue",), "parse exception: control flow inputs are not supported"),
    (PASSIVE_ELEMENTS_WAT, ("bulk-memory",),
     "its validator rejects it: all element segments should refer to a single table in MVP"),
], ids=["block-params", "passive-elements"])
def test_what_binaryen_120_refuses_is_still_kept_with_a_warning(
    tmp_path: Path, optimiser: Optimiser, capsys: pytest.CaptureFixture[str], wat: str,
    features: tuple[str, ...], binaryen_120_says: str,
) -> None:
    """A block with parameters (neither 108 nor 120 reads it) and table.init without reference
    types (108 cannot parse it, 120 rejects it as invalid): the module is kept, with a warning."""
    module = assemble(tmp_path, wat, "refused")
    expected = run_exports(module, [("f", (1,))])
    out = optimiser.workdir / "out.wasm"
    report = optimize_module(module, out, profile("s"), invoke=optimiser.invoke, label="m")
    assert report.features.enabled == features
    assert len(report.notes) == 1
    assert report.notes[0].startswith("wasm-opt skipped: binaryen cannot read this module (")
    if (optimiser.version() or "").startswith("wasm-opt version 120"):
        assert binaryen_120_says in report.notes[0]
    assert f"warning: m: {report.notes[0]}" in capsys.readouterr().err
    assert out.read_bytes() == module.read_bytes()
    assert run_exports(out, [("f", (1,))]) == expected
