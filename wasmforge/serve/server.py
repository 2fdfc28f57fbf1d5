"""The HTTP server of ``wasmforge serve``: routes to WAGI handlers, static files, workers, limits.

Built on the standard library's ``http.server`` (HTTP/1.1, keep-alive): a thread per connection
reads requests and runs their handlers itself, at most ``workers`` handlers at once whatever the
number of clients; a request past them waits in a queue (a FIFO semaphore) for at most its
handler's timeout, then gets 503. The handler runs on the connection's own thread, not handed to a
pool: every hand-over between threads costs a trip through the GIL, and under load such trips were
most of a request's time (a pool of worker threads served 1,450 requests/s where this serves
1,900 on two CPUs; docs/serve.md, "Performance").

Deadlines: a handler still running at its timeout is stopped by epoch interruption and answered
504 (wasmforge.serve.executor). A guest blocked in a host call (a WASI sleep) is not stopped until
the call returns, so a watchdog thread answers 504 for it at the timeout plus a second, and closes
the connection; the handler's late answer is dropped.

Which route answers a path: an exact route, then a static file, then the longest prefix route, then
(for ``/``, when nothing claims it and there is exactly one HTML page) a redirect to that page;
else 404. Static files are the files of Emscripten ``web`` targets, at the root, read from disk per
request (a rebuild shows at once; ``Cache-Control: no-cache`` keeps browsers asking).

Limits: a request body above ``max_body`` is refused with 413 before it is read (and the connection
closed); a connection idle or stalled for ``connection_timeout`` seconds is closed.

Each request gives one access log line: method, path, status, duration, route and target, and for a
handler that failed, why. What a handler writes to stderr is shown above it, one line each.

:meth:`WagiServer.replace_handlers` swaps handlers while serving (``--watch`` after a rebuild).
"""

from __future__ import annotations

import errno
import mimetypes
import os
import socket
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wasmforge import __version__
from wasmforge.console import Console, get_console
from wasmforge.errors import UserError
from wasmforge.serve.executor import WagiHandler, WagiRequest, WagiResponse
from wasmforge.serve.routes import RoutePattern, best_match

DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_CONNECTION_TIMEOUT = 60.0
# How long past a handler's timeout the watchdog waits for the handler's own 504 (the epoch tick,
# the trap unwinding) before answering for it.
ANSWER_GRACE_SECONDS = 1.0
_WATCHDOG_PERIOD = 0.1
# After a stop, how long requests already running get to finish before the server returns.
STOP_GRACE_SECONDS = 1.0
# The watchdog's own write of a 504 must not wait on a client that reads nothing.
_WATCHDOG_SEND_TIMEOUT = 1.0
# Listen backlog: connections the kernel holds while the accepting thread is busy.
_BACKLOG = 128
# Content types of what Emscripten writes, whatever the host's mime.types says.
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".data": "application/octet-stream",
    ".json": "application/json",
}
_STATIC_METHODS = ("GET", "HEAD")
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def default_workers() -> int:
    """Handlers running at once: one per CPU, at least 2 (one slow handler must not hold up every
    request). More do not serve fast handlers faster: the Wasm runs outside the GIL, but each
    request's Python does not, and every thread more that wants the GIL makes each of the dozens
    of GIL hand-overs in a request (a wasmtime call, a system call) likelier to wait. Measured on
    two CPUs, 16 clients, a C handler: 2 workers 1,900 requests/s, 4 workers 1,600."""
    return max(2, os.cpu_count() or 1)


def content_type(path: Path) -> str:
    known = _CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


@dataclass(frozen=True)
class Route:
    """A route served by a handler of ``target``'s module."""

    pattern: RoutePattern
    target: str
    handler: WagiHandler


@dataclass(frozen=True)
class StaticFile:
    path: Path
    target: str
    content_type: str

    @classmethod
    def of(cls, path: Path, target: str) -> StaticFile:
        return cls(path, target, content_type(path))


