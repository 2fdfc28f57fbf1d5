"""WagiServer in this process, over real sockets: routing, static files, limits, the queue of
workers, deadlines, swapping handlers, the access log."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import wagi_modules as wm
from wasmforge.errors import UserError
from wasmforge.serve.executor import WagiHandler
from wasmforge.serve.routes import parse_route
from wasmforge.serve.server import Route, StaticFile, WagiServer

TIMEOUT = 30  # every client call here has a deadline


def _route(tmp_path: Path, pattern: str, text: str, name: str, **options: object) -> Route:
    module = wm.write_module(tmp_path, name, text)
    handler = WagiHandler(module, route=pattern, **options)  # type: ignore[arg-type]
    return Route(parse_route(pattern), name, handler)


@contextmanager
def _serving(routes: Sequence[Route], static: Mapping[str, StaticFile] | None = None,
             **options: object) -> Iterator[WagiServer]:
    server = WagiServer(routes, static, port=0, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _get(url: str, *, data: bytes | None = None, method: str | None = None,
         headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are raised as the HTTPError they are, for the test to see."""

    def redirect_request(self, *_: object, **__: object) -> None:
        return None


def test_routes_static_files_and_their_order(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p id=result>49</p>")
    wasm = tmp_path / "page.wasm"
    wasm.write_bytes(b"\0asm\1\0\0\0")
    notes = tmp_path / "notes.txt"
    notes.write_text("notes")
    static = {"/page.html": StaticFile.of(page, "page"), "/page.wasm": StaticFile.of(wasm, "page"),
              "/api/notes.txt": StaticFile.of(notes, "page")}
    routes = [_route(tmp_path, "/api/...", wm.CGI_ENV, "api"),
              _route(tmp_path, "/api/exact", wm.CGI_ENV, "exact"),
              _route(tmp_path, "/api/v2/...", wm.CGI_ENV, "v2")]
    with _serving(routes, static) as server:
        status, headers, body = _get(f"{server.url}/page.html")
        assert (status, headers["Content-Type"], body) == (
            200, "text/html; charset=utf-8", b"<p id=result>49</p>")
        assert headers["Cache-Control"] == "no-cache"
        status, headers, body = _get(f"{server.url}/page.wasm")
        assert (status, headers["Content-Type"], body) == (200, "application/wasm", wasm.read_bytes())
        assert _get(f"{server.url}/page.wasm", method="HEAD")[2] == b""
        status, headers, _ = _get(f"{server.url}/page.wasm", data=b"x")
        assert (status, headers["Allow"]) == (405, "GET, HEAD")

        def matched(path: str) -> str:
            status, _, body = _get(f"{server.url}{path}")
            assert status == 200
            return wm.parse_env_body(body)[0]["X_MATCHED_ROUTE"]

        assert matched("/api/exact") == "/api/exact"  # an exact route first
        assert _get(f"{server.url}/api/notes.txt")[2] == b"notes"  # then a file
        assert matched("/api/v2/x") == "/api/v2/..."  # then the longest prefix
        assert matched("/api/v3") == "/api/..."
        assert matched("/api") == "/api/..."
        status, _, body = _get(f"{server.url}/elsewhere")
        assert (status, body) == (404, b"404 Not Found\n")
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirected:
            opener.open(f"{server.url}/", timeout=TIMEOUT)
        assert redirected.value.code == 302
        assert redirected.value.headers["Location"] == "/page.html"  # the one page
        redirected.value.close()


def test_the_request_reaches_the_handler(tmp_path: Path) -> None:
    with _serving([_route(tmp_path, "/...", wm.CGI_ENV, "env")]) as server:
        status, headers, body = _get(f"{server.url}/sub/path?name=Ada&x", data=b"payload",
                                     headers={"Content-Type": "text/x", "X-Trace": "7"})
        assert status == 200
        assert headers["content-type"] == "text/plain"
        assert headers["Server"].startswith("wasmforge/")
        env, argv, stdin = wm.parse_env_body(body)
        assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/sub/path")
        assert env["REQUEST_METHOD"] == "POST"
        assert env["CONTENT_TYPE"] == "text/x"
        assert env["HTTP_X_TRACE"] == "7"
        assert env["SERVER_PORT"] == str(server.port)
        assert env["X_FULL_URL"] == f"http://127.0.0.1:{server.port}/sub/path?name=Ada&x"
        assert argv == ["/sub/path", "name=Ada", "x"]
        assert stdin == b"payload"


def test_keep_alive_head_and_chunked_bodies(tmp_path: Path) -> None:
    with _serving([_route(tmp_path, "/...", wm.ECHO, "echo")]) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
        for n in range(3):  # one connection, three requests
            connection.request("POST", "/", body=f"content-type: text/plain\n\nround {n}")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, f"round {n}".encode())
        connection.request("HEAD", "/", body=b"content-type: text/plain\n\nunseen")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == "6"
        assert response.read() == b""
        chunks = iter([b"content-type: text/plain\n\n", b"in ", b"chunks"])
        connection.request("POST", "/", body=chunks, encode_chunked=True)
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"in chunks")
        connection.close()


