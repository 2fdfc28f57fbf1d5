"""WagiHandler: WAT handlers of the tests' own, run for requests by the real wasmtime."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import wagi_modules as wm
from tests.unit.test_serve_wagi import CGI_VARIABLES
from wasmforge.errors import UserError
from wasmforge.serve import executor
from wasmforge.serve.executor import WagiHandler, WagiRequest


def _handler(tmp_path: Path, text: str, **options: object) -> WagiHandler:
    return WagiHandler(wm.write_module(tmp_path, "handler", text), **options)  # type: ignore[arg-type]


def test_the_handler_sees_the_request_as_cgi(tmp_path: Path) -> None:
    handler = _handler(tmp_path, wm.CGI_ENV, route="/api/...", env={"GREETING": "hi",
                                                                    "REQUEST_METHOD": "FAKE"})
    request = WagiRequest(
        method="POST", path="/api/items/a%2Fb", query="name=Ada&verbose",
        headers=(("Host", "localhost:3000"), ("Content-Type", "application/json"),
                 ("X-Request-Id", "42"), ("Authorization", "Basic c2VjcmV0")),
        body=b'{"a": 1}', remote_addr="127.0.0.9",
    )
    response = handler.handle(request)
    assert response.status == 200, response.error
    assert response.headers == (("content-type", "text/plain"),)
    env, argv, stdin = wm.parse_env_body(response.body)
    assert set(env) >= CGI_VARIABLES
    assert env["REQUEST_METHOD"] == "POST"  # the request's, not the configured one
    assert env["GREETING"] == "hi"
    assert env["SCRIPT_NAME"] == "/api"
    assert env["PATH_INFO"] == "/items/a/b"
    assert env["X_RAW_PATH_INFO"] == "/items/a%2Fb"
    assert env["X_MATCHED_ROUTE"] == "/api/..."
    assert env["QUERY_STRING"] == "name=Ada&verbose"
    assert env["CONTENT_LENGTH"] == "8"
    assert env["CONTENT_TYPE"] == env["HTTP_CONTENT_TYPE"] == "application/json"
    assert env["HTTP_X_REQUEST_ID"] == "42"
    assert "HTTP_AUTHORIZATION" not in env
    assert env["REMOTE_ADDR"] == "127.0.0.9"
    assert env["X_FULL_URL"] == "http://localhost:3000/api/items/a%2Fb?name=Ada&verbose"
    assert argv == ["/api/items/a%2Fb", "name=Ada", "verbose"]
    assert stdin == b'{"a": 1}'
    assert response.stderr == b"handled\n"


def test_the_handler_output_is_the_response(tmp_path: Path) -> None:
    echo = _handler(tmp_path, wm.ECHO)
    said = echo.handle(WagiRequest("POST", "/", body=b"Status: 418 Teapot\r\n"
                                   b"Content-Type: text/plain\r\nX-A: b\r\n\r\nshort and stout"))
    assert (said.status, said.headers, said.body, said.error) == (
        418, (("Content-Type", "text/plain"), ("X-A", "b")), b"short and stout", None)
    moved = echo.handle(WagiRequest("POST", "/", body=b"Location: /there\n\n"))
    assert (moved.status, moved.headers) == (302, (("Location", "/there"),))
    bad = echo.handle(WagiRequest("POST", "/", body=b"Status: two hundred\n\n"))
    assert bad.status == 502
    assert bad.error is not None
    assert "bad status" in bad.error
    untyped = echo.handle(WagiRequest("POST", "/", body=b"X-Only: this\n\nbody"))
    assert untyped.status == 500
    assert untyped.error == "no content-type or location header"


def test_a_large_body_round_trips(tmp_path: Path) -> None:
    body = b"content-type: application/octet-stream\n\n" + bytes(range(256)) * 4096  # 1 MiB
    response = _handler(tmp_path, wm.ECHO).handle(WagiRequest("PUT", "/", body=body))
    assert response.status == 200
    assert response.body == bytes(range(256)) * 4096


def test_a_trap_is_a_500(tmp_path: Path) -> None:
    response = _handler(tmp_path, wm.TRAP).handle(WagiRequest("GET", "/"))
    assert response.status == 500
    assert response.error is not None
    assert response.error.startswith("trapped: wasm trap: wasm `unreachable`")
    assert response.body == b"500 Internal Server Error\n"  # the reason is for the log only


def test_a_non_zero_exit_is_a_500_and_exit_0_is_an_answer(tmp_path: Path) -> None:
    failed = _handler(tmp_path, wm.EXIT_3).handle(WagiRequest("GET", "/"))
    assert (failed.status, failed.error) == (500, "exited with code 3")
    done = _handler(tmp_path, wm.EXIT_0).handle(WagiRequest("GET", "/"))
    assert (done.status, done.body, done.error) == (200, b"bye", None)


def test_no_output_is_a_500(tmp_path: Path) -> None:
    response = _handler(tmp_path, wm.SILENT).handle(WagiRequest("GET", "/"))
    assert (response.status, response.error) == (500, "wrote nothing to stdout")


def test_an_endless_handler_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    handler = _handler(tmp_path, wm.LOOP, timeout=0.3)
    started = time.monotonic()
    response = handler.handle(WagiRequest("GET", "/"))
    elapsed = time.monotonic() - started
    assert response.status == 504
    assert response.error == "still running after 0.3 s: stopped"
    assert 0.3 <= elapsed < 2


def test_concurrent_requests_each_get_their_own_instance(tmp_path: Path) -> None:
    handler = _handler(tmp_path, wm.CGI_ENV)

    def ask(n: int) -> tuple[int, str]:
        response = handler.handle(WagiRequest("GET", f"/n/{n}", query=f"n={n}",
                                              body=str(n).encode()))
        env, argv, stdin = wm.parse_env_body(response.body)
        assert argv == [f"/n/{n}", f"n={n}"]
        assert stdin == str(n).encode()
        return response.status, env["PATH_INFO"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(64)))
    assert answers == [(200, f"/n/{n}") for n in range(64)]


def test_a_slow_handler_does_not_hold_up_the_others(tmp_path: Path) -> None:
    slow = WagiHandler(wm.write_module(tmp_path, "loop", wm.LOOP), timeout=1.0)
    fast = WagiHandler(wm.write_module(tmp_path, "env", wm.CGI_ENV))
    with ThreadPoolExecutor(2) as pool:
        stuck = pool.submit(slow.handle, WagiRequest("GET", "/"))
        started = time.monotonic()
        assert fast.handle(WagiRequest("GET", "/")).status == 200
        assert time.monotonic() - started < 0.5
        assert stuck.result(timeout=10).status == 504


@pytest.mark.parametrize(("text", "problem"), [
    (wm.REACTOR, "exports no _start function, so it is not a WASI command"),
    ("(module (func (export \"_start\") (param i32)))", "exports no _start function"),
    ("(module (import \"env\" \"f\" (func)) (func (export \"_start\")))", "cannot be linked"),
    ("(module (func $f (export \"_start\") (i32.add)))", "not a valid module"),
])
def test_modules_that_cannot_be_handlers(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(UserError, match=problem):
        _handler(tmp_path, text)


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="must start with '/'"):
        _handler(tmp_path, wm.SILENT, route="api")
    with pytest.raises(UserError, match="does not exist"):
        _handler(tmp_path, wm.SILENT, dirs=[(str(tmp_path / "nope"), "/data")])
    with pytest.raises(UserError, match="must be more than 0"):
        _handler(tmp_path, wm.SILENT, timeout=0)


def test_a_component_is_refused(tmp_path: Path) -> None:
    component = tmp_path / "c.wasm"
    # The preamble of a component (layer 1), followed by an empty component: version 0x0d.
    component.write_bytes(b"\0asm\x0d\x00\x01\x00")
    with pytest.raises(UserError, match=r"a WASI 0\.2 component"):
        WagiHandler(component)


def test_preopened_directories(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    handler = _handler(tmp_path, wm.PREOPEN, dirs=[(str(data), "/srv/data")])
    response = handler.handle(WagiRequest("GET", "/"))
    assert (response.status, response.body) == (200, b"/srv/data")
    bare = _handler(tmp_path, wm.PREOPEN).handle(WagiRequest("GET", "/"))
    assert (bare.status, bare.body) == (200, b"")  # no directory unless the route gives one


def test_output_past_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "MAX_OUTPUT_BYTES", 1024 * 1024)
    started = time.monotonic()
    response = _handler(tmp_path, wm.FLOOD, timeout=10).handle(WagiRequest("GET", "/"))
    assert (response.status, response.error) == (500, "wrote more than 1048576 bytes to stdout")
    assert time.monotonic() - started < 5  # sealed at a tick, not left to run to its timeout


def test_a_guest_blocked_in_a_host_call_is_stopped_when_it_returns(tmp_path: Path) -> None:
    response = _handler(tmp_path, wm.SLEEP_3S, timeout=0.3).handle(WagiRequest("GET", "/"))
    assert response.status == 504  # its answer after the sleep is not taken


def test_a_thread_s_next_request_sees_none_of_the_last_one_s_output(tmp_path: Path) -> None:
    """A thread keeps its stdout and stderr files between requests: wasmtime must truncate
    them when it opens them, or one response would carry the end of another."""
    echo = _handler(tmp_path, wm.ECHO)
    long = echo.handle(WagiRequest("POST", "/", body=b"content-type: a/b\n\n" + b"x" * 100_000))
    assert len(long.body) == 100_000
    short = echo.handle(WagiRequest("POST", "/", body=b"content-type: a/b\n\nshort"))
    assert short.body == b"short"
    env = WagiHandler(wm.write_module(tmp_path, "env", wm.CGI_ENV))
    assert env.handle(WagiRequest("GET", "/")).stderr == b"handled\n"
    assert env.handle(WagiRequest("GET", "/")).stderr == b"handled\n"  # not twice


def test_after_output_past_the_limit_the_next_request_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor, "MAX_OUTPUT_BYTES", 1024 * 1024)
    flood = WagiHandler(wm.write_module(tmp_path, "flood", wm.FLOOD), timeout=10)
    assert flood.handle(WagiRequest("GET", "/")).status == 500
    echo = WagiHandler(wm.write_module(tmp_path, "echo", wm.ECHO))
    assert echo.handle(WagiRequest("POST", "/", body=b"content-type: a/b\n\nok")).body == b"ok"
