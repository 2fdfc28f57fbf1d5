"""The WASI preview1 adapters: what turns a wasip1 core module into a WASI 0.2 component.

They are the Bytecode Alliance's builds, as the npm package ``@bytecodealliance/jco`` ships them
(``lib/wasi_snapshot_preview1.{command,reactor}.wasm``). wasmforge pins one version of that package:
the tarball's integrity (sha512, as the npm registry states it) and each adapter's sha256. An adapter
is fetched from the npm registry on first use (``$WASMFORGE_NPM_REGISTRY``, else
``$npm_config_registry``, else registry.npmjs.org), checked, and kept in the cache dir by its sha256;
never committed here. On a machine without a registry, ``$WASMFORGE_WASI_ADAPTERS`` names a
directory holding the two files (e.g. from ``npm pack @bytecodealliance/jco@VERSION``): they are
checked against the same pins.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wasmforge.cache.location import default_cache_dir
from wasmforge.deadlines import seconds_from_env
from wasmforge.errors import RegistryError, UserError
from wasmforge.fsutil import atomic_write_bytes

AdapterKind = Literal["command", "reactor"]

NPM_PACKAGE = "@bytecodealliance/jco"
NPM_VERSION = "1.35.0"
# `npm view @bytecodealliance/jco@1.35.0 dist.integrity`
NPM_INTEGRITY = ("sha512-O53cWIMm/M1SpwLxKRicvAMDnzWf4zWs6I6qFZIGbn3HUovDMCCe9blkGxxYuyocHjVf/"
                 "cXgNmlMu/x7Tyi77A==")
ADAPTER_SHA256: Mapping[AdapterKind, str] = {
    "command": "2a652d711c1fff34f9d5a0e073e50ef7eeb8fe7d8a6d559eae643a4c049a7b94",
    "reactor": "b857310c4753c8fafaa0f890e9ccf978dc3d9dbe8804b1125291a627485041d0",
}
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
ADAPTERS_DIR_ENV = "WASMFORGE_WASI_ADAPTERS"
REGISTRY_ENV = "WASMFORGE_NPM_REGISTRY"
_CACHE_SUBDIR = "adapters"
_FETCH_TIMEOUT_ENV = "WASMFORGE_REGISTRY_TIMEOUT"
_lock = threading.Lock()


@dataclass(frozen=True)
class Adapter:
    kind: AdapterKind
    path: Path
    sha256: str

    @property
    def version(self) -> str:
        """How manifests and annotations name it."""
        return f"{NPM_PACKAGE}@{NPM_VERSION} {file_name(self.kind)}"


def file_name(kind: AdapterKind) -> str:
    return f"wasi_snapshot_preview1.{kind}.wasm"


def adapter(kind: AdapterKind, env: Mapping[str, str] | None = None) -> Adapter:
    """The checked adapter of ``kind``, fetched first if this machine does not have it yet."""
    env = os.environ if env is None else env
    expected = ADAPTER_SHA256[kind]
    local = env.get(ADAPTERS_DIR_ENV)
    if local:
        path = Path(local).expanduser() / file_name(kind)
        _check(path, path.read_bytes() if path.is_file() else None, expected, ADAPTERS_DIR_ENV)
        return Adapter(kind, path, expected)
    cached = default_cache_dir(env) / _CACHE_SUBDIR / f"{expected}.wasm"
    with _lock:
        if not (cached.is_file() and _sha256(cached.read_bytes()) == expected):
            fetch_adapters(env)
    return Adapter(kind, cached, expected)


def fetch_adapters(env: Mapping[str, str] | None = None) -> list[Path]:
    """Fetch the pinned package from the npm registry, check it, keep both adapters; their
    paths. A registry error is exit 7; a file that does not match its pin is exit 2."""
    import requests

    env = os.environ if env is None else env
    registry = (env.get(REGISTRY_ENV) or env.get("npm_config_registry")
                or DEFAULT_REGISTRY).rstrip("/")
    url = f"{registry}/{NPM_PACKAGE}/-/{NPM_PACKAGE.split('/')[1]}-{NPM_VERSION}.tgz"
    timeout = seconds_from_env(_FETCH_TIMEOUT_ENV, 60.0)
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as error:
        msg = f"cannot fetch the WASI adapters from {url}: {type(error).__name__}"
        raise RegistryError(msg, hint=_OFFLINE_HINT) from None
    if response.status_code != 200:
        msg = f"cannot fetch the WASI adapters from {url}: HTTP {response.status_code}"
        raise RegistryError(msg, hint=_OFFLINE_HINT)
    tarball = response.content
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if integrity != NPM_INTEGRITY:
        msg = (f"{url}: the package does not match its pinned integrity ({NPM_INTEGRITY[:20]}…, "
               f"got {integrity[:20]}…); refusing to use it")
        raise UserError(msg, hint="check that the registry serves the real npm package")
    directory = default_cache_dir(env) / _CACHE_SUBDIR
    written = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for kind, expected in ADAPTER_SHA256.items():
            member = archive.extractfile(f"package/lib/{file_name(kind)}")
            data = member.read() if member is not None else None
            _check(Path(url) / file_name(kind), data, expected, url)
            assert data is not None
            path = directory / f"{expected}.wasm"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
            written.append(path)
    return written


_OFFLINE_HINT = (f"without a registry, put {file_name('command')} and {file_name('reactor')} of "
                 f"{NPM_PACKAGE}@{NPM_VERSION} in a directory and set {ADAPTERS_DIR_ENV} to it")


def _check(path: Path, data: bytes | None, expected: str, source: str) -> None:
    if data is None:
        msg = f"{path}: no such adapter file (from {source})"
        raise UserError(msg, hint=_OFFLINE_HINT)
    actual = _sha256(data)
    if actual != expected:
        msg = (f"{path}: sha256 {actual[:16]}… is not the pinned {expected[:16]}… of "
               f"{NPM_PACKAGE}@{NPM_VERSION}; refusing to use it")
        raise UserError(msg, hint=_OFFLINE_HINT)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
