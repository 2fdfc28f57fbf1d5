"""Connecting to the Docker engine that runs toolchain containers.

The engine is found the way the ``docker`` command finds it (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``), so a remote engine works the same as a local one. The SDK is imported here,
inside the functions, because most commands never need it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
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

# How long an image transfer (a pull or a push) may go without a word from the engine: layers of a
# gigabyte move slowly, but a stuck engine or registry must not hold wasmforge for ever.
# WASMFORGE_ENGINE_TIMEOUT replaces it when set.
TRANSFER_SILENCE_SECONDS = 300

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


def transfer_silence() -> float:
    """The deadline of a transfer's silence, in seconds (see TRANSFER_SILENCE_SECONDS)."""
    if os.environ.get(ENGINE_TIMEOUT_ENV, "").strip():
        return engine_timeout()
    return TRANSFER_SILENCE_SECONDS


def _transfer_api(seconds: float) -> Any:
    """An engine client of the transfer's own whose every read has a deadline: the SDK sends a
    pull with none at all (``timeout=None``), and a push with the short one of other calls."""
    import docker

    class BoundedAPIClient(docker.APIClient):  # type: ignore[misc]  # the SDK is untyped
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = seconds
            return super().request(method, url, *args, **kwargs)

    return BoundedAPIClient(**docker.utils.kwargs_from_env(), version=API_VERSION,
                            timeout=seconds)


def stream_transfer(
    start: Callable[[Any], Iterable[Any]], what: str,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run one image pull or push (``start`` calls the given API client with ``stream=True,
    decode=True``) on a client of its own with a deadline on every read, and read its events to
    the end (so the connection is released). ``what`` says what it does ("pulling REF") in the
    errors: EngineUnavailableError when the engine goes silent or away; the SDK's APIError (the
    engine's refusal) is the caller's to word."""
    import requests
    import urllib3
    from docker.errors import APIError, DockerException

    url = engine_url()
    if url.startswith("unix://") and not os.path.exists(url.removeprefix("unix://")):  # noqa: PTH110
        # Checked here, as docker_client does: the SDK leaks its socket when the path is missing.
        msg = f"the Docker engine went away while {what}: no socket at {url}"
        raise EngineUnavailableError(msg, hint="start the Docker daemon and try again")
    silence = transfer_silence()
    api = _transfer_api(silence)
    events: list[dict[str, Any]] = []
    try:
        for event in start(api):
            if isinstance(event, dict):
                events.append(event)
                if on_event is not None:
                    on_event(event)
    except APIError:
        raise
    except (DockerException, requests.RequestException, urllib3.exceptions.HTTPError,
            OSError) as error:
        text = engine_error_line(error)
        if isinstance(error, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError) \
                or "timed out" in text:
            msg = (f"the Docker engine sent nothing for {silence:g} s while {what} "
                   "(the engine, or the registry behind it, is stuck)")
            raise EngineUnavailableError(
                msg, hint="check the engine (docker info) and the registry; "
                "WASMFORGE_ENGINE_TIMEOUT sets this deadline") from None
        msg = f"the Docker engine went away while {what}: {text}"
        raise EngineUnavailableError(msg, hint="start the Docker daemon and try again") from None
    finally:
        api.close()
    return events
