"""The debian-12 toolchain set builds every sample byte for byte as wasmforge did before the
debian-13 set became the default: the digests in data/debian-12-sample-digests.json were recorded
with the Debian 12 images before anything of the change was written (outputs and OCI manifests, both
profiles). A project keeps those bytes with one line, ``[toolchains] set = "debian-12"``.

The rust-cargo sample's crates come from the toolchain image's own crate directory, whose versions
differ between the sets: as a user moving it to another set would, the test makes its lock file
with ``wasmforge lock`` in that set (it gives exactly the lock the sample had under Debian 12).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.build_support import (
    SAMPLES,
    copy_sample,
    docker_engine_answers,
    use_toolchain_set,
    wasmforge,
)
from tests.needs import need

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

DIGESTS = Path(__file__).parent / "data" / "debian-12-sample-digests.json"
RECORDED = json.loads(DIGESTS.read_text(encoding="utf-8"))
# The samples there were when the digests were recorded; the later wasip2 samples need debian-13.
SAMPLE_NAMES = sorted({key.split("/", 1)[0] for key in RECORDED})
WASIP2_SAMPLES = ["c-wasip2", "rust-wasip2"]


def _built_digests(project: Path, profile: str) -> dict[str, str]:
    done = wasmforge("build", project, "--profile", profile, "--no-cache", "--json")
    assert done.returncode == 0, f"{project.name} ({profile}) failed:\n{done.stderr}"
    report = json.loads(done.stdout)
    found = {f"{project.name}/{profile}/{t['name']}/{f['path']}": f["sha256"]
             for t in report["targets"] for f in t["files"]}
    found |= {f"{project.name}/{profile}/{p['name']}/oci-{f['format']}": f["digest"]
              for p in report.get("packages", []) for f in p["formats"]}
    return found


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_debian_12_set_builds_each_sample_as_before(sample: str, tmp_path: Path) -> None:
    need(docker_engine_answers(), "a Docker engine")
    expected = {key: value for key, value in RECORDED.items() if key.startswith(f"{sample}/")}
    assert expected, f"no digests recorded for {sample}"
    project = copy_sample(sample, tmp_path)
    use_toolchain_set(project, "debian-12")
    if (project / "Cargo.lock").is_file():
        (project / "Cargo.lock").unlink()
        locked = wasmforge("lock", "rusty", "-p", project)
        assert locked.returncode == 0, locked.stderr
    built = _built_digests(project, "debug") | _built_digests(project, "release")
    assert built == expected


def test_every_other_sample_is_recorded() -> None:
    present = {p.parent.name for p in SAMPLES.glob("*/wasmforge.toml")}
    assert present == {*SAMPLE_NAMES, *WASIP2_SAMPLES}


@pytest.mark.parametrize("sample", WASIP2_SAMPLES)
def test_wasip2_samples_are_a_config_error_in_debian_12(sample: str, tmp_path: Path) -> None:
    project = copy_sample(sample, tmp_path)
    use_toolchain_set(project, "debian-12")
    done = wasmforge("build", project)
    assert done.returncode == 3, done.stderr
    assert ".triple: " in done.stderr
    assert "debian-12" in done.stderr
    assert "Traceback" not in done.stderr
