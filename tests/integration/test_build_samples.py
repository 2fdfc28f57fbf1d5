"""``wasmforge build`` end to end: every sample in the real toolchain containers, the results run.

WASI modules run in wasmtime, Emscripten's JS glue in the host's Node. The toolchain images are built
on first use (the first test pays for it; later ones reuse them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build_support import (
    SAMPLE_RUNS,
    copy_sample,
    docker_engine_answers,
    expected_output,
    node_available,
    run_node,
    run_wasi_command,
    run_web_glue,
    wasmforge,
)
from tests.needs import need

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

@pytest.fixture(scope="session")
def docker_ready() -> None:
    need(docker_engine_answers(), "a Docker engine")


@pytest.fixture(scope="session")
def built_samples(
    docker_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every sample built once (debug profile) in the containers: project dir and --json result."""
    del docker_ready
    work = tmp_path_factory.mktemp("samples")
    built: dict[str, tuple[Path, dict[str, Any]]] = {}
    for name in SAMPLE_RUNS:
        project = copy_sample(name, work)
        done = wasmforge("build", project, "--runner", "docker", "--json")
        assert done.returncode == 0, f"building {name} failed:\n{done.stderr}"
        built[name] = (project, json.loads(done.stdout))
    return built


@pytest.mark.parametrize("sample", list(SAMPLE_RUNS))
def test_sample_builds_and_prints_its_expected_output(
    sample: str, built_samples: dict[str, tuple[Path, dict[str, Any]]]
) -> None:
    project, _ = built_samples[sample]
    file, run = SAMPLE_RUNS[sample]
    if run in (run_node, run_web_glue):
        need(node_available(), "Node.js")
    assert run(project / "dist" / "debug" / file) == expected_output(sample)


