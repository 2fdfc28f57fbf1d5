"""``wasmforge opt`` end to end: wasm-opt in the wasi-sdk image of the toolchain set (binaryen 120 in
debian-13, the default; 108 in debian-12) or the host's (``--runner local``, auto without an
engine); modules binaryen 108 refuses and 120 optimises, through ``opt`` and through a WAT target's
release build; the corpus through the release profile in every optimiser."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.integration.opt_support import (
    BINARYEN,
    BLOCK_PARAMS_WAT,
    SETS,
    TABLE_INIT_CALLS,
    TABLE_INIT_RESULTS,
    TABLE_INIT_WAT,
    Optimiser,
    assemble,
    need_engine,
    need_host_wasm_opt,
    run_exports,
)
from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import resolve_profile
from wasmforge.errors import ExitCode
from wasmforge.optimize.pipeline import optimize_module
from wasmforge.tools import wabt_tool, wasm_tools

pytestmark = pytest.mark.toolchain
CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def wasmforge(*args: str, cwd: Path, env: Mapping[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wasmforge", *args], cwd=cwd,
                          capture_output=True, text=True, check=False,
                          env=dict(env) if env is not None else None, timeout=600)


def without_engine(tmp: Path, **extra: str) -> dict[str, str]:
    """This environment with a Docker socket nobody answers on (and no CI, unless given)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "WASMFORGE_RUNNER")}
    return {**env, "DOCKER_HOST": f"unix://{tmp}/no-engine.sock", **extra}


def leftovers(directory: Path) -> list[Path]:
    return list(directory.glob(".wasmforge-opt-*"))


@pytest.fixture
def module(tmp_path: Path) -> Path:
    (tmp_path / "m.wat").write_text(
        '(module (func $inc (param i32) (result i32) local.get 0 i32.const 1 i32.add)'
        ' (func (export "twice") (param i32) (result i32) (call $inc (call $inc (local.get 0)))))')
    subprocess.run([wabt_tool("wat2wasm"), "--debug-names", tmp_path / "m.wat", "-o",
                    tmp_path / "m.wasm"], check=True)
    return tmp_path / "m.wasm"


def test_output_must_be_named(module: Path) -> None:
    done = wasmforge("opt", module.name, cwd=module.parent)
    assert done.returncode == ExitCode.USER_ERROR
    assert "name one with -o" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.docker
def test_input_is_not_overwritten_without_force(module: Path) -> None:
    need_engine()
    before = module.read_bytes()
    done = wasmforge("opt", "m.wasm", "-o", "m.wasm", cwd=module.parent)
    assert done.returncode == ExitCode.USER_ERROR
    assert "would overwrite the input" in done.stderr
    assert module.read_bytes() == before
    done = wasmforge("opt", "m.wasm", "-o", "m.wasm", "--force", "-Oz", "--strip-names",
                     cwd=module.parent)
    assert done.returncode == 0, done.stderr
    assert len(module.read_bytes()) < len(before)
    assert not leftovers(module.parent)


@pytest.mark.docker
def test_json_result_and_explicit_output_is_replaced(module: Path) -> None:
    need_engine()
    out = module.parent / "out.wasm"
    out.write_bytes(b"old")
    done = wasmforge("opt", "m.wasm", "-o", "out.wasm", "-O2", "--strip-names", "--json",
                     "--pass=--vacuum", cwd=module.parent)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["size-after"] == out.stat().st_size < result["size-before"]
    assert result["sections-after"]["names"] == 0
    assert result["sections-before"]["names"] > 0
    assert result["steps"][-1]["detail"].endswith("-O2 --vacuum")
    ran = result["wasm-opt"]
    assert ran["version"].startswith("wasm-opt version 120")
    assert (ran["binaryen"], ran["runner"], ran["toolchain-set"]) == ("120", "docker", "debian-13")
    assert ran["image"].startswith("wasmforge/wasi-sdk:")
    assert "wasm-opt: wasm-opt version 120" in done.stderr  # the human report says it too
    subprocess.run([wasm_tools(), "validate", out], check=True)
    assert not leftovers(module.parent)


@pytest.mark.docker
def test_set_debian_12_runs_binaryen_108(module: Path) -> None:
    need_engine()
    done = wasmforge("opt", "m.wasm", "-o", "out.wasm", "--set", "debian-12", "--json",
                     cwd=module.parent)
    assert done.returncode == 0, done.stderr
    ran = json.loads(done.stdout)["wasm-opt"]
    assert (ran["binaryen"], ran["toolchain-set"]) == ("108", "debian-12")
    assert "the debian-12 set's wasi-sdk image" in done.stderr


