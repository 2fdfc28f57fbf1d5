"""Action records (what a cached result is, read back as untrusted input) and action keys (what a
result depends on: everything that decides the outputs, and no host path)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from wasmforge.build.action import ACTION_VERSIONS, Action
from wasmforge.cache.digests import ProjectDigests
from wasmforge.cache.key import KeyInputs, action_key
from wasmforge.cache.record import (
    CHECKSUM,
    ActionRecord,
    DamagedEntry,
    OutputFile,
    sorted_json,
)
from wasmforge.runner.base import Step

KEY = "a" * 64
OTHER_KEY = "b" * 64
DIGEST = "sha256:" + "1" * 64
DEP_DIGEST = "sha256:" + "2" * 64


def record(**changes: Any) -> ActionRecord:
    base = ActionRecord(
        key=KEY,
        outputs={"obj/main.o": OutputFile(DIGEST, 12), "bin/tool": OutputFile(DIGEST, 12, True)},
        deps={"include/a.h": DEP_DIGEST},
        meta={"image": "sha256:" + "3" * 64, "report": {"size": 3}},
    )
    return dataclasses.replace(base, **changes)


def document(**changes: Any) -> dict[str, Any]:
    doc = record().to_json()
    doc.update(changes)
    return doc


def encoded(doc: object) -> bytes:
    """A stored record as the store writes one: with the checksum of its content (recomputed, so
    that what is tested is the content's own check, not the checksum's)."""
    if isinstance(doc, dict):
        body = {k: v for k, v in doc.items() if k != CHECKSUM}
        doc = {**body, CHECKSUM: hashlib.sha256(sorted_json(body)).hexdigest()}
    return json.dumps(doc).encode()


def test_damage_that_still_parses_is_caught_by_the_checksum() -> None:
    stored = json.loads(record().to_bytes())
    stored["outputs"]["obj/main.o"]["size"] = 13  # a flipped digit: still a valid record shape
    with pytest.raises(DamagedEntry, match="checksum"):
        ActionRecord.from_bytes(json.dumps(stored).encode())
    del stored[CHECKSUM]
    with pytest.raises(DamagedEntry, match="checksum"):
        ActionRecord.from_bytes(json.dumps(stored).encode())


# Records ------------------------------------------------------------------------------------------


def test_record_round_trips_through_bytes() -> None:
    original = record()
    parsed = ActionRecord.from_bytes(original.to_bytes(), key=KEY)
    assert parsed == original
    assert parsed.outputs["bin/tool"].executable is True
    assert parsed.outputs["obj/main.o"].executable is False


def test_record_bytes_do_not_depend_on_dict_order() -> None:
    forward = record(deps={"a.h": DEP_DIGEST, "b.h": DIGEST})
    backward = record(deps={"b.h": DIGEST, "a.h": DEP_DIGEST},
                      outputs=dict(reversed(list(record().outputs.items()))))
    assert forward.to_bytes() == backward.to_bytes()


def test_sorted_json_is_compact_sorted_utf8() -> None:
    assert sorted_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


def test_variant_depends_on_the_recorded_dependencies_only() -> None:
    assert record().variant == record(meta={}, outputs={"x": OutputFile(DIGEST, 1)}).variant
    assert record().variant != record(deps={"include/a.h": DIGEST}).variant
    assert record(deps={}).variant != record().variant
    assert len(record().variant) == 64
    assert record(deps={"a": DIGEST, "b": DEP_DIGEST}).variant == \
        record(deps={"b": DEP_DIGEST, "a": DIGEST}).variant


def test_record_without_an_expected_key_accepts_its_own() -> None:
    assert ActionRecord.from_bytes(record().to_bytes()).key == KEY


def test_record_stored_under_another_key_is_damaged() -> None:
    with pytest.raises(DamagedEntry, match="stored under"):
        ActionRecord.from_bytes(record().to_bytes(), key=OTHER_KEY)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'"a string"',
        b"null",
        b"42",
    ],
)
def test_bytes_that_are_not_a_json_object_are_damaged(data: bytes) -> None:
    with pytest.raises(DamagedEntry):
        ActionRecord.from_bytes(data)


@pytest.mark.parametrize(
    "changes",
    [
        {"schema": 2},
        {"schema": "1"},
        {"schema": None},
        {"key": None},
        {"key": "A" * 64},
        {"key": "a" * 63},
        {"key": "a" * 65},
        {"key": "sha256:" + "a" * 64},
        {"key": 123},
        {"outputs": {}},
        {"outputs": []},
        {"outputs": None},
        {"deps": []},
        {"deps": None},
        {"meta": []},
        {"meta": None},
    ],
)
def test_records_with_bad_top_level_fields_are_damaged(changes: dict[str, Any]) -> None:
    with pytest.raises(DamagedEntry):
        ActionRecord.from_bytes(encoded(document(**changes)))


@pytest.mark.parametrize("field", ["schema", "key", "outputs", "deps", "meta"])
def test_records_missing_a_field_are_damaged(field: str) -> None:
    doc = document()
    del doc[field]
    with pytest.raises(DamagedEntry):
        ActionRecord.from_bytes(encoded(doc))


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../escape", "a/../../b", "a/./b", "./a", "a//b", "a/", "", "a\\b", "..", "."],
)
def test_output_paths_that_leave_the_target_dir_are_damaged(path: str) -> None:
    doc = document(outputs={path: {"digest": DIGEST, "size": 1, "executable": False}})
    with pytest.raises(DamagedEntry, match="bad output"):
        ActionRecord.from_bytes(encoded(doc))


@pytest.mark.parametrize("path", ["/src/a.h", "../a.h", "a/../../b.h", "", "a\\b.h"])
def test_dependency_paths_outside_the_project_are_damaged(path: str) -> None:
    with pytest.raises(DamagedEntry, match="bad dependency"):
        ActionRecord.from_bytes(encoded(document(deps={path: DEP_DIGEST})))


@pytest.mark.parametrize(
    "digest",
    [None, 5, "sha256:" + "A" * 64, "sha256:" + "1" * 63, "sha512:" + "1" * 64, "1" * 64, ""],
)
def test_dependencies_with_bad_digests_are_damaged(digest: object) -> None:
    with pytest.raises(DamagedEntry, match="bad dependency"):
        ActionRecord.from_bytes(encoded(document(deps={"a.h": digest})))


@pytest.mark.parametrize(
    "out",
    [
        {"digest": "sha256:" + "F" * 64, "size": 1, "executable": False},
        {"digest": "md5:" + "1" * 32, "size": 1, "executable": False},
        {"digest": DIGEST, "size": -1, "executable": False},
        {"digest": DIGEST, "size": "1", "executable": False},
        {"digest": DIGEST, "size": 1.5, "executable": False},
        {"digest": DIGEST, "size": 1, "executable": 1},
        {"digest": DIGEST, "size": 1, "executable": None},
        {"digest": DIGEST, "size": 1},
        {"size": 1, "executable": False},
        ["sha256:" + "1" * 64, 1, False],
        None,
    ],
)
def test_outputs_with_bad_fields_are_damaged(out: object) -> None:
    with pytest.raises(DamagedEntry, match="bad output"):
        ActionRecord.from_bytes(encoded(document(outputs={"a.o": out})))


def test_output_size_must_be_a_number_not_a_boolean() -> None:
    """JSON ``true`` is not a size (Python's bool is an int, the format's is not)."""
    doc = document(outputs={"a.o": {"digest": DIGEST, "size": True, "executable": False}})
    with pytest.raises(DamagedEntry):
        ActionRecord.from_bytes(encoded(doc))


# Keys ---------------------------------------------------------------------------------------------


def compile_action(**changes: Any) -> Action:
    step = Step(
        description="compile src/main.c",
        argv=("clang", "-c", "/src/src/main.c", "-o", "/out/app/obj/main.o", "-MD"),
        cwd="/src",
        env=(("CFLAGS", "-O2"), ("LANG", "C")),
        files=(("args.rsp", "-Wall"),),
    )
    base = Action(
        name="compile src/main.c", kind="compile", toolchain="wasi-sdk", steps=(step,),
        sources=("src/main.c",), produces=("obj/main.o",), depfiles=("obj/main.d",),
    )
    return dataclasses.replace(base, **changes)


def inputs(**changes: Any) -> KeyInputs:
    base = KeyInputs(toolchain="recipe:" + "4" * 64, epoch=0,
                     sources={"src/main.c": DIGEST}, trees={}, consumed={})
    return dataclasses.replace(base, **changes)


def step_with(**changes: Any) -> Action:
    action = compile_action()
    return dataclasses.replace(action, steps=(dataclasses.replace(action.steps[0], **changes),))


def test_key_is_hex_sha256_and_deterministic() -> None:
    first = action_key("app", compile_action(), inputs())
    assert first == action_key("app", compile_action(), inputs())
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    ("target", "action", "key_inputs"),
    [
        ("other", compile_action(), inputs()),
        ("app", step_with(argv=("clang", "-c", "/src/src/main.c", "-o", "/out/app/obj/main.o")),
         inputs()),
        ("app", step_with(argv=("clang", "-O3", "-c", "/src/src/main.c", "-o",
                                "/out/app/obj/main.o", "-MD")), inputs()),
        ("app", step_with(env=(("CFLAGS", "-O3"), ("LANG", "C"))), inputs()),
        ("app", step_with(env=(("CFLAGS", "-O2"),)), inputs()),
        ("app", step_with(cwd="/src/sub"), inputs()),
        ("app", step_with(files=(("args.rsp", "-Wextra"),)), inputs()),
        ("app", compile_action(kind="assemble"), inputs()),
        ("app", compile_action(params=(("opt-level", "z"),)), inputs()),
        ("app", compile_action(produces=("obj/other.o",)), inputs()),
        ("app", compile_action(depfiles=()), inputs()),
        ("app", compile_action(trace=True), inputs()),
        ("app", compile_action(tree_excludes=("dist",)), inputs()),
        ("app", compile_action(), inputs(toolchain="recipe:" + "5" * 64)),
        ("app", compile_action(), inputs(toolchain="host:clang version 18")),
        ("app", compile_action(), inputs(epoch=1700000000)),
        ("app", compile_action(), inputs(sources={"src/main.c": DEP_DIGEST})),
        ("app", compile_action(), inputs(sources={"src/other.c": DIGEST})),
        ("app", compile_action(), inputs(trees={"crate": DIGEST})),
        ("app", compile_action(), inputs(consumed={"obj/main.o": DIGEST})),
    ],
)
def test_key_changes_with_anything_that_decides_the_outputs(
    target: str, action: Action, key_inputs: KeyInputs
) -> None:
    assert action_key(target, action, key_inputs) != action_key("app", compile_action(), inputs())


def test_key_changes_with_the_action_kinds_implementation_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = action_key("app", compile_action(), inputs())
    monkeypatch.setitem(ACTION_VERSIONS, "compile", ACTION_VERSIONS["compile"] + 1)
    assert compile_action().version == ACTION_VERSIONS["compile"]
    assert action_key("app", compile_action(), inputs()) != before
    monkeypatch.setitem(ACTION_VERSIONS, "link", ACTION_VERSIONS["link"] + 1)
    bumped_compile = action_key("app", compile_action(), inputs())
    monkeypatch.setitem(ACTION_VERSIONS, "link", ACTION_VERSIONS["link"] + 2)
    assert action_key("app", compile_action(), inputs()) == bumped_compile  # other kinds: no effect


def test_key_ignores_the_order_of_environment_and_inputs() -> None:
    reordered = step_with(env=(("LANG", "C"), ("CFLAGS", "-O2")))
    two = {"src/a.c": DIGEST, "src/b.c": DEP_DIGEST}
    assert action_key("app", reordered, inputs(sources=two)) == action_key(
        "app", compile_action(), inputs(sources=dict(reversed(list(two.items())))))


def test_key_ignores_the_action_name_and_order_dependencies() -> None:
    """What an action is called and which actions run before it change nothing it makes (what it
    reads from them is in ``consumed``)."""
    renamed = compile_action(name="compile it", after=("something",))
    assert action_key("app", renamed, inputs()) == action_key("app", compile_action(), inputs())


def _checkout(root: Path) -> None:
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    (root / "crate" / "src").mkdir(parents=True)
    (root / "crate" / "Cargo.toml").write_text('[package]\nname = "c"\n')
    (root / "crate" / "src" / "lib.rs").write_text("pub fn f() {}\n")


def _key_in(root: Path) -> str:
    digests = ProjectDigests(root)
    action = compile_action(trees=("crate",))
    return action_key("app", action, inputs(
        sources={s: digests.file(s) for s in action.sources},
        trees={t: digests.tree(t) for t in action.trees},
    ))


def test_two_checkouts_in_different_directories_share_keys(tmp_path: Path) -> None:
    _checkout(tmp_path / "alice" / "project")
    _checkout(tmp_path / "ci" / "work" / "clone")
    assert _key_in(tmp_path / "alice" / "project") == _key_in(tmp_path / "ci" / "work" / "clone")


def test_editing_a_declared_input_changes_the_key(tmp_path: Path) -> None:
    _checkout(tmp_path)
    before = _key_in(tmp_path)
    (tmp_path / "crate" / "src" / "lib.rs").write_text("pub fn g() {}\n")
    after_tree = _key_in(tmp_path)
    (tmp_path / "src" / "main.c").write_text("int main(void) { return 1; }\n")
    after_source = _key_in(tmp_path)
    assert len({before, after_tree, after_source}) == 3
