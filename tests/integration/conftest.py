"""Fixtures shared by the integration tests: the Docker engine, a real registry, a packaged module
and the optimisers (wasm-opt where wasmforge runs it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.oci_registry import (
    RunningRegistry,
    registry_available,
    registry_cli,
    run_registry,
)
from tests.integration.opt_support import OPTIMISERS, Optimiser, Optimisers
from tests.needs import need
from tests.oci_samples import HELLO_WAT, assemble
from wasmforge.errors import EngineUnavailableError

if TYPE_CHECKING:
    import docker


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """A client of the Docker engine for the whole session (see ``need`` when there is none)."""
    from wasmforge.engine import docker_client

    try:
        client = docker_client()
    except EngineUnavailableError:
        client = None
    need(client is not None, "a Docker engine")
    assert client is not None
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    need(registry_available(), "docker-registry (apt-get install docker-registry)")
    with run_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello.wasm packaged in both formats (done once: the tests only read it)."""
    work = tmp_path_factory.mktemp("packaged")
    hello = assemble(HELLO_WAT, work, "hello")
    done = registry_cli("package", str(hello), "-o", str(work / "out"), "--format", "both",
                     "--tag", "wf/hello:v1")
    assert done.returncode == 0, done.stderr
    return work / "out"


@pytest.fixture(scope="module")
def optimisers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Optimisers]:
    found = Optimisers(tmp_path_factory.mktemp("optimisers"))
    yield found
    found.close()


@pytest.fixture(params=OPTIMISERS)
def optimiser(request: pytest.FixtureRequest, optimisers: Optimisers) -> Optimiser:
    """wasm-opt in each set's wasi-sdk image, and the host's."""
    return optimisers.get(request.param)
