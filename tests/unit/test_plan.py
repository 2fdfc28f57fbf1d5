"""The build plan: what each target kind runs, decided without running anything."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from wasmforge.build.plan import (
    ABSTRACT_LAYOUT,
    HOST_TOOLCHAIN,
    OPTIMIZED_DIR,
    BuildPlan,
    TargetPlan,
    plan_build,
)
from wasmforge.config.model import WasmforgeConfig
from wasmforge.config.resolve import resolve_profile
from wasmforge.errors import ConfigError
from wasmforge.runner.base import Layout

# What containers see, and what cache keys are made of: the project at /src, /out/<target>.
CONTAINER = ABSTRACT_LAYOUT


def _config(text: str) -> WasmforgeConfig:
    return WasmforgeConfig.model_validate(tomllib.loads('[project]\nname = "p"\n' + text))


def _plan(
    root: Path, text: str, profile: str = "debug", layout: Layout = CONTAINER,
    host_layout: Layout | None = None,
) -> BuildPlan:
    config = _config(text)
    return plan_build(root, config, resolve_profile(config, profile), layout,
                      host_layout=host_layout)


def _only(plan: BuildPlan) -> TargetPlan:
    (target,) = plan.targets
    return target


def _files(root: Path, *names: str, text: str = "int x;\n") -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


C_TARGET = """
[targets.hello]
kind = "wasi-sdk"
sources = ["src/*.c"]
include-dirs = ["include"]
defines = ["NAME=\\"x y\\"", "DEBUG"]
cflags = ["-Wall"]
libs = ["m"]
"""


def test_c_sources_compile_one_by_one_then_link(tmp_path: Path) -> None:
    _files(tmp_path, "src/b.c", "src/a.c", "include/x.h")
    target = _only(_plan(tmp_path, C_TARGET))
    # globbed and sorted: the command lines, and with them the module, do not depend on the disk
    compile_a, compile_b, link = target.actions
    assert [a.name for a in target.actions] == ["compile src/a.c", "compile src/b.c", "link"]
    (step,) = compile_a.steps
    assert step.argv == (
        "clang", "--target=wasm32-wasip1", "-O0", "-g",
        "-ffile-prefix-map=/src=.", "-ffile-prefix-map=/out/hello=/out",
        "-I/src/include", '-DNAME="x y"', "-DDEBUG", "-Wall",
        "-MD", "-MF", "/out/hello/.wasmforge/obj/src/a.c.d",
        "-c", "/src/src/a.c", "-o", "/out/hello/.wasmforge/obj/src/a.c.o",
    )
    assert step.cwd == "/src"
    assert compile_a.sources == ("src/a.c",)
    assert compile_a.produces == (".wasmforge/obj/src/a.c.o",)
    assert compile_a.depfiles == (".wasmforge/obj/src/a.c.d",)
    assert compile_b.sources == ("src/b.c",)
    assert link.steps[0].argv == (
        "clang", "--target=wasm32-wasip1", "-g",
        "-ffile-prefix-map=/src=.", "-ffile-prefix-map=/out/hello=/out", "-Wall",
        "/out/hello/.wasmforge/obj/src/a.c.o", "/out/hello/.wasmforge/obj/src/b.c.o",
        "-lm", "-Wl,--trace", "-o", "/out/hello/hello.wasm",
    )
    assert link.after == ("compile src/a.c", "compile src/b.c")
    assert link.consumes == (".wasmforge/obj/src/a.c.o", ".wasmforge/obj/src/b.c.o")
    assert link.trace
    assert target.toolchain == "wasi-sdk"
    assert target.main_module == "hello.wasm"
    assert [(o.produced, o.name) for o in target.outputs] == [("hello.wasm", "hello.wasm")]
    assert target.inputs == ("src/a.c", "src/b.c")
    assert not target.js_glue
    assert not target.optimize  # the debug profile runs no wasm-opt


def test_release_plans_an_optimize_action_over_the_linked_module(tmp_path: Path) -> None:
    _files(tmp_path, "src/a.c", "include/x.h")
    target = _only(_plan(tmp_path, C_TARGET, profile="release"))
    optimize = target.actions[-1]
    assert optimize.kind == "optimize"
    assert optimize.toolchain == "wasi-sdk"  # the pinned binaryen of the target's own image
    assert optimize.consumes == ("hello.wasm",)
    assert optimize.produces == (f"{OPTIMIZED_DIR}/hello.wasm",)
    assert optimize.after == ("link",)
    assert ("opt-level", "'s'") in optimize.params
    assert target.outputs[0].produced == f"{OPTIMIZED_DIR}/hello.wasm"
    assert target.outputs[0].name == "hello.wasm"


def test_link_inputs_named_by_flags_are_declared(tmp_path: Path) -> None:
    _files(tmp_path, "a.c", "lib/libx.a", "exports.txt")
    target = _only(_plan(tmp_path, """
