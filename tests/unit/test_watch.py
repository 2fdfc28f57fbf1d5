"""The watch loop: what counts as a change, bursts as one rebuild, and ``build --watch`` end to
end on a WAT project (WABT runs on the host: no engine needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.oci_samples import HELLO_WAT
from wasmforge.build.watch import changed_paths, tree_state, watch


def test_tree_state_leaves_out_outputs_and_tool_dirs(tmp_path: Path) -> None:
    for name in ("src/a.c", "dist/debug/a.wasm", ".git/HEAD", "target/x", "node_modules/m.js",
                 "sub/target/y", "wasmforge.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    state = tree_state(tmp_path, excluded=(tmp_path / "dist",))
    assert sorted(state) == ["src/a.c", "wasmforge.toml"]


def test_changed_paths_sees_edits_additions_and_removals() -> None:
    before = {"a": (1, 1), "b": (1, 1), "c": (1, 1)}
    after = {"a": (1, 1), "b": (2, 1), "d": (1, 1)}
    assert changed_paths(before, after) == ["b", "c", "d"]


def _watch_once(root: Path, *, debounce: float) -> tuple[threading.Thread, list[list[str]]]:
    """A watcher on its own thread that stops after its first call; the calls it made."""
    calls: list[list[str]] = []
    stop = threading.Event()

    def record(paths: list[str]) -> None:
        calls.append(paths)
        stop.set()

    thread = threading.Thread(target=watch, args=(root, record),
                              kwargs={"stop": stop, "interval": 0.05, "debounce": debounce})
    thread.start()
    return thread, calls


def test_a_burst_of_changes_is_one_rebuild(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text("0")
    thread, calls = _watch_once(tmp_path, debounce=0.4)
    time.sleep(0.2)
    for n in range(5):  # five writes 0.1 s apart: within one debounce period of each other
        (tmp_path / f"f{n}.c").write_text(str(n))
        time.sleep(0.1)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert calls == [["f0.c", "f1.c", "f2.c", "f3.c", "f4.c"]]


def _wait_for(log: Path, text: str, count: int = 1, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = log.read_text("utf-8", "replace")
        if seen.count(text) >= count:
            return seen
        time.sleep(0.05)
    msg = f"no {count} x {text!r} within {timeout} s:\n{log.read_text()}"
    raise AssertionError(msg)


def test_build_watch_rebuilds_keeps_going_after_an_error_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "p"\n[targets.hello]\nkind = "wat"\nsource = "hello.wat"\n')
    source = project / "hello.wat"
    source.write_text(HELLO_WAT)
    module = project / "dist" / "debug" / "hello.wasm"
    log = tmp_path / "log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "wasmforge", "build", "--watch"], cwd=project,
            stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    try:
        _wait_for(log, "watching for changes")
        first = module.read_bytes()
        source.write_text(HELLO_WAT.replace("hello", "howdy"))
        _wait_for(log, "watching for changes", count=2)
        second = module.read_bytes()
        assert second != first
        source.write_text("(module (func $broken (result i32)))\n")
        seen = _wait_for(log, "watching for changes", count=3)
        assert "hello.wat:1:" in seen  # the tool's own error, then the watch goes on
        assert module.read_bytes() == second  # the last good module stays
        source.write_text(HELLO_WAT)
        _wait_for(log, "watching for changes", count=4)
        assert module.read_bytes() == first  # back to the first: answered by the cache
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 130
    finally:
        if process.poll() is None:
            process.kill()


def test_a_file_written_all_the_time_does_not_hold_the_build_back(tmp_path: Path) -> None:
    thread, calls = _watch_once(tmp_path, debounce=0.3)
    started = time.monotonic()
    n = 0
    while thread.is_alive() and time.monotonic() - started < 10:
        (tmp_path / "app.log").write_text(str(n))  # every 0.1 s: never still for 0.3 s
        n += 1
        time.sleep(0.1)
    thread.join(timeout=5)
    assert calls == [["app.log"]]
    assert time.monotonic() - started < 5  # the longest burst (2 s) ended the wait
