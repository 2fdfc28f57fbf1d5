"""WAT handlers for the serve tests: small WASI command modules with one behaviour each."""

from __future__ import annotations

from pathlib import Path

_IMPORTS = """
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
"""
_HELPERS = """
  (memory (export "memory") 8)
  ;; fd 1 or 2 <- memory[ptr, ptr + len)
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; C strings one after another -> lines
  (func $nul_to_lf (param $ptr i32) (param $len i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
      (if (i32.eqz (i32.load8_u (local.get $ptr)))
        (then (i32.store8 (local.get $ptr) (i32.const 10))))
      (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
      (br $next))))
  ;; stdin -> stdout, until end of file
  (func $echo_stdin
    (local $n i32)
    (block $eof (loop $more
      (i32.store (i32.const 32) (i32.const 196608))
      (i32.store (i32.const 36) (i32.const 65536))
      (br_if $eof (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))
      (local.set $n (i32.load (i32.const 40)))
      (br_if $eof (i32.eqz (local.get $n)))
      (call $write (i32.const 1) (i32.const 196608) (local.get $n))
      (br $more))))
"""

# A text/plain response whose body is the handler's environment (KEY=VALUE lines), then a line
# "--argv--" and its argv (one per line), then "--stdin--" and the request body; "handled" on
# stderr.
CGI_ENV = f"""(module {_IMPORTS} {_HELPERS}
  (data (i32.const 1024) "content-type: text/plain\\n\\n")
  (data (i32.const 1100) "--argv--\\n")
  (data (i32.const 1120) "--stdin--\\n")
  (data (i32.const 1140) "handled\\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 1024) (i32.const 26))
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $environ_get (i32.const 4096) (i32.const 65536)))
    (call $nul_to_lf (i32.const 65536) (i32.load (i32.const 20)))
    (call $write (i32.const 1) (i32.const 65536) (i32.load (i32.const 20)))
    (call $write (i32.const 1) (i32.const 1100) (i32.const 9))
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 4096) (i32.const 131072)))
    (call $nul_to_lf (i32.const 131072) (i32.load (i32.const 20)))
    (call $write (i32.const 1) (i32.const 131072) (i32.load (i32.const 20)))
    (call $write (i32.const 1) (i32.const 1120) (i32.const 10))
    (call $echo_stdin)
    (call $write (i32.const 2) (i32.const 1140) (i32.const 8))))
"""

# Writes the request body to stdout as it is: the test chooses the handler's whole output.
ECHO = f"""(module {_IMPORTS} {_HELPERS}
  (func (export "_start") (call $echo_stdin)))
"""

TRAP = '(module (func (export "_start") unreachable))'
LOOP = '(module (func (export "_start") (loop $l (br $l))))'
SILENT = '(module (func (export "_start")))'
EXIT_3 = f"""(module {_IMPORTS} {_HELPERS}
  (data (i32.const 1024) "content-type: text/plain\\n\\nbye")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 1024) (i32.const 29))
    (call $proc_exit (i32.const 3))))
"""
EXIT_0 = f"""(module {_IMPORTS} {_HELPERS}
  (data (i32.const 1024) "content-type: text/plain\\n\\nbye")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 1024) (i32.const 29))
    (call $proc_exit (i32.const 0))))
"""
# The guest path of its first preopened directory (fd 3) as the body; an empty body without one.
PREOPEN = f"""(module {_IMPORTS}
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
    (func $prestat_name (param i32 i32 i32) (result i32)))
  {_HELPERS}
  (data (i32.const 1024) "content-type: text/plain\\n\\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 1024) (i32.const 26))
    (if (i32.eqz (call $prestat (i32.const 3) (i32.const 48)))
      (then
        (drop (call $prestat_name (i32.const 3) (i32.const 2048) (i32.load (i32.const 52))))
        (call $write (i32.const 1) (i32.const 2048) (i32.load (i32.const 52)))))))
"""
# Blocks in a host call (WASI's poll_oneoff on a 3-second clock), which epoch interruption cannot
# stop, then answers.
SLEEP_3S = f"""(module {_IMPORTS}
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  {_HELPERS}
  (data (i32.const 1024) "content-type: text/plain\\n\\nawake")
  (func (export "_start")
    ;; one subscription at 4096: userdata 0, tag 0 (clock), clock id 1 (monotonic), 3e9 ns
    (i64.store (i32.const 4096) (i64.const 0))
    (i32.store8 (i32.const 4104) (i32.const 0))
    (i32.store (i32.const 4112) (i32.const 1))
    (i64.store (i32.const 4120) (i64.const 3000000000))
    (i64.store (i32.const 4128) (i64.const 0))
    (i32.store16 (i32.const 4136) (i32.const 0))
    (drop (call $poll (i32.const 4096) (i32.const 8192) (i32.const 1) (i32.const 8256)))
    (call $write (i32.const 1) (i32.const 1024) (i32.const 31))))
"""
# Writes 64 KiB blocks to stdout until a write fails, then returns.
FLOOD = f"""(module {_IMPORTS} {_HELPERS}
  (data (i32.const 1024) "content-type: text/plain\\n\\n")
  (func (export "_start")
    (call $write (i32.const 1) (i32.const 1024) (i32.const 26))
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (i32.const 65536))
    (block $failed (loop $more
      (br_if $failed (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
      (br $more)))))
"""
# Exports no _start: a library, not a command.
REACTOR = '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))'


def write_module(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.wat"
    path.write_text(text, encoding="utf-8")
    return path


def parse_env_body(body: bytes) -> tuple[dict[str, str], list[str], bytes]:
    """The CGI_ENV handler's body as (environment, argv, stdin)."""
    env_part, _, rest = body.partition(b"--argv--\n")
    argv_part, _, stdin = rest.partition(b"--stdin--\n")
    env = dict(line.split("=", 1) for line in env_part.decode().splitlines() if line)
    argv = argv_part.decode().splitlines()
    return env, argv, stdin
