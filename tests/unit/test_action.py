"""The composite GitHub Action (action.yml): its inputs and outputs, and its build step run for
real with bash, as a runner would, on a small project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WAT = '(module (func (export "_start")))\n'


def _action() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_action_says_what_it_takes_and_gives() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert {"path", "args", "cache-from", "cache-to", "cache-read-only", "registry-username",
            "registry-password", "version"} <= set(action["inputs"])
    assert {"report", "digests", "from-cache"} <= set(action["outputs"])


def test_the_build_step_builds_and_reports(tmp_path: Path) -> None:
    step = next(s for s in _action()["runs"]["steps"] if s.get("id") == "build")
    project = tmp_path / "project"
    project.mkdir()
    (project / "m.wat").write_text(WAT)
    (project / "wasmforge.toml").write_text(
        '[project]\nname = "p"\n[targets.m]\nkind = "wat"\nsource = "m.wat"\n'
        'package = { format = "image" }\n')
    outputs = tmp_path / "outputs"
    env = {**os.environ, "GITHUB_OUTPUT": str(outputs), "RUNNER_TEMP": str(tmp_path),
           # what the step's env: block gives, for these inputs
           "BUILD_ARGS": "--runner local", "WASMFORGE_CACHE_FROM": "", "WASMFORGE_CACHE_TO": "",
           "WASMFORGE_CACHE_READ_ONLY": "0", "WASMFORGE_REGISTRY_USERNAME": "",
           "WASMFORGE_REGISTRY_PASSWORD": "", "PATH": f"{Path(sys.executable).parent}:"
           f"{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=project, env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    given = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    report = json.loads(Path(given["report"]).read_text())
    assert [t["name"] for t in report["targets"]] == ["m"]
    assert json.loads(given["digests"])["m"].startswith("sha256:")
    assert json.loads(given["from-cache"]) == {"m": None}