@dataclass(frozen=True)
class _Table:
    """What the server answers with; replaced whole, so a request sees one table throughout."""

    routes: tuple[Route, ...]
    static: Mapping[str, StaticFile] = field(default_factory=dict)

    def page(self) -> str | None:
        """The one HTML page, if there is exactly one ('/' redirects there)."""
        pages = [url for url in self.static if url.endswith(".html")]
        return pages[0] if len(pages) == 1 else None


class WagiServer:
    """Serves ``routes`` and ``static`` files (URL path → file) on ``host``:``port`` (0: any free
    port; :attr:`port` says which). Binding happens here: UserError if the address is taken."""

    def __init__(
        self, routes: Sequence[Route], static: Mapping[str, StaticFile] | None = None, *,
        host: str = "127.0.0.1", port: int = 3000, workers: int | None = None,
        max_body: int = DEFAULT_MAX_BODY, connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT,
        console: Console | None = None,
    ) -> None:
        _check_unique(routes)
        self._table = _Table(tuple(routes), dict(static or {}))
        self._swap_lock = threading.Lock()
        self.max_body = max_body
        self.connection_timeout = connection_timeout
        self.console = console or get_console()
        self.workers = workers or default_workers()
        self._slots = _FifoSemaphore(self.workers)
        self._running: set[_Running] = set()
        self._running_changed = threading.Condition()
        self._stopping = threading.Event()
        self._httpd = _bind(host, port, self)
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._watchdog = threading.Thread(target=self._watch, name="wasmforge-serve-watchdog",
                                          daemon=True)
        self._watchdog.start()

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._table.routes

    @property
    def static(self) -> Mapping[str, StaticFile]:
        return self._table.static

    # Serving ---------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (from another thread) or an interrupt (Ctrl-C, SIGTERM:
        KeyboardInterrupt in this thread, raised on after the stop). Either way the socket is
        closed and requests already running get STOP_GRACE_SECONDS to finish."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self.close()

    def shutdown(self) -> None:
        """Make :meth:`serve_forever` return (call from another thread)."""
        self._httpd.shutdown()

    def close(self) -> None:
        """Stop listening and give the requests running a moment to finish."""
        self._httpd.server_close()
        with self._running_changed:
            self._running_changed.wait_for(lambda: not self._running,
                                           timeout=STOP_GRACE_SECONDS)
        self._stopping.set()

    # Swapping handlers (--watch) -------------------------------------------------------------

    def replace_handlers(self, handlers: Mapping[str, WagiHandler],
                         static: Mapping[str, StaticFile] | None = None) -> None:
        """Swap the handlers of some routes, by route pattern (``"/api/..."``), and the static
        files when ``static`` is given, all at once. Thread-safe: a request already running
        finishes on the handler it started with; every request that starts after this returns
        gets the new one. KeyError for a pattern that is not served (routes are not added or
        removed while serving)."""
        with self._swap_lock:
            table = self._table
            served = {route.pattern.pattern for route in table.routes}
            unknown = sorted(set(handlers) - served)
            if unknown:
                msg = f"not a served route: {', '.join(unknown)}"
                raise KeyError(msg)
            routes = tuple(replace(route, handler=handlers[route.pattern.pattern])
                           if route.pattern.pattern in handlers else route
                           for route in table.routes)
            self._table = _Table(routes, table.static if static is None else dict(static))

    def reload_target(self, target: str, module: Path) -> None:
        """Serve ``module`` (a rebuild of ``target``) on every route of ``target``, each with its
        own directories, environment and timeout. The new handlers are compiled before anything
        is swapped: on a UserError (the module does not compile, is not a command) the old ones
        keep serving."""
        handlers = {
            route.pattern.pattern: WagiHandler(
                module, route=route.pattern.pattern, dirs=route.handler.dirs,
                env=route.handler.env, timeout=route.handler.timeout)
            for route in self._table.routes if route.target == target
        }
        self.replace_handlers(handlers)

    # Running handlers ------------------------------------------------------------------------

    def run_handler(self, handler: WagiHandler, request: WagiRequest,
                    running: _Running) -> WagiResponse | None:
        """``handler.handle(request)`` on this thread once a worker slot is free (waiting at most
        the handler's timeout for one: then 503). None when the watchdog has answered for it."""
        if not self._slots.acquire(handler.timeout):
            return _plain(503, f"waited {handler.timeout:g} s for a free worker")
        try:
            running.deadline = time.monotonic() + handler.timeout + ANSWER_GRACE_SECONDS
            try:
                response = handler.handle(request)
            except Exception as error:  # noqa: BLE001 - a bug in wasmforge: answer, log, go on
                response = _plain(500, f"internal error: {type(error).__name__}: {error}")
        finally:
            self._slots.release()
        return response if running.claim() else None

    def _watch(self) -> None:
        """Answer 504 for requests whose handler is past its deadline (see the docstring)."""
        while not self._stopping.wait(_WATCHDOG_PERIOD):
            now = time.monotonic()
            with self._running_changed:
                late = [r for r in self._running if r.deadline is not None and r.deadline < now]
            for running in late:
                if running.claim():
                    self._answer_late(running)

    def _answer_late(self, running: _Running) -> None:
        response = _plain(504, "no answer in time (blocked in a host call?): the connection "
                          "was closed, the handler left running")
        connection = running.handler.connection
        try:
            connection.settimeout(_WATCHDOG_SEND_TIMEOUT)
            connection.sendall(running.handler.response_bytes(response, closing=True))
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the client is gone: nothing to answer
        self.access_log(running.handler.access_line(response, running.where, running.started))

    def _started(self, running: _Running) -> None:
        with self._running_changed:
            self._running.add(running)

    def _finished(self, running: _Running) -> None:
        with self._running_changed:
            self._running.discard(running)
            self._running_changed.notify_all()

    def access_log(self, line: str, stderr: bytes = b"", target: str = "") -> None:
        for text in stderr.decode("utf-8", errors="replace").splitlines():
            self.console.info(f"  [{target}] {text}")
        self.console.info(line)


