"""``wasmforge serve --watch`` on a service made from the c-http template: a change to the greeting
reaches the responses within seconds; a compile error keeps the last good module serving."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.build_support import docker_engine_answers, wasmforge
from tests.integration.test_serve import serving
from tests.needs import need

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]


def _get(url: str) -> str:
    with urllib.request.urlopen(f"{url}/hello?name=Ada", timeout=30) as response:
        body: bytes = response.read()
        return body.decode()


def _until(url: str, expected: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    body = ""
    while time.monotonic() < deadline:
        body = _get(url)
        if expected in body:
            return body
        time.sleep(0.2)
    msg = f"still {body!r} after {seconds} s, not {expected!r}"
    raise AssertionError(msg)


def _wait_log(log: Path, text: str, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.read_text("utf-8", "replace").count(text) >= count:
            return
        time.sleep(0.1)
    msg = f"no {count} x {text!r} in:\n{log.read_text()}"
    raise AssertionError(msg)


def test_serve_watch_swaps_in_rebuilt_modules_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    need(docker_engine_answers(), "a Docker engine")
    made = wasmforge("new", "c-http", "svc", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "svc"
    source = project / "src" / "main.c"
    with serving(project, "--watch") as (url, _process, log):
        assert "Hello, Ada!" in _get(url)
        source.write_text(source.read_text().replace('"Hello"', '"Howdy"'))
        started = time.monotonic()
        assert "Howdy, Ada!" in _until(url, "Howdy, Ada!")
        assert time.monotonic() - started < 30  # "within a few seconds" on an idle machine
        source.write_text(source.read_text().replace('"Howdy"', '"Howdy" oops'))
        _wait_log(log, "error: target 'svc': compile src/main.c failed", 1)
        assert "Howdy, Ada!" in _get(url)  # the last good module goes on serving
        assert "main.c:" in log.read_text()  # the compiler's message in serve's own output
