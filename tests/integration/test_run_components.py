"""``wasmforge run TARGET`` of a real C sample built with ``--component``: the build manifest names the
published component, and run gives exactly the sample's expected output through WASI 0.2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.build_support import (
    copy_sample,
    docker_engine_answers,
    expected_output,
    wasmforge,
)
from tests.needs import need
from wasmforge.wasm.module import parse_module

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]


def test_a_c_sample_built_as_a_component_runs_by_target_name(tmp_path: Path) -> None:
    need(docker_engine_answers(), "a Docker engine")
    project = copy_sample("c-hello", tmp_path)
    built = wasmforge("build", project, "--release", "--component", "--no-package")
    assert built.returncode == 0, built.stderr
    published = project / "dist" / "release" / "hello.wasm"
    assert parse_module(published.read_bytes(), str(published)).kind == "component"
    done = wasmforge("run", "hello", "-C", project, "--release", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected_output("c-hello")
    assert done.stderr == ""
