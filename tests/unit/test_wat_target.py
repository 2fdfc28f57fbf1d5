"""``kind = "wat"`` targets: features are checked and passed to WABT as it spells them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge.errors import ExitCode

SHARED_MEMORY = "(module (memory 1 1 shared))\n"


def build(tmp_path: Path, features: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "a.wat").write_text(SHARED_MEMORY)
    (tmp_path / "wasmforge.toml").write_text(
        f'[project]\nname = "x"\n[targets.a]\nkind = "wat"\nsource = "a.wat"\nfeatures = {features}\n'
    )
    return subprocess.run(
        [sys.executable, "-m", "wasmforge", "build", str(tmp_path), "--runner", "local"],
        capture_output=True, text=True, check=False,
    )


@pytest.mark.parametrize("features", ['["threads"]', '["threads", "simd", "bulk_memory"]'])
def test_features_reach_wabt(tmp_path: Path, features: str) -> None:
    done = build(tmp_path, features)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dist" / "debug" / "a.wasm").is_file()


def test_a_needed_feature_missing_fails_the_target(tmp_path: Path) -> None:
    done = build(tmp_path, "[]")
    assert done.returncode == ExitCode.TOOLCHAIN_FAILED


def test_unknown_feature_is_a_config_error_with_a_suggestion(tmp_path: Path) -> None:
    done = build(tmp_path, '["thread"]')
    assert done.returncode == ExitCode.CONFIG_ERROR
    assert "targets.a.features: unknown WebAssembly feature 'thread'" in done.stderr
    assert "did you mean 'threads'?" in done.stderr
