"""Running a WASI command module in-process with wasmtime, the way a Wasm container runtime does.

From an image: argv = Entrypoint + (the user's args, else Cmd), environment = the config's Env plus
``--env``, stdio inherited, ``--dir HOST[:GUEST]`` preopened. The module's ``proc_exit`` code is
returned; a trap returns 134 (128 + SIGABRT), as the wasmtime CLI does, and is reported on stderr as
one line naming the module and the trap, then wasmtime's backtrace, innermost call first: function
names from the name section, and for a module with DWARF (a debug build) file and line as well.

A WASI 0.2 component runs the same way when it exports ``wasi:cli/run`` (any version): the same
argv, env, preopens and stdio through wasmtime's WASI 0.2 host, and its exit code mapped as the
wasmtime CLI maps it: ``wasi:cli/exit`` ``exit(ok)`` is 0 and ``exit(err)`` 1 (the preview1
adapter turns every non-zero ``proc_exit`` into ``err``), ``exit-with-code(N)`` is N, and ``run``
returning ``err`` is 1. Codes of 126 and more are refused as for modules.

The module runs on a thread of its own while the main thread waits for it, so that Ctrl-C, SIGTERM
and ``--timeout`` are heard whatever the guest does: they interrupt its code (wasmtime's epoch
interruption); a guest blocked in a host call (reading stdin) is left behind as the process ends.
"""

from __future__ import annotations

import os
import re
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
# The interface a WASI 0.2 command exports (the wasi:cli/command world); its version varies.
CLI_RUN = "wasi:cli/run"
# Codes of 126 and more mean "not executable", "not found" and "killed by a signal" to shells:
# wasmtime refuses them from a module's proc_exit, and wasmforge from a component's exit too.
_HIGHEST_EXIT_CODE = 125
# Frames of the code wit-component adds around the core module (the preview1 adapter, its shims):
# they always have names, so they say nothing about whether the program kept its own.
_ADAPTER_FRAME = "wit-component:"


@dataclass(frozen=True)
class WasiProgram:
    """A module (or component) and the process it should become."""

    wasm: bytes
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[tuple[str, str], ...] = field(default=())  # (host, guest)
    origin: str = "<module>"
    # Files for the guest's stdio instead of wasmforge's own (wasmforge test captures them).
    stdin: Path | None = None
    stdout: Path | None = None
    stderr: Path | None = None


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

    engine = epoch_engine()
    if _is_component(program):
        return _run_component(program, engine, timeout)
    module = compile_module(engine, program.wasm, program.origin)
    start_type = next((e.type for e in module.exports if e.name == "_start"), None)
    if not isinstance(start_type, wasmtime.FuncType):
        msg = f"{program.origin}: exports no _start function, so it is not a WASI command"
        raise UserError(msg, hint="reactors and libraries are called by a host, not run")
    if start_type.params or start_type.results:
        msg = f"{program.origin}: its _start takes or returns values; a WASI command's takes none"
        raise UserError(msg)
    store = _store(engine, program)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    stopping = threading.Event()
    return _supervised(lambda: _instantiate_and_start(program, store, linker, module, stopping),
                       engine, stopping, program.origin, timeout)


def _store(engine: Any, program: WasiProgram) -> Any:
    """A store with the program's WASI context (the same for a module and a component)."""
    import wasmtime

    config = wasmtime.WasiConfig()
    config.argv = list(program.argv)
    config.env = [list(pair) for pair in program.env]
    if program.stdin is None:
        config.inherit_stdin()
    else:
        config.stdin_file = str(program.stdin)
    if program.stdout is None:
        config.inherit_stdout()
    else:
        config.stdout_file = str(program.stdout)
    if program.stderr is None:
        config.inherit_stderr()
    else:
        config.stderr_file = str(program.stderr)
    for host, guest in program.dirs:
        config.preopen_dir(host, guest)
    store = wasmtime.Store(engine)
    store.set_wasi(config)
    store.set_epoch_deadline(1)  # the first epoch increment (an interrupt) stops the guest
    return store


