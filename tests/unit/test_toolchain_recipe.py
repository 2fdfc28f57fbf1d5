"""Reading toolchain.toml and base.toml: the shipped recipes and clear errors for bad ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wasmforge.errors import ConfigError, UserError
from wasmforge.resources import toolchains_dir
from wasmforge.toolchains.recipe import load_base, load_recipe, recipe_names, shipped_recipe

SHIPPED = ["emscripten", "rust", "wasi-sdk"]


def test_the_three_toolchains_are_shipped() -> None:
    assert recipe_names() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipe_pins_every_package_exactly(name: str) -> None:
    recipe = shipped_recipe(name)
    assert recipe.packages, "a recipe without pins would float"
    for pin in recipe.package_pins:
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+=[0-9][A-Za-z0-9.+~:-]*", pin), pin
    assert {"binaryen", "wabt"} <= set(recipe.packages)
    assert recipe.checks, "verify needs something to run"
    assert all(check.expect for check in recipe.checks)


@pytest.mark.parametrize("name", SHIPPED)
def test_recipe_env_is_set_in_the_dockerfile(name: str) -> None:
    """toolchain.toml [env] is what builds get; the image's own ENV must say the same."""
    recipe = shipped_recipe(name)
    dockerfile = (recipe.directory / "Dockerfile").read_text()
    env_lines = [line for line in dockerfile.splitlines() if line.startswith("ENV ")]
    for key, value in recipe.env.items():
        assert any(f"{key}={value}" in line.split() for line in env_lines), key


def test_required_packages_per_toolchain() -> None:
    assert {
        "clang-16",
        "lld-16",
        "wasi-libc",
        "libclang-rt-16-dev-wasm32",
        "libc++-16-dev-wasm32",
        "libc++abi-16-dev-wasm32",
        "make",
        "cmake",
    } <= set(shipped_recipe("wasi-sdk").packages)
    assert {"rustc", "cargo", "libstd-rust-dev-wasm32", "lld-14", "librust-itoa-dev"} <= set(
        shipped_recipe("rust").packages
    )
    assert {"emscripten", "nodejs"} <= set(shipped_recipe("emscripten").packages)
    assert shipped_recipe("emscripten").env["NODE_PATH"] == "/usr/share/nodejs"


def test_base_is_bookworm_pinned_by_digest() -> None:
    base = load_base()
    assert base.suite == "bookworm"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", base.digest)
    assert base.image.startswith("docker.io/library/debian:bookworm-slim@")


def _recipe(tmp_path: Path, toml: str, dockerfile: bool = True) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    if dockerfile:
        (folder / "Dockerfile").write_text("FROM scratch\n")
    (folder / "toolchain.toml").write_text(toml)
    return folder


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, 'description = "x"\n\n[packages]\nmake = "4.3-4.1"\n\n[envv]\n')
    with pytest.raises(ConfigError) as caught:
        load_recipe(folder)
    assert caught.value.message == f"{folder / 'toolchain.toml'}:6: envv: unknown key"


def test_bad_version_pin_is_rejected_before_apt_sees_it(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, '[packages]\nmake = "4.3; rm -rf /"\n')
    with pytest.raises(ConfigError) as caught:
        load_recipe(folder)
    message = caught.value.message
    assert message.startswith(f"{folder / 'toolchain.toml'}:2: packages.make: ")
    assert "4.3; rm -rf /" in message


def test_verify_entry_needs_a_command(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, '[[verify]]\nname = "cc"\nexpect = "1"\n')
    with pytest.raises(ConfigError, match=r"verify\.0\.command: required key is missing"):
        load_recipe(folder)


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, "[packages\n")
    with pytest.raises(ConfigError, match=re.escape(str(folder / "toolchain.toml"))):
        load_recipe(folder)


def test_recipe_without_dockerfile(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, "", dockerfile=False)
    with pytest.raises(UserError, match="no Dockerfile in this toolchain recipe"):
        load_recipe(folder)


def test_a_dockerfile_alone_is_a_recipe(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM scratch\n")
    recipe = load_recipe(folder, name="rust")
    assert recipe.name == "rust"
    assert recipe.packages == {}
    assert recipe.checks == ()


def test_unknown_toolchain_lists_the_known_ones() -> None:
    with pytest.raises(
        UserError, match=r"unknown toolchain 'go' \(known: emscripten, rust, wasi-sdk\)"
    ):
        shipped_recipe("go")


def test_base_file_must_pin_a_digest(tmp_path: Path) -> None:
    path = tmp_path / "base.toml"
    path.write_text('image = "debian:bookworm"\nsuite = "bookworm"\nmirror = "http://m/debian"\n')
    with pytest.raises(ConfigError, match=r"base\.toml:1: image: "):
        load_base(path)


def test_recipes_ship_from_the_toolchains_folder() -> None:
    assert (toolchains_dir() / "base.toml").is_file()
