"""Sharing toolchain images through a registry: ``wasmforge toolchains push|pull REF``.

A recipe image's tag, ``wasmforge/<name>:<16 hex>``, names its recipe and base (``tagging``) and is
the same on every machine, while its image id is not (a debootstrapped base differs per run). So
one machine builds, pushes ``wasmforge/<name>:<hex>`` as ``REF/<name>:<hex>``, and the others pull
that name back, check the image's labels (``org.wasmforge.toolchain.name`` and ``.recipe-digest``,
set when it was built) against their own recipe, tag it ``wasmforge/<name>:<hex>`` and record it in
the lock file with the base's origin "pulled". A build then finds the tag and builds nothing.

The transfers go through the Docker engine: its own registry settings (``insecure-registries``,
mirrors, proxies) apply, and its credentials (``docker login``), unless wasmforge's
(``WASMFORGE_REGISTRY_USERNAME``/``_PASSWORD``, or the Docker config read by
``wasmforge.oci.credentials``) are found first. Every engine call has a deadline: a transfer may
go ``engine.TRANSFER_SILENCE_SECONDS`` without a word from the engine (``WASMFORGE_ENGINE_TIMEOUT``
replaces it when set), then it fails (exit 6) instead of waiting forever.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wasmforge.console import Console
from wasmforge.engine import engine_error_line
from wasmforge.errors import (
    RegistryError,
    ToolchainError,
    UserError,
    WasmforgeError,
)
from wasmforge.oci.credentials import ENV_PASSWORD, ENV_USERNAME, find_credentials
from wasmforge.oci.reference import Reference, parse_reference, registry_host
from wasmforge.toolchains.base import PULLED as BASE_PULLED
from wasmforge.toolchains.base import BaseImage
from wasmforge.toolchains.builder import LABEL_PREFIX
from wasmforge.toolchains.images import (
    ToolchainSource,
    find_image,
    record_image,
    tag_for,
)
from wasmforge.toolchains.lock import LockFile
from wasmforge.toolchains.tagging import IMAGE_REPOSITORY_PREFIX

if TYPE_CHECKING:
    import docker

__all__ = ["Shared", "check_labels", "engine_uses_http", "pull_images", "push_images",
           "remote_reference", "transfer_error"]

NAME_LABEL = f"{LABEL_PREFIX}.name"
DIGEST_LABEL = f"{LABEL_PREFIX}.recipe-digest"

PUSHED = "pushed"
PULLED = "pulled"
PRESENT = "present"  # pull: the tag is here already (built or pulled before)
SKIPPED = "skipped"  # a user's own image = "...": theirs to publish

_HTTP_REFUSED = "server gave http response to https client"  # compared lowercased
_NOT_FOUND = ("manifest unknown", "name unknown", "not found")
_DENIED = ("unauthorized", "authentication required", "denied", "no basic auth credentials")
_UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "no route to host",
                "network is unreachable")
_PUSHED_DIGEST = re.compile(r"\bdigest: (sha256:[0-9a-f]{64})\b")
_PULLED_DIGEST = re.compile(r"^Digest: (sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class Shared:
    """What push or pull did with one toolchain image."""

    name: str
    toolchain_set: str
    tag: str  # the local tag, wasmforge/<name>:<hex> (a pinned image: its own reference)
    reference: str | None  # REF/<name>:<hex>; None for a user's own image
    status: str  # PUSHED, PULLED, PRESENT or SKIPPED
    digest: str | None = None  # the manifest digest in the registry
    image_id: str | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        pinned = (f"{self.reference.rsplit(':', 1)[0]}@{self.digest}"
                  if self.reference and self.digest else None)
        return {"name": self.name, "set": self.toolchain_set, "tag": self.tag,
                "reference": self.reference, "status": self.status, "digest": self.digest,
                "pinned": pinned, "image_id": self.image_id, "note": self.note or None}


def remote_reference(prefix: str, tag: str) -> Reference:
    """``REF/<name>:<hex>`` for the local tag ``wasmforge/<name>:<hex>``; a UserError when
    ``prefix`` is not a repository prefix (no tag, no digest)."""
    example = "e.g. 127.0.0.1:5000/acme/toolchains"
    repository, _, hex_tag = tag.rpartition(":")
    name = repository.removeprefix(IMAGE_REPOSITORY_PREFIX)
    stripped = prefix.rstrip("/")
    if not stripped or "@" in stripped or prefix != prefix.strip():
        msg = f"REF {prefix!r}: expected a repository prefix without a tag or digest ({example})"
        raise UserError(msg)
    try:
        ref = parse_reference(f"{stripped}/{name}:{hex_tag}", what="REF")
    except UserError as error:
        msg = (f"REF {prefix!r}: not a repository prefix ({example}): "
               f"{error.message.split(': ', 1)[-1]}")
        raise UserError(msg) from None
    return ref


def _engine_name(ref: Reference) -> str:
    """The repository as the engine names it (``registry/path``; Docker Hub's without its host)."""
    return f"{ref.registry}/{ref.repository}" if ref.explicit_registry else ref.repository


def engine_uses_http(registry: str, registry_config: Mapping[str, Any]) -> bool | None:
    """Whether the engine speaks plain HTTP to ``registry``, by its ``RegistryConfig`` (docker
    info): its ``insecure-registries`` entry if it has one, else whether the address is in an
    insecure range (127.0.0.0/8 by default). None when it cannot be told from here: a host name,
    which the engine resolves itself."""
    indexes = registry_config.get("IndexConfigs") or {}
    index = indexes.get(registry) if isinstance(indexes, Mapping) else None
    if isinstance(index, Mapping) and isinstance(index.get("Secure"), bool):
        return not index["Secure"]
    host = registry_host(registry)
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    for cidr in registry_config.get("InsecureRegistryCIDRs") or []:
        with contextlib.suppress(ValueError, TypeError):
            if address in ipaddress.ip_network(str(cidr), strict=False):
                return True
    return False


def _check_insecure(client: docker.DockerClient, registry: str) -> None:
    """``--insecure``: the engine decides how it talks to a registry; say so plainly when it
    would speak HTTPS to this one, before anything moves."""
    info: dict[str, Any] = client.info()
    if engine_uses_http(registry, info.get("RegistryConfig") or {}) is False:
        msg = (f"--insecure: the Docker engine speaks HTTPS to {registry}, and wasmforge cannot "
               "make it use plain HTTP")
        raise UserError(msg, hint=f'add "{registry}" to "insecure-registries" in the engine\'s '
                        "daemon.json (/etc/docker/daemon.json) and restart the engine")


def check_labels(
    labels: Mapping[str, str] | None, kind: str, tag: str, image: str, *, hint: str | None = None
) -> None:
    """The image's labels name the toolchain ``kind`` and the recipe digest of ``tag``; a
    ToolchainError naming both digests otherwise."""
    wanted = tag.rpartition(":")[2]
    found = dict(labels or {})
    name, digest = found.get(NAME_LABEL), found.get(DIGEST_LABEL)
    if name == kind and digest == wanted:
        return
    said = f"{DIGEST_LABEL}={digest}" if digest else f"no {DIGEST_LABEL} label"
    if name != kind:
        said += f", {NAME_LABEL}={name}" if name else f", no {NAME_LABEL} label"
    msg = (f"{image} is not the {kind} image of this recipe: it says {said}; the recipe's digest "
           f"is {wanted}")
    raise ToolchainError(msg, hint=hint)


def transfer_error(
    action: str, ref: Reference, text: str, *, status: int | None = None, toolchain: str = ""
) -> WasmforgeError:
    """One line for what the engine said when a push or pull of ``ref`` failed; ``toolchain``
    (``wasi-sdk --set debian-12``) completes the hints' commands."""
    line = " ".join(text.split())[:300]
    lower = line.lower()
    if _HTTP_REFUSED in lower:
        msg = (f"{ref.registry} answers plain HTTP, and the Docker engine refused it: the engine "
               f"speaks HTTPS to every registry outside its insecure-registries ({line})")
        return RegistryError(msg, hint=f'add "{ref.registry}" to "insecure-registries" in the '
                             "engine's daemon.json, restart the engine, and pass --insecure")
    if action == "pull" and (status == 404 or any(word in lower for word in _NOT_FOUND)):
        msg = f"{ref}: not found in the registry ({line})"
        push = f"wasmforge toolchains push {str(ref).rpartition('/')[0]} {toolchain}".rstrip()
        build = f"wasmforge toolchains build {toolchain}".rstrip()
        return RegistryError(msg, hint=f"push it from a machine that built it ({push}), or build "
                             f"it here: {build}")
    if any(word in lower for word in _DENIED):
        msg = f"{ref}: the registry refused the {action}: {line}"
        return RegistryError(msg, hint=f"docker login {ref.registry}, or set {ENV_USERNAME} and "
                             f"{ENV_PASSWORD}")
    if any(word in lower for word in _UNREACHABLE):
        return RegistryError(f"cannot reach {ref.registry} to {action} {ref}: {line}")
    return RegistryError(f"cannot {action} {ref}: {line}")


def _auth_config(registry: str, env: Mapping[str, str]) -> dict[str, str] | None:
    """wasmforge's credentials for the engine; None lets the engine's client use its own."""
    found = find_credentials(registry, env)
    if found is None:
        return None
    return {"username": found.username, "password": found.password, "serveraddress": registry}


def _transfer(
    action: str, ref: Reference, console: Console, start: Callable[[Any], Iterable[Any]],
    *, toolchain: str = "",
) -> list[dict[str, Any]]:
    """Run one push or pull (``start`` calls the engine) with the engine's transfer deadline, and
    raise on the engine's refusal or the first error event."""
    from docker.errors import APIError

    from wasmforge.engine import stream_transfer

    def show(event: dict[str, Any]) -> None:
        if event.get("status") and "progress" not in event:  # no progress bars
            layer = f"{event['id']}: " if event.get("id") else ""
            console.debug(f"{ref.repository.rsplit('/', 1)[-1]} | {layer}{event['status']}")

    try:
        events = stream_transfer(start, f"{action}ing {ref}", on_event=show)
    except APIError as error:
        raise transfer_error(action, ref, engine_error_line(error), status=error.status_code,
                             toolchain=toolchain) from None
    errors = [event for event in events if event.get("error")]
    if errors:
        raise transfer_error(action, ref, str(errors[0]["error"]), toolchain=toolchain)
    return events


def _pushed_digest(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The manifest digest the engine reports at the end of a push."""
    for event in events:
        aux = event.get("aux")
        if isinstance(aux, Mapping) and isinstance(aux.get("Digest"), str):
            return str(aux["Digest"])
    for event in events:
        match = _PUSHED_DIGEST.search(str(event.get("status", "")))
        if match:
            return match[1]
    return None


def _pulled_digest(events: Sequence[Mapping[str, Any]]) -> str | None:
    for event in events:
        match = _PULLED_DIGEST.match(str(event.get("status", "")))
        if match:
            return match[1]
    return None


def _args(source: ToolchainSource) -> str:
    """The command-line arguments that name ``source``'s image: ``wasi-sdk --set debian-12``."""
    return f"{source.kind} --set {source.toolchain_set}"


def _skip_own_image(source: ToolchainSource, tag: str, console: Console) -> Shared:
    """A user's own ``image`` is theirs to publish: said, and neither pushed nor pulled."""
    note = (f"toolchains.{source.kind}.image is the project's own image ({source.pinned_image}): "
            "not shared by wasmforge")
    console.warn(note)
    return Shared(source.kind, source.toolchain_set, tag, None, SKIPPED, note=note)


def push_images(
    client: docker.DockerClient,
    sources: Sequence[ToolchainSource],
    prefix: str,
    console: Console,
    *,
    insecure: bool = False,
    env: Mapping[str, str] | None = None,
) -> list[Shared]:
    """Push each source's built image to ``prefix/<name>:<hex>``. Every image is checked (built,
    labelled as its recipe) before the first one moves; a user's own ``image`` is skipped."""
    env = os.environ if env is None else env
    planned: list[tuple[ToolchainSource, str, Reference, str]] = []
    done: list[Shared] = []
    for source in sources:
        tag = tag_for(source)
        if source.pinned_image is not None:
            done.append(_skip_own_image(source, tag, console))
            continue
        ref = remote_reference(prefix, tag)
        image_id = find_image(client, tag)
        if image_id is None:
            msg = (f"{tag} ({source.toolchain_set} {source.kind}) is not built on this engine: "
                   "nothing to push")
            raise UserError(msg, hint=f"build it first: wasmforge toolchains build {_args(source)}")
        check_labels(client.images.get(image_id).labels, source.kind, tag, tag,
                     hint=f"rebuild it: wasmforge toolchains build --rebuild {_args(source)}")
        planned.append((source, tag, ref, image_id))
    if insecure and planned:
        _check_insecure(client, planned[0][2].registry)
    done.extend(_push_one(client, source, tag, ref, image_id, console, env)
                for source, tag, ref, image_id in planned)
    return _in_order(sources, done)


def _push_one(
    client: docker.DockerClient,
    source: ToolchainSource,
    tag: str,
    ref: Reference,
    image_id: str,
    console: Console,
    env: Mapping[str, str],
) -> Shared:
    repository = _engine_name(ref)
    auth = _auth_config(ref.registry, env)
    console.info(f"{source.kind} | pushing {tag} to {ref}")
    client.images.get(image_id).tag(repository, ref.tag)  # the engine pushes what a name names
    events = _transfer("push", ref, console, lambda api: api.push(
        repository, tag=ref.tag, stream=True, decode=True, auth_config=auth),
        toolchain=_args(source))
    digest = _pushed_digest(events)
    if digest is None:
        msg = f"{ref}: the engine pushed it but reported no manifest digest"
        raise RegistryError(msg)
    console.info(f"{source.kind} | pushed {repository}@{digest}")
    return Shared(source.kind, source.toolchain_set, tag, str(ref), PUSHED, digest, image_id)


def pull_images(
    client: docker.DockerClient,
    sources: Sequence[ToolchainSource],
    prefix: str,
    console: Console,
    *,
    lock: LockFile,
    insecure: bool = False,
    env: Mapping[str, str] | None = None,
) -> list[Shared]:
    """Pull each source's image from ``prefix/<name>:<hex>`` unless its tag is here already,
    check its labels, tag it and record it in ``lock`` (see the module docstring)."""
    env = os.environ if env is None else env
    done: list[Shared] = []
    checked_insecure = not insecure
    for source in sources:
        tag = tag_for(source)
        if source.pinned_image is not None:
            done.append(_skip_own_image(source, tag, console))
            continue
        ref = remote_reference(prefix, tag)
        present = find_image(client, tag)
        if present is not None:
            console.info(f"{source.kind} | {tag} is here already: not pulled")
            done.append(Shared(source.kind, source.toolchain_set, tag, str(ref), PRESENT,
                               image_id=present))
            continue
        if not checked_insecure:
            _check_insecure(client, ref.registry)
            checked_insecure = True
        done.append(_pull_one(client, source, tag, ref, console, lock, env))
    return done


def _pull_one(
    client: docker.DockerClient,
    source: ToolchainSource,
    tag: str,
    ref: Reference,
    console: Console,
    lock: LockFile,
    env: Mapping[str, str],
) -> Shared:
    repository = _engine_name(ref)
    auth = _auth_config(ref.registry, env)
    console.info(f"{source.kind} | pulling {ref}")
    events = _transfer("pull", ref, console, lambda api: api.pull(
        repository, tag=ref.tag, stream=True, decode=True, auth_config=auth),
        toolchain=_args(source))
    pulled = f"{repository}:{ref.tag}"
    image = client.images.get(pulled)
    try:
        check_labels(image.labels, source.kind, tag, str(ref),
                     hint="push it again from a machine that built this recipe, or build it "
                     f"here: wasmforge toolchains build {_args(source)}")
        base_spec = source.base_spec()
        # The base came inside the image: its own id is not known here, its pin is the recipe's.
        base = (BaseImage(reference=pulled, image_id="", origin=BASE_PULLED,
                          pin=base_spec.identity) if base_spec is not None else None)
        with lock.building():  # not while a build of this engine writes the same entry
            present = find_image(client, tag)
            if present is None:
                record_image(client, lock, source, tag, str(image.id), base_spec, base)
                local_repository, _, local_tag = tag.rpartition(":")
                image.tag(local_repository, local_tag)
    except WasmforgeError:
        _untag(client, pulled)  # a wrong image is not left behind under the registry's name
        raise
    if present is not None:
        console.info(f"{source.kind} | {tag} appeared while pulling (built here): kept")
        return Shared(source.kind, source.toolchain_set, tag, str(ref), PRESENT,
                      image_id=present)
    digest = _pulled_digest(events) or _repo_digest(image.attrs, repository)
    console.info(f"{source.kind} | pulled {ref} as {tag} ({str(image.id)[:19]})")
    return Shared(source.kind, source.toolchain_set, tag, str(ref), PULLED, digest,
                  str(image.id))


def _repo_digest(attrs: Mapping[str, Any], repository: str) -> str | None:
    for item in attrs.get("RepoDigests") or []:
        name, _, digest = str(item).partition("@")
        if name == repository and digest:
            return digest
    return None


def _untag(client: docker.DockerClient, reference: str) -> None:
    """Remove one tag; the image goes only if no other tag or container holds it."""
    from docker.errors import DockerException

    with contextlib.suppress(DockerException):
        client.images.remove(reference)


def _in_order(sources: Sequence[ToolchainSource], done: Sequence[Shared]) -> list[Shared]:
    """``done`` in the order of ``sources`` (skipped ones are found before pushed ones)."""
    position: dict[tuple[str, str], int] = {
        (s.toolchain_set, s.kind): n for n, s in enumerate(sources)}
    return sorted(done, key=lambda row: position.get((row.toolchain_set, row.name), 0))
