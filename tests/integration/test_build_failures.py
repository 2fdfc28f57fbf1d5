"""``wasmforge build`` when things go wrong: compile errors, Ctrl-C, no engine; and builds as another
user and with the host's tools (``--runner local``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.build_support import (
    copy_sample,
    docker_engine_answers,
    expected_output,
    project_containers,
    run_wasi_command,
    use_toolchain_set,
    wasmforge,
)
from tests.needs import need

BROKEN_C = "#include <stdio.h>\n\nint main(void) {\n    puts(\"hi\")\n    return 0;\n}\n"


@pytest.fixture(scope="module")
def docker_ready() -> None:
    need(docker_engine_answers(), "a Docker engine")


def _broken_project(tmp_path: Path) -> Path:
    project = tmp_path / "broken"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.c").write_text(BROKEN_C)
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "broken"\n\n[targets.app]\nkind = "wasi-sdk"\nsources = ["src/main.c"]\n')
    return project


@pytest.mark.docker
@pytest.mark.toolchain
def test_compile_error_shows_file_and_line_exits_5_and_leaves_nothing(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    project = _broken_project(tmp_path)
    done = wasmforge("build", project, "--runner", "docker")
    assert done.returncode == 5, done.stderr
    # The compiler's own message, with the path as the user knows it (not the container's /src).
    assert f"[app] {project}/src/main.c:4:15: error: expected ';'" in done.stderr
    assert " /src/" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: target 'app': compile src/main.c failed (clang, exit status 1)")
    assert not (project / "dist").exists()


@pytest.mark.docker
@pytest.mark.toolchain
def test_failed_target_keeps_the_previous_output(docker_ready: None, tmp_path: Path) -> None:
    """A failed rebuild never replaces (or deletes) the last good output with a partial one."""
    del docker_ready
    project = _broken_project(tmp_path)
    (project / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    assert wasmforge("build", project, "--runner", "docker").returncode == 0
    good = (project / "dist" / "debug" / "app.wasm").read_bytes()
    (project / "src" / "main.c").write_text(BROKEN_C)
    assert wasmforge("build", project, "--runner", "docker").returncode == 5
    assert (project / "dist" / "debug" / "app.wasm").read_bytes() == good
    assert sorted(p.name for p in (project / "dist").iterdir()) == ["debug"]




@pytest.mark.docker
@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [(signal.SIGINT, 130, "error: interrupted"),
     (signal.SIGTERM, 143, "error: terminated")],  # SIGTERM: a cancelled CI job, `timeout`
)
def test_stopping_removes_the_running_container(
    docker_ready: None, tmp_path: Path, stop: signal.Signals, code: int, said: str
) -> None:
    del docker_ready
    need(shutil.which("docker") is not None, "the docker command")
    target = f"slow-{uuid.uuid4().hex[:8]}"
    project = tmp_path / "slow"
    project.mkdir()
    (project / "wasmforge.toml").write_text(f"""
[project]
name = "slow"

[targets.{target}]
kind = "wasi-sdk"
command = "echo started && sleep 120"
artifact = "never.wasm"
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "build", str(project), "--runner", "docker"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    try:
        deadline = time.monotonic() + 600  # the first use may build the image
        for line in process.stdout:
            if line.strip() == f"[{target}] started":
                break
            assert time.monotonic() < deadline
        assert len(project_containers(project)) == 1
        process.send_signal(stop)
        rest = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, rest
    assert said in rest
    assert project_containers(project) == []
    assert not (project / "dist").exists()


def test_unreachable_engine_is_one_line_with_exit_6(tmp_path: Path) -> None:
    project = copy_sample("c-hello", tmp_path)
    dead = tmp_path / "no-docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{dead}"}
    done = wasmforge("build", project, "--runner", "docker", env=env, timeout=120)
    assert done.returncode == 6, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert all(line.startswith(("error: ", "hint: ")) for line in lines), done.stderr
    assert "Traceback" not in done.stderr
    assert "--runner local" in done.stderr
    assert not (project / "dist").exists()


# An ordinary uid and gid; setpriv needs no passwd entry for them.
BUILD_UID = BUILD_GID = 1000


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp dir that another user can reach (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="wasmforge-build-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.docker
@pytest.mark.toolchain
def test_outputs_belong_to_a_non_root_user(docker_ready: None, shared_tmp: Path) -> None:
    """Built as uid 1000 (the tests run as root here), the files are that user's, not root's."""
    del docker_ready
    tmp_path = shared_tmp
    need(os.getuid() == 0 and shutil.which("setpriv") is not None,
         "root and setpriv (to build as an ordinary user)")
    socket = Path("/var/run/docker.sock")
    need(socket.exists(), "the local Docker socket")
    project = copy_sample("c-hello", tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    for path in (project, home, *project.rglob("*")):
        os.chown(path, BUILD_UID, BUILD_GID)
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    done = subprocess.run(
        ["setpriv", f"--reuid={BUILD_UID}", f"--regid={BUILD_GID}",
         f"--groups={socket.stat().st_gid}", "--",
         sys.executable, "-m", "wasmforge", "build", str(project), "--runner", "docker"],
        capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    for path in (project / "dist").rglob("*"):
        assert (path.stat().st_uid, path.stat().st_gid) == (BUILD_UID, BUILD_GID), path
    assert run_wasi_command(project / "dist" / "debug" / "hello.wasm") == expected_output(
        "c-hello")


def _host_clang() -> bool:
    return bool(shutil.which("clang") or shutil.which("clang-16")) and Path(
        "/usr/lib/wasm32-wasi/libc.a").is_file()


@pytest.mark.toolchain
@pytest.mark.parametrize(("sample", "module"), [("c-hello", "hello.wasm"),
                                                ("wat-hello", "hello-wat.wasm")])
def test_local_runner_builds_with_host_tools(sample: str, module: str, tmp_path: Path) -> None:
    if sample == "c-hello":
        need(_host_clang(), "clang 16 and wasi-libc on the host")
    project = copy_sample(sample, tmp_path)
    # This host is Debian 12: its clang 16 is the debian-12 set's (it knows only wasm32-wasi).
    use_toolchain_set(project, "debian-12")
    done = wasmforge("build", project, "--runner", "local", "--json")
    assert done.returncode == 0, done.stderr
    (target,) = json.loads(done.stdout)["targets"]
    assert target["toolchain_image_id"] is None
    assert run_wasi_command(project / "dist" / "debug" / module) == expected_output(sample)


@pytest.mark.toolchain
def test_local_runner_names_the_missing_tool(tmp_path: Path) -> None:
    project = copy_sample("c-hello", tmp_path)
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    done = wasmforge("build", project, "--runner", "local", env=env)
    assert done.returncode == 4, done.stderr
    assert "error: clang not found on PATH" in done.stderr
    assert "apt-get install clang-16" in done.stderr



def test_ctrl_c_stops_local_steps_and_leaves_nothing(tmp_path: Path) -> None:
    """The local runner's steps run in their own process group: Ctrl-C must stop them too."""
    project = tmp_path / "slow"
    project.mkdir()
    marker = tmp_path / "still-running"
    (project / "wasmforge.toml").write_text(f"""
[project]
name = "slow"

[targets.slow]
kind = "wasi-sdk"
command = "echo started; sleep 5; touch {marker}"
artifact = "never.wasm"
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "build", str(project), "--runner", "local"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.strip() == "[slow] started":
                break
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, rest
    time.sleep(6)  # long enough for the sleep to have finished, had it survived
    assert not marker.exists()
    assert not (project / "dist").exists()
