"""``wasmforge doctor`` without an engine: it says so, exits 6, and checks the rest anyway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_doctor_without_an_engine_fails_saying_why(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = subprocess.run([sys.executable, "-m", "wasmforge", "doctor", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=60, env=env)
    assert done.returncode == 6, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["engine"]["status"] == "fail"
    assert "no Docker engine answers" in checks["engine"]["detail"]
    assert "start the Docker daemon" in checks["engine"]["fix"]
    assert checks["cache"]["status"] in ("ok", "warn")  # the rest is still looked at
    assert "error: 1 check(s) failed: engine" in done.stderr


def test_doctor_looks_at_a_projects_registries(tmp_path: Path) -> None:
    (tmp_path / "wasmforge.toml").write_text(
        '[project]\nname = "p"\n[cache]\nfrom = "127.0.0.1:5999/team/cache"\n'
        '[targets.t]\nkind = "wat"\nsource = "m.wat"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASMFORGE_REGISTRY")}
    env.update(DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock", DOCKER_CONFIG=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "wasmforge", "doctor", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=60, env=env)
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["credentials: 127.0.0.1:5999"]["status"] == "warn"
    assert "space: the output dir" in checks
