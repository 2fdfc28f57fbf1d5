"""``toolchains push|pull`` logic that needs no Docker: registry names, the engine's HTTP rule,
label checks, engine errors in one line, and the deadline of a transfer (against a fake engine that
goes silent on a unix socket)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from wasmforge.config.model import WasmforgeConfig
from wasmforge.console import Console
from wasmforge.engine import TRANSFER_SILENCE_SECONDS, transfer_silence
from wasmforge.errors import EngineUnavailableError, RegistryError, ToolchainError, UserError
from wasmforge.oci.reference import parse_reference
from wasmforge.toolchains import share
from wasmforge.toolchains.images import resolve_source, tag_for
from wasmforge.toolchains.share import (
    DIGEST_LABEL,
    NAME_LABEL,
    Shared,
    check_labels,
    engine_uses_http,
    push_images,
    remote_reference,
    transfer_error,
)

HEX = "0123456789abcdef"
TAG = f"wasmforge/wasi-sdk:{HEX}"
DIGEST = "sha256:" + "ab" * 32
DEFAULT_ENGINE = {"IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": True}},
                  "InsecureRegistryCIDRs": ["127.0.0.0/8"]}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("127.0.0.1:5000/acme/toolchains", f"127.0.0.1:5000/acme/toolchains/wasi-sdk:{HEX}"),
        ("127.0.0.1:5000/acme/toolchains/", f"127.0.0.1:5000/acme/toolchains/wasi-sdk:{HEX}"),
        ("127.0.0.1:5000", f"127.0.0.1:5000/wasi-sdk:{HEX}"),
        ("ghcr.io/acme", f"ghcr.io/acme/wasi-sdk:{HEX}"),
        ("acme/toolchains", f"acme/toolchains/wasi-sdk:{HEX}"),
    ],
)
def test_remote_reference_puts_the_content_tag_under_the_prefix(prefix: str, expected: str) -> None:
    ref = remote_reference(prefix, TAG)
    assert str(ref) == expected
    assert ref.tag == HEX


def test_remote_reference_keeps_a_custom_recipe_image_name() -> None:
    assert str(remote_reference("reg.example:5000/a", f"wasmforge/rust-custom:{HEX}")) == \
        f"reg.example:5000/a/rust-custom:{HEX}"


@pytest.mark.parametrize(
    "prefix",
    ["", "/", " reg:5000/a", "reg:5000/acme:v1", f"reg:5000/acme@{DIGEST}", "reg:5000/Acme",
     "reg:5000/a//b"],
)
def test_remote_reference_refuses_what_is_not_a_repository_prefix(prefix: str) -> None:
    with pytest.raises(UserError) as caught:
        remote_reference(prefix, TAG)
    assert caught.value.message.startswith(f"REF {prefix!r}: ")
    assert "127.0.0.1:5000/acme/toolchains" in caught.value.message  # an example of a good one


@pytest.mark.parametrize(
    ("registry", "config", "expected"),
    [
        ("127.0.0.1:5000", DEFAULT_ENGINE, True),
        ("127.0.0.42:5000", DEFAULT_ENGINE, True),
        ("localhost:5000", DEFAULT_ENGINE, True),
        ("10.1.2.3:5000", DEFAULT_ENGINE, False),
        ("[::1]:5000", DEFAULT_ENGINE, False),  # not in this engine's ranges: it speaks HTTPS
        ("10.1.2.3:5000", {**DEFAULT_ENGINE, "InsecureRegistryCIDRs": ["10.0.0.0/8"]}, True),
        ("reg.lan:5000", {"IndexConfigs": {"reg.lan:5000": {"Secure": False}}}, True),
        ("127.0.0.1:5000", {"IndexConfigs": {"127.0.0.1:5000": {"Secure": True}}}, False),
        ("reg.lan:5000", DEFAULT_ENGINE, None),  # a host name: the engine resolves it
        ("docker.io", DEFAULT_ENGINE, False),
        ("10.1.2.3:5000", {}, False),
    ],
)
def test_engine_uses_http_follows_the_engines_registry_config(
    registry: str, config: dict[str, Any], expected: bool | None
) -> None:
    assert engine_uses_http(registry, config) is expected


def test_labels_of_the_recipe_pass() -> None:
    check_labels({NAME_LABEL: "wasi-sdk", DIGEST_LABEL: HEX, "other": "x"}, "wasi-sdk", TAG, "img")


def test_a_wrong_recipe_digest_names_both_digests() -> None:
    with pytest.raises(ToolchainError) as caught:
        check_labels({NAME_LABEL: "wasi-sdk", DIGEST_LABEL: "f" * 16}, "wasi-sdk", TAG,
                     "reg/wasi-sdk:x", hint="h")
    message = caught.value.message
    assert message.startswith("reg/wasi-sdk:x is not the wasi-sdk image of this recipe")
    assert f"{DIGEST_LABEL}={'f' * 16}" in message
    assert message.endswith(f"the recipe's digest is {HEX}")
    assert caught.value.hint == "h"


def test_another_toolchains_image_is_named_as_such() -> None:
    with pytest.raises(ToolchainError, match=f"{NAME_LABEL}=rust"):
        check_labels({NAME_LABEL: "rust", DIGEST_LABEL: HEX}, "wasi-sdk", TAG, "img")


def test_an_image_without_labels_is_refused() -> None:
    with pytest.raises(ToolchainError, match=f"no {DIGEST_LABEL} label, no {NAME_LABEL} label"):
        check_labels(None, "wasi-sdk", TAG, "img")


REF = parse_reference(f"10.1.2.3:5000/acme/wasi-sdk:{HEX}")


def test_an_http_registry_refused_by_the_engine_says_so_plainly() -> None:
    error = transfer_error("push", REF, 'Get "https://10.1.2.3:5000/v2/": http: server gave '
                           "HTTP response to HTTPS client")
    assert isinstance(error, RegistryError)
    assert error.message.startswith("10.1.2.3:5000 answers plain HTTP, and the Docker engine "
                                    "refused it")
    assert error.hint is not None
    assert '"insecure-registries"' in error.hint
    assert "--insecure" in error.hint


def test_a_missing_image_names_the_reference_and_how_to_get_it() -> None:
    error = transfer_error(
        "pull", REF, f"manifest for {REF} not found: manifest unknown: manifest unknown",
        status=404, toolchain="wasi-sdk --set debian-12")
    assert isinstance(error, RegistryError)
    assert error.message.startswith(f"{REF}: not found in the registry (manifest for")
    assert error.hint == ("push it from a machine that built it (wasmforge toolchains push "
                          "10.1.2.3:5000/acme wasi-sdk --set debian-12), or build it here: "
                          "wasmforge toolchains build wasi-sdk --set debian-12")


def test_refused_credentials_point_at_docker_login() -> None:
    error = transfer_error("push", REF, "unauthorized: authentication required")
    assert error.message == f"{REF}: the registry refused the push: unauthorized: " \
        "authentication required"
    assert error.hint is not None
    assert error.hint.startswith("docker login 10.1.2.3:5000")


def test_other_engine_errors_are_one_registry_line() -> None:
    error = transfer_error("pull", REF, "dial tcp 10.1.2.3:5000:\n connect: connection refused")
    assert isinstance(error, RegistryError)
    assert error.message == (f"cannot reach 10.1.2.3:5000 to pull {REF}: dial tcp "
                             "10.1.2.3:5000: connect: connection refused")
    assert transfer_error("push", REF, "blob upload invalid").message == \
        f"cannot push {REF}: blob upload invalid"


def test_digests_are_read_from_the_engines_events() -> None:
    pushed: list[dict[str, Any]] = [{"status": "Pushed", "id": "x"},
              {"status": f"{HEX}: digest: {DIGEST} size: 1157"},
              {"progressDetail": {}, "aux": {"Tag": HEX, "Digest": DIGEST, "Size": 1157}}]
    assert share._pushed_digest(pushed) == DIGEST
    assert share._pushed_digest(pushed[:2]) == DIGEST  # an engine that sends no aux
    assert share._pushed_digest(pushed[:1]) is None
    assert share._pulled_digest([{"status": "Pulling from a"}, {"status": f"Digest: {DIGEST}"}]) \
        == DIGEST


def test_json_rows_carry_the_pinned_reference() -> None:
    row = Shared("wasi-sdk", "debian-12", TAG, f"127.0.0.1:5000/a/wasi-sdk:{HEX}", "pushed",
                 DIGEST, "sha256:" + "1" * 64)
    assert row.to_json()["pinned"] == f"127.0.0.1:5000/a/wasi-sdk@{DIGEST}"
    assert Shared("rust", "debian-13", "x@y", None, "skipped", note="n").to_json()["pinned"] is None


def test_the_transfer_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WASMFORGE_ENGINE_TIMEOUT", raising=False)
    assert transfer_silence() == TRANSFER_SILENCE_SECONDS
    monkeypatch.setenv("WASMFORGE_ENGINE_TIMEOUT", "2.5")
    assert transfer_silence() == 2.5


# Pushing what is not there, or not ours ---------------------------------------------------------


def _missing(reference: str) -> Any:
    from docker.errors import ImageNotFound

    raise ImageNotFound(reference)


# A Docker client with no images at all.
NO_IMAGES: Any = SimpleNamespace(images=SimpleNamespace(get=_missing))


def test_pushing_an_unbuilt_image_names_it_and_how_to_build_it() -> None:
    source = resolve_source("wasi-sdk", None, None, "debian-12")
    with pytest.raises(UserError) as caught:
        push_images(NO_IMAGES, [source], "127.0.0.1:5000/acme", Console(env={}))
    assert caught.value.message == (f"{tag_for(source)} (debian-12 wasi-sdk) is not built on this "
                                    "engine: nothing to push")
    assert caught.value.hint == \
        "build it first: wasmforge toolchains build wasi-sdk --set debian-12"


def test_a_users_own_image_is_not_pushed(capsys: pytest.CaptureFixture[str]) -> None:
    pinned = f"docker.io/emscripten/emsdk@{DIGEST}"
    config = WasmforgeConfig.model_validate({
        "project": {"name": "demo"},
        "toolchains": {"emscripten": {"image": pinned}},
        "targets": {"hello": {"kind": "wat", "source": "hello.wat"}},
    })
    source = resolve_source("emscripten", config, None, "debian-13")
    [row] = push_images(NO_IMAGES, [source], "127.0.0.1:5000/acme", Console(env={}))
    assert (row.status, row.reference, row.tag) == ("skipped", None, pinned)
    assert "toolchains.emscripten.image is the project's own image" in row.note
    assert "not shared by wasmforge" in capsys.readouterr().err


# The deadline, against a fake engine ------------------------------------------------------------

_HEADERS = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """A unix socket that answers every request with what the list holds, then says nothing
    (the connection stays open) until the test ends."""
    path = tmp_path / "engine.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    replies: list[bytes] = []
    done = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)
            connection.recv(65536)
            for reply in replies:
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path, replies
    finally:
        done.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()


def _pull(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[dict[str, Any]]:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setenv("WASMFORGE_ENGINE_TIMEOUT", "1")
    return share._transfer("pull", REF, Console(env={}), lambda api: api.pull(
        "10.1.2.3:5000/acme/wasi-sdk", tag=HEX, stream=True, decode=True))


def test_an_engine_silent_before_answering_fails_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch, fake_engine: tuple[Path, list[bytes]]
) -> None:
    path, _ = fake_engine
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError) as caught:
        _pull(monkeypatch, path)
    assert time.monotonic() - started < 10
    assert caught.value.message == (f"the Docker engine sent nothing for 1 s while pulling {REF} "
                                    "(the engine, or the registry behind it, is stuck)")


def test_an_engine_silent_in_the_middle_of_a_pull_fails_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch, fake_engine: tuple[Path, list[bytes]]
) -> None:
    path, replies = fake_engine
    replies += [_HEADERS, _chunk(b'{"status": "Pulling from acme/wasi-sdk"}\r\n')]
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError, match="sent nothing for 1 s while pulling"):
        _pull(monkeypatch, path)
    assert time.monotonic() - started < 10


def test_an_error_event_is_raised_after_the_stream_is_read(
    monkeypatch: pytest.MonkeyPatch, fake_engine: tuple[Path, list[bytes]]
) -> None:
    path, replies = fake_engine
    replies += [_HEADERS, _chunk(b'{"status": "Pulling from acme/wasi-sdk"}\r\n'),
                _chunk(b'{"errorDetail": {"message": "unauthorized: authentication required"},'
                       b' "error": "unauthorized: authentication required"}\r\n'),
                _chunk(b'{"status": "after the error"}\r\n'), b"0\r\n\r\n"]
    with pytest.raises(RegistryError) as caught:
        _pull(monkeypatch, path)
    assert caught.value.message == (f"{REF}: the registry refused the pull: unauthorized: "
                                    "authentication required")


def test_an_engine_that_goes_away_is_an_engine_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(EngineUnavailableError, match=r"^the Docker engine went away while pulling"):
        _pull(monkeypatch, tmp_path / "nothing-here.sock")
