"""Connecting to the Docker engine that runs toolchain containers.

The engine is found the way the ``docker`` command finds it (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``), so a remote engine works the same as a local one. The SDK is imported here,
inside the functions, because most commands never need it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from wasmforge.errors import EngineUnavailableError

if TYPE_CHECKING:
    import docker

ENGINE_HINT = "start the Docker daemon, or build with --runner local"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

# How long a ping may take before the engine counts as down.
PING_TIMEOUT_SECONDS = 10
# Every other call's deadline, and how long a running step may go without the engine answering a
# ping (WASMFORGE_ENGINE_TIMEOUT shortens it, e.g. for tests of a frozen engine).
ENGINE_TIMEOUT_SECONDS = 60
ENGINE_TIMEOUT_ENV = "WASMFORGE_ENGINE_TIMEOUT"

# Docker 20.10's API, the oldest engine wasmforge supports; newer engines all speak it. Naming it
# also keeps the SDK from probing the engine inside its constructor, where a failure would leave a
# socket open behind our error.
API_VERSION = "1.41"


def engine_url(env: dict[str, str] | None = None) -> str:
    """Where the engine is expected: ``DOCKER_HOST`` or the default socket."""
    source = os.environ if env is None else env
    return source.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def docker_client() -> docker.DockerClient:
    """A connected, pinged client; ``EngineUnavailableError`` (one line, with a hint) otherwise."""
    import docker
    from docker.errors import DockerException

    url = engine_url()
    socket_path = url.removeprefix("unix://") if url.startswith("unix://") else None
    if socket_path is not None and not os.path.exists(socket_path):  # noqa: PTH110 - a str path
        # Checked here because the SDK leaks its socket when connecting to a missing path fails.
        msg = f"no Docker engine answers at {url}: no such socket"
        raise EngineUnavailableError(msg, hint=ENGINE_HINT)
    client = None
    try:
        client = docker.from_env(version=API_VERSION, timeout=PING_TIMEOUT_SECONDS)
        client.ping()
    # requests' connection errors (OSError subclasses) can leak through the SDK unwrapped.
    except (DockerException, OSError) as error:
        if client is not None:
            client.close()  # no socket left open behind the error
        msg = f"no Docker engine answers at {url}: {_reason(error)}"
        raise EngineUnavailableError(msg, hint=ENGINE_HINT) from None
    # Calls that stream a long job (image builds, pulls, a step's output) set their own.
    client.api.timeout = engine_timeout()
    return client


def engine_timeout() -> float:
    """The deadline of an engine call, in seconds (see ENGINE_TIMEOUT_SECONDS)."""
    from wasmforge.deadlines import seconds_from_env

    return seconds_from_env(ENGINE_TIMEOUT_ENV, ENGINE_TIMEOUT_SECONDS)


def ping_client() -> docker.APIClient:
    """A client of its own for liveness pings, with a short deadline: a ping must never queue
    behind the build's calls, nor wait longer than it takes to tell."""
    import docker

    return docker.APIClient(**docker.utils.kwargs_from_env(), version=API_VERSION,
                            timeout=min(PING_TIMEOUT_SECONDS, engine_timeout()))


def engine_id(client: docker.DockerClient) -> str:
    """A stable identity of the engine (its daemon ID), so per-engine state can be kept apart."""
    info: dict[str, Any] = client.info()
    return str(info.get("ID") or info.get("Name") or "unknown")


def engine_error_line(error: BaseException) -> str:
    """An engine error on one line: the engine's own explanation when it gives one."""
    text = str(getattr(error, "explanation", None) or error)
    return " ".join(text.split())[:300]


def _reason(error: BaseException) -> str:
    """The innermost useful sentence of a connection error, on one line."""
    text = str(error)
    # The SDK wraps requests' errors as "Error while fetching server API version: (...)".
    for marker in (
        "Connection refused",
        "No such file or directory",
        "Permission denied",
        "timed out",
        "Name or service not known",
    ):
        if marker in text:
            return marker.lower() if marker != "Permission denied" else "permission denied"
    return " ".join(text.split())[:200]
