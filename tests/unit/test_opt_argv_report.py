"""The wasm-opt command line, the size report, and the host invoker's error for a missing tool."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import BUILTIN_PROFILES, Profile, resolve_profile
from wasmforge.console import human_size
from wasmforge.errors import ConfigError, ToolchainError, ToolNotFoundError
from wasmforge.optimize.features import FeatureSet
from wasmforge.optimize.invoke import host_invoker
from wasmforge.optimize.report import OptimizeReport, Step, size_table
from wasmforge.optimize.wasm_opt import level_flag, passes_problem, runs_wasm_opt, wasm_opt_argv

SIMD = FeatureSet(used=frozenset({"simd"}), declared=frozenset({"sign-ext"}))


def release() -> Profile:
    config = WasmforgeConfig.model_validate(
        {"project": {"name": "p"}, "targets": {"t": {"kind": "wat", "source": "t.wat"}}}
    )
    return resolve_profile(config, "release")


def test_release_profile_argv() -> None:
    argv = wasm_opt_argv("in.wasm", "out.wasm", profile=release(), features=SIMD,
                         keep_debug_info=True)
    assert argv == ["wasm-opt", "in.wasm", "-o", "out.wasm", "--mvp-features", "--enable-sign-ext",
                    "--enable-simd", "-Os", "-g"]


def test_extra_passes_come_after_the_level() -> None:
    profile = dataclasses.replace(release(), opt_level="z", wasm_opt_passes=("--converge",))
    argv = wasm_opt_argv("a", "b", profile=profile, features=SIMD, keep_debug_info=False)
    assert argv[-2:] == ["-Oz", "--converge"]
    assert "-g" not in argv


@pytest.mark.parametrize(("level", "flag"), [(0, None), (1, "-O1"), (4, "-O4"), ("s", "-Os"),
                                             ("z", "-Oz")])
def test_level_flags(level: int | str, flag: str | None) -> None:
    assert level_flag(level) == flag  # type: ignore[arg-type]


def test_level_zero_without_passes_skips_wasm_opt() -> None:
    zero = dataclasses.replace(release(), opt_level=0)
    assert not runs_wasm_opt(zero)
    assert runs_wasm_opt(dataclasses.replace(zero, wasm_opt_passes=("--dce",)))
    assert not runs_wasm_opt(dataclasses.replace(release(), wasm_opt=False))
    assert not runs_wasm_opt(resolve_profile(
        WasmforgeConfig.model_validate({"project": {"name": "p"},
                                        "targets": {"t": {"kind": "wat", "source": "t.wat"}}}),
        "debug"))


@pytest.mark.parametrize("bad", ["-o", "--output=x.wasm", "-S", "extra.wasm", "-ofile"])
def test_passes_that_redirect_output_are_refused(bad: str) -> None:
    assert passes_problem([bad]) is not None
    profile = dataclasses.replace(release(), wasm_opt_passes=(bad,))
    with pytest.raises(ConfigError, match=r"^profile\.release\.wasm-opt-passes: "):
        wasm_opt_argv("a", "b", profile=profile, features=SIMD, keep_debug_info=False)


def test_ordinary_passes_are_accepted() -> None:
    assert passes_problem(["--converge", "--vacuum", "--inlining-optimizing", "-O3"]) is None


def test_release_defaults_strip_debug_and_producers_keep_names() -> None:
    builtin = BUILTIN_PROFILES["release"]
    assert builtin.wasm_opt
    assert builtin.strip_debug
    assert builtin.strip_producers
    assert builtin.strip_names is False


def report() -> OptimizeReport:
    before = {"total": 1000, "code": 400, "data": 100, "names": 50, "debug": 400, "custom": 20,
              "other": 30}
    after = {"total": 450, "code": 350, "data": 60, "names": 0, "debug": 0, "custom": 10,
             "other": 30}
    return OptimizeReport(label="m", before=before, after=after, features=SIMD,
                          steps=(Step("wasm-opt -Os", 450, "wasm-opt ..."),))


def test_report_as_dict() -> None:
    data = report().as_dict()
    assert data["size-before"] == 1000
    assert data["size-after"] == 450
    assert data["saved"] == 550
    assert data["ratio"] == 0.45
    assert data["sections-after"]["debug"] == 0
    assert data["features"]["enabled"] == ["sign-ext", "simd"]
    assert data["steps"] == [{"name": "wasm-opt -Os", "size-after": 450, "detail": "wasm-opt ..."}]


def test_size_table_rows() -> None:
    headers, rows = size_table(report())
    assert headers == ["section", "before", "after", "change"]
    assert rows[0] == ["code", "400 B", "350 B", "-12.5%"]
    assert ["names", "50 B", "0 B", "-100.0%"] in rows
    assert rows[-1] == ["total", "1000 B", "450 B", "-55.0%"]
    assert human_size(2048) == "2.0 KiB"


def test_host_invoker_names_the_missing_tool(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no wasm-opt on it
    with pytest.raises(ToolNotFoundError) as error:
        host_invoker()(["wasm-opt", "--version"], tmp_path)
    assert error.value.hint is not None
    assert "apt-get install binaryen" in error.value.hint


def test_host_invoker_reports_a_failing_tool(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match=r"^wasm-validate failed \(exit status 1\): "):
        host_invoker()(["wasm-validate", "missing.wasm"], tmp_path)
