"""One hermetic container of a toolchain image, alive for a block of work, running programs with
``docker exec``: the one wrapper around the engine's containers (build steps, the optimiser,
``toolchains verify`` and the package probe all go through it).

Starting a container costs about 0.2 s, an exec about 0.05 s (Docker 20.10 on this project's CI
machines), so a build starts one container per toolchain and runs every step of every target in it.
The box is what each step got before: no network, the invoking uid:gid, the project read-only,
one writable directory, the ``wasmforge=1`` label.

Its main process is ``cat`` reading a stdin that stays attached to this process. Closing it (at the
end, on Ctrl-C or SIGTERM), or this process dying outright (``kill -9``), ends ``cat``; the kernel
then ends every program in the container and the engine removes it (auto-remove). No container
outlives the wasmforge that started it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from wasmforge.errors import EngineUnavailableError, ToolchainError

CONTAINER_LABEL = "wasmforge"
ENGINE_HINT = "check that dockerd is running ('docker info'), or use --runner local"
# How long closing waits for the engine to remove the container.
REMOVE_WAIT_SECONDS = 10
# Exit status of a program the container does not have (as a shell says it).
NOT_FOUND = 127


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
    ) -> None:
        self._client = client
        self.image = image
        self.mounts = tuple(mounts)
        self.user = user
        self._labels = {CONTAINER_LABEL: "1", **(labels or {})}
        self._name = name
        self._id: str | None = None
        self._stdin: Any = None
        self._started = False
        self._closed = False
        self._lock = threading.Lock()

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
                network_mode="none", auto_remove=True,
                binds={m.host: {"bind": m.container, "mode": m.mode} for m in self.mounts},
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
            api.start(self._id)
            self._started = True
        except (DockerException, RequestException) as error:
            stopped = self._closed
            self.close()
            if stopped:
                raise KeyboardInterrupt from None
            msg = f"cannot start a container of {self.image}: {_one_line(error)}"
            raise EngineUnavailableError(msg, hint=ENGINE_HINT) from None

    def run(
        self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str],
        on_output: Callable[[bytes], None],
    ) -> int:
        """Run one program to its end, passing its output (stdout and stderr, as written) to
        ``on_output``; its exit status (127 when the container has no such program)."""
        from docker.errors import DockerException, NotFound
        from docker.utils.socket import frames_iter
        from requests.exceptions import RequestException

        if self._id is None or self._closed:
            raise KeyboardInterrupt  # stopped (Ctrl-C) before this program could start
        api = self._client.api
        tail = b""
        try:
            created = api.exec_create(self._id, list(argv), workdir=cwd, environment=dict(env),
                                      user=self.user)
            # The raw connection rather than the SDK's generator, which leaves it open.
            output = api.exec_start(created["Id"], socket=True)
            try:
                for _, chunk in frames_iter(output, tty=False):
                    tail = (tail + chunk)[-512:]
                    on_output(chunk)
            finally:
                _shut(output)
            status = api.exec_inspect(created["Id"]).get("ExitCode")
        except NotFound:
            if self._closed:
                raise KeyboardInterrupt from None
            msg = f"the {self.image} container vanished while running {argv[0]}"
            raise ToolchainError(msg) from None
        except (DockerException, RequestException) as error:
            if self._closed:
                raise KeyboardInterrupt from None
            msg = f"the Docker engine failed while running {argv[0]}: {_one_line(error)}"
            raise EngineUnavailableError(msg, hint=ENGINE_HINT) from None
        if self._closed:
            raise KeyboardInterrupt
        if status is None or (status in (126, 127) and b"executable file not found" in tail):
            return NOT_FOUND
        return int(status)

    def close(self, *, wait: bool = False) -> None:
        """End the container (see the module docstring); with ``wait``, until it is removed."""
        with self._lock:
            already = self._closed
            self._closed = True
            stdin, self._stdin = self._stdin, None
            container, started = self._id, self._started
        if stdin is not None:
            _shut(stdin)
        if container is None:
            return
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
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        try:
            self._client.api.wait(container, timeout=REMOVE_WAIT_SECONDS, condition="removed")
        except (DockerException, RequestException):
            self._remove(container)  # gone already (the usual case), or stuck: make sure


def _shut(connection: Any) -> None:
    """Close a raw connection to the engine for good (for the attached stdin, the engine then
    passes the end of input to ``cat``), and the HTTP response that came with it."""
    raw = getattr(connection, "_sock", connection)
    with contextlib.suppress(OSError):
        raw.shutdown(socket.SHUT_RDWR)
    for closable in (getattr(connection, "_response", None), connection, raw):
        if closable is not None:
            with contextlib.suppress(OSError, ValueError):  # ValueError: already closed
                closable.close()


def _one_line(error: BaseException) -> str:
    text = str(getattr(error, "explanation", None) or error)
    return " ".join(text.split())[:300]
