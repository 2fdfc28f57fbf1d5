"""``wasmforge run --dir`` for Emscripten ``node`` targets, built in the real emscripten image and
run by the host's Node: NODERAWFS (the default) lets the program write into the host directory, and
every ``--dir`` that a target cannot honour is refused (exit 2) before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.build_support import docker_engine_answers, node_available, wasmforge
from tests.needs import need

pytestmark = [pytest.mark.docker, pytest.mark.toolchain]

# Writes its second argument into the file named by its first.
WRITER_C = """\
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: writer FILE TEXT\\n");
    return 2;
  }
  FILE *file = fopen(argv[1], "w");
  if (file == NULL) {
    perror(argv[1]);
    return 3;
  }
  fputs(argv[2], file);
  return fclose(file) == 0 ? 0 : 4;
}
"""

CONFIG = """\
[project]
name = "node-dirs"

[targets.writer]
kind = "emscripten"
environment = "node"
sources = ["writer.c"]

[targets.sealed]
kind = "emscripten"
environment = "node"
sources = ["writer.c"]
node-rawfs = false

[targets.page]
kind = "emscripten"
sources = ["writer.c"]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(docker_engine_answers(), "a Docker engine")
    need(node_available(), "Node.js")
    root = tmp_path_factory.mktemp("node-dirs")
    (root / "wasmforge.toml").write_text(CONFIG)
    (root / "writer.c").write_text(WRITER_C)
    (root / "data").mkdir()
    done = wasmforge("build", root, "--runner", "docker")
    assert done.returncode == 0, done.stderr
    return root


def test_the_manifest_says_which_node_targets_have_the_hosts_files(project: Path) -> None:
    document = json.loads((project / "dist" / "debug" / "wasmforge-build.json").read_text())
    entries = {entry["name"]: entry for entry in document["targets"]}
    assert entries["writer"]["node_rawfs"] is True
    assert entries["sealed"]["node_rawfs"] is False
    assert "node_rawfs" not in entries["page"]


def test_a_node_program_writes_into_the_dir_relative_to_the_callers_cwd(project: Path) -> None:
    ran = wasmforge("run", "writer", "--dir", "data", "--", "data/relative.txt", "from cwd",
                    cwd=project)
    assert ran.returncode == 0, ran.stderr
    assert (project / "data" / "relative.txt").read_text() == "from cwd"


def test_a_node_program_writes_at_the_absolute_host_path(project: Path, tmp_path: Path) -> None:
    data = project / "data"
    ran = wasmforge("run", "-C", project, "writer", "--dir", f"{data}:{data}", "--",
                    f"{data}/absolute.txt", "at its own path", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert (data / "absolute.txt").read_text() == "at its own path"


@pytest.mark.parametrize(("target", "spec", "message"), [
    ("writer", "data:/data", ("--dir data:/data: target 'writer' runs under Node with the host's "
                              "file system, where data can only be seen at its own path")),
    ("sealed", "data", "--dir data: target 'sealed' was built without NODERAWFS"),
    ("page", "data", "target 'page' is Emscripten web output: open it in a browser"),
])
def test_a_dir_the_target_cannot_honour_is_refused(
    project: Path, target: str, spec: str, message: str,
) -> None:
    ran = wasmforge("run", target, "--dir", spec, "--", "data/refused.txt", "no", cwd=project)
    assert ran.returncode == 2, ran.stderr
    (line, *_) = ran.stderr.splitlines()
    assert message in line
    assert "Traceback" not in ran.stderr
    assert not (project / "data" / "refused.txt").exists()