def test_manifest_describes_every_output(
    built_samples: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    import hashlib

    for sample, (project, result) in built_samples.items():
        publish = project / "dist" / "debug"
        manifest = json.loads((publish / "wasmforge-build.json").read_text())
        assert manifest["profile"] == "debug"
        assert len(manifest["targets"]) == len(result["targets"])
        for entry in manifest["targets"]:
            assert entry["source_date_epoch"] == result["source_date_epoch"]
            for record in entry["files"]:
                data = (publish / record["path"]).read_bytes()
                assert record["sha256"] == hashlib.sha256(data).hexdigest(), sample
                assert record["size"] == len(data)
            assert (publish / entry["main_module"]).suffix == ".wasm"
            if sample.startswith("emscripten-") and sample != "emscripten-standalone":
                assert entry["js_glue"]
                assert not entry["wasi"]
            else:
                assert entry["wasi"]
                assert entry["exec_model"] in ("command", "reactor")
            if entry["kind"] != "wat":
                assert entry["toolchain_image_id"].startswith("sha256:")
    web = {f["path"] for f in json.loads(
        (built_samples["emscripten-web"][0] / "dist/debug/wasmforge-build.json").read_text()
    )["targets"][0]["files"]}
    assert web == {"page.js", "page.wasm", "page.html"}
    reactor = json.loads(
        (built_samples["c-reactor"][0] / "dist/debug/wasmforge-build.json").read_text())
    assert reactor["targets"][0]["exec_model"] == "reactor"
    assert "component" not in reactor["targets"][0]
    calc = json.loads(
        (built_samples["c-component"][0] / "dist/debug/wasmforge-build.json").read_text())
    (component,) = calc["targets"]
    assert component["exec_model"] == "reactor"
    assert component["component"]["world"] == "calc"
    assert component["component"]["adapter"]["kind"] == "reactor"


def test_html_page_loads_the_glue(built_samples: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    project, _ = built_samples["emscripten-web"]
    html = (project / "dist" / "debug" / "page.html").read_text()
    assert "page.js" in html


def test_scratch_dirs_are_gone_and_files_belong_to_the_user(
    built_samples: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    import os

    for project, _ in built_samples.values():
        dist = project / "dist"
        assert sorted(p.name for p in dist.iterdir()) == ["debug"]
        for path in (dist / "debug").iterdir():
            assert path.stat().st_uid == os.getuid()
            assert not path.name.startswith(".")


@pytest.mark.parametrize("sample", list(SAMPLE_RUNS))
def test_two_clean_builds_are_byte_identical(
    sample: str, docker_ready: None, tmp_path: Path
) -> None:
    """Every sample, in the default (debian-13) toolchain set, release profile, no cache."""
    del docker_ready
    digests = []
    for attempt in ("one", "two"):
        # Different checkout paths too: path remapping must hide where the project lives.
        project = copy_sample(sample, tmp_path / attempt)
        done = wasmforge("build", project, "--release", "--no-cache", "--runner", "docker",
                         "--json")
        assert done.returncode == 0, done.stderr
        digests.append({f["path"]: f["sha256"]
                        for t in json.loads(done.stdout)["targets"] for f in t["files"]})
    assert digests[0] == digests[1]


def test_release_build_runs_wasm_opt_in_the_container(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = copy_sample("c-hello", tmp_path)
    done = wasmforge("build", project, "--release", "--runner", "docker", "--json")
    assert done.returncode == 0, done.stderr
    (target,) = json.loads(done.stdout)["targets"]
    report = target["optimize"]
    assert report["size-after"] < report["size-before"]
    module = project / "dist" / "release" / "hello.wasm"
    assert module.stat().st_size == report["size-after"]
    assert run_wasi_command(module) == expected_output("c-hello")


def test_check_reproducible_builds_twice(docker_ready: None, tmp_path: Path) -> None:
    del docker_ready
    project = copy_sample("rust-cargo", tmp_path)
    done = wasmforge("build", project, "--runner", "docker", "--check-reproducible", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reproducible"] is True
    assert "reproducible" in done.stderr


def test_rust_package_without_a_lock_file_is_told_how_to_make_one(
    docker_ready: None, tmp_path: Path
) -> None:
    """It depends on a registry crate: wasmforge fetches only what a lock file names, says so,
    and ``wasmforge lock`` writes one with the image's cargo (here from the crates the image
    carries, as the sample's .cargo/config.toml says)."""
    del docker_ready
    project = copy_sample("rust-cargo", tmp_path)
    committed = (project / "Cargo.lock").read_text("utf-8")
    (project / "Cargo.lock").unlink()
    done = wasmforge("build", project, "--runner", "docker", "-o", tmp_path / "out")
    assert done.returncode == 3, done.stderr
    assert "wasmforge lock rusty" in done.stderr
    locked = wasmforge("lock", "rusty", "--project", project)
    assert locked.returncode == 0, locked.stderr
    assert (project / "Cargo.lock").read_text("utf-8") == committed
    done = wasmforge("build", project, "--runner", "docker", "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert run_wasi_command(tmp_path / "out" / "debug" / "rusty.wasm") == expected_output(
        "rust-cargo")


def test_parallel_targets_of_one_project(docker_ready: None, tmp_path: Path) -> None:
    """Several kinds in one wasmforge.toml, built two at a time."""
    del docker_ready
    project = tmp_path / "multi"
    shutil.copytree(copy_sample("c-hello", tmp_path) / "src", project / "c")
    shutil.copy(copy_sample("wat-hello", tmp_path) / "hello.wat", project / "hello.wat")
    shutil.copytree(copy_sample("emscripten-standalone", tmp_path) / "src", project / "em")
    (project / "wasmforge.toml").write_text("""
[project]
name = "multi"

[targets.c]
kind = "wasi-sdk"
sources = ["c/*.c"]
include-dirs = ["c"]
defines = ["GREETING=\\"hello from C\\""]

[targets.text]
kind = "wat"
source = "hello.wat"

[targets.em]
kind = "emscripten"
environment = "standalone"
sources = ["em/main.c"]
""")
    done = wasmforge("build", project, "--runner", "docker", "--jobs", "2", "--json")
    assert done.returncode == 0, done.stderr
    names = [t["name"] for t in json.loads(done.stdout)["targets"]]
    assert names == ["c", "text", "em"]
    publish = project / "dist" / "debug"
    assert run_wasi_command(publish / "c.wasm") == expected_output("c-hello")
    assert run_wasi_command(publish / "text.wasm") == expected_output("wat-hello")
    assert run_wasi_command(publish / "em.wasm") == expected_output("emscripten-standalone")
    for line in done.stderr.splitlines():  # every tool line says which target it came from
        if line.startswith("["):
            assert line.split("]")[0] in ("[c", "[text", "[em")


@pytest.mark.parametrize("sample", list(SAMPLE_RUNS))
def test_release_build_of_each_sample_still_prints_its_output(
    sample: str, docker_ready: None, tmp_path: Path
) -> None:
    """The release profile (-Os, no debug info, wasm-opt) must not change what a program does."""
    del docker_ready
    project = copy_sample(sample, tmp_path)
    done = wasmforge("build", project, "--release", "--runner", "docker")
    assert done.returncode == 0, done.stderr
    file, run = SAMPLE_RUNS[sample]
    if run in (run_node, run_web_glue):
        need(node_available(), "Node.js")
    assert run(project / "dist" / "release" / file) == expected_output(sample)


MAKE_AND_CMAKE = """
[project]
name = "made"

[targets.with-cmake]
kind = "wasi-sdk"
command = "cmake -S . -B \\"$WASMFORGE_OUT/build\\" && cmake --build \\"$WASMFORGE_OUT/build\\""
artifact = "build/app.wasm"

[targets.with-make]
kind = "wasi-sdk"
command = ["make", "app.wasm"]
artifact = "app.wasm"
"""


def test_make_and_cmake_projects_build_with_the_users_command(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    project = tmp_path / "made"
    project.mkdir()
    (project / "main.c").write_text(
        '#include <stdio.h>\nint main(void) { printf("built with %s\\n", TOOL); return 0; }\n')
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(app C)\nadd_executable(app main.c)\n"
        'target_compile_definitions(app PRIVATE TOOL="CMake")\n')
    # The project is read-only to the build: make writes into $WASMFORGE_OUT.
    (project / "Makefile").write_text(
        "app.wasm: main.c\n"
        '\t$(CC) $(CFLAGS) -DTOOL=\\"make\\" $(LDFLAGS) -o $(WASMFORGE_OUT)/app.wasm main.c\n')
    (project / "wasmforge.toml").write_text(MAKE_AND_CMAKE)
    done = wasmforge("build", project, "--runner", "docker", "--jobs", "2",
                     "--check-reproducible")
    assert done.returncode == 0, done.stderr
    assert "[with-cmake] [100%] Built target app" in done.stderr
    publish = project / "dist" / "debug"
    assert run_wasi_command(publish / "with-cmake.wasm") == "built with CMake\n"
    assert run_wasi_command(publish / "with-make.wasm") == "built with make\n"
    assert sorted(p.name for p in project.iterdir()) == [
        "CMakeLists.txt", "Makefile", "dist", "main.c", "wasmforge.toml"]


def test_build_command_that_forgets_its_artifact_says_where_to_write(
    docker_ready: None, tmp_path: Path
) -> None:
    del docker_ready
    project = tmp_path / "forgetful"
    project.mkdir()
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "f"\n\n[targets.f]\nkind = "wasi-sdk"\ncommand = "true"\n'
        'artifact = "f.wasm"\n')
    done = wasmforge("build", project, "--runner", "docker")
    assert done.returncode == 5
    assert "did not produce 'f.wasm'" in done.stderr
    assert "$WASMFORGE_OUT" in done.stderr
