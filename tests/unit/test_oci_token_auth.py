"""How the registry client words Bearer-token refusals (the full flow against a real registry is
in tests/integration/test_registry_token_auth.py)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.http_support import serve
from wasmforge.errors import ExitCode, RegistryError
from wasmforge.oci.credentials import Credentials
from wasmforge.oci.registry import RegistryClient, auth_refusal

READER = Credentials("reader", "read-secret", "test")
INSUFFICIENT = ('Bearer realm="http://127.0.0.1:1/token",service="reg",'
                'scope="repository:wf/app:push,pull",error="insufficient_scope"')


def test_insufficient_scope_is_a_denial_naming_user_and_scope() -> None:
    error = auth_refusal("127.0.0.1:5000", INSUFFICIENT, READER)
    assert error.exit_code == ExitCode.REGISTRY_ERROR
    assert error.message == ("127.0.0.1:5000: access denied as reader: the token does not grant "
                             "push,pull access to repository wf/app")
    assert "read-secret" not in error.message


def test_insufficient_scope_without_credentials() -> None:
    error = auth_refusal("reg.example", INSUFFICIENT, None)
    assert "access denied (no credentials)" in error.message


def test_insufficient_scope_without_a_scope_parameter() -> None:
    header = 'Bearer realm="http://127.0.0.1:1/token",error="insufficient_scope"'
    assert auth_refusal("r", header, READER).message.endswith("does not grant this request")


@pytest.mark.parametrize("header", [
    "",
    'Basic realm="registry"',
    'Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:wf/app:pull"',
    'Bearer realm="http://127.0.0.1:1/token",error="invalid_token"',
])
def test_other_refusals_stay_authentication_failures(header: str) -> None:
    error = auth_refusal("r", header, READER)
    assert error.message == "r: authentication refused as reader"
    assert error.hint is not None
    assert "docker login" in error.hint


class _RefusingTokenRealm(BaseHTTPRequestHandler):
    """A registry whose token realm (on the same port) refuses every password."""

    def do_GET(self) -> None:
        realm = f"http://{self.headers['Host']}/token"  # the port this server listens on
        self.send_response(401)
        if not self.path.startswith("/token"):
            self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="reg"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def refusing_registry() -> Iterator[str]:
    with serve(_RefusingTokenRealm) as address:
        yield address


def test_token_service_refusal_names_the_user(refusing_registry: str) -> None:
    client = RegistryClient(refusing_registry, credentials=READER, insecure=True, attempts=1)
    with pytest.raises(RegistryError) as caught:
        client.blob_exists("wf/app", "sha256:" + "0" * 64)
    assert caught.value.message == (f"{refusing_registry}: authentication refused by the token "
                                    "service as reader")
    assert "read-secret" not in caught.value.message
