"""Running a WASI command module as a WAGI handler: compiled once, a fresh instance per request.

:class:`WagiHandler` compiles the module when it is made (and links it against WASI preview1 once,
as an ``InstancePre``); :meth:`WagiHandler.handle` gives each request a new ``Store`` and WASI
context (argv, environment, the body on stdin, stdout and stderr captured in memory, the route's
preopened directories) and runs ``_start``. Nothing is shared between requests but the compiled
code, so ``handle`` may be called from many threads at once: wasmtime runs each store on its calling
thread, outside the GIL.

Every handler runs on one process-wide engine with epoch interruption, whose epoch a daemon thread
advances every :data:`TICK_SECONDS`; a store's deadline is its handler's timeout in ticks, so a
guest still running then traps with an interrupt and the request is answered 504. (One engine and
one ticker for all handlers: a handler made again after a rebuild adds neither.) A guest blocked in
a host call (a WASI sleep) is stopped only when it returns to Wasm: the server answers 504 at the
deadline without waiting for it (wasmforge.serve.server).

Outcomes: a trap, a non-zero ``proc_exit``, a host call refusing, no output, or output that is not
a response (wasmforge.serve.wagi) → 500 (502 for a bad status), with ``error`` saying why, for the
log line; the timeout → 504.
"""

from __future__ import annotations

import ctypes
import errno
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from wasmforge.errors import UserError
from wasmforge.serve.routes import WILDCARD, RoutePattern, parse_route
from wasmforge.serve.wagi import HandlerOutputError, cgi_environment, parse_output, wagi_argv

# How often the shared engine's epoch advances: a timeout is kept to within this much.
TICK_SECONDS = 0.05
# A handler's stdout is the response, held in memory: past this it is refused (500), so that a
# runaway handler cannot take the server's memory. Its stderr is kept up to its own limit, for
# the log, and cut there.
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
MAX_STDERR_BYTES = 64 * 1024
# What a guest's write gets back once the limit is reached (wasmtime hands a negative result of
# the callback to the guest as an error: WASI's EFBIG).
_WRITE_REFUSED = -errno.EFBIG


@dataclass(frozen=True)
class WagiRequest:
    method: str
    path: str  # the raw request path, without the query
    query: str = ""  # without the "?"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    remote_addr: str = "127.0.0.1"
    server_name: str = "127.0.0.1"
    server_port: int = 3000
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class WagiResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    error: str | None = None  # why the handler failed (500/502/504), for the log line
    stderr: bytes = b""  # what the handler wrote to its stderr (up to MAX_STDERR_BYTES)


class WagiHandler:
    """One WASI command module serving one route (see the module docstring)."""

    def __init__(
        self, module: Path, *, route: str = WILDCARD, dirs: Sequence[tuple[str, str]] = (),
        env: Mapping[str, str] | None = None, timeout: float = 30.0,
    ) -> None:
        """Compile ``module`` (a .wasm or .wat file). ``dirs`` are (host, guest) directories
        preopened for every request; ``env`` is given to every request under the CGI variables
        (which win). UserError for a module that is not a WASI preview1 command, a bad route or
        a missing directory."""
        import wasmtime

        from wasmforge.wasirun import _cause
        from wasmforge.wasm.module import MAGIC, parse_module

        if timeout <= 0:
            msg = f"request timeout {timeout:g} s: must be more than 0"
            raise UserError(msg)
        try:
            self.route: RoutePattern = parse_route(route)
        except ValueError as error:
            raise UserError(str(error)) from None
        for host, _ in dirs:
            if not Path(host).is_dir():
                msg = f"{module.name}: directory {host} to preopen does not exist"
                raise UserError(msg)
        self.module = module
        self.dirs = tuple(dirs)
        self.env = dict(env or {})
        self.timeout = timeout
        self._ticks = math.ceil(timeout / TICK_SECONDS) + 1  # at least the timeout, then a tick
        try:
            wasm = module.read_bytes()
        except OSError as error:
            msg = f"{module}: cannot read: {error.strerror or error}"
            raise UserError(msg) from None
        # The binary reader's errors say where a file is broken; it also tells a component,
        # which WAGI (a preview1 command's _start) cannot run.
        if wasm.startswith(MAGIC) and parse_module(wasm, str(module)).kind == "component":
            msg = (f"{module}: a WASI 0.2 component; serve runs WASI preview1 command modules "
                   "(WAGI handlers)")
            raise UserError(msg, hint="build the target without component = true")
        self._engine = _shared_engine()
        try:
            compiled = wasmtime.Module(self._engine, wasm)
        except wasmtime.WasmtimeError as error:
            msg = f"{module}: not a valid module: {_cause(error)}"
            raise UserError(msg) from None
        start = next((e.type for e in compiled.exports if e.name == "_start"), None)
        if not isinstance(start, wasmtime.FuncType) or start.params or start.results:
            msg = f"{module}: exports no _start function, so it is not a WASI command"
            raise UserError(msg, hint="a WAGI handler is a command: a C or Rust main()")
        linker = wasmtime.Linker(self._engine)
        linker.define_wasi()
        try:
            # Imports resolved once: each request only instantiates.
            self._pre = linker.instantiate_pre(compiled)
        except wasmtime.WasmtimeError as error:
            msg = f"{module}: cannot be linked: {_cause(error)}"
            raise UserError(msg, hint="only WASI preview1 imports are provided") from None

    def handle(self, request: WagiRequest) -> WagiResponse:
        """Run the module for ``request`` in a fresh instance and return its response."""
        import wasmtime

        from wasmforge.wasirun import _cause

        stdout = _Capture(MAX_OUTPUT_BYTES)
        stderr = _Capture(MAX_STDERR_BYTES, cut=True)
        store = self._store(request, stdout, stderr)
        try:
            instance = self._pre.instantiate(store)
            start = instance.exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)  # checked on the module's exports
            start(store)
        except wasmtime.ExitTrap as done:
            if done.code != 0:
                return _failure(500, f"exited with code {done.code}", stderr)
        except wasmtime.Trap as trap:
            if trap.trap_code == wasmtime.TrapCode.INTERRUPT:
                return _failure(504, f"still running after {self.timeout:g} s: stopped", stderr)
            return _failure(500, f"trapped: {_cause(trap)}", stderr)
        except wasmtime.WasmtimeError as error:
            # A host function refused (a proc_exit code of 126 or more, a start function that
            # failed to instantiate): the handler did not answer.
            return _failure(500, f"stopped: {_cause(error)}", stderr)
        if stdout.refused:
            return _failure(500, f"wrote more than {MAX_OUTPUT_BYTES} bytes to stdout", stderr)
        output = stdout.value()
        if not output:
            return _failure(500, "wrote nothing to stdout", stderr)
        try:
            status, headers, body = parse_output(output)
        except HandlerOutputError as bad:
            return _failure(bad.status, bad.reason, stderr)
        return WagiResponse(status, headers, body, stderr=stderr.value())

    def _store(self, request: WagiRequest, stdout: _Capture, stderr: _Capture) -> Any:
        import wasmtime

        config = wasmtime.WasiConfig()
        config.argv = wagi_argv(request)
        # The configured environment first: a route cannot override what the request says.
        config.env = list({**self.env, **cgi_environment(request, self.route)}.items())
        if request.body:  # without stdin a guest reads end-of-file at once
            _set_stdin_bytes(config, request.body)
        config.stdout_custom = stdout.write
        config.stderr_custom = stderr.write
        for host, guest in self.dirs:
            config.preopen_dir(host, guest)
        store = wasmtime.Store(self._engine)
        store.set_wasi(config)
        store.set_epoch_deadline(self._ticks)
        return store


