"""The build cache, measured: cold builds, no-op rebuilds, incremental rebuilds and a shared cache.

Three scenarios, each timed with its sides interleaved run by run (so that a busy machine slows
both alike), reporting medians:

* ``hello``: ``samples/c-hello`` (release), wasmforge against what a Docker+Wasm user writes instead
  (``benchmarks/buildkit/Dockerfile``, built by BuildKit with the same toolchain image and flags).
  Cold: wasmforge with a fresh, empty ``WASMFORGE_CACHE_DIR`` and no ``dist/``, BuildKit with
  ``--no-cache``. No-op: both built again with nothing changed. Targets: wasmforge/BuildKit <= 1.0
  for both.
* ``many``: a generated project of 20 independent C targets sharing one header. Cold with
  ``--jobs 1`` against ``--jobs 2`` (target: at least 1.6x faster), then a no-op, a rebuild after
  one ``.c`` file got a new comment, and one after a change to the shared header. For each: how
  many targets ran anything (``from_cache`` null in the ``--json`` report; expected 0, 1 and 20)
  and how many wasmforge containers started (``docker events``; a no-op must start none).
* ``remote``: both projects built once with ``--cache-to`` a local ``docker-registry``, then
  restored in fresh copies elsewhere with an empty local cache and ``--cache-from``, timed against
  cold builds. Every target must come from the ``remote`` cache with the first build's sha256.

Run it as ``python benchmarks/bench_cache.py`` with the project's virtualenv Python (``--quick``
for 3 runs, ``--runs N``); it needs a Docker engine with the wasi-sdk toolchain image
(``wasmforge toolchains build wasi-sdk``), Debian's ``/usr/bin/docker`` (BuildKit) and
``/usr/bin/docker-registry``. It prints PASS/FAIL for each target and exits 0 unless
``--strict``; ``--json`` prints the numbers for machines as well.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "c-hello"
DOCKERFILE = REPO / "benchmarks" / "buildkit" / "Dockerfile"
DOCKER = "/usr/bin/docker"  # Debian's CLI: builds with BuildKit under DOCKER_BUILDKIT=1
REGISTRY_BINARY = "/usr/bin/docker-registry"
CONTAINER_LABEL = "wasmforge=1"
MANY_TARGETS = 20
CACHE_REPOSITORY = "bench/cache"
# Settings a caller may have exported that would change what these builds do.
_SCRUBBED_ENV = ("WASMFORGE_CACHE_DIR", "WASMFORGE_CACHE_FROM", "WASMFORGE_CACHE_TO",
                 "WASMFORGE_CACHE_READ_ONLY", "WASMFORGE_CACHE_MAX_SIZE", "DOCKER_BUILDKIT")


# Running things ------------------------------------------------------------------------------


@dataclass
class Finished:
    seconds: float
    stdout: str
    pid: int
    started_ns: int
    ended_ns: int


def run_timed(argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> Finished:
    """One run of ``argv``: its wall time, stdout and pid; a failure stops the benchmark."""
    started_ns = time.time_ns()
    start = time.perf_counter()
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        out, err = process.communicate()
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"benchmark command failed ({process.returncode}) in {cwd}: {' '.join(argv)}\n"
                 f"{err}{out[-2000:]}")
    return Finished(elapsed, out, process.pid, started_ns, time.time_ns())


class ContainerWatch:
    """Starts of wasmforge's containers, from one ``docker events`` stream for the whole benchmark
    (a query per build would read the engine's ring of recent events, which a cold build of many
    targets, with three exec events a step, overruns). A start counts for a build if it falls in
    its interval and names its process (the ``wasmforge.pid`` label, or the container's name,
    ``wasmforge-<toolchain>-<pid>-<hex>``): other wasmforge builds may share the engine."""

    def __init__(self) -> None:
        self._starts: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [DOCKER, "events", "--since", _docker_time(time.time_ns()),
             "--filter", f"label={CONTAINER_LABEL}", "--filter", "type=container",
             "--filter", "event=start", "--format", "{{.TimeNano}} {{json .Actor.Attributes}}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            stamp, _, attributes = line.partition(" ")
            try:
                labels = json.loads(attributes)
            except ValueError:
                continue
            if not stamp.isdigit() or not isinstance(labels, dict):
                continue
            pid = labels.get("wasmforge.pid")
            if not isinstance(pid, str):
                parts = str(labels.get("name", "")).split("-")
                pid = parts[-2] if len(parts) >= 4 else ""
            with self._lock:
                self._starts.append((int(stamp), pid))

    def settle(self) -> None:
        """Give the stream a moment to deliver what the engine already published."""
        time.sleep(0.3)

    def count(self, run: Finished) -> int:
        """Containers that the process of ``run`` started (after ``settle``)."""
        with self._lock:
            return sum(run.started_ns <= t <= run.ended_ns and pid == str(run.pid)
                       for t, pid in self._starts)

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
        self._reader.join(timeout=5)


def _docker_time(ns: int) -> str:
    """A time as ``docker events --since`` reads it: seconds, then all nine digits of the ns."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


