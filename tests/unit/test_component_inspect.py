"""inspect, validate, wasm2wat and wat2wasm on WASI 0.2 components: real components made by
componentize (a WAT command with the pinned preview1 adapter, fetched from the npm registry) and by
wasm-tools from WIT (functions, inline and package interfaces), and damaged ones."""

from __future__ import annotations

import contextlib
import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oci_samples import HELLO_WAT, assemble
from tests.unit.wat_support import run_cli
from wasmforge.commands.inspect import inspect_target
from wasmforge.component.componentize import componentize
from wasmforge.component.world import world_from_json
from wasmforge.errors import WasmforgeError
from wasmforge.tools import run_tool, wasm_tools
from wasmforge.wasm.component import parse_component
from wasmforge.wasm.module import MAGIC, MalformedModuleError, parse_module

CALC_WIT = """package acme:calc@1.0.0;

interface ops {
  add: func(a: u32, b: u32) -> u32;
}

world calc {
  import log: func(msg: string);
  export ops;
  export version: func() -> string;
  export inline: interface {
    ping: func();
  }
}
"""

# A component with a named core module, a nested component and names for both, small enough to
# cut at every byte.
SMALL_COMPONENT_WAT = """(component $outer
  (core module $inner (func (export "f")))
  (component $nested)
  (core module $second (import "m" "g" (func)))
)
"""


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hello")
    module = assemble(HELLO_WAT, work, "hello")
    return componentize(module, work / "hello.component.wasm").output


@pytest.fixture(scope="module")
def calc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("calc")
    (work / "wit").mkdir()
    (work / "wit" / "calc.wit").write_text(CALC_WIT)
    core = work / "core.wasm"
    component = work / "calc.wasm"
    steps: list[list[str | Path]] = [
        ["component", "embed", "--dummy", work / "wit", "--world", "calc", "-o", core],
        ["component", "new", core, "-o", component],
    ]
    for argv in steps:
        done = run_tool([wasm_tools(), *argv])
        assert done.returncode == 0, done.stderr.decode()
    return component


@cache
def small_component_bytes() -> bytes:
    done = run_tool([wasm_tools(), "parse", "-"], input_bytes=SMALL_COMPONENT_WAT.encode())
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def small_component(directory: Path) -> Path:
    output = directory / "small.wasm"
    output.write_bytes(small_component_bytes())
    return output


