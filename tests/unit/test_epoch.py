from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wasmforge.epoch import FALLBACK_EPOCH, LATEST_EPOCH, source_date_epoch
from wasmforge.errors import ConfigError


def test_environment_wins(tmp_path: Path) -> None:
    assert source_date_epoch(tmp_path, {"SOURCE_DATE_EPOCH": " 1700000000 "}) == 1700000000


def test_last_commit_time_when_unset(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,
                       env={"GIT_COMMITTER_DATE": "1600000000 +0000",
                            "GIT_AUTHOR_DATE": "1600000000 +0000", "HOME": str(tmp_path),
                            "PATH": "/usr/bin:/bin"})

    git("init", "-q")
    (tmp_path / "f").write_text("x")
    git("add", "f")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    assert source_date_epoch(tmp_path, {}) == 1600000000


def test_fallback_outside_git(tmp_path: Path) -> None:
    assert source_date_epoch(tmp_path, {}) == FALLBACK_EPOCH


@pytest.mark.parametrize("raw", ["yesterday", "-1", str(LATEST_EPOCH + 1), "1e9"])
def test_bad_values_are_config_errors(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch(tmp_path, {"SOURCE_DATE_EPOCH": raw})
