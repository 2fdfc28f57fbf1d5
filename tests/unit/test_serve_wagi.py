"""The WAGI contract without Wasm: route patterns, the CGI environment and argv of a request, and
the rules that turn a handler's stdout into a response."""

from __future__ import annotations

import pytest

from wasmforge.serve.executor import WagiRequest
from wasmforge.serve.routes import best_match, parse_route
from wasmforge.serve.wagi import HandlerOutputError, cgi_environment, parse_output, wagi_argv

# Every variable the issue lists, besides one HTTP_* per header.
CGI_VARIABLES = {
    "REQUEST_METHOD", "QUERY_STRING", "CONTENT_LENGTH", "CONTENT_TYPE", "PATH_INFO",
    "PATH_TRANSLATED", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
    "SERVER_SOFTWARE", "GATEWAY_INTERFACE", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_USER",
    "AUTH_TYPE", "X_MATCHED_ROUTE", "X_RAW_PATH_INFO", "X_FULL_URL",
}


def _request(**fields: object) -> WagiRequest:
    defaults: dict[str, object] = {"method": "GET", "path": "/"}
    return WagiRequest(**{**defaults, **fields})  # type: ignore[arg-type]


# Routes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/hello", "/hello", True),
    ("/hello", "/hello/", False),
    ("/hello", "/hello/x", False),
    ("/api/...", "/api", True),
    ("/api/...", "/api/", True),
    ("/api/...", "/api/v1/x", True),
    ("/api/...", "/apix", False),
    ("/...", "/", True),
    ("/...", "/anything/at/all", True),
    ("/", "/", True),
    ("/", "/x", False),
])
def test_route_matching(pattern: str, path: str, matches: bool) -> None:
    assert parse_route(pattern).matches(path) is matches


@pytest.mark.parametrize(("pattern", "problem"), [
    ("hello", "must start with '/'"),
    ("/a?b=1", "without a query"),
    ("/a/.../b", "'...' may only end a route"),
    ("/api/", "drop the trailing '/'"),
])
def test_bad_routes(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_route(pattern)


def test_exact_route_wins_then_the_longest_prefix() -> None:
    routes = [(parse_route(p), p) for p in ("/...", "/api/...", "/api/v1/...", "/api/v1/ping")]
    assert best_match(routes, "/api/v1/ping") == (parse_route("/api/v1/ping"), "/api/v1/ping")
    assert best_match(routes, "/api/v1/x")[1] == "/api/v1/..."  # type: ignore[index]
    assert best_match(routes, "/api/v2")[1] == "/api/..."  # type: ignore[index]
    assert best_match(routes, "/other")[1] == "/..."  # type: ignore[index]
    assert best_match(routes[1:], "/other") is None


# Request: environment and argv ---------------------------------------------------------------------


def test_every_cgi_variable_of_a_request() -> None:
    request = _request(
        method="POST", path="/api/items/a%20b", query="name=Ada&x",
        headers=(("Host", "example.test:8080"), ("Content-Type", "text/plain"),
                 ("X-Trace", "t1"), ("Authorization", "Bearer secret"),
                 ("Connection", "keep-alive"), ("Accept", "a"), ("Accept", "b")),
        body=b"hello", remote_addr="10.1.2.3", server_name="127.0.0.1", server_port=3000,
        protocol="HTTP/1.0",
    )
    env = cgi_environment(request, parse_route("/api/..."))
    assert set(env) >= CGI_VARIABLES
    assert env["REQUEST_METHOD"] == "POST"
    assert env["QUERY_STRING"] == "name=Ada&x"
    assert env["CONTENT_LENGTH"] == "5"
    assert env["CONTENT_TYPE"] == "text/plain"  # the real header (Spin leaves it empty)
    assert env["HTTP_CONTENT_TYPE"] == "text/plain"
    assert env["SCRIPT_NAME"] == "/api"
    assert env["PATH_INFO"] == "/items/a b"
    assert env["PATH_TRANSLATED"] == "/items/a b"
    assert env["X_RAW_PATH_INFO"] == "/items/a%20b"
    assert env["X_MATCHED_ROUTE"] == "/api/..."
    assert env["SERVER_NAME"] == "example.test"  # from the Host header
    assert env["SERVER_PORT"] == "8080"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["SERVER_SOFTWARE"] == "WAGI/1"
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["REMOTE_ADDR"] == env["REMOTE_HOST"] == "10.1.2.3"
    assert env["REMOTE_USER"] == env["AUTH_TYPE"] == ""
    assert env["X_FULL_URL"] == "http://example.test:8080/api/items/a%20b?name=Ada&x"
    assert env["HTTP_X_TRACE"] == "t1"
    assert env["HTTP_HOST"] == "example.test:8080"
    assert env["HTTP_ACCEPT"] == "a, b"  # a repeated header, joined
    assert "HTTP_AUTHORIZATION" not in env
    assert "HTTP_CONNECTION" not in env


def test_one_target_at_the_root_sees_the_whole_path() -> None:
    env = cgi_environment(_request(path="/sub/path"), parse_route("/..."))
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/sub/path"
    assert env["X_MATCHED_ROUTE"] == "/..."
    assert cgi_environment(_request(path="/hello"), parse_route("/..."))["PATH_INFO"] == "/hello"


def test_an_exact_route_has_no_path_info() -> None:
    env = cgi_environment(_request(path="/hello"), parse_route("/hello"))
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["X_RAW_PATH_INFO"]) == ("/hello", "", "")


