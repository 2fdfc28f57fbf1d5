"""``wasmforge run --runtime wasmedge``: a WASI command module run by WasmEdge 0.14 in the pinned
runtime image (the ``wasmedge`` image of the debian-13 toolchain set, the only set that ships it).

What WasmEdge 0.14 cannot run is refused before any image or container is touched (exit 2): a
component (it runs core modules only), a module that exports no ``_start`` (a reactor or a
library: ``wasmedge`` would call it in reactor mode), and Emscripten JS-glue targets. WebAssembly
text is assembled on the host with WABT first (``wasmedge`` reads binaries only).

The module runs in a ``ToolchainContainer``: network off, read-only root, every capability
dropped, the invoking uid:gid. The module is mounted read-only in a directory of its own under the
name the guest gets as ``argv[0]`` (the base name of wasmtime's argv[0]: ``hello.wasm``), each
``--dir HOST[:GUEST]`` read-write at a container path of its own and preopened by ``wasmedge``
as GUEST (``--dir GUEST:PATH``), ``--env`` given as ``wasmedge --env``. wasmforge's stdin is fed
to the module and its stdout and stderr are passed on as they come.

Exit codes as on the wasmtime path: the module's ``proc_exit`` code (0-125); 134 when it traps
(``wasmedge`` itself exits 134 then, after its ``[error] execution failed: REASON`` lines, which are
passed on; wasmforge adds one line naming the module and the trap); 124 after ``--timeout`` and
130/143 on Ctrl-C/SIGTERM, which end the container (and with it ``wasmedge``) at once. A status
of 126 or more that is no trap (``proc_exit`` of such a code; of a code past 255 only the low 8 bits
reach wasmforge) is refused with exit 1, as wasmtime refuses it. A module ``wasmedge`` cannot load, validate or
instantiate (an import it does not provide) is exit 2, naming its reason.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wasmforge.console import get_console
from wasmforge.errors import UserError
from wasmforge.toolchain_sets import ToolchainSetName

if TYPE_CHECKING:
    from wasmforge.runner.container import ToolchainContainer
    from wasmforge.wasirun import WasiProgram

RUNTIMES = ("wasmtime", "wasmedge")
# The runtime image's name and the toolchain set that ships it.
WASMEDGE_IMAGE = "wasmedge"
WASMEDGE_SET: ToolchainSetName = "debian-13"
# Container paths: the module's own directory (read-only), and one per --dir under DIRS.
MODULE_DIR = "/.wasmforge/module"
DIRS = "/.wasmforge/dirs"
# The name of a module whose argv[0] gives no usable base name.
FALLBACK_NAME = "module.wasm"
# wasmedge's phases whose failure means it never ran the module: it cannot run it at all.
_NOT_RUN_PHASES = ("loading", "validation", "instantiation")
# wasmedge's log lines, e.g.
# "[2026-01-01 12:00:00.000] [error] execution failed: unreachable, Code: 0x40a"
_WASMEDGE_ERROR = re.compile(
    rb"^\[[^\]]*\] \[error\] (?P<phase>[\w ]+?) failed: (?P<reason>.*?), Code: 0x[0-9a-fA-F]+\s*$")
# The line after an instantiation error that names the import: When linking module: "env" , ...
_LINKING = re.compile(rb'When linking module: "(?P<module>[^"]*)" , \w+ name: "(?P<name>[^"]*)"')
# The most of one log line kept for matching (the rest of a longer one is passed on all the same).
_LINE_LIMIT = 4096


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        msg = f"--runtime: unknown runtime {runtime!r} (expected {' or '.join(RUNTIMES)})"
        raise UserError(msg)


def refuse_js_glue(target: str, environment: str | None) -> UserError:
    """The error for an Emscripten target whose output is JS glue (``node`` or ``web``)."""
    msg = (f"target {target!r} is Emscripten {environment or 'web'} output (JS glue), which "
           "wasmedge cannot run: it runs WASI command modules only")
    hint = ("use --runtime wasmtime (it runs node output under Node)" if environment == "node"
            else "open it in a browser")
    return UserError(msg, hint=hint)


def run_wasmedge(program: WasiProgram, *, timeout: float | None = None) -> int:
    """Run ``program`` with wasmedge to its end (see the module docstring); its exit code."""
    from wasmforge.engine import docker_client
    from wasmforge.runner.container import Mount, ToolchainContainer
    from wasmforge.runner.docker import user_spec
    from wasmforge.toolchains.images import ensure_image

    wasm = runnable_module(program)  # every refusal comes before the engine is asked anything
    name = module_name(program.argv)
    for host, guest in program.dirs:
        if ":" in guest:  # wasmedge's --dir is GUEST:HOST[:readonly]
            msg = f"--dir {host}:{guest}: wasmedge cannot preopen a guest path with ':' in it"
            raise UserError(msg)
    dirs = [(guest, str(Path(host).resolve()), f"{DIRS}/{index}")
            for index, (host, guest) in enumerate(program.dirs)]
    argv = wasmedge_argv(name, program.argv[1:], program.env,
                         [(guest, path) for guest, _, path in dirs])
    client = docker_client()
    try:
        image = ensure_image(WASMEDGE_IMAGE, None, get_console(), client=client,
                             toolchain_set=WASMEDGE_SET)
        with tempfile.TemporaryDirectory(prefix="wasmforge-wasmedge-") as scratch:
            Path(scratch, name).write_bytes(wasm)
            mounts = [Mount(scratch, MODULE_DIR, read_only=True),
                      *(Mount(host, path, read_only=False) for _, host, path in dirs)]
            box = ToolchainContainer(client, image.reference, mounts=mounts, user=user_spec(),
                                     labels={"wasmforge.runtime": WASMEDGE_IMAGE})
            with box:
                return _supervised(box, argv, dict(image.env), program.origin, timeout)
    finally:
        client.close()


def runnable_module(program: WasiProgram) -> bytes:
    """The binary of a WASI command module wasmedge can run; a UserError (exit 2) otherwise."""
    from wasmforge.wasm.module import MAGIC, parse_module
    from wasmforge.wasm.sniff import is_component_text

    wasm = program.wasm
    if not wasm.startswith(MAGIC):
        if is_component_text(wasm):
            raise _component_error(program.origin)
        wasm = _assemble(wasm, program.origin)
    info = parse_module(wasm, program.origin)
    if info.kind == "component":
        raise _component_error(program.origin)
    if info.exec_model != "command":
        msg = (f"{program.origin}: exports no _start function, so it is not a WASI command (a "
               f"{info.exec_model})")
        raise UserError(msg, hint="reactors and libraries are called by a host, not run")
    return wasm


def module_name(argv: tuple[str, ...]) -> str:
    """The file name the module gets in the container, which the guest sees as its argv[0]."""
    base = posixpath.basename(argv[0].replace("\\", "/")) if argv else ""
    return base if base not in ("", ".", "..") else FALLBACK_NAME


def wasmedge_argv(
    name: str, args: tuple[str, ...], env: tuple[tuple[str, str], ...],
    dirs: list[tuple[str, str]],
) -> list[str]:
    """``wasmedge`` with the preopens (``--dir GUEST:PATH``, PATH in the container), the
    environment, then the module (by its name: the working directory is its own) and its args."""
    argv = ["wasmedge"]
    for guest, path in dirs:
        argv += ["--dir", f"{guest}:{path}"]
    for key, value in env:
        argv += ["--env", f"{key}={value}"]
    return [*argv, "--", name, *args]


def _component_error(origin: str) -> UserError:
    msg = f"{origin}: a component: wasmedge 0.14 runs core modules only"
    return UserError(msg, hint="use --runtime wasmtime")


def _assemble(text: bytes, origin: str) -> bytes:
    from wasmforge.wasm.wabt import text_to_binary

    with tempfile.TemporaryDirectory(prefix="wasmforge-wat-") as scratch:
        source = Path(scratch, "module.wat")
        source.write_bytes(text)
        try:
            return text_to_binary(source)
        except UserError as error:
            message = error.message.replace(str(source), origin)
            raise UserError(message, hint=error.hint) from None


class _Output:
    """The module's stdout and stderr, passed on as they come, with wasmedge's own log lines moved
    from stdout (where wasmedge 0.14 writes them, on the module's stdout) to stderr; the first
    ``[error] PHASE failed: REASON`` among them is kept.

    A log line starts with spdlog's ``[YYYY-MM-DD HH:MM:SS.mmm] [LEVEL] `` and runs to its newline.
    wasmedge logs after the module's last output, which may not end its line: so the prefix is
    looked for anywhere, and output that could still become one is held back until it can tell."""

    def __init__(self, stdout: Callable[[bytes], None], stderr: Callable[[bytes], None]) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self._held = b""
        self._in_log = False
        self._log_line = b""
        self.phase: str | None = None
        self.reason = ""

    def err(self, chunk: bytes) -> None:
        self._stderr(chunk)

    def out(self, chunk: bytes) -> None:
        data = self._held + chunk
        self._held = b""
        passed = bytearray()
        at = 0
        while at < len(data):
            if self._in_log:
                end = data.find(b"\n", at)
                line = data[at:] if end < 0 else data[at:end + 1]
                self._log(line, ended=end >= 0)
                at += len(line)
                continue
            bracket = data.find(b"[", at)
            if bracket < 0:
                passed += data[at:]
                break
            passed += data[at:bracket]
            match = _log_prefix(data[bracket:bracket + _PREFIX_MAX])
            if match is None:  # cannot tell yet: the rest of the prefix is still on its way
                self._held = data[bracket:]
                break
            if match:
                if passed:
                    self._stdout(bytes(passed))
                    passed.clear()
                self._in_log = True
                at = bracket
            else:
                passed += b"["
                at = bracket + 1
        if passed:
            self._stdout(bytes(passed))

    def finish(self) -> None:
        if self._held:
            self._stdout(self._held)
            self._held = b""

    def _log(self, line: bytes, *, ended: bool) -> None:
        self._stderr(line)
        self._log_line = (self._log_line + line)[:_LINE_LIMIT]
        if not ended:
            return
        self._in_log = False
        text = self._log_line.rstrip(b"\r\n")
        self._log_line = b""
        found = _WASMEDGE_ERROR.match(text)
        if found is not None and self.phase is None:
            self.phase = found["phase"].decode("utf-8", "replace")
            self.reason = found["reason"].decode("utf-8", "replace")
        linking = _LINKING.search(text)
        if linking is not None and self.phase == "instantiation" and "(" not in self.reason:
            # The import it does not provide, from the line after the error's.
            module, name = (linking[part].decode("utf-8", "replace") for part in ("module", "name"))
            self.reason += f" ({module}.{name})"


# spdlog's line prefix, with every digit as 0, for each level it names.
_PREFIXES = tuple(f"[0000-00-00 00:00:00.000] [{level}] ".encode()
                  for level in ("trace", "debug", "info", "warning", "error", "critical"))
_PREFIX_MAX = max(map(len, _PREFIXES))
_DIGITS = bytes.maketrans(b"123456789", b"000000000")


def _log_prefix(text: bytes) -> bool | None:
    """Whether ``text`` (from a ``[`` on) starts with a log line's prefix; None when it is too
    short to tell."""
    shape = text.translate(_DIGITS)
    if any(shape.startswith(prefix) for prefix in _PREFIXES):
        return True
    if len(text) < _PREFIX_MAX and any(prefix.startswith(shape) for prefix in _PREFIXES):
        return None
    return False


def _supervised(
    box: ToolchainContainer, argv: list[str], env: dict[str, str], origin: str,
    timeout: float | None,
) -> int:
    """The module on a thread of its own, watched from this one (``wasirun.supervised``): the
    main thread always hears Ctrl-C and SIGTERM, and ``--timeout``; either ends the container."""
    from wasmforge.wasirun import supervised

    output = _Output(lambda chunk: _write(sys.stdout, chunk),
                     lambda chunk: _write(sys.stderr, chunk))

    def guest() -> int:
        status = box.run_attached(argv, cwd=MODULE_DIR, env=env, stdin_fd=_stdin_fd(),
                                  on_stdout=output.out, on_stderr=output.err)
        output.finish()
        return exit_code(status, output.phase, output.reason, origin)

    try:
        return supervised(guest, box.close, origin, timeout, thread_name="wasmforge-wasmedge")
    except _OutputGone:
        raise BrokenPipeError from None  # what reads wasmforge's output has gone (see wasmforge.cli)


def exit_code(status: int, phase: str | None, reason: str, origin: str) -> int:
    """wasmforge's exit code for wasmedge's ``status`` and the first error it reported."""
    from wasmforge.wasirun import TRAP_EXIT_CODE

    console = get_console()
    if phase in _NOT_RUN_PHASES and status != 0:
        what = "instantiate" if phase == "instantiation" else "load"
        msg = f"{origin}: wasmedge cannot {what} it: {reason}"
        raise UserError(msg, hint="wasmedge provides WASI preview1 imports only")
    if phase is not None and status == TRAP_EXIT_CODE:
        console.error(f"{origin}: trapped (wasmedge): {reason}")
        return TRAP_EXIT_CODE
    if 0 <= status <= 125:  # the codes shells leave to programs
        return status
    console.error(f"{origin}: stopped: wasmedge exited with status {status}: an exit status "
                  "outside of [0..126) (or wasmedge was killed)")
    return 1


def _stdin_fd() -> int | None:
    """wasmforge's stdin for the module, unless there is none."""
    try:
        fd = sys.stdin.fileno()
        os.fstat(fd)
    except (AttributeError, OSError, ValueError):
        return None
    return fd


class _OutputGone(Exception):
    """What reads wasmforge's stdout or stderr has gone (``wasmforge run ... | head``). Not an
    OSError, which the container would take for the engine's failure."""


def _write(stream: Any, chunk: bytes) -> None:
    try:
        stream.buffer.write(chunk)
        stream.buffer.flush()
    except BrokenPipeError:
        raise _OutputGone from None
