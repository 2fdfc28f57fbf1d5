"""Start-up cost of the wasmforge command line, measured against what it wraps.

Two pairs, each timed in one run with the two sides interleaved (so that a busy machine slows both
alike), reporting medians:

* ``wasmforge --version`` against ``python -c pass``: the floor is the interpreter itself. Fails
  (exit 1) when the ratio is above the limit (3x by default), the promise made in the README.
* ``wasmforge wat2wasm`` against the bare ``wat2wasm`` binary, on every file of the test corpus:
  what the Python layer costs on top of WABT. Reported, not enforced.

Run it as ``python benchmarks/bench_startup.py`` with the project's virtualenv Python; ``--json``
prints the numbers for machines as well.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from wasmforge.tools import wabt_tool

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"


def wall_time(argv: Sequence[str]) -> float:
    """Seconds one run of ``argv`` takes; its output is discarded, a failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmark command failed ({done.returncode}): {' '.join(argv)}\n"
                 f"{done.stderr.decode(errors='replace')}")
    return elapsed


def interleaved(runs: int, first: list[list[str]], second: list[list[str]]) -> tuple[float, float]:
    """Median seconds of running every command of ``first``, and of ``second``, alternating."""
    times_first: list[float] = []
    times_second: list[float] = []
    for _ in range(runs):
        times_first.append(sum(wall_time(argv) for argv in first))
        times_second.append(sum(wall_time(argv) for argv in second))
    return statistics.median(times_first), statistics.median(times_second)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument("--limit", type=float, default=3.0,
                        help="largest accepted --version / python ratio (default 3.0)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    options = parser.parse_args(argv)
    if options.runs < 1:
        parser.error("--runs must be at least 1")

    python = sys.executable
    wasmforge = str(Path(python).parent / "wasmforge")
    if not Path(wasmforge).is_file():
        sys.exit(f"{wasmforge}: not found; install wasmforge into this Python's environment")
    sources = sorted(CORPUS.glob("*.wat"))
    if not sources:
        sys.exit(f"{CORPUS}: no .wat files")
    wat2wasm = str(wabt_tool("wat2wasm"))

    # One warm-up run of each, so that the first timed run does not pay for cold caches alone.
    for warm in ([wasmforge, "--version"], [python, "-c", "pass"]):
        wall_time(warm)

    version, bare_python = interleaved(
        options.runs, [[wasmforge, "--version"]], [[python, "-c", "pass"]]
    )
    with tempfile.TemporaryDirectory(prefix="wasmforge-bench-") as scratch:
        out = Path(scratch)
        ours = [[wasmforge, "wat2wasm", str(s), "-o", str(out / f"{s.stem}.a.wasm")] for s in sources]
        theirs = [[wat2wasm, str(s), "-o", str(out / f"{s.stem}.b.wasm")] for s in sources]
        for warm in (ours[0], theirs[0]):
            wall_time(warm)
        forge_compile, bare_compile = interleaved(options.runs, ours, theirs)

    version_ratio = version / bare_python
    compile_ratio = forge_compile / bare_compile
    per_file = len(sources)
    print(f"start-up benchmark: median of {options.runs} interleaved runs")
    print(f"  wasmforge --version   {version * 1000:8.1f} ms")
    print(f"  python -c pass        {bare_python * 1000:8.1f} ms")
    print(f"  ratio                 {version_ratio:8.2f}x  (limit {options.limit:.1f}x)")
    print(f"  wasmforge wat2wasm    {forge_compile / per_file * 1000:8.1f} ms per file "
          f"({per_file} corpus files)")
    print(f"  wat2wasm (WABT)       {bare_compile / per_file * 1000:8.1f} ms per file")
    print(f"  ratio                 {compile_ratio:8.2f}x")
    passed = version_ratio <= options.limit
    if options.json:
        print(json.dumps({
            "runs": options.runs,
            "version_seconds": version, "python_seconds": bare_python,
            "version_ratio": version_ratio, "version_limit": options.limit,
            "wat2wasm_seconds_per_file": forge_compile / per_file,
            "bare_wat2wasm_seconds_per_file": bare_compile / per_file,
            "wat2wasm_ratio": compile_ratio, "corpus_files": per_file, "passed": passed,
        }, indent=2))
    if not passed:
        print(f"FAIL: wasmforge --version is {version_ratio:.2f}x python -c pass "
              f"(limit {options.limit:.1f}x)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