[targets.t]
kind = "wasi-sdk"
sources = ["a.c"]
ldflags = ["-Llib", "-Wl,--export-file=exports.txt", "-Wl,--no-entry"]
libs = ["x"]
"""))
    link = target.action("link")
    assert link.sources == ("exports.txt",)
    assert link.trees == ("lib",)


def test_response_files_are_inputs_of_every_compile_and_of_the_link(tmp_path: Path) -> None:
    # clang reads @file as more flags: editing it changes every object and the module.
    _files(tmp_path, "a.c", "b.c", "cflags.rsp", "ldflags.rsp", "profiles/x.prof")
    target = _only(_plan(tmp_path, """
[targets.t]
kind = "wasi-sdk"
sources = ["a.c", "b.c"]
cflags = ["@cflags.rsp", "-fprofile-use=profiles"]
ldflags = ["@ldflags.rsp"]
"""))
    for name in ("compile a.c", "compile b.c"):
        action = target.action(name)
        assert action.sources == (name.removeprefix("compile "), "cflags.rsp")
        assert action.trees == ("profiles",)
    assert target.action("link").sources == ("cflags.rsp", "ldflags.rsp")


def test_emscripten_response_files_are_compile_inputs(tmp_path: Path) -> None:
    _files(tmp_path, "a.c", "flags.rsp", "exports.txt")
    target = _only(_plan(tmp_path, """
[targets.t]
kind = "emscripten"
sources = ["a.c"]
cflags = ["@flags.rsp"]
ldflags = ["-sEXPORTED_FUNCTIONS=@exports.txt"]
"""))
    assert target.action("compile a.c").sources == ("a.c", "flags.rsp")
    # emcc reads a setting's value from @file too.
    assert target.action("link").sources == ("flags.rsp", "exports.txt")


def test_the_project_itself_is_no_output_dir(tmp_path: Path) -> None:
    _files(tmp_path, "a.c")
    config = _config('[targets.t]\nkind = "wasi-sdk"\nsources = ["a.c"]\n')
    with pytest.raises(ConfigError, match="the output directory is the project itself"):
        plan_build(tmp_path, config, resolve_profile(config, "debug"), CONTAINER,
                   out_dir=tmp_path / "sub" / "..")


def test_release_profile_optimises_for_size_without_debug_info(tmp_path: Path) -> None:
    _files(tmp_path, "src/a.c", "include/x.h")
    argv = _only(_plan(tmp_path, C_TARGET, profile="release")).steps[0].argv
    assert "-Os" in argv
    assert "-g" not in argv
    assert "-O0" not in argv


def test_the_link_gets_no_optimisation_level(tmp_path: Path) -> None:
    # clang 16 reads a level at the link only to run wasm-opt itself, which drops the name section:
    # the level goes to the compiles, and wasm-opt is the optimize action's.
    _files(tmp_path, "a.c")
    target = _only(_plan(tmp_path, """
