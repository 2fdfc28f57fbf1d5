"""The toolchain lock file: round trip, one section per engine, clear errors when damaged."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from wasmforge.errors import UserError
from wasmforge.toolchains.lock import BaseRecord, LockEntry, LockFile, lock_path


def _entry(name: str = "rust", image_id: str = "sha256:" + "1" * 64) -> LockEntry:
    return LockEntry(
        name=name,
        tag=f"wasmforge/{name}:0123456789abcdef",
        image_id=image_id,
        recipe_digest="0123456789abcdef" + "0" * 48,
        base=BaseRecord(
            pin="debian@sha256:" + "2" * 64, image_id="sha256:" + "3" * 64, origin="debootstrap"
        ),
        pins={"rustc": "1.63.0+dfsg1-2"},
        packages={"rustc": "1.63.0+dfsg1-2", "zlib1g": "1"},
    )


def test_round_trip(tmp_path: Path) -> None:
    lock = LockFile(tmp_path / "state" / "toolchains.lock.json", engine="E1")
    assert lock.entries() == {}
    lock.record(_entry())
    assert LockFile(lock.path, engine="E1").get("rust") == _entry()
    data = json.loads(lock.path.read_text())
    assert data["version"] == 1
    assert data["engines"]["E1"]["rust"]["base"]["origin"] == "debootstrap"


def test_entries_are_per_engine_and_replaced_by_name(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    LockFile(path, "E1").record(_entry())
    LockFile(path, "E2").record(_entry(image_id="sha256:" + "9" * 64))
    LockFile(path, "E1").record(_entry(image_id="sha256:" + "8" * 64))
    LockFile(path, "E1").record(_entry(name="emscripten"))
    e1 = LockFile(path, "E1").entries()
    assert sorted(e1) == ["emscripten", "rust"]
    assert e1["rust"].image_id == "sha256:" + "8" * 64
    assert LockFile(path, "E2").get("rust") == _entry(image_id="sha256:" + "9" * 64)


def test_concurrent_records_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    names = [f"t{i}" for i in range(12)]
    threads = [
        threading.Thread(target=LockFile(path, "E").record, args=(_entry(name=n),)) for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(LockFile(path, "E").entries()) == sorted(names)


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    lock = LockFile(tmp_path / "lock.json", "E")
    lock.record(_entry())
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_corrupt_lock_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text('{\n  "version": 1,\n  "engines": {\n')
    with pytest.raises(UserError, match=rf"^{path}:4: not valid JSON"):
        LockFile(path, "E").entries()


def test_foreign_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text('{"version": 99}')
    with pytest.raises(UserError, match="not a version 1 toolchain lock file"):
        LockFile(path, "E").record(_entry())
    assert json.loads(path.read_text()) == {"version": 99}, "never overwritten unasked"


def test_lock_path_follows_xdg_and_override(tmp_path: Path) -> None:
    assert lock_path({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path(
        "/c/wasmforge/toolchains.lock.json"
    )
    assert lock_path({"HOME": "/h"}) == Path("/h/.cache/wasmforge/toolchains.lock.json")
    assert lock_path({"WASMFORGE_TOOLCHAINS_LOCK": str(tmp_path / "x.json")}) == tmp_path / "x.json"
