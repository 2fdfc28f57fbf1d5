"""``wasmforge run --runtime wasmedge``: WasmEdge 0.14.1 in its pinned image (debian-13 set) runs
every WASI command sample as wasmtime does (same stdout, same exit code, the sample's expected
output), passes args, env, stdin and ``--dir`` preopens, streams the output, maps proc_exit, traps
and ``--timeout`` to wasmforge's exit codes, keeps the network off, stops on Ctrl-C and SIGTERM,
and refuses what it cannot run (components, reactors, JS glue) before the engine is asked anything.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.build_support import (
    SAMPLE_RUNS,
    copy_sample,
    docker_engine_answers,
    expected_output,
    run_wasi_command,
    wasmforge,
)
from tests.needs import need
from tests.oci_samples import HELLO_OUTPUT, assemble

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

RUNTIMES = ("wasmtime", "wasmedge")
PROFILES = ("debug", "release")
# The WASI command samples (run_wasi_command is how the build tests run them).
COMMAND_SAMPLES = [name for name, (_, how) in SAMPLE_RUNS.items() if how is run_wasi_command]
# ``wat(TEXT, NAME)``: a module assembled from WebAssembly text.
Wat = Callable[[str, str], Path]

# A C program that shows what it was given: argv, its whole environment (sorted), stdin when asked;
# or writes and reads files (for --dir); or exits with a code.
PROBE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int by_text(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "write") == 0) {
    FILE *file = fopen(argv[2], "w");
    if (!file) { perror(argv[2]); return 3; }
    fputs(argv[3], file);
    return fclose(file) == 0 ? 0 : 5;
  }
  if (argc >= 3 && strcmp(argv[1], "read") == 0) {
    FILE *file = fopen(argv[2], "r");
    if (!file) { perror(argv[2]); return 4; }
    int c;
    while ((c = fgetc(file)) != EOF) putchar(c);
    fclose(file);
    return 0;
  }
  for (int i = 0; i < argc; i++) printf("arg %d: [%s]\n", i, argv[i]);
  int count = 0;
  while (environ[count]) count++;
  qsort(environ, count, sizeof *environ, by_text);
  for (int i = 0; i < count; i++) printf("env: [%s]\n", environ[i]);
  if (argc >= 2 && strcmp(argv[1], "stdin") == 0) {
    char buffer[4096];
    size_t got, total = 0;
    while ((got = fread(buffer, 1, sizeof buffer, stdin)) > 0) {
      fwrite(buffer, 1, got, stdout);
      total += got;
    }
    printf("stdin: %zu bytes\n", total);
  }
  fprintf(stderr, "probe: done\n");
  return argc >= 3 && strcmp(argv[1], "exit") == 0 ? atoi(argv[2]) : 0;
}
"""

EXIT_7 = """(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 7))))
"""
EXIT_200 = EXIT_7.replace("(i32.const 7)", "(i32.const 200)")
# Writes "partial" (no newline) to stdout, then traps.
TRAP = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "partial")
  (func $fail_here unreachable)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 7))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $fail_here)))
"""
LOOP = '(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))'
# Says "tick" on stdout, then loops forever.
TICK_THEN_LOOP = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "tick\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $l (br $l))))
"""
REACTOR = """(module (memory (export "memory") 1) (func (export "_initialize"))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
"""
UNKNOWN_IMPORT = """(module (import "env" "nope" (func $nope)) (memory (export "memory") 1)
  (func (export "_start") (call $nope)))
"""
# WasmEdge's socket extension (sock_open, sock_connect to 127.0.0.1:PORT): exits 0 when connected,
# 10 when no socket could be opened, 11 when the connection failed.
CONNECT = """(module
  (import "wasi_snapshot_preview1" "sock_open"
    (func $sock_open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_connect"
    (func $sock_connect (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\\10\\00\\00\\00\\04\\00\\00\\00")
  (data (i32.const 16) "\\7f\\00\\00\\01")
  (func (export "_start")
    (if (call $sock_open (i32.const 1) (i32.const 2) (i32.const 32))
      (then (call $exit (i32.const 10))))
    (if (call $sock_connect (i32.load (i32.const 32)) (i32.const 0) (i32.const PORT))
      (then (call $exit (i32.const 11))))
    (call $exit (i32.const 0))))
"""


