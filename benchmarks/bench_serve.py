"""``wasmforge serve`` under load, measured against the cost of the Wasm it runs.

The C WAGI service ``benchmarks/wagi-hello`` is built (release) in a scratch copy, served by
``wasmforge serve`` in a subprocess, and sent ``--clients`` concurrent clients x ``--requests``
requests each (keep-alive HTTP/1.1 connections): every
answer must be 200 with the expected body. Reported: requests per second and p50/p99 latency.

The floor is measured in the same run, interleaved round by round with the served load (so that a
busy machine slows both alike): the same module instantiated and run in-process in a loop, as the
server does per request (a new wasmtime Store and WASI context with the same argv and CGI
environment, stdout captured, ``_start``), with no HTTP and one thread. The goal: the served rate
is at least half the floor's (``--goal``). PASS/FAIL is printed; the exit code is 0 unless
``--strict``. ``--json`` prints the numbers for machines as well.

Run it as ``python benchmarks/bench_serve.py`` with the project's virtualenv Python; it needs the
wasi-sdk toolchain (a Docker engine with its image, or the host tools), as ``wasmforge build``
does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SERVICE = REPO / "benchmarks" / "wagi-hello"
PATH = "/hello"
QUERY = "name=Ada"
EXPECTED = b"Hello, Ada!\n"
# Every wait on the server has a deadline: start-up (a build of one C file), and each request.
START_TIMEOUT = 300.0
REQUEST_TIMEOUT = 30.0


@dataclass
class Load:
    seconds: float
    latencies: list[float]
    failures: list[str]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def build(directory: Path, wasmforge: str) -> Path:
    """Build the service (release) in ``directory``; its module."""
    done = subprocess.run([wasmforge, "build", "--release", str(directory)],
                          capture_output=True, text=True, check=False, timeout=START_TIMEOUT)
    if done.returncode != 0:
        sys.exit(f"building {directory} failed ({done.returncode}):\n{done.stderr}")
    return directory / "dist" / "release" / "hello.wasm"


def start_server(directory: Path, wasmforge: str, workers: int | None) -> tuple[Any, int]:
    """``wasmforge serve`` on a free port; the process and its port (from its --json line)."""
    argv = [wasmforge, "--json", "-q", "serve", "--release", "--no-build", "-C", str(directory),
            "--port", "0"]
    if workers:
        argv += ["--workers", str(workers)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    document = _read_json(process)
    url = str(document["url"])
    return process, int(url.rsplit(":", 1)[1])


def _read_json(process: Any) -> dict[str, Any]:
    """The first JSON document the server prints (it prints one, once it listens)."""
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        try:
            return dict(json.loads("".join(lines)))
        except ValueError:
            continue
    process.kill()
    sys.exit(f"wasmforge serve did not start:\n{process.stderr.read()}")


def served_load(port: int, clients: int, requests: int) -> Load:
    """``clients`` threads, each sending ``requests`` GETs on one keep-alive HTTP/1.1 connection.

    The client is a few lines over a socket rather than http.client: it runs on the same CPUs as
    the server, and http.client's parsing (email.parser per response) took a third of a core at
    these rates, which the floor never pays."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1, timeout=START_TIMEOUT)
    request = (f"GET {PATH}?{QUERY} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Accept-Encoding: identity\r\n\r\n").encode()

    def client() -> None:
        mine: list[float] = []
        wrong: list[str] = []
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT)
        except OSError as error:
            ready.abort()  # the others stop waiting too
            with lock:
                failures.append(f"connect: {error}")
            return
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffered = b""
            ready.wait()
            for _ in range(requests):
                started = time.perf_counter()
                try:
                    sock.sendall(request)
                    status, body, buffered = _response(sock, buffered)
                except (OSError, ValueError) as error:
                    wrong.append(f"{type(error).__name__}: {error}")
                    break
                mine.append(time.perf_counter() - started)
                if status != 200 or body != EXPECTED:
                    wrong.append(f"{status} {body[:60]!r}")
        with lock:
            latencies.extend(mine)
            failures.extend(wrong)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join(REQUEST_TIMEOUT)
        sys.exit(f"cannot connect to the server: {failures[:1]}")
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return Load(time.perf_counter() - started, latencies, failures)


