"""``wasmforge run`` can always be stopped: a guest in an endless loop or blocked reading stdin ends
with 130 on Ctrl-C and 143 on SIGTERM within seconds, and ``--timeout`` stops it with 124."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LOOP = '(module (func (export "_start") (loop $l (br $l))))'
READS_STDIN = """(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 64))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""


def _start(module: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "wasmforge", "run", str(module)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # well into the guest: started, compiled, looping or reading
    assert process.poll() is None
    return process


@pytest.mark.parametrize("guest", [LOOP, READS_STDIN], ids=["endless-loop", "blocked-on-stdin"])
@pytest.mark.parametrize(("stop", "code", "said"),
                         [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_running_module_stops_on_a_signal(
    tmp_path: Path, guest: str, stop: signal.Signals, code: int, said: str
) -> None:
    module = tmp_path / "guest.wat"
    module.write_text(guest)
    process = _start(module)
    stopped = time.monotonic()
    process.send_signal(stop)
    try:
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, stderr
    assert f"error: {said}" in stderr
    assert "Traceback" not in stderr
    assert time.monotonic() - stopped < 5


def test_timeout_stops_an_endless_module(tmp_path: Path) -> None:
    module = tmp_path / "loop.wat"
    module.write_text(LOOP)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "wasmforge", "run", str(module), "--timeout",
                           "0.5"], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 124, done.stderr
    assert "still running after 0.5 s: stopped (--timeout)" in done.stderr
    assert time.monotonic() - started < 10
