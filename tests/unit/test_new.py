"""``wasmforge new``: every template renders into a valid project; nothing is overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from wasmforge import __version__
from wasmforge.config.load import load_config
from wasmforge.config.schema import config_schema_text
from wasmforge.errors import UserError
from wasmforge.scaffold import SCHEMA_FILE, create_project, find_template, list_templates

TEMPLATES = [t.name for t in list_templates()]
WORKFLOW = Path(".github/workflows/wasmforge.yml")


def test_templates_are_shipped() -> None:
    assert set(TEMPLATES) >= {"c-command", "cpp-command", "c-reactor", "c-component",
                              "rust-command", "emscripten-web", "wat", "c-http", "rust-http"}


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


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_project_arrives_with_readme_gitignore_workflow_and_schema(
    tmp_path: Path, template: str
) -> None:
    destination = tmp_path / "my-app"
    files = create_project(find_template(template), destination)
    for name in ("README.md", ".gitignore", str(WORKFLOW), SCHEMA_FILE):
        assert destination / name in files
    assert (destination / ".gitignore").read_text().splitlines() == ["dist/", "target/"]
    readme = (destination / "README.md").read_text()
    assert readme.startswith("# my-app\n")
    for said in ("wasmforge build", "wasmforge test", "## CI"):
        assert said in readme
    style = find_template(template).style
    shipped = "deploys it to GitHub Pages" if style == "web" else "wasmforge push "
    assert shipped in readme
    assert {"http": "wasmforge serve", "web": "wasmforge serve", "command": "wasmforge run my-app",
            "reactor": "--invoke", "component": "--invoke"}[style] in readme
    assert "{{" not in readme
    assert "{%" not in readme


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_schema_line_resolves_and_the_maker_is_recorded(tmp_path: Path, template: str) -> None:
    destination = tmp_path / "my-app"
    create_project(find_template(template), destination)
    first, second, *_ = (destination / "wasmforge.toml").read_text().splitlines()
    assert first == f"#:schema ./{SCHEMA_FILE}"
    schema = destination / first.removeprefix("#:schema ")
    assert schema.read_text() == config_schema_text()  # the installed wasmforge's own schema
    assert second == f"# Made by `wasmforge new {template}` with wasmforge {__version__}."


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_project_has_a_smoke_test(tmp_path: Path, template: str) -> None:
    destination = tmp_path / "my-app"
    create_project(find_template(template), destination)
    checks = load_config(destination / "wasmforge.toml").test
    assert checks
    assert {check.target for check in checks} == {"my-app"}


def _workflow(destination: Path) -> dict[Any, Any]:
    text = (destination / WORKFLOW).read_text()
    assert "{{ name }}" not in text
    assert "{%" not in text
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_workflow_is_yaml_that_builds_tests_packages_and_pushes(
    tmp_path: Path, template: str
) -> None:
    destination = tmp_path / "my-app"
    create_project(find_template(template), destination)
    workflow = _workflow(destination)
    assert {"push", "pull_request"} <= set(workflow[True])  # YAML 1.1 reads the key "on" as True
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    named = {step["name"]: step for step in steps if "name" in step}
    shown = [n for n in named if n in ("Build", "Test", "Package", "Push")]
    assert shown == ["Build", "Test", "Package", "Push"]
    assert named["Build"]["run"].startswith("wasmforge build --release")
    assert named["Test"]["run"] == "wasmforge test --release"
    if find_template(template).style == "web":
        assert named["Package"]["with"]["path"] == "dist/release"
        assert named["Push"]["uses"].startswith("actions/deploy-pages@")
    else:
        assert named["Package"]["run"] == "wasmforge package --release"
        assert 'wasmforge push "$IMAGE:$tag" --release' in named["Push"]["run"]
        assert named["Push"]["if"] == "github.event_name == 'push'"
    installed = next(s["run"] for s in steps if s.get("name") == "Install wasmforge")
    assert "wasmforge==$WASMFORGE_VERSION" in installed
    assert workflow["jobs"]["wasm"]["env"]["WASMFORGE_VERSION"] == __version__
    for step in steps:  # every script is bash that parses
        if "run" in step:
            subprocess.run(["bash", "-n", "-c", step["run"]], check=True)


@pytest.mark.parametrize("template", ["c-http", "rust-http"])
def test_the_http_templates_greeting_is_in_the_source(tmp_path: Path, template: str) -> None:
    destination = tmp_path / "svc"
    create_project(find_template(template), destination)
    source = destination / find_template(template).source
    assert 'GREETING' in source.read_text()
    assert '"Hello"' in source.read_text()
    requests = [c.request for c in load_config(destination / "wasmforge.toml").test]
    assert any(r is not None and r.path == "/hello?name=Ada" for r in requests)
    assert any(r is not None and r.method == "POST" and r.body for r in requests)


def test_template_metadata_names_an_existing_source(tmp_path: Path) -> None:
    for template in list_templates():
        destination = tmp_path / template.name
        create_project(template, destination)
        assert template.style in ("command", "reactor", "component", "http", "web")
        assert (destination / template.source).is_file(), template.name
        assert tomllib.loads((template.path / "template.toml").read_text())["description"]


def test_the_wat_project_passes_its_own_test(tmp_path: Path) -> None:
    # The one template whose build needs no toolchain image: WABT runs in-process.
    create_project(find_template("wat"), tmp_path / "app")
    done = subprocess.run([sys.executable, "-m", "wasmforge", "test"], cwd=tmp_path / "app",
                          capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, "WASMFORGE_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert "1 passed, 0 failed" in done.stderr
