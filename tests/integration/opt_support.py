"""Helpers for the optimiser's integration tests: wasm-opt where wasmforge runs it (the wasi-sdk image
of each toolchain set, or the host's), modules binaryen versions disagree on, and running exports.

Binaryen versions, as the tests found them:

* 108 (debian-12 set, Debian 12's host package) cannot parse ``table.init``;
* 120 (debian-13 set, the default) can, when the module also uses reference types (without them
  its validator rejects a passive element segment: "all element segments should refer to a single
  table in MVP");
* neither reads blocks with parameters (multi-value) nor ``elem.drop``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build_support import docker_engine_answers
from tests.needs import need
from wasmforge.commands.opt import OPTIMIZER_IMAGE, stand_in_config
from wasmforge.optimize.invoke import ToolInvoker, host_invoker, tool_version
from wasmforge.runner.docker import DockerRunner
from wasmforge.toolchain_sets import TOOLCHAIN_SETS, ToolchainSetName
from wasmforge.tools import wabt_tool

HOST = "host"
# The binaryen major version of each set's images.
BINARYEN = {"debian-13": "120", "debian-12": "108"}
# Where an optimiser test runs wasm-opt: each set's image (needs Docker), and the host's.
OPTIMISERS = [*(pytest.param(s, marks=pytest.mark.docker) for s in TOOLCHAIN_SETS), HOST]
SETS = [pytest.param(s, marks=pytest.mark.docker) for s in TOOLCHAIN_SETS]

# table.init of a passive element segment, with reference types (table.size) beside it, plus code
# wasm-opt shrinks (a helper to inline, constants to fold). Binaryen 108 cannot parse table.init;
# 120 optimises the module.
TABLE_INIT_WAT = """
(module
  (type $binop (func (param i32 i32) (result i32)))
  (table $ops 3 funcref)
  (elem $all func $add $sub $mul)
  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "fill") (result i32)
    (table.init $ops $all (i32.const 0) (i32.const 0) (i32.const 3))
    (table.size $ops))
  (func (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
    (local $scaled i32)
    (local.set $scaled (call $double (i32.add (i32.const 20) (i32.const 1))))
    (i32.add
      (call_indirect $ops (type $binop) (local.get $a) (local.get $b) (local.get $op))
      (i32.sub (local.get $scaled) (i32.const 42))))
)
"""
# "fill" first: the table is empty until it ran.
TABLE_INIT_CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("fill", ()), ("apply", (0, 30, 12)), ("apply", (1, 30, 12)), ("apply", (2, 6, 7)),
]
TABLE_INIT_RESULTS = [3, 42, 18, 42]

# A block with a parameter (multi-value): valid, and still unreadable for binaryen 120.
BLOCK_PARAMS_WAT = """
(module
  (func (export "f") (param i32) (result i32)
    (local.get 0)
    (block (param i32) (result i32) (i32.const 2) (i32.mul))
    (block (param i32) (result i32) (i32.const 0) (i32.add)))
)
"""


# table.init without reference types: 108 cannot parse it, 120's validator rejects the passive
# element segment ("all element segments should refer to a single table in MVP").
PASSIVE_ELEMENTS_WAT = """
(module
  (type $binop (func (param i32 i32) (result i32)))
  (table $ops 2 funcref)
  (elem $all func $add $sub)
  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func (export "f") (param $op i32) (result i32)
    (table.init $ops $all (i32.const 0) (i32.const 0) (i32.const 2))
    (call_indirect $ops (type $binop) (i32.const 50) (i32.const 8) (local.get $op)))
)
"""


def assemble(tmp: Path, text: str, name: str, *args: str) -> Path:
    (tmp / f"{name}.wat").write_text(text, encoding="utf-8")
    out = tmp / f"{name}.wasm"
    subprocess.run([wabt_tool("wat2wasm"), *args, tmp / f"{name}.wat", "-o", out], check=True)
    return out


def run_exports(path: Path, calls: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
    """Call each export in order, in one instance, with wasmtime; a result is the value, the list
    of values, or 'nan'."""
    import math

    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, path.read_bytes()), [])
    exports = instance.exports(store)
    results: list[Any] = []
    for name, args in calls:
        func = exports[name]
        assert isinstance(func, wasmtime.Func), name
        value = func(store, *args)
        if isinstance(value, float) and math.isnan(value):
            value = "nan"
        results.append(value)
    return results


def need_engine() -> None:
    need(docker_engine_answers(), "a Docker engine")


def need_host_wasm_opt() -> None:
    need(shutil.which("wasm-opt") is not None, "wasm-opt (binaryen) on PATH")


@dataclass(frozen=True)
class Optimiser:
    """wasm-opt somewhere, as the optimiser is given it. Inputs and outputs of the pipeline go
    below ``workdir``: the container sees nothing else."""

    name: str  # a toolchain set, or "host"
    invoke: ToolInvoker
    workdir: Path

    def version(self) -> str | None:
        return tool_version(self.invoke, "wasm-opt", self.workdir)


class Optimisers:
    """For one test module: a DockerRunner per set (one container each, started on first use)
    with a work dir per test below one root, as a build's optimise actions have."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runners: dict[ToolchainSetName, DockerRunner] = {}

    def get(self, name: str) -> Optimiser:
        workdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))
        if name == HOST:
            need_host_wasm_opt()
            return Optimiser(name, host_invoker(), workdir)
        need_engine()
        chosen = next(s for s in TOOLCHAIN_SETS if s == name)
        runner = self._runners.get(chosen)
        if runner is None:
            runner = self._runners[chosen] = DockerRunner(self.root, stand_in_config(chosen))
        return Optimiser(name, runner.invoker(OPTIMIZER_IMAGE, target=workdir.name,
                                              scratch=workdir, epoch=0), workdir)

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()
