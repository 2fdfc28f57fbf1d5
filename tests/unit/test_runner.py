"""Runners without Docker: the local runner with real host programs, and the pieces of the docker
runner that need no engine (output lines, the logged command line, runner selection)."""

from __future__ import annotations

import os
import shlex
import stat
import threading
import time
from pathlib import Path

import pytest

from wasmforge.config.model import WasmforgeConfig
from wasmforge.errors import EngineUnavailableError, ToolchainError, ToolNotFoundError
from wasmforge.runner.base import Cancellation, Layout, LineSplitter, Step, step_environment
from wasmforge.runner.docker import DockerRunner, docker_run_line, show_project_paths, user_spec
from wasmforge.runner.local import LocalRunner, find_program, host_quirk_flags
from wasmforge.runner.select import select_runner


def _config(kind: str = "wat") -> WasmforgeConfig:
    target = {"kind": kind, "source": "m.wat"} if kind == "wat" else {"kind": kind}
    return WasmforgeConfig.model_validate({"project": {"name": "p"}, "targets": {"t": target}})


def test_line_splitter_joins_chunks_cut_anywhere() -> None:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    for chunk in (b"fir", b"st\nsec", b"ond\r\nthi", b"rd \xe2\x9c", b"\x93"):
        splitter.feed(chunk)
    splitter.close()
    assert lines == ["first", "second", "third \u2713"]


def test_line_splitter_takes_a_long_line_in_small_chunks_in_linear_time() -> None:
    # 32 MiB without a newline in 1 KiB chunks (a tool printing one huge line): re-scanning the
    # pending bytes on every chunk reads 2**45 bytes, hours; looking only at new bytes, 32 MiB.
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    chunk = b"x" * 1024
    started = time.monotonic()
    for _ in range(32 * 1024):
        splitter.feed(chunk)
    splitter.feed(b"\r\nnext")
    splitter.close()
    assert time.monotonic() - started < 60  # a guard against the quadratic hang, not a target
    assert [len(line) for line in lines] == [32 * 1024 * 1024, 4]


def test_container_paths_become_project_paths() -> None:
    assert show_project_paths("/src/main.c:3:5: error: x") == "main.c:3:5: error: x"
    assert show_project_paths("In file included from /src/a/b.h:1:") == (
        "In file included from a/b.h:1:")
    assert show_project_paths("/usr/src/x.c and /srcx/y") == "/usr/src/x.c and /srcx/y"
    # With the project's directory: host paths, as the local runner's compiler prints them.
    assert show_project_paths("/src/main.c:3:5: x", project="/w/sp ace") == "/w/sp ace/main.c:3:5: x"


def test_docker_run_line_is_copy_pasteable() -> None:
    line = docker_run_line(
        "wasmforge/wasi-sdk:abc", ["clang", "-DNAME=\"a b\"", "/src/m.c"], cwd="/src",
        env={"B": "2", "A": "1 2"}, mounts=[("/my project", "/src", "ro"), ("/tmp/s", "/out", "rw")],
        user="1000:1000")
    words = shlex.split(line)
    assert words[:8] == ["docker", "run", "--rm", "--network", "none", "--user", "1000:1000",
                         "--label"]
    # the box, as the runner makes it (see wasmforge.runner.container)
    for flag in ("--read-only", "--cap-drop", "--security-opt", "--memory", "--pids-limit"):
        assert flag in words
    assert words[words.index("--cap-drop") + 1] == "ALL"
    assert "/my project:/src:ro" in words
    assert words[words.index("-w") + 1] == "/src"
    assert words.index("A=1 2") < words.index("B=2")
    assert words[-4:] == ["wasmforge/wasi-sdk:abc", "clang", '-DNAME="a b"', "/src/m.c"]


def test_containers_run_as_the_invoking_user() -> None:
    assert user_spec() == f"{os.getuid()}:{os.getgid()}"


def test_step_environment_order() -> None:
    env = step_environment("/out", 42, {"HOME": "/tmp", "NODE_PATH": "/n"}, {"NODE_PATH": "/m"})
    assert env == {"HOME": "/out/.home", "TMPDIR": "/out/.tmp", "SOURCE_DATE_EPOCH": "42",
                   "NODE_PATH": "/m"}
    host = step_environment("/s", 1, {"HOME": "/home/me"}, {}, private_home=False)
    assert host["HOME"] == "/home/me"


def test_layouts() -> None:
    docker = DockerRunner(Path("/p"), _config(), client=object())
    # the build's scratch dir is mounted at /out; each target works in /out/<target>
    assert docker.layout(Path("/any")) == Layout(src="/src", out_base="/out")
    assert docker.layout(Path("/any")).out("t") == "/out/t"
    local = LocalRunner(Path("/p")).layout(Path("/s"))
    assert (local.src, local.out("t"), local.in_src("a/b.c")) == ("/p", "/s/t", "/p/a/b.c")