def test_without_a_host_header_or_content_type() -> None:
    request = _request(server_name="127.0.0.1", server_port=4321)
    env = cgi_environment(request, parse_route("/..."))
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", "4321")
    assert env["CONTENT_TYPE"] == ""
    assert env["CONTENT_LENGTH"] == "0"
    assert env["X_FULL_URL"] == "http://127.0.0.1:4321/"


@pytest.mark.parametrize(("host", "name", "port"), [
    ("example.test", "example.test", "3000"),  # no port in the header: the server's own
    ("[::1]:8080", "[::1]", "8080"),
    ("[::1]", "[::1]", "3000"),
])
def test_server_name_and_port_from_the_host_header(host: str, name: str, port: str) -> None:
    env = cgi_environment(_request(headers=(("Host", host),)), parse_route("/..."))
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == (name, port)


@pytest.mark.parametrize(("path", "query", "argv"), [
    ("/hello", "", ["/hello"]),
    ("/hello", "name=Ada", ["/hello", "name=Ada"]),
    ("/api/x", "a=1&b=two%20words&flag", ["/api/x", "a=1", "b=two%20words", "flag"]),
    ("/x", "a&&b", ["/x", "a", "", "b"]),
])
def test_argv_is_the_path_and_the_query_words(path: str, query: str, argv: list[str]) -> None:
    assert wagi_argv(_request(path=path, query=query)) == argv


# Response: parsing stdout ------------------------------------------------------------------------


def test_headers_then_the_body() -> None:
    status, headers, body = parse_output(b"Content-Type: text/plain\nX-One: 1\n\nhello\n\nworld")
    assert status == 200
    assert headers == (("Content-Type", "text/plain"), ("X-One", "1"))
    assert body == b"hello\n\nworld"


def test_cr_is_ignored_in_the_headers_only() -> None:
    status, headers, body = parse_output(b"content-type: text/plain\r\nx: y\r\n\r\nbody\r\n")
    assert (status, headers, body) == (200, (("content-type", "text/plain"), ("x", "y")),
                                       b"body\r\n")


@pytest.mark.parametrize(("output", "status"), [
    (b"Status: 404 Not Found\ncontent-type: text/plain\n\nno", 404),
    (b"content-type: text/plain\nStatus: 201\n\n", 201),
    (b"Status: 204\n\n", 204),  # a status alone is accepted, as Spin does
    (b"Location: /elsewhere\n\n", 302),
    (b"Location: /elsewhere\nStatus: 301\n\n", 301),
    (b"Status: 303 See Other\nLocation: /x\n\n", 303),
])
def test_status_and_location(output: bytes, status: int) -> None:
    assert parse_output(output)[0] == status


def test_status_is_not_passed_on_as_a_header_and_framing_headers_are_dropped() -> None:
    _, headers, _ = parse_output(b"Status: 200\nContent-Type: a/b\nContent-Length: 99\n"
                                 b"Transfer-Encoding: chunked\nConnection: close\nSet-Cookie: a=1\n"
                                 b"Set-Cookie: b=2\n\n")
    assert headers == (("Content-Type", "a/b"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"))


@pytest.mark.parametrize(("output", "status", "reason"), [
    (b"Status: abc\ncontent-type: text/plain\n\n", 502, "bad status"),
    (b"Status: 99\ncontent-type: text/plain\n\n", 502, "bad status"),
    (b"Status: 1000\n\n", 502, "bad status"),
    (b"Status: 101 Switching Protocols\n\n", 502, "bad status"),
    (b"Status:\n\n", 502, "bad status"),
    (b"x-header: only\n\nbody", 500, "no content-type or location header"),
    (b"content-type: text/plain\nbody without a blank line", 500, "no blank line"),
    (b"hello world\n", 500, "no blank line"),
    (b"\n\nbody", 500, "no headers"),
    (b"content-type: text/plain\nnot a header\n\n", 500, "without ':'"),
    (b"bad name: x\ncontent-type: text/plain\n\n", 500, "not a header name"),
    (b"content-type: \xff\xfe\n\n", 500, "not UTF-8"),
    ("content-type: text/plain\nx: \u2603\n\n".encode(), 500, "cannot carry"),
    (b"content-type: text/plain\nx: a\x01b\n\n", 500, "cannot carry"),
])
def test_output_that_is_not_a_response(output: bytes, status: int, reason: str) -> None:
    with pytest.raises(HandlerOutputError, match=reason) as caught:
        parse_output(output)
    assert caught.value.status == status