@dataclass
class Build:
    """One ``wasmforge build --json``: how it ran, and its report."""

    run: Finished
    report: dict[str, Any]

    @property
    def seconds(self) -> float:
        return self.run.seconds

    def targets(self) -> list[dict[str, Any]]:
        targets = self.report.get("targets")
        return [t for t in targets if isinstance(t, dict)] if isinstance(targets, list) else []

    def ran(self) -> int:
        """Targets not wholly answered by a cache (``from_cache`` null): something ran for them."""
        return sum(t.get("from_cache") is None for t in self.targets())

    def origins(self) -> set[str]:
        return {str(t.get("from_cache")) for t in self.targets()}

    def module_digests(self) -> dict[str, str]:
        """Target -> sha256 of its main module, read from disk (not taken from the report)."""
        found = {}
        for target in self.targets():
            module = target.get("main_module")
            if isinstance(module, str):
                found[str(target.get("name"))] = hashlib.sha256(Path(module).read_bytes()).hexdigest()
        return found


@dataclass
class Wasmforge:
    python: str
    base_env: dict[str, str]
    watch: ContainerWatch

    def build(self, project: Path, cache: Path, *extra: str) -> Build:
        """``wasmforge build --release --json EXTRA`` in ``project`` with ``cache`` as its store."""
        env = {**self.base_env, "WASMFORGE_CACHE_DIR": str(cache)}
        argv = [self.python, "-m", "wasmforge", "build", "--release", "--json", *extra]
        run = run_timed(argv, cwd=project, env=env)
        try:
            report = json.loads(run.stdout)
        except ValueError:
            sys.exit(f"{project}: wasmforge build --json printed no JSON:\n{run.stdout[:2000]}")
        return Build(run, report if isinstance(report, dict) else {})

    def containers(self, build: Build) -> int:
        return self.watch.count(build.run)


@dataclass
class BuildKit:
    toolchain: str
    base_env: dict[str, str]

    def build(self, context: Path, dest: Path, *, cold: bool) -> float:
        argv = [DOCKER, "build", "--network", "none", "--build-arg", f"TOOLCHAIN={self.toolchain}",
                "--progress", "plain", "-o", f"type=local,dest={dest}", "-f", str(DOCKERFILE),
                *(["--no-cache"] if cold else []), str(context)]
        return run_timed(argv, cwd=context, env={**self.base_env, "DOCKER_BUILDKIT": "1"}).seconds


# Projects ------------------------------------------------------------------------------------


def fresh_dir(path: Path) -> Path:
    """``path`` as an empty directory (a cold cache)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def copy_sample(dest: Path) -> Path:
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("dist", ".wasmforge*"))
    return dest


COMMON_H = """\
/* Shared by every target of the benchmark project. */
#ifndef COMMON_H
#define COMMON_H
#include <stddef.h>
#include <stdint.h>

