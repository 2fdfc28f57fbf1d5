"""Servers on 127.0.0.1 that are not (good) registries: one that answers junk to everything, one
that accepts connections and never answers, one that redirects in a loop, one that forgets what it
was given. ``push`` and ``pull`` must end with exit 7 and one line saying what went wrong, in
bounded time, and never report a success they cannot verify."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.http_support import serve
from tests.oci_samples import HELLO_WAT, assemble


class _Junk(BaseHTTPRequestHandler):
    """200 and an HTML page, whatever is asked."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Location", "/elsewhere")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        del format, args


class _RedirectLoop(_Junk):
    def _answer(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _answer


class _Forgetful(_Junk):
    """A registry in every answer, but one that keeps nothing: "accepted" uploads and manifests
    are never there afterwards."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/v2/":
            status = 200
        elif self.command == "HEAD" or self.command == "GET":
            status = 404
        elif self.command == "POST":
            status = 202
        else:
            status = 201
        self.send_response(status)
        self.send_header("Location", "/v2/x/blobs/uploads/1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _answer


@pytest.fixture
def module(tmp_path: Path) -> Path:
    """An OCI layout of a hello module, to push."""
    wasm = assemble(HELLO_WAT, tmp_path, "hello")
    done = _wasmforge("package", str(wasm), "-o", str(tmp_path / "oci"), "--tag", "acme/hello:1")
    assert done.returncode == 0, done.stderr
    return tmp_path / "oci" / "image"


@pytest.fixture
def junk() -> Iterator[str]:
    with serve(_Junk) as address:
        yield address


@pytest.fixture
def redirect_loop() -> Iterator[str]:
    with serve(_RedirectLoop) as address:
        yield address


@pytest.fixture
def forgetful() -> Iterator[str]:
    with serve(_Forgetful) as address:
        yield address


@pytest.fixture
def silent() -> Iterator[str]:
    """Accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def _wasmforge(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("WASMFORGE_REGISTRY")}
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], capture_output=True,
                          text=True, check=False, timeout=120, env={**full, **env})


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def test_push_to_a_server_that_answers_junk_fails(module: Path, junk: str) -> None:
    done = _wasmforge("push", f"{junk}/acme/hello:1", "--layout", str(module), "--insecure")
    assert done.returncode == 7, done.stderr
    assert "not an OCI registry" in _one_error_line(done.stderr)


def test_pull_of_junk_json_fails(junk: str, tmp_path: Path) -> None:
    done = _wasmforge("pull", f"{junk}/acme/hello:1", "-o", str(tmp_path / "out"), "--insecure")
    assert done.returncode == 7, done.stderr
    assert "not JSON" in _one_error_line(done.stderr)


def test_a_redirect_loop_fails(module: Path, redirect_loop: str) -> None:
    done = _wasmforge("push", f"{redirect_loop}/acme/hello:1", "--layout", str(module), "--insecure")
    assert done.returncode == 7, done.stderr
    assert "redirected in a loop" in _one_error_line(done.stderr)


def test_a_registry_that_keeps_nothing_is_not_a_success(module: Path, forgetful: str) -> None:
    done = _wasmforge("push", f"{forgetful}/acme/hello:1", "--layout", str(module), "--insecure")
    assert done.returncode == 7, done.stderr
    assert "does not have it" in _one_error_line(done.stderr)


def test_a_silent_registry_times_out_saying_so(module: Path, silent: str) -> None:
    started = time.monotonic()
    done = _wasmforge("push", f"{silent}/acme/hello:1", "--layout", str(module), "--insecure",
                      WASMFORGE_REGISTRY_TIMEOUT="3")
    assert done.returncode == 7, done.stderr
    assert "connected, but no answer within 1 s" in _one_error_line(done.stderr)
    assert "trying again" in done.stderr  # the wait is shown, not silent
    assert time.monotonic() - started < 30
