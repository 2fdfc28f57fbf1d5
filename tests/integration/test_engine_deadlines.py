"""An engine that stops answering mid-build: the build fails with exit 6 in bounded time, and
SIGTERM ends it within 10 s, instead of both waiting forever. The "engine" is a socket proxy in
front of the real one, frozen with SIGSTOP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.build_support import REPO, docker_engine_answers
from tests.needs import need

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

ENGINE_SOCKET = "/var/run/docker.sock"


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    need(docker_engine_answers() and Path(ENGINE_SOCKET).exists(), "a Docker engine on its socket")
    listen = tmp_path / "engine.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.engine_proxy", str(listen), ENGINE_SOCKET],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    try:
        yield process, listen
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()


def _slow_project(root: Path) -> Path:
    root.mkdir()
    (root / "wasmforge.toml").write_text(
        '[project]\nname = "p"\n[targets.t]\nkind = "wasi-sdk"\n'
        'command = "echo started && sleep 120"\nartifact = "x.wasm"\n')
    return root


def _start(project: Path, listen: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DOCKER_HOST": f"unix://{listen}", "WASMFORGE_ENGINE_TIMEOUT": "4"}
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "build", "--runner", "docker", "--no-cache"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "started" in line:
            return process
    process.wait(timeout=30)
    pytest.fail(f"the build did not start its step (exit {process.returncode})")


def test_a_frozen_engine_fails_the_build_in_bounded_time(
    proxy: tuple[subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    engine, listen = proxy
    build = _start(_slow_project(tmp_path / "p"), listen)
    engine.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        rest, _ = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
    assert build.returncode == 6, rest
    assert "stopped answering" in rest
    assert time.monotonic() - frozen < 30


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stopping_a_build_does_not_wait_on_a_frozen_engine(
    proxy: tuple[subprocess.Popen[str], Path], tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    engine, listen = proxy
    build = _start(_slow_project(tmp_path / "p"), listen)
    engine.send_signal(signal.SIGSTOP)
    build.send_signal(stop)
    stopped = time.monotonic()
    try:
        build.communicate(timeout=30)
    finally:
        if build.poll() is None:
            build.kill()
    assert build.returncode == code
    assert time.monotonic() - stopped < 10
