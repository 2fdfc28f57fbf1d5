"""The whole path with the real samples: build (debug, release) -> inspect -> package -> push -> pull
back with skopeo -> ``podman load`` / ``podman pull`` -> run on crun's wasmtime handler.

Every sample is built at most once per profile per session (``SampleBuilds``), in private copies, with
``SOURCE_DATE_EPOCH`` unset so that the default timestamp rule is what gets tested. Running each built
module and comparing with expected-output.txt is test_build_samples.py's job; this file checks what
the modules are (imports, exports, sizes) and what happens to them after the build.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build_support import (
    SAMPLE_RUNS,
    copy_sample,
    docker_engine_answers,
    expected_output,
    wasmforge,
)
from tests.integration.external_tools import crun_wasm, podman_run, required_program
from tests.integration.oci_registry import RunningRegistry
from tests.needs import need
from wasmforge.oci.layout import LoadedImage, load_layout
from wasmforge.tools import wabt_tool, wasm_tools

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

# The environment of every wasmforge run here: no SOURCE_DATE_EPOCH, so the copies (outside git) get
# the documented fallback, and nothing but the sources can make two packagings differ.
BUILD_ENV = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}

# The samples whose main output is a WASI module, with the exec model each must have.
WASI_SAMPLES = {
    "c-hello": "command",
    "c-reactor": "reactor",
    "cpp-stdlib": "command",
    "rust-cargo": "command",
    "emscripten-standalone": "command",
    "wat-hello": "command",
}
PROFILES = ("debug", "release")
# The release-size budgets the project promises (decimal kilobytes, the stricter reading).
SIZE_BUDGETS = {"rust-cargo": 100_000, "c-hello": 40_000}
FD_WRITE = ("wasi_snapshot_preview1", "fd_write", "func", "(i32, i32, i32, i32) -> (i32)")


@dataclass(frozen=True)
class Build:
    """One ``wasmforge build --json`` of a sample copy, in one profile."""

    sample: str
    project: Path
    profile: str
    result: dict[str, Any]
    # A copy of dist/<profile>/oci as the build left it, for comparing after later commands ran.
    packaged_copy: Path

    @property
    def target(self) -> dict[str, Any]:
        (target,) = self.result["targets"]
        return dict(target)

    @property
    def module(self) -> Path:
        return Path(self.target["main_module"])

    @property
    def output_bytes(self) -> int:
        return sum(int(f["size"]) for f in self.target["files"])

    def package(self, fmt: str) -> dict[str, Any]:
        (package,) = self.result["packages"]
        (entry,) = [f for f in package["formats"] if f["format"] == fmt]
        return dict(entry)

    def packaged(self, fmt: str) -> tuple[Path, Path]:
        """The layout directory and tar of ``fmt`` as the build wrote them (from the copy)."""
        entry, oci = self.package(fmt), self.project / "dist" / self.profile / "oci"
        return (self.packaged_copy / Path(entry["layout"]).relative_to(oci),
                self.packaged_copy / Path(entry["tar"]).relative_to(oci))


def build_sample(sample: str, project: Path, profile: str, copies: Path) -> Build:
    flags = ["--release"] if profile == "release" else []
    done = wasmforge("build", project, *flags, "--json", env=BUILD_ENV)
    assert done.returncode == 0, f"building {project.name} ({profile}) failed:\n{done.stderr}"
    packaged_copy = copies / f"{sample}-{profile}"
    oci = project / "dist" / profile / "oci"
    if oci.is_dir():
        shutil.copytree(oci, packaged_copy)
    return Build(sample, project, profile, json.loads(done.stdout), packaged_copy)


class SampleBuilds:
    """Builds on demand, each (sample, profile) once: a -k selection builds only what it needs."""

    def __init__(self, work: Path) -> None:
        self._work = work
        self._builds: dict[tuple[str, str], Build] = {}

    def get(self, sample: str, profile: str) -> Build:
        key = (sample, profile)
        if key not in self._builds:
            project = self._work / sample
            if not project.exists():
                copy_sample(sample, self._work)
            self._builds[key] = build_sample(sample, project, profile, self._work / "packaged")
        return self._builds[key]


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> SampleBuilds:
    need(docker_engine_answers(), "a Docker engine")
    return SampleBuilds(tmp_path_factory.mktemp("e2e-samples"))


# --- 1. inspect reports what is really in each module --------------------------------------------


def _signature(func_type: Any) -> str:
    """A wasmtime FuncType in inspect's notation: ``(i32, i64) -> (i32)``."""
    params = ", ".join(str(p) for p in func_type.params)
    results = ", ".join(str(r) for r in func_type.results)
    return f"({params}) -> ({results})"


