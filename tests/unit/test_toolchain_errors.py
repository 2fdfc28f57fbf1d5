"""Errors around toolchain images: engine down, apt failures, bad overrides (no Docker needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wasmforge.config.model import WasmforgeConfig
from wasmforge.engine import docker_client
from wasmforge.errors import (
    ConfigError,
    EngineUnavailableError,
    ExitCode,
    ToolchainError,
    UserError,
)
from wasmforge.toolchains.base import local_base_tag, split_digest_reference
from wasmforge.toolchains.builder import build_failure
from wasmforge.toolchains.images import resolve_source, tag_for
from wasmforge.toolchains.recipe import BaseSpec, shipped_recipe

DIGEST = "sha256:" + "ab" * 32


def test_engine_down_is_one_line_with_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/no-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", url)
    with pytest.raises(EngineUnavailableError) as caught:
        docker_client()
    assert caught.value.message.startswith(f"no Docker engine answers at {url}: ")
    assert "\n" not in caught.value.message
    assert caught.value.hint == "start the Docker daemon, or build with --runner local"


def test_cli_reports_engine_down_with_its_exit_code(tmp_path: Path) -> None:
    env = {
        "DOCKER_HOST": f"unix://{tmp_path}/none.sock",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "wasmforge", "toolchains", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == ExitCode.ENGINE_UNAVAILABLE
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: no Docker engine answers at unix://")
    assert lines[1] == "hint: start the Docker daemon, or build with --runner local"
    assert "Traceback" not in done.stderr


def test_apt_missing_version_names_the_package() -> None:
    recipe = shipped_recipe("wasi-sdk", "debian-12")
    output = ["Reading package lists...", "E: Version '9.9-1' for 'cmake' was not found"]
    error = build_failure(
        recipe, "The command '/bin/sh -c ...' returned a non-zero code: 100", output
    )
    assert isinstance(error, ToolchainError)
    assert error.message == (
        "wasi-sdk: apt cannot install cmake=3.25.1-1: E: Version '9.9-1' for 'cmake' was not found"
    )
    assert error.hint is not None
    assert "apt-cache madison cmake" in error.hint
    assert str(recipe.directory / "toolchain.toml") in error.hint


@pytest.mark.parametrize(
    ("line", "package"),
    [
        ("E: Unable to locate package clang-99", "clang-99"),
        ("E: Package 'nodejs' has no installation candidate", "nodejs"),
        (
            (
                "E: Failed to fetch http://deb.debian.org/debian/pool/main/w/wabt/"
                "wabt_1.0.32-1_amd64.deb  404"
            ),
            "wabt",
        ),
    ],
)
def test_other_apt_failures_name_the_package(line: str, package: str) -> None:
    error = build_failure(shipped_recipe("rust", "debian-12"), "code 100", ["x", line])
    assert error.message.startswith(f"rust: apt cannot install {package}")


def test_unreachable_mirror_is_said_plainly() -> None:
    error = build_failure(
        shipped_recipe("rust", "debian-12"),
        "code 100",
        ["W: Failed to fetch ... Temporary failure resolving 'deb.debian.org'"],
    )
    assert error.message.startswith("rust: apt cannot reach the Debian mirror")


def test_other_failures_keep_the_builder_message() -> None:
    error = build_failure(shipped_recipe("rust", "debian-12"), "COPY failed:\n no such file", ["Step 3/9"])
    assert error.message == "rust: image build failed: COPY failed: no such file"


def _config(toolchains: dict[str, dict[str, str]]) -> WasmforgeConfig:
    return WasmforgeConfig.model_validate(
        {
            "project": {"name": "demo"},
            "toolchains": toolchains,
            "targets": {"hello": {"kind": "wat", "source": "hello.wat"}},
        }
    )


def test_override_image_is_used_as_is() -> None:
    image = f"ghcr.io/acme/emsdk@{DIGEST}"
    source = resolve_source("emscripten", _config({"emscripten": {"image": image}}))
    assert source.override == "image"
    assert tag_for(source) == image
    assert not source.judge_versions
    assert source.checks == shipped_recipe("emscripten").checks


def test_override_recipe_relative_to_root(tmp_path: Path) -> None:
    (tmp_path / "tc").mkdir()
    (tmp_path / "tc" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nRUN true\n")
    source = resolve_source("rust", _config({"rust": {"recipe": "tc"}}), root=tmp_path)
    assert source.override == "recipe"
    assert source.uses_base
    assert tag_for(source).startswith("wasmforge/rust-custom:")
    assert source.checks == shipped_recipe("rust").checks


def test_override_recipe_that_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^toolchains\.rust\.recipe: .*/nope is not a directory"):
        resolve_source("rust", _config({"rust": {"recipe": "nope"}}), root=tmp_path)


def test_override_with_both_image_and_recipe() -> None:
    config = _config({"rust": {"recipe": "x", "image": f"r@{DIGEST}"}})
    with pytest.raises(ConfigError, match="either 'image' or 'recipe'"):
        resolve_source("rust", config)


def test_wat_and_unknown_kinds_have_no_image() -> None:
    with pytest.raises(UserError, match="needs no image"):
        resolve_source("wat", None)
    with pytest.raises(UserError, match="unknown toolchain 'go'"):
        resolve_source("go", None)


def test_digest_references_drop_the_tag() -> None:
    assert split_digest_reference(f"docker.io/library/debian:bookworm-slim@{DIGEST}") == (
        "docker.io/library/debian",
        DIGEST,
    )
    assert split_digest_reference(f"127.0.0.1:5000/base@{DIGEST}") == (
        "127.0.0.1:5000/base",
        DIGEST,
    )
    spec = BaseSpec(image=f"127.0.0.1:5000/base@{DIGEST}", suite="bookworm", mirror="http://m")
    assert local_base_tag(spec) == "wasmforge/base:bookworm-abababababababab"


def test_coloured_fragmented_apt_errors_are_reassembled(capsys: pytest.CaptureFixture[str]) -> None:
    """The classic builder sends apt's stderr in colour and in pieces; the package is still named."""
    from wasmforge.console import Console
    from wasmforge.toolchains.builder import _BuildOutput, _handle_event

    output = _BuildOutput(shipped_recipe("wasi-sdk", "debian-12"), Console(env={}))
    events: list[dict[str, str]] = [
        {"stream": "Step 5/8 : RUN apt-get install\n ---> Running in b09c\nReading"},
        {"stream": " package lists...\n"},
        {"stream": "\x1b[91mE\x1b[0m"},
        {"stream": "\x1b[91m: \x1b[0m"},
        {"stream": "\x1b[91mVersion '0.0' for 'make' was not found\x1b[0m"},
        {"stream": "\x1b[91m\n\x1b[0m"},
    ]
    for event in events:
        assert _handle_event(event, output) is None
    with pytest.raises(ToolchainError) as caught:
        _handle_event({"error": "The command returned a non-zero code: 100"}, output)
    assert caught.value.message == (
        "wasi-sdk: apt cannot install make=4.3-4.1: E: Version '0.0' for 'make' was not found"
    )
    printed = capsys.readouterr().err.splitlines()
    assert printed[2] == "wasi-sdk | Reading package lists..."
    assert printed[-1] == "wasi-sdk | E: Version '0.0' for 'make' was not found"