def run(
    *args: str | Path, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``wasmforge ARGS`` with ``stdin`` as its input."""
    return subprocess.run([sys.executable, "-m", "wasmforge", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def both(*args: str | Path, stdin: str = "") -> dict[str, subprocess.CompletedProcess[str]]:
    """``wasmforge run ARGS`` under each runtime."""
    return {runtime: run("run", "--runtime", runtime, *args, stdin=stdin)
            for runtime in RUNTIMES}


def _build(project: Path, *flags: str) -> None:
    done = wasmforge("build", project, "--runner", "docker", *flags)
    assert done.returncode == 0, f"building {project.name} {flags} failed:\n{done.stderr}"


def _target(project: Path) -> str:
    (name,) = tomllib.loads((project / "wasmforge.toml").read_text())["targets"]
    return str(name)


def _containers(owner_pid: int) -> list[str]:
    done = subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label=wasmforge.owner.pid={owner_pid}"],
                          capture_output=True, text=True, check=True)
    return done.stdout.split()


def _gone(owner_pid: int, within: float = 10) -> bool:
    ends = time.monotonic() + within
    while _containers(owner_pid):
        if time.monotonic() > ends:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture(scope="module")
def wasmedge_image() -> str:
    """The wasmedge image (built on first use: it debootstraps a trixie base, a few minutes)."""
    need(docker_engine_answers(), "a Docker engine")
    from wasmforge.console import Console
    from wasmforge.toolchains.images import ensure_image

    return ensure_image("wasmedge", None, Console(env={}), toolchain_set="debian-13").reference


@pytest.fixture(scope="module")
def samples(wasmedge_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every WASI command sample, built in both profiles."""
    del wasmedge_image
    work = tmp_path_factory.mktemp("samples")
    built = {}
    for name in COMMAND_SAMPLES:
        project = copy_sample(name, work)
        _build(project)
        _build(project, "--release")
        built[name] = project
    return built


@pytest.fixture(scope="module")
def probe(wasmedge_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PROBE_C built as a WASI command (release): the module's path."""
    del wasmedge_image
    project = tmp_path_factory.mktemp("probe")
    (project / "probe.c").write_text(PROBE_C)
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "probe"\n\n[targets.probe]\nkind = "wasi-sdk"\n'
        'sources = ["probe.c"]\n')
    _build(project, "--release")
    return project / "dist" / "release" / "probe.wasm"


@pytest.fixture
def wat(wasmedge_image: str, tmp_path: Path) -> Wat:
    """``wat(TEXT, NAME)``: the module assembled in the test's directory (the wasmedge image is
    there to run it)."""
    del wasmedge_image
    return lambda text, name: assemble(text, tmp_path, name)


def test_help_names_the_runtimes() -> None:
    done = run("run", "--help")
    assert done.returncode == 0, done.stderr
    assert "--runtime" in done.stdout
    assert "wasmedge" in done.stdout
    bad = run("run", "--runtime", "wasmer", "x.wasm")
    assert bad.returncode == 2
    assert "unknown runtime 'wasmer'" in bad.stderr


@pytest.mark.parametrize("step", [1, 2, 5, 33, 10_000])
def test_wasmedge_log_lines_move_from_stdout_to_stderr_however_the_output_comes(
    step: int,
) -> None:
    """(No engine needed.) The module's stdout as it wrote it, wasmedge's log lines on stderr,
    whatever the chunks: also right after an unfinished line, and text that only looks alike."""
    from wasmforge.wasmedge import _Output

    log = (b"[2026-11-29 22:08:24.794] [error] instantiation failed: unknown import, Code: 0x302\n"
           b"[2026-11-29 22:08:24.794] [error]     When linking module: \"env\" , function name: "
           b"\"nope\"\n")
    stdout = b"[ok] [2026] brackets\n[2026-11-29 22:08] [error] not a log line\nunfinished"
    data = stdout + log + b"[2026-1"
    out: list[bytes] = []
    err: list[bytes] = []
    output = _Output(out.append, err.append)
    output.err(b"the module's own stderr\n")
    for at in range(0, len(data), step):
        output.out(data[at:at + step])
    output.finish()
    assert b"".join(out) == stdout + b"[2026-1"
    assert b"".join(err) == b"the module's own stderr\n" + log
    assert (output.phase, output.reason) == ("instantiation", "unknown import (env.nope)")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("sample", COMMAND_SAMPLES)
def test_samples_print_the_same_under_both_runtimes(
    samples: dict[str, Path], sample: str, profile: str,
) -> None:
    project = samples[sample]
    flags = ["--release"] if profile == "release" else []
    ran = both(_target(project), "-C", project, *flags)
    for runtime, done in ran.items():
        assert done.returncode == 0, f"{runtime}: {done.stderr}"
        assert done.stdout == expected_output(sample), runtime
        assert "[error]" not in done.stderr, runtime
    # The same file, run by its path, too.
    file = project / "dist" / profile / SAMPLE_RUNS[sample][0]
    by_path = run("run", "--runtime", "wasmedge", file)
    assert (by_path.returncode, by_path.stdout) == (0, expected_output(sample))


@pytest.mark.parametrize("what", ["image", "image.tar", "artifact", "artifact.tar"])
def test_images_and_artifacts_run_as_under_wasmtime(
    wasmedge_image: str, packaged: Path, what: str,
) -> None:
    del wasmedge_image
    for runtime, done in both(packaged / what).items():
        assert (done.returncode, done.stdout) == (0, HELLO_OUTPUT), f"{runtime}: {done.stderr}"


def test_args_env_and_stdin_reach_the_module(probe: Path) -> None:
    ran = both(probe, "--env", "GREETING=hello there", "--env", "EMPTY=", "-e", "EQ=a=b",
               "--", "stdin", "two words", "--env", "", stdin="line one\nline two\n")
    wasmtime, wasmedge = ran["wasmtime"], ran["wasmedge"]
    assert wasmedge.returncode == 0, wasmedge.stderr
    assert wasmedge.stdout == wasmtime.stdout
    assert wasmedge.stdout == (
        "arg 0: [probe.wasm]\narg 1: [stdin]\narg 2: [two words]\narg 3: [--env]\narg 4: []\n"
        "env: [EMPTY=]\nenv: [EQ=a=b]\nenv: [GREETING=hello there]\n"
        "line one\nline two\nstdin: 18 bytes\n")
    assert wasmedge.stderr == wasmtime.stderr == "probe: done\n"


def test_stdin_that_is_not_given_is_empty(probe: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wasmforge", "run", "--runtime", "wasmedge",
                           str(probe), "--", "stdin"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("stdin: 0 bytes\n")


def test_a_file_the_module_writes_in_a_dir_appears_on_the_host(probe: Path, tmp_path: Path) -> None:
    for runtime in RUNTIMES:
        shared = tmp_path / runtime
        shared.mkdir()
        done = run("run", "--runtime", runtime, probe, "--dir", f"{shared}:/data", "--",
                   "write", "/data/out.txt", f"written under {runtime}\n")
        assert done.returncode == 0, f"{runtime}: {done.stderr}"
        written = shared / "out.txt"
        assert written.read_text() == f"written under {runtime}\n"
        assert written.stat().st_uid == os.getuid()


def test_the_module_reads_a_file_from_a_dir(probe: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    (shared / "sub" / "in.txt").write_text("from the host\n")
    for guest, path in (("/data", "/data/sub/in.txt"), ("", f"{shared}/sub/in.txt"),
                        ("nested/dir", "nested/dir/sub/in.txt")):
        spec = f"{shared}:{guest}" if guest else str(shared)
        ran = both(probe, "--dir", spec, "--", "read", path)
        for runtime, done in ran.items():
            assert (done.returncode, done.stdout) == (0, "from the host\n"), (runtime, spec,
                                                                              done.stderr)
    # Nothing outside the preopens: not the container's files, nor the module's own directory.
    for path in ("/etc/passwd", "/.wasmforge/module/probe.wasm"):
        done = run("run", "--runtime", "wasmedge", probe, "--", "read", path)
        assert done.returncode == 4, done.stderr
        assert done.stdout == ""


def test_exit_codes_pass_through(probe: Path, wat: Wat) -> None:
    for runtime, done in both(wat(EXIT_7, "exit7")).items():
        assert done.returncode == 7, f"{runtime}: {done.stderr}"
        assert done.stderr == "", runtime
    for runtime, done in both(probe, "--", "exit", "42").items():
        assert done.returncode == 42, f"{runtime}: {done.stderr}"
    # 126 and more are the shell's (not found, killed by a signal): refused by both, exit 1.
    for runtime, done in both(wat(EXIT_200, "exit200")).items():
        assert done.returncode == 1, f"{runtime}: {done.stderr}"
        assert "exit status" in done.stderr, runtime


def test_a_trap_exits_134_with_wasmedges_message_on_stderr(wat: Wat) -> None:
    module = wat(TRAP, "trap")
    ran = both(module)
    wasmtime, wasmedge = ran["wasmtime"], ran["wasmedge"]
    assert wasmtime.returncode == wasmedge.returncode == 134, wasmedge.stderr
    # What the module wrote before it trapped, and nothing of wasmedge's.
    assert wasmedge.stdout == wasmtime.stdout == "partial"
    assert "[error] execution failed: unreachable, Code: 0x40a" in wasmedge.stderr
    assert wasmedge.stderr.endswith(f"error: {module}: trapped (wasmedge): unreachable\n")


def test_an_import_wasmedge_lacks_is_a_user_error(wat: Wat) -> None:
    done = run("run", "--runtime", "wasmedge", wat(UNKNOWN_IMPORT, "needs-env"))
    assert done.returncode == 2, done.stderr
    assert "needs-env.wasm: wasmedge cannot instantiate it: unknown import (env.nope)" in (
        done.stderr)


def test_timeout_stops_the_module_and_its_container(wat: Wat) -> None:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "run", "--runtime", "wasmedge",
         str(wat(LOOP, "loop")), "--timeout", "2"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 124, stderr
    assert "loop.wasm: still running after 2 s: stopped (--timeout)" in stderr
    assert time.monotonic() - started < 60
    assert _gone(process.pid)


@pytest.mark.parametrize(("stop", "code", "said"),
                         [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_output_streams_and_a_signal_stops_the_container(
    wat: Wat, stop: signal.Signals, code: int, said: str,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "run", "--runtime", "wasmedge",
         str(wat(TICK_THEN_LOOP, "tick"))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        # The first line arrives while the module still runs: output is not held until the end.
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no output from the running module"
        assert process.stdout.readline() == b"tick\n"
        assert process.poll() is None
        assert _containers(process.pid), "the module runs in a container"
        stopped = time.monotonic()
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, stderr
    assert f"error: {said}".encode() in stderr
    assert b"Traceback" not in stderr
    assert time.monotonic() - stopped < 5
    assert _gone(process.pid)


def test_the_container_is_hermetic(wat: Wat, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmforge", "run", "--runtime", "wasmedge",
         str(wat(TICK_THEN_LOOP, "tick")), "--dir", f"{shared}:/data", "--timeout", "120"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"tick\n"
        (container,) = _containers(process.pid)
        shown = subprocess.run(["docker", "inspect", container], capture_output=True, text=True,
                               check=True)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    (info,) = json.loads(shown.stdout)
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert info["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    mounts = {m["Source"]: m for m in info["Mounts"]}
    assert mounts[str(shared)]["RW"] is True
    (module_dir,) = [m for m in info["Mounts"] if m["Destination"] == "/.wasmforge/module"]
    assert module_dir["RW"] is False
    assert _gone(process.pid)


def test_the_network_is_off(
    wat: Wat, wasmedge_image: str, tmp_path: Path,
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept() -> None:
        listener.settimeout(60)
        try:
            while True:
                accepted.append(listener.accept()[0])
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    module = wat(CONNECT.replace("PORT", str(port)), "connect")
    try:
        # The module does connect where there is a network (the host's: 127.0.0.1 is its own).
        control = subprocess.run(
            ["docker", "run", "--rm", "--network", "host", "--user",
             f"{os.getuid()}:{os.getgid()}", "-v", f"{tmp_path}:/m:ro", wasmedge_image,
             "wasmedge", "/m/connect.wasm"], capture_output=True, text=True, check=False,
            timeout=120)
        assert control.returncode == 0, control.stdout + control.stderr
        ends = time.monotonic() + 10
        while not accepted and time.monotonic() < ends:
            time.sleep(0.05)
        assert len(accepted) == 1
        done = run("run", "--runtime", "wasmedge", module)
        assert done.returncode == 11, done.stdout + done.stderr
        time.sleep(0.5)
        assert len(accepted) == 1
    finally:
        listener.close()
        thread.join(5)
        for connection in accepted:
            connection.close()


def test_what_wasmedge_cannot_run_is_refused_before_the_engine(
    wat: Wat, tmp_path: Path,
) -> None:
    from wasmforge.tools import wasm_tools

    component_text = tmp_path / "empty-component.wat"
    component_text.write_text("(component)\n")
    component = tmp_path / "empty-component.wasm"
    subprocess.run([str(wasm_tools()), "parse", str(component_text), "-o", str(component)],
                   check=True)
    # No engine answers here: a refusal that asked the engine first would be exit 6.
    nowhere = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    for path in (component, component_text):
        done = run("run", "--runtime", "wasmedge", path, env=nowhere)
        assert done.returncode == 2, done.stderr
        assert f"{path.name}: a component: wasmedge 0.14 runs core modules only" in done.stderr
        assert "use --runtime wasmtime" in done.stderr
    done = run("run", "--runtime", "wasmedge", wat(REACTOR, "reactor"), env=nowhere)
    assert done.returncode == 2, done.stderr
    assert "reactor.wasm: exports no _start function, so it is not a WASI command" in done.stderr
    # A module wasmedge can run goes on to the engine, which is not there.
    done = run("run", "--runtime", "wasmedge", wat(EXIT_7, "exit7"), env=nowhere)
    assert done.returncode == 6, done.stderr


def test_js_glue_targets_are_refused(
    wasmedge_image: str, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    del wasmedge_image
    project = copy_sample("emscripten-node", tmp_path_factory.mktemp("glue"))
    _build(project)
    done = run("run", "--runtime", "wasmedge", "greeter", "-C", project,
               env={"DOCKER_HOST": f"unix://{project}/no-engine.sock"})
    assert done.returncode == 2, done.stderr
    assert "target 'greeter' is Emscripten node output (JS glue), which wasmedge cannot run" in (
        done.stderr)
    assert "use --runtime wasmtime" in done.stderr
