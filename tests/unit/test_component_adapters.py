"""The WASI adapters (pinned, fetched from the npm registry, checked) and componentize itself."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.http_support import QuietHandler, serve
from tests.oci_samples import HELLO_WAT, assemble
from wasmforge.component.adapters import (
    ADAPTER_SHA256,
    ADAPTERS_DIR_ENV,
    REGISTRY_ENV,
    adapter,
    fetch_adapters,
    file_name,
)
from wasmforge.component.componentize import componentize
from wasmforge.errors import RegistryError, UserError
from wasmforge.tools import run_tool, wasm_tools
from wasmforge.wasm.module import parse_module


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A cache dir holding the adapters, fetched from the real npm registry."""
    cache = tmp_path_factory.mktemp("adapters-cache")
    env = {"WASMFORGE_CACHE_DIR": str(cache)}
    paths = fetch_adapters(env)
    assert sorted(p.name for p in paths) == sorted(f"{d}.wasm" for d in ADAPTER_SHA256.values())
    return env


def test_fetched_adapters_match_their_pins(fetched: dict[str, str]) -> None:
    for kind, digest in ADAPTER_SHA256.items():
        got = adapter(kind, fetched)
        assert hashlib.sha256(got.path.read_bytes()).hexdigest() == digest
        assert got.version == f"@bytecodealliance/jco@1.35.0 {file_name(kind)}"


def test_a_local_adapter_dir_is_checked_against_the_pins(
    fetched: dict[str, str], tmp_path: Path,
) -> None:
    for kind in ADAPTER_SHA256:
        shutil.copy(adapter(kind, fetched).path, tmp_path / file_name(kind))
    env = {ADAPTERS_DIR_ENV: str(tmp_path)}
    assert adapter("command", env).path == tmp_path / file_name("command")
    (tmp_path / file_name("reactor")).write_bytes(b"\0asm\x01\0\0\0")
    with pytest.raises(UserError, match=r"sha256 .* is not the pinned b857310c4753c8fa"):
        adapter("reactor", env)
    (tmp_path / file_name("reactor")).unlink()
    with pytest.raises(UserError, match="no such adapter file"):
        adapter("reactor", env)


def test_a_registry_serving_another_package_is_refused(tmp_path: Path) -> None:
    class Impostor(QuietHandler):
        def do_GET(self) -> None:
            self.send_body(b"not the package")

    with serve(Impostor) as address:
        env = {REGISTRY_ENV: f"http://{address}/", "WASMFORGE_CACHE_DIR": str(tmp_path)}
        with pytest.raises(UserError, match="does not match its pinned integrity"):
            fetch_adapters(env)
    assert not list(tmp_path.rglob("*.wasm"))


def test_an_unreachable_registry_is_a_registry_error(tmp_path: Path) -> None:
    env = {REGISTRY_ENV: "http://127.0.0.1:9/", "WASMFORGE_CACHE_DIR": str(tmp_path)}
    with pytest.raises(RegistryError, match="cannot fetch the WASI adapters") as raised:
        fetch_adapters(env)
    assert raised.value.hint is not None
    assert ADAPTERS_DIR_ENV in raised.value.hint


def test_componentize_a_command_twice_gives_the_same_bytes(
    fetched: dict[str, str], tmp_path: Path,
) -> None:
    module = assemble(HELLO_WAT, tmp_path, "hello")
    one, two = tmp_path / "one.wasm", tmp_path / "two.wasm"
    first = componentize(module, one, the_adapter=adapter("command", fetched))
    componentize(module, two, the_adapter=adapter("command", fetched))
    assert one.read_bytes() == two.read_bytes()
    assert parse_module(one.read_bytes()).kind == "component"
    assert first.adapter is not None
    assert first.adapter.kind == "command"
    wit = run_tool([wasm_tools(), "component", "wit", one]).stdout.decode()
    assert "export wasi:cli/run@" in wit
    # a component passes through, validated
    again = componentize(one, tmp_path / "three.wasm")
    assert again.adapter is None
    assert (tmp_path / "three.wasm").read_bytes() == one.read_bytes()


def test_a_module_the_adapter_cannot_serve_is_one_clear_error(
    fetched: dict[str, str], tmp_path: Path,
) -> None:
    module = assemble('(module (import "env" "host_thing" (func)) (func (export "_start")))',
                      tmp_path, "odd")
    with pytest.raises(UserError, match=r"odd.wasm: .*env") as raised:
        componentize(module, tmp_path / "out.wasm", the_adapter=adapter("command", fetched))
    assert "\n" not in raised.value.message
    assert not (tmp_path / "out.wasm").exists()