[targets.t]
kind = "wasi-sdk"
sources = ["a.c"]
cflags = ["-O2", "-flto", "-Ofast", "--optimize=3", "-ObjC"]
ldflags = ["-Wl,--lto-O3"]
""", profile="release"))
    compile_argv = target.action("compile a.c").steps[0].argv
    levels = [a for a in compile_argv if a.startswith(("-O", "--optimize")) and a != "-ObjC"]
    assert levels == ["-Os", "-O2", "-Ofast", "--optimize=3"]  # the compiles get every level
    link_argv = target.action("link").steps[0].argv
    assert [a for a in link_argv if a.startswith(("-O", "--optimize"))] == ["-ObjC"]
    assert "-flto" in link_argv
    assert "-Wl,--lto-O3" in link_argv
    assert target.action("optimize").kind == "optimize"


@pytest.mark.parametrize(("profile_toml", "profile", "expected"), [
    ("", "release", True),  # names kept, no -g: emcc must be told
    ("", "debug", False),  # -g keeps names (and DWARF) already
    ('[profile.tiny]\ninherits = "release"\nstrip-names = true\n', "tiny", False),
])
def test_emscripten_keeps_names_when_the_profile_does(
    tmp_path: Path, profile_toml: str, profile: str, expected: bool
) -> None:
    # emcc's output is not stripped again by wasmforge: what emcc keeps is what ships.
    _files(tmp_path, "main.c")
    target = _only(_plan(tmp_path, profile_toml + """
[targets.sa]
kind = "emscripten"
environment = "standalone"
sources = ["main.c"]
""", profile=profile))
    assert ("--profiling-funcs" in target.action("link").steps[0].argv) == expected
    assert "--profiling-funcs" not in target.action("compile main.c").steps[0].argv


def test_cxx_sources_use_clangxx_without_exceptions(tmp_path: Path) -> None:
    _files(tmp_path, "main.cpp", "util.c")
    target = _only(_plan(tmp_path, """
[targets.app]
kind = "wasi-sdk"
sources = ["main.cpp", "util.c"]
"""))
    argv = target.steps[0].argv
    assert argv[0] == "clang++"
    assert "-fno-exceptions" in argv


def test_reactor_exports_its_functions(tmp_path: Path) -> None:
    _files(tmp_path, "lib.c")
    argv = _only(_plan(tmp_path, """
[targets.lib]
kind = "wasi-sdk"
sources = ["lib.c"]
exec-model = "reactor"
exports = ["add", "fib"]
""")).action("link").steps[0].argv
    assert "-mexec-model=reactor" in argv
    assert argv.index("-Wl,--export=add") < argv.index("-Wl,--export=fib")


@pytest.mark.parametrize(("body", "message"), [
    ('sources = ["lib.c"]\nexports = ["add"]', "targets.t.exports: only a reactor"),
    ('sources = ["src/*.c"]', "targets.t.sources: 'src/*.c' matches no file"),
    ('sources = ["nope.c"]', "targets.t.sources: 'nope.c': no such file"),
    ('sources = ["../outside.c"]', "must be a path inside the project"),
    ("", "targets.t: needs 'sources'"),
    ('command = "make"', "targets.t.artifact: required with 'command'"),
    ('sources = ["lib.c"]\nartifact = "x.wasm"', "only used together with 'command'"),
    ('sources = ["lib.c"]\ninclude-dirs = ["missing"]', "include-dirs: 'missing': no such dir"),
    ('sources = ["lib.c"]\noutput = "sub/x.wasm"', "must be a plain file name"),
])
def test_wasi_sdk_config_mistakes_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    _files(tmp_path, "lib.c")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("*", r"\*")):
        _plan(tmp_path, f'[targets.t]\nkind = "wasi-sdk"\n{body}\n')


def test_build_command_gets_the_toolchain_in_its_environment(tmp_path: Path) -> None:
    target = _only(_plan(tmp_path, """
