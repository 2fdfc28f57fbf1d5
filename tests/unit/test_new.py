"""``wasmforge new``: every template renders into a valid project; nothing is overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmforge.config.load import load_config
from wasmforge.errors import UserError
from wasmforge.scaffold import create_project, find_template, list_templates

TEMPLATES = [t.name for t in list_templates()]


def test_templates_are_shipped() -> None:
    assert {"c-command", "cpp-command", "c-reactor", "c-component", "rust-command", "emscripten-web",
            "wat"} <= set(
        TEMPLATES
    )


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_renders_a_loadable_project(tmp_path: Path, template: str) -> None:
    destination = tmp_path / "my-app"
    files = create_project(find_template(template), destination)
    assert all(f.is_file() for f in files)
    assert not list(destination.rglob("*.j2"))
    config = load_config(destination / "wasmforge.toml")
    assert config.project.name == "my-app"
    assert list(config.targets) == ["my-app"]
    assert oct(destination.stat().st_mode & 0o777) != oct(0o700)


def test_existing_non_empty_directory_is_left_alone(tmp_path: Path) -> None:
    destination = tmp_path / "app"
    destination.mkdir()
    (destination / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists and is not empty"):
        create_project(find_template("wat"), destination)
    assert [p.name for p in destination.iterdir()] == ["keep.txt"]


def test_empty_directory_is_used(tmp_path: Path) -> None:
    destination = tmp_path / "app"
    destination.mkdir()
    create_project(find_template("wat"), destination)
    assert (destination / "main.wat").is_file()


def test_invalid_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a valid project name"):
        create_project(find_template("wat"), tmp_path / "x", name="-bad name")
    assert not (tmp_path / "x").exists()


def test_unknown_template_lists_known_ones() -> None:
    with pytest.raises(UserError, match=r"unknown template 'go'.*c-command"):
        find_template("go")


def test_current_empty_directory_is_filled_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    inode = here.stat().st_ino
    monkeypatch.chdir(here)
    create_project(find_template("c-command"), Path())
    assert (here / "wasmforge.toml").is_file()
    assert here.stat().st_ino == inode  # the same directory: a shell standing in it stays valid
    assert load_config(here / "wasmforge.toml").project.name == "here"
    assert [p.name for p in tmp_path.iterdir()] == ["here"]  # no staging dir left behind


def test_symlink_to_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    create_project(find_template("wat"), tmp_path / "link")
    assert (tmp_path / "real" / "main.wat").is_file()


def test_dotted_name_gives_a_loadable_target(tmp_path: Path) -> None:
    create_project(find_template("rust-command"), tmp_path / "my.app")
    config = load_config(tmp_path / "my.app" / "wasmforge.toml")
    assert list(config.targets) == ["my.app"]
    assert 'name = "my_app"' in (tmp_path / "my.app" / "Cargo.toml").read_text()


def test_name_starting_with_a_digit_is_refused(tmp_path: Path) -> None:
    # Cargo refuses such package names, so the Rust template could not build.
    with pytest.raises(UserError, match="starting with a letter"):
        create_project(find_template("rust-command"), tmp_path / "9lives")