def _failure(status: int, reason: str, stderr: _Capture) -> WagiResponse:
    """The response for a handler that did not answer: a short text body; ``reason`` is for the
    log, not for the client."""
    phrase = HTTPStatus(status).phrase
    return WagiResponse(status, (("Content-Type", "text/plain; charset=utf-8"),),
                        f"{status} {phrase}\n".encode(), error=reason, stderr=stderr.value())


class _Capture:
    """A guest's stdout or stderr, in memory, up to ``limit`` bytes: past it a write is refused
    (``refused`` is set), or, with ``cut``, silently cut there."""

    def __init__(self, limit: int, *, cut: bool = False) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit = limit
        self._cut = cut
        self.refused = False

    def write(self, data: bytes) -> int:
        room = self._limit - self._size
        if len(data) <= room:
            self._chunks.append(data)
            self._size += len(data)
            return len(data)
        if self._cut:
            self._chunks.append(data[:room])
            self._size = self._limit
            return len(data)  # the guest wrote it; only the log does not keep it
        self.refused = True
        return _WRITE_REFUSED

    def value(self) -> bytes:
        return b"".join(self._chunks)


def _set_stdin_bytes(config: Any, body: bytes) -> None:
    """The request body as the guest's stdin, from memory. wasmtime-py's WasiConfig only offers a
    file for stdin; its bindings also have the C API's ``wasi_config_set_stdin_bytes``, which takes
    a byte vector (copied here by ``wasm_byte_vec_new``; the config takes the copy over)."""
    from wasmtime import _ffi as ffi

    vector = ffi.wasm_byte_vec_t()
    data = ctypes.cast(ctypes.c_char_p(body), ctypes.POINTER(ffi.wasm_byte_t))
    ffi.wasm_byte_vec_new(ctypes.byref(vector), len(body), data)
    ffi.wasi_config_set_stdin_bytes(config.ptr(), ctypes.byref(vector))


_engine_lock = threading.Lock()
_engine: Any = None


def _shared_engine() -> Any:
    """The engine every handler compiles for, made on first use with its epoch ticker."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import wasmtime

            from wasmforge.wasirun import _engine_config

            config = _engine_config()  # backtraces with file:line for modules with DWARF
            config.epoch_interruption = True
            _engine = wasmtime.Engine(config)
            threading.Thread(target=_tick, args=(_engine,), name="wasmforge-serve-epoch",
                             daemon=True).start()
        return _engine


def _tick(engine: Any) -> None:
    """Advance the epoch for ever (a daemon thread: it ends with the process)."""
    while True:
        time.sleep(TICK_SECONDS)
        engine.increment_epoch()
