"""``wasmforge serve`` as users run it: a process of its own, real HTTP clients (urllib), signals;
a C service built in the wasi-sdk toolchain; the emscripten-web template's page in headless
Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests import wagi_modules as wm
from tests.integration.build_support import docker_engine_answers, wasmforge
from tests.needs import need

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 60  # every wait on the server or a client has a deadline

WAT_PROJECT = """\
[project]
name = "wat-service"

[targets.env]
kind = "wat"
source = "env.wat"

[targets.boom]
kind = "wat"
source = "boom.wat"

[targets.spin]
kind = "wat"
source = "spin.wat"

[targets.lib]
kind = "wat"
source = "lib.wat"

[serve.routes]
"/..." = { target = "env", env = { GREETING = "hi" } }
"/boom" = "boom"
"/spin" = "spin"
"""


@pytest.fixture
def wat_project(tmp_path: Path) -> Path:
    project = tmp_path / "wat-service"
    project.mkdir()
    (project / "wasmforge.toml").write_text(WAT_PROJECT)
    for name, text in (("env", wm.CGI_ENV), ("boom", wm.TRAP), ("spin", wm.LOOP),
                       ("lib", wm.REACTOR)):
        wm.write_module(project, name, text)
    return project


@contextmanager
def serving(project: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """``wasmforge --json serve --port 0 ARGS`` in ``project``: (its URL, the process, its log).
    The URL comes from the JSON document it prints once it listens."""
    log = project / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "wasmforge", "--json", "serve", "--port", "0", *args],
            cwd=project, stdout=subprocess.PIPE, stderr=sink, text=True)
    try:
        document = _first_document(process, log)
        yield str(document["url"]), process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert process.stdout is not None
        process.stdout.close()


def _first_document(process: subprocess.Popen[str], log: Path) -> dict[str, Any]:
    assert process.stdout is not None
    found: list[dict[str, Any]] = []

    def read() -> None:  # on a thread: readline has no deadline of its own
        text = ""
        while line := process.stdout.readline():  # type: ignore[union-attr]
            text += line
            try:
                found.append(json.loads(text))
                return
            except ValueError:
                continue

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    assert found, f"wasmforge serve did not start:\n{log.read_text()}"
    return found[0]


def _get(url: str, *, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_a_served_handler_sees_each_request_as_cgi(wat_project: Path) -> None:
    with serving(wat_project) as (url, _, log):
        port = url.rsplit(":", 1)[1]
        status, headers, body = _get(f"{url}/items/a%20b?name=Ada&x", data=b"hello",
                                     headers={"Content-Type": "text/plain", "X-Trace": "7",
                                              "Authorization": "Basic eDp5"})
        assert (status, headers["content-type"]) == (200, "text/plain")
        env, argv, stdin = wm.parse_env_body(body)
        assert env["REQUEST_METHOD"] == "POST"
        assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/items/a b")
        assert env["X_RAW_PATH_INFO"] == "/items/a%20b"
        assert env["X_MATCHED_ROUTE"] == "/..."
        assert env["QUERY_STRING"] == "name=Ada&x"
        assert (env["CONTENT_LENGTH"], env["CONTENT_TYPE"]) == ("5", "text/plain")
        assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", port)
        assert env["X_FULL_URL"] == f"{url}/items/a%20b?name=Ada&x"
        assert (env["HTTP_X_TRACE"], env["GREETING"]) == ("7", "hi")
        assert "HTTP_AUTHORIZATION" not in env
        assert argv == ["/items/a%20b", "name=Ada", "x"]
        assert stdin == b"hello"
        status, _, _ = _get(f"{url}/boom")
        assert status == 500
    said = log.read_text()
    assert "  [env] handled" in said
    assert "GET /boom 500 " in said
    assert "/boom (boom): trapped: wasm trap: wasm `unreachable` instruction executed" in said
    assert "Traceback" not in said


def test_sixteen_concurrent_clients_all_succeed(wat_project: Path) -> None:
    """16 clients x 40 requests, each its own connection (urllib); the benchmark sends more."""
    with serving(wat_project, "--workers", "4") as (url, _, _):
        def client(n: int) -> list[str]:
            problems = []
            for i in range(40):
                status, _, body = _get(f"{url}/client/{n}/{i}")
                path_info = wm.parse_env_body(body)[0].get("PATH_INFO") if status == 200 else None
                if (status, path_info) != (200, f"/client/{n}/{i}"):
                    problems.append(f"{n}/{i}: {status} {body[:80]!r}")
            return problems

        with ThreadPoolExecutor(16) as pool:
            problems = [p for found in pool.map(client, range(16)) for p in found]
    assert problems == []


@pytest.mark.parametrize(("stop", "code", "said"),
                         [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_stops_the_server_promptly_even_mid_request(
    wat_project: Path, stop: signal.Signals, code: int, said: str
) -> None:
    with (serving(wat_project, "--request-timeout", "600") as (url, process, log),
          ThreadPoolExecutor(1) as pool):
        stuck = pool.submit(_get, f"{url}/spin")  # an endless handler, running
        time.sleep(1.0)
        stopped = time.monotonic()
        process.send_signal(stop)
        assert process.wait(timeout=TIMEOUT) == code
        assert time.monotonic() - stopped < 5
        with pytest.raises(OSError):  # the connection ends with the server
            stuck.result(timeout=TIMEOUT)
    text = log.read_text()
    assert f"error: {said}" in text
    assert "Traceback" not in text


def test_a_handler_past_its_timeout_is_answered_504(wat_project: Path) -> None:
    with serving(wat_project, "--request-timeout", "0.5") as (url, _, log):
        started = time.monotonic()
        status, _, _ = _get(f"{url}/spin")
        assert status == 504
        assert time.monotonic() - started < 5
    assert "/spin (spin): still running after 0.5 s: stopped" in log.read_text()


def _serve_fails(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = wasmforge("serve", *args, cwd=project, timeout=TIMEOUT)
    assert "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.startswith("error:")]) == 1
    return done


def test_bad_input_is_one_line_and_a_documented_exit_code(wat_project: Path) -> None:
    done = _serve_fails(wat_project, "nope")
    assert done.returncode == 2
    assert "error: no target named 'nope' (targets: env, boom, spin, lib)" in done.stderr
    done = _serve_fails(wat_project, "lib")  # built, then found to be no command
    assert done.returncode == 2
    assert "exports no _start function, so it is not a WASI command" in done.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve_fails(wat_project, "env", "--port", str(port))
    assert done.returncode == 2
    assert f"error: cannot listen on 127.0.0.1:{port}: address already in use" in done.stderr
    assert "hint: choose another --port" in done.stderr


@pytest.fixture(scope="module")
def docker_ready() -> None:
    need(docker_engine_answers(), "a Docker engine")


@pytest.mark.docker
@pytest.mark.toolchain
def test_a_c_service_is_built_and_served(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = tmp_path / "wagi-hello"
    shutil.copytree(REPO / "benchmarks" / "wagi-hello", project)
    with serving(project, "--release") as (url, _, log):  # builds first
        status, headers, body = _get(f"{url}/hello?name=Ada")
        assert (status, headers["content-type"], body) == (200, "text/plain", b"Hello, Ada!\n")
        assert _get(f"{url}/anything")[2] == b"Hello, world!\n"
    assert (project / "dist" / "release" / "hello.wasm").is_file()
    assert "serving on http://127.0.0.1:" in log.read_text()


def _dump_dom(url: str) -> str:
    """The page's DOM once its scripts have run, from headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="wasmforge-chromium-") as profile:
        done = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--dump-dom",
             "--virtual-time-budget=5000", url],
            capture_output=True, text=True, check=False, timeout=TIMEOUT,
            env={**os.environ, "HOME": profile})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.docker
@pytest.mark.toolchain
def test_the_emscripten_web_page_shows_a_result_from_wasm_in_chromium(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    need(CHROMIUM.is_file(), "headless Chromium (apt-get install chromium)")
    created = wasmforge("new", "emscripten-web", "page", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "page"
    with serving(project) as (url, _, log):  # builds, then serves the page's files
        dom = _dump_dom(f"{url}/page.html")
        assert '<p id="result">add(2, 3) = 5</p>' in dom, dom
        assert '<p id="result">add(2, 3) = 5</p>' in _dump_dom(f"{url}/")  # redirected there
    said = log.read_text()
    assert "GET /page.wasm 200" in said
    assert "Traceback" not in said