def _kind(extern_type: Any) -> str:
    import wasmtime

    kinds = {wasmtime.FuncType: "func", wasmtime.MemoryType: "memory",
             wasmtime.TableType: "table", wasmtime.GlobalType: "global"}
    return kinds[type(extern_type)]


def wasmtime_reading(module: Path) -> tuple[list[tuple[str, str, str, str | None]], dict[str, Any]]:
    """Imports (module, name, kind, signature) and exports (name -> type) as wasmtime reads them."""
    import wasmtime

    loaded = wasmtime.Module.from_file(wasmtime.Engine(), str(module))
    imports = [
        (i.module, i.name or "", _kind(i.type),
         _signature(i.type) if isinstance(i.type, wasmtime.FuncType) else None)
        for i in loaded.imports
    ]
    return imports, {e.name: e.type for e in loaded.exports}


def objdump_reading(module: Path) -> tuple[list[tuple[str, str, int]], list[tuple[int, int | None]]]:
    """Exports (name, kind, index) and defined memories (initial, max) as wasm-objdump lists them."""
    def section(name: str) -> list[str]:
        done = subprocess.run([str(wabt_tool("wasm-objdump")), "-x", "-j", name, str(module)],
                              capture_output=True, text=True, check=True)
        return done.stdout.splitlines()

    exports = [(m[3], m[1], int(m[2])) for line in section("Export")
               if (m := re.match(r' - (\w+)\[(\d+)\].* -> "(.*)"$', line))]
    memories = [(int(m[1]), int(m[2]) if m[2] else None) for line in section("Memory")
                if (m := re.match(r" - memory\[\d+\] pages: initial=(\d+)(?: max=(\d+))?", line))]
    return exports, memories


