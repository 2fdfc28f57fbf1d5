"""Start-up cost: ``--version`` skips typer, the CLI imports nothing heavy, the benchmark works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wasmforge import __version__

REPO = Path(__file__).resolve().parent.parent.parent


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False)


def test_version_fast_path_does_not_import_typer() -> None:
    done = python(
        "import sys\n"
        "sys.argv = ['wasmforge', sys.argv[1]]\n"
        "from wasmforge.entry import main\n"
        "try:\n    main()\n"
        "except SystemExit as done:\n"
        "    print(done.code, sorted(m for m in ('typer', 'click', 'rich') if m in sys.modules))\n",
        "-V",
    )
    assert done.stdout.splitlines() == [f"wasmforge {__version__}", "0 []"], done.stderr


def test_version_answer_matches_the_full_cli() -> None:
    fast = subprocess.run([sys.executable, "-m", "wasmforge", "--version"], capture_output=True,
                          text=True, check=False)
    full = subprocess.run([sys.executable, "-m", "wasmforge", "--json", "--version"],
                          capture_output=True, text=True, check=False)
    assert fast.returncode == full.returncode == 0
    assert fast.stdout == full.stdout == f"wasmforge {__version__}\n"


def test_cli_module_imports_nothing_heavy() -> None:
    # Every command module is imported when the CLI starts; the heavy libraries must wait until a
    # command that needs them runs.
    done = python(
        "import sys, wasmforge.cli\n"
        "heavy = ('docker', 'pydantic', 'wasmtime', 'jinja2', 'rich', 'requests')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_benchmark_reports_and_enforces_its_limit() -> None:
    # An impossible limit makes the benchmark fail, which shows that it measures and checks.
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_startup.py"), "--runs", "1",
         "--limit", "0.5", "--json"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "FAIL: wasmforge --version is" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "start-up benchmark: median of 1 interleaved runs"
    report = json.loads("\n".join(lines[lines.index("{"):]))
    assert report["passed"] is False
    assert report["version_ratio"] > 0.5
    assert report["corpus_files"] == len(list((REPO / "tests" / "corpus").glob("*.wat")))
    assert report["wat2wasm_ratio"] > 1
