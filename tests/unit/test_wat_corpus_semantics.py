"""The corpus is real code: compile each module with wasmforge and run its exports on wasmtime."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from tests.unit.wat_support import CORPUS
from wasmforge.wasm.wabt import text_to_binary


class Loaded:
    """One instantiated corpus module; ``call(name, *args)`` runs an export."""

    def __init__(self, name: str, linker: wasmtime.Linker | None = None,
                 store: wasmtime.Store | None = None) -> None:
        self.store = store or wasmtime.Store()
        module = wasmtime.Module(self.store.engine,
                                 text_to_binary(CORPUS / f"{name}.wat", debug_names=True))
        if linker is None:
            self.instance = wasmtime.Instance(self.store, module, [])
        else:
            self.instance = linker.instantiate(self.store, module)

    def export(self, name: str) -> Any:
        return self.instance.exports(self.store)[name]

    def call(self, name: str, *args: Any) -> Any:
        function: Callable[..., Any] = self.export(name)
        return function(self.store, *args)


def test_control_flow() -> None:
    m = Loaded("mvp_control")
    assert m.call("started") == 1  # the start function ran at instantiation
    assert m.call("answer") == 42
    assert m.call("fac", 20) == 2432902008176640000
    assert m.call("fib", 10) == 55
    assert [m.call("classify", x) for x in range(5)] == [100, 200, 300, -1, -1]
    assert [m.call("apply", op, 7, 3) for op in range(4)] == [10, 4, 21, 7]
    assert [m.call("sign", x) for x in (-5, 0, 9)] == [-1, 0, 1]
    assert m.call("drop_and_return", 4) == 5
    m.call("fib", 1)
    assert m.export("counter").value(m.store) == 2
    with pytest.raises(wasmtime.Trap):
        m.call("trap")
    with pytest.raises(wasmtime.Trap):
        m.call("apply", 9, 1, 1)  # outside the table


def test_numeric_families() -> None:
    m = Loaded("mvp_numeric")
    assert m.call("i32_ops", 100, 7) == -939497671
    assert m.call("i64_ops", 100, 7) == -4035225266123937959
    assert m.call("f32_ops", 2.5, -1.5) == pytest.approx(10.66447258)
    assert m.call("f64_ops", 2.5, -1.5) == pytest.approx(10.664472163417523)
    assert m.call("conversions", 3.7) == 28.0
    assert m.call("wrap", 2**32 + 5) == 5
    assert m.call("extend_s", -1) == -1
    assert m.call("extend_u", -1) == 2**32 - 1
    assert m.call("f32_bits", 1.0) == 0x3F800000
    assert m.call("f64_bits", -2.0) == -(2**62)
    assert m.call("bits_f32", 0x40490FDB) == pytest.approx(math.pi, rel=1e-6)
    assert m.call("bits_f64", 0x4000000000000000) == 2.0
    assert m.call("consts") == 2.5
    with pytest.raises(wasmtime.Trap):
        m.call("i32_ops", 1, 0)  # integer division by zero traps


def test_memory_widths() -> None:
    m = Loaded("mvp_memory")
    assert m.call("load_widths") == 578437695718950397
    assert m.call("store_widths", 0x1122334455667788) == 0x5566778877880088
    assert m.call("store_i32", 0x11223344) == 0x33440044
    assert m.call("floats_roundtrip", 1.5, 2.25) == 3.75
    assert m.call("strlen", 64) == len("wasmforge")
    assert m.call("pages") == 1
    assert m.call("grow", 2) == 1
    assert m.call("pages") == 3
    assert m.call("grow", 5) == -1  # beyond the declared maximum of 4


def test_simd() -> None:
    m = Loaded("simd")
    assert m.call("dot") == 300
    assert m.call("shuffle") == int.from_bytes(bytes(range(15, 7, -1)), "little")
    assert m.call("swizzle_lane") == 13
    assert m.call("saturating") == 127
    assert m.call("logic") == 2
    assert m.call("widen_narrow") == -1 + (1 + 2)  # narrowed lane 0, plus dot lane 0
    assert m.call("lanes_and_memory") == 9
    assert m.call("conversions") == -2.0
    assert m.call("f32x4_sum", 1.0) == 14.0
    assert m.call("bitmask", 0) == 0b0101


def test_bulk_memory() -> None:
    m = Loaded("bulk_memory")
    assert m.call("build") == 113
    assert bytes(m.export("memory").read(m.store, 100, 113)) == b"hellohello!!!"
    assert m.call("digit", 7) == ord("7")
    assert m.call("table_sum") == 1 + 2 + 3
    with pytest.raises(wasmtime.Trap):
        m.call("init_dropped")  # the segment was dropped by "build"


def test_reference_types() -> None:
    m = Loaded("reference_types")
    assert m.call("is_null", None) == 1
    assert m.call("is_null", "host value") == 0
    token = {"host": "object"}
    m.call("keep", 1, token)
    assert m.call("fetch", 1) is token
    assert m.call("grow_funcs", 3) == 1
    assert m.call("funcs_size") == 4
    assert m.call("call_slot", 0) == 7
    assert m.call("call_slot", 3) == 8
    m.call("clear_externs")
    assert m.call("fetch", 1) is None
    assert m.call("null_func") == 1


def test_multi_value() -> None:
    m = Loaded("multi_value")
    assert m.call("swap", 1, 2) == [2, 1]
    assert m.call("divmod", 17, 5) == [3, 2]
    assert m.call("block_params", 3, 10) == 7
    assert m.call("loop_params", 10) == 55
    assert m.call("if_params", 1) == [20, 5.0]
    assert m.call("if_params", 0) == [-10, -2.5]


def test_sign_extension_and_saturation() -> None:
    m = Loaded("sign_ext_sat")
    assert m.call("i32_extend8", 0x80) == -128
    assert m.call("i32_extend16", 0x7FFF) == 0x7FFF
    assert m.call("i64_extend8", 0xFF) == -1
    assert m.call("i64_extend16", 0x8000) == -32768
    assert m.call("i64_extend32", 0xFFFFFFFF) == -1
    assert m.call("sat_i32_f32_s", float("nan")) == 0
    assert m.call("sat_i32_f64_s", 1e20) == 2**31 - 1
    assert m.call("sat_i32_f64_u", -5.0) == 0
    assert m.call("sat_i32_f32_u", 3e9) == -1294967296  # 3e9 as u32, seen as i32
    assert m.call("sat_i64_f64_s", -1e30) == -(2**63)
    assert m.call("sat_i64_f32_s", 1.5) == 1
    assert m.call("sat_i64_f32_u", -1.0) == 0
    assert m.call("sat_i64_f64_u", 1e30) == -1  # u64 max


def test_names_module() -> None:
    m = Loaded("names")
    assert m.call("manhattan", -3, 4) == 7
    assert m.call("scaled", 5) == 15
    assert m.call("scaled", 0) == 0
    assert m.call("first_byte") == ord("n")


def _wasi(tmp_path: Path) -> tuple[wasmtime.Linker, wasmtime.Store, Path]:
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    stdout = tmp_path / "stdout"
    config.stdout_file = str(stdout)
    config.env = [("ONE", "1"), ("TWO", "2")]
    store.set_wasi(config)
    return linker, store, stdout


def test_wasi_command_prints(tmp_path: Path) -> None:
    linker, store, stdout = _wasi(tmp_path)
    Loaded("wasi_command", linker, store).call("_start")
    assert stdout.read_text() == "hello from wat\n"


def test_wasi_reactor_initialises_and_reads_the_host(tmp_path: Path) -> None:
    linker, store, _ = _wasi(tmp_path)
    m = Loaded("wasi_reactor", linker, store)
    assert m.call("ready") == 0
    m.call("_initialize")
    assert m.call("ready") == 1
    assert m.call("env_count") == 2
    assert m.call("now_nonzero") == 1
