"""Size before/after optimisation: debug build vs release build of every sample.

    python benchmarks/bench_sizes.py [--build] [--runner auto|docker|local] [--json]

For each ``samples/*/wasmforge.toml`` it reads ``dist/debug`` and ``dist/release`` (the build
manifests ``wasmforge-build.json`` name each target's main module) and prints one row per target:
sample, target, debug size, release size, ratio. ``--build`` runs ``wasmforge build --debug`` and
``--release`` first. With no samples built, it measures the optimiser on the test corpus (WAT
assembled with names, then the release profile) and on C/Rust hello worlds when clang or rustc with
a wasm32-wasi target is on this machine, so that the table is never empty.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
CORPUS = REPO / "tests" / "corpus"
PROFILES = ("debug", "release")


@dataclass(frozen=True)
class Row:
    sample: str
    target: str
    debug: int
    release: int

    @property
    def ratio(self) -> float:
        return self.release / self.debug if self.debug else 1.0

    def as_dict(self) -> dict[str, object]:
        return {"sample": self.sample, "target": self.target, "debug": self.debug,
                "release": self.release, "ratio": round(self.ratio, 4)}


def main_modules(dist: Path) -> dict[str, Path]:
    """Target name -> its main .wasm, from the build manifest in ``dist``."""
    from wasmforge.build.manifest import BuildManifest

    manifest = BuildManifest.read(dist.parent, dist.name)
    return {name: entry.main_path(dist) for name, entry in manifest.targets.items()
            if entry.main_path(dist).is_file()}


def build_sample(sample: Path, runner: str) -> None:
    for profile in PROFILES:
        done = subprocess.run(
            [sys.executable, "-m", "wasmforge", "build", f"--{profile}", "--runner", runner],
            cwd=sample, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"{sample.name}: build --{profile} failed: {last}", file=sys.stderr)


def sample_rows(build: bool, runner: str) -> list[Row]:
    rows: list[Row] = []
    for config in sorted(SAMPLES.glob("*/wasmforge.toml")):
        sample = config.parent
        if build:
            build_sample(sample, runner)
        debug = main_modules(sample / "dist" / "debug")
        release = main_modules(sample / "dist" / "release")
        for target in sorted(debug.keys() & release.keys()):
            rows.append(Row(sample.name, target, debug[target].stat().st_size,
                            release[target].stat().st_size))
    return rows


def release_of(debug: Path, out: Path) -> int:
    """Size after the built-in release profile's optimisation (features detected, validated)."""
    from wasmforge.config.model import WasmforgeConfig
    from wasmforge.config.resolve import resolve_profile
    from wasmforge.optimize.pipeline import host_invoker, optimize_module

    config = WasmforgeConfig.model_validate(
        {"project": {"name": "bench"}, "targets": {"t": {"kind": "wat", "source": "t.wat"}}})
    report = optimize_module(debug, out, resolve_profile(config, "release"),
                             invoke=host_invoker(), label=debug.name)
    return report.after["total"]


def fallback_rows(work: Path) -> list[Row]:
    """Debug-style builds made here, optimised with the release profile."""
    from wasmforge.tools import wabt_tool

    rows: list[Row] = []
    debug_dir, release_dir = work / "debug", work / "release"
    debug_dir.mkdir()
    for source in sorted(CORPUS.glob("*.wat")):
        module = debug_dir / f"{source.stem}.wasm"
        # WABT's default features first: --enable-all also switches on encodings (compact
        # imports) that no engine reads; it is only for corpus files that need a newer proposal.
        for extra in ([], ["--enable-all"]):
            done = subprocess.run([wabt_tool("wat2wasm"), *extra, "--debug-names", source,
                                   "-o", module], capture_output=True, check=False)
            if done.returncode == 0:
                break
        else:
            print(f"{source.name}: wat2wasm failed, skipped", file=sys.stderr)
            continue
        rows.append(Row("corpus", source.stem, module.stat().st_size,
                        release_of(module, release_dir / module.name)))
    rows.extend(_hello_rows(work, debug_dir, release_dir))
    return rows


def _hello_rows(work: Path, debug_dir: Path, release_dir: Path) -> list[Row]:
    rows: list[Row] = []
    clang = shutil.which("clang-16") or shutil.which("clang")
    if clang and Path("/usr/lib/wasm32-wasi/libc.a").is_file():
        source = work / "hello.c"
        source.write_text('#include <stdio.h>\nint main(void) { printf("Hello, %s!\\n", "world");'
                          " return 0; }\n")
        base = [clang, "--target=wasm32-wasi", "--sysroot=/usr", str(source)]
        subprocess.run([*base, "-O0", "-g", "-o", debug_dir / "hello-c.wasm"], check=True)
        subprocess.run([*base, "-Os", "-o", work / "hello-c.wasm"], check=True)
        rows.append(Row("host", "hello-c", (debug_dir / "hello-c.wasm").stat().st_size,
                        release_of(work / "hello-c.wasm", release_dir / "hello-c.wasm")))
    rustc = next((r for r in ("/usr/bin/rustc", shutil.which("rustc")) if r and Path(r).exists()),
                 None)
    if rustc:
        source = work / "hello.rs"
        source.write_text('fn main() { println!("Hello, world!"); }\n')
        base = [rustc, "--target", "wasm32-wasi", str(source)]
        debug = subprocess.run([*base, "-g", "-o", debug_dir / "hello-rust.wasm"],
                               capture_output=True, check=False)
        if debug.returncode == 0:
            subprocess.run([*base, "-C", "opt-level=s", "-o", work / "hello-rust.wasm"],
                           check=True)
            rows.append(Row("host", "hello-rust",
                            (debug_dir / "hello-rust.wasm").stat().st_size,
                            release_of(work / "hello-rust.wasm", release_dir / "hello-rust.wasm")))
    return rows


def print_table(rows: list[Row]) -> None:
    headers = ("sample", "target", "debug", "release", "ratio")
    cells = [(r.sample, r.target, str(r.debug), str(r.release), f"{r.ratio:.3f}") for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    for line in (headers, *cells):
        print("  ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--build", action="store_true", help="build every sample (debug, release)")
    parser.add_argument("--runner", default="auto", choices=("auto", "docker", "local"))
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = sample_rows(args.build, args.runner)
    source = "samples"
    if not rows:
        source = "corpus and host compilers (no samples built; run with --build)"
        with tempfile.TemporaryDirectory(prefix="wasmforge-bench-") as work:
            rows = fallback_rows(Path(work))
    if args.json:
        print(json.dumps({"source": source, "rows": [r.as_dict() for r in rows]}, indent=2))
    else:
        print(f"# sizes in bytes; source: {source}")
        print_table(rows)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