[targets.made]
kind = "wasi-sdk"
command = "make OUT=$WASMFORGE_OUT"
artifact = "build/app.wasm"
env = { EXTRA = "1" }
"""))
    (step,) = target.steps
    assert step.argv == ("sh", "-c", "make OUT=$WASMFORGE_OUT")
    (action,) = target.actions
    assert action.trees == (".",)  # a build command may read anything in its project
    env = dict(step.env)
    assert env["WASMFORGE_OUT"] == "/out/made"
    assert env["CC"] == "clang"
    assert env["CXX"] == "clang++"
    assert "--target=wasm32-wasip1" in env["CFLAGS"]
    assert "-ffile-prefix-map=/src=." in env["CFLAGS"]
    assert "-fno-exceptions" in env["CXXFLAGS"]
    assert env["EXTRA"] == "1"
    assert target.outputs[0].produced == "build/app.wasm"
    assert target.main_module == "made.wasm"


def test_build_command_as_a_list_runs_without_a_shell(tmp_path: Path) -> None:
    target = _only(_plan(tmp_path, """
[targets.made]
kind = "wasi-sdk"
command = ["cmake", "--build", "b"]
artifact = "b/app.wasm"
"""))
    assert target.steps[0].argv == ("cmake", "--build", "b")


CARGO_TOML = """
[package]
name = "my-app"
version = "0.1.0"
"""


def test_cargo_package_with_lock_builds_in_place_locked(tmp_path: Path) -> None:
    _files(tmp_path, "app/Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "app/Cargo.lock", text="version = 3\n")
    target = _only(_plan(tmp_path, """
[targets.app]
kind = "rust"
path = "app"
features = ["fast", "small"]
rustflags = ["-C", "target-feature=+simd128"]
""", profile="release"))
    (step,) = target.steps
    assert step.argv == (
        "cargo", "build", "--offline", "--locked", "--target", "wasm32-wasip1", "--release",
        "--bin", "my-app", "--features", "fast,small",
    )
    assert step.cwd == "/src/app"
    env = dict(step.env)
    assert env["CARGO_TARGET_DIR"] == "/out/app/cargo-target"
    assert env["CARGO_PROFILE_RELEASE_OPT_LEVEL"] == "s"
    assert env["CARGO_PROFILE_RELEASE_DEBUG"] == "false"
    assert env["CARGO_ENCODED_RUSTFLAGS"].split("\x1f") == [
        "--remap-path-prefix=/src=.", "--remap-path-prefix=/out/app=/out",
        "-C", "target-feature=+simd128",
    ]
    build = target.action("build")
    assert build.produces == ("cargo-target/wasm32-wasip1/release/my-app.wasm",)
    assert build.depfiles == ("cargo-target/wasm32-wasip1/release/my-app.d",)
    # the whole package is the input, but not Cargo's own build dir in it
    assert build.trees == ("app",)
    assert build.tree_excludes == ("app/target",)
    assert target.inputs == ("app",)


def test_cargo_copy_leaves_out_the_output_dir(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    config = _config('[targets.app]\nkind = "rust"\n')
    plan = plan_build(tmp_path, config, resolve_profile(config, "debug"), CONTAINER,
                      out_dir=tmp_path / "dist")
    copy = plan.targets[0].steps[0]
    assert "--exclude=./dist" in copy.argv  # else the copy would contain itself


def test_cargo_package_without_lock_is_built_from_a_copy(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    target = _only(_plan(tmp_path, '[targets.app]\nkind = "rust"\n'))
    copy, build = target.steps
    assert copy.argv[:2] == ("sh", "-c")
    assert copy.argv[3:7] == ("copy", "/src", "/out/app/cargo-src", "--exclude=./target")
    assert "--exclude=.wasmforge-build-*" in copy.argv
    assert build.cwd == "/out/app/cargo-src"
    assert "--locked" not in build.argv
    assert "--release" not in build.argv
    assert dict(build.env)["CARGO_PROFILE_DEV_DEBUG"] == "true"
    assert target.outputs[0].produced == "cargo-target/wasm32-wasip1/debug/my-app.wasm"


def test_cargo_configs_above_the_package_are_inputs(tmp_path: Path) -> None:
    _files(tmp_path, "app/Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, ".cargo/config.toml", "app/.cargo/config.toml", text="[build]\n")
    target = _only(_plan(tmp_path, '[targets.app]\nkind = "rust"\npath = "app"\n'))
    assert target.action("build").sources == ("app/.cargo/config.toml", ".cargo/config.toml")


def test_cargo_configs_that_are_not_there_are_noted(tmp_path: Path) -> None:
    # One appearing later changes the build: the no-op check must look for it.
    _files(tmp_path, "app/Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, ".cargo/config.toml", text="[build]\n")
    plan = _plan(tmp_path, '[targets.app]\nkind = "rust"\npath = "app"\n')
    assert plan.absent == (".cargo/config", "app/.cargo/config", "app/.cargo/config.toml")


def test_cargo_cdylib_is_the_library_with_underscores(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    target = _only(_plan(tmp_path, '[targets.lib]\nkind = "rust"\ncrate-type = "cdylib"\n'))
    assert "--lib" in target.steps[-1].argv
    assert target.outputs[0].produced.endswith("/my_app.wasm")


def test_cargo_package_with_several_binaries_needs_bin(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml",
           text=CARGO_TOML + '[[bin]]\nname = "one"\n[[bin]]\nname = "two"\n')
    with pytest.raises(ConfigError, match=r"several binaries \(one, two\): name one"):
        _plan(tmp_path, '[targets.app]\nkind = "rust"\n')
    target = _only(_plan(tmp_path, '[targets.app]\nkind = "rust"\nbin = "two"\n'))
    assert target.outputs[0].produced.endswith("/two.wasm")


def test_cargo_package_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"targets\.app\.path: .*no Cargo\.toml"):
        _plan(tmp_path, '[targets.app]\nkind = "rust"\n')


def test_single_rust_file_uses_rustc(tmp_path: Path) -> None:
    _files(tmp_path, "src/main.rs", text="fn main() {}\n")
    target = _only(_plan(tmp_path, '[targets.one]\nkind = "rust"\nsource = "src/main.rs"\n'))
    (step,) = target.steps
    assert step.argv == (
        "rustc", "--edition", "2021", "--target", "wasm32-wasip1", "--crate-type", "bin",
        "-C", "linker=wasm-ld-19",
        "-C", "opt-level=0", "-C", "debuginfo=2",
        "--remap-path-prefix=/src=.", "--remap-path-prefix=/out/one=/out",
        "--emit=dep-info=/out/one/one.d,link=/out/one/one.wasm", "/src/src/main.rs",
    )
    assert target.actions[0].depfiles == ("one.d",)  # the modules rustc read


def test_emscripten_web_page_gives_js_wasm_and_html(tmp_path: Path) -> None:
    _files(tmp_path, "page.c")
    target = _only(_plan(tmp_path, """