def _run_component(program: WasiProgram, engine: Any, timeout: float | None) -> int:
    """A component exporting ``wasi:cli/run``, run as ``run_wasi`` runs a module."""
    from wasmtime import component

    compiled = _compile_component(engine, program.wasm, program.origin)
    exports = compiled.type.exports(engine)
    run_interface = next((name for name in exports
                          if name == CLI_RUN or name.startswith(f"{CLI_RUN}@")), None)
    if run_interface is None:
        exported = ", ".join(exports) or "nothing"  # in the component's order
        msg = (f"{program.origin}: not a WASI command: the component does not export {CLI_RUN}; "
               f"it exports {exported}")
        raise UserError(msg, hint="components of other worlds are called by a host, not run")
    run_type = exports[run_interface].ty
    functions = run_type.exports(engine) if isinstance(run_type,
                                                       component.ComponentInstanceType) else {}
    function_type = functions["run"].ty if "run" in functions else None
    if (not isinstance(function_type, component.FuncType) or function_type.params
            or not isinstance(function_type.result, component.ResultType)):
        msg = f"{program.origin}: its {run_interface} has no run: func() -> result"
        raise UserError(msg)
    store = _store(engine, program)
    linker = component.Linker(engine)
    linker.add_wasip2()
    stopping = threading.Event()
    return _supervised(
        lambda: _instantiate_and_run(program, store, linker, compiled, run_interface, stopping),
        engine, stopping, program.origin, timeout)


def _instantiate_and_run(
    program: WasiProgram, store: Any, linker: Any, compiled: Any, run_interface: str,
    stopping: threading.Event,
) -> int:
    import wasmtime

    try:
        instance = linker.instantiate(store, compiled)
    except wasmtime.ExitTrap as done:  # a core module's start function called exit
        return _component_exit(program.origin, int(done.code))
    except wasmtime.WasmtimeError as error:
        # Component errors are not wasmtime.Trap objects: a trap is told by its cause.
        if _is_trap(error):
            if not stopping.is_set():
                _report_trap(program.origin, "trapped while starting", error,
                             named=_component_frames_named(str(error)))
            return TRAP_EXIT_CODE
        msg = f"{program.origin}: cannot instantiate: {_whole(error)}"
        raise UserError(msg, hint="only WASI 0.2 imports (the wasi:cli/command world) are "
                        "provided") from None
    interface = instance.get_export_index(store, run_interface)
    run = instance.get_func(store, instance.get_export_index(store, "run", interface))
    assert run is not None  # its type was checked on the component's exports
    try:
        result = run(store)
    except wasmtime.ExitTrap as done:
        return _component_exit(program.origin, int(done.code))
    except wasmtime.WasmtimeError as error:
        if stopping.is_set():  # an interrupt is not the component's trap
            return TRAP_EXIT_CODE
        if _is_trap(error):
            _report_trap(program.origin, "trapped", error,
                         named=_component_frames_named(str(error)))
            return TRAP_EXIT_CODE
        get_console().error(f"{program.origin}: stopped: {_cause(error)}")
        return 1
    # run's result<_, _>: err carries nothing to print. The wasmtime CLI exits 1 for it, silently,
    # as for exit(err): the program has said why on its own stderr, if anything.
    return 1 if getattr(result, "tag", "ok") == "err" else 0


def _component_exit(origin: str, code: int) -> int:
    """An exit trap's code; one a shell would misread is refused as wasmtime refuses a module's."""
    if 0 <= code <= _HIGHEST_EXIT_CODE:
        return code
    get_console().error(f"{origin}: stopped: exit with invalid exit status {code}, outside of "
                        f"[0..{_HIGHEST_EXIT_CODE + 1})")
    return 1


