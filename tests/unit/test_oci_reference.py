from __future__ import annotations

import pytest

from wasmforge.errors import UserError
from wasmforge.oci.challenge import parse_challenge
from wasmforge.oci.reference import is_loopback, parse_reference


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "full"),
    [
        ("hello", "docker.io", "hello", None, "docker.io/library/hello:latest"),
        ("acme/hello:1.0", "docker.io", "acme/hello", "1.0", "docker.io/acme/hello:1.0"),
        ("ghcr.io/acme/hello:v1", "ghcr.io", "acme/hello", "v1", "ghcr.io/acme/hello:v1"),
        ("127.0.0.1:5000/wf/hello:v1", "127.0.0.1:5000", "wf/hello", "v1",
         "127.0.0.1:5000/wf/hello:v1"),
        ("localhost/x", "localhost", "x", None, "localhost/x:latest"),
    ],
)
def test_parse_reference(
    text: str, registry: str, repository: str, tag: str | None, full: str
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)
    assert ref.full() == full


def test_digest_reference_asks_for_the_digest() -> None:
    digest = "sha256:" + "a" * 64
    ref = parse_reference(f"ghcr.io/acme/hello@{digest}")
    assert ref.reference == digest
    assert ref.tag is None


@pytest.mark.parametrize("bad", ["Hello:1", "acme//x", "x:", "x@sha256:12", " x", "a/b:t@g"])
def test_bad_references_name_the_problem(bad: str) -> None:
    with pytest.raises(UserError, match="image reference"):
        parse_reference(bad)


@pytest.mark.parametrize(
    ("registry", "loopback"),
    [("localhost:5000", True), ("127.0.0.1:5000", True), ("127.3.4.5", True), ("[::1]:5000", True),
     ("10.0.0.1:5000", False), ("ghcr.io", False), ("localhost.evil.com", False)],
)
def test_only_loopback_registries_are_loopback(registry: str, loopback: bool) -> None:
    assert is_loopback(registry) is loopback


def test_bearer_challenge() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:acme/hello:pull,push"'
    )
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example/token", "service": "registry.example",
        "scope": "repository:acme/hello:pull,push",
    }


def test_basic_challenge_and_empty() -> None:
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None
    assert basic.scheme == "basic"
    assert basic.params["realm"] == "Registry Realm"
    assert parse_challenge("") is None


@pytest.mark.parametrize(
    "bad", ["127.0.0.1:99999/x:1", "127.0.0.1:abc/x:1", "[::1/x:1", "a..b/x:1", "ho_st.com/x:1",
            "[1.2.3.4]:5000/x"],
)
def test_bad_registry_hosts_are_refused(bad: str) -> None:
    with pytest.raises(UserError, match="invalid registry host"):
        parse_reference(bad)


@pytest.mark.parametrize("good", ["[::1]:5000/x:1", "localhost:5000/a/b", "ghcr.io/acme/app:1"])
def test_good_registry_hosts(good: str) -> None:
    assert parse_reference(good).explicit_registry


@pytest.mark.parametrize(
    ("target", "is_file"),
    [("./x", True), ("/abs/x", True), ("x.wasm", True), ("dist/x.wat", True), ("o.tar", True),
     ("ghcr.io/acme/x:1", False), ("acme/x", False)],
)
def test_looks_like_file(target: str, is_file: bool) -> None:
    from wasmforge.oci.reference import looks_like_file

    assert looks_like_file(target) is is_file