[targets.page]
kind = "emscripten"
sources = ["page.c"]
html = true
exports = ["main", "square"]
settings = { ALLOW_MEMORY_GROWTH = true, INITIAL_MEMORY = 1048576 }
"""))
    compile_page, link = target.actions
    compile_argv = compile_page.steps[0].argv
    assert compile_argv[0] == "emcc"
    assert compile_argv[-4:] == ("-c", "/src/page.c", "-o", "/out/page/.wasmforge/obj/page.c.o")
    # settings can change how sources compile (exceptions, threads): they go to both
    assert "-sALLOW_MEMORY_GROWTH=1" in compile_argv
    assert "-sENVIRONMENT=web" not in compile_argv
    argv = link.steps[0].argv
    assert argv[0] == "emcc"
    assert "/out/page/.wasmforge/obj/page.c.o" in argv
    assert "-sENVIRONMENT=web" in argv
    assert "-sEXPORTED_FUNCTIONS=_main,_square" in argv
    assert "-sALLOW_MEMORY_GROWTH=1" in argv
    assert "-sINITIAL_MEMORY=1048576" in argv
    assert "-sMINIFY_HTML=0" in argv  # Debian's emcc cannot minify HTML
    assert argv[-2:] == ("-o", "/out/page/page.html")
    assert link.produces == ("page.js", "page.wasm", "page.html")
    assert [o.name for o in target.outputs] == ["page.js", "page.wasm", "page.html"]
    assert target.main_module == "page.wasm"
    assert target.js_glue
    assert dict(target.steps[0].env)["NODE_PATH"] == "/usr/share/nodejs"
    assert not target.optimize  # emcc already ran binaryen


NODE_TOOL = """
[targets.tool]
kind = "emscripten"
environment = "node"
sources = ["main.c"]
output = "cli.js"
optimize = true
"""


def test_emscripten_node_hides_fetch_from_the_glue(tmp_path: Path) -> None:
    """emcc 3.1.6 (debian-12) fetch()es the .wasm under Node, which cannot fetch file paths."""
    _files(tmp_path, "main.c")
    target = _only(_plan(tmp_path, '[toolchains]\nset = "debian-12"\n' + NODE_TOOL,
                         profile="release"))
    step = target.action("link").steps[0]
    shim_path, shim_text = step.files[0]
    assert step.argv[step.argv.index("--pre-js") + 1] == f"/out/tool/{shim_path}"
    assert "var fetch" in shim_text
    assert [o.name for o in target.outputs] == ["cli.js", "cli.wasm"]
    assert target.optimize  # asked for explicitly (emcc runs binaryen itself otherwise)


def test_emscripten_3_1_69_node_glue_needs_no_fetch_shim(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    target = _only(_plan(tmp_path, NODE_TOOL, profile="release"))
    step = target.action("link").steps[0]
    assert "--pre-js" not in step.argv
    assert step.files == ()


def test_emscripten_standalone_is_a_wasi_module(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    target = _only(_plan(tmp_path, """
[targets.sa]
kind = "emscripten"
environment = "standalone"
sources = ["main.c"]
"""))
    link = target.action("link").steps[0]
    assert "-sSTANDALONE_WASM" in link.argv
    assert link.argv[-2:] == ("-o", "/out/sa/sa.wasm")
    assert not target.js_glue
    assert [o.name for o in target.outputs] == ["sa.wasm"]


def test_emscripten_html_needs_the_web(tmp_path: Path) -> None:
    _files(tmp_path, "main.c")
    with pytest.raises(ConfigError, match=r"targets\.x\.html"):
        _plan(tmp_path, '[targets.x]\nkind = "emscripten"\nenvironment = "node"\n'
                        'sources = ["main.c"]\nhtml = true\n')


def test_wat_runs_on_the_host_whatever_the_runner(tmp_path: Path) -> None:
    _files(tmp_path, "m.wat", text="(module)")
    host = Layout(src=str(tmp_path), out_base="/scratch")
    target = _only(_plan(tmp_path, """
