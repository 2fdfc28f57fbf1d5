"""Running a WASI command module in-process with wasmtime, the way a Wasm container runtime does.

From an image: argv = Entrypoint + (the user's args, else Cmd), environment = the config's Env plus
``--env``, stdio inherited, ``--dir HOST[:GUEST]`` preopened. The module's ``proc_exit`` code is
returned; a trap is reported and returns 134 (128 + SIGABRT), as the wasmtime CLI does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wasmforge.console import get_console
from wasmforge.errors import UserError

TRAP_EXIT_CODE = 134


@dataclass(frozen=True)
class WasiProgram:
    """A module and the process it should become."""

    wasm: bytes
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[tuple[str, str], ...] = field(default=())  # (host, guest)
    origin: str = "<module>"


def parse_dir(spec: str) -> tuple[str, str]:
    """``HOST[:GUEST]``; the guest path defaults to the host path, as in wasmtime's --dir."""
    host, sep, guest = spec.partition(":")
    if not host:
        msg = f"--dir {spec!r}: expected HOST[:GUEST]"
        raise UserError(msg)
    if not Path(host).is_dir():
        msg = f"--dir {spec!r}: {host} is not a directory"
        raise UserError(msg)
    return host, guest if sep and guest else host


def parse_env(spec: str, what: str = "--env") -> tuple[str, str]:
    key, sep, value = spec.partition("=")
    if not sep or not key:
        msg = f"{what} {spec!r}: expected KEY=VALUE"
        raise UserError(msg)
    return key, value


def merge_env(base: Sequence[str], extra: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The image's ``KEY=VALUE`` list overridden by ``extra``, order kept (later wins)."""
    merged: dict[str, str] = {}
    for item in base:
        key, _, value = item.partition("=")
        merged[key] = value
    merged.update(extra)
    return tuple(merged.items())


def run_wasi(program: WasiProgram) -> int:
    import wasmtime

    from wasmforge.wasm.module import MAGIC, parse_module

    # Binary structure first: its errors say where a file is truncated or corrupt; wasmtime's do
    # not. (Text is left to wasmtime, which runs .wat as a runtime like crun does.)
    if program.wasm.startswith(MAGIC):
        parse_module(program.wasm, program.origin)
    engine = wasmtime.Engine()
    try:
        module = wasmtime.Module(engine, program.wasm)
    except wasmtime.WasmtimeError as error:
        msg = f"{program.origin}: not a valid module: {_first_line(error)}"
        raise UserError(msg) from None
    if "_start" not in {export.name for export in module.exports}:
        msg = f"{program.origin}: exports no _start, so it is not a WASI command (nothing to run)"
        raise UserError(msg, hint="reactors and libraries are called by a host, not run")
    config = wasmtime.WasiConfig()
    config.argv = list(program.argv)
    config.env = [list(pair) for pair in program.env]
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    for host, guest in program.dirs:
        config.preopen_dir(host, guest)
    store = wasmtime.Store(engine)
    store.set_wasi(config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    try:
        instance = linker.instantiate(store, module)
    except wasmtime.WasmtimeError as error:
        msg = f"{program.origin}: cannot instantiate: {_first_line(error)}"
        raise UserError(msg, hint="only WASI preview1 imports are provided") from None
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    try:
        start(store)
    except wasmtime.ExitTrap as done:
        return int(done.code)
    except wasmtime.Trap as trap:
        get_console().error(f"{program.origin}: trapped: {_first_line(trap)}")
        return TRAP_EXIT_CODE
    return 0


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
