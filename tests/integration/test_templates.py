"""Every template, as a user meets it: ``wasmforge new`` into an empty directory, then the project's
own smoke test (``wasmforge test``) in the real toolchain containers, debug and release (what its
workflow runs). The HTTP templates are also built and served by ``wasmforge serve`` in a process of
its own, and answer real HTTP requests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.build_support import docker_engine_answers, wasmforge
from tests.needs import need
from wasmforge.config.load import load_config
from wasmforge.scaffold import list_templates

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

TEMPLATES = [t.name for t in list_templates()]
HTTP_TEMPLATES = [t.name for t in list_templates() if t.style == "http"]


@pytest.fixture(scope="module")
def docker_ready() -> None:
    need(docker_engine_answers(), "a Docker engine")


def _new(template: str, where: Path) -> Path:
    done = wasmforge("new", template, "app", cwd=where)
    assert done.returncode == 0, done.stderr
    return where / "app"


@pytest.mark.parametrize("profile", ["debug", "release"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_a_new_project_passes_its_own_smoke_test(
    docker_ready: None, tmp_path: Path, template: str, profile: str
) -> None:
    del docker_ready
    project = _new(template, tmp_path)
    done = wasmforge("test", *(["--release"] if profile == "release" else []), "--json",
                     cwd=project)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["profile"] == profile
    checks = load_config(project / "wasmforge.toml").test
    assert [t["name"] for t in report["tests"]] == [c.name for c in checks]
    assert all(t["passed"] for t in report["tests"]), report["tests"]
    assert report["failed"] == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


@pytest.fixture
def served(docker_ready: None, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The template's project, built, then served by ``wasmforge serve`` on a free port."""
    del docker_ready
    project = _new(request.param, tmp_path)
    built = wasmforge("build", cwd=project)
    assert built.returncode == 0, built.stderr
    port = _free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "serve", "--port", str(port)], cwd=project,
        stdout=log, stderr=subprocess.STDOUT, text=True, env={**os.environ, "CI": "true"})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, Path(log.name).read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, Path(log.name).read_text()
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
        finally:
            log.close()
        said = Path(log.name).read_text()
        assert "Traceback" not in said
        assert "panicked" not in said
        assert code in (0, 130), said


@pytest.mark.parametrize("served", HTTP_TEMPLATES, indirect=True)
def test_a_new_http_service_answers_when_served(served: str) -> None:
    status, headers, body = _get(f"{served}/hello?name=Ada")
    assert status == 200
    assert headers["content-type"] == "text/plain"
    assert body == b"Hello, Ada!\n"
    status, _, body = _get(f"{served}/hello")
    assert (status, body) == (200, b"Hello, world!\n")
    status, _, body = _get(f"{served}/hello?name=J%C3%BCrgen+M")
    assert body == "Hello, Jürgen M!\n".encode()
    status, headers, body = _get(f"{served}/echo", data=b"ping \x00\xff pong",
                                 headers={"Content-Type": "application/octet-stream"})
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert body == b"ping \x00\xff pong"
    status, _, body = _get(f"{served}/nowhere")
    assert status == 404
    assert body == b"not found: /nowhere\n"


def test_checks_of_a_web_page_go_to_serves_own_server(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = _new("emscripten-web", tmp_path)
    with (project / "wasmforge.toml").open("a", encoding="utf-8") as config:
        config.write('''
[[test]]
name = "no such file"
target = "app"
request = { path = "/nope.html" }
expect-status = 404

[[test]]
name = "a page is not posted to"
target = "app"
request = { method = "POST", path = "/app.html", body = "x" }
expect-status = 405

[[test]]
name = "the glue is JavaScript"
target = "app"
request = { path = "/app.js" }
expect-headers = { Content-Type = "text/html" }

[[test]]
name = "a page is not run"
target = "app"
expect-stdout-contains = "Hello"
''')
    done = wasmforge("test", "--json", cwd=project)
    assert done.returncode == 9, done.stderr
    results = {t["name"]: t for t in json.loads(done.stdout)["tests"]}
    assert [name for name, t in results.items() if not t["passed"]] == [
        "the glue is JavaScript", "a page is not run"]
    assert results["the glue is JavaScript"]["problem"] == (
        "header Content-Type: 'text/javascript; charset=utf-8', expected 'text/html'")
    assert "is Emscripten web output, not a WASI module" in results["a page is not run"]["problem"]
    assert results["serves the page"]["observed"]["body"].startswith("<!")