@pytest.mark.docker
def test_input_and_output_anywhere(tmp_path: Path, module: Path) -> None:
    """The input is read on the host and the output made in a new directory elsewhere; only a
    scratch dir next to the output is mounted, and it is gone afterwards."""
    need_engine()
    source_dir = tmp_path / "in"
    source_dir.mkdir()
    source = source_dir / "m.wasm"
    shutil.copy(module, source)
    source.chmod(0o640)
    out = tmp_path / "elsewhere" / "new" / "m.opt.wasm"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = wasmforge("opt", str(source), "-o", os.path.relpath(out, cwd), "-Oz", "--json",
                     cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["wasm-opt"]["binaryen"] == "120"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # the input's mode, readable by all
    assert run_exports(out, [("twice", (40,))]) == [42]
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.opt.wasm"]
    assert sorted(p.name for p in source_dir.iterdir()) == ["m.wasm"]
    assert not list(cwd.iterdir())


@pytest.mark.parametrize(("args", "message"), [
    (["-Ox"], "unknown optimisation level"),
    (["--pass=-o"], "--pass: '-o' changes the output file"),
    (["--set", "debian-11"], "--set: unknown toolchain set 'debian-11' (known: debian-13, d"),
    (["--runner", "podman"], "--runner: unknown runner 'podman'"),
])
def test_bad_arguments_are_one_line_errors(module: Path, args: list[str], message: str) -> None:
    done = wasmforge("opt", "m.wasm", "-o", "o.wasm", *args, cwd=module.parent)
    assert done.returncode == ExitCode.USER_ERROR
    assert message in done.stderr
    assert not (module.parent / "o.wasm").exists()


def test_a_bad_runner_variable_is_a_config_error(module: Path) -> None:
    done = wasmforge("opt", "m.wasm", "-o", "o.wasm", cwd=module.parent,
                     env={**os.environ, "WASMFORGE_RUNNER": "podman"})
    assert done.returncode == ExitCode.CONFIG_ERROR
    assert "WASMFORGE_RUNNER: unknown runner 'podman'" in done.stderr


def test_missing_wasm_opt_is_a_tool_error(module: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wasmforge", "opt", "m.wasm", "-o", "o.wasm",
                           "--runner", "local"],
                          cwd=module.parent, capture_output=True, text=True, check=False,
                          env={"PATH": str(module.parent)})
    assert done.returncode == ExitCode.TOOL_MISSING
    assert "apt-get install binaryen" in done.stderr
    assert not leftovers(module.parent)


