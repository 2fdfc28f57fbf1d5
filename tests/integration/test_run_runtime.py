"""The compat image on a real container stack: ``podman load`` and a run on crun's wasmtime handler.

crun-wasm is built by ``/work/shared/tools/crun-wasm`` (CI runs it first); its paths come from
``CRUN_WASM``/``CONTAINERS_CONF`` as that script prints them, else its default cache directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.needs import need
from tests.oci_samples import EXIT_WAT, HELLO_OUTPUT, HELLO_WAT, assemble

pytestmark = pytest.mark.runtime

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crun-wasm"


def _podman() -> str:
    tool = shutil.which("podman")
    need(tool is not None, "podman")
    assert tool is not None
    return tool


def _crun_wasm() -> tuple[str, str]:
    crun = os.environ.get("CRUN_WASM") or str(CACHE / "crun")
    conf = os.environ.get("CONTAINERS_CONF") or str(CACHE / "containers.conf")
    usable = Path(crun).is_file() and Path(conf).is_file()
    if usable:
        version = subprocess.run([crun, "--version"], capture_output=True, text=True, check=False)
        usable = "WASM:wasmtime" in version.stdout
    need(usable, f"crun with the wasmtime handler at {crun} (build it with crun-wasm)")
    return crun, conf


def _package(tmp_path: Path, wat: str, name: str, tag: str) -> Path:
    module = assemble(wat, tmp_path, name)
    done = subprocess.run(
        [sys.executable, "-m", "wasmforge", "package", str(module), "-o", str(tmp_path / "out"),
         "--tag", tag],
        capture_output=True, text=True, check=False, env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
    )
    assert done.returncode == 0, done.stderr
    return tmp_path / "out" / "image.tar"


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """hello packaged, ``podman load``ed under a unique name; removed afterwards."""
    podman = _podman()
    tag = f"localhost/wasmforge-test-{uuid.uuid4().hex[:12]}/hello:v1"
    tar = _package(tmp_path, HELLO_WAT, "hello", tag)
    done = subprocess.run([podman, "load", "-i", str(tar)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    try:
        yield podman, tag
    finally:
        subprocess.run([podman, "rmi", "-f", tag], capture_output=True, check=False)


def test_podman_load_shows_a_wasi_wasm_image(loaded: tuple[str, str]) -> None:
    podman, tag = loaded
    shown = subprocess.run([podman, "image", "inspect", tag], capture_output=True, text=True,
                           check=True)
    [image] = json.loads(shown.stdout)
    assert (image["Os"], image["Architecture"]) == ("wasi", "wasm")
    assert image["Config"]["Entrypoint"] == ["/hello.wasm"]


def _podman_run(podman: str, tag: str) -> subprocess.CompletedProcess[str]:
    crun, conf = _crun_wasm()
    return subprocess.run(
        [podman, "--runtime", crun, "--cgroup-manager", "cgroupfs", "run", "--rm",
         "--cgroups", "disabled", "--network", "none", "--platform", "wasi/wasm", tag],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "CONTAINERS_CONF": conf},
    )


def test_compat_image_runs_on_crun_wasm(loaded: tuple[str, str]) -> None:
    podman, tag = loaded
    ran = _podman_run(podman, tag)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == HELLO_OUTPUT


def test_module_exit_status_reaches_crun_wasm(tmp_path: Path) -> None:
    podman = _podman()
    tag = f"localhost/wasmforge-test-{uuid.uuid4().hex[:12]}/exit3:v1"
    tar = _package(tmp_path, EXIT_WAT, "exit3", tag)
    subprocess.run([podman, "load", "-i", str(tar)], capture_output=True, check=True)
    try:
        ran = _podman_run(podman, tag)
        # crun 1.8's wasmtime handler reports proc_exit(n) as a failure (exit 1) with the code in
        # its message, unlike `wasmforge run`, which passes n through.
        assert ran.returncode != 0
        assert "exit status 3" in ran.stderr
    finally:
        subprocess.run([podman, "rmi", "-f", tag], capture_output=True, check=False)
