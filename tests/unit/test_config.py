"""wasmforge.toml: valid files load; each kind of mistake gets one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmforge.config.load import load_config
from wasmforge.config.model import EmscriptenTarget, RustTarget, WasiSdkTarget, WatTarget
from wasmforge.errors import ConfigError

FULL = """\
[project]
name = "demo"
version = "1.2.3"
source = "https://example.com/demo"

[build]
out-dir = "out"
profile = "release"
runner = "docker"
jobs = 2

[profile.small]
inherits = "release"
opt-level = "z"
strip-names = true

[toolchains.rust]
image = "registry.example.com/rust@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

[targets.hello]
kind = "wasi-sdk"
sources = ["src/*.c"]
include-dirs = ["include"]
defines = ["NDEBUG", "LEVEL=2"]
package = { format = "both", image = "example.com/demo/hello:1.2.3" }

[targets.lib]
kind = "wasi-sdk"
sources = ["lib.c"]
exec-model = "reactor"
exports = ["add"]

[targets.cli]
kind = "rust"
path = "cli"

[targets.page]
kind = "emscripten"
sources = ["page.c"]
environment = "web"
html = true
settings = { ALLOW_MEMORY_GROWTH = 1 }

[targets.asm]
kind = "wat"
source = "asm.wat"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wasmforge.toml"
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = caught.value.message
    assert "\n" not in message
    return message


def test_full_config_loads_every_kind(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.project.version == "1.2.3"
    assert config.build.out_dir == "out"
    assert isinstance(config.targets["hello"], WasiSdkTarget)
    assert isinstance(config.targets["cli"], RustTarget)
    assert isinstance(config.targets["page"], EmscriptenTarget)
    assert isinstance(config.targets["asm"], WatTarget)
    hello = config.targets["hello"]
    assert hello.package is not None
    assert hello.package.format == "both"
    assert config.targets["lib"].exec_model == "reactor"  # type: ignore[union-attr]


MINIMAL = '[project]\nname = "x"\n\n[targets.a]\nkind = "wat"\nsource = "a.wat"\n'


def test_unknown_key_is_named_with_line_and_suggestion(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL.replace("source =", "sourec ="))
    assert "wasmforge.toml:6: targets.a.sourec: unknown key (did you mean 'source'?)" in message


def test_unknown_kebab_key_suggests_kebab_spelling(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\n[targets.a]\nkind = "wasi-sdk"\nincldue-dirs = []\n'
    assert "did you mean 'include-dirs'?" in error_for(tmp_path, text)


def test_unknown_table_is_named(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL + "[buidl]\njobs = 1\n")
    assert "buidl: unknown key (did you mean 'build'?)" in message


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL.replace('"a.wat"', "3"))
    assert "targets.a.source: Input should be a valid string (got 3)" in message
    assert ":6:" in message


@pytest.mark.parametrize("name", ['"A B"', '"1X"', '"X=Y"', '""', '"PATH;rm"'])
def test_env_names_must_be_variable_names(tmp_path: Path, name: str) -> None:
    message = error_for(tmp_path, MINIMAL + f'[targets.a.env]\n{name} = "v"\n')
    assert f"targets.a.env.{name.strip(chr(34))}: not an environment variable name" in message
    assert "[key]" not in message


def test_strings_are_not_coerced_to_numbers(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL + '[build]\njobs = "2"\n')
    assert "build.jobs" in message


def test_missing_field_is_named(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL.replace('source = "a.wat"\n', ""))
    assert "targets.a.source: required key is missing" in message


def test_missing_project_table(tmp_path: Path) -> None:
    assert "project: required key is missing" in error_for(tmp_path, '[targets.a]\nkind="wat"\nsource="a"\n')


def test_unknown_kind_lists_the_kinds(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL.replace('"wat"', '"wasi"'))
    assert "targets.a: unknown kind 'wasi' (expected one of: wasi-sdk, rust, emscripten, wat)" in message


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[project]\nname = "x\n')
    assert "wasmforge.toml:2:" in message


def test_unpinned_toolchain_image_is_refused(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL + '[toolchains.rust]\nimage = "rust:latest"\n')
    assert "toolchains.rust.image: must be pinned by digest" in message


def test_no_targets_is_an_error(tmp_path: Path) -> None:
    assert "targets" in error_for(tmp_path, '[project]\nname = "x"\n')


def test_bad_project_name(tmp_path: Path) -> None:
    assert "project.name" in error_for(tmp_path, MINIMAL.replace('"x"', '"Has Spaces"'))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "wasmforge.toml"
    path.write_bytes(b"\xff\xfe[project]")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(path)


def test_unreadable_project_directory_is_a_config_error(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "wasmforge.toml").write_text(MINIMAL)
    locked.chmod(0)
    tmp_path.chmod(0o755)
    # Permissions do not stop root: check as an ordinary uid when the tests run as root.
    prefix = ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups"]
    if os.getuid() != 0:
        prefix = []
    elif shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to drop root")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from wasmforge.config.load import find_config\n"
        "from wasmforge.errors import ConfigError\n"
        "try:\n"
        f"    find_config(Path({str(locked)!r}))\n"
        "except ConfigError as e:\n"
        "    print(e.message)\n"
    )
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", code],
                              capture_output=True, text=True, check=False)
    finally:
        locked.chmod(0o755)
    assert done.stdout.strip() == f"{locked}: cannot read: Permission denied", done.stderr


def test_profile_names_become_directories_so_must_be_plain(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL + '[profile."../../esc"]\nopt-level = 1\n')
    assert "profile name '../../esc' may only use letters, digits" in message


def test_keys_are_spelled_as_the_file_format_says(tmp_path: Path) -> None:
    """``include_dirs`` is Python's spelling; the file's is ``include-dirs``."""
    path = tmp_path / "wasmforge.toml"
    path.write_text('[project]\nname = "p"\n[targets.t]\nkind = "wasi-sdk"\n'
                    'sources = ["a.c"]\ninclude_dirs = ["include"]\n')
    with pytest.raises(ConfigError, match=r"targets\.t\.include_dirs: unknown key \(did you mean "
                                          r"'include-dirs'\?\)"):
        load_config(path)
