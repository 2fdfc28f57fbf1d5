"""One hermetic container of a toolchain image, alive for a block of work, running programs in it:
the one wrapper around the engine's containers (build steps, the optimiser, ``toolchains verify``,
the package probe and ``wasmforge run --runtime wasmedge`` all go through it).

Starting a container costs about 0.2 s, an exec about 0.05 s (Docker 20.10 on this project's CI
machines), and the engine handles execs nearly one at a time: so a build starts one container per
toolchain, a few shells in it (one per program running at once), and feeds every step of every
target to those shells.
The box: no network (a dependency fetch alone gets the host's), the invoking uid:gid, the project read-only and one writable directory, a
read-only root file system (a tmpfs at /tmp), every capability dropped, no new privileges, limits
on memory, processes and CPUs (``[limits]``), and a deadline for every program. Labels: ``wasmforge=1``
and the owner (see ``owner``), so that a later build can reap what a killed one left.

Its main process is ``cat`` reading a stdin that stays attached to this process. Closing it (at the
end, on Ctrl-C or SIGTERM), or this process dying outright (``kill -9``), ends ``cat``; the kernel
then ends every program in the container and the engine removes it (auto-remove). No container
outlives the wasmforge that started it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from wasmforge.config.resolve import Limits
from wasmforge.engine import ENGINE_HINT, engine_error_line
from wasmforge.errors import EngineUnavailableError, ToolchainError
from wasmforge.runner.owner import Owner

CONTAINER_LABEL = "wasmforge"
# How long closing waits for the engine to remove the container (after a failure or Ctrl-C: it
# ends by itself anyway, when its stdin closes).
REMOVE_WAIT_SECONDS = 3
# The only writable place besides the mounted one (tools that ignore TMPDIR).
TMPFS = {"/tmp": "rw,nosuid,nodev,size=1g,mode=1777"}
# After its deadline a program gets TERM, and KILL this many seconds later.
KILL_AFTER_SECONDS = 10


class StepTimedOut(ToolchainError):
    """A program ran past its deadline and was stopped."""


@dataclass(frozen=True)
class Mount:
    host: str
    container: str
    read_only: bool

    @property
    def mode(self) -> str:
        return "ro" if self.read_only else "rw"


class ToolchainContainer:
    """``with ToolchainContainer(...) as box: box.run([...], cwd=..., env=..., on_output=...)``."""

    def __init__(
        self, client: Any, image: str, *, mounts: Sequence[Mount] = (), user: str,
        labels: Mapping[str, str] | None = None, name: str | None = None,
        limits: Limits | None = None, network: bool = False,
    ) -> None:
        self._client = client
        self.image = image
        self.mounts = tuple(mounts)
        # Only a dependency fetch has one: the host's (an engine started with --bridge=none has
        # no other way out), and only for the time of the fetch.
        self.network = network
        self.user = user
        self.limits = limits or Limits()
        self._labels = {CONTAINER_LABEL: "1", **Owner.current().labels(), **(labels or {})}
        self._name = name
        self._id: str | None = None
        self._stdin: Any = None
        self._started = False
        self._closed = False
        self._lock = threading.Lock()
        self._shells: list[_Shell] = []  # idle ones, each ready for the next program
        self._busy: set[_Shell | _Exec] = set()  # running a program now
        # Set when the engine stopped answering: nothing is asked of it any more.
        self._engine_lost: str | None = None
        self._watchdog: _Watchdog | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(wait=True)

    def start(self) -> None:
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        api = self._client.api
        try:
            host_config = api.create_host_config(
                network_mode="host" if self.network else "none", auto_remove=True,
                binds={m.host: {"bind": m.container, "mode": m.mode} for m in self.mounts},
                read_only=True, tmpfs=TMPFS, cap_drop=["ALL"],
                security_opt=["no-new-privileges"], **_resource_limits(self.limits),
            )
            created = api.create_container(
                self.image, command=["cat"], entrypoint=[], user=self.user, stdin_open=True,
                working_dir="/", labels=self._labels, name=self._name, host_config=host_config,
            )
            with self._lock:
                self._id = created["Id"]
                stopped = self._closed
            if stopped:  # closed (Ctrl-C) while it was being created
                self._remove(created["Id"])
                raise KeyboardInterrupt
            self._stdin = api.attach_socket(self._id, params={"stdin": 1, "stream": 1})
            _no_deadline(self._stdin)  # it stays open, silent, for the container's life
            api.start(self._id)
            self._started = True
            self._watchdog = _Watchdog(self._engine_gone)
        except (DockerException, RequestException) as error:
            stopped = self._closed
            self.close()
            if stopped:
                raise KeyboardInterrupt from None
            msg = f"cannot start a container of {self.image}: {engine_error_line(error)}"
            raise EngineUnavailableError(msg, hint=ENGINE_HINT) from None

    def run(
        self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
        on_output: Callable[[bytes], None],
    ) -> int:
        """Run one program to its end, passing its output (stdout and stderr, as written) to
        ``on_output``; its exit status (127, as a shell says, when there is no such program).
        A program that runs past ``limits.step_timeout`` is stopped: StepTimedOut. Several
        threads may run programs at once: each gets a shell of its own (see ``_Shell``)."""
        if self._id is None or self._closed:
            raise KeyboardInterrupt  # stopped (Ctrl-C) before this program could start
        shell = None
        reusable = False
        try:
            with self._engine_failures(argv[0]):
                shell = self._idle_shell() or _Shell(self._client.api, self._id, self.user)
                self._add_busy(shell)
                started = time.monotonic()
                status = shell.run(argv, cwd=cwd, env=env, on_output=on_output,
                                   timeout=self.limits.step_timeout)
                reusable = True
                if (status in (124, 137)
                        and time.monotonic() - started >= self.limits.step_timeout):
                    msg = (f"{argv[0]} ran longer than {self.limits.step_timeout} s and was "
                           "stopped (limits.step-timeout)")
                    raise StepTimedOut(msg)
        finally:
            if shell is not None:
                self._remove_busy(shell)
                if not self._keep(shell, reusable):
                    shell.close()  # interrupted mid-program, or the container is going
        if self._closed:
            raise KeyboardInterrupt
        return status

    def run_attached(
        self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], stdin_fd: int | None,
        on_stdout: Callable[[bytes], None], on_stderr: Callable[[bytes], None],
    ) -> int:
        """Run one program as a process of its own (an exec, not a shell's turn) with stdio
        attached, for ``wasmforge run``: what ``stdin_fd`` gives (None: nothing) is fed to its
        stdin up to the end of input, its stdout and stderr go, apart and as they come, to
        ``on_stdout`` and ``on_stderr``; its exit status. It has no deadline of its own: the
        caller stops it by closing the container (which raises KeyboardInterrupt here)."""
        if self._id is None or self._closed:
            raise KeyboardInterrupt
        process = None
        try:
            with self._engine_failures(argv[0]):
                process = _Exec(self._client.api, self._id, self.user, argv, cwd, env,
                                stdin=stdin_fd is not None)
                self._add_busy(process)
                if stdin_fd is not None:
                    threading.Thread(target=process.feed, args=(stdin_fd,),
                                     name="wasmforge-stdin", daemon=True).start()
                process.relay(on_stdout, on_stderr)
                if self._engine_lost is not None or self._closed:  # its output ended: cut off
                    raise _ShellGone
                status = process.exit_status()
        finally:
            if process is not None:
                self._remove_busy(process)
                process.close()
        return status

    @contextlib.contextmanager
    def _engine_failures(self, program: str) -> Iterator[None]:
        """What the engine or a program's connection raises while ``program`` runs, as
        wasmforge's errors: EngineUnavailableError when the watchdog found the engine frozen,
        KeyboardInterrupt when the container was closed under it (Ctrl-C), else ToolchainError
        (the container vanished) or EngineUnavailableError (the engine failed)."""
        from docker.errors import DockerException, NotFound
        from requests.exceptions import RequestException

        try:
            yield
        except (NotFound, _ShellGone):
            self._raise_if_engine_lost(program)
            if self._closed:
                raise KeyboardInterrupt from None
            msg = f"the {self.image} container vanished while running {program}"
            raise ToolchainError(msg) from None
        except (DockerException, RequestException, OSError) as error:
            self._raise_if_engine_lost(program)
            if self._closed:
                raise KeyboardInterrupt from None
            msg = f"the Docker engine failed while running {program}: {engine_error_line(error)}"
            raise EngineUnavailableError(msg, hint=ENGINE_HINT) from None

    def _add_busy(self, connection: _Shell | _Exec) -> None:
        """Count ``connection`` as running a program: close() ends it too, and the watchdog
        watches the engine while any is busy."""
        with self._lock:
            self._busy.add(connection)
            # close() may have come while the connection was being made, and did not see it: its
            # stream might never end, so this program must not start.
            closed = self._closed
        if closed:
            raise KeyboardInterrupt
        if self._watchdog is not None:
            self._watchdog.busy(+1)

    def _remove_busy(self, connection: _Shell | _Exec) -> None:
        with self._lock:
            was_busy = connection in self._busy
            self._busy.discard(connection)
        if was_busy and self._watchdog is not None:
            self._watchdog.busy(-1)

    def _engine_gone(self, why: str) -> None:
        """The watchdog's verdict: end every connection, so that every wait on them ends."""
        with self._lock:
            self._engine_lost = why
            idle, busy = list(self._shells), list(self._busy)
            stdin = self._stdin
        _end_connections(idle, busy, stdin)

    def _raise_if_engine_lost(self, program: str) -> None:
        if self._engine_lost is not None:
            msg = f"the Docker engine stopped answering while {program} ran: {self._engine_lost}"
            raise EngineUnavailableError(msg, hint=ENGINE_HINT)

    def _keep(self, shell: _Shell, reusable: bool) -> bool:
        """Put ``shell`` back for the next program, unless it or the container is done."""
        with self._lock:  # the same lock close() takes the idle shells under
            if reusable and not self._closed:
                self._shells.append(shell)
                return True
            return False

    def _idle_shell(self) -> _Shell | None:
        with self._lock:
            return self._shells.pop() if self._shells else None

    def close(self, *, wait: bool = False) -> None:
        """End the container (see the module docstring); with ``wait``, until it is removed."""
        with self._lock:
            already = self._closed
            self._closed = True
            stdin, self._stdin = self._stdin, None
            container, started = self._id, self._started
            # Busy shells too: their programs die with the container, and their readers must not
            # wait for an engine that may not say so.
            idle, self._shells = self._shells, []
            busy = list(self._busy)
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.stop()
        _end_connections(idle, busy, stdin)
        if container is None or self._engine_lost is not None:
            return  # an engine that stopped answering is not waited on
        if not started and not already:
            self._remove(container)  # never ran, so auto-remove will not happen
        elif wait:
            self._wait_removed(container)

    def _remove(self, container: str) -> None:
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        with contextlib.suppress(DockerException, RequestException):
            self._client.api.remove_container(container, force=True)

    def _wait_removed(self, container: str) -> None:
        from docker.errors import APIError
        from requests.exceptions import RequestException

        try:
            self._client.api.wait(container, timeout=REMOVE_WAIT_SECONDS, condition="removed")
        except APIError:
            self._remove(container)  # the engine answers: gone already, or stuck; make sure
        except RequestException:
            pass  # no answer in time: not worth more waiting, it ends with its stdin


class _ShellGone(Exception):
    """A shell's connection ended before its program did (the container was stopped)."""


class _Shell:
    """One ``sh`` in the container, started with ``docker exec`` and kept, reading programs from
    its stdin one at a time (cibuildwheel's way): an exec costs about 50 ms of the engine's time,
    and the engine handles execs nearly one at a time, so an exec per program would make a build
    of many small targets wait on the engine. Each program runs in a subshell of its own, with its
    working directory and environment, stdin from /dev/null, stderr merged into stdout; then a
    marker no program can guess, and its exit status, end its output."""

    def __init__(self, api: Any, container: str, user: str) -> None:
        from docker.utils.socket import frames_iter

        created = api.exec_create(container, ["sh"], stdin=True, user=user, workdir="/")
        self._connection = api.exec_start(created["Id"], socket=True)
        # A step may be silent for long (a big compile): the watchdog, not a read deadline,
        # tells a quiet program from a frozen engine.
        _no_deadline(self._connection)
        self._frames = frames_iter(self._connection, tty=False)
        self._marker = f"wasmforge-done-{uuid.uuid4().hex}".encode()

    def run(
        self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
        on_output: Callable[[bytes], None], timeout: int,
    ) -> int:
        exports = "".join(f"export {name}={shlex.quote(value)}; "
                          for name, value in env.items())
        deadline = f"timeout --kill-after={KILL_AFTER_SECONDS} {timeout} "
        script = (f"( cd {shlex.quote(cwd)} || exit 2; {exports}exec {deadline}"
                  f"{shlex.join(argv)} ) "
                  f"</dev/null 2>&1; printf '%s %s\\n' {self._marker.decode()} \"$?\"\n")
        raw = getattr(self._connection, "_sock", self._connection)
        raw.sendall(script.encode())
        return self._read_until_done(on_output)

    def _read_until_done(self, on_output: Callable[[bytes], None]) -> int:
        """Pass the program's output on as it comes, up to the marker (which follows its last
        byte directly); the status after it."""
        needle = self._marker + b" "
        pending = bytearray()
        while (chunk := self._next_chunk()) is not None:
            pending += chunk
            found = pending.find(needle)
            if found >= 0:
                end = pending.find(b"\n", found + len(needle))
                if end < 0:
                    continue  # the status is still on its way
                if found:
                    on_output(bytes(pending[:found]))
                return int(pending[found + len(needle):end])
            # Keep back only an end that could be the start of the marker: the rest goes on now,
            # so that a program's output shows while it runs.
            held = next((n for n in range(min(len(needle), len(pending)), 0, -1)
                         if pending.endswith(needle[:n])), 0)
            if len(pending) > held:
                on_output(bytes(pending[:len(pending) - held]))
                del pending[:len(pending) - held]
        raise _ShellGone

    def _next_chunk(self) -> bytes | None:
        """The shell's next output; None at its end, also when the connection was closed under
        it. (The frame reader lives as long as the shell: it is never closed by a reader.)"""
        try:
            _, chunk = next(self._frames)
        except (StopIteration, OSError, ValueError):  # ValueError: the socket object is closed
            return None
        return bytes(chunk)

    def interrupt(self) -> None:
        """End a reader's wait from another thread: the connection is shut, not closed. A closed
        socket has no descriptor for the reader's poll(), which would then wait forever; the
        reader closes the shell itself when it is done with it."""
        raw = getattr(self._connection, "_sock", self._connection)
        with contextlib.suppress(OSError, AttributeError):
            raw.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        _shut(self._connection)


class _Exec:
    """One program in an exec of its own, its stdin, stdout and stderr attached (see
    ``ToolchainContainer.run_attached``)."""

    def __init__(
        self, api: Any, container: str, user: str, argv: Sequence[str], cwd: str,
        env: Mapping[str, str], *, stdin: bool,
    ) -> None:
        self._api = api
        created = api.exec_create(container, list(argv), stdin=stdin, user=user, workdir=cwd,
                                  environment=dict(env))
        self._id = created["Id"]
        self._connection = api.exec_start(self._id, socket=True)
        _no_deadline(self._connection)  # a program may be silent for as long as it likes

    def feed(self, fd: int) -> None:
        """Copy ``fd`` to the program's stdin, then end its input (a thread of its own: it may
        wait on a terminal long after the program is done, and is left behind then)."""
        raw = getattr(self._connection, "_sock", self._connection)
        with contextlib.suppress(OSError, ValueError):  # the program or its container is gone
            while chunk := os.read(fd, 65536):
                raw.sendall(chunk)
            raw.shutdown(socket.SHUT_WR)

    def relay(self, on_stdout: Callable[[bytes], None],
              on_stderr: Callable[[bytes], None]) -> None:
        """Pass the program's output on until its end (or the connection's)."""
        from docker.utils.socket import STDERR, frames_iter

        frames = frames_iter(self._connection, tty=False)
        while True:
            try:
                stream, chunk = next(frames)
            except (StopIteration, OSError, ValueError):  # ValueError: the socket is closed
                return
            (on_stderr if stream == STDERR else on_stdout)(bytes(chunk))

    def exit_status(self) -> int:
        """The program's exit status (the engine may take a moment to mark the exec ended after
        its output ends)."""
        ends = time.monotonic() + REMOVE_WAIT_SECONDS
        while True:
            found = self._api.exec_inspect(self._id)
            if not found.get("Running") and found.get("ExitCode") is not None:
                return int(found["ExitCode"])
            if time.monotonic() > ends:
                raise _ShellGone
            time.sleep(0.02)

    def interrupt(self) -> None:
        raw = getattr(self._connection, "_sock", self._connection)
        with contextlib.suppress(OSError, AttributeError):
            raw.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        _shut(self._connection)


class _Watchdog:
    """Pings the engine while programs run. When it has not answered for the engine's timeout
    (WASMFORGE_ENGINE_TIMEOUT), ``on_lost`` ends the container's connections: a step whose
    engine froze fails (exit 6) in bounded time instead of waiting forever."""

    def __init__(self, on_lost: Callable[[str], None]) -> None:
        from wasmforge.engine import engine_timeout

        self._on_lost = on_lost
        self._timeout = engine_timeout()
        self._running = 0
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="wasmforge-watchdog",
                                        daemon=True)
        self._thread.start()

    def busy(self, change: int) -> None:
        with self._lock:
            self._running += change

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self) -> None:
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        from wasmforge.engine import ping_client

        interval = max(0.5, min(5.0, self._timeout / 4))
        client = ping_client()
        answered = time.monotonic()
        try:
            while not self._stopped.wait(interval):
                with self._lock:
                    running = self._running
                if not running:
                    answered = time.monotonic()  # nothing waits on the engine: nothing to tell
                    continue
                try:
                    client.ping()
                    answered = time.monotonic()
                except (DockerException, RequestException, OSError):
                    silent = time.monotonic() - answered
                    if silent >= self._timeout:
                        self._on_lost(f"no answer for {silent:.0f} s")
                        return
        finally:
            client.close()


