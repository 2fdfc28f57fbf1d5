"""Reading toolchain.toml and base.toml: the shipped recipes and clear errors for bad ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wasmforge.errors import ConfigError, UserError
from wasmforge.resources import toolchains_dir
from wasmforge.toolchain_sets import DEFAULT_SET, TOOLCHAIN_SETS
from wasmforge.toolchains.recipe import load_base, load_recipe, recipe_names, shipped_recipe

SHIPPED = {
    "debian-12": ["emscripten", "rust", "wasi-sdk"],
    "debian-13": ["emscripten", "rust", "wasi-sdk", "wasmedge"],
}
EVERY_RECIPE = [(s, name) for s, names in SHIPPED.items() for name in names]


def test_each_set_ships_its_images() -> None:
    assert sorted(TOOLCHAIN_SETS) == sorted(SHIPPED)
    for toolchain_set, names in SHIPPED.items():
        assert recipe_names(toolchain_set=toolchain_set) == names


def test_the_default_set_is_debian_13() -> None:
    assert DEFAULT_SET == "debian-13"
    assert recipe_names() == SHIPPED["debian-13"]


@pytest.mark.parametrize(("toolchain_set", "name"), EVERY_RECIPE)
def test_shipped_recipe_pins_every_package_exactly(toolchain_set: str, name: str) -> None:
    recipe = shipped_recipe(name, toolchain_set)
    assert recipe.packages, "a recipe without pins would float"
    for pin in recipe.package_pins:
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+=[0-9][A-Za-z0-9.+~:-]*", pin), pin
    if name != "wasmedge":
        assert {"binaryen", "wabt"} <= set(recipe.packages)
    assert recipe.checks, "verify needs something to run"
    assert all(check.expect for check in recipe.checks)


@pytest.mark.parametrize(("toolchain_set", "name"), EVERY_RECIPE)
def test_recipe_env_is_set_in_the_dockerfile(toolchain_set: str, name: str) -> None:
    """toolchain.toml [env] is what builds get; the image's own ENV must say the same."""
    recipe = shipped_recipe(name, toolchain_set)
    dockerfile = (recipe.directory / "Dockerfile").read_text()
    env_lines = [line for line in dockerfile.splitlines() if line.startswith("ENV ")]
    for key, value in recipe.env.items():
        assert any(f"{key}={value}" in line.split() for line in env_lines), key


@pytest.mark.parametrize(("toolchain_set", "llvm", "rust_linker"), [
    ("debian-12", "16", "lld-14"), ("debian-13", "22", "lld-19")])
def test_required_packages_per_toolchain(toolchain_set: str, llvm: str, rust_linker: str) -> None:
    assert {
        f"clang-{llvm}",
        f"lld-{llvm}",
        "wasi-libc",
        f"libclang-rt-{llvm}-dev-wasm32",
        f"libc++-{llvm}-dev-wasm32",
        f"libc++abi-{llvm}-dev-wasm32",
        "make",
        "cmake",
    } <= set(shipped_recipe("wasi-sdk", toolchain_set).packages)
    assert {"rustc", "cargo", "libstd-rust-dev-wasm32", rust_linker, "librust-itoa-dev"} <= set(
        shipped_recipe("rust", toolchain_set).packages
    )
    emscripten = shipped_recipe("emscripten", toolchain_set)
    assert {"emscripten", "nodejs"} <= set(emscripten.packages)
    assert emscripten.env["NODE_PATH"] == "/usr/share/nodejs"


def test_debian_12_base_is_bookworm_pinned_by_digest() -> None:
    base = load_base(toolchain_set="debian-12")
    assert base.suite == "bookworm"
    assert base.image is not None
    assert re.fullmatch(r"[0-9a-f]{16}", base.short_name)
    assert base.image.startswith("docker.io/library/debian:bookworm-slim@")
    assert base.identity == base.image


def test_debian_13_base_is_debootstrapped_trixie() -> None:
    base = load_base(toolchain_set="debian-13")
    assert (base.suite, base.image, base.short_name) == ("trixie", None, "debootstrap")
    assert base.identity == "debootstrap:trixie:minbase:http://deb.debian.org/debian"


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
        UserError, match=r"unknown toolchain 'go' in the debian-12 set "
        r"\(known: emscripten, rust, wasi-sdk\)"
    ):
        shipped_recipe("go", "debian-12")


def test_unknown_set_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match=r"unknown toolchain set 'debian-11' \(known: "):
        shipped_recipe("rust", "debian-11")


def test_base_file_must_pin_a_digest(tmp_path: Path) -> None:
    path = tmp_path / "base.toml"
    path.write_text('image = "debian:bookworm"\nsuite = "bookworm"\nmirror = "http://m/debian"\n')
    with pytest.raises(ConfigError, match=r"base\.toml:1: image: "):
        load_base(path)


def test_recipes_ship_from_the_toolchains_folder() -> None:
    for toolchain_set in TOOLCHAIN_SETS:
        assert (toolchains_dir() / toolchain_set / "base.toml").is_file()
