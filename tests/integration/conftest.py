"""Fixtures shared by the integration tests: a real registry and a packaged module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.oci_registry import (
    RunningRegistry,
    registry_available,
    registry_cli,
    run_registry,
)
from tests.needs import need
from tests.oci_samples import HELLO_WAT, assemble


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
