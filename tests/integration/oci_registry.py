"""A real ``docker-registry`` (CNCF distribution) on 127.0.0.1 for the OCI integration tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REGISTRY_BINARY = "/usr/bin/docker-registry"


def registry_available() -> bool:
    return Path(REGISTRY_BINARY).is_file()


@dataclass(frozen=True)
class RunningRegistry:
    host: str  # 127.0.0.1:PORT
    storage: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def run_registry(
    directory: Path, *, htpasswd: Path | None = None, auth_yaml: str | None = None
) -> Iterator[RunningRegistry]:
    """``auth_yaml``: a whole ``auth:`` section (e.g. token auth), used instead of ``htpasswd``."""
    port = free_port()
    storage = directory / "storage"
    auth = (f"auth:\n  htpasswd:\n    realm: wasmforge-test\n    path: {htpasswd}\n"
            if htpasswd else "")
    if auth_yaml is not None:
        auth = auth_yaml
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    msg = f"docker-registry did not start: {(directory / 'registry.log').read_text()}"
                    raise RuntimeError(msg) from None
                time.sleep(0.1)
        yield RunningRegistry(f"127.0.0.1:{port}", storage)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def make_htpasswd(path: Path, user: str, password: str) -> bool:
    """An htpasswd file with a bcrypt entry (the registry accepts only bcrypt); False if no tool."""
    tool = shutil.which("htpasswd")
    if tool is None:
        return False
    subprocess.run([tool, "-Bbc", str(path), user, password], check=True, capture_output=True)
    return True


def registry_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``wasmforge ARGS`` with a fixed epoch and no registry credentials but those in ``env``."""
    full_env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", **(env or {})}
    full_env.pop("WASMFORGE_REGISTRY_USERNAME", None)
    full_env.pop("WASMFORGE_REGISTRY_PASSWORD", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], env=full_env,
                          capture_output=True, text=True, check=False, timeout=180)