def _response(sock: socket.socket, buffered: bytes) -> tuple[int, bytes, bytes]:
    """(status, body, what was read past it) of one response with a Content-Length."""
    while b"\r\n\r\n" not in buffered:
        buffered += _received(sock)
    head, _, rest = buffered.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = next(int(line.split(b":", 1)[1]) for line in lines[1:]
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += _received(sock)
    return status, rest[:length], rest[length:]


def _received(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        msg = "the server closed the connection"
        raise ValueError(msg)
    return data


def floor_load(module: Path, count: int, port: int) -> Load:
    """The module instantiated and run ``count`` times in this process, one after another, each
    as the server runs a request (a new Store and WASI context, the same argv and environment)."""
    import wasmtime

    engine_config = wasmtime.Config()
    engine_config.epoch_interruption = True  # as the server's engine: its checks cost too
    engine = wasmtime.Engine(engine_config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    pre = linker.instantiate_pre(wasmtime.Module(engine, module.read_bytes()))
    env = _cgi_environment(port)
    latencies: list[float] = []
    failures: list[str] = []
    started = time.perf_counter()
    for _ in range(count):
        begun = time.perf_counter()
        # The output in a memory file, as the server captures it (wasmforge.serve.executor).
        stdout = os.memfd_create("stdout", os.MFD_CLOEXEC)
        try:
            config = wasmtime.WasiConfig()
            config.argv = [PATH, QUERY]
            config.env = env
            config.stdout_file = f"/proc/self/fd/{stdout}"
            store = wasmtime.Store(engine)
            store.set_wasi(config)
            store.set_epoch_deadline(1_000_000)
            instance = pre.instantiate(store)
            start = instance.exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)
            start(store)
            output = os.pread(stdout, os.fstat(stdout).st_size, 0)
        finally:
            os.close(stdout)
        if not output.endswith(EXPECTED):
            failures.append(repr(output[:60]))
        latencies.append(time.perf_counter() - begun)
    return Load(time.perf_counter() - started, latencies, failures)


def _cgi_environment(port: int) -> list[list[str]]:
    """The environment the server gives a request of the load (the same size and values)."""
    from wasmforge.serve.executor import WagiRequest
    from wasmforge.serve.routes import parse_route
    from wasmforge.serve.wagi import cgi_environment

    request = WagiRequest("GET", PATH, QUERY, headers=(
        ("Host", f"127.0.0.1:{port}"), ("Accept-Encoding", "identity")), server_port=port)
    return [[key, value] for key, value in cgi_environment(request, parse_route("/...")).items()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--requests", type=int, default=500,
                        help="requests per client and round (500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each, interleaved (3)")
    parser.add_argument("--workers", type=int, default=None, help="serve --workers (default)")
    parser.add_argument("--goal", type=float, default=0.5,
                        help="served rate / floor rate to reach (0.5)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    options = parser.parse_args(argv)
    if min(options.clients, options.requests, options.rounds) < 1:
        parser.error("--clients, --requests and --rounds must be at least 1")
    wasmforge = str(Path(sys.executable).parent / "wasmforge")
    if not Path(wasmforge).is_file():
        sys.exit(f"{wasmforge}: not found; install wasmforge into this Python's environment")

    with tempfile.TemporaryDirectory(prefix="wasmforge-bench-serve-") as scratch:
        directory = Path(scratch) / "wagi-hello"
        shutil.copytree(SERVICE, directory)
        module = build(directory, wasmforge)
        server, port = start_server(directory, wasmforge, options.workers)
        try:
            served_load(port, options.clients, 20)  # warm-up: connections, caches
            floor_load(module, 200, port)
            served: list[Load] = []
            floors: list[Load] = []
            total = options.clients * options.requests
            for _ in range(options.rounds):
                served.append(served_load(port, options.clients, options.requests))
                floors.append(floor_load(module, total, port))
        finally:
            server.terminate()
            try:
                server.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()

    served_rate = statistics.median(load.rate for load in served)
    floor_rate = statistics.median(load.rate for load in floors)
    latencies = [latency for load in served for latency in load.latencies]
    everything = Load(sum(load.seconds for load in served), latencies,
                      [f for load in served for f in load.failures])
    failures = everything.failures + [f for load in floors for f in load.failures]
    ratio = served_rate / floor_rate
    passed = ratio >= options.goal and not failures
    print(f"serve benchmark: C WAGI service, {options.clients} clients x {options.requests} "
          f"requests, median of {options.rounds} interleaved rounds ({os.cpu_count()} CPUs)")
    print(f"  wasmforge serve      {served_rate:8.0f} requests/s   p50 "
          f"{everything.percentile(0.50) * 1000:6.2f} ms   p99 "
          f"{everything.percentile(0.99) * 1000:6.2f} ms")
    print(f"  floor (in-process)   {floor_rate:8.0f} runs/s       "
          f"{statistics.median(f for load in floors for f in load.latencies) * 1000:6.2f} ms "
          "each")
    print(f"  ratio                {ratio:8.2f}   (goal >= {options.goal:.2f})")
    print(f"  failed requests      {len(failures):8d}   of {len(latencies) + len(everything.failures)}")
    for failure in failures[:5]:
        print(f"    {failure}")
    print("PASS" if passed else "FAIL")
    if options.json:
        print(json.dumps({
            "clients": options.clients, "requests_per_client": options.requests,
            "rounds": options.rounds, "requests_per_second": served_rate,
            "p50_ms": everything.percentile(0.50) * 1000,
            "p99_ms": everything.percentile(0.99) * 1000,
            "floor_runs_per_second": floor_rate, "ratio": ratio, "goal": options.goal,
            "failures": len(failures), "passed": passed,
        }, indent=2))
    return 1 if options.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
