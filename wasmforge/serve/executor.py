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

import contextlib
import fcntl
import math
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

from wasmforge.errors import UserError
from wasmforge.serve.routes import WILDCARD, RoutePattern, parse_route
from wasmforge.serve.wagi import HandlerOutputError, cgi_environment, parse_output, wagi_argv

# How often the shared engine's epoch advances: a timeout is kept to within this much.
TICK_SECONDS = 0.05
# A handler's stdout is the response, held in memory: past this it is refused (500), so that a
# runaway handler cannot take the server's memory. Its stderr is kept up to its own limit, for
# the log, and cut there (the handler's later writes to it fail).
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
MAX_STDERR_BYTES = 64 * 1024
# What one read of a guest's output asks for: most responses are smaller.
_READ_SIZE = 64 * 1024


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

        from wasmforge.wasirun import _cause, compile_module
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
        compiled = compile_module(self._engine, wasm, str(module))
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

        with _Stdio(request.body) as stdio:
            store = self._store(request, stdio)
            try:
                instance = self._pre.instantiate(store)
                start = instance.exports(store)["_start"]
                assert isinstance(start, wasmtime.Func)  # checked on the module's exports
                start(store)
            except wasmtime.ExitTrap as done:
                if done.code != 0:
                    return _failure(500, f"exited with code {done.code}", stdio)
            except wasmtime.Trap as trap:
                if trap.trap_code == wasmtime.TrapCode.INTERRUPT:
                    return _failure(504, f"still running after {self.timeout:g} s: stopped",
                                    stdio)
                return _failure(500, f"trapped: {_cause(trap)}", stdio)
            except wasmtime.WasmtimeError as error:
                # A host function refused (a proc_exit code of 126 or more, a start function
                # that failed to instantiate): the handler did not answer.
                return _failure(500, f"stopped: {_cause(error)}", stdio)
            if stdio.stdout.over:
                return _failure(500, f"wrote more than {MAX_OUTPUT_BYTES} bytes to stdout",
                                stdio)
            output = stdio.stdout.read()
            if not output:
                return _failure(500, "wrote nothing to stdout", stdio)
            try:
                status, headers, body = parse_output(output)
            except HandlerOutputError as bad:
                return _failure(bad.status, bad.reason, stdio)
            return WagiResponse(status, headers, body, stderr=stdio.stderr.read())

    def _store(self, request: WagiRequest, stdio: _Stdio) -> Any:
        import wasmtime

        config = wasmtime.WasiConfig()
        config.argv = wagi_argv(request)
        # The configured environment first: a route cannot override what the request says.
        config.env = list({**self.env, **cgi_environment(request, self.route)}.items())
        if stdio.stdin is not None:  # without stdin a guest reads end-of-file at once
            config.stdin_file = stdio.stdin.path
        config.stdout_file = stdio.stdout.path
        config.stderr_file = stdio.stderr.path
        stdio.opened()
        for host, guest in self.dirs:
            config.preopen_dir(host, guest)
        store = wasmtime.Store(self._engine)
        store.set_wasi(config)
        store.set_epoch_deadline(self._ticks)
        return store


def _failure(status: int, reason: str, stdio: _Stdio) -> WagiResponse:
    """The response for a handler that did not answer: a short text body; ``reason`` is for the
    log, not for the client."""
    phrase = HTTPStatus(status).phrase
    return WagiResponse(status, (("Content-Type", "text/plain; charset=utf-8"),),
                        f"{status} {phrase}\n".encode(), error=reason,
                        stderr=stdio.stderr.read())