def _is_trap(error: Exception) -> bool:
    """Whether a wasmtime error is a trap of the guest (wasmtime words every one "wasm trap: ...")
    rather than a host function's refusal."""
    return _cause(error).startswith("wasm trap:")


def _component_frames_named(message: str) -> bool:
    """Whether a frame of the program's own code (not the adapter's) has a function name."""
    for line in backtrace_lines(message):
        _, sep, function = line.partition(" - ")
        if sep and not function.startswith((_ADAPTER_FRAME, "<wasm function ")):
            return True
    return False


def _instantiate_and_start(
    program: WasiProgram, store: Any, linker: Any, module: Any, stopping: threading.Event
) -> int:
    import wasmtime

    try:
        instance = linker.instantiate(store, module)
    except wasmtime.Trap as trap:  # the module's start function trapped
        if not stopping.is_set():  # (an interrupt is not the module's trap)
            _report_trap(program.origin, "trapped while starting", trap,
                         named=_module_frames_named(trap))
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
            _report_trap(program.origin, "trapped", trap, named=_module_frames_named(trap))
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

    def interrupt() -> None:
        stopping.set()
        engine.increment_epoch()

    return supervised(run, interrupt, origin, timeout, thread_name="wasmforge-guest")


def supervised(
    run: Callable[[], int], interrupt: Callable[[], None], origin: str, timeout: float | None,
    *, thread_name: str,
) -> int:
    """``run()`` (a guest, run to its exit code) on a thread of its own, watched from this one,
    so that Ctrl-C, SIGTERM and ``--timeout`` are heard whatever the guest does: each calls
    ``interrupt()`` to stop it and gives it ``INTERRUPT_GRACE_SECONDS`` to end. The exit code;
    ``TIMEOUT_EXIT_CODE`` after ``--timeout``; what ``run()`` raised is raised here."""
    outcome: list[int] = []
    failure: list[BaseException] = []

    def guest() -> None:
        try:
            outcome.append(run())
        except BaseException as error:  # noqa: BLE001 - handed over to the main thread
            failure.append(error)

    thread = threading.Thread(target=guest, name=thread_name, daemon=True)
    ends = None if timeout is None else time.monotonic() + timeout
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
            if ends is not None and time.monotonic() > ends and thread.is_alive():
                interrupt()
                thread.join(INTERRUPT_GRACE_SECONDS)
                get_console().error(f"{origin}: still running after {timeout:g} s: stopped "
                                    "(--timeout)")
                return TIMEOUT_EXIT_CODE
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (see wasmforge.cli)
        interrupt()
        thread.join(INTERRUPT_GRACE_SECONDS)
        raise
    if failure:
        raise failure[0]
    return outcome[0]


def epoch_engine() -> Any:
    """An engine whose guests an epoch increment stops (Ctrl-C, --timeout, a request's deadline),
    with backtraces as ``_engine_config`` sets them."""
    import wasmtime

    config = _engine_config()
    config.epoch_interruption = True
    return wasmtime.Engine(config)


def compile_module(engine: Any, wasm: bytes, origin: str) -> Any:
    """A core module compiled for ``engine``; a one-line UserError naming ``origin`` if wasmtime
    refuses it."""
    import wasmtime

    try:
        return wasmtime.Module(engine, wasm)
    except wasmtime.WasmtimeError as error:
        msg = f"{origin}: not a valid module: {_cause(error)}"
        raise UserError(msg) from None


def _compile_component(engine: Any, wasm: bytes, origin: str) -> Any:
    import wasmtime
    from wasmtime import component

    try:
        return component.Component(engine, wasm)
    except wasmtime.WasmtimeError as error:
        msg = f"{origin}: not a valid component: {_cause(error)}"
        raise UserError(msg) from None