class _Running:
    """A request being answered: its deadline once its handler runs, and who answers it (the
    connection thread or the watchdog: whoever claims it first)."""

    def __init__(self, handler: _RequestHandler) -> None:
        self.handler = handler
        self.started = time.perf_counter()
        self.deadline: float | None = None
        self.where = "-"
        self._lock = threading.Lock()
        self._claimed = False

    def claim(self) -> bool:
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True


class _FifoSemaphore:
    """A semaphore whose waiters get a slot in the order they came: a queue. (threading's is not
    fair: a thread that releases may take the slot straight back.)"""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: list[threading.Lock] = []
        self._lock = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # release() handed its slot over
        with self._lock:
            if turn in self._waiting:
                self._waiting.remove(turn)
                return False
        return True  # handed over while timing out: the slot is ours

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.pop(0).release()  # the slot goes to the longest waiter
            else:
                self._free += 1


def _plain(status: int, error: str) -> WagiResponse:
    phrase = HTTPStatus(status).phrase
    return WagiResponse(status, (("Content-Type", "text/plain; charset=utf-8"),),
                        f"{status} {phrase}\n".encode(), error=error)


def _utf8(text: str) -> str:
    """What http.server decoded as Latin-1 (the request line, header values), read again as the
    UTF-8 clients send: the handler's environment is UTF-8, and "Jürgen" must reach it as such,
    not as "JÃ¼rgen". Bytes that are not UTF-8 become U+FFFD (Spin gives such a header the value
    "CORRUPT VALUE")."""
    if text.isascii():
        return text
    return text.encode("latin-1", errors="replace").decode("utf-8", errors="replace")