#define COMMON_REVISION {revision}u
#define TABLE_SIZE 64

static inline uint32_t mix32(uint32_t x) {{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    return x ^ (x >> 16) ^ COMMON_REVISION;
}}

struct matrix {{
    double cells[8][8];
}};

uint32_t crc32_of(const unsigned char *data, size_t size);
#endif
"""

TARGET_C = """\
/* Target {index} of the benchmark project; {note}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static uint32_t table[TABLE_SIZE];
static uint32_t crc_table[256];

static void fill_table(uint32_t seed) {{
    for (size_t i = 0; i < TABLE_SIZE; i++)
        table[i] = mix32(seed * {index}u + (uint32_t)i);
}}

static int compare_u32(const void *a, const void *b) {{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}}

static void init_crc(void) {{
    for (uint32_t n = 0; n < 256; n++) {{
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }}
}}

uint32_t crc32_of(const unsigned char *data, size_t size) {{
    uint32_t c = 0xffffffffU;
    for (size_t i = 0; i < size; i++)
        c = crc_table[(c ^ data[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffU;
}}

static void multiply(const struct matrix *a, const struct matrix *b, struct matrix *out) {{
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {{
            double sum = 0;
            for (int k = 0; k < 8; k++)
                sum += a->cells[i][k] * b->cells[k][j];
            out->cells[i][j] = sum;
        }}
}}

static size_t count_words(const char *text, char *longest, size_t capacity) {{
    size_t words = 0, best = 0;
    const char *p = text;
    while (*p) {{
        while (*p == ' ' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != ',') p++;
        size_t length = (size_t)(p - start);
        if (length == 0) continue;
        words++;
        if (length > best && length < capacity) {{
            best = length;
            memcpy(longest, start, length);
            longest[length] = '\\0';
        }}
    }}
    return words;
}}

static uint64_t fibonacci_mod(unsigned n, uint64_t modulus) {{
    uint64_t a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {{
        uint64_t next = (a + b) % modulus;
        a = b;
        b = next;
    }}
    return a;
}}

int main(void) {{
    char longest[32] = "";
    struct matrix a, b, product;
    fill_table({index}u);
    qsort(table, TABLE_SIZE, sizeof *table, compare_u32);
    init_crc();
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {{
            a.cells[i][j] = (double)(table[i * 8 + j] % 97) / 7.0;
            b.cells[i][j] = (double)((i + 1) * (j + {index})) / 3.0;
        }}
    multiply(&a, &b, &product);
    size_t words = count_words("wasm, forge, builds, target {index}, reproducibly", longest,
                               sizeof longest);
    printf("target {index}: crc %08x, trace %.3f, %zu words (longest %s), fib %llu\\n",
           (unsigned)crc32_of((const unsigned char *)table, sizeof table), product.cells[3][3],
           words, longest, (unsigned long long)fibonacci_mod(90 + {index}, 1000000007u));
    return 0;
}}
"""


def target_name(index: int) -> str:
    return f"t{index:02d}"


def write_header(project: Path, revision: int) -> None:
    (project / "src" / "common.h").write_text(COMMON_H.format(revision=revision))


def write_target(project: Path, index: int, note: str) -> None:
    (project / "src" / f"{target_name(index)}.c").write_text(TARGET_C.format(index=index, note=note))


def generate_many(project: Path) -> Path:
    """A project of MANY_TARGETS independent C targets, each one .c file, one shared header."""
    (project / "src").mkdir(parents=True)
    write_header(project, 0)
    lines = ['[project]\nname = "bench-many"\n']
    for index in range(MANY_TARGETS):
        write_target(project, index, "first revision")
        name = target_name(index)
        lines.append(f'[targets.{name}]\nkind = "wasi-sdk"\nsources = ["src/{name}.c"]\n'
                     'include-dirs = ["src"]\n')
    (project / "wasmforge.toml").write_text("\n".join(lines))
    return project


# Results -------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class Report:
    runs: int
    checks: list[Check] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, passed: bool, detail: str) -> bool:
        self.checks.append(Check(name, passed, detail))
        return passed


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def observed(values: Sequence[int]) -> str:
    """Distinct values seen over the runs: ``0`` or ``0, 1``."""
    return ", ".join(str(v) for v in sorted(set(values)))


# Scenarios -----------------------------------------------------------------------------------


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def bench_hello(work: Path, forge: Wasmforge, kit: BuildKit, report: Report) -> None:
    """wasmforge against BuildKit on samples/c-hello: cold, then no-op."""
    project = copy_sample(work / "hello-wasmforge" / "c-hello")
    context = copy_sample(work / "hello-buildkit" / "c-hello")
    kit_out = work / "hello-buildkit" / "out"
    cache = work / "hello-cache"
    # Warm-up, untimed: Python's bytecode, the engine's image metadata, BuildKit's first solve.
    first = forge.build(project, fresh_dir(cache))
    kit.build(context, kit_out, cold=True)

    cold_forge: list[float] = []
    cold_kit: list[float] = []
    noop_kit: list[float] = []
    noops: list[Build] = []
    for _ in range(report.runs):
        shutil.rmtree(project / "dist", ignore_errors=True)
        first = forge.build(project, fresh_dir(cache))
        cold_forge.append(first.seconds)
        shutil.rmtree(kit_out, ignore_errors=True)
        cold_kit.append(kit.build(context, kit_out, cold=True))
        noops.append(forge.build(project, cache))
        noop_kit.append(kit.build(context, kit_out, cold=False))
    forge.watch.settle()
    noop_forge = [b.seconds for b in noops]
    noop_ran = [b.ran() for b in noops]
    noop_containers = [forge.containers(b) for b in noops]

    cold_ratio = median(cold_forge) / median(cold_kit)
    noop_ratio = median(noop_forge) / median(noop_kit)
    cold_ok = report.check("hello: cold wasmforge/BuildKit <= 1.0", cold_ratio <= 1.0,
                           f"{cold_ratio:.2f}x")
    noop_ok = report.check("hello: no-op wasmforge/BuildKit <= 1.0", noop_ratio <= 1.0,
                           f"{noop_ratio:.2f}x")
    ran_ok = report.check("hello: a no-op rebuilds no target", set(noop_ran) == {0},
                          observed(noop_ran))
    box_ok = report.check("hello: a no-op starts no container", set(noop_containers) == {0},
                          observed(noop_containers))
    forge_size = sum(f.stat().st_size for f in _modules(first))
    kit_size = (kit_out / "hello.wasm").stat().st_size

    print(f"\nc-hello, release: wasmforge vs BuildKit (benchmarks/buildkit/Dockerfile), "
          f"median of {report.runs} runs")
    print(f"  {'':8}{'wasmforge':>12}{'BuildKit':>12}{'ratio':>9}")
    print(f"  {'cold':8}{ms(median(cold_forge))}{ms(median(cold_kit))}{cold_ratio:8.2f}x"
          f"  (target <= 1.00) {verdict(cold_ok)}")
    print(f"  {'no-op':8}{ms(median(noop_forge))}{ms(median(noop_kit))}{noop_ratio:8.2f}x"
          f"  (target <= 1.00) {verdict(noop_ok)}")
    print(f"  no-op: targets rebuilt {observed(noop_ran)} (expect 0) {verdict(ran_ok)}, "
          f"wasmforge containers started {observed(noop_containers)} (expect 0) "
          f"{verdict(box_ok)}")
    print(f"  module: wasmforge {forge_size} bytes, BuildKit {kit_size} bytes "
          "(wasmforge also writes the OCI package c-hello's wasmforge.toml asks for)")
    report.numbers["hello"] = {
        "wasmforge_cold_seconds": median(cold_forge), "buildkit_cold_seconds": median(cold_kit),
        "cold_ratio": cold_ratio, "wasmforge_noop_seconds": median(noop_forge),
        "buildkit_noop_seconds": median(noop_kit), "noop_ratio": noop_ratio,
        "noop_targets_rebuilt": noop_ran, "noop_containers_started": noop_containers,
        "wasmforge_module_bytes": forge_size, "buildkit_module_bytes": kit_size,
        "samples": {"wasmforge_cold": cold_forge, "buildkit_cold": cold_kit,
                    "wasmforge_noop": noop_forge, "buildkit_noop": noop_kit},
    }


def _modules(build: Build) -> list[Path]:
    return [Path(str(t["main_module"])) for t in build.targets() if t.get("main_module")]


# What each step of the many-target scenario should rebuild: (label, targets that run).
MANY_STEPS = (
    ("cold_jobs1", "cold --jobs 1", MANY_TARGETS),
    ("cold_jobs2", "cold --jobs 2", MANY_TARGETS),
    ("noop", "no-op", 0),
    ("touch", "one .c re-commented", 1),
    ("header", "common.h changed", MANY_TARGETS),
)


def bench_many(work: Path, forge: Wasmforge, report: Report) -> None:
    """20 targets: cold with 1 and 2 jobs, then no-op, one file touched, the shared header."""
    project = generate_many(work / "many")
    cache_one, cache_two = work / "many-cache-jobs1", work / "many-cache-jobs2"
    jobs2 = ("--jobs", "2")
    forge.build(project, fresh_dir(cache_two), *jobs2)  # warm-up, untimed

    builds: dict[str, list[Build]] = {key: [] for key, _, _ in MANY_STEPS}
    for run in range(report.runs):
        shutil.rmtree(project / "dist", ignore_errors=True)
        builds["cold_jobs1"].append(forge.build(project, fresh_dir(cache_one), "--jobs", "1"))
        shutil.rmtree(project / "dist", ignore_errors=True)
        builds["cold_jobs2"].append(forge.build(project, fresh_dir(cache_two), *jobs2))
        # The rest continue from the --jobs 2 build: same command line, cache and dist/.
        builds["noop"].append(forge.build(project, cache_two, *jobs2))
        write_target(project, run % MANY_TARGETS, f"comment changed in run {run + 1}")
        builds["touch"].append(forge.build(project, cache_two, *jobs2))
        write_header(project, run + 1)
        builds["header"].append(forge.build(project, cache_two, *jobs2))
    forge.watch.settle()

    speedup = (median([b.seconds for b in builds["cold_jobs1"]])
               / median([b.seconds for b in builds["cold_jobs2"]]))
    print(f"\n{MANY_TARGETS} C targets sharing common.h, release, median of {report.runs} runs")
    print(f"  {'':22}{'time':>12}   {'targets rebuilt':<22}containers started")
    numbers: dict[str, Any] = {"targets": MANY_TARGETS}
    for key, label, expected in MANY_STEPS:
        seconds = [b.seconds for b in builds[key]]
        ran = [b.ran() for b in builds[key]]
        boxes = [forge.containers(b) for b in builds[key]]
        ran_ok = report.check(f"many: {label} rebuilds {expected} targets", set(ran) == {expected},
                              observed(ran))
        rebuilt = f"{observed(ran)} (expect {expected}) {verdict(ran_ok)}"
        started = observed(boxes)
        if key == "noop":
            box_ok = report.check("many: a no-op starts no container", set(boxes) == {0}, started)
            started += f" (expect 0) {verdict(box_ok)}"
        print(f"  {label:22}{ms(median(seconds))}   {rebuilt:<22}{started}")
        numbers[f"{key}_seconds"] = median(seconds)
        numbers[f"{key}_targets_rebuilt"] = ran
        numbers[f"{key}_containers_started"] = boxes
        numbers.setdefault("samples", {})[key] = seconds
    speedup_ok = report.check("many: cold --jobs 2 at least 1.6x --jobs 1", speedup >= 1.6,
                              f"{speedup:.2f}x")
    print(f"  --jobs 2 speedup over --jobs 1: {speedup:.2f}x (target >= 1.60) {verdict(speedup_ok)}")
    numbers["jobs2_speedup"] = speedup
    report.numbers["many"] = numbers


def copy_project(source: Path, dest: Path) -> Path:
    """A fresh checkout of ``source`` elsewhere: its files, none of its outputs."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("dist", ".wasmforge*"))
    return dest


def bench_remote(work: Path, forge: Wasmforge, report: Report) -> None:
    """Results uploaded once to a registry, restored in fresh copies with an empty local cache."""
    seeds = {"c-hello": copy_sample(work / "remote-seed" / "c-hello"),
             "many": generate_many(work / "remote-seed" / "many")}
    print(f"\nshared cache: --cache-to once, then --cache-from in a fresh copy with an empty "
          f"local cache, vs cold; median of {report.runs} runs")
    print(f"  {'':10}{'upload':>12}{'cold':>12}{'restore':>12}{'speedup':>9}   "
          "all remote, same sha256, containers")
    numbers: dict[str, Any] = {}
    with run_registry(work / "registry") as host:
        repository = f"{host}/{CACHE_REPOSITORY}"
        for name, seed in seeds.items():
            upload = forge.build(seed, fresh_dir(work / "remote-cache" / "seed"),
                                 "--cache-to", repository, "--insecure")
            expected = upload.module_digests()
            cold_dir = copy_project(seed, work / "remote-cold" / name)
            colds: list[Build] = []
            restores: list[Build] = []
            digests_equal: list[bool] = []
            for run in range(report.runs):
                shutil.rmtree(cold_dir / "dist", ignore_errors=True)
                colds.append(forge.build(cold_dir, fresh_dir(work / "remote-cache" / "cold")))
                copy = copy_project(seed, work / "remote-restore" / f"{name}-{run}")
                restored = forge.build(copy, fresh_dir(work / "remote-cache" / "restore"),
                                       "--cache-from", repository, "--insecure")
                restores.append(restored)
                digests_equal.append(restored.module_digests() == expected)
                shutil.rmtree(copy)
            forge.watch.settle()
            cold = median([b.seconds for b in colds])
            restore = median([b.seconds for b in restores])
            origins = sorted(set().union(*(b.origins() for b in restores)))
            boxes = [forge.containers(b) for b in restores]
            remote_ok = report.check(f"remote {name}: every target from the remote cache",
                                     origins == ["remote"], ", ".join(origins))
            same_ok = report.check(f"remote {name}: modules equal the uploading build's",
                                   all(digests_equal) and len(expected) == len(restores[0].targets()),
                                   f"{sum(digests_equal)}/{len(digests_equal)} runs")
            box_ok = report.check(f"remote {name}: a restore starts no container",
                                  set(boxes) == {0}, observed(boxes))
            print(f"  {name:10}{ms(upload.seconds)}{ms(cold)}{ms(restore)}{cold / restore:8.2f}x"
                  f"   {verdict(remote_ok)} ({', '.join(origins)}), {verdict(same_ok)}, "
                  f"{observed(boxes)} {verdict(box_ok)}")
            numbers[name] = {
                "targets": len(expected), "upload_seconds": upload.seconds,
                "cold_seconds": cold, "restore_seconds": restore, "speedup": cold / restore,
                "restore_origins": origins, "same_modules": all(digests_equal),
                "restore_containers_started": boxes,
                "samples": {"cold": [b.seconds for b in colds],
                            "restore": [b.seconds for b in restores]},
            }
    print("  (upload: one cold build with --cache-to, its pushes included)")
    report.numbers["remote"] = numbers


@contextmanager
def run_registry(directory: Path) -> Iterator[str]:
    """A ``docker-registry`` on 127.0.0.1 with its storage in ``directory``; yields HOST:PORT."""
    directory.mkdir(parents=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    config = directory / "config.yml"
    config.write_text("version: 0.1\nlog:\n  level: error\n"
                      f"storage:\n  filesystem:\n    rootdirectory: {directory / 'storage'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    log_path = directory / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log,
                                   stderr=log)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                        break
                except (urllib.error.URLError, OSError):
                    if process.poll() is not None or time.monotonic() > deadline:
                        sys.exit(f"docker-registry did not start:\n{log_path.read_text()}")
                    time.sleep(0.1)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# Set-up --------------------------------------------------------------------------------------


def wasi_sdk_image(python: str) -> str:
    """The tag of the built wasi-sdk toolchain image, from ``wasmforge --json toolchains list``."""
    listed = run_timed([python, "-m", "wasmforge", "--json", "toolchains", "list"], cwd=REPO,
                       env=dict(os.environ))
    for toolchain in json.loads(listed.stdout).get("toolchains", []):
        if toolchain.get("name") == "wasi-sdk" and toolchain.get("built"):
            return str(toolchain["tag"])
    sys.exit("the wasi-sdk toolchain image is not built: run `wasmforge toolchains build wasi-sdk`")


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    done = subprocess.run([DOCKER, "version", "--format", "{{.Server.Version}}"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"no Docker engine answers {DOCKER}: {done.stderr.strip()}")
    from wasmforge import __version__

    return {"cpus": os.cpu_count(), "cpu_model": model, "docker_server": done.stdout.strip(),
            "python": platform.python_version(), "wasmforge": __version__,
            "platform": platform.platform(), "load_average_before": os.getloadavg()[0]}


SCENARIOS = ("hello", "many", "remote")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=None, help="runs of each build (default 7)")
    parser.add_argument("--quick", action="store_true", help="3 runs (unless --runs)")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any target is missed")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    options = parser.parse_args(argv)
    runs = options.runs if options.runs is not None else 3 if options.quick else 7
    if runs < 1:
        parser.error("--runs must be at least 1")
    scenarios = [s for s in SCENARIOS if not options.only or s in options.only]
    for needed in (DOCKER, *([REGISTRY_BINARY] if "remote" in scenarios else [])):
        if not Path(needed).is_file():
            sys.exit(f"{needed}: not found")

    python = sys.executable
    host = machine()
    toolchain = wasi_sdk_image(python)
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    report = Report(runs)
    started = time.monotonic()
    print(f"build cache benchmark: {runs} runs per measurement, interleaved")
    print(f"  machine: {host['cpus']} CPUs ({host['cpu_model']}), Docker {host['docker_server']}, "
          f"Python {host['python']}, wasmforge {host['wasmforge']}")
    print(f"  toolchain: {toolchain}; load average {host['load_average_before']:.2f} "
          "(other work on this machine skews the numbers, --jobs 2 most)")
    watch = ContainerWatch()
    try:
        with tempfile.TemporaryDirectory(prefix="wasmforge-bench-cache-") as scratch:
            work = Path(scratch)
            forge = Wasmforge(python, env, watch)
            steps: dict[str, Callable[[], None]] = {
                "hello": lambda: bench_hello(work, forge, BuildKit(toolchain, env), report),
                "many": lambda: bench_many(work, forge, report),
                "remote": lambda: bench_remote(work, forge, report),
            }
            for scenario in scenarios:
                steps[scenario]()
    finally:
        watch.close()

    failed = [c for c in report.checks if not c.passed]
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()[0]
    print(f"\n{len(report.checks) - len(failed)}/{len(report.checks)} targets met "
          f"({elapsed:.0f} s in all; load average now {load_after:.2f})")
    for check in failed:
        print(f"  FAIL {check.name}: {check.detail}")
    if options.json:
        print(json.dumps({"runs": runs, "machine": host, "toolchain": toolchain,
                          **report.numbers, "checks": [c.as_dict() for c in report.checks],
                          "passed": not failed, "seconds": elapsed,
                          "load_average_after": load_after}, indent=2))
    return 1 if failed and options.strict else 0


if __name__ == "__main__":
    sys.exit(main())
