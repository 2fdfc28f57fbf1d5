"""The local store: results by key (several variants each), outputs as blobs by digest; nothing
damaged is ever returned, it is dropped with a warning instead."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from wasmforge.cache.location import default_cache_dir
from wasmforge.cache.record import ActionRecord, DamagedEntry, OutputFile
from wasmforge.cache.store import VARIANTS_PER_KEY, LocalStore

KEY = "c0" + "1" * 62
OTHER_KEY = "c0" + "2" * 62


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def make_store(tmp_path: Path) -> tuple[LocalStore, Warnings]:
    warnings = Warnings()
    return LocalStore(tmp_path / "cache", warn=warnings), warnings


def outputs_in(directory: Path, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Write output files into a scratch dir; their paths by record path."""
    found = {}
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        found[name] = path
    return found


def saved(store: LocalStore, tmp_path: Path, files: Mapping[str, bytes], *, key: str = KEY,
          deps: Mapping[str, str] | None = None, executable: frozenset[str] = frozenset()
          ) -> ActionRecord:
    scratch = tmp_path / "scratch" / hashlib.sha256(repr((key, deps, files)).encode()).hexdigest()
    record = ActionRecord(
        key=key,
        outputs={name: OutputFile(sha(data), len(data), name in executable)
                 for name, data in files.items()},
        deps=dict(deps or {}),
        meta={"note": "test"},
    )
    store.save(record, outputs_in(scratch, files))
    return record


def any_deps(_: Mapping[str, str]) -> bool:
    return True


def no_deps(_: Mapping[str, str]) -> bool:
    return False


def leftovers(root: Path) -> list[Path]:
    return list(root.rglob(".tmp-*"))


# default_cache_dir ---------------------------------------------------------------------------------


def test_cache_dir_from_environment_variable_with_tilde() -> None:
    env = {"WASMFORGE_CACHE_DIR": "~/my-cache", "HOME": "/home/u", "XDG_CACHE_HOME": "/x"}
    assert default_cache_dir(env) == Path("~/my-cache").expanduser()
    assert default_cache_dir({"WASMFORGE_CACHE_DIR": "/c"}) == Path("/c")


def test_cache_dir_under_xdg_cache_home() -> None:
    env = {"XDG_CACHE_HOME": "/var/xdg", "HOME": "/home/u"}
    assert default_cache_dir(env) == Path("/var/xdg/wasmforge/build-cache")


def test_cache_dir_under_home_without_xdg() -> None:
    assert default_cache_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/wasmforge/build-cache")
    assert default_cache_dir({"HOME": "/home/u", "XDG_CACHE_HOME": "", "WASMFORGE_CACHE_DIR": ""}) \
        == Path("/home/u/.cache/wasmforge/build-cache")


def test_cache_dir_without_any_variable_is_under_the_users_home() -> None:
    assert default_cache_dir({}) == Path.home() / ".cache" / "wasmforge" / "build-cache"


# Save and look up ----------------------------------------------------------------------------------


def test_saved_result_is_found_with_its_blobs(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"obj/a.o": b"object a", "app.wasm": b"\0asm module"})
    found = store.lookup(KEY, any_deps)
    assert found == record
    for out in record.outputs.values():
        blob = store.blob_path(out.digest)
        assert blob.read_bytes() in (b"object a", b"\0asm module")
        assert blob.parent.name == out.digest.removeprefix("sha256:")[:2]
        assert blob.parent.parent == store.blobs_dir
    entry = store.entry_dir(KEY) / f"{record.variant}.json"
    assert entry.is_file()
    assert entry.parent.parent.name == KEY[:2]
    assert warnings == []
    assert leftovers(store.root) == []