def _check_unique(routes: Sequence[Route]) -> None:
    seen: set[str] = set()
    for route in routes:
        if route.pattern.pattern in seen:
            msg = f"route {route.pattern.pattern} is given twice"
            raise UserError(msg)
        seen.add(route.pattern.pattern)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a connection left open must not hold the process up
    request_queue_size = _BACKLOG

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily,
                 app: WagiServer) -> None:
        self.address_family = family
        self.app = app
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not socketserver's traceback: a client that drops its connection is routine
        (debug output); anything else is a bug in wasmforge, said as such, and serving goes on."""
        import sys

        del request  # the connection socketserver closes after this
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            self.app.console.debug(f"{client_address[0]}: connection ended: {error}")
            return
        self.app.console.error(f"internal error answering {client_address[0]}: "
                               f"{type(error).__name__}: {error}",
                               hint="a bug in wasmforge serve; please report it")

    def server_bind(self) -> None:
        # http.server's own looks the host name up (socket.getfqdn), which can hang on a machine
        # without DNS: the name is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


def _bind(host: str, port: int, app: WagiServer) -> _HTTPServer:
    """The listening server; a one-line UserError when the address cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        msg = f"--host {host}: not an address of this machine ({error.strerror})"
        raise UserError(msg) from None
    family = infos[0][0]
    try:
        return _HTTPServer((host, port), family, app)
    except OSError as error:
        where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        cause = (error.strerror or str(error)).lower()
        hint = ("choose another --port (0: any free port), or stop what listens there"
                if error.errno == errno.EADDRINUSE else
                "ports below 1024 need root; choose another --port"
                if error.errno == errno.EACCES else None)
        msg = f"cannot listen on {where}: {cause}"
        raise UserError(msg, hint=hint) from None


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connection
    # A response is one write (see _send), but Nagle's algorithm would still hold a small one
    # back until the client's delayed ACK of the last (40 ms on Linux).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def version_string(self) -> str:
        """The Server header: wasmforge, not the Python version http.server adds."""
        return f"wasmforge/{__version__}"

    def setup(self) -> None:
        super().setup()
        # Every read and write on the connection has a deadline: idle keep-alives and stalled
        # clients end there.
        self.connection.settimeout(self.server.app.connection_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's own lines (requests it refused as malformed) go to the debug output:
        the access log is written by ``_dispatch``."""
        self.server.app.console.debug(f"{self.address_string()}: {format % args}")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Not http.server's access line: ``_dispatch`` writes its own, with the route."""

    def _dispatch(self) -> None:
        app = self.server.app
        running = _Running(self)
        app._started(running)
        try:
            outcome = self._answer(app, running)
        finally:
            app._finished(running)
        if outcome is not None:
            app.access_log(self.access_line(outcome.response, outcome.where, running.started,
                                            log_error=outcome.log_error),
                           outcome.response.stderr, outcome.target)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def access_line(self, response: WagiResponse, where: str, started: float, *,
                    log_error: bool = True) -> str:
        elapsed = (time.perf_counter() - started) * 1000
        line = f"{self.command} {self.path} {response.status} {elapsed:.1f} ms {where}"
        return f"{line}: {response.error}" if response.error and log_error else line

    def _answer(self, app: WagiServer, running: _Running) -> _Outcome | None:
        """Answer the request; what the access log says of it (None: the watchdog answered)."""
        target = self._target()
        if target is None:
            return self._send(_plain(400, "bad request target"), "-")
        path, query = target
        table = app._table  # one table for the whole request, whatever a swap does meanwhile
        match = best_match(((r.pattern, r) for r in table.routes), path)
        if match is not None and not match[0].prefix:
            return self._wagi(app, match[1], path, query, running)
        static = table.static.get(path)
        if static is not None:
            return self._static(static)
        if match is not None:
            return self._wagi(app, match[1], path, query, running)
        page = table.page()
        if path == "/" and page is not None:
            return self._send(WagiResponse(302, (("Location", page),), b""), f"-> {page}")
        return self._send(_plain(404, "no route"), "-", log_error=False)

    def _target(self) -> tuple[str, str] | None:
        """(raw path, query) of the request target; None if it is not one (origin-form, or the
        absolute form a proxy sends)."""
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urllib.parse.urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not target.startswith("/"):
            return None
        path, _, query = _utf8(target).partition("#")[0].partition("?")
        return path, query

    def _wagi(self, app: WagiServer, route: Route, path: str, query: str,
              running: _Running) -> _Outcome | None:
        where = f"{route.pattern.pattern} ({route.target})"
        running.where = where
        body = self._body(app.max_body)
        if isinstance(body, WagiResponse):
            return self._send(body, where)
        host, port = self.server.server_address[:2]
        request = WagiRequest(
            method=self.command, path=path, query=query,
            headers=tuple((name, _utf8(value)) for name, value in self.headers.items()),
            body=body, remote_addr=self.client_address[0], server_name=str(host),
            server_port=int(port), protocol=self.request_version,
        )
        response = app.run_handler(route.handler, request, running)
        if response is None:  # the watchdog answered 504 and closed the connection
            self.close_connection = True
            return None
        return self._send(response, where, target=route.target)

    def _body(self, limit: int) -> bytes | WagiResponse:
        """The request body, or the response refusing it."""
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding and encoding != "identity":
            if encoding != "chunked":
                self.close_connection = True
                return _plain(501, f"transfer-encoding {encoding} is not supported")
            return self._chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        if not length_header.strip().isdigit():
            self.close_connection = True
            return _plain(400, f"bad content-length {length_header!r}")
        length = int(length_header)
        if length > limit:
            # Not read: the connection cannot be reused, the unread body is in the way.
            self.close_connection = True
            return _plain(413, f"body of {length} bytes, above the limit of {limit}")
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return _plain(400, "the body ended early")
        return body

    def _chunked(self, limit: int) -> bytes | WagiResponse:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                length = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                return _plain(400, "bad chunk size")
            if length == 0:
                break
            size += length
            if size > limit:
                self.close_connection = True
                return _plain(413, f"chunked body above the limit of {limit} bytes")
            chunk = self.rfile.read(length)
            if len(chunk) < length:
                self.close_connection = True
                return _plain(400, "the body ended early")
            chunks.append(chunk)
            self.rfile.readline(1024)  # the CRLF after the chunk
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers: not passed on
        return b"".join(chunks)

    def _static(self, file: StaticFile) -> _Outcome:
        where = f"static ({file.target})"
        if self.command not in _STATIC_METHODS:
            response = _plain(405, f"{self.command} of a static file")
            allowed = replace(response, headers=(*response.headers, ("Allow", "GET, HEAD")))
            return self._send(allowed, where, log_error=False)
        try:
            data = file.path.read_bytes()
        except OSError as error:  # removed by a rebuild in progress, say
            return self._send(_plain(404, f"{file.path}: {error.strerror or error}"), where)
        return self._send(WagiResponse(200, (("Content-Type", file.content_type),
                                             ("Cache-Control", "no-cache")), data), where)

    def _send(self, response: WagiResponse, where: str, *, target: str = "",
              log_error: bool = True) -> _Outcome:
        """Write ``response``; what the access log says of it."""
        try:
            self.wfile.write(self.response_bytes(response, closing=self.close_connection))
        except OSError as error:  # the client went away (or stalled past the deadline)
            self.close_connection = True
            gone = f"not sent: {error.strerror or error}"
            return _Outcome(replace(response, error=f"{response.error}; {gone}"
                                    if response.error else gone), where, target)
        return _Outcome(response, where, target, log_error)

    def response_bytes(self, response: WagiResponse, *, closing: bool) -> bytes:
        """The response as it goes on the wire: the head and the body in one write, built here
        rather than with send_header (a write per header), since each socket call gives the GIL
        away and getting it back is what costs under load."""
        phrase = _PHRASES.get(response.status, "")
        lines = [f"{self.protocol_version} {response.status} {phrase}",
                 f"Server: {self.version_string()}", f"Date: {self.date_time_string()}",
                 *(f"{name}: {value}" for name, value in response.headers),
                 f"Content-Length: {len(response.body)}"]
        if closing:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            # An HTTP/1.0 client that asked to keep the connection is told it is kept, or it
            # waits for the close that would end the body.
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if self.command == "HEAD" else head + response.body


@dataclass(frozen=True)
class _Outcome:
    """A request answered, for its access log line."""

    response: WagiResponse
    where: str  # the route and target, "static (target)", or "-"
    target: str = ""
    log_error: bool = True
