"""What a runner is given (steps, path layout) and what every runner has in common."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wasmforge.config.resolve import Limits
from wasmforge.optimize.invoke import ToolInvoker

if TYPE_CHECKING:
    from wasmforge.build.action import Action

# Receives each line a tool prints, already prefixed with the target's name.
LineSink = Callable[[str], None]

HOME_DIR = ".home"
TMP_DIR = ".tmp"
# Helper directories of a step's writable dir that are never outputs.
PRIVATE_DIRS = frozenset({HOME_DIR, TMP_DIR})


@dataclass(frozen=True)
class Layout:
    """Where the tools see the project and the writable output dir of each target.

    In a container these are fixed mount points (``/src``, ``/out``); on the host they are the real
    directories. The planner writes every path through a Layout, so one plan fits either runner.
    """

    src: str
    out_base: str  # each target writes below it, in a dir of its own name

    def out(self, target: str) -> str:
        return f"{self.out_base}/{target}"

    def in_src(self, relative: str) -> str:
        return self.src if relative in ("", ".") else f"{self.src}/{relative}"


@dataclass(frozen=True)
class Step:
    """One program run of a target's build."""

    description: str
    argv: tuple[str, ...]
    cwd: str
    env: tuple[tuple[str, str], ...] = ()
    # Helper files the step needs (path relative to the target's writable dir, text), written first.
    files: tuple[tuple[str, str], ...] = ()

    @property
    def program(self) -> str:
        return self.argv[0]

    def as_dict(self) -> dict[str, object]:
        return {"description": self.description, "argv": list(self.argv), "cwd": self.cwd,
                "env": dict(self.env)}


def step_environment(
    layout_out: str, epoch: int, base_env: Mapping[str, str], step_env: Mapping[str, str],
    *, private_home: bool = True, threads: int | None = None,
) -> dict[str, str]:
    """The variables a step gets: the toolchain's own (``base_env``), then a fixed epoch and TMPDIR
    inside the writable dir, the tools' thread limit, then the target's.

    In a container HOME goes to the writable dir too (the project is read-only and the user has no
    home there). On the host it stays: that is where rustup, Cargo and emcc keep their settings.
    """
    env = {**base_env, "SOURCE_DATE_EPOCH": str(epoch), "TMPDIR": f"{layout_out}/{TMP_DIR}",
           **thread_limits(threads)}
    if private_home:
        env["HOME"] = f"{layout_out}/{HOME_DIR}"
    env.update(step_env)
    return env


# The variables by which the toolchains' own parallel tools take a thread count.
_THREAD_VARIABLES = ("BINARYEN_CORES", "EMCC_CORES", "CARGO_BUILD_JOBS")


def thread_limits(threads: int | None) -> dict[str, str]:
    """Tells wasm-opt, emcc and Cargo how many threads each may use (nothing: their default).
    None of them changes its output with it: it is not part of any cache key."""
    return {} if threads is None else {name: str(threads) for name in _THREAD_VARIABLES}


def prepare_scratch(scratch: Path, step: Step) -> None:
    """Create the private dirs and the step's helper files in a target's writable dir."""
    for name in PRIVATE_DIRS:
        (scratch / name).mkdir(parents=True, exist_ok=True)
    for relative, text in step.files:
        path = scratch / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


class LineSplitter:
    """Turns a stream of byte chunks into whole lines (a container's log stream cuts anywhere)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> None:
        if b"\n" not in chunk:  # only the new bytes are looked at: long lines stay linear
            self._pending += chunk
            return
        first, *lines, rest = chunk.split(b"\n")
        self._pending += first
        for line in (bytes(self._pending), *lines):
            self._emit(line.rstrip(b"\r").decode("utf-8", "replace"))
        self._pending = bytearray(rest)

    def close(self) -> None:
        if self._pending:
            self._emit(bytes(self._pending).rstrip(b"\r").decode("utf-8", "replace"))
            self._pending = bytearray()


@dataclass
class Cancellation:
    """Things to stop when the user presses Ctrl-C: running containers or processes, by key."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _live: dict[str, Callable[[], None]] = field(default_factory=dict)
    cancelled: bool = False

    def add(self, key: str, stop: Callable[[], None]) -> None:
        with self._lock:
            self._live[key] = stop

    def discard(self, key: str) -> None:
        with self._lock:
            self._live.pop(key, None)

    def stop_all(self) -> None:
        with self._lock:
            self.cancelled = True
            stops = list(self._live.values())
            self._live.clear()
        for stop in stops:
            stop()


class Runner(ABC):
    """Runs the steps of targets and the optimiser's tools somewhere."""

    name: str

    def __init__(self) -> None:
        self.cancellation = Cancellation()
        # Threads each tool may use: set when actions run side by side, so that N actions on N
        # cores do not each start a thread per core (see thread_limits).
        self.tool_threads: int | None = None
        # What a step may use and how long it may run ([limits]); the build sets it.
        self.limits = Limits()
        # The dependency store, when a step reads fetched crates from it: the build sets it, and
        # steps see it read-only (at dependency_path).
        self.dependency_store: Path | None = None

    @abstractmethod
    def layout(self, scratch_root: Path) -> Layout:
        """How the tools see the project and ``scratch_root/<target>``."""

    @abstractmethod
    def identity(self, action: Action) -> str:
        """What pins the tools ``action`` runs with, for its cache key: the same on every machine
        that has the same tools, and different whenever they differ."""

    @abstractmethod
    def run_step(
        self, step: Step, *, target: str, toolchain: str, scratch: Path, layout: Layout,
        epoch: int, sink: LineSink,
    ) -> None:
        """Run one step to completion; ToolchainError when it fails."""

    @abstractmethod
    def invoker(self, toolchain: str, *, target: str, scratch: Path, epoch: int) -> ToolInvoker:
        """A ToolInvoker for the optimiser (working in dirs below the target's ``scratch`` dir)
        that runs that toolchain's tools."""

    @abstractmethod
    def toolchain_id(self, toolchain: str) -> str | None:
        """What identifies the exact toolchain (an image id), for the build manifest."""

    @abstractmethod
    def fetch_layout(self, workdir: Path) -> Layout:
        """How a fetch sees the project (``src``) and its writable ``workdir`` (``out_base``)."""

    @abstractmethod
    def run_fetch(
        self, step: Step, *, target: str, toolchain: str, workdir: Path, env: Mapping[str, str],
        sink: LineSink,
    ) -> None:
        """Run ``step`` with the network on, the project read-only and ``workdir`` the one
        writable dir; ``env`` on top of the toolchain's own. ToolchainError when it fails."""

    @abstractmethod
    def dependency_path(self, entry: Path) -> str:
        """Where steps see ``entry``, a dir of the dependency store."""

    def close(self, *, wait: bool = True) -> None:  # noqa: B027 - optional hook
        """Release what the runner started (containers) once the build is over; with ``wait``,
        until they are gone."""

    def describe(self) -> str:
        return self.name


def prefixed(target: str, sink: LineSink, rewrite: Callable[[str], str] | None = None) -> Callable[
    [str], None
]:
    """A line callback that prints ``[target] line`` (after ``rewrite``)."""

    def emit(line: str) -> None:
        sink(f"[{target}] {rewrite(line) if rewrite else line}")

    return emit