def test_body_limits_and_bad_requests(tmp_path: Path) -> None:
    with _serving([_route(tmp_path, "/...", wm.ECHO, "echo")], max_body=100) as server:
        status, headers, _ = _get(server.url, data=b"x" * 101)
        assert (status, headers["Connection"]) == (413, "close")
        assert _get(server.url, data=b"content-type: a/b\n\n" + b"x" * 60)[0] == 200
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
        connection.request("POST", "/", body=iter([b"x" * 60, b"y" * 60]), encode_chunked=True)
        assert connection.getresponse().status == 413
        connection.close()
        for head in (b"Content-Length: lots\r\n", b"Transfer-Encoding: gzip\r\n"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw:
                raw.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
                answer = raw.recv(4096)
            assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 400 Bad Request",
                                                   b"HTTP/1.1 501 Not Implemented")


def test_sixteen_concurrent_clients_all_succeed(tmp_path: Path) -> None:
    with _serving([_route(tmp_path, "/...", wm.CGI_ENV, "env")], workers=2) as server:
        def client(n: int) -> list[int]:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
            statuses = []
            for i in range(20):
                connection.request("GET", f"/c{n}/r{i}")
                response = connection.getresponse()
                env = wm.parse_env_body(response.read())[0]
                assert env["PATH_INFO"] == f"/c{n}/r{i}"
                statuses.append(response.status)
            connection.close()
            return statuses

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(client, range(16)))
    assert results == [[200] * 20] * 16


def test_requests_past_the_workers_wait_in_the_queue(tmp_path: Path) -> None:
    slow = _route(tmp_path, "/slow", wm.LOOP, "slow", timeout=1.0)
    quick = _route(tmp_path, "/quick", wm.CGI_ENV, "quick", timeout=5.0)
    impatient = _route(tmp_path, "/impatient", wm.CGI_ENV, "impatient", timeout=0.2)
    with _serving([slow, quick, impatient], workers=1) as server, ThreadPoolExecutor(3) as pool:
        stuck = pool.submit(_get, f"{server.url}/slow")
        time.sleep(0.3)  # the one worker is busy with it
        waiting = pool.submit(_get, f"{server.url}/quick")
        given_up = pool.submit(_get, f"{server.url}/impatient")
        assert given_up.result(timeout=TIMEOUT)[0] == 503  # waited its timeout for the worker
        assert waiting.result(timeout=TIMEOUT)[0] == 200  # served once the worker was free
        assert stuck.result(timeout=TIMEOUT)[0] == 504


def test_a_handler_blocked_in_a_host_call_is_answered_at_its_deadline(tmp_path: Path) -> None:
    with _serving([_route(tmp_path, "/...", wm.SLEEP_3S, "sleep", timeout=0.3)]) as server:
        started = time.monotonic()
        status, headers, _ = _get(server.url)
        elapsed = time.monotonic() - started
    assert (status, headers["Connection"]) == (504, "close")
    assert 1.2 <= elapsed < 2.5  # the timeout, the watchdog's second, not the 3 s sleep


