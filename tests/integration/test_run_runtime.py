"""The compat image on a real container stack: ``podman load`` and a run on crun's wasmtime handler.

crun-wasm is built by ``/work/shared/tools/crun-wasm`` (CI runs it first); its paths come from
``CRUN_WASM``/``CONTAINERS_CONF`` as that script prints them, else its default cache directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.external_tools import podman_run, required_program
from tests.oci_samples import EXIT_WAT, HELLO_OUTPUT, HELLO_WAT, assemble

pytestmark = pytest.mark.runtime

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
    podman = required_program("podman")
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


def test_compat_image_runs_on_crun_wasm(loaded: tuple[str, str]) -> None:
    podman, tag = loaded
    ran = podman_run(podman, tag)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == HELLO_OUTPUT


def test_module_exit_status_reaches_crun_wasm(tmp_path: Path) -> None:
    podman = required_program("podman")
    tag = f"localhost/wasmforge-test-{uuid.uuid4().hex[:12]}/exit3:v1"
    tar = _package(tmp_path, EXIT_WAT, "exit3", tag)
    subprocess.run([podman, "load", "-i", str(tar)], capture_output=True, check=True)
    try:
        ran = podman_run(podman, tag)
        # crun 1.8's wasmtime handler reports proc_exit(n) as a failure (exit 1) with the code in
        # its message, unlike `wasmforge run`, which passes n through.
        assert ran.returncode != 0
        assert "exit status 3" in ran.stderr
    finally:
        subprocess.run([podman, "rmi", "-f", tag], capture_output=True, check=False)
