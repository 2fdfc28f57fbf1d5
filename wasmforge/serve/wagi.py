"""The WAGI contract (CGI over WASI), as Spin's WAGI executor implements it: what a handler is given
for a request, and how its standard output becomes a response. Pure functions; no Wasm here.

Request: ``argv`` is the request path (WAGI's "script name") followed by the query string's
``&``-separated words, undecoded (``/hello?a=1&b`` gives ``["/hello", "a=1", "b"]``); the body is
on stdin; the environment holds the CGI variables of :func:`cgi_environment`.

Response: the handler's stdout up to its first blank line is a header block, ``Name: value`` per
line (CR is ignored there, so CRLF works); the rest is the body. ``Status: CODE [reason]`` sets the
status (the reason is not used); a ``Location`` without a status makes it 302; otherwise it is 200.
A ``content-type`` or ``location`` header is required; like Spin, a ``Status`` alone is accepted
too (CGI libraries send error statuses without a type). What fails:

- a status that is not a code of 200-599 → 502 (the handler answered, badly: a bad gateway);
- no blank line, no content-type/location/status, a line without ``:``, a header name that is not
  an HTTP token, headers that are not UTF-8 or values HTTP cannot carry (beyond Latin-1) → 500.

Spin skips a line without ``:`` and a bad header name with a warning; here they are a 500, so that
a handler that prints its body before its headers is told at once, not half-answered.

``Content-Length``, ``Transfer-Encoding``, ``Connection`` and ``Keep-Alive`` from a handler are
dropped: the server frames the body it was given and owns the connection.

**CONTENT_TYPE.** Both deislabs/wagi and Spin read ``CONTENT_TYPE`` from a request header literally
named ``CONTENT_TYPE``, which no client sends, so under Spin it is empty and the real type is only in
``HTTP_CONTENT_TYPE``. Here ``CONTENT_TYPE`` is the request's ``Content-Type`` (RFC 3875 4.1.3), and
``HTTP_CONTENT_TYPE`` holds it too, so a handler reading either works here; one written against
Spin that reads ``HTTP_CONTENT_TYPE`` works in both. Like Spin, ``CONTENT_TYPE`` is set (empty)
when the request has none, so every handler sees the same set of variables.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wasmforge.serve.executor import WagiRequest
    from wasmforge.serve.routes import RoutePattern

GATEWAY_INTERFACE = "CGI/1.1"
SERVER_SOFTWARE = "WAGI/1"
# RFC 3875 4.1.18: credentials are not the program's to see, and the connection is the server's.
_HIDDEN_HEADERS = frozenset({"AUTHORIZATION", "CONNECTION"})
# Framing and connection headers: the server sets them for the body it sends (see the docstring).
_DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection",
                                       "keep-alive"})
# RFC 9110 5.6.2: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# The end of the header block: a line feed, then (CRs ignored) another.
_BLANK_LINE = re.compile(rb"\n\r*\n")
_LOWEST_STATUS = 200  # 1xx are interim responses, not an answer
_HIGHEST_STATUS = 599


class HandlerOutputError(Exception):
    """The handler's output is not a response: answer ``status`` (500 or 502); ``reason`` is for
    the log line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def wagi_argv(request: WagiRequest) -> list[str]:
    """The handler's argv: the request path, then the query's ``&``-separated words as they came
    (not percent-decoded; an empty word stays, as in deislabs/wagi)."""
    return [request.path, *(request.query.split("&") if request.query else [])]


def cgi_environment(request: WagiRequest, route: RoutePattern) -> dict[str, str]:
    """The CGI variables of ``request`` answered by ``route`` (see the module docstring)."""
    host, port = _host_and_port(request)
    raw_path_info = route.path_info(request.path)
    # PATH_INFO is decoded ("%20" → " "; a "/" from "%2F" included: X_RAW_PATH_INFO keeps the raw).
    path_info = urllib.parse.unquote(raw_path_info, errors="replace")
    query = f"?{request.query}" if request.query else ""
    env = {
        "AUTH_TYPE": "",
        "CONTENT_LENGTH": str(len(request.body)),
        "CONTENT_TYPE": _header(request, "content-type") or "",
        "GATEWAY_INTERFACE": GATEWAY_INTERFACE,
        "PATH_INFO": path_info,
        "PATH_TRANSLATED": path_info,
        "QUERY_STRING": request.query,
        "REMOTE_ADDR": request.remote_addr,
        "REMOTE_HOST": request.remote_addr,  # no reverse lookups: RFC 3875 allows the address
        "REMOTE_USER": "",
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": route.script_name,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": request.protocol,
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
        "X_FULL_URL": f"http://{host}:{port}{request.path}{query}",
        "X_MATCHED_ROUTE": route.pattern,
        "X_RAW_PATH_INFO": raw_path_info,
    }
    env.update(_header_variables(request))
    return env


