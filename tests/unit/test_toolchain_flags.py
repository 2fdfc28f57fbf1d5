"""``[toolchains.wasi-sdk]`` and ``[toolchains.emscripten]`` flags: every target of the kind gets
them before its own, no other kind sees them, and a table that takes no flags says so."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from wasmforge.build.plan import ABSTRACT_LAYOUT, TargetPlan, plan_build
from wasmforge.config.load import load_config
from wasmforge.config.model import ToolchainsConfig, WasmforgeConfig
from wasmforge.config.resolve import resolve_profile
from wasmforge.errors import ConfigError
from wasmforge.kinds import IMAGE_KINDS
from wasmforge.toolchains.images import OVERRIDE_IMAGE, resolve_source

PINNED = "registry.example.com/c@sha256:" + "0" * 64
PROJECT = """[project]
name = "p"

[toolchains.wasi-sdk]
cflags = ["-Wall", "-O2", "@wasi.rsp"]
ldflags = ["-Wl,-z,stack-size=65536"]

[toolchains.emscripten]
cflags = ["-Wno-unknown-warning-option"]
ldflags = ["-sNODERAWFS=0"]

[targets.c]
kind = "wasi-sdk"
sources = ["a.c"]
cflags = ["-Wno-all"]
ldflags = ["-Wl,-z,stack-size=131072"]

[targets.made]
kind = "wasi-sdk"
command = "make"
artifact = "m.wasm"
ldflags = ["-lx"]

[targets.em]
kind = "emscripten"
environment = "node"
sources = ["a.c"]
cflags = ["-DEM"]