class _MemoryFile:
    """A file in memory that wasmtime opens by path for a guest's stdin, stdout or stderr.

    Why files and not wasmtime-py's ``stdout_custom`` callback: a Python callback runs on the
    guest's thread and needs the GIL for every write; in a loop it cost half the time of a small
    C handler's request, and under load each write waited for the GIL (2.8 ms a request instead
    of 0.15 ms). wasmtime writes a file without Python. On Linux it is a memfd
    (``/proc/self/fd/N``: no file system), which a thread keeps for its next request
    (:class:`_ThreadFiles`); elsewhere a temporary file, unlinked once wasmtime has opened it.
    Past ``limit`` bytes the epoch ticker seals it (:meth:`enforce`): the guest's further writes
    fail, ``over`` is set, and the file is not used again."""

    def __init__(self, name: str, limit: int, data: bytes = b"") -> None:
        self.limit = limit
        self.over = False
        if hasattr(os, "memfd_create"):
            self.fd = os.memfd_create(f"wasmforge-{name}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            self.path = f"/proc/self/fd/{self.fd}"
            self._unlink = False
        else:  # pragma: no cover - not Linux
            self.fd, self.path = tempfile.mkstemp(prefix=f"wasmforge-{name}-")
            self._unlink = True
        # Closed with its last reference: a thread's files when the thread ends.
        self._close = weakref.finalize(self, os.close, self.fd)
        if data:
            os.pwrite(self.fd, data, 0)

    @property
    def reusable(self) -> bool:
        """Whether another request may have it: wasmtime truncates a file it opens for output
        (tests/unit/test_serve_executor.py checks), unless it is sealed or was unlinked."""
        return not (self.over or self._unlink or not self._close.alive)

    def opened(self) -> None:
        """wasmtime has opened the file (a WasiConfig opens it when it is set): a temporary
        file's name can go."""
        if self._unlink:  # pragma: no cover - not Linux
            with contextlib.suppress(OSError):
                Path(self.path).unlink()

    def enforce(self) -> None:
        if self.over or os.fstat(self.fd).st_size <= self.limit:
            return
        self.over = True
        try:
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW)
        except OSError:  # pragma: no cover - not a memfd: at least give the memory back
            os.ftruncate(self.fd, 0)

    def read(self) -> bytes:
        """What was written, up to the limit. (A read of less than asked is the end: a small
        response takes one system call, not a stat and a read.)"""
        chunks = []
        offset = 0
        while offset < self.limit:
            asked = min(_READ_SIZE, self.limit - offset)
            chunk = os.pread(self.fd, asked, offset)
            chunks.append(chunk)
            offset += len(chunk)
            if len(chunk) < asked:
                break
        return b"".join(chunks)

    def close(self) -> None:
        self.opened()
        self._close()


class _ThreadFiles(threading.local):
    """A thread's stdout and stderr files, kept from one of its requests to the next: making two
    memfds and closing them again were four more system calls a request, each a trip through the
    GIL (what costs most when many threads serve at once)."""

    stdout: _MemoryFile | None = None
    stderr: _MemoryFile | None = None


_thread_files = _ThreadFiles()


class _Stdio:
    """A request's stdin (the body; none when it is empty), stdout and stderr, whose sizes the
    epoch ticker checks while the request runs."""

    def __init__(self, body: bytes) -> None:
        self.stdin = _MemoryFile("stdin", len(body), body) if body else None
        kept = _thread_files
        if kept.stdout is None or not kept.stdout.reusable:
            kept.stdout = _MemoryFile("stdout", MAX_OUTPUT_BYTES)
        if kept.stderr is None or not kept.stderr.reusable:
            kept.stderr = _MemoryFile("stderr", MAX_STDERR_BYTES)
        self.stdout: _MemoryFile = kept.stdout
        self.stderr: _MemoryFile = kept.stderr

    def opened(self) -> None:
        for file in (self.stdin, self.stdout, self.stderr):
            if file is not None:
                file.opened()

    def __enter__(self) -> Self:
        with _watched_lock:
            _watched.update((self.stdout, self.stderr))
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _watched_lock:
            _watched.difference_update((self.stdout, self.stderr))
        if self.stdin is not None:
            self.stdin.close()
        for file in (self.stdout, self.stderr):
            if not file.reusable:
                file.close()


# The outputs of the requests running now, whose sizes the ticker checks.
_watched: set[_MemoryFile] = set()
_watched_lock = threading.Lock()


_engine_lock = threading.Lock()
_engine: Any = None


def _shared_engine() -> Any:
    """The engine every handler compiles for, made on first use with its epoch ticker."""
    global _engine
    with _engine_lock:
        if _engine is None:

            from wasmforge.wasirun import epoch_engine

            _engine = epoch_engine()  # backtraces with file:line for modules with DWARF
            threading.Thread(target=_tick, args=(_engine,), name="wasmforge-serve-epoch",
                             daemon=True).start()
        return _engine


def _tick(engine: Any) -> None:
    """Advance the epoch, and hold running requests' outputs to their limits, for ever (a daemon
    thread: it ends with the process)."""
    while True:
        time.sleep(TICK_SECONDS)
        engine.increment_epoch()
        with _watched_lock:
            watched = list(_watched)
        for file in watched:
            with contextlib.suppress(OSError):  # closed meanwhile: its request is over
                file.enforce()