def _header_variables(request: WagiRequest) -> dict[str, str]:
    """``HTTP_<NAME>`` for each request header but the hidden ones; a repeated header's values
    joined with ", " (RFC 3875 4.1.18)."""
    variables: dict[str, str] = {}
    for name, value in request.headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        # A name with '=' or NUL cannot be an environment variable (and is no HTTP token either).
        if key[5:] in _HIDDEN_HEADERS or "=" in key or "\0" in key:
            continue
        value = value.replace("\0", "")  # C strings end at NUL: the rest would vanish silently
        variables[key] = f"{variables[key]}, {value}" if key in variables else value
    return variables


def _header(request: WagiRequest, name: str) -> str | None:
    return next((value for key, value in request.headers if key.lower() == name), None)


def _host_and_port(request: WagiRequest) -> tuple[str, str]:
    """SERVER_NAME and SERVER_PORT from the Host header, as Spin does; the server's own address
    for what the header does not say (no header, or no port in it)."""
    host, port = request.server_name, str(request.server_port)
    header = _header(request, "host")
    if header:
        if header.startswith("["):  # an IPv6 literal: [::1]:3000
            literal, _, rest = header.partition("]")
            named, given_port = literal + "]", rest.removeprefix(":")
        else:
            named, _, given_port = header.partition(":")
        host = named or host
        port = given_port if given_port.isdigit() else port
    return host, port


def parse_output(stdout: bytes) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    """A handler's stdout as (status, headers, body); HandlerOutputError when it is not a
    response (see the module docstring for the rules)."""
    blank = _BLANK_LINE.search(stdout)
    if blank is None:
        msg = "no blank line after the headers (print the headers, an empty line, then the body)"
        raise HandlerOutputError(500, msg)
    block, body = stdout[: blank.start()], stdout[blank.end():]
    try:
        text = block.replace(b"\r", b"").decode("utf-8")
    except UnicodeDecodeError:
        msg = "the headers are not UTF-8"
        raise HandlerOutputError(500, msg) from None
    if not text.strip():
        msg = "no headers before the first blank line"
        raise HandlerOutputError(500, msg)
    headers: list[tuple[str, str]] = []
    status: int | None = None
    location = content_type = False
    for line in text.strip().split("\n"):
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon:
            msg = f"header line without ':': {_shown(line)}"
            raise HandlerOutputError(500, msg)
        if not _TOKEN.fullmatch(name):
            msg = f"not a header name: {_shown(name)}"
            raise HandlerOutputError(500, msg)
        if not _sendable(value):
            msg = f"header {name}: a value HTTP cannot carry: {_shown(value)}"
            raise HandlerOutputError(500, msg)
        lowered = name.lower()
        if lowered == "status":
            status = _status(value)
            continue
        location = location or lowered == "location"
        content_type = content_type or lowered == "content-type"
        if lowered not in _DROPPED_RESPONSE_HEADERS:
            headers.append((name, value))
    if not (content_type or location or status is not None):
        msg = "no content-type or location header"
        raise HandlerOutputError(500, msg)
    if status is None:
        status = 302 if location else 200
    return status, tuple(headers), body


def _status(value: str) -> int:
    code = value.split(" ", 1)[0]
    if not (len(code) == 3 and code.isdigit()
            and _LOWEST_STATUS <= int(code) <= _HIGHEST_STATUS):
        msg = f"bad status {_shown(value)} (expected 'Status: CODE [reason]', CODE 200-599)"
        raise HandlerOutputError(502, msg)
    return int(code)


def _sendable(value: str) -> bool:
    """Whether HTTP/1.1 can carry ``value`` as a field value: Latin-1, no control characters but
    tab (obs-text allowed, as http.server writes Latin-1)."""
    return all(ch == "\t" or (" " <= ch <= "\xff" and ch != "\x7f") for ch in value)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
