"""Looking after the local store: stats, pruning by last use (with a grace period for fresh blobs),
verifying every blob and entry, clearing."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from wasmforge.cache import maintenance
from wasmforge.cache.deps import DependencyStore
from wasmforge.cache.maintenance import (
    DEPENDENCY_UNUSED_SECONDS,
    PRUNE_TO,
    SWEEP_GRACE_SECONDS,
    clear,
    prune,
    prune_if_over,
    stats,
    verify,
)
from wasmforge.cache.record import ActionRecord, OutputFile
from wasmforge.cache.stamp import Stamp, stamp_path
from wasmforge.cache.store import LocalStore

NOW = time.time()
OLD = NOW - SWEEP_GRACE_SECONDS - 3600  # older than the sweep's grace period


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def make_store(tmp_path: Path) -> tuple[LocalStore, list[str]]:
    warnings: list[str] = []
    return LocalStore(tmp_path / "cache", warn=warnings.append), warnings


def save(store: LocalStore, tmp_path: Path, name: str, files: dict[str, bytes],
         used: float = OLD) -> ActionRecord:
    """A result saved for the action ``name``, last used at ``used``, its blobs written long ago."""
    scratch = tmp_path / "scratch" / name
    scratch.mkdir(parents=True)
    for path, data in files.items():
        (scratch / path).write_bytes(data)
    record = ActionRecord(
        key=key(name),
        outputs={path: OutputFile(sha(data), len(data)) for path, data in files.items()},
        meta={"action": name},
    )
    store.save(record, {path: scratch / path for path in files})
    os.utime(entry(store, record), (used, used))
    for out in record.outputs.values():
        os.utime(store.blob_path(out.digest), (OLD, OLD))
    return record


def entry(store: LocalStore, record: ActionRecord) -> Path:
    return store.entry_dir(record.key) / f"{record.variant}.json"


def blob(store: LocalStore, data: bytes) -> Path:
    return store.blob_path(sha(data))


def write_stamp(store: LocalStore, name: str) -> Path:
    path = stamp_path(store.root, key(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(Stamp(request=key(name), project="/p", git=None).to_bytes())
    return path


# stats ---------------------------------------------------------------------------------------------


def test_stats_of_a_store_that_does_not_exist_is_empty(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    found = stats(store)
    assert (found.entries, found.blobs, found.total_bytes, found.stamps) == (0, 0, 0, 0)
    assert (found.oldest, found.newest) == (None, None)
    assert found.as_dict(100) == {
        "directory": str(store.root), "entries": 0, "blobs": 0, "size": 0, "max_size": 100,
        "stamps": 0, "dependency_sets": 0, "dependency_size": 0, "oldest_use": None,
        "newest_use": None,
    }


def test_stats_counts_entries_blobs_bytes_and_stamps(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    a = save(store, tmp_path, "a", {"a.o": b"A" * 100, "x.o": b"shared"}, used=NOW - 300)
    b = save(store, tmp_path, "b", {"b.o": b"B" * 50, "x.o": b"shared"}, used=NOW - 100)
    write_stamp(store, "build")
    (store.blobs_dir / "ab").mkdir(parents=True, exist_ok=True)
    (store.blobs_dir / "ab" / ".tmp-inflight").write_bytes(b"x" * 1000)  # a write in progress
    found = stats(store)
    assert found.entries == 2
    assert found.blobs == 3
    assert found.blob_bytes == 100 + 50 + len(b"shared")
    assert found.entry_bytes == entry(store, a).stat().st_size + entry(store, b).stat().st_size
    assert found.total_bytes == found.blob_bytes + found.entry_bytes
    assert found.stamps == 1
    assert found.oldest == pytest.approx(NOW - 300)
    assert found.newest == pytest.approx(NOW - 100)


# prune ---------------------------------------------------------------------------------------------


def cost(store: LocalStore, record: ActionRecord) -> int:
    return entry(store, record).stat().st_size + sum(out.size for out in record.outputs.values())


def test_prune_keeps_the_most_recently_used_results_that_fit(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    oldest = save(store, tmp_path, "oldest", {"o.o": b"o" * 1000}, used=OLD - 300)
    middle = save(store, tmp_path, "middle", {"m.o": b"m" * 1000}, used=OLD - 200)
    newest = save(store, tmp_path, "newest", {"n.o": b"n" * 1000}, used=OLD - 100)
    limit = cost(store, newest) + cost(store, middle) + 10
    freed = cost(store, oldest)
    report = prune(store, limit)
    assert entry(store, newest).exists()
    assert entry(store, middle).exists()
    assert not entry(store, oldest).exists()
    assert not blob(store, b"o" * 1000).exists()
    assert blob(store, b"n" * 1000).exists()
    assert blob(store, b"m" * 1000).exists()
    assert report.entries_removed == 1
    assert report.blobs_removed == 1
    assert report.bytes_freed == freed
    assert stats(store).total_bytes <= limit


def test_prune_drops_everything_older_than_the_first_result_that_does_not_fit(
    tmp_path: Path,
) -> None:
    store, _ = make_store(tmp_path)
    small_old = save(store, tmp_path, "small", {"s.o": b"s"}, used=OLD - 300)
    big = save(store, tmp_path, "big", {"b.o": b"b" * 5000}, used=OLD - 200)
    newest = save(store, tmp_path, "newest", {"n.o": b"n" * 100}, used=OLD - 100)
    prune(store, cost(store, newest) + cost(store, small_old) + 10)
    assert entry(store, newest).exists()
    assert not entry(store, big).exists()
    assert not entry(store, small_old).exists()  # it would fit, but it is less recently used


def test_prune_counts_a_shared_blob_once_and_keeps_it(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    shared = b"S" * 2000
    first = save(store, tmp_path, "first", {"a.o": shared}, used=OLD - 200)
    second = save(store, tmp_path, "second", {"b.o": shared}, used=OLD - 100)
    both = entry(store, first).stat().st_size + entry(store, second).stat().st_size + len(shared)
    report = prune(store, both)
    assert report.entries_removed == 0
    assert entry(store, first).exists()
    assert entry(store, second).exists()
    prune(store, both - 1)
    assert not entry(store, first).exists()
    assert entry(store, second).exists()
    assert blob(store, shared).exists()  # still named by the kept result


def test_prune_sweeps_old_blobs_no_result_names(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    kept = save(store, tmp_path, "kept", {"k.o": b"kept"})
    store.put_bytes(b"orphan", sha(b"orphan"))
    os.utime(blob(store, b"orphan"), (OLD, OLD))
    report = prune(store, 10**9)
    assert not blob(store, b"orphan").exists()
    assert blob(store, b"kept").exists()
    assert entry(store, kept).exists()
    assert (report.entries_removed, report.blobs_removed, report.bytes_freed) == (0, 1, 6)


def test_prune_leaves_young_unreferenced_blobs_alone(tmp_path: Path) -> None:
    """A build running meanwhile may have written a blob and not yet its entry."""
    store, _ = make_store(tmp_path)
    store.put_bytes(b"in flight", sha(b"in flight"))
    just_inside = NOW - SWEEP_GRACE_SECONDS + 60
    os.utime(blob(store, b"in flight"), (just_inside, just_inside))
    dropped = save(store, tmp_path, "dropped", {"d.o": b"d" * 100})
    os.utime(blob(store, b"d" * 100), (NOW, NOW))  # its entry goes, its young blob stays
    report = prune(store, 0)
    assert not entry(store, dropped).exists()
    assert blob(store, b"in flight").exists()
    assert blob(store, b"d" * 100).exists()
    assert report.blobs_removed == 0


def test_prune_to_zero_removes_every_old_result_and_blob(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    for name in ("a", "b", "c"):
        save(store, tmp_path, name, {f"{name}.o": name.encode() * 10})
    stamp = write_stamp(store, "build")
    report = prune(store, 0)
    assert (report.entries_removed, report.blobs_removed) == (3, 3)
    after = stats(store)
    assert (after.entries, after.blobs) == (0, 0)
    assert stamp.exists()  # stamps are not results
    assert list(store.actions_dir.iterdir()) == []  # empty key dirs went too


def test_prune_keeps_an_entry_that_does_not_parse_but_sweeps_nothing_for_it(
    tmp_path: Path,
) -> None:
    store, _ = make_store(tmp_path)
    good = save(store, tmp_path, "good", {"g.o": b"g"}, used=OLD - 100)
    damaged = store.entry_dir(key("damaged")) / ("0" * 64 + ".json")
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"{broken")
    os.utime(damaged, (OLD, OLD))
    prune(store, 10**6)
    assert damaged.exists()
    assert entry(store, good).exists()
    assert blob(store, b"g").exists()


def test_prune_if_over_does_nothing_within_the_limit(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = save(store, tmp_path, "a", {"a.o": b"a" * 100})
    assert prune_if_over(store, stats(store).total_bytes) is None
    assert entry(store, record).exists()


def test_prune_if_over_prunes_to_a_fraction_of_the_limit(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    records = [save(store, tmp_path, str(i), {f"{i}.o": bytes([i]) * 1000}, used=OLD + i)
               for i in range(10)]
    limit = stats(store).total_bytes - 1
    report = prune_if_over(store, limit)
    assert report is not None
    assert report.entries_removed >= 2
    assert stats(store).total_bytes <= int(limit * PRUNE_TO)
    assert entry(store, records[-1]).exists()
    assert not entry(store, records[0]).exists()


def test_prune_respects_the_grace_period_constant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = make_store(tmp_path)
    store.put_bytes(b"orphan", sha(b"orphan"))
    os.utime(blob(store, b"orphan"), (NOW - 120, NOW - 120))
    prune(store, 0)
    assert blob(store, b"orphan").exists()
    monkeypatch.setattr(maintenance, "SWEEP_GRACE_SECONDS", 60)
    prune(store, 0)
    assert not blob(store, b"orphan").exists()


# verify --------------------------------------------------------------------------------------------


def test_verify_of_a_sound_store_removes_nothing(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    records = [save(store, tmp_path, n, {f"{n}.o": n.encode()}) for n in ("a", "b")]
    stamp = write_stamp(store, "build")
    report = verify(store)
    assert report.as_dict() == {"entries": 2, "blobs": 2, "damaged": []}
    assert all(entry(store, r).exists() for r in records)
    assert stamp.exists()


def test_verify_removes_a_blob_whose_bytes_do_not_match_its_name_and_the_entries_using_it(
    tmp_path: Path,
) -> None:
    store, _ = make_store(tmp_path)
    damaged = save(store, tmp_path, "damaged", {"a.o": b"right"})
    sound = save(store, tmp_path, "sound", {"b.o": b"other"})
    blob(store, b"right").write_bytes(b"wrong")  # same size
    report = verify(store)
    assert not blob(store, b"right").exists()
    assert not entry(store, damaged).exists()
    assert entry(store, sound).exists()
    assert blob(store, b"other").exists()
    assert len(report.damaged) == 2
    assert report.damaged[0].startswith("blob ")
    assert "content does not match its name" in report.damaged[0]
    assert "the blob of a.o is missing" in report.damaged[1]


def test_verify_removes_entries_whose_blobs_are_missing_or_truncated(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    missing = save(store, tmp_path, "missing", {"a.o": b"aaaa"})
    truncated = save(store, tmp_path, "truncated", {"b.o": b"bbbb"})
    blob(store, b"aaaa").unlink()
    blob(store, b"bbbb").write_bytes(b"bb")
    report = verify(store)
    assert not entry(store, missing).exists()
    assert not entry(store, truncated).exists()
    assert report.entries == 2
    assert any("the blob of a.o is missing" in line for line in report.damaged)


@pytest.mark.parametrize("content", [b"", b"{", b'{"schema": 1}', b"[]"])
def test_verify_removes_entries_that_do_not_parse(tmp_path: Path, content: bytes) -> None:
    store, _ = make_store(tmp_path)
    record = save(store, tmp_path, "a", {"a.o": b"a"})
    entry(store, record).write_bytes(content)
    report = verify(store)
    assert not entry(store, record).exists()
    assert len(report.damaged) == 1
    assert report.damaged[0].startswith("entry ")


def test_verify_removes_entries_under_the_wrong_name(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    record = save(store, tmp_path, "a", {"a.o": b"a"})
    wrong_variant = entry(store, record).with_name("1" * 64 + ".json")
    entry(store, record).rename(wrong_variant)
    other = save(store, tmp_path, "b", {"b.o": b"b"})
    wrong_key = store.entry_dir(key("c")) / entry(store, other).name
    wrong_key.parent.mkdir(parents=True)
    entry(store, other).rename(wrong_key)
    report = verify(store)
    assert not wrong_variant.exists()
    assert not wrong_key.exists()
    assert len(report.damaged) == 2


def test_verify_removes_unreadable_stamps_only(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    good = write_stamp(store, "good")
    bad = stamp_path(store.root, key("bad"))
    bad.write_bytes(b"\x00garbage")
    report = verify(store)
    assert good.exists()
    assert not bad.exists()
    assert report.damaged == [f"stamp {bad.name}: unreadable"]


def test_verify_leaves_writes_in_progress_alone(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    save(store, tmp_path, "a", {"a.o": b"a"})
    inflight = store.blob_path(sha(b"a")).parent / ".tmp-12345"
    inflight.write_bytes(b"partial")
    assert verify(store).damaged == []
    assert inflight.exists()


# clear ---------------------------------------------------------------------------------------------


def test_clear_removes_results_blobs_and_stamps_and_says_what_there_was(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    save(store, tmp_path, "a", {"a.o": b"a" * 10})
    save(store, tmp_path, "b", {"b.o": b"b" * 10})
    write_stamp(store, "build")
    before = clear(store)
    assert (before.entries, before.blobs, before.stamps) == (2, 2, 1)
    after = stats(store)
    assert (after.entries, after.blobs, after.stamps, after.total_bytes) == (0, 0, 0, 0)
    assert not store.blobs_dir.exists()
    assert not store.actions_dir.exists()
    assert not store.stamps_dir.exists()


def test_store_works_again_after_clear(tmp_path: Path) -> None:
    store, warnings = make_store(tmp_path)
    clear(store)  # of nothing
    record = save(store, tmp_path, "a", {"a.o": b"a"})
    assert store.lookup(record.key, lambda _: True) == record
    assert warnings == []


# fetched crate sets ------------------------------------------------------------------------------


def _crate_set(root: Path, key: str, age_seconds: float) -> Path:
    deps = DependencyStore(root)
    with deps.staging() as staged:
        (staged / "vendor" / "a-1.0.0").mkdir(parents=True)
        (staged / "vendor" / "a-1.0.0" / "lib.rs").write_text("x" * 100)
        entry = deps.commit(staged, key, {"vendored-sources": {"directory": "."}})
    used = time.time() - age_seconds
    os.utime(entry, (used, used))
    return entry


def test_crate_sets_are_counted_pruned_when_unused_and_cleared(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    old = _crate_set(store.root, "old", DEPENDENCY_UNUSED_SECONDS + 60)
    recent = _crate_set(store.root, "recent", 60)
    found = stats(store)
    assert (found.dependency_sets, found.dependency_bytes) == (2, 2 * 100 + 2 * len(
        (recent / "sources.json").read_bytes()))
    report = prune(store, 10**9)
    assert report.dependency_sets_removed == 1
    assert not old.exists()
    assert recent.exists()
    before = clear(store)
    assert before.dependency_sets == 1
    assert DependencyStore(store.root).entries() == []
