"""A Docker-style token server on 127.0.0.1, for testing Bearer auth against a real registry.

It does what a registry's ``auth: token:`` realm does: check Basic credentials, then issue an RS256
JWT whose ``access`` claim grants the requested scope actions the user is allowed. The signing key
and its self-signed certificate come from the ``openssl`` CLI, and so do the signatures, so no
Python crypto package is needed. The registry trusts the certificate through ``rootcertbundle``
and finds it in the token's ``x5c`` header. Every request is recorded, so tests can assert on what
the client asked for.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_PATH = "/token"
TOKEN_SECONDS = 300


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


@dataclass(frozen=True)
class SigningIdentity:
    key: Path  # PEM private key (RSA 2048)
    certificate: Path  # PEM self-signed certificate: the registry's rootcertbundle
    certificate_der_b64: str  # the same certificate for the JWT ``x5c`` header


def make_signing_identity(directory: Path) -> SigningIdentity:
    openssl = _openssl()
    key, certificate = directory / "token-key.pem", directory / "token-cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=wasmforge test token issuer",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=60,
    )
    der = subprocess.run([openssl, "x509", "-in", str(certificate), "-outform", "DER"],
                         check=True, capture_output=True, timeout=30).stdout
    return SigningIdentity(key, certificate, base64.b64encode(der).decode("ascii"))


def sign_jwt(identity: SigningIdentity, claims: Mapping[str, Any]) -> str:
    """A compact JWS (RS256: RSASSA-PKCS1-v1_5 over SHA-256, which ``openssl dgst -sign`` makes)."""
    header = {"typ": "JWT", "alg": "RS256", "x5c": [identity.certificate_der_b64]}
    signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}"
    signature = subprocess.run(
        [_openssl(), "dgst", "-sha256", "-sign", str(identity.key)],
        input=signing_input.encode("ascii"), check=True, capture_output=True, timeout=30,
    ).stdout
    return f"{signing_input}.{_b64url(signature)}"


@dataclass(frozen=True)
class User:
    password: str
    actions: frozenset[str]  # what this user may do on any repository


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered, as the test wants to check it."""

    username: str | None  # None: anonymous
    service: str | None
    scopes: tuple[str, ...]
    status: int
    granted: tuple[tuple[str, tuple[str, ...]], ...]  # (repository, actions) in the token


@dataclass
class TokenServer:
    identity: SigningIdentity
    service: str
    issuer: str
    users: Mapping[str, User]
    realm: str = ""
    requests: list[TokenRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: TokenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def recorded(self) -> list[TokenRequest]:
        with self._lock:
            return list(self.requests)

    def grant(self, username: str | None, scopes: tuple[str, ...]) -> list[dict[str, Any]]:
        """The ``access`` claim: each requested repository action that the user is allowed.
        Like Docker Hub's server, a scope asking for more than allowed is narrowed, not refused:
        the registry then says no to the action the token lacks."""
        allowed = self.users[username].actions if username is not None else frozenset()
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            wanted = [a for a in actions.split(",") if a]
            access.append({"type": "repository", "name": name,
                           "actions": [a for a in wanted if a in allowed]})
        return access

    def issue(self, username: str | None, access: list[dict[str, Any]]) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": username or "", "aud": self.service,
                  "exp": now + TOKEN_SECONDS, "nbf": now - 1, "iat": now,
                  "jti": secrets.token_hex(16), "access": access}
        return sign_jwt(self.identity, claims)


class _TokenHandler(BaseHTTPRequestHandler):
    server: _BoundServer

    def do_GET(self) -> None:
        tokens = self.server.tokens
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        service = query.get("service", [None])[0]
        scopes = tuple(query.get("scope", []))
        if url.path != TOKEN_PATH:
            self._answer(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        username, ok = self._basic_credentials(tokens.users)
        if not ok:
            tokens.record(TokenRequest(username, service, scopes, 401, ()))
            self._answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                           "message": "invalid username or password"}]},
                         {"WWW-Authenticate": 'Basic realm="wasmforge test token server"'})
            return
        if service != tokens.service:
            tokens.record(TokenRequest(username, service, scopes, 400, ()))
            self._answer(400, {"errors": [{"code": "UNSUPPORTED",
                                           "message": f"unknown service {service!r}"}]})
            return
        access = tokens.grant(username, scopes)
        token = tokens.issue(username, access)
        granted = tuple((str(a["name"]), tuple(a["actions"])) for a in access)
        tokens.record(TokenRequest(username, service, scopes, 200, granted))
        self._answer(200, {"token": token, "access_token": token, "expires_in": TOKEN_SECONDS})

    def _basic_credentials(self, users: Mapping[str, User]) -> tuple[str | None, bool]:
        """(username, valid); no Authorization header at all is a valid anonymous request."""
        header = self.headers.get("Authorization")
        if header is None:
            return None, True
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        user = users.get(username)
        valid = user is not None and secrets.compare_digest(user.password, password)
        return username, valid

    def _answer(self, status: int, body: Mapping[str, Any],
                headers: Mapping[str, str] | None = None) -> None:
        data = _json(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests are what tests look at."""


class _BoundServer(ThreadingHTTPServer):
    daemon_threads = True
    tokens: TokenServer


@contextmanager
def run_token_server(
    identity: SigningIdentity, *, service: str, issuer: str, users: Mapping[str, User],
    lifetime: float = 300.0,
) -> Iterator[TokenServer]:
    """Serve on 127.0.0.1 (a free port) until the block ends, or ``lifetime`` seconds at most."""
    server = _BoundServer(("127.0.0.1", 0), _TokenHandler)
    tokens = TokenServer(identity, service, issuer, users)
    tokens.realm = f"http://127.0.0.1:{server.server_address[1]}{TOKEN_PATH}"
    server.tokens = tokens
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="token-server", daemon=True)
    deadline = threading.Timer(lifetime, server.shutdown)
    deadline.daemon = True
    thread.start()
    deadline.start()
    try:
        yield tokens
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _openssl() -> str:
    tool = shutil.which("openssl")
    if tool is None:
        msg = "openssl is not installed (apt-get install openssl)"
        raise RuntimeError(msg)
    return tool


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