def _is_component(program: WasiProgram) -> bool:
    """A component's binary or text. The binary's structure is read first: its errors say where a
    file is truncated or corrupt, wasmtime's do not (text is left to wasmtime, which runs .wat as
    a runtime like crun does)."""
    from wasmforge.wasm.module import MAGIC, parse_module
    from wasmforge.wasm.sniff import is_component_text

    if program.wasm.startswith(MAGIC):
        return parse_module(program.wasm, program.origin).kind == "component"
    return is_component_text(program.wasm)


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


def _module_frames_named(trap: Any) -> bool:
    return any(frame.func_name for frame in trap.frames)


def _report_trap(origin: str, what: str, trap: Any, *, named: bool) -> None:
    """The trap in one line, then its backtrace, then a hint unless ``named`` (some frame of the
    program's code has a function name)."""
    console = get_console()
    console.error(f"{origin}: {what}: {_cause(trap)}")
    frames = backtrace_lines(str(trap))
    if not frames:
        return
    console.detail("wasm backtrace (innermost call first):")
    for line in frames:
        console.detail(line)
    if not named:
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


def _whole(error: Exception) -> str:
    """A wasmtime error in one line, headline and causes: a component's link error says which
    import is missing in the headline, and only what about it in the causes."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if "Caused by:" not in lines:
        return "; ".join(lines) or type(error).__name__
    at = lines.index("Caused by:")
    causes = [re.sub(r"^\d+: ", "", line) for line in lines[at + 1 :]]
    return ": ".join(["; ".join(lines[:at]), "; ".join(causes)] if causes else lines[:at])


def _cause(error: Exception) -> str:
    """The reason in a wasmtime error: the line after 'Caused by:', not the backtrace header."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if "Caused by:" in lines:
        reasons = lines[lines.index("Caused by:") + 1 :]
        if reasons:
            return "; ".join(reasons)
    return lines[0] if lines else type(error).__name__


# Calling one export (wasmforge test's invoke) -------------------------------------------------


@dataclass(frozen=True)
class Invoked:
    """What calling an export gave: its results, or, when it did not return, the exit code it
    stopped with (its ``proc_exit``, 134 for a trap, 124 after the timeout)."""

    results: tuple[Any, ...] = ()
    exit_code: int | None = None


def invoke_wasi(
    program: WasiProgram, function: str, args: Sequence[str], *, timeout: float | None = None
) -> Invoked:
    """Call ``function`` with ``args`` read by its parameter types, as ``wasmtime run --invoke``
    does: an export of a core module (a reactor: after its ``_initialize``), or a top-level function
    export of a component (whose world is not ``wasi:cli/command``). The program's WASI context,
    stdio, threads and timeout are those of :func:`run_wasi`."""

    engine = epoch_engine()
    returned: list[tuple[Any, ...]] = []
    stopping = threading.Event()
    if _is_component(program):
        call = _component_call(program, engine, function, args, returned, stopping)
    else:
        call = _module_call(program, engine, function, args, returned, stopping)
    code = _supervised(call, engine, stopping, program.origin, timeout)
    return Invoked(results=returned[0]) if returned else Invoked(exit_code=code)


def _module_call(
    program: WasiProgram, engine: Any, function: str, args: Sequence[str],
    returned: list[tuple[Any, ...]], stopping: threading.Event,
) -> Callable[[], int]:
    import wasmtime

    module = compile_module(engine, program.wasm, program.origin)
    functions = {e.name: e.type for e in module.exports if isinstance(e.type, wasmtime.FuncType)}
    func_type = functions.get(function)
    if func_type is None:
        msg = (f"{program.origin}: exports no function {function!r} (its functions: "
               f"{', '.join(functions) or 'none'})")
        raise UserError(msg)
    values = _read_args(program.origin, function, [str(t) for t in func_type.params], args,
                        _core_value)
    store = _store(engine, program)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()

    def call() -> int:
        try:
            instance = linker.instantiate(store, module)
            exports = instance.exports(store)
            initialize = exports.get("_initialize")
            if isinstance(initialize, wasmtime.Func):  # a reactor sets itself up first
                initialize(store)
            func = exports[function]
            assert isinstance(func, wasmtime.Func)
            result = func(store, *values)
        except wasmtime.ExitTrap as done:
            return int(done.code)
        except wasmtime.Trap as trap:
            if not stopping.is_set():
                _report_trap(program.origin, f"trapped in {function}", trap,
                             named=_module_frames_named(trap))
            return TRAP_EXIT_CODE
        except wasmtime.WasmtimeError as error:
            msg = f"{program.origin}: cannot call {function}: {_cause(error)}"
            raise UserError(msg, hint="only WASI preview1 imports are provided") from None
        returned.append(() if result is None else tuple(result) if isinstance(result, list)
                        else (result,))
        return 0

    return call


