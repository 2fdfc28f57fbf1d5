"""A small client for the OCI distribution API: just what push and pull need.

Blobs are uploaded before the manifest that names them, so a failed push never leaves a tag pointing
at missing content. Manifests are sent as the exact bytes that were digested. Transient failures
(connection errors, 429, 5xx) are retried with exponential backoff, within one deadline per call
(120 s by default, ``WASMFORGE_REGISTRY_TIMEOUT``); everything else becomes one ``RegistryError``
line that says what the registry said, or what timed out.

Nothing a server says is taken on trust: a blob "present" must say so with its digest or its size,
an upload or a manifest must be acknowledged with a matching digest (or be read back), and a server
that answers junk, loops redirects or goes silent is a registry error, never a success.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from wasmforge.console import get_console
from wasmforge.errors import RegistryError, UserError
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import Blob, sha256_digest
from wasmforge.oci.challenge import parse_challenge
from wasmforge.oci.credentials import Credentials
from wasmforge.oci.reference import is_loopback, registry_host

DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024  # blobs above this go up in PATCH chunks
TIMEOUT = (10, 30)  # connect, read (seconds), for one request
DEADLINE_SECONDS = 120  # one call, retries and all
DEADLINE_ENV = "WASMFORGE_REGISTRY_TIMEOUT"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class TransientError(Exception):
    """A failure worth retrying; carries the message for when retries run out."""


@dataclass
class RegistryClient:
    registry: str  # host[:port]
    credentials: Credentials | None = None
    insecure: bool = False
    attempts: int = 4
    backoff: float = 0.5
    chunk_size: int = DEFAULT_CHUNK_SIZE
    timeout: tuple[float, float] = TIMEOUT  # connect, read (seconds)
    deadline: float = field(default_factory=lambda: registry_deadline())
    session: requests.Session = field(default_factory=requests.Session)
    _tokens: dict[str, str] = field(default_factory=dict)
    _basic: bool = False
    _auth_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.session.max_redirects = 5
        if self.insecure and not is_loopback(self.registry):
            msg = (f"--insecure (plain HTTP) is only allowed for registries on this machine "
                   f"(localhost, 127.0.0.1, ::1), not {self.registry}")
            raise UserError(msg)
        # A proxy from the environment must not see traffic meant for a registry on this machine.
        self.session.trust_env = not is_loopback(self.registry)
        self.base = f"{'http' if self.insecure else 'https'}://{self.registry}"

    # Public API ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/``: is this a registry, and can we talk to it (401 is fine: auth comes later)."""
        response = self._send("GET", "/v2/", scope=None, allow_auth_failure=True)
        if response.status_code not in (200, 401):
            raise self._error(response, "is not an OCI registry (GET /v2/)")

    def blob_exists(
        self, repository: str, digest: str, *, size: int | None = None, push: bool = False
    ) -> bool:
        """Whether the registry has the blob. A "yes" counts only with the blob's digest in
        ``Docker-Content-Digest`` or, when ``size`` is given, its length in ``Content-Length``."""
        response = self._send("HEAD", f"/v2/{repository}/blobs/{digest}",
                              scope=self._scope(repository, push=push))
        if response.status_code == 200:
            said_digest = response.headers.get("Docker-Content-Digest")
            said_size = response.headers.get("Content-Length")
            if said_digest == digest or (size is not None and said_size == str(size)):
                return True
            msg = (f"{self.registry}: says it has blob {digest[:19]} but does not show it (digest "
                   f"{said_digest or 'missing'}, length {said_size or 'missing'}): "
                   "not an OCI registry?")
            raise RegistryError(msg)
        if response.status_code == 404:
            return False
        raise self._error(response, f"checking blob {digest} in {repository}")

    def upload_blob(self, repository: str, blob: Blob) -> bool:
        """Upload unless present; True if bytes were sent. Retries the whole upload session."""
        if self.blob_exists(repository, blob.digest, size=blob.size, push=True):
            return False
        self._retrying(lambda: self._upload(repository, blob), f"uploading {blob.digest}")
        if not self.blob_exists(repository, blob.digest, size=blob.size, push=True):
            msg = f"{self.registry}: accepted blob {blob.digest[:19]} but does not have it"
            raise RegistryError(msg)
        return True

    def put_manifest(self, repository: str, reference: str, manifest: Blob) -> str:
        response = self._send(
            "PUT", f"/v2/{repository}/manifests/{reference}",
            scope=self._scope(repository, push=True), data=manifest.data,
            headers={"Content-Type": manifest.media_type},
        )
        if response.status_code not in (200, 201):
            raise self._error(response, f"manifest {reference} rejected")
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != manifest.digest:
            msg = (f"{self.registry}/{repository}: registry stored manifest as {stored}, "
                   f"expected {manifest.digest}")
            raise RegistryError(msg)
        if not stored:  # no acknowledgement: read it back by its digest
            self.get_manifest(repository, manifest.digest)
        return manifest.digest

    def manifest_exists(self, repository: str, reference: str) -> bool:
        """``HEAD`` of a manifest: is it there (a cheap question before a GET)."""
        response = self._send(
            "HEAD", f"/v2/{repository}/manifests/{reference}", scope=self._scope(repository),
            headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)},
        )
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self._error(response, f"checking manifest {reference}")

    def get_manifest(self, repository: str, reference: str) -> Blob:
        response = self._send(
            "GET", f"/v2/{repository}/manifests/{reference}", scope=self._scope(repository),
            headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)},
        )
        if response.status_code == 404:
            msg = f"{self.registry}/{repository}:{reference}: not found in the registry"
            raise RegistryError(msg)
        if response.status_code != 200:
            raise self._error(response, f"fetching manifest {reference}")
        data = response.content
        if reference.startswith("sha256:") and sha256_digest(data) != reference:
            msg = f"{self.registry}/{repository}@{reference}: manifest bytes do not match the digest"
            raise RegistryError(msg)
        media_type = _media_type(data) or response.headers.get("Content-Type", "").split(";")[0]
        return Blob(media_type, data)

    def get_blob(self, repository: str, digest: str) -> bytes:
        response = self._send("GET", f"/v2/{repository}/blobs/{digest}",
                              scope=self._scope(repository))
        if response.status_code != 200:
            raise self._error(response, f"fetching blob {digest}")
        data = response.content
        if sha256_digest(data) != digest:
            msg = f"{self.registry}/{repository}: blob {digest} arrived with different content"
            raise RegistryError(msg)
        return data

    # Uploads ------------------------------------------------------------------------------------

    def _upload(self, repository: str, blob: Blob) -> None:
        scope = self._scope(repository, push=True)
        started = self._send("POST", f"/v2/{repository}/blobs/uploads/", scope=scope,
                             retry=False)
        if started.status_code != 202:
            raise self._error(started, f"starting upload of {blob.digest}", transient_ok=True)
        location = self._location(started)
        if blob.size > self.chunk_size:
            location = self._patch_chunks(location, blob, scope)
            body = b""
        else:
            body = blob.data
        done = self._send(
            "PUT", location, scope=scope, params={"digest": blob.digest}, data=body,
            headers={"Content-Type": "application/octet-stream"}, retry=False,
        )
        if done.status_code != 201:
            raise self._error(done, f"finishing upload of {blob.digest}", transient_ok=True)
        stored = done.headers.get("Docker-Content-Digest")
        if stored and stored != blob.digest:
            msg = f"{self.registry}: stored blob {blob.digest[:19]} as {stored[:19]}"
            raise RegistryError(msg)

    def _patch_chunks(self, location: str, blob: Blob, scope: str) -> str:
        for start in range(0, blob.size, self.chunk_size):
            chunk = blob.data[start:start + self.chunk_size]
            response = self._send(
                "PATCH", location, scope=scope, data=chunk, retry=False,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Range": f"{start}-{start + len(chunk) - 1}"},
            )
            if response.status_code != 202:
                raise self._error(response, f"uploading a chunk of {blob.digest}",
                                  transient_ok=True)
            location = self._location(response)
        return location

    def _location(self, response: requests.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            msg = f"{self.registry}: upload started without a Location header"
            raise RegistryError(msg)
        # Registries may answer with a path; resolve it against the registry, not the request.
        return urljoin(self.base + "/", location)

    # Transport, auth and retries ----------------------------------------------------------------

    def _scope(self, repository: str, *, push: bool = False) -> str:
        return f"repository:{repository}:{'pull,push' if push else 'pull'}"

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        scope: str | None,
        retry: bool = True,
        allow_auth_failure: bool = False,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.base + path_or_url

        def attempt() -> requests.Response:
            sent = self._authorization(scope)
            response = self._request(method, url, sent, headers, kwargs)
            if response.status_code == 401 and self._authenticate(response, scope, sent):
                response = self._request(method, url, self._authorization(scope), headers,
                                         kwargs)
            if response.status_code in RETRY_STATUSES:
                raise TransientError(self._error(response, f"{method} {url}").message)
            return response

        response = self._retrying(attempt, f"{method} {url}") if retry else attempt()
        if response.status_code in (401, 403) and not allow_auth_failure:
            raise auth_refusal(self.registry, response.headers.get("WWW-Authenticate", ""),
                               self.credentials)
        return response

    def _request(
        self, method: str, url: str, authorization: str | None,
        headers: Mapping[str, str] | None, kwargs: Mapping[str, Any],
    ) -> requests.Response:
        sent = dict(headers or {})
        if authorization:
            sent["Authorization"] = authorization
        get_console().debug(f"{method} {url}")
        # A third of the call's deadline at most, so that a dropped request can be tried again.
        connect, read = (min(limit, self.deadline / 3) for limit in self.timeout)
        try:
            return self.session.request(method, url, headers=sent, timeout=(connect, read),
                                        allow_redirects=True, **kwargs)
        except requests.exceptions.SSLError as error:
            msg = f"{self.registry}: TLS failed ({_short(error)})"
            hint = "a plain-HTTP registry on this machine needs --insecure" \
                if is_loopback(self.registry) else None
            raise RegistryError(msg, hint=hint) from None
        except requests.TooManyRedirects:
            msg = f"{self.registry}: {method} {url}: redirected in a loop"
            raise RegistryError(msg) from None
        except requests.exceptions.ReadTimeout:
            msg = f"{self.registry}: connected, but no answer within {read:.3g} s"
            raise TransientError(msg) from None
        except requests.exceptions.ConnectTimeout:
            msg = f"{self.registry}: cannot connect (no answer within {connect:.3g} s)"
            raise TransientError(msg) from None
        except (requests.ConnectionError, requests.Timeout) as error:
            msg = f"{self.registry}: cannot connect ({_short(error)})"
            raise TransientError(msg) from None
        except requests.RequestException as error:  # a broken answer: bad chunking, encoding
            msg = f"{self.registry}: {method} {url}: unusable answer ({_short(error)})"
            raise RegistryError(msg) from None

    def _authorization(self, scope: str | None) -> str | None:
        token = self._tokens.get(scope or "") or self._tokens.get("")
        if token:
            return f"Bearer {token}"
        if self._basic and self.credentials:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None

    def _authenticate(
        self, response: requests.Response, scope: str | None, sent: str | None
    ) -> bool:
        """Answer a 401 challenge to a request sent with ``sent`` as its Authorization; True if a
        retry makes sense. Threads share the client: one of them may have logged in meanwhile."""
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return False
        with self._auth_lock:
            if challenge.scheme == "basic":
                if self.credentials is None or (sent or "").startswith("Basic "):
                    return False  # no password to give, or the one we gave was refused
                self._basic = True
                return True
            if challenge.scheme != "bearer" or "realm" not in challenge.params:
                return False
            wanted = scope or challenge.params.get("scope", "")
            token = self._tokens.get(wanted)
            if token is not None:
                # Refused with that very token: asking again will not help. Another thread's
                # newer token: try that.
                return sent != f"Bearer {token}"
            self._tokens[wanted] = self._fetch_token(challenge.params, wanted)
            return True

    def _fetch_token(self, params: Mapping[str, str], scope: str) -> str:
        realm = params["realm"]
        query = {"service": params["service"]} if "service" in params else {}
        if scope:
            query["scope"] = scope
        auth = None
        if self.credentials is not None:
            if realm.startswith("http://") and not is_loopback(registry_host_of(realm)):
                msg = f"{self.registry}: token service {realm} is plain HTTP; not sending a password"
                raise RegistryError(msg)
            auth = (self.credentials.username, self.credentials.password)
        try:
            answer = self.session.get(realm, params=query, auth=auth, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            msg = f"{self.registry}: token service {realm} unreachable ({_short(error)})"
            raise RegistryError(msg) from None
        if answer.status_code in (401, 403):
            who = _who(self.credentials)
            msg = f"{self.registry}: authentication refused by the token service{who}"
            raise RegistryError(msg, hint=LOGIN_HINT)
        if answer.status_code != 200:
            raise self._error(answer, f"token service {realm}")
        try:
            body = answer.json()
            return str(body.get("token") or body["access_token"])
        except (ValueError, KeyError, AttributeError):
            msg = f"{self.registry}: token service {realm} sent no token"
            raise RegistryError(msg) from None

    def _retrying(self, action: Any, what: str) -> Any:
        """``action()``, again after transient failures, while attempts and the deadline last;
        each retry says so (a user must see that something is being waited for)."""
        delay = self.backoff
        ends = time.monotonic() + self.deadline
        for number in range(1, self.attempts + 1):
            try:
                return action()
            except TransientError as error:
                left = ends - time.monotonic()
                if number == self.attempts or left <= delay:
                    msg = f"{error} (gave up after {number} attempt(s))"
                    raise RegistryError(msg) from None
                get_console().info(f"{error}; waiting, then trying again in {delay:.1f} s")
                time.sleep(delay)
                delay *= 2
        msg = f"{what}: no attempts were made (attempts={self.attempts})"
        raise RegistryError(msg)

    def _error(
        self, response: requests.Response, doing: str, *, transient_ok: bool = False
    ) -> RegistryError:
        """The error for an unexpected answer. With ``transient_ok`` a 429/5xx raises
        TransientError instead, so that the caller's retry loop restarts the upload session."""
        text = f"{self.registry}: {doing}: HTTP {response.status_code}{_registry_errors(response)}"
        if transient_ok and response.status_code in RETRY_STATUSES:
            raise TransientError(text)
        return RegistryError(text)


LOGIN_HINT = "check 'docker login' or WASMFORGE_REGISTRY_USERNAME/_PASSWORD"


def registry_deadline() -> float:
    """How long one registry call may take, retries and all (``WASMFORGE_REGISTRY_TIMEOUT``)."""
    from wasmforge.deadlines import seconds_from_env

    return seconds_from_env(DEADLINE_ENV, DEADLINE_SECONDS)


def auth_refusal(
    registry: str, www_authenticate: str, credentials: Credentials | None
) -> RegistryError:
    """The error for a final 401/403. A Bearer challenge with ``error="insufficient_scope"`` means
    the credentials were accepted but the token lacks an action (say push): that is a denial to
    report as such, naming the scope, not a login problem."""
    challenge = parse_challenge(www_authenticate)
    if (challenge is not None and challenge.scheme == "bearer"
            and challenge.params.get("error") == "insufficient_scope"):
        scope = challenge.params.get("scope", "")
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        wanted = f"{actions} access to {kind} {name}" if name else (scope or "this request")
        msg = f"{registry}: access denied{_who(credentials)}: the token does not grant {wanted}"
        return RegistryError(msg, hint="ask the registry's owner for that access, or log in as "
                             "a user who has it")
    return RegistryError(f"{registry}: authentication refused{_who(credentials)}",
                         hint=LOGIN_HINT)


def _who(credentials: Credentials | None) -> str:
    return f" as {credentials.username}" if credentials else " (no credentials)"


def registry_host_of(url: str) -> str:
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    return registry_host(netloc)


def _registry_errors(response: requests.Response) -> str:
    """``: CODE: message`` from the distribution-spec error body, when there is one."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return ""
    parts = []
    for error in errors[:3]:
        if isinstance(error, dict):
            parts.append(f"{error.get('code', '?')}: {error.get('message', '')}".strip())
    return (": " + "; ".join(parts)) if parts else ""


def _media_type(data: bytes) -> str | None:
    try:
        value = json.loads(data).get("mediaType")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _short(error: Exception) -> str:
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "NameResolutionError" in text:
        return "unknown host"
    return text if len(text) < 160 else text[:157] + "..."
