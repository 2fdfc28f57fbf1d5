"""Running a WASI command module in-process with wasmtime, the way a Wasm container runtime does.

From an image: argv = Entrypoint + (the user's args, else Cmd), environment = the config's Env plus
``--env``, stdio inherited, ``--dir HOST[:GUEST]`` preopened. The module's ``proc_exit`` code is
returned; a trap returns 134 (128 + SIGABRT), as the wasmtime CLI does, and is reported on stderr as
one line naming the module and the trap, then wasmtime's backtrace, innermost call first: function
names from the name section, and for a module with DWARF (a debug build) file and line as well.

The module runs on a thread of its own while the main thread waits for it, so that Ctrl-C, SIGTERM
and ``--timeout`` are heard whatever the guest does: they interrupt its code (wasmtime's epoch
interruption); a guest blocked in a host call (reading stdin) is left behind as the process ends.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge.console import get_console
from wasmforge.errors import UserError

TRAP_EXIT_CODE = 134
# A module stopped by --timeout, as coreutils' timeout says it.
TIMEOUT_EXIT_CODE = 124
# After an interrupt, how long the guest gets to notice it before the process ends regardless.
INTERRUPT_GRACE_SECONDS = 1.0
# wasmtime reads it when a Config is made; "1" makes a backtrace give the file and line of each
# frame from the module's DWARF (a debug build). Without DWARF it changes nothing.
_BACKTRACE_DETAILS = "WASMTIME_BACKTRACE_DETAILS"
# How wasmtime names a frame of a module without a module name (a compiler's output has none).
_NO_MODULE_NAME = "<unknown>!"


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


def run_wasi(program: WasiProgram, *, timeout: float | None = None) -> int:
    """Run ``program`` to its end (see the module docstring); its exit code."""
    import wasmtime

    from wasmforge.wasm.module import MAGIC, parse_module

    # Binary structure first: its errors say where a file is truncated or corrupt; wasmtime's do
    # not. (Text is left to wasmtime, which runs .wat as a runtime like crun does.)
    if program.wasm.startswith(MAGIC):
        parse_module(program.wasm, program.origin)
    engine_config = _engine_config()
    engine_config.epoch_interruption = True
    engine = wasmtime.Engine(engine_config)
    try:
        module = wasmtime.Module(engine, program.wasm)
    except wasmtime.WasmtimeError as error:
        msg = f"{program.origin}: not a valid module: {_cause(error)}"
        raise UserError(msg) from None
    start_type = next((e.type for e in module.exports if e.name == "_start"), None)
    if not isinstance(start_type, wasmtime.FuncType):
        msg = f"{program.origin}: exports no _start function, so it is not a WASI command"
        raise UserError(msg, hint="reactors and libraries are called by a host, not run")
    if start_type.params or start_type.results:
        msg = f"{program.origin}: its _start takes or returns values; a WASI command's takes none"
        raise UserError(msg)
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
    store.set_epoch_deadline(1)  # the first epoch increment (an interrupt) stops the guest
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    stopping = threading.Event()
    return _supervised(lambda: _instantiate_and_start(program, store, linker, module, stopping),
                       engine, stopping, program.origin, timeout)


def _instantiate_and_start(
    program: WasiProgram, store: Any, linker: Any, module: Any, stopping: threading.Event
) -> int:
    import wasmtime

    try:
        instance = linker.instantiate(store, module)
    except wasmtime.Trap as trap:  # the module's start function trapped
        if not stopping.is_set():  # (an interrupt is not the module's trap)
            _report_trap(program.origin, "trapped while starting", trap)
        return TRAP_EXIT_CODE
    except wasmtime.WasmtimeError as error:
        msg = f"{program.origin}: cannot instantiate: {_cause(error)}"
        raise UserError(msg, hint="only WASI preview1 imports are provided") from None
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)  # checked on the module's export types above
    try:
        start(store)
    except wasmtime.ExitTrap as done:
        return int(done.code)
    except wasmtime.Trap as trap:
        if not stopping.is_set():
            _report_trap(program.origin, "trapped", trap)
        return TRAP_EXIT_CODE
    except wasmtime.WasmtimeError as error:
        # A host function refused: e.g. proc_exit with a status of 126 or more, which wasmtime
        # will not report (shells reserve those), or a WASI call on a module without memory.
        get_console().error(f"{program.origin}: stopped: {_cause(error)}")
        return 1
    return 0


def _supervised(
    run: Callable[[], int], engine: Any, stopping: threading.Event, origin: str,
    timeout: float | None,
) -> int:
    """``run()`` on a thread of its own, watched from this one (see the module docstring)."""
    outcome: list[int] = []
    failure: list[BaseException] = []

    def guest() -> None:
        try:
            outcome.append(run())
        except BaseException as error:  # noqa: BLE001 - handed over to the main thread
            failure.append(error)

    thread = threading.Thread(target=guest, name="wasmforge-guest", daemon=True)
    ends = None if timeout is None else time.monotonic() + timeout
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
            if ends is not None and time.monotonic() > ends and thread.is_alive():
                stopping.set()
                engine.increment_epoch()
                thread.join(INTERRUPT_GRACE_SECONDS)
                get_console().error(f"{origin}: still running after {timeout:g} s: stopped "
                                    "(--timeout)")
                return TIMEOUT_EXIT_CODE
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (see wasmforge.cli)
        stopping.set()
        engine.increment_epoch()
        thread.join(INTERRUPT_GRACE_SECONDS)
        raise
    if failure:
        raise failure[0]
    return outcome[0]


def _engine_config() -> Any:
    """A wasmtime Config whose backtraces have file and line where DWARF says them, unless the user
    set WASMTIME_BACKTRACE_DETAILS (their value is used)."""
    import wasmtime

    if _BACKTRACE_DETAILS in os.environ:
        return wasmtime.Config()
    os.environ[_BACKTRACE_DETAILS] = "1"
    try:
        return wasmtime.Config()
    finally:
        del os.environ[_BACKTRACE_DETAILS]


def _report_trap(origin: str, what: str, trap: Any) -> None:
    """The trap in one line, then its backtrace, then a hint if no frame has a function name."""
    console = get_console()
    console.error(f"{origin}: {what}: {_cause(trap)}")
    frames = backtrace_lines(str(trap))
    if not frames:
        return
    console.detail("wasm backtrace (innermost call first):")
    for line in frames:
        console.detail(line)
    if not any(frame.func_name for frame in trap.frames):
        console.detail("(no function names: the module has no name section; build it with a "
                       "profile that keeps names, strip-names = false)")


def backtrace_lines(message: str) -> list[str]:
    """The frames of wasmtime's trap message, as wasmtime wrote them (names demangled, ``at
    file:line`` lines under a frame), without the "<unknown>!" of a module that has no name."""
    lines = message.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.endswith("wasm backtrace:")), None)
    if start is None:
        return []
    frames = []
    for line in lines[start:]:
        # The frames end at a blank line, wasmtime's note about WASMTIME_BACKTRACE_DETAILS, or the
        # cause.
        if not line.strip() or line.lstrip().startswith(("note:", "Caused by:")):
            break
        frames.append(line.replace(_NO_MODULE_NAME, ""))
    return frames


def _cause(error: Exception) -> str:
    """The reason in a wasmtime error: the line after 'Caused by:', not the backtrace header."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if "Caused by:" in lines:
        reasons = lines[lines.index("Caused by:") + 1 :]
        if reasons:
            return "; ".join(reasons)
    return lines[0] if lines else type(error).__name__
