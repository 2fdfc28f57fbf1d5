"""Shared helpers for the WAT/wasm command tests: the corpus, and running the CLI in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from wasmforge.cli import main

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.wat"))
    assert files, f"no .wat files in {CORPUS}"
    return files


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    """``wasmforge ARGS`` through the real entry point, capturing its exit code and output."""
    capsys.readouterr()  # drop anything printed before
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return CliRun(code if isinstance(code, int) else 1, captured.out, captured.err)