def inspect_json(module: Path) -> dict[str, Any]:
    done = wasmforge("inspect", module, "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("sample", list(WASI_SAMPLES))
def test_inspect_matches_an_independent_reading(
    sample: str, profile: str, builds: SampleBuilds
) -> None:
    module = builds.get(sample, profile).module
    report = inspect_json(module)
    imports, export_types = wasmtime_reading(module)
    exports, memories = objdump_reading(module)

    assert [(i["module"], i["name"], i["kind"], i["signature"])
            for i in report["imports"]] == imports
    assert [(e["name"], e["kind"], e["index"]) for e in report["exports"]] == exports
    assert [e[0] for e in exports] == list(export_types)
    assert [(m["minimum_pages"], m["maximum_pages"]) for m in report["memories"]
            if not m["imported"]] == memories
    assert report["kind"] == "module"
    assert report["size"] == module.stat().st_size

    # What every sample must have, whoever reads it: WASI preview1 output, an exported memory.
    assert FD_WRITE in imports
    assert {i[0] for i in imports} == {"wasi_snapshot_preview1"}
    assert report["wasi"]["version"] == "preview1"
    assert ("memory", "memory") in {(e["name"], e["kind"]) for e in report["exports"]}
    model = WASI_SAMPLES[sample]
    assert report["wasi"]["exec_model"] == model
    assert report["has_start_export"] is (model == "command")
    assert builds.get(sample, profile).target["exec_model"] == model
    entry = "_start" if model == "command" else "_initialize"
    other = "_initialize" if model == "command" else "_start"
    assert _signature(export_types[entry]) == "() -> ()"
    assert other not in export_types


def test_reactor_exports_its_functions_with_their_c_signatures(builds: SampleBuilds) -> None:
    for profile in PROFILES:
        _, export_types = wasmtime_reading(builds.get("c-reactor", profile).module)
        signatures = {name: _signature(t) for name, t in export_types.items() if _kind(t) == "func"}
        assert signatures == {"_initialize": "() -> ()", "add": "(i32, i32) -> (i32)",
                              "fib": "(i32) -> (i32)", "greet": "() -> ()"}, profile


# --- 2. release vs debug (that both print the expected output is test_build_samples.py's) ---------


@pytest.mark.parametrize("sample", list(SAMPLE_RUNS))
def test_release_is_valid_and_smaller_than_debug(sample: str, builds: SampleBuilds) -> None:
    debug, release = builds.get(sample, "debug"), builds.get(sample, "release")
    for build in (debug, release):
        validated = subprocess.run([str(wasm_tools()), "validate", str(build.module)],
                                   capture_output=True, text=True, check=False)
        assert validated.returncode == 0, f"{build.profile}: {validated.stderr}"
    assert release.module.stat().st_size < debug.module.stat().st_size
    # JS glue included: the release profile must not buy a smaller module with a bigger loader.
    assert release.output_bytes < debug.output_bytes
    assert [f["path"] for f in release.target["files"]] == [
        f["path"] for f in debug.target["files"]]
    if sample in SIZE_BUDGETS:
        assert release.module.stat().st_size < SIZE_BUDGETS[sample]


# --- 3. package -> push -> pull back -------------------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    sample: str
    fmt: str
    reference: str
    digest: str
    layout: Path  # the layout the build wrote (as it wrote it)
    built_digest: str  # the manifest digest the build reported for it
    module: Path  # the module it carries


# (sample, format) pairs pushed: the runnable image of both, and Rust's CNCF Wasm artifact.
PUSHES = [("c-hello", "image"), ("rust-cargo", "image"), ("rust-cargo", "artifact")]


@pytest.fixture(scope="module")
def pushed(
    registry: RunningRegistry,
    builds: SampleBuilds,
) -> dict[tuple[str, str], Pushed]:
    """Each of PUSHES pushed from its release build with ``wasmforge push -C <project>``."""
    done_pushes: dict[tuple[str, str], Pushed] = {}
    for sample, fmt in PUSHES:
        build = builds.get(sample, "release")
        reference = f"{registry.host}/e2e/{sample}-{fmt}:0.1.0"
        done = wasmforge("push", reference, "-C", build.project, "--release", "--format", fmt,
                         "--insecure", "--json", env=BUILD_ENV, timeout=180)
        assert done.returncode == 0, done.stderr
        done_pushes[sample, fmt] = Pushed(sample, fmt, reference, json.loads(done.stdout)["digest"],
                                          build.packaged(fmt)[0], build.package(fmt)["digest"],
                                          build.module)
    return done_pushes


def carried_module(image: LoadedImage, module_name: str) -> bytes:
    """The module bytes an image carries: the artifact's wasm layer, or the file in the image's tar."""
    (layer,) = image.layers
    if image.format == "artifact":
        return layer.data
    with tarfile.open(fileobj=io.BytesIO(layer.data)) as archive:
        member = archive.extractfile(module_name)
        assert member is not None
        return member.read()


@pytest.mark.registry
@pytest.mark.parametrize(("sample", "fmt"), PUSHES)
def test_skopeo_copy_back_is_byte_identical_to_the_build(
    sample: str, fmt: str, pushed: dict[tuple[str, str], Pushed], tmp_path: Path
) -> None:
    push = pushed[sample, fmt]
    local = load_layout(push.layout)
    assert push.digest == local.digest == push.built_digest
    copy = tmp_path / "copy"
    subprocess.run([required_program("skopeo"), "copy", "--preserve-digests", "--src-tls-verify=false",
                    f"docker://{push.reference}", f"oci:{copy}:0.1.0"],
                   check=True, capture_output=True)
    copied = load_layout(copy)
    assert copied.digest == local.digest
    assert (copied.manifest.data, copied.config.data) == (local.manifest.data, local.config.data)
    assert [(b.digest, b.data) for b in copied.layers] == [(b.digest, b.data) for b in local.layers]
    assert copied.format == fmt
    assert carried_module(copied, push.module.name) == push.module.read_bytes()


@pytest.mark.registry
def test_pushing_one_format_leaves_the_builds_packages_alone(
    pushed: dict[tuple[str, str], Pushed], builds: SampleBuilds
) -> None:
    """rust-cargo packages both formats; pushing the image, then the artifact, from the project
    must not rewrite dist/release/oci (deleting the format not pushed is losing a build output)."""
    assert ("rust-cargo", "artifact") in pushed
    build = builds.get("rust-cargo", "release")
    for fmt in ("image", "artifact"):
        entry, (_, built_tar) = build.package(fmt), build.packaged(fmt)
        assert Path(entry["tar"]).is_file(), f"{entry['tar']} is gone after wasmforge push"
        assert Path(entry["tar"]).read_bytes() == built_tar.read_bytes()
        assert load_layout(Path(entry["layout"])).digest == entry["digest"]


@pytest.mark.registry
def test_skopeo_inspect_reads_the_pushed_image_and_artifact(
    pushed: dict[tuple[str, str], Pushed],
) -> None:
    for (_, fmt), push in pushed.items():
        raw = json.loads(subprocess.run(
            [required_program("skopeo"), "inspect", "--raw", "--tls-verify=false", f"docker://{push.reference}"],
            check=True, capture_output=True, text=True).stdout)
        if fmt == "artifact":
            assert raw["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
            assert [layer["mediaType"] for layer in raw["layers"]] == ["application/wasm"]
            continue
        shown = json.loads(subprocess.run(
            [required_program("skopeo"), "inspect", "--tls-verify=false", f"docker://{push.reference}"],
            check=True, capture_output=True, text=True).stdout)
        assert (shown["Os"], shown["Architecture"]) == ("wasi", "wasm")
        assert shown["Digest"] == push.digest
        assert raw["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"


@pytest.mark.registry
@pytest.mark.parametrize(("sample", "fmt"), PUSHES)
def test_wasmforge_pull_and_run_of_the_pushed_reference(
    sample: str, fmt: str, pushed: dict[tuple[str, str], Pushed], tmp_path: Path
) -> None:
    push = pushed[sample, fmt]
    pulled = wasmforge("pull", push.reference, "-o", tmp_path / "pulled", "--insecure", "--json")
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == push.digest
    assert load_layout(tmp_path / "pulled").digest == push.digest
    ran = wasmforge("run", "--insecure", push.reference, timeout=120)
    assert (ran.returncode, ran.stdout) == (0, expected_output(sample)), ran.stderr


@pytest.mark.parametrize("sample", ["c-hello", "rust-cargo"])
def test_packaging_elsewhere_and_later_gives_the_same_digests(
    sample: str, builds: SampleBuilds, tmp_path: Path
) -> None:
    first = builds.get(sample, "release")
    project = copy_sample(sample, tmp_path / "another" / "checkout")
    later = time.time() + 3600  # sources touched an hour later, and the build at another second
    for path in project.rglob("*"):
        os.utime(path, (later, later))
    time.sleep(1.1)
    again = build_sample(sample, project, "release", tmp_path / "packaged")
    for fmt in [f["format"] for f in first.result["packages"][0]["formats"]]:
        one, two = first.package(fmt), again.package(fmt)
        for key in ("digest", "config_digest", "layer_digests", "size"):
            assert one[key] == two[key], f"{fmt} {key}"
        assert first.packaged(fmt)[1].read_bytes() == again.packaged(fmt)[1].read_bytes(), fmt


# --- 4. the real container runtime: podman + crun's wasmtime handler -----------------------------


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """podman with a private image store, so loading the samples' fixed names races nobody."""
    tool = required_program("podman")
    crun_wasm()
    store = tmp_path_factory.mktemp("podman-store")
    conf = store / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{store / "root"}"\n'
                    f'runroot = "{store / "run"}"\n')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
        yield tool


@pytest.mark.runtime
def test_podman_loads_the_built_image_and_crun_wasm_runs_it(
    podman: str, builds: SampleBuilds
) -> None:
    build = builds.get("c-hello", "release")
    package = build.package("image")
    done = subprocess.run([podman, "load", "-i", build.packaged("image")[1]], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    tag = build.result["packages"][0]["reference"]
    [image] = json.loads(subprocess.run([podman, "image", "inspect", tag], capture_output=True,
                                        text=True, check=True).stdout)
    assert (image["Os"], image["Architecture"]) == ("wasi", "wasm")
    assert image["Digest"] == package["digest"]
    assert image["Config"]["Entrypoint"] == [f"/{build.module.name}"]
    ran = podman_run(podman, tag)
    assert (ran.returncode, ran.stdout) == (0, expected_output("c-hello")), ran.stderr


@pytest.mark.runtime
@pytest.mark.registry
def test_crun_wasm_runs_the_image_pulled_from_the_registry(
    podman: str, pushed: dict[tuple[str, str], Pushed]
) -> None:
    push = pushed["c-hello", "image"]
    done = subprocess.run([podman, "pull", "--tls-verify=false", push.reference],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    ran = podman_run(podman, push.reference)
    assert (ran.returncode, ran.stdout) == (0, expected_output("c-hello")), ran.stderr
