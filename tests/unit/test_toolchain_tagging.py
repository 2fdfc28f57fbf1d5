"""Content tags of toolchain recipes: any change to the recipe or its base is a new tag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wasmforge.resources import toolchains_dir
from wasmforge.toolchains.tagging import image_tag, recipe_digest, recipe_files

BASE = "docker.io/library/debian@sha256:" + "ab" * 32


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    (folder / "sub").mkdir(parents=True)
    (folder / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    (folder / "toolchain.toml").write_text("[packages]\nmake = '4.3-4.1'\n")
    (folder / "sub" / "file.cmake").write_text("set(X 1)\n")
    return folder


def test_digest_is_stable_and_tag_has_sixteen_hex_digits(recipe: Path) -> None:
    first = recipe_digest(recipe, BASE)
    assert first == recipe_digest(recipe, BASE)
    assert re.fullmatch(r"wasmforge/demo:[0-9a-f]{16}", image_tag("demo", first))
    assert image_tag("demo", first).endswith(first[:16])


def test_the_same_recipe_elsewhere_has_the_same_digest(recipe: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "demo"
    copy.mkdir(parents=True)
    for path in recipe_files(recipe):
        target = copy / path.relative_to(recipe)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert recipe_digest(copy, BASE) == recipe_digest(recipe, BASE)


@pytest.mark.parametrize("change", ["edit", "add", "rename", "chmod", "base"])
def test_every_change_gives_a_new_digest(recipe: Path, change: str) -> None:
    before = recipe_digest(recipe, BASE)
    base = BASE
    if change == "edit":
        (recipe / "toolchain.toml").write_text("[packages]\nmake = '4.3-4.2'\n")
    elif change == "add":
        (recipe / "extra.txt").write_text("")
    elif change == "rename":
        (recipe / "sub" / "file.cmake").rename(recipe / "sub" / "other.cmake")
    elif change == "chmod":
        (recipe / "sub" / "file.cmake").chmod(0o755)
    else:
        base = "docker.io/library/debian@sha256:" + "cd" * 32
    assert recipe_digest(recipe, base) != before


def test_machine_litter_does_not_change_the_digest(recipe: Path) -> None:
    before = recipe_digest(recipe, BASE)
    (recipe / "__pycache__").mkdir()
    (recipe / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (recipe / ".DS_Store").write_bytes(b"\0")
    assert recipe_digest(recipe, BASE) == before


def test_file_boundaries_are_part_of_the_digest(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a").write_text("xy")
    (one / "b").write_text("")
    (two / "a").write_text("x")
    (two / "b").write_text("y")
    assert recipe_digest(one, BASE) != recipe_digest(two, BASE)


def test_shipped_recipes_have_distinct_tags() -> None:
    folders = [p.parent for p in toolchains_dir().glob("*/*/toolchain.toml")]
    assert len(folders) >= 6
    digests = {recipe_digest(folder, BASE) for folder in folders}
    assert len(digests) == len(folders)
