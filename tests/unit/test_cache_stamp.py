"""The stamp of the last build: found by command line, directory and environment; holds only while
every file and directory it lists keeps its stat, every glob its matches, and HEAD its commit."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.git_support import git
from wasmforge import __version__
from wasmforge.cache.digests import FileStat, ProjectDigests
from wasmforge.cache.stamp import (
    STAMP_SCHEMA,
    Stamp,
    load_stamp,
    readable_stamp,
    request_id,
    stamp_path,
)
from wasmforge.gitinfo import UNKNOWN, head_commit


def project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.c").write_text("int a;\n")
    (root / "src" / "b.c").write_text("int b;\n")
    (root / "wasmforge.toml").write_text('[project]\nname = "p"\n')
    return root


def stamp_of(root: Path, **changes: Any) -> Stamp:
    """What a build of ``root`` that read its sources and globbed ``src/*.c`` would leave."""
    digests = ProjectDigests(root)
    digests.file("src/a.c")
    digests.file("src/b.c")
    digests.walk("src")
    files = dict(digests.files)
    files[str(root / "wasmforge.toml")] = FileStat.of((root / "wasmforge.toml").stat())
    fields: dict[str, Any] = {
        "request": "r" * 64, "project": str(root), "git": head_commit(root), "files": files,
        "dirs": dict(digests.dirs), "globs": [("src/*.c", ["src/a.c", "src/b.c"])],
        "absent": [".cargo/config.toml"], "report": {"profile": "debug", "targets": []},
    }
    fields.update(changes)
    return Stamp(**fields)


# request_id ----------------------------------------------------------------------------------------


def test_request_id_is_stable_hex() -> None:
    env = {"PATH": "/usr/bin", "WASMFORGE_JOBS": "2"}
    first = request_id("/p", ["build", "--release"], env)
    assert first == request_id("/p", ["build", "--release"], dict(reversed(list(env.items()))))
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    ("cwd", "args", "env"),
    [
        ("/q", ["build"], {}),
        ("/p", ["build", "--release"], {}),
        ("/p", ["--json", "build"], {}),
        ("/p", ["build", "-t", "a"], {}),
        ("/p", ["build"], {"WASMFORGE_PROFILE": "release"}),
        ("/p", ["build"], {"WASMFORGE_CACHE_DIR": "/elsewhere"}),
        ("/p", ["build"], {"DOCKER_HOST": "tcp://remote:2375"}),
        ("/p", ["build"], {"SOURCE_DATE_EPOCH": "1"}),
        ("/p", ["build"], {"PATH": "/opt/bin:/usr/bin"}),
        ("/p", ["build"], {"CI": "true"}),
        ("/p", ["build"], {"GITHUB_ACTIONS": "true"}),
        ("/p", ["build"], {"HOME": "/home/other"}),
        ("/p", ["build"], {"XDG_CACHE_HOME": "/x"}),
    ],
)
def test_request_id_changes_with_directory_command_line_and_relevant_environment(
    cwd: str, args: list[str], env: dict[str, str]
) -> None:
    assert request_id(cwd, args, env) != request_id("/p", ["build"], {})


@pytest.mark.parametrize("name", ["TERM", "LANG", "SHLVL", "OLDPWD", "PWD", "SSH_AUTH_SOCK"])
def test_request_id_ignores_unrelated_environment(name: str) -> None:
    assert request_id("/p", ["build"], {name: "something"}) == request_id("/p", ["build"], {})


def test_stamp_path_is_under_stamps(tmp_path: Path) -> None:
    assert stamp_path(tmp_path, "abc") == tmp_path / "stamps" / "abc.json"


# to_bytes / from_bytes -----------------------------------------------------------------------------


def test_stamp_round_trips_through_bytes(tmp_path: Path) -> None:
    original = stamp_of(project(tmp_path), git="0" * 40,
                        report={"profile": "release", "targets": [{"name": "a"}]})
    parsed = Stamp.from_bytes(original.to_bytes())
    assert parsed == original


def _doc(tmp_path: Path) -> dict[str, Any]:
    loaded = json.loads(stamp_of(project(tmp_path)).to_bytes().partition(b"\n")[2])
    assert isinstance(loaded, dict)
    return loaded


def _stored(doc: dict[str, Any]) -> bytes:
    """A stamp file of ``doc`` with a correct checksum line: what is tested is the content."""
    body = json.dumps(doc).encode()
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def test_damage_that_still_parses_is_no_stamp(tmp_path: Path) -> None:
    data = stamp_of(project(tmp_path)).to_bytes()
    assert Stamp.from_bytes(data) is not None
    assert Stamp.from_bytes(data.replace(b'"profile"', b'"profilE"')) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"schema": STAMP_SCHEMA + 1},
        {"version": __version__ + ".dev1"},
        {"version": None},
        {"request": None},
        {"project": 1},
        {"git": 5},
        {"files": []},
        {"files": {"/p/a.c": [1, 2, 3]}},
        {"files": {"/p/a.c": [1, 2, 3, 4, 5]}},
        {"dirs": {"/p/src": "stat"}},
        {"dirs": None},
        {"globs": {}},
        {"globs": [["src/*.c"]]},
        {"globs": [[1, []]]},
        {"globs": [["src/*.c", "src/a.c"]]},
        {"absent": None},
        {"absent": [".cargo/config", 3]},
        {"report": []},
        {"report": None},
    ],
)
def test_stamps_that_are_not_whole_are_none(tmp_path: Path, changes: dict[str, Any]) -> None:
    doc = _doc(tmp_path)
    doc.update(changes)
    assert Stamp.from_bytes(_stored(doc)) is None


@pytest.mark.parametrize("field", ["schema", "version", "request", "project", "files", "dirs",
                                   "globs", "absent", "report"])
def test_stamps_missing_a_field_are_none(tmp_path: Path, field: str) -> None:
    doc = _doc(tmp_path)
    del doc[field]
    assert Stamp.from_bytes(_stored(doc)) is None


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b"null", b"\xff\xfe\x00", b'"stamp"'])
def test_garbage_is_no_stamp(tmp_path: Path, data: bytes) -> None:
    assert Stamp.from_bytes(data) is None
    path = tmp_path / "stamp.json"
    path.write_bytes(data)
    assert load_stamp(path) is None
    assert readable_stamp(path) is False


def test_load_stamp_of_a_missing_or_unreadable_file_is_none(tmp_path: Path) -> None:
    assert load_stamp(tmp_path / "missing.json") is None
    (tmp_path / "dir.json").mkdir()
    assert load_stamp(tmp_path / "dir.json") is None


def test_load_stamp_reads_a_written_stamp(tmp_path: Path) -> None:
    stamp = stamp_of(project(tmp_path / "p"))
    path = stamp_path(tmp_path / "cache", stamp.request)
    path.parent.mkdir(parents=True)
    path.write_bytes(stamp.to_bytes())
    assert load_stamp(path) == stamp
    assert readable_stamp(path) is True


# still_holds ---------------------------------------------------------------------------------------


def test_stamp_holds_when_nothing_changed(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert head_commit(root) is None  # not in a repository: None on both sides
    assert stamp_of(root).still_holds()


def test_stamp_holds_after_a_file_is_only_read(tmp_path: Path) -> None:
    root = project(tmp_path)
    stamp = stamp_of(root)
    (root / "src" / "a.c").read_bytes()
    assert stamp.still_holds()


def test_stamp_no_longer_holds_when_a_file_is_edited(tmp_path: Path) -> None:
    root = project(tmp_path)
    stamp = stamp_of(root)
    (root / "src" / "a.c").write_text("int a = 1;\n")
    assert not stamp.still_holds()


def test_stamp_no_longer_holds_when_a_file_is_rewritten_with_its_old_mtime(tmp_path: Path) -> None:
    root = project(tmp_path)
    path = root / "src" / "a.c"
    before = path.stat()
    stamp = stamp_of(root)
    time.sleep(0.02)  # ctime ticks with the kernel clock
    path.write_text("int z;\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert not stamp.still_holds()


def test_stamp_no_longer_holds_when_a_file_is_replaced_or_removed(tmp_path: Path) -> None:
    root = project(tmp_path)
    stamp = stamp_of(root)
    replacement = root / "replacement"
    replacement.write_bytes((root / "wasmforge.toml").read_bytes())
    replacement.replace(root / "wasmforge.toml")  # same content, new inode
    assert not stamp.still_holds()
    stamp = stamp_of(root)
    (root / "src" / "b.c").unlink()
    assert not stamp.still_holds()


def test_stamp_no_longer_holds_when_a_directory_changes(tmp_path: Path) -> None:
    root = project(tmp_path)
    stamp = stamp_of(root, globs=[])
    (root / "src" / "notes.txt").write_text("not a source, but the directory changed\n")
    assert not stamp.still_holds()


def test_stamp_no_longer_holds_when_a_glob_matches_something_else(tmp_path: Path) -> None:
    root = project(tmp_path)
    stamp = stamp_of(root, dirs={})  # only the glob can tell
    (root / "src" / "c.c").write_text("int c;\n")
    assert not stamp.still_holds()
    (root / "src" / "c.c").unlink()
    assert stamp.still_holds()


def test_stamp_no_longer_holds_when_a_file_it_looked_for_appears(tmp_path: Path) -> None:
    # Cargo reads .cargo/config.toml when there is one: its arrival changes the build.
    root = project(tmp_path)
    stamp = stamp_of(root)
    assert stamp.still_holds()
    (root / ".cargo").mkdir()
    (root / ".cargo" / "config.toml").write_text("[build]\n")
    assert not stamp.still_holds()
    (root / ".cargo" / "config.toml").unlink()
    (root / ".cargo" / "config.toml").symlink_to("nowhere")  # a dangling link is there too
    assert not stamp.still_holds()


def test_glob_matches_are_compared_as_project_relative_posix_paths(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "src" / "sub").mkdir()
    (root / "src" / "sub" / "d.c").write_text("int d;\n")
    stamp = stamp_of(root, dirs={}, globs=[("src/**/*.c", ["src/a.c", "src/b.c", "src/sub/d.c"])])
    assert stamp.still_holds()
    wrong_order = stamp_of(root, dirs={}, globs=[("src/*.c", ["src/b.c", "src/a.c"])])
    assert not wrong_order.still_holds()


def test_stamp_no_longer_holds_after_a_new_commit(tmp_path: Path) -> None:
    root = project(tmp_path)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    stamp = stamp_of(root, files={}, dirs={}, globs=[])
    assert stamp.git == git(root, "rev-parse", "HEAD")
    assert stamp.still_holds()
    git(root, "commit", "-q", "--allow-empty", "-m", "second")
    assert not stamp.still_holds()


def test_stamp_no_longer_holds_when_the_project_enters_a_repository(tmp_path: Path) -> None:
    root = project(tmp_path)
    stamp = stamp_of(root, files={}, dirs={}, globs=[])
    assert stamp.git is None
    git(root, "init", "-q", "-b", "main")
    assert not stamp.still_holds()


def test_stamp_recorded_with_an_unknown_head_never_holds(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert not stamp_of(root, git=UNKNOWN).still_holds()


def test_stamp_of_a_vanished_project_does_not_hold(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    stamp = stamp_of(root)
    for path in sorted(root.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    root.rmdir()
    assert not stamp.still_holds()
