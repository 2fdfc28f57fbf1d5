"""The outside programs that check wasmforge's output independently: skopeo, podman, crun-wasm."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.needs import need

CRUN_WASM_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crun-wasm"


def required_program(name: str) -> str:
    """The path of ``name`` on PATH; skips (laptop) or fails (CI) the test when it is missing."""
    tool = shutil.which(name)
    need(tool is not None, name)
    assert tool is not None
    return tool


def crun_wasm() -> tuple[str, str]:
    """crun built with its wasmtime handler, and the podman config that uses it (from crun-wasm)."""
    crun = os.environ.get("CRUN_WASM") or str(CRUN_WASM_CACHE / "crun")
    conf = os.environ.get("CONTAINERS_CONF") or str(CRUN_WASM_CACHE / "containers.conf")
    usable = Path(crun).is_file() and Path(conf).is_file()
    if usable:
        version = subprocess.run([crun, "--version"], capture_output=True, text=True, check=False)
        usable = "WASM:wasmtime" in version.stdout
    need(usable, f"crun with the wasmtime handler at {crun} (build it with crun-wasm)")
    return crun, conf


def podman_run(podman: str, image: str) -> subprocess.CompletedProcess[str]:
    """``podman run`` of a wasi/wasm image on crun-wasm, with no network, as a node would."""
    crun, conf = crun_wasm()
    return subprocess.run(
        [podman, "--runtime", crun, "--cgroup-manager", "cgroupfs", "run", "--rm",
         "--cgroups", "disabled", "--network", "none", "--platform", "wasi/wasm", image],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "CONTAINERS_CONF": conf},
    )
