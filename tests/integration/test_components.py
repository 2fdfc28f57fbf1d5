"""Components from every toolchain: each WASI command sample built with --component is a valid
component exporting wasi:cli/run that prints exactly what its module prints, run by wasmtime's
component runtime; a reactor with a WIT world exports that world; builds are byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.build_support import (
    component_exports,
    copy_sample,
    docker_engine_answers,
    expected_output,
    run_component_command,
    run_component_reactor,
    wasmforge,
)
from tests.needs import need
from wasmforge.tools import run_tool, wasm_tools

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

# sample -> its command target's module
COMMANDS = {
    "c-hello": "hello.wasm",
    "cpp-stdlib": "words.wasm",
    "rust-cargo": "rusty.wasm",
    "emscripten-standalone": "standalone.wasm",
    "wat-hello": "hello-wat.wasm",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every command sample built once as components (release), in the containers."""
    need(docker_engine_answers(), "a Docker engine")
    work = tmp_path_factory.mktemp("components")
    projects = {}
    for sample in COMMANDS:
        project = copy_sample(sample, work)
        done = wasmforge("build", project, "--release", "--component", "--no-package", "--json")
        assert done.returncode == 0, f"{sample}:\n{done.stderr}"
        projects[sample] = project
    return projects


@pytest.mark.parametrize("sample", list(COMMANDS))
def test_each_command_sample_is_a_component_printing_what_its_module_prints(
    sample: str, built: dict[str, Path],
) -> None:
    component = built[sample] / "dist" / "release" / COMMANDS[sample]
    checked = run_tool([wasm_tools(), "validate", component])
    assert checked.returncode == 0, checked.stderr.decode()
    assert any(name.startswith("wasi:cli/run@0.2") for name in component_exports(component))
    assert run_component_command(component) == expected_output(sample)
    manifest = json.loads((component.parent / "wasmforge-build.json").read_text("utf-8"))
    (entry,) = manifest["targets"]
    assert entry["exec_model"] == "command"
    assert entry["component"]["adapter"]["kind"] == "command"
    assert entry["component"]["adapter"]["sha256"] == (
        "2a652d711c1fff34f9d5a0e073e50ef7eeb8fe7d8a6d559eae643a4c049a7b94")


def test_components_are_byte_identical_across_checkouts(
    built: dict[str, Path], tmp_path: Path,
) -> None:
    """A second clean build of c-hello, elsewhere and without the cache, gives the same bytes."""
    project = copy_sample("c-hello", tmp_path)
    done = wasmforge("build", project, "--release", "--component", "--no-package", "--no-cache")
    assert done.returncode == 0, done.stderr
    first = (built["c-hello"] / "dist" / "release" / "hello.wasm").read_bytes()
    assert (project / "dist" / "release" / "hello.wasm").read_bytes() == first


def test_a_reactor_with_a_wit_world_exports_that_world(tmp_path: Path) -> None:
    need(docker_engine_answers(), "a Docker engine")
    project = copy_sample("c-component", tmp_path)
    done = wasmforge("build", project, "--release", "--no-package")
    assert done.returncode == 0, done.stderr
    component = project / "dist" / "release" / "calc.wasm"
    assert component_exports(component) == ["gcd", "steps", "hello"]
    assert run_component_reactor(component) == expected_output("c-component")


# The WASI 0.2 samples: triple = "wasm32-wasip2" targets (C and Rust) of the debian-13 set.
WASIP2 = {"c-wasip2": ("greet", "greet.wasm"), "rust-wasip2": ("tally", "tally.wasm")}


@pytest.mark.parametrize("sample", list(WASIP2))
@pytest.mark.parametrize("profile", ["debug", "release"])
def test_wasip2_targets_are_components_that_run_inspect_and_package(
    sample: str, profile: str, tmp_path: Path,
) -> None:
    need(docker_engine_answers(), "a Docker engine")
    target, file = WASIP2[sample]
    project = copy_sample(sample, tmp_path)
    done = wasmforge("build", project, f"--{profile}", "--json")
    assert done.returncode == 0, done.stderr
    component = project / "dist" / profile / file
    assert component.read_bytes()[4:8] == b"\x0d\x00\x01\x00"  # the component binary version
    checked = run_tool([wasm_tools(), "validate", component])
    assert checked.returncode == 0, checked.stderr.decode()
    assert any(name.startswith("wasi:cli/run@0.2") for name in component_exports(component))
    # Run by target name, as a user would; the same output under wasmtime's component API.
    ran = wasmforge("run", target, "-C", project, "--profile", profile)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == expected_output(sample) == run_component_command(component)
    inspected = wasmforge("inspect", component, "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert "wasi:cli/run" in inspected.stdout
    (package,) = json.loads(done.stdout)["packages"]
    assert [f["format"] for f in package["formats"]] == ["artifact"]  # a component's default
