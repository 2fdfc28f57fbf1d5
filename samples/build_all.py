"""The main job: build every sample with the release profile and package it as OCI.

    python samples/build_all.py [--runner auto|docker|local] [--profile NAME]

Each sample is built by the real CLI (``python -m wasmforge build --json``), exactly as a user or a
CI step would run it; targets with a ``package`` table are packaged into
``samples/<name>/dist/<profile>/oci/<target>/``. Exits non-zero if any sample fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent


def build(sample: Path, profile: str, runner: str) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "wasmforge", "build", str(sample), "--profile", profile,
               "--runner", runner, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    try:
        report = json.loads(done.stdout) if done.stdout.strip() else {}
    except json.JSONDecodeError:
        report = {}
    return done.returncode, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", default="auto", choices=["auto", "docker", "local"])
    parser.add_argument("--profile", default="release")
    args = parser.parse_args()

    rows: list[tuple[str, str, str, str]] = []
    failed: list[str] = []
    for sample in sorted(p.parent for p in SAMPLES.glob("*/wasmforge.toml")):
        started = time.monotonic()
        print(f"== {sample.name}", file=sys.stderr, flush=True)
        code, report = build(sample, args.profile, args.runner)
        if code != 0:
            failed.append(f"{sample.name} (exit {code})")
            continue
        packages = {p["name"]: p for p in report.get("packages", [])}
        for target in report.get("targets", []):
            size = sum(f["size"] for f in target["files"] if f["path"].endswith(".wasm"))
            package = packages.get(target["name"])
            digests = ", ".join(
                f"{f['format']} {f['digest'][:19]}" for f in package["formats"]
            ) if package else "-"
            rows.append((sample.name, target["name"], f"{size} B", digests))
        print(f"   done in {time.monotonic() - started:.1f}s", file=sys.stderr)

    widths = [max(len(r[i]) for r in [("sample", "target", "wasm", "packaged"), *rows])
              for i in range(4)]
    for row in [("sample", "target", "wasm", "packaged"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