def _run_local(
    tmp_path: Path, argv: tuple[str, ...], env: tuple[tuple[str, str], ...] = ()
) -> list[str]:
    lines: list[str] = []
    runner = LocalRunner(tmp_path)
    scratch = tmp_path / "scratch" / "t"
    step = Step(description="test step", argv=argv, cwd=str(tmp_path), env=env,
                files=(("helper/data.txt", "from the plan\n"),))
    runner.run_step(step, target="t", toolchain="wasi-sdk", scratch=scratch,
                    layout=runner.layout(scratch.parent), epoch=1234, sink=lines.append)
    return lines


def test_local_runner_streams_prefixed_lines_with_the_step_environment(tmp_path: Path) -> None:
    script = ('echo "epoch=$SOURCE_DATE_EPOCH home=$HOME tmp=$TMPDIR extra=$EXTRA"; '
              'cat "$TMPDIR/../helper/data.txt"; echo oops >&2; pwd')
    lines = _run_local(tmp_path, ("sh", "-c", script), env=(("EXTRA", "yes"),))
    scratch = tmp_path / "scratch" / "t"
    assert lines == [  # the host's HOME stays: rustup, Cargo and emcc keep settings there
        f"[t] epoch=1234 home={os.environ['HOME']} tmp={scratch}/.tmp extra=yes",
        "[t] from the plan",
        "[t] oops",
        f"[t] {tmp_path}",
    ]


def test_local_runner_failure_names_target_step_and_status(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match=r"target 't': test step failed \(sh, exit status 3\)"):
        _run_local(tmp_path, ("sh", "-c", "echo compiling; exit 3"))


def test_local_runner_missing_program_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(ToolNotFoundError, match="emcc not found on PATH") as caught:
        find_program("emcc")
    assert caught.value.hint is not None
    assert "apt-get install emscripten" in caught.value.hint
    assert "--runner docker" in caught.value.hint


def test_local_runner_finds_debian_versioned_llvm_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = tmp_path / "clang-16"
    tool.write_text("#!/bin/sh\necho versioned clang \"$@\"\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_program("clang") == str(tool)
    lines = _run_local(tmp_path, ("clang", "--version"))
    assert lines == ["[t] versioned clang --version"]


def test_host_quirk_flags_only_for_wasi_cxx() -> None:
    assert host_quirk_flags("clang", ("--target=wasm32-wasi",)) == []
    assert host_quirk_flags("clang++", ("--target=x86_64-linux-gnu",)) == []


def test_cancellation_stops_a_running_local_step(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path)
    scratch = tmp_path / "s" / "t"
    step = Step(description="sleep", argv=("sh", "-c", "echo started; sleep 30"),
                cwd=str(tmp_path))
    errors: list[BaseException] = []
    started = threading.Event()

    def sink(line: str) -> None:
        if line.endswith("started"):
            started.set()

    def work() -> None:
        try:
            runner.run_step(step, target="t", toolchain="x", scratch=scratch,
                            layout=runner.layout(scratch.parent), epoch=0, sink=sink)
        except ToolchainError as error:
            errors.append(error)

    thread = threading.Thread(target=work)
    begun = time.monotonic()
    thread.start()
    assert started.wait(10)
    runner.cancellation.stop_all()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - begun < 10
    assert errors
    assert "signal" in str(errors[0])


def test_cancellation_runs_every_stop_once() -> None:
    calls: list[str] = []
    cancellation = Cancellation()
    cancellation.add("a", lambda: calls.append("a"))
    cancellation.add("b", lambda: calls.append("b"))
    cancellation.discard("b")
    cancellation.stop_all()
    cancellation.stop_all()
    assert calls == ["a"]
    assert cancellation.cancelled


def test_docker_runner_with_no_engine_says_what_to_do_when_a_step_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    # The engine is asked only when a step has to run: a build the cache answers needs none.
    runner = select_runner("docker", tmp_path, _config(), {"wasi-sdk"})
    with pytest.raises(EngineUnavailableError) as caught:
        runner.toolchain_id("wasi-sdk")
    assert "--runner local" in f"{caught.value.message} {caught.value.hint}"


def test_auto_falls_back_to_host_tools_only_when_they_pass_the_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    outside_ci = {"PATH": os.environ.get("PATH", "")}
    # WAT needs nothing but WABT, which ships with wasmforge.
    assert isinstance(select_runner("auto", tmp_path, _config(), set(), env=outside_ci),
                      LocalRunner)
    # A clang of another version is not the pinned toolchain.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "clang").write_text("#!/bin/sh\necho 'clang version 12.0.0'\n")
    (fake / "clang").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    with pytest.raises(EngineUnavailableError, match=r"do not pass the toolchain checks: .*"
                       r"printed 'clang version 12\.0\.0', expected 'clang version 22"):
        select_runner("auto", tmp_path, _config(), {"wasi-sdk"}, env=outside_ci)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(EngineUnavailableError):
        select_runner("auto", tmp_path, _config(), {"rust"}, env=outside_ci)


def test_auto_never_leaves_the_containers_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/dead.sock")
    with pytest.raises(EngineUnavailableError) as caught:
        select_runner("auto", tmp_path, _config(), set(), env={"CI": "true"})
    assert "CI=true" in caught.value.message
    assert "--runner local" in (caught.value.hint or "")


def test_local_is_local(tmp_path: Path) -> None:
    assert isinstance(select_runner("local", tmp_path, _config(), {"rust"}), LocalRunner)