[targets.text]
kind = "wat"
source = "m.wat"
features = ["threads"]
""", host_layout=host))
    assert target.toolchain == HOST_TOOLCHAIN
    assert target.steps[0].argv == (
        "wat2wasm", f"{tmp_path}/m.wat", "--enable-threads", "--debug-names",
        "-o", "/scratch/text/text.wasm")


def test_host_layout_gives_each_target_its_own_dir(tmp_path: Path) -> None:
    _files(tmp_path, "src/a.c", "include/x.h")
    layout = Layout(src=str(tmp_path), out_base="/tmp/scratch")
    argv = _only(_plan(tmp_path, C_TARGET, layout=layout)).action("link").steps[0].argv
    assert f"-ffile-prefix-map={tmp_path}=." in argv
    assert "-ffile-prefix-map=/tmp/scratch/hello=/out" in argv
    assert argv[-1] == "/tmp/scratch/hello/hello.wasm"


def test_two_targets_writing_one_file_is_an_error_naming_both(tmp_path: Path) -> None:
    _files(tmp_path, "a.c", "m.wat")
    text = """
[targets.first]
kind = "wasi-sdk"
sources = ["a.c"]
output = "app.wasm"

[targets.second]
kind = "wat"
source = "m.wat"
output = "app.wasm"
"""
    with pytest.raises(ConfigError, match=r"targets\.first and targets\.second both write 'app\.wasm'"):
        _plan(tmp_path, text)
    config = _config(text)
    # Building only one of them still refuses: it would overwrite the other's earlier output.
    with pytest.raises(ConfigError, match="both write"):
        plan_build(tmp_path, config, resolve_profile(config, "debug"), CONTAINER, ("second",))


def test_emscripten_glue_names_clash_with_a_module_of_the_same_stem(tmp_path: Path) -> None:
    _files(tmp_path, "a.c", "m.wat")
    with pytest.raises(ConfigError, match=r"both write 'web\.wasm'"):
        _plan(tmp_path, """