def truncated(component: Path, directory: Path) -> Path:
    data = component.read_bytes()
    cut = directory / "cut.wasm"
    cut.write_bytes(data[: len(data) // 2])
    return cut


# inspect ----------------------------------------------------------------------------------------


def test_inspect_a_command_component(hello: Path) -> None:
    report = inspect_target(str(hello))
    assert report["kind"] == "component"
    assert report["format"] == "binary"
    assert report["size"] == hello.stat().st_size
    exports = [e["name"] for e in report["world"]["exports"]]
    assert [e for e in exports if e.startswith("wasi:cli/run@0.2.")] == exports
    run = report["world"]["exports"][0]
    assert (run["kind"], run["package"]) == ("interface", "wasi:cli")
    assert run["version"] == run["name"].rpartition("@")[2]
    imports = {i["name"].partition("@")[0] for i in report["world"]["imports"]}
    assert "wasi:cli/stdout" in imports
    modules = report["core_modules"]
    assert modules
    assert all(m["size"] > 0 for m in modules)
    main = modules[0]
    assert main["name"] == "main"  # wit-component names the user's module in component-name
    assert (main["imports"], main["exports"]) == (1, 2)  # fd_write; memory and _start
    assert any("adapter" in (m["name"] or "") for m in modules)
    assert report["core_module_count"] >= len(modules)
    assert "wit-component" in {p["name"] for p in report["producers"]["processed-by"]}


def test_core_module_offsets_and_sizes_are_the_files(hello: Path) -> None:
    data = hello.read_bytes()
    report = inspect_target(str(hello))
    for module in report["core_modules"]:
        inside = data[module["offset"] : module["offset"] + module["size"]]
        assert inside[:8] == MAGIC + b"\x01\0\0\0"
        assert len(parse_module(inside).exports) == module["exports"]
    # Every top-level section is accounted for: header, section headers and payloads.
    sections = report["sections"]
    ends = [8] + [s["offset"] + s["size"] for s in sections]
    headers = sum(s["offset"] - end for s, end in zip(sections, ends, strict=False))
    assert 8 + headers + sum(report["section_sizes"].values()) == len(data)


def test_inspect_world_functions_and_inline_interfaces(calc: Path) -> None:
    world = inspect_target(str(calc))["world"]
    assert [(i["name"], i["kind"]) for i in world["imports"]] == [("log", "function")]
    assert sorted((e["name"], e["kind"], e["package"], e["version"]) for e in world["exports"]) == [
        ("acme:calc/ops@1.0.0", "interface", "acme:calc", "1.0.0"),
        ("inline", "interface", None, None),
        ("version", "function", None, None),
    ]


def test_world_json_without_versions_and_with_types() -> None:
    document = {
        "worlds": [{"name": "root", "package": 1,
                    "imports": {"interface-0": {"interface": {"id": 0}}, "size": {"type": 3}},
                    "exports": {}}],
        "interfaces": [{"name": "logging", "package": 0}],
        "packages": [{"name": "acme:log"}, {"name": "root:component", "worlds": {"root": 0}}],
    }
    world = world_from_json(document, "t.wasm")
    assert [(i.name, i.kind, i.package, i.version) for i in world.imports] == [
        ("acme:log/logging", "interface", "acme:log", None), ("size", "type", None, None)]
    assert world.exports == ()


def test_inspect_cli_text_and_json(hello: Path, capsys: pytest.CaptureFixture[str]) -> None:
    human = run_cli(capsys, "inspect", str(hello))
    assert human.code == 0, human.stderr
    assert human.stdout == ""
    for expected in ("WIT world imports", "wasi:cli/stdout@0.2.", "WIT world exports",
                     "wasi:cli/run@0.2.", "core modules", "main", "producers", "wit-component",
                     f"{hello.stat().st_size} bytes"):
        assert expected in human.stderr
    run = run_cli(capsys, "inspect", str(hello), "--json")
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["path"] == str(hello)
    assert any(e["name"].startswith("wasi:cli/run@") for e in report["world"]["exports"])
    assert report["core_modules"][0]["size"] > 0


def test_inspect_component_text(tmp_path: Path) -> None:
    source = tmp_path / "small.wat"
    source.write_text(";; a component, not a module\n" + SMALL_COMPONENT_WAT)
    report = inspect_target(str(source))
    assert (report["format"], report["kind"], report["name"]) == ("text", "component", "outer")
    assert [m["name"] for m in report["core_modules"]] == ["inner", "second"]
    assert [(c["index"], c["name"]) for c in report["components"]] == [(0, "nested")]
    assert report["world"] == {"imports": [], "exports": []}


def test_a_truncated_component_is_one_line(hello: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cut = truncated(hello, tmp_path)
    for command in ("inspect", "wasm2wat"):
        run = run_cli(capsys, command, str(cut))
        assert run.code == 2, run.stderr
        assert "Traceback" not in run.stderr
        assert run.stderr.count("\n") == 1, run.stderr
        assert run.stderr.startswith(f"error: {cut}: ")
        assert "(truncated file?)" in run.stderr
    run = run_cli(capsys, "validate", str(cut))
    assert run.code == 2
    assert run.stderr.splitlines()[0].startswith(f"error: {cut}: ")
    assert "Traceback" not in run.stderr


# The reader -------------------------------------------------------------------------------------


def test_every_cut_of_a_component_is_malformed_not_a_crash(tmp_path: Path) -> None:
    data = small_component(tmp_path).read_bytes()
    info = parse_component(data, "small.wasm")
    assert [m.name for m in info.core_modules] == ["inner", "second"]
    boundaries = {8} | {s.offset + s.size for s in info.sections}
    for end in range(len(data)):
        if end in boundaries:  # a cut between sections leaves a well-formed, shorter component
            parse_component(data[:end], "small.wasm")
            continue
        with pytest.raises(MalformedModuleError, match=r"^small\.wasm: "):
            parse_component(data[:end], "small.wasm")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                         max_size=4))
def test_the_component_reader_raises_only_its_own_errors(
    tail: bytes, changes: list[tuple[int, int]]
) -> None:
    # Random sections after the header, and a real component with a few bytes changed.
    with contextlib.suppress(WasmforgeError):
        parse_component(MAGIC + b"\x0d\0\x01\0" + tail, "fuzz.wasm")
    mutated = bytearray(small_component_bytes())
    for at, value in changes:
        mutated[at % len(mutated)] = value
    with contextlib.suppress(WasmforgeError):
        parse_component(bytes(mutated), "fuzz.wasm")


def test_nested_module_errors_name_the_file_offset(tmp_path: Path) -> None:
    data = bytearray(small_component(tmp_path).read_bytes())
    info = parse_component(bytes(data), "small.wasm")
    inner = info.core_modules[0]
    export_section = next(s for s in inner.info.sections if s.name == "export")
    data[export_section.offset] = 5  # the export count: more than the section holds
    with pytest.raises(MalformedModuleError) as error:
        parse_component(bytes(data), "small.wasm")
    assert error.value.message.startswith("small.wasm: core module 0: export section: ")
    assert error.value.message.endswith(f"at byte {export_section.offset + export_section.size}")


def test_unknown_section_and_version(tmp_path: Path) -> None:
    data = small_component(tmp_path).read_bytes()
    with pytest.raises(MalformedModuleError, match="unknown component section id 13 at byte 8"):
        parse_component(data[:8] + b"\x0d\x00")
    with pytest.raises(MalformedModuleError, match="not a component of a known version"):
        parse_component(MAGIC + b"\x0c\x00\x01\x00")


# validate, wasm2wat, wat2wasm ---------------------------------------------------------------------


def test_validate_accepts_components(hello: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "small.wat"
    source.write_text(SMALL_COMPONENT_WAT)
    run = run_cli(capsys, "validate", str(hello), str(source), "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["valid"] is True


def test_validate_component_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    syntax = tmp_path / "syntax.wat"
    syntax.write_text('(component\n  (core module (func (export "f") (blah))))\n')
    typed = tmp_path / "typed.wat"
    typed.write_text('(component (core module (func (export "f") i32.add)))\n')
    run = run_cli(capsys, "validate", str(syntax), str(typed), "--enable", "threads")
    assert run.code == 2
    assert f"error: {syntax}:2:36: unknown operator or unexpected token" in run.stderr
    assert f"error: {typed}: func 0 failed to validate: type mismatch" in run.stderr
    assert "--enable/--disable apply to core modules only" in run.stderr


def test_wasm2wat_prints_a_component(hello: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "wasm2wat", str(hello))
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("(component")
    assert "(core module $main" in run.stdout
    text = tmp_path / "hello.wat"
    run = run_cli(capsys, "wasm2wat", str(hello), "-o", str(text), "--fold-exprs", "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["size"] == text.stat().st_size
    # And back: the text assembles to a valid component with the same world.
    back = tmp_path / "back.wasm"
    run = run_cli(capsys, "wat2wasm", str(text), "-o", str(back))
    assert run.code == 0, run.stderr
    assert parse_module(back.read_bytes()).kind == "component"
    assert inspect_target(str(back))["world"] == inspect_target(str(hello))["world"]


def test_wat2wasm_component_errors_are_file_line_col(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "broken.wat"
    source.write_text("(component\n  (core module (func (blah))))\n")
    run = run_cli(capsys, "wat2wasm", str(source))
    assert run.code == 2
    assert run.stderr.startswith(f"error: {source}:2:23: unknown operator or unexpected token")
    assert not (tmp_path / "broken.wasm").exists()