[targets.rs]
kind = "rust"
source = "main.rs"
"""


def _targets(tmp_path: Path, text: str = PROJECT, profile: str = "release"
             ) -> dict[str, TargetPlan]:
    for name in ("a.c", "main.rs", "wasi.rsp"):
        (tmp_path / name).write_text("\n")
    config = WasmforgeConfig.model_validate(tomllib.loads(text))
    plan = plan_build(tmp_path, config, resolve_profile(config, profile), ABSTRACT_LAYOUT)
    return {target.name: target for target in plan.targets}


def _error(tmp_path: Path, table: str) -> str:
    path = tmp_path / "wasmforge.toml"
    path.write_text(f'[project]\nname = "p"\n\n{table}\n\n[targets.a]\nkind = "wat"\n'
                    'source = "a.wat"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.message


def test_a_kinds_flags_come_before_each_targets_own(tmp_path: Path) -> None:
    c = _targets(tmp_path)["c"]
    compile_argv = c.action("compile a.c").steps[0].argv
    # clang takes the last of two contradicting flags: the target's -Wno-all wins over -Wall
    assert compile_argv.index("-Wall") < compile_argv.index("-Wno-all")
    assert "-O2" in compile_argv
    link_argv = c.action("link").steps[0].argv
    assert link_argv.index("-Wall") < link_argv.index("-Wno-all")
    assert link_argv.index("-Wl,-z,stack-size=65536") < link_argv.index(
        "-Wl,-z,stack-size=131072")
    assert "-O2" not in link_argv  # clang 16 would run wasm-opt itself (see wasi_sdk.py)


def test_a_response_file_in_a_kinds_flags_is_an_input(tmp_path: Path) -> None:
    c = _targets(tmp_path)["c"]
    assert "wasi.rsp" in c.action("compile a.c").sources
    assert "wasi.rsp" in c.action("link").sources


def test_a_build_command_gets_its_kinds_flags_in_cflags_and_ldflags(tmp_path: Path) -> None:
    env = dict(_targets(tmp_path)["made"].steps[0].env)
    assert "-Wall -O2 @wasi.rsp" in env["CFLAGS"]
    assert env["LDFLAGS"].endswith("-Wl,-z,stack-size=65536 -lx")


def test_flags_for_one_toolchain_do_not_reach_another(tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    em = targets["em"]
    words = [w for action in em.actions for step in action.steps for w in step.argv]
    assert "-Wall" not in words
    assert "-Wl,-z,stack-size=65536" not in words
    compile_argv = em.action("compile a.c").steps[0].argv
    assert compile_argv.index("-Wno-unknown-warning-option") < compile_argv.index("-DEM")
    c_words = [w for action in targets["c"].actions for step in action.steps for w in step.argv]
    assert "-Wno-unknown-warning-option" not in c_words
    rust_words = [w for action in targets["rs"].actions for step in action.steps for w in step.argv]
    assert not {"-Wall", "-Wno-unknown-warning-option"} & set(rust_words)


def test_an_emscripten_kinds_noderawfs_decides_for_its_node_targets(tmp_path: Path) -> None:
    em = _targets(tmp_path)["em"]
    link_argv = em.action("link").steps[0].argv
    assert "-sNODERAWFS=0" in link_argv
    assert "-sNODERAWFS=1" not in link_argv  # wasmforge's default would have come later and won
    assert not em.node_rawfs


def test_a_table_of_flags_alone_keeps_the_shipped_image(tmp_path: Path) -> None:
    config = WasmforgeConfig.model_validate(tomllib.loads(PROJECT))
    assert resolve_source("wasi-sdk", config, tmp_path).override is None
    pinned = PROJECT.replace('[toolchains.wasi-sdk]\n', f'[toolchains.wasi-sdk]\nimage = "{PINNED}"\n')
    config = WasmforgeConfig.model_validate(tomllib.loads(pinned))
    assert resolve_source("wasi-sdk", config, tmp_path).override == OVERRIDE_IMAGE
    assert config.toolchains.c_flags("wasi-sdk")[0] == ["-Wall", "-O2", "@wasi.rsp"]


def test_there_is_a_table_for_each_toolchain_image() -> None:
    tables = set(ToolchainsConfig.model_fields) - {"set"}
    assert tables == {k.replace("-", "_") for k in IMAGE_KINDS}
    assert ToolchainsConfig().overrides() == {}


@pytest.mark.parametrize(("table", "message"), [
    ('[toolchains.rust]\ncflags = ["-O2"]',
     ("wasmforge.toml:5: toolchains.rust.cflags: unknown key: only [toolchains.wasi-sdk] and "
      "[toolchains.emscripten] take cflags and ldflags ([toolchains.rust] takes rustflags)")),
    ("[toolchains.rust]\nldflags = []", "toolchains.rust.ldflags: unknown key: only"),
    ('[toolchains.wat]\ncflags = ["-O2"]',
     "wasmforge.toml:4: toolchains.wat: unknown key: WAT has no toolchain image"),
    ('[toolchains.wasi-sdk]\ncflag = ["-O2"]',
     "wasmforge.toml:5: toolchains.wasi-sdk.cflag: unknown key (did you mean 'cflags'?)"),
    ('[toolchains.emscripten]\ncflags = "-O2"',
     "wasmforge.toml:5: toolchains.emscripten.cflags: Input should be a valid list"),
    ('[toolchains.emscripten]\nldflags = [1]',
     "toolchains.emscripten.ldflags.0: Input should be a valid string"),
])
def test_flags_a_toolchain_does_not_take_are_config_errors(
    tmp_path: Path, table: str, message: str
) -> None:
    got = _error(tmp_path, table)
    assert message in got
    assert "\n" not in got


def test_toolchains_rust_rustflags_come_before_the_targets(tmp_path: Path) -> None:
    from tests.unit.test_plan import CARGO_TOML, _files, _plan

    _files(tmp_path, "app/Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "one.rs")
    plan = _plan(tmp_path, """
[toolchains.rust]
rustflags = ["-C", "target-feature=+bulk-memory"]
[targets.app]
kind = "rust"
path = "app"
rustflags = ["-C", "target-feature=-bulk-memory"]
[targets.one]
kind = "rust"
source = "one.rs"
""")
    app, one = plan.targets
    encoded = dict(app.steps[-1].env)["CARGO_ENCODED_RUSTFLAGS"].split("\x1f")
    assert encoded[-4:] == ["-C", "target-feature=+bulk-memory", "-C", "target-feature=-bulk-memory"]
    assert "target-feature=+bulk-memory" in one.steps[0].argv