def test_runner_local_uses_the_hosts_wasm_opt(module: Path) -> None:
    need_host_wasm_opt()
    host = subprocess.run(["wasm-opt", "--version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0].strip()
    done = wasmforge("opt", "m.wasm", "-o", "o.wasm", "--runner", "local", "--json",
                     cwd=module.parent)
    assert done.returncode == 0, done.stderr
    ran = json.loads(done.stdout)["wasm-opt"]
    assert ran == {"version": host, "binaryen": host.split()[2], "runner": "local",
                   "toolchain-set": None, "image": None}
    assert "on the host (not in a toolchain image)" in done.stderr


def test_auto_without_an_engine_uses_the_hosts_wasm_opt_and_says_so(module: Path) -> None:
    need_host_wasm_opt()
    done = wasmforge("opt", "m.wasm", "-o", "o.wasm", "--json", cwd=module.parent,
                     env=without_engine(module.parent))
    assert done.returncode == 0, done.stderr
    assert "no Docker engine answers: optimising with the host's tools, NOT in the pinned " \
           "containers" in done.stderr
    assert json.loads(done.stdout)["wasm-opt"]["runner"] == "local"


def test_auto_never_leaves_the_containers_in_ci(module: Path) -> None:
    done = wasmforge("opt", "m.wasm", "-o", "o.wasm", cwd=module.parent,
                     env=without_engine(module.parent, CI="true"))
    assert done.returncode == ExitCode.ENGINE_UNAVAILABLE
    assert "CI=true: runner auto does not fall back to host tools" in done.stderr
    assert not (module.parent / "o.wasm").exists()
    assert not leftovers(module.parent)


def test_nothing_to_optimise_needs_no_engine(module: Path) -> None:
    """-O0 without passes runs no tool: no runner is chosen, no container started."""
    done = wasmforge("opt", "m.wasm", "-o", "o.wasm", "-O0", "--strip-names", "--runner",
                     "docker", "--json", cwd=module.parent, env=without_engine(module.parent))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["wasm-opt"] is None
    assert result["sections-after"]["names"] == 0


@pytest.mark.parametrize("toolchain_set", SETS)
def test_table_init_through_opt(tmp_path: Path, toolchain_set: str) -> None:
    """binaryen 108 (debian-12) cannot parse table.init: the module is written unchanged, with a
    warning; binaryen 120 (debian-13) optimises it: smaller, valid, same results."""
    need_engine()
    source = assemble(tmp_path, TABLE_INIT_WAT, "ops")
    out = tmp_path / "out" / "ops.wasm"
    done = wasmforge("opt", str(source), "-o", str(out), "--set", toolchain_set, "--json",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["wasm-opt"]["binaryen"] == BINARYEN[toolchain_set]
    assert result["features"]["enabled"] == ["bulk-memory", "reference-types"]
    if toolchain_set == "debian-12":
        assert out.read_bytes() == source.read_bytes()
        assert result["steps"] == []
        assert len(result["notes"]) == 1
        note = result["notes"][0]
        assert note.startswith("wasm-opt skipped: binaryen cannot read this module (parse "
                               "exception: invalid code after misc prefix: 12")
        assert f"warning: {source}: {note}" in done.stderr
    else:
        assert result["notes"] == []
        assert [step["name"] for step in result["steps"]] == ["wasm-opt -Os"]
        assert result["size-after"] == out.stat().st_size < source.stat().st_size
        assert "warning" not in done.stderr
    subprocess.run([wasm_tools(), "validate", out], check=True)
    subprocess.run([wabt_tool("wasm-validate"), "--enable-all", out], check=True)
    assert run_exports(out, TABLE_INIT_CALLS) == TABLE_INIT_RESULTS


@pytest.mark.parametrize("toolchain_set", SETS)
def test_block_parameters_through_opt_are_kept_in_every_set(tmp_path: Path,
                                                            toolchain_set: str) -> None:
    """Binaryen 120 does not read blocks with parameters either: the warning path stays."""
    need_engine()
    source = assemble(tmp_path, BLOCK_PARAMS_WAT, "bp")
    done = wasmforge("opt", "bp.wasm", "-o", "out.wasm", "--set", toolchain_set, "--json",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["wasm-opt"]["binaryen"] == BINARYEN[toolchain_set]
    assert result["notes"][0].startswith("wasm-opt skipped: binaryen cannot read this module")
    assert "warning: bp.wasm: wasm-opt skipped" in done.stderr
    assert (tmp_path / "out.wasm").read_bytes() == source.read_bytes()


WAT_PROJECT = """[project]
name = "ops"

[toolchains]
set = "{set}"

[targets.ops]
kind = "wat"
source = "ops.wat"
"""


@pytest.mark.parametrize("toolchain_set", SETS)
def test_table_init_through_a_wat_targets_release_build(tmp_path: Path, toolchain_set: str) -> None:
    """A WAT target's release build optimises in its set's wasi-sdk image: with binaryen 108 the
    release module is the debug one (with a warning), with 120 it is smaller; both run the same."""
    need_engine()
    (tmp_path / "ops.wat").write_text(TABLE_INIT_WAT, encoding="utf-8")
    (tmp_path / "wasmforge.toml").write_text(WAT_PROJECT.format(set=toolchain_set),
                                             encoding="utf-8")
    built = {}
    for profile in ("debug", "release"):
        done = wasmforge("build", ".", f"--{profile}", "--no-cache", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        built[profile] = (json.loads(done.stdout)["targets"][0], done.stderr)
    debug = (tmp_path / "dist" / "debug" / "ops.wasm").read_bytes()
    release_path = tmp_path / "dist" / "release" / "ops.wasm"
    target, stderr = built["release"]
    report = target["optimize"]
    assert report["features"]["enabled"] == ["bulk-memory", "reference-types"]
    if toolchain_set == "debian-12":
        assert release_path.read_bytes() == debug
        assert report["steps"] == []
        assert report["notes"][0].startswith("wasm-opt skipped: binaryen cannot read this "
                                             "module (parse exception: invalid code after misc "
                                             "prefix: 12")
        assert f"warning: ops: {report['notes'][0]}" in stderr
    else:
        assert report["notes"] == []
        assert [step["name"] for step in report["steps"]] == ["wasm-opt -Os"]
        assert len(release_path.read_bytes()) < len(debug)
        assert report["sections-after"]["code"] < report["sections-before"]["code"]
    subprocess.run([wasm_tools(), "validate", release_path], check=True)
    subprocess.run([wabt_tool("wasm-validate"), "--enable-all", release_path], check=True)
    assert run_exports(release_path, TABLE_INIT_CALLS) == TABLE_INIT_RESULTS


def _config() -> WasmforgeConfig:
    return WasmforgeConfig.model_validate(
        {"project": {"name": "p"}, "targets": {"t": {"kind": "wat", "source": "t.wat"}}})


@pytest.mark.parametrize("source", sorted(CORPUS.glob("*.wat")), ids=lambda p: p.stem)
def test_corpus_through_the_release_profile(tmp_path: Path, source: Path,
                                            optimiser: Optimiser) -> None:
    module = tmp_path / "in.wasm"
    subprocess.run([wabt_tool("wat2wasm"), "--debug-names", source, "-o", module], check=True)
    out = optimiser.workdir / "out.wasm"
    report = optimize_module(module, out, resolve_profile(_config(), "release"),
                             invoke=optimiser.invoke, label=source.name)
    assert report.after["total"] <= report.before["total"]
    assert report.after["total"] == out.stat().st_size
    subprocess.run([wasm_tools(), "validate", out], check=True)
