"""Digests of project files and trees: hashed once per stat (size, mtime, ctime, inode), trees
without version control or scratch dirs, directories recorded for the stamp."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from wasmforge.cache.digests import FileStat, ProjectDigests, file_digest

FAKE = "sha256:" + "f" * 64


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write(root: Path, relative: str, data: bytes | str = b"x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def rewrite_keeping_size_and_mtime(path: Path, data: bytes) -> None:
    """What a tool that restores timestamps does: only ctime can tell."""
    before = path.stat()
    assert len(data) == before.st_size
    time.sleep(0.02)  # ctime has the kernel's clock tick as its resolution
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size, before.st_mtime_ns, before.st_ino)
    assert after.st_ctime_ns != before.st_ctime_ns


# FileStat, file_digest -----------------------------------------------------------------------------


def test_file_digest_is_sha256_and_size(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 5)  # more than one read chunk
    path = write(tmp_path, "big.bin", data)
    assert file_digest(path) == (sha(data), len(data))
    assert file_digest(write(tmp_path, "empty", b"")) == (sha(b""), 0)


def test_file_stat_round_trips_through_json(tmp_path: Path) -> None:
    path = write(tmp_path, "a.c")
    recorded = FileStat.of(path.stat(), FAKE)
    assert FileStat.from_json(recorded.to_json()) == recorded
    assert FileStat.from_json(FileStat.of(path.stat()).to_json()) == FileStat.of(path.stat())


@pytest.mark.parametrize(
    "value",
    [None, {}, [1, 2, 3, 4], [1, 2, 3, 4, None, 6], ["1", 2, 3, 4, None], [1, 2.5, 3, 4, None],
     [1, 2, 3, 4, 5], "1,2,3,4"],
)
def test_file_stat_from_bad_json_is_none(value: object) -> None:
    assert FileStat.from_json(value) is None


def test_same_file_compares_stat_not_digest(tmp_path: Path) -> None:
    path = write(tmp_path, "a.c")
    assert FileStat.of(path.stat(), FAKE).same_file(FileStat.of(path.stat()))
    stat = FileStat.of(path.stat())
    for changed in (
        FileStat(stat.size + 1, stat.mtime_ns, stat.ctime_ns, stat.inode),
        FileStat(stat.size, stat.mtime_ns + 1, stat.ctime_ns, stat.inode),
        FileStat(stat.size, stat.mtime_ns, stat.ctime_ns + 1, stat.inode),
        FileStat(stat.size, stat.mtime_ns, stat.ctime_ns, stat.inode + 1),
    ):
        assert not stat.same_file(changed)


# file(), matches() ---------------------------------------------------------------------------------


def test_file_digest_of_a_project_file_is_recorded_by_absolute_path(tmp_path: Path) -> None:
    write(tmp_path, "src/a.c", "int a;")
    digests = ProjectDigests(tmp_path)
    assert digests.file("src/a.c") == sha(b"int a;")
    recorded = digests.files[str(tmp_path / "src" / "a.c")]
    assert recorded.digest == sha(b"int a;")
    assert recorded.same_file(FileStat.of((tmp_path / "src" / "a.c").stat()))


def test_unchanged_file_is_not_hashed_again_across_builds(tmp_path: Path) -> None:
    path = write(tmp_path, "a.c", "int a;")
    memo = {str(path): FileStat.of(path.stat(), FAKE)}
    # The memo's digest is believed as long as the stat is the same: proof nothing was hashed.
    assert ProjectDigests(tmp_path, memo).file("a.c") == FAKE


def test_file_is_hashed_within_a_build_only_once(tmp_path: Path) -> None:
    path = write(tmp_path, "a.c", "int a;")
    digests = ProjectDigests(tmp_path)
    first = digests.file("a.c")
    path.write_text("int b;")
    assert digests.file("a.c") == first  # one build sees one version of each file


@pytest.mark.parametrize("change", ["content", "size", "mtime", "inode"])
def test_changed_file_is_hashed_again(tmp_path: Path, change: str) -> None:
    path = write(tmp_path, "a.c", "int a;")
    memo = {str(path): FileStat.of(path.stat(), FAKE)}
    if change == "content":
        path.write_text("int b;")
    elif change == "size":
        path.write_text("int ab;")
    elif change == "mtime":
        os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))
    else:
        write(tmp_path, "new.c", "int a;").replace(path)
    assert ProjectDigests(tmp_path, memo).file("a.c") == sha(path.read_bytes())


def test_file_rewritten_with_its_old_mtime_is_hashed_again(tmp_path: Path) -> None:
    path = write(tmp_path, "a.c", "int a;")
    digests = ProjectDigests(tmp_path)
    digests.file("a.c")
    memo = dict(digests.files)
    rewrite_keeping_size_and_mtime(path, b"int b;")
    assert ProjectDigests(tmp_path, memo).file("a.c") == sha(b"int b;")


def test_memo_without_a_digest_is_not_believed(tmp_path: Path) -> None:
    path = write(tmp_path, "a.c", "int a;")
    memo = {str(path): FileStat.of(path.stat())}
    assert ProjectDigests(tmp_path, memo).file("a.c") == sha(b"int a;")


def test_missing_file_and_directory_raise_oserror(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    digests = ProjectDigests(tmp_path)
    with pytest.raises(FileNotFoundError):
        digests.file("missing.c")
    with pytest.raises(IsADirectoryError):
        digests.file("dir")


def test_matches_is_true_only_when_every_dependency_has_its_digest(tmp_path: Path) -> None:
    write(tmp_path, "a.h", "a")
    write(tmp_path, "inc/b.h", "b")
    (tmp_path / "dir.h").mkdir()
    deps = {"a.h": sha(b"a"), "inc/b.h": sha(b"b")}
    assert ProjectDigests(tmp_path).matches(deps)
    assert ProjectDigests(tmp_path).matches({})
    assert not ProjectDigests(tmp_path).matches({**deps, "inc/b.h": sha(b"old b")})
    assert not ProjectDigests(tmp_path).matches({**deps, "gone.h": sha(b"")})
    assert not ProjectDigests(tmp_path).matches({"dir.h": sha(b"")})


def test_digests_are_safe_to_share_between_threads(tmp_path: Path) -> None:
    for index in range(20):
        write(tmp_path, f"f{index}.c", f"int f{index};")
    digests = ProjectDigests(tmp_path)
    barrier = threading.Barrier(4, timeout=5)
    results: list[dict[str, str]] = []

    def work() -> None:
        barrier.wait()
        results.append({f"f{i}.c": digests.file(f"f{i}.c") for i in range(20)})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(results) == 4
    assert all(r == results[0] for r in results)
    assert len(digests.files) == 20


# tree(), walk() ------------------------------------------------------------------------------------


def crate(root: Path) -> None:
    write(root, "crate/Cargo.toml", '[package]\nname = "c"\n')
    write(root, "crate/src/lib.rs", "pub fn f() {}\n")
    write(root, "crate/src/bin/main.rs", "fn main() {}\n")


def test_tree_digest_is_the_same_for_the_same_files_anywhere(tmp_path: Path) -> None:
    crate(tmp_path / "one")
    crate(tmp_path / "elsewhere" / "two")
    first = ProjectDigests(tmp_path / "one").tree("crate")
    assert first.startswith("sha256:")
    assert first == ProjectDigests(tmp_path / "elsewhere" / "two").tree("crate")


@pytest.mark.parametrize(
    "change",
    ["edit", "add", "remove", "rename", "chmod", "add empty file"],
)
def test_tree_digest_changes_with_its_files(tmp_path: Path, change: str) -> None:
    crate(tmp_path)
    before = ProjectDigests(tmp_path).tree("crate")
    lib = tmp_path / "crate" / "src" / "lib.rs"
    if change == "edit":
        lib.write_text("pub fn g() {}\n")
    elif change == "add":
        write(tmp_path, "crate/src/extra.rs", "")
    elif change == "remove":
        lib.unlink()
    elif change == "rename":
        lib.rename(lib.with_name("lib2.rs"))
    elif change == "chmod":
        lib.chmod(0o755)
    else:
        write(tmp_path, "crate/README", b"")
    assert ProjectDigests(tmp_path).tree("crate") != before


def test_tree_leaves_out_version_control_and_scratch_dirs(tmp_path: Path) -> None:
    crate(tmp_path)
    before = ProjectDigests(tmp_path).tree("crate")
    write(tmp_path, "crate/.git/HEAD", "ref: refs/heads/main\n")
    write(tmp_path, "crate/.hg/store", "x")
    write(tmp_path, "crate/.svn/entries", "x")
    write(tmp_path, "crate/src/.git", "gitdir: ../.git/modules/x\n")  # a submodule's .git file
    write(tmp_path, "crate/.wasmforge-build-1234/obj.o", "x")
    write(tmp_path, "crate/src/.wasmforge-build-tmp", "x")
    digests = ProjectDigests(tmp_path)
    assert digests.tree("crate") == before
    assert not any(".git" in path or ".wasmforge-build-" in path for path in digests.files)
    assert not any(".git" in path or ".wasmforge-build-" in path for path in digests.dirs)


def test_tree_leaves_out_excluded_paths(tmp_path: Path) -> None:
    crate(tmp_path)
    before = ProjectDigests(tmp_path).tree("crate", excludes=["crate/target", "crate/out.log"])
    write(tmp_path, "crate/target/debug/big.rlib", "x")
    write(tmp_path, "crate/out.log", "x")
    digests = ProjectDigests(tmp_path)
    assert digests.tree("crate", excludes=["crate/target", "crate/out.log"]) == before
    assert str(tmp_path / "crate" / "target") not in digests.dirs
    assert str(tmp_path / "crate" / "out.log") not in digests.files
    # Not excluded: they count.
    assert ProjectDigests(tmp_path).tree("crate") != before


def test_excluded_paths_only_match_from_the_project_root(tmp_path: Path) -> None:
    crate(tmp_path)
    before = ProjectDigests(tmp_path).tree("crate", excludes=["target"])
    write(tmp_path, "crate/target/x", "x")  # crate/target is not the project's target/
    assert ProjectDigests(tmp_path).tree("crate", excludes=["target"]) != before


def test_whole_project_tree_can_exclude_its_output_dir(tmp_path: Path) -> None:
    crate(tmp_path)
    before = ProjectDigests(tmp_path).tree(".", excludes=["dist"])
    write(tmp_path, "dist/app.wasm", "x")
    assert ProjectDigests(tmp_path).tree(".", excludes=["dist"]) == before


def test_links_count_by_their_target_and_are_not_followed(tmp_path: Path) -> None:
    crate(tmp_path)
    write(tmp_path, "shared/one.rs", "1")
    write(tmp_path, "shared/two.rs", "2")
    link = tmp_path / "crate" / "src" / "shared"
    link.symlink_to("../../shared/one.rs")
    (tmp_path / "crate" / "vendor").symlink_to("../shared", target_is_directory=True)
    digests = ProjectDigests(tmp_path)
    before = digests.tree("crate")
    walked = digests.walk("crate")
    assert (link, "link") in walked
    assert (tmp_path / "crate" / "vendor", "link") in walked
    assert not any("shared" in path for path in digests.files)  # nothing behind a link hashed
    (tmp_path / "shared" / "one.rs").write_text("changed")  # the target's content: not the tree's
    assert ProjectDigests(tmp_path).tree("crate") == before
    link.unlink()
    link.symlink_to("../../shared/two.rs")
    assert ProjectDigests(tmp_path).tree("crate") != before


def test_walk_lists_files_sorted_and_records_directories(tmp_path: Path) -> None:
    crate(tmp_path)
    (tmp_path / "crate" / "empty").mkdir()
    digests = ProjectDigests(tmp_path)
    walked = digests.walk("crate")
    assert walked == sorted(walked)
    assert [p.relative_to(tmp_path).as_posix() for p, _ in walked] == [
        "crate/Cargo.toml", "crate/src/bin/main.rs", "crate/src/lib.rs"]
    assert {kind for _, kind in walked} == {"file"}
    assert set(digests.dirs) == {str(tmp_path / d) for d in
                                 ("crate", "crate/src", "crate/src/bin", "crate/empty")}
    for directory, recorded in digests.dirs.items():
        assert recorded.same_file(FileStat.of(Path(directory).stat()))


def test_tree_records_each_files_digest_for_the_stamp(tmp_path: Path) -> None:
    crate(tmp_path)
    digests = ProjectDigests(tmp_path)
    digests.tree("crate")
    assert digests.files[str(tmp_path / "crate" / "src" / "lib.rs")].digest == \
        sha(b"pub fn f() {}\n")
    assert len(digests.files) == 3