[targets.web]
kind = "emscripten"
sources = ["a.c"]

[targets.text]
kind = "wat"
source = "m.wat"
output = "web.wasm"
""")


def test_selected_targets_keep_file_order(tmp_path: Path) -> None:
    _files(tmp_path, "a.wat", "b.wat")
    config = _config('[targets.a]\nkind = "wat"\nsource = "a.wat"\n'
                     '[targets.b]\nkind = "wat"\nsource = "b.wat"\n')
    plan = plan_build(tmp_path, config, resolve_profile(config, "debug"), CONTAINER, ("b",))
    assert [t.name for t in plan.targets] == ["b"]
    assert plan.toolchains == set()


def test_planning_changes_nothing_on_disk(tmp_path: Path) -> None:
    _files(tmp_path, "src/a.c", "include/x.h", "Cargo.toml")
    (tmp_path / "Cargo.toml").write_text(CARGO_TOML)
    before = sorted(os.walk(tmp_path))
    plan = _plan(tmp_path, C_TARGET + '\n[targets.r]\nkind = "rust"\n')
    assert sorted(os.walk(tmp_path)) == before
    assert plan.toolchains == {"wasi-sdk", "rust"}
    as_json: list[dict[str, Any]] = [t.as_dict() for t in plan.targets]
    assert as_json[0]["actions"][0]["steps"][0]["argv"][0] == "clang"


def _rust_triple(target: TargetPlan) -> str:
    return target.steps[-1].argv[target.steps[-1].argv.index("--target") + 1]


@pytest.mark.parametrize(("prefix", "triple"), [
    ("", "wasm32-wasip1"),
    ('[toolchains]\nset = "debian-12"\n', "wasm32-wasi"),
    ('[toolchains.rust]\nset = "debian-12"\n', "wasm32-wasi"),
    ('[toolchains]\nset = "debian-12"\n[toolchains.rust]\nset = "debian-13"\n', "wasm32-wasip1"),
])
def test_rust_triple_defaults_to_the_sets(tmp_path: Path, prefix: str, triple: str) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "Cargo.lock", text="")
    target = _only(_plan(tmp_path, prefix + '[targets.app]\nkind = "rust"\n'))
    assert _rust_triple(target) == triple
    assert target.outputs[0].produced == f"cargo-target/{triple}/debug/my-app.wasm"


def test_rust_triple_follows_the_config(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "Cargo.lock", text="")
    target = _only(_plan(tmp_path, '[targets.app]\nkind = "rust"\ntriple = "wasm32-wasip2"\n'))
    assert _rust_triple(target) == "wasm32-wasip2"
    assert target.actions[-1].kind == "componentize"  # linked as a core module, then adapted


@pytest.mark.parametrize(("prefix", "triple", "message"), [
    ("", "wasm32-wasi", r"the debian-13 set's Rust has no wasm32-wasi target"),
    ('[toolchains]\nset = "debian-12"\n', "wasm32-wasip1",
     r"the debian-12 set's Rust has no wasm32-wasip1 target \(it has wasm32-wasi\)"),
])
def test_rust_triple_the_set_lacks_is_a_config_error(
    tmp_path: Path, prefix: str, triple: str, message: str,
) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "Cargo.lock", text="")
    with pytest.raises(ConfigError, match=r"targets\.app\.triple: " + message):
        _plan(tmp_path, f'{prefix}[targets.app]\nkind = "rust"\ntriple = "{triple}"\n')


def test_own_rust_image_takes_any_triple(tmp_path: Path) -> None:
    _files(tmp_path, "Cargo.toml", text=CARGO_TOML)
    _files(tmp_path, "Cargo.lock", text="")
    own = '[toolchains.rust]\nimage = "me/rust@sha256:' + "a" * 64 + '"\n'
    target = _only(_plan(tmp_path, own + '[targets.app]\nkind = "rust"\ntriple = "wasm32-wasi"\n'))
    assert _rust_triple(target) == "wasm32-wasi"


@pytest.mark.parametrize(("prefix", "triple", "flag"), [
    ("", "", "--target=wasm32-wasip1"),
    ('[toolchains]\nset = "debian-12"\n', "", "--target=wasm32-wasi"),
    ('[toolchains]\nset = "debian-12"\n', 'triple = "wasm32-wasip1"\n', "--target=wasm32-wasi"),
    ("", 'triple = "wasm32-wasip2"\n', "--target=wasm32-wasip2"),
])
def test_c_target_triple_per_set(tmp_path: Path, prefix: str, triple: str, flag: str) -> None:
    _files(tmp_path, "src/main.c", "include/x.h")
    target = _only(_plan(tmp_path, prefix + C_TARGET + triple))
    assert all(action.steps[0].argv[1] == flag for action in target.actions[:2])
    is_component = target.actions[-1].kind == "componentize"
    assert is_component == ("wasip2" in flag)


def test_c_wasip2_needs_the_debian_13_set(tmp_path: Path) -> None:
    _files(tmp_path, "src/main.c", "include/x.h")
    with pytest.raises(ConfigError, match=r"targets\.hello\.triple: wasm32-wasip2 needs the "
                       r"debian-13 toolchain set"):
        _plan(tmp_path, '[toolchains]\nset = "debian-12"\n' + C_TARGET
              + 'triple = "wasm32-wasip2"\n')


def test_symlinked_source_outside_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.c"
    outside.write_text("int x;\n")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.c").symlink_to(outside)
    with pytest.raises(ConfigError, match="link to a file outside the project"):
        _plan(project, '[targets.a]\nkind = "wasi-sdk"\nsources = ["src/*.c"]\n')


def test_mjs_output_is_refused(tmp_path: Path) -> None:
    _files(tmp_path, "a.c")
    with pytest.raises(ConfigError, match=r"name it \.js"):
        _plan(tmp_path, '[targets.a]\nkind = "emscripten"\nsources = ["a.c"]\n'
                        'environment = "node"\noutput = "app.mjs"\n')


def test_outputs_may_not_take_the_manifest_name(tmp_path: Path) -> None:
    _files(tmp_path, "a.wat", text="(module)\n")
    with pytest.raises(ConfigError, match=r"wasmforge-build\.json"):
        _plan(tmp_path, '[targets.a]\nkind = "wat"\nsource = "a.wat"\n'
                        'output = "wasmforge-build.json"\n')


def test_command_targets_refuse_keys_only_sources_use(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"targets\.a\.exec-model: only used with 'sources'"):
        _plan(tmp_path, '[targets.a]\nkind = "wasi-sdk"\ncommand = "make"\nartifact = "a.wasm"\n'
                        'exec-model = "reactor"\n')


def test_a_glob_matching_a_dangling_link_is_an_error(tmp_path: Path) -> None:
    _files(tmp_path, "src/a.c")
    (tmp_path / "src" / "gone.c").symlink_to(tmp_path / "src" / "nowhere.c")
    with pytest.raises(ConfigError, match=r"'src/gone\.c' \(matched by 'src/\*\.c'\) is a link "
                                          r"to nothing"):
        _plan(tmp_path, C_TARGET)
    (tmp_path / "src" / "gone.c").unlink()
    (tmp_path / "src" / "loop.c").symlink_to(tmp_path / "src" / "loop.c")
    with pytest.raises(ConfigError, match=r"'src/loop\.c' .* is a link to nothing"):
        _plan(tmp_path, C_TARGET)