def _component_call(
    program: WasiProgram, engine: Any, function: str, args: Sequence[str],
    returned: list[tuple[Any, ...]], stopping: threading.Event,
) -> Callable[[], int]:
    import wasmtime
    from wasmtime import component

    compiled = _compile_component(engine, program.wasm, program.origin)
    exports = compiled.type.exports(engine)
    func_type = exports[function].ty if function in exports else None
    if not isinstance(func_type, component.FuncType):
        msg = (f"{program.origin}: exports no top-level function {function!r} (it exports "
               f"{', '.join(exports) or 'nothing'})")
        raise UserError(msg)
    values = _read_args(program.origin, function, [type(t).__name__ for _, t in func_type.params],
                        args, _component_value)
    store = _store(engine, program)
    linker = component.Linker(engine)
    linker.add_wasip2()

    def call() -> int:
        try:
            instance = linker.instantiate(store, compiled)
            func = instance.get_func(store, function)
            assert func is not None  # its type was found among the component's exports
            result = func(store, *values)
            func.post_return(store)
        except wasmtime.ExitTrap as done:
            return _component_exit(program.origin, int(done.code))
        except wasmtime.WasmtimeError as error:
            if stopping.is_set():
                return TRAP_EXIT_CODE
            if _is_trap(error):
                _report_trap(program.origin, f"trapped in {function}", error,
                             named=_component_frames_named(str(error)))
                return TRAP_EXIT_CODE
            msg = f"{program.origin}: cannot call {function}: {_whole(error)}"
            raise UserError(msg, hint="only WASI 0.2 imports are provided") from None
        returned.append(() if func_type.result is None else (result,))
        return 0

    return call


def _read_args(
    origin: str, function: str, types: list[str], args: Sequence[str],
    read: Callable[[str, str], Any],
) -> list[Any]:
    if len(args) != len(types):
        msg = (f"{origin}: {function} takes {len(types)} argument(s) ({', '.join(types)}), "
               f"{len(args)} given")
        raise UserError(msg)
    values = []
    for position, (kind, text) in enumerate(zip(types, args, strict=True), start=1):
        try:
            values.append(read(kind, text))
        except ValueError:
            msg = f"{origin}: {function}: argument {position} {text!r} is not a valid {kind}"
            raise UserError(msg) from None
    return values


def _core_value(kind: str, text: str) -> Any:
    if kind in ("i32", "i64"):
        return int(text, 0)
    if kind in ("f32", "f64"):
        return float(text)
    msg = f"a {kind} cannot be given as text"
    raise ValueError(msg)


_COMPONENT_INTEGERS = ("S8", "S16", "S32", "S64", "U8", "U16", "U32", "U64")


def _component_value(kind: str, text: str) -> Any:
    if kind in _COMPONENT_INTEGERS:
        return int(text, 0)
    if kind in ("F32", "F64"):
        return float(text)
    if kind == "Bool" and text in ("true", "false"):
        return text == "true"
    if kind == "String":
        return text
    if kind == "Char" and len(text) == 1:
        return text
    msg = f"a {kind} cannot be given as text"
    raise ValueError(msg)