def _no_deadline(connection: Any) -> None:
    """Let reads on a long-lived connection to the engine wait as long as it takes."""
    raw = getattr(connection, "_sock", connection)
    with contextlib.suppress(OSError, AttributeError):
        raw.settimeout(None)


def _resource_limits(limits: Limits) -> dict[str, Any]:
    """The engine's names for ``[limits]`` (0 means no limit)."""
    found: dict[str, Any] = {}
    if limits.memory:
        found.update(mem_limit=limits.memory, memswap_limit=limits.memory)  # no swap on top
    if limits.pids:
        found["pids_limit"] = limits.pids
    if limits.cpus:
        found["nano_cpus"] = int(limits.cpus * 1e9)
    return found


def _end_connections(idle: Sequence[_Shell], busy: Sequence[_Shell | _Exec],
                     stdin: Any) -> None:
    """Close the idle shells, interrupt the busy ones (each one's reader closes it) and shut the
    container's stdin: every wait on the engine ends."""
    for shell in idle:
        shell.close()
    for running in busy:
        running.interrupt()
    if stdin is not None:
        _shut(stdin)


def _shut(connection: Any) -> None:
    """Close a raw connection to the engine for good (for the attached stdin, the engine then
    passes the end of input to ``cat``), and the HTTP response that came with it."""
    raw = getattr(connection, "_sock", connection)
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: closed already
        raw.shutdown(socket.SHUT_RDWR)
    for closable in (getattr(connection, "_response", None), connection, raw):
        if closable is not None:
            with contextlib.suppress(OSError, ValueError):  # ValueError: already closed
                closable.close()

