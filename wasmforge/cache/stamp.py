"""The stamp of a project's last build, like ninja's log: what it read and wrote, by stat.

A rebuild asked for with the same command line, in the same directory, with the same environment,
finds the stamp of its last success. If every file it read (the config, the sources, the headers
the compiler reported, whole trees, the toolchain recipes) and every file it wrote (the published
outputs, the manifest, the OCI packages) has the size, mtime, ctime and inode it had, if every
source glob matches what it matched, if no file it looked for and did not find has appeared, and
if HEAD is the same commit, nothing can have changed: the
last result is the answer, and no file is hashed and no container started. Anything else, and the
build runs as usual (its cache still spares the work).

Standard library only: ``wasmforge build`` checks the stamp before typer, pydantic or docker load.
A stamp that cannot be read is simply not there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmforge import __version__
from wasmforge.cache.digests import FileStat
from wasmforge.cache.location import STAMPS_DIR
from wasmforge.gitinfo import UNKNOWN, head_commit

STAMP_SCHEMA = 2
# The environment that can change a build or what it prints.
_ENV_PREFIXES = ("WASMFORGE_", "DOCKER_")
_ENV_NAMES = ("SOURCE_DATE_EPOCH", "CI", "GITHUB_ACTIONS", "PATH", "HOME", "XDG_CACHE_HOME")


def request_id(cwd: str, args: Sequence[str], env: Mapping[str, str]) -> str:
    """Names one way of asking for a build: directory, command line and relevant environment."""
    relevant = {k: v for k, v in env.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES}
    document = {"cwd": cwd, "args": list(args), "env": dict(sorted(relevant.items())),
                "version": __version__}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def stamp_path(cache_dir: Path, request: str) -> Path:
    return cache_dir / STAMPS_DIR / f"{request}.json"


@dataclass
class Stamp:
    request: str
    project: str  # the project root the globs and git are read from
    git: str | None
    files: dict[str, FileStat] = field(default_factory=dict)  # absolute path -> stat
    dirs: dict[str, FileStat] = field(default_factory=dict)
    globs: list[tuple[str, list[str]]] = field(default_factory=list)  # pattern -> matches
    # Project paths the build looked for and did not find (e.g. .cargo/config.toml): one
    # appearing there changes the build.
    absent: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)  # the build's --json result

    def to_bytes(self) -> bytes:
        """The stamp as a checksum line and a JSON line: damage that still parses is caught."""
        body = json.dumps({
            "schema": STAMP_SCHEMA, "version": __version__, "request": self.request,
            "project": self.project, "git": self.git,
            "files": {k: v.to_json() for k, v in sorted(self.files.items())},
            "dirs": {k: v.to_json() for k, v in sorted(self.dirs.items())},
            "globs": [[pattern, matches] for pattern, matches in self.globs],
            "absent": sorted(self.absent),
            "report": self.report,
        }).encode()
        return hashlib.sha256(body).hexdigest().encode() + b"\n" + body

    @classmethod
    def from_bytes(cls, data: bytes) -> Stamp | None:
        """The stamp, or None for anything that is not a whole stamp of this version."""
        checksum, _, body = data.partition(b"\n")
        if checksum != hashlib.sha256(body).hexdigest().encode():
            return None
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(doc, dict) or doc.get("schema") != STAMP_SCHEMA \
                or doc.get("version") != __version__:
            return None
        request, project, git = doc.get("request"), doc.get("project"), doc.get("git")
        files, dirs, globs, absent, report = (doc.get("files"), doc.get("dirs"), doc.get("globs"),
                                              doc.get("absent"), doc.get("report"))
        if not (isinstance(request, str) and isinstance(project, str)
                and (git is None or isinstance(git, str)) and isinstance(files, dict)
                and isinstance(dirs, dict) and isinstance(globs, list)
                and isinstance(absent, list) and all(isinstance(a, str) for a in absent)
                and isinstance(report, dict)):
            return None
        stamp = cls(request=request, project=project, git=git, absent=list(absent),
                    report=report)
        for source, target in ((files, stamp.files), (dirs, stamp.dirs)):
            for path, value in source.items():
                parsed = FileStat.from_json(value)
                if parsed is None:
                    return None
                target[path] = parsed
        for item in globs:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], list)):
                return None
            stamp.globs.append((item[0], [str(m) for m in item[1]]))
        return stamp

    def still_holds(self) -> bool:
        """True if nothing the build read or wrote has changed since (see the module docstring)."""
        if self.git == UNKNOWN or head_commit(Path(self.project)) != self.git:
            return False
        return self.inputs_unchanged()

    def inputs_unchanged(self) -> bool:
        """True if no file or directory the build read or wrote changed, and no glob matches
        differently (the commit is not looked at: ``--watch`` asks whether an edit matters)."""
        from wasmforge.build.sources import glob_files

        for table in (self.files, self.dirs):
            for path, recorded in table.items():
                try:
                    now = FileStat.of(Path(path).stat())
                except OSError:
                    return False
                if not recorded.same_file(now):
                    return False
        root = Path(self.project)
        if any(os.path.lexists(root / path) for path in self.absent):
            return False
        for pattern, matches in self.globs:
            if [p.relative_to(root).as_posix() for p in glob_files(root, pattern)] != matches:
                return False
        return True


def load_stamp(path: Path) -> Stamp | None:
    try:
        return Stamp.from_bytes(path.read_bytes())
    except OSError:
        return None


def readable_stamp(path: Path) -> bool:
    return load_stamp(path) is not None
