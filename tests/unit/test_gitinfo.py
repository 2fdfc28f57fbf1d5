"""HEAD's commit read from the .git files, checked against ``git rev-parse HEAD`` in real
repositories: loose and packed refs, detached HEAD, linked worktrees, unborn branches; UNKNOWN for
anything it cannot read simply."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.git_support import git
from wasmforge.gitinfo import UNKNOWN, head_commit


def repository(root: Path, *, branch: str = "main", commits: int = 1) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", branch)
    for index in range(commits):
        (root / "file").write_text(str(index))
        git(root, "add", "file")
        git(root, "commit", "-qm", f"commit {index}")
    return root


def rev_parse(root: Path) -> str:
    return git(root, "rev-parse", "HEAD")


def test_outside_any_repository_is_none(tmp_path: Path) -> None:
    assert head_commit(tmp_path) is None
    (tmp_path / "sub").mkdir()
    assert head_commit(tmp_path / "sub") is None


def test_loose_branch_ref(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    assert (root / ".git" / "refs" / "heads" / "main").is_file()
    assert head_commit(root) == rev_parse(root)


def test_from_a_subdirectory_of_the_checkout(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    (root / "a" / "b").mkdir(parents=True)
    assert head_commit(root / "a" / "b") == rev_parse(root)


def test_relative_start_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = repository(tmp_path / "r")
    monkeypatch.chdir(root)
    assert head_commit(Path()) == rev_parse(root)


def test_new_commit_is_noticed(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    first = head_commit(root)
    git(root, "commit", "-q", "--allow-empty", "-m", "next")
    assert head_commit(root) == rev_parse(root) != first


def test_packed_refs(tmp_path: Path) -> None:
    root = repository(tmp_path / "r", commits=2)
    git(root, "tag", "-a", "-m", "annotated", "v1", "HEAD~1")  # a peeled "^" line in packed-refs
    git(root, "pack-refs", "--all")
    assert not (root / ".git" / "refs" / "heads" / "main").exists()
    assert "^" in (root / ".git" / "packed-refs").read_text()
    assert head_commit(root) == rev_parse(root)


def test_loose_ref_wins_over_a_stale_packed_one(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    git(root, "pack-refs", "--all")
    git(root, "commit", "-q", "--allow-empty", "-m", "after packing")
    assert (root / ".git" / "refs" / "heads" / "main").is_file()
    assert head_commit(root) == rev_parse(root)


def test_branch_name_with_slashes(tmp_path: Path) -> None:
    root = repository(tmp_path / "r", branch="feature/deep/name")
    assert head_commit(root) == rev_parse(root)
    git(root, "pack-refs", "--all")
    assert head_commit(root) == rev_parse(root)


def test_detached_head(tmp_path: Path) -> None:
    root = repository(tmp_path / "r", commits=2)
    git(root, "checkout", "-q", "--detach", "HEAD~1")
    assert not (root / ".git" / "HEAD").read_text().startswith("ref:")
    assert head_commit(root) == rev_parse(root)


def test_linked_worktree(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    worktree = tmp_path / "wt"
    git(root, "worktree", "add", "-q", "-b", "other", str(worktree))
    git(worktree, "commit", "-q", "--allow-empty", "-m", "on other")
    assert (worktree / ".git").is_file()
    assert head_commit(worktree) == rev_parse(worktree)
    assert head_commit(worktree) != head_commit(root)
    assert head_commit(root) == rev_parse(root)
    git(root, "pack-refs", "--all")  # branches live in the main repository's packed-refs
    assert head_commit(worktree) == rev_parse(worktree)


def test_linked_worktree_with_detached_head(tmp_path: Path) -> None:
    root = repository(tmp_path / "r", commits=2)
    worktree = tmp_path / "wt"
    git(root, "worktree", "add", "-q", "--detach", str(worktree), "HEAD~1")
    assert head_commit(worktree) == rev_parse(worktree) != rev_parse(root)


def test_gitdir_file_with_a_relative_path(tmp_path: Path) -> None:
    """What submodules write: ``gitdir: ../.git/modules/name``."""
    root = repository(tmp_path / "r")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (tmp_path / "r" / ".git").rename(tmp_path / "stored.git")
    (checkout / ".git").write_text("gitdir: ../stored.git\n")
    assert head_commit(checkout) == git(tmp_path / "stored.git", "rev-parse", "HEAD")
    assert root.exists()


def test_sha256_repository(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main", "--object-format=sha256")
    git(root, "commit", "-q", "--allow-empty", "-m", "c")
    commit = rev_parse(root)
    assert len(commit) == 64
    assert head_commit(root) == commit


def test_unborn_branch_reads_as_its_name(tmp_path: Path) -> None:
    root = repository(tmp_path / "r", commits=0)
    assert head_commit(root) == "unborn:refs/heads/main"
    git(root, "commit", "-q", "--allow-empty", "-m", "first")
    assert head_commit(root) == rev_parse(root)


def test_switching_to_a_new_orphan_branch(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    git(root, "checkout", "-q", "--orphan", "fresh")
    assert head_commit(root) == "unborn:refs/heads/fresh"


@pytest.mark.parametrize(
    "head",
    ["garbage\n", "", "0123abc\n", "G" * 40 + "\n", "ref: refs/heads/loop\n"],
)
def test_weird_head_is_unknown(tmp_path: Path, head: str) -> None:
    root = repository(tmp_path / "r")
    (root / ".git" / "HEAD").write_text(head)
    if "loop" in head:
        (root / ".git" / "refs" / "heads" / "loop").write_text("ref: refs/heads/loop\n")
    assert head_commit(root) == UNKNOWN


def test_branch_ref_with_weird_content_is_unknown(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    (root / ".git" / "refs" / "heads" / "main").write_text("not an object id\n")
    assert head_commit(root) == UNKNOWN


def test_undecodable_head_is_unknown(tmp_path: Path) -> None:
    root = repository(tmp_path / "r")
    (root / ".git" / "HEAD").write_bytes(b"\xff\xfe\x00\x01")
    assert head_commit(root) == UNKNOWN


def test_reftable_repository_is_unknown(tmp_path: Path) -> None:
    """A repository with the reftable ref format (git 2.45+, ``git init --ref-format=reftable``)
    keeps only stubs where files-format refs would be: HEAD says ``ref: refs/heads/.invalid`` and
    ``refs/heads`` is a file. gitinfo must say UNKNOWN ("a new ref format, say"), not report an
    unborn ``.invalid`` branch that stays the same across commits."""
    git_dir = tmp_path / "r" / ".git"
    (git_dir / "refs").mkdir(parents=True)
    (git_dir / "objects").mkdir()
    (git_dir / "reftable").mkdir()
    (git_dir / "reftable" / "tables.list").write_text("0x000000000001-0x000000000002-1a2b3c4d.ref\n")
    (git_dir / "HEAD").write_text("ref: refs/heads/.invalid\n")
    (git_dir / "refs" / "heads").write_text("this repository uses the reftable format\n")
    (git_dir / "config").write_text(
        "[core]\n\trepositoryformatversion = 1\n[extensions]\n\trefStorage = reftable\n")
    assert head_commit(tmp_path / "r") == UNKNOWN


def test_the_packages_revision_is_heads_commit_read_without_git(tmp_path: Path) -> None:
    from wasmforge.oci.project import git_revision

    root = repository(tmp_path / "repo", commits=2)
    assert git_revision(root) == rev_parse(root)
    assert git_revision(tmp_path / "elsewhere") is None
    (tmp_path / "elsewhere").mkdir()
    assert git_revision(tmp_path / "elsewhere") is None
    # Without a commit yet (an unborn branch): no revision, as `git rev-parse HEAD` says.
    (tmp_path / "fresh").mkdir()
    git(tmp_path / "fresh", "init", "-q")
    assert git_revision(tmp_path / "fresh") is None
