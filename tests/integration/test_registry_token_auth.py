"""Bearer token auth against a real ``docker-registry`` configured with ``auth: token:``.

The realm is a token server run here (tests/integration/token_server.py) that checks Basic
credentials and issues RS256 JWTs signed with an openssl-made key whose certificate the registry
trusts. ``wfuser`` may pull and push; ``reader`` may only pull.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.oci_registry import (
    RunningRegistry,
    registry_available,
    registry_cli,
    run_registry,
)
from tests.integration.token_server import (
    SigningIdentity,
    TokenServer,
    User,
    make_signing_identity,
    openssl_available,
    run_token_server,
)
from tests.needs import need
from tests.oci_samples import HELLO_OUTPUT
from wasmforge.oci.layout import load_layout

pytestmark = pytest.mark.registry

# The image layouts packaged once from WAT by the plain-registry tests (session scope).

SERVICE = "wasmforge-test-registry"
ISSUER = "wasmforge-test-token-issuer"
USERS = {
    "wfuser": User("wf-secret", frozenset({"pull", "push"})),
    "reader": User("read-secret", frozenset({"pull"})),
}


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> SigningIdentity:
    need(openssl_available(), "openssl (apt-get install openssl)")
    return make_signing_identity(tmp_path_factory.mktemp("token-identity"))


@pytest.fixture(scope="module")
def token_server(identity: SigningIdentity) -> Iterator[TokenServer]:
    with run_token_server(identity, service=SERVICE, issuer=ISSUER, users=USERS) as server:
        yield server


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, identity: SigningIdentity, token_server: TokenServer
) -> Iterator[RunningRegistry]:
    need(registry_available(), "docker-registry (apt-get install docker-registry)")
    auth_yaml = (
        "auth:\n  token:\n"
        f"    realm: {token_server.realm}\n"
        f"    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n"
        f"    rootcertbundle: {identity.certificate}\n"
    )
    with run_registry(tmp_path_factory.mktemp("token-registry"), auth_yaml=auth_yaml) as running:
        yield running


def docker_config(directory: Path, registry: str, user: str, password: str) -> dict[str, str]:
    """The environment for wasmforge with ``user:password`` in a fresh Docker config.json."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    return {"DOCKER_CONFIG": str(directory)}


def requests_for(server: TokenServer, repository: str) -> list[tuple[str | None, str]]:
    """(user, scope) of each token request naming ``repository``."""
    return [(r.username, scope) for r in server.recorded() for scope in r.scopes
            if scope.startswith(f"repository:{repository}:")]


def test_registry_demands_a_token_from_our_realm(
    token_registry: RunningRegistry, token_server: TokenServer
) -> None:
    """The registry really is in token mode: without a token it points at the token server."""
    answer = requests.get(f"http://{token_registry.host}/v2/", timeout=10)
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{token_server.realm}"' in challenge
    assert f'service="{SERVICE}"' in challenge


def test_registry_checks_the_token_audience(
    token_registry: RunningRegistry, token_server: TokenServer
) -> None:
    """A correctly signed token for another service is refused, so acceptance below means the
    registry verified our JWT rather than waving any Bearer header through."""
    url = f"http://{token_registry.host}/v2/"
    good = token_server.issue("wfuser", [])
    assert requests.get(url, headers={"Authorization": f"Bearer {good}"},
                        timeout=10).status_code == 200
    wrong_audience = TokenServer(token_server.identity, "some-other-service", ISSUER, USERS)
    bad = wrong_audience.issue("wfuser", [])
    assert requests.get(url, headers={"Authorization": f"Bearer {bad}"},
                        timeout=10).status_code == 401


def test_push_with_token_from_docker_config(
    token_registry: RunningRegistry, token_server: TokenServer, packaged: Path, tmp_path: Path
) -> None:
    ref = f"{token_registry.host}/wf/token-push:v1"
    env = docker_config(tmp_path, token_registry.host, "wfuser", "wf-secret")
    done = registry_cli("push", ref, "--layout", str(packaged / "image"), "--insecure", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == load_layout(packaged / "image").digest
    pushes = [r for r in token_server.recorded()
              if "repository:wf/token-push:pull,push" in r.scopes]
    assert pushes, token_server.recorded()
    assert all(r.username == "wfuser" and r.service == SERVICE and r.status == 200
               for r in pushes)
    assert pushes[0].granted == (("wf/token-push", ("pull", "push")),)


def test_pull_and_run_with_a_read_only_token(
    token_registry: RunningRegistry, token_server: TokenServer, packaged: Path, tmp_path: Path
) -> None:
    ref = f"{token_registry.host}/wf/token-pull:v1"
    pusher = docker_config(tmp_path / "pusher", token_registry.host, "wfuser", "wf-secret")
    pushed = registry_cli("push", ref, "--layout", str(packaged / "artifact"), "--insecure",
                       env=pusher)
    assert pushed.returncode == 0, pushed.stderr
    reader = docker_config(tmp_path / "reader", token_registry.host, "reader", "read-secret")
    pulled = registry_cli("pull", ref, "-o", str(tmp_path / "pulled"), "--insecure", "--json",
                       env=reader)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == pushed.stdout.strip()
    assert load_layout(tmp_path / "pulled").digest == pushed.stdout.strip()
    ran = registry_cli("run", "--insecure", ref, env=reader)
    assert (ran.returncode, ran.stdout) == (0, HELLO_OUTPUT), ran.stderr
    assert ("reader", "repository:wf/token-pull:pull") in requests_for(token_server,
                                                                     "wf/token-pull")
    assert all(r.service == SERVICE for r in token_server.recorded())


def test_wrong_password_is_one_clear_line(
    token_registry: RunningRegistry, token_server: TokenServer, packaged: Path, tmp_path: Path
) -> None:
    ref = f"{token_registry.host}/wf/token-wrong:v1"
    env = docker_config(tmp_path, token_registry.host, "wfuser", "not-the-password")
    done = registry_cli("push", ref, "--layout", str(packaged / "image"), "--insecure", env=env)
    assert done.returncode == 7, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, done.stderr
    assert "authentication refused by the token service as wfuser" in errors[0]
    assert "Traceback" not in done.stderr
    assert "not-the-password" not in done.stderr
    refused = [r for r in token_server.recorded() if r.status == 401]
    assert any(r.username == "wfuser" for r in refused)


def test_token_without_push_is_denied(
    token_registry: RunningRegistry, token_server: TokenServer, packaged: Path, tmp_path: Path
) -> None:
    ref = f"{token_registry.host}/wf/token-readonly:v1"
    env = docker_config(tmp_path, token_registry.host, "reader", "read-secret")
    done = registry_cli("push", ref, "--layout", str(packaged / "image"), "--insecure", env=env)
    assert done.returncode == 7, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, done.stderr
    assert "denied" in errors[0]
    assert "reader" in errors[0]
    assert "push" in errors[0]
    assert "Traceback" not in done.stderr
    # The server was asked for push and granted only pull: the registry is what said no.
    asked = [r for r in token_server.recorded()
             if "repository:wf/token-readonly:pull,push" in r.scopes]
    assert asked
    assert all(r.granted == (("wf/token-readonly", ("pull",)),) for r in asked)
    # Nothing was tagged.
    probe = registry_cli("pull", ref, "-o", str(tmp_path / "nothing"), "--insecure", env=env)
    assert probe.returncode == 7
    assert "not found" in probe.stderr