def test_replace_handlers_swaps_between_requests(tmp_path: Path) -> None:
    route = _route(tmp_path, "/...", wm.CGI_ENV, "app")
    with _serving([route]) as server:
        assert _get(server.url)[0] == 200
        echo = wm.write_module(tmp_path, "echo", wm.ECHO)
        server.replace_handlers({"/...": WagiHandler(echo)})
        assert _get(server.url, data=b"content-type: a/b\n\nnew")[2] == b"new"
        with pytest.raises(KeyError, match="not a served route: /other"):
            server.replace_handlers({"/other": WagiHandler(echo)})
        server.reload_target("app", wm.write_module(tmp_path, "env2", wm.CGI_ENV))
        assert b"--argv--" in _get(server.url)[2]
        broken = tmp_path / "broken.wat"
        broken.write_text("(module")
        with pytest.raises(UserError):
            server.reload_target("app", broken)
        assert b"--argv--" in _get(server.url)[2]  # the last good handler serves on
        assert server.routes[0].handler.timeout == route.handler.timeout


def test_the_access_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    routes = [_route(tmp_path, "/api/...", wm.CGI_ENV, "api"),
              _route(tmp_path, "/boom", wm.TRAP, "boom")]
    with _serving(routes) as server:
        _get(f"{server.url}/api/x?q=1")
        _get(f"{server.url}/boom")
        _get(f"{server.url}/nowhere")
    lines = capsys.readouterr().err.splitlines()
    assert "  [api] handled" in lines  # the handler's stderr
    assert any(line.startswith("GET /api/x?q=1 200 ") and line.endswith(" ms /api/... (api)")
               for line in lines), lines
    failed = next(line for line in lines if line.startswith("GET /boom 500 "))
    assert failed.endswith("/boom (boom): trapped: wasm trap: wasm `unreachable` instruction "
                           "executed")
    assert any(line.startswith("GET /nowhere 404 ") for line in lines)


def test_an_address_in_use_is_a_user_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}: address "
                           "already in use"):
            WagiServer([_route(tmp_path, "/...", wm.CGI_ENV, "env")], port=port)


def test_routes_must_differ(tmp_path: Path) -> None:
    route = _route(tmp_path, "/...", wm.CGI_ENV, "env")
    with pytest.raises(UserError, match=r"route /\.\.\. is given twice"):
        WagiServer([route, route], port=0)


def test_clients_that_go_away_or_send_garbage(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with _serving([_route(tmp_path, "/...", wm.CGI_ENV, "env")]) as server:
        address = ("127.0.0.1", server.port)
        with socket.create_connection(address, timeout=TIMEOUT) as raw:  # a body cut short
            raw.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            raw.shutdown(socket.SHUT_WR)
            assert raw.recv(4096).startswith(b"HTTP/1.1 400 ")
        with socket.create_connection(address, timeout=TIMEOUT) as raw:  # gone before the answer
            raw.sendall(b"GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")  # RST
        with socket.create_connection(address, timeout=TIMEOUT) as raw:
            raw.sendall(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")  # a method nobody serves
            assert raw.recv(4096).startswith(b"HTTP/1.1 501 ")
        time.sleep(0.5)
        assert _get(f"{server.url}/still/serving")[0] == 200
    said = capsys.readouterr().err
    assert "Traceback" not in said
    assert "POST / 400 " in said
    assert "the body ended early" in said


def test_utf8_in_the_request_line_and_headers_reaches_the_handler_as_utf8(tmp_path: Path) -> None:
    with (_serving([_route(tmp_path, "/...", wm.CGI_ENV, "env")]) as server,
          socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw):
        raw.sendall("GET /ä?name=Jürgen HTTP/1.1\r\nHost: x\r\nX-Name: Jürgen\r\n".encode()
                    + b"X-Bad: \xff\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    env, argv, _ = wm.parse_env_body(answer.partition(b"\r\n\r\n")[2])
    assert (env["HTTP_X_NAME"], env["QUERY_STRING"], env["PATH_INFO"]) == (
        "Jürgen", "name=Jürgen", "/ä")
    assert env["HTTP_X_BAD"] == "\ufffd"  # not UTF-8: replaced, not passed on mangled
    assert argv == ["/ä", "name=Jürgen"]
