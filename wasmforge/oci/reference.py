"""Image references: ``[registry[:port]/]repository[:tag][@sha256:...]``, as Docker reads them."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from wasmforge.errors import UserError

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
# The distribution reference grammar, one path component and one tag.
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# A registry host: DNS labels (or an IPv6 literal in brackets), then an optional port.
_HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_PORT = re.compile(r"^[0-9]{1,5}$")
# What a file argument looks like, so that a missing file is reported as missing rather than
# looked up as an image on Docker Hub.
_FILE_SUFFIXES = (".wasm", ".wat", ".tar")


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port]; "docker.io" when the reference names none
    repository: str
    tag: str | None
    digest: str | None
    explicit_registry: bool

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest if pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def tag_or_default(self) -> str:
        return self.tag or DEFAULT_TAG

    @property
    def api_repository(self) -> str:
        """The repository path on the registry (Docker Hub puts single names under library/)."""
        if self.registry == DEFAULT_REGISTRY and "/" not in self.repository:
            return f"library/{self.repository}"
        return self.repository

    def familiar(self) -> str:
        """The short form users type and ``docker images`` shows: ``name:tag``."""
        name = f"{self.registry}/{self.repository}" if self.explicit_registry else self.repository
        return f"{name}:{self.tag_or_default}"

    def full(self) -> str:
        """The fully qualified form containerd stores: ``docker.io/library/name:tag``."""
        text = f"{self.registry}/{self.api_repository}:{self.tag_or_default}"
        return f"{text}@{self.digest}" if self.digest else text

    def __str__(self) -> str:
        name = f"{self.registry}/{self.repository}" if self.explicit_registry else self.repository
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None, self.explicit_registry)


def parse_reference(text: str, *, what: str = "image reference") -> Reference:
    """Parse ``text`` or raise a one-line UserError that says which part is wrong."""
    original = text
    if not text or text != text.strip():
        msg = f"{what} {original!r}: empty or surrounded by spaces"
        raise UserError(msg)
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            msg = f"{what} {original!r}: digest must be 'sha256:' and 64 lowercase hex digits"
            raise UserError(msg)
    registry, explicit = DEFAULT_REGISTRY, False
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, explicit, text = first, True, rest
        _check_registry(registry, original, what)
    tag = None
    name, colon, maybe_tag = text.rpartition(":")
    if colon:
        if not _TAG.match(maybe_tag):
            msg = f"{what} {original!r}: invalid tag {maybe_tag!r}"
            raise UserError(msg)
        text, tag = name, maybe_tag
    components = text.split("/")
    bad = next((c for c in components if not _COMPONENT.match(c)), None)
    if bad is not None:
        msg = (f"{what} {original!r}: invalid repository name component {bad!r} "
               "(lowercase letters, digits and single '.', '_' or '-' between them)")
        raise UserError(msg)
    return Reference(registry, text, tag, digest, explicit)


def _check_registry(registry: str, original: str, what: str) -> None:
    host, port = registry, None
    if registry.startswith("["):
        host, closed, after = registry[1:].partition("]")
        valid_host = bool(closed) and _is_ipv6(host)
        if after:
            port = after[1:] if after.startswith(":") else "?"
    else:
        if ":" in registry:
            host, port = registry.split(":", 1)
        valid_host = bool(host) and all(_HOST_LABEL.match(label) for label in host.split("."))
    valid_port = port is None or (_PORT.match(port) is not None and 0 < int(port) < 65536)
    if not (valid_host and valid_port):
        msg = f"{what} {original!r}: invalid registry host {registry!r}"
        raise UserError(msg)


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def looks_like_file(target: str) -> bool:
    """True when ``target`` is written as a local path (``./x``, ``/x``, ``x.wasm``, ...)."""
    return target.startswith(("./", "../", "/", "~")) or target.endswith(_FILE_SUFFIXES)


def registry_host(registry: str) -> str:
    """The host part of ``host[:port]`` (brackets of an IPv6 literal removed)."""
    if registry.startswith("["):
        return registry[1:].split("]", 1)[0]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only registries plain HTTP is allowed for."""
    host = registry_host(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
