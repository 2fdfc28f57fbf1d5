"""``wasmforge build`` on the command line: flags, errors and the JSON result (WAT targets only, so
no Docker and no compiler are needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wasmforge.errors import ExitCode

WAT = '(module (func (export "_start")))\n'


def build(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wasmforge", "build", *map(str, args)], capture_output=True,
        text=True, cwd=cwd, check=False,
        env={"PATH": "/usr/bin:/bin", "CI": "true",
             "WASMFORGE_CACHE_DIR": os.environ["WASMFORGE_CACHE_DIR"]},  # the test run's own
    )


def _project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "m.wat").write_text(WAT)
    (tmp_path / "wasmforge.toml").write_text(
        f'[project]\nname = "cli"\n\n[targets.m]\nkind = "wat"\nsource = "m.wat"\n{extra}')
    return tmp_path


def test_json_result_on_stdout_summary_on_stderr(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = build(project, "--release", "--json", "--runner", "local")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["profile"] == "release"
    assert result["runner"] == "local"
    (target,) = result["targets"]
    assert target["name"] == "m"
    assert target["exec_model"] == "command"
    assert "target" in done.stderr
    assert "m.wasm" in done.stderr
    assert (project / "dist" / "release" / "m.wasm").is_file()


def test_out_dir_and_default_path(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = build("-o", tmp_path / "elsewhere", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "elsewhere" / "debug" / "m.wasm").is_file()


def test_conflicting_profiles_are_a_user_error(tmp_path: Path) -> None:
    done = build(_project(tmp_path), "--release", "--debug")
    assert done.returncode == ExitCode.USER_ERROR
    assert done.stderr.strip() == "error: --release and --debug contradict each other: give one"


def test_unknown_runner_and_target(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = build(project, "--runner", "podman")
    assert done.returncode == ExitCode.USER_ERROR
    assert "unknown runner 'podman'" in done.stderr
    done = build(project, "--target", "nope")
    assert done.returncode == ExitCode.USER_ERROR  # a bad argument: the file is fine
    assert "no target named 'nope'" in done.stderr


def test_missing_config_is_a_config_error(tmp_path: Path) -> None:
    done = build(tmp_path)
    assert done.returncode == ExitCode.CONFIG_ERROR
    assert "no wasmforge.toml" in done.stderr


def test_bad_source_names_the_key(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "m.wat").unlink()
    done = build(project)
    assert done.returncode == ExitCode.CONFIG_ERROR
    assert done.stderr.startswith("error: targets.m.source: 'm.wat': no such file")
    assert "Traceback" not in done.stderr


def test_assembler_error_exits_5_with_the_line(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "m.wat").write_text("(module\n  (func (result i32)\n    (i64.const 1)))\n")
    done = build(project)
    assert done.returncode == ExitCode.TOOLCHAIN_FAILED
    assert "m.wat:3:" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: target 'm': assembly failed (wat2wasm, exit status 1)")
    assert not (project / "dist").exists()


def test_print_targets_and_shards_build_nothing(tmp_path: Path) -> None:
    from wasmforge.commands.build import shard_of

    targets = tuple(f"t{n}" for n in range(7))
    slices = [shard_of(targets, f"{k}/3") for k in (1, 2, 3)]
    assert slices == [("t0", "t3", "t6"), ("t1", "t4"), ("t2", "t5")]
    assert sorted(t for s in slices for t in s) == sorted(targets)  # each target once
    extra = "".join(f'[targets.x{n}]\nkind = "wat"\nsource = "m.wat"\noutput = "x{n}.wasm"\n'
                    for n in range(3))
    project = _project(tmp_path, extra)
    done = build(project, "--print-targets", "--shard", "2/2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"targets": [
        {"name": "x0", "kind": "wat", "toolchain": "wabt"},
        {"name": "x2", "kind": "wat", "toolchain": "wabt"}]}
    assert not (project / "dist").exists()
    done = build(project, "--shard", "3/2")
    assert done.returncode == ExitCode.USER_ERROR
    assert "--shard '3/2'" in done.stderr
