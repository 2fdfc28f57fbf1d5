"""A real Cargo registry for tests: the sparse index protocol over HTTP on 127.0.0.1, made from the
crate sources Debian packages as ``librust-*-dev`` (under ``/usr/share/cargo/registry``).

The layout is the one cargo's registry documentation specifies: ``index/config.json`` names the
download URL; ``index/<prefix>/<name>`` holds one JSON line per version (dependencies, features,
the sha256 of the ``.crate``); ``/api/v1/crates/<name>/<version>/download`` serves the ``.crate``, a
gzipped tar of ``<name>-<version>/``. Requests are counted, so a test can tell that a build needed
no network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.http_support import QuietHandler, serve

DEBIAN_CRATES = Path("/usr/share/cargo/registry")
# Debian's own files in a crate dir, which the published crate does not have.
_DEBIAN_ONLY = {".cargo-checksum.json"}


@dataclass(frozen=True)
class Crate:
    name: str
    version: str
    data: bytes  # the .crate file
    entry: dict[str, object]  # its line in the index

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def debian_crate(directory: Path) -> Crate:
    """The ``.crate`` and index line of a crate whose sources Debian installed in ``directory``."""
    manifest = tomllib.loads((directory / "Cargo.toml").read_text("utf-8"))
    package = manifest["package"]
    name, version = package["name"], package["version"]
    data = _crate_file(directory, f"{name}-{version}")
    deps = []
    for kind, table in (("normal", "dependencies"), ("dev", "dev-dependencies"),
                        ("build", "build-dependencies")):
        for dep_name, spec in manifest.get(table, {}).items():
            spec = {"version": spec} if isinstance(spec, str) else spec
            deps.append({
                "name": dep_name,
                "req": spec.get("version", "*"), "features": spec.get("features", []),
                "optional": spec.get("optional", False),
                "default_features": spec.get("default-features", True),
                "target": None, "kind": kind,
                **({"package": spec["package"]} if "package" in spec else {}),
            })
    entry = {
        "name": name, "vers": version, "deps": deps,
        "cksum": hashlib.sha256(data).hexdigest(), "features": manifest.get("features", {}),
        "yanked": False, "links": package.get("links"),
    }
    return Crate(name=name, version=version, data=data, entry=entry)


def _crate_file(directory: Path, prefix: str) -> bytes:
    """A deterministic gzipped tar of ``directory`` below ``prefix/``, as ``cargo package`` makes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if not path.is_file() or relative.as_posix() in _DEBIAN_ONLY:
                continue
            info = tarfile.TarInfo(f"{prefix}/{relative.as_posix()}")
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with path.open("rb") as stream:
                tar.addfile(info, stream)
    return gzip.compress(raw.getvalue(), mtime=0)


def index_path(name: str) -> str:
    """Where a crate's file sits in an index (cargo's prefix rule)."""
    lower = name.lower()
    if len(lower) <= 2:
        return f"{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[:2]}/{lower[2:4]}/{lower}"


@dataclass
class SparseRegistry:
    """Crates served as a sparse registry; ``url`` is set while it is served."""

    crates: list[Crate]
    url: str = ""
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def index_url(self) -> str:
        return f"sparse+{self.url}/index/"

    def files(self) -> dict[str, bytes]:
        by_name: dict[str, list[Crate]] = {}
        for crate in self.crates:
            by_name.setdefault(crate.name, []).append(crate)
        files = {"/index/config.json": json.dumps({"dl": f"{self.url}/api/v1/crates"}).encode()}
        for name, versions in by_name.items():
            lines = "".join(json.dumps(c.entry, sort_keys=True) + "\n" for c in versions)
            files[f"/index/{index_path(name)}"] = lines.encode()
            for crate in versions:
                files[f"/api/v1/crates/{name}/{crate.version}/download"] = crate.data
        return files

    def lock_entry(self, name: str) -> str:
        """The ``[[package]]`` of ``Cargo.lock`` for a crate of this registry used in place of
        crates.io (a replaced source keeps crates.io's name in the lock)."""
        crate = next(c for c in self.crates if c.name == name)
        deps = [d["name"] for d in crate.entry["deps"]  # type: ignore[attr-defined]
                if d["kind"] == "normal" and not d["optional"]]
        lines = [f'[[package]]\nname = "{name}"\nversion = "{crate.version}"',
                 'source = "registry+https://github.com/rust-lang/crates.io-index"',
                 f'checksum = "{crate.checksum}"']
        if deps:
            lines.append("dependencies = [\n" + "".join(f' "{d}",\n' for d in deps) + "]")
        return "\n".join(lines) + "\n"


@contextmanager
def serve_registry(registry: SparseRegistry) -> Iterator[SparseRegistry]:
    """Serve ``registry`` on a free port of 127.0.0.1 until the block ends."""
    files: dict[str, bytes] = {}  # filled once the port, which the index names, is known
    lock = threading.Lock()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            with lock:
                registry.requests[path] += 1
            body = files.get(path)
            if body is None:
                self.send_error(404)
                return
            self.send_body(body)

    with serve(Handler) as address:
        registry.url = f"http://{address}"
        files.update(registry.files())
        yield registry