def test_unknown_key_is_a_miss(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    assert store.lookup(KEY, any_deps) is None
    saved(store, tmp_path, {"a.o": b"a"})
    assert store.lookup(OTHER_KEY, any_deps) is None
    assert warnings == []


def test_result_whose_dependencies_changed_is_a_miss_but_is_kept(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a"}, deps={"a.h": sha(b"header")})
    seen: list[dict[str, str]] = []

    def check(deps: Mapping[str, str]) -> bool:
        seen.append(dict(deps))
        return False

    assert store.lookup(KEY, check) is None
    assert seen == [{"a.h": sha(b"header")}]
    assert (store.entry_dir(KEY) / f"{record.variant}.json").is_file()
    assert warnings == []


def test_each_set_of_headers_is_its_own_variant(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    main = saved(store, tmp_path, {"a.o": b"built on main"}, deps={"a.h": sha(b"main")})
    branch = saved(store, tmp_path, {"a.o": b"built on branch"}, deps={"a.h": sha(b"branch")})
    assert main.variant != branch.variant
    assert len(list(store.entry_dir(KEY).glob("*.json"))) == 2

    def on(header: bytes) -> Callable[[Mapping[str, str]], bool]:
        return lambda deps: deps == {"a.h": sha(header)}

    assert store.lookup(KEY, on(b"main")) == main
    assert store.lookup(KEY, on(b"branch")) == branch
    assert store.lookup(KEY, on(b"neither")) is None


def test_most_recently_used_variant_comes_first(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    old = saved(store, tmp_path, {"a.o": b"old"}, deps={"a.h": sha(b"1")})
    new = saved(store, tmp_path, {"a.o": b"new"}, deps={"a.h": sha(b"2")})
    now = time.time()
    os.utime(store.entry_dir(KEY) / f"{old.variant}.json", (now - 100, now - 100))
    os.utime(store.entry_dir(KEY) / f"{new.variant}.json", (now - 50, now - 50))
    assert store.lookup(KEY, any_deps) == new  # and that hit makes it the most recent
    os.utime(store.entry_dir(KEY) / f"{old.variant}.json", (now + 60, now + 60))
    assert store.lookup(KEY, any_deps) == old


def test_a_hit_marks_its_entry_and_blobs_as_used(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a"})
    entry = store.entry_dir(KEY) / f"{record.variant}.json"
    blob = store.blob_path(record.outputs["a.o"].digest)
    long_ago = time.time() - 3600
    for path in (entry, blob):
        os.utime(path, (long_ago, long_ago))
    assert store.lookup(KEY, any_deps) == record
    assert entry.stat().st_mtime > long_ago + 3000
    assert blob.stat().st_mtime > long_ago + 3000


def test_a_miss_does_not_mark_anything_as_used(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a"})
    entry = store.entry_dir(KEY) / f"{record.variant}.json"
    long_ago = time.time() - 3600
    os.utime(entry, (long_ago, long_ago))
    assert store.lookup(KEY, no_deps) is None
    assert entry.stat().st_mtime == pytest.approx(long_ago)


def test_a_key_keeps_only_the_newest_variants(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    base = time.time() - 1000
    records = []
    for index in range(VARIANTS_PER_KEY + 2):
        record = saved(store, tmp_path, {"a.o": b"a"}, deps={"a.h": sha(str(index).encode())})
        os.utime(store.entry_dir(KEY) / f"{record.variant}.json", (base + index, base + index))
        records.append(record)
    kept = {p.stem for p in store.entry_dir(KEY).glob("*.json")}
    assert kept == {r.variant for r in records[2:]}


def test_saving_the_same_result_twice_keeps_one_entry(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    first = saved(store, tmp_path, {"a.o": b"a"}, deps={"a.h": sha(b"h")})
    second = saved(store, tmp_path, {"a.o": b"a"}, deps={"a.h": sha(b"h")})
    assert first == second
    assert len(list(store.entry_dir(KEY).glob("*.json"))) == 1
    assert len(list(store.blobs_dir.rglob("*"))) == 2  # one fan-out dir, one blob


def test_identical_outputs_of_different_actions_share_one_blob(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    saved(store, tmp_path, {"a.o": b"same"})
    saved(store, tmp_path, {"b.o": b"same"}, key=OTHER_KEY)
    assert [p.name for p in store.blobs_dir.rglob("*") if p.is_file()] == [
        sha(b"same").removeprefix("sha256:")]


def test_saving_a_file_that_does_not_match_its_digest_fails_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    store, _ = make_store(tmp_path)
    files = outputs_in(tmp_path / "scratch", {"a.o": b"changed meanwhile"})
    record = ActionRecord(key=KEY, outputs={"a.o": OutputFile(sha(b"original"), 17)})
    with pytest.raises(OSError, match="changed while it was being cached"):
        store.save(record, files)
    assert not store.blob_path(sha(b"original")).exists()
    assert store.lookup(KEY, any_deps) is None
    assert leftovers(store.root) == []


# Damaged entries -----------------------------------------------------------------------------------


def entry_of(store: LocalStore, record: ActionRecord) -> Path:
    return store.entry_dir(record.key) / f"{record.variant}.json"


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"schema": 1}', b"\xff\xfe"])
def test_unreadable_entry_is_dropped_with_a_warning(tmp_path: Path, content: bytes) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a"})
    entry_of(store, record).write_bytes(content)
    assert store.lookup(KEY, any_deps) is None
    assert not entry_of(store, record).exists()
    assert len(warnings) == 1
    assert KEY[:12] in warnings[0]
    assert "dropped it" in warnings[0]


def test_entry_filed_under_another_key_is_dropped(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a"}, key=OTHER_KEY)
    moved = store.entry_dir(KEY) / f"{record.variant}.json"
    moved.parent.mkdir(parents=True)
    entry_of(store, record).rename(moved)
    assert store.lookup(KEY, any_deps) is None
    assert not moved.exists()
    assert len(warnings) == 1


def test_entry_whose_name_is_not_its_variant_is_dropped(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a"}, deps={"a.h": sha(b"h")})
    renamed = store.entry_dir(KEY) / ("0" * 64 + ".json")
    entry_of(store, record).rename(renamed)
    assert store.lookup(KEY, any_deps) is None
    assert not renamed.exists()
    assert "do not match its name" in warnings[0]


def test_entry_with_a_missing_blob_is_dropped(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a", "b.o": b"b"})
    store.blob_path(record.outputs["b.o"].digest).unlink()
    assert store.lookup(KEY, any_deps) is None
    assert not entry_of(store, record).exists()
    assert "blob of b.o is missing" in warnings[0]


def test_entry_with_a_truncated_blob_is_dropped(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a complete object"})
    store.blob_path(record.outputs["a.o"].digest).write_bytes(b"a comp")
    assert store.lookup(KEY, any_deps) is None
    assert not entry_of(store, record).exists()
    assert len(warnings) == 1


def test_a_blob_with_other_bytes_of_the_same_size_is_never_restored(tmp_path: Path) -> None:
    """Whether the lookup rehashes or the copy out checks, damage never reaches the build, and the
    damaged blob is gone afterwards."""
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"right bytes"})
    blob = store.blob_path(record.outputs["a.o"].digest)
    blob.write_bytes(b"wrong bytes")
    dest = tmp_path / "out" / "a.o"
    found = store.lookup(KEY, any_deps)
    if found is not None:
        with pytest.raises(DamagedEntry):
            store.materialize(found.outputs["a.o"], dest)
    assert not dest.exists()
    assert not blob.exists()
    assert store.lookup(KEY, any_deps) is None


def test_a_damaged_variant_does_not_hide_a_good_one(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    good = saved(store, tmp_path, {"a.o": b"good"}, deps={"a.h": sha(b"1")})
    bad = saved(store, tmp_path, {"a.o": b"bad"}, deps={"a.h": sha(b"2")})
    now = time.time()
    os.utime(entry_of(store, good), (now - 100, now - 100))  # the damaged one is tried first
    entry_of(store, bad).write_bytes(b"garbage")
    assert store.lookup(KEY, any_deps) == good
    assert len(warnings) == 1


# Blobs ---------------------------------------------------------------------------------------------


def test_materialize_writes_the_blob_with_its_mode(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"bin/tool": b"#!/bin/sh\n", "lib.a": b"!<arch>\n"},
                   executable=frozenset({"bin/tool"}))
    dest = tmp_path / "out"
    for name, out in record.outputs.items():
        store.materialize(out, dest / name)
    assert (dest / "bin" / "tool").read_bytes() == b"#!/bin/sh\n"
    assert (dest / "lib.a").read_bytes() == b"!<arch>\n"
    assert stat.S_IMODE((dest / "bin" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "lib.a").stat().st_mode) == 0o644
    assert leftovers(dest) == []


def test_materialize_replaces_an_existing_file(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"fresh"})
    dest = tmp_path / "out" / "a.o"
    dest.parent.mkdir()
    dest.write_bytes(b"stale content that is longer")
    store.materialize(record.outputs["a.o"], dest)
    assert dest.read_bytes() == b"fresh"


def test_materialize_refuses_a_damaged_blob_and_removes_it(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"right bytes"})
    blob = store.blob_path(record.outputs["a.o"].digest)
    blob.write_bytes(b"wrong bytes")  # same size: only the digest tells
    dest = tmp_path / "out" / "a.o"
    with pytest.raises(DamagedEntry, match="damaged"):
        store.materialize(record.outputs["a.o"], dest)
    assert not dest.exists()
    assert not blob.exists()
    assert leftovers(dest.parent) == []


def test_materialize_refuses_a_blob_of_the_wrong_size(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    data = b"content"
    store.put_bytes(data, sha(data))
    with pytest.raises(DamagedEntry):
        store.materialize(OutputFile(sha(data), len(data) + 1), tmp_path / "out" / "a.o")
    assert not (tmp_path / "out" / "a.o").exists()


def test_materialize_of_a_missing_blob_is_damaged(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    with pytest.raises(DamagedEntry, match="missing"):
        store.materialize(OutputFile(sha(b"x"), 1), tmp_path / "out" / "a.o")
    assert not (tmp_path / "out" / "a.o").exists()


def test_put_bytes_keeps_matching_data(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    store.put_bytes(b"from a registry", sha(b"from a registry"))
    assert store.blob_path(sha(b"from a registry")).read_bytes() == b"from a registry"
    assert store.read_blob(OutputFile(sha(b"from a registry"), 15)) == b"from a registry"


def test_put_bytes_refuses_data_that_is_not_its_digest(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    with pytest.raises(DamagedEntry, match="other content"):
        store.put_bytes(b"tampered", sha(b"original"))
    assert not store.blob_path(sha(b"original")).exists()


def test_put_file_copies_a_file_in(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    source = tmp_path / "a.o"
    source.write_bytes(b"object")
    store.put_file(source, sha(b"object"))
    assert store.blob_path(sha(b"object")).read_bytes() == b"object"
    source.write_bytes(b"later")  # the blob is a copy, not a link
    assert store.blob_path(sha(b"object")).read_bytes() == b"object"


def test_put_file_refuses_a_file_that_is_not_its_digest(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    source = tmp_path / "a.o"
    source.write_bytes(b"object")
    with pytest.raises(OSError, match="changed while it was being cached"):
        store.put_file(source, sha(b"another"))
    assert not store.blob_path(sha(b"another")).exists()
    assert leftovers(store.root) == []


def test_saving_a_fresh_result_replaces_a_damaged_blob(tmp_path: Path) -> None:
    """docs/cache.md: ``--no-cache`` "still keeps its fresh results, replacing any bad ones". A
    blob whose bytes went bad (same size) must not survive the save of the file it should hold."""
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"good object"})
    blob = store.blob_path(record.outputs["a.o"].digest)
    blob.write_bytes(b"evil object")  # same size, other bytes
    saved(store, tmp_path / "again", {"a.o": b"good object"})  # a fresh build of the same result
    assert store.read_blob(record.outputs["a.o"]) == b"good object"


def test_read_blob_refuses_and_removes_a_damaged_blob(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"right"})
    out = record.outputs["a.o"]
    assert store.read_blob(out) == b"right"
    store.blob_path(out.digest).write_bytes(b"wrong")
    with pytest.raises(DamagedEntry, match="damaged"):
        store.read_blob(out)
    assert not store.blob_path(out.digest).exists()
    with pytest.raises(DamagedEntry, match="missing"):
        store.read_blob(out)


def test_drop_removes_and_warns_once(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    record = saved(store, tmp_path, {"a.o": b"a"})
    store.drop(entry_of(store, record), "cache entry: bad")
    assert not entry_of(store, record).exists()
    assert warnings == ["cache entry: bad; dropped it, building again"]
    store.drop(entry_of(store, record), "again")  # already gone: still only a warning
    assert warnings[-1] == "again; dropped it, building again"
    assert store.lookup(KEY, any_deps) is None
