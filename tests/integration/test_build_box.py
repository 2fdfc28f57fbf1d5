"""A build step in its box, seen from inside a real container and from the engine: no network, no
capabilities, no new privileges, a read-only root, nothing writable but its scratch dir, nothing
readable of the host but the project, limits on processes and memory, a deadline; and a later build
reaps what a killed one left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build_support import docker_engine_answers, wasmforge
from tests.needs import need
from wasmforge.runner.owner import LABEL_PREFIX, OWNER_FILE, Owner

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

# Each line: a check, then PASS or FAIL as the step saw it. The step succeeds only if all pass.
PROBE = r"""
check() { if eval "$2" >/dev/null 2>&1; then echo "PASS $1"; else echo "FAIL $1"; bad=1; fi; }
bad=0
check network-off     '! cat /sys/class/net/eth0/address'
check no-capabilities 'grep -q "^CapEff:[[:space:]]*0000000000000000" /proc/self/status'
check no-new-privs    'grep -q "^NoNewPrivs:[[:space:]]*1" /proc/self/status'
check root-read-only  '! touch /etc/wasmforge-probe'
check project-ro      '! touch /src/wasmforge-probe'
check usr-ro          '! touch /usr/bin/wasmforge-probe'
check scratch-rw      'touch "$WASMFORGE_OUT/ok" && touch /tmp/ok'
check host-unseen     '! ls /work/main/wasmforge'
check pids-limited    'grep -qx 64 /sys/fs/cgroup/pids.max || grep -qx 64 /sys/fs/cgroup/pids/pids.max'
check fork-bomb-stops '! sh -c "i=0; while [ \$i -lt 200 ]; do sleep 5 & i=\$((i+1)); done; wait"'
check memory-limited  'grep -qx 536870912 /sys/fs/cgroup/memory.max || grep -qx 536870912 /sys/fs/cgroup/memory/memory.limit_in_bytes'
printf '\0asm\1\0\0\0' > "$WASMFORGE_OUT/probe.wasm"
exit $bad
"""


@pytest.fixture(scope="module")
def docker_ready() -> None:
    need(docker_engine_answers(), "a Docker engine")


def _project(root: Path, command: str, limits: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "probe.sh").write_text(command)
    (root / "wasmforge.toml").write_text(f"""
[project]
name = "box"

[limits]
{limits}

[targets.probe]
kind = "wasi-sdk"
command = ["sh", "probe.sh"]
artifact = "probe.wasm"
""")
    return root


def test_a_step_sees_only_its_box(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = _project(tmp_path / "p", PROBE, 'memory = "512MiB"\npids = 64')
    done = wasmforge("build", "--runner", "docker", "--no-cache", cwd=project)
    checks = [line.split("] ", 1)[1] for line in done.stderr.splitlines()
              if line.startswith(("[probe] PASS", "[probe] FAIL"))]
    assert len(checks) == 11, done.stderr
    assert [c for c in checks if c.startswith("FAIL")] == [], done.stderr
    assert done.returncode == 0, done.stderr


def test_the_engine_shows_the_box(docker_ready: None, tmp_path: Path) -> None:
    import docker

    del docker_ready
    project = _project(tmp_path / "p", "echo started; sleep 30\n",
                       'memory = "1GiB"\npids = 128\ncpus = 1.5')
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "build", "--runner", "docker", "--no-cache"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    client = docker.from_env(version="1.41")
    try:
        for line in process.stdout:
            if "started" in line:
                break
        (container,) = client.api.containers(
            filters={"label": f"wasmforge.project={project}"})
        host: dict[str, Any] = client.api.inspect_container(container["Id"])["HostConfig"]
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        client.close()
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == 1024**3
    assert host["PidsLimit"] == 128
    assert host["NanoCpus"] == 1_500_000_000
    assert host["AutoRemove"] is True
    assert "/tmp" in host["Tmpfs"]


def test_a_step_past_its_deadline_is_stopped(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = _project(tmp_path / "p", "echo started; sleep 60\n")
    started = time.monotonic()
    done = wasmforge("build", "--runner", "docker", "--no-cache", cwd=project,
                     env={**os.environ, "WASMFORGE_STEP_TIMEOUT": "2s"})
    assert done.returncode == 5, done.stderr
    assert "ran longer than 2 s and was stopped" in done.stderr
    assert time.monotonic() - started < 40


def test_the_local_runner_keeps_the_deadline_too(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "echo started; sleep 60\n")
    done = wasmforge("build", "--runner", "local", "--no-cache", cwd=project,
                     env={**os.environ, "WASMFORGE_STEP_TIMEOUT": "1"})
    assert done.returncode == 5, done.stderr
    assert "ran longer than 1 s and was stopped" in done.stderr


def _dead_owner() -> Owner:
    """The owner record of a process that has exited (its pid is free or reused since)."""
    child = subprocess.Popen(["true"])
    child.wait()
    here = Owner.current()
    return Owner(child.pid, "0", here.boot, here.host)


def test_a_build_reaps_what_dead_builds_left(docker_ready: None, tmp_path: Path) -> None:
    import docker

    del docker_ready
    project = _project(tmp_path / "p",
                       "printf '\\0asm\\1\\0\\0\\0' > \"$WASMFORGE_OUT/probe.wasm\"\n")
    dead = _dead_owner()
    left = project / "dist" / ".wasmforge-build-leftover"
    (left / "pass0").mkdir(parents=True)
    (left / OWNER_FILE).write_text(dead.text())
    alive = project / "dist" / ".wasmforge-build-alive"
    alive.mkdir()
    (alive / OWNER_FILE).write_text(Owner.current().text())  # a build running right now
    client = docker.from_env(version="1.41")
    try:
        image = json.loads(wasmforge("--json", "toolchains", "list").stdout)
        tag = next(t["tag"] for t in image["toolchains"] if t["name"] == "wasi-sdk")
        # Created and never started: the one kind of container that cannot end by itself.
        orphan = client.api.create_container(tag, command=["cat"], labels={
            "wasmforge": "1", **{f"{LABEL_PREFIX}.{k}": v for k, v in (
                ("pid", str(dead.pid)), ("started", dead.started), ("boot", dead.boot),
                ("host", dead.host))}})
        done = wasmforge("build", "--runner", "docker", "--no-cache", cwd=project)
        assert done.returncode == 0, done.stderr
        remaining = [c["Id"] for c in client.api.containers(all=True)]
    finally:
        client.close()
    assert orphan["Id"] not in remaining
    assert not left.exists()
    assert alive.exists()


def test_a_disk_that_fills_during_a_build_says_so(docker_ready: None, tmp_path: Path) -> None:
    from tests.integration.build_support import copy_sample
    from tests.tmpfs_support import small_tmpfs

    del docker_ready
    project = copy_sample("cpp-stdlib", tmp_path)  # its debug module alone is 1.8 MB
    with small_tmpfs(tmp_path / "small", "600k") as out:
        done = wasmforge("build", "--runner", "docker", "--no-cache", "--out-dir", out,
                         cwd=project)
    assert done.returncode in (2, 5), done.stderr
    assert "no space left" in done.stderr
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr


def test_doctor_passes_on_a_healthy_machine(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    done = wasmforge("doctor", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["engine"] == "ok"
    assert statuses["clock"] == "ok"
    assert statuses["toolchain wasi-sdk (debian-13)"] == "ok"  # built by the earlier tests, and verified
