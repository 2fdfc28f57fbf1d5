"""The pinned Debian base image: pulled by digest, or created offline with debootstrap.

Whichever way it was obtained, the base gets one local name, ``wasmforge/base:<suite>-<digest
prefix>``, so the next build finds it without asking a registry. A base created offline carries the
label ``org.wasmforge.base.origin=debootstrap``; the lock file records the origin of each build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wasmforge.console import Console
from wasmforge.engine import engine_error_line, stream_transfer
from wasmforge.errors import RegistryError, ToolchainError, ToolNotFoundError, UserError
from wasmforge.toolchains.recipe import BaseSpec

if TYPE_CHECKING:
    import docker

BASE_REPOSITORY = "wasmforge/base"
ORIGIN_LABEL = "org.wasmforge.base.origin"
PIN_LABEL = "org.wasmforge.base.pin"
PULLED = "pulled"
DEBOOTSTRAP = "debootstrap"


@dataclass(frozen=True)
class BaseImage:
    """The base as the local engine has it."""

    reference: str  # the local tag, e.g. wasmforge/base:bookworm-2424c1850714a4d9
    image_id: str
    origin: str  # PULLED or DEBOOTSTRAP
    pin: str  # the digest-pinned reference it stands for


def local_base_tag(spec: BaseSpec) -> str:
    return f"{BASE_REPOSITORY}:{spec.suite}-{spec.short_name}"


def find_base(client: docker.DockerClient, spec: BaseSpec) -> BaseImage | None:
    """The base if the engine already has it (under our tag or its pinned reference)."""
    from docker.errors import ImageNotFound

    tag = local_base_tag(spec)
    try:
        image = client.images.get(tag)
    except ImageNotFound:
        pass
    else:
        labels = image.labels or {}
        # The labels travel with the image: a debootstrapped base pushed to a registry and pulled
        # under another pin was, for that pin, pulled.
        made_here = (labels.get(ORIGIN_LABEL) == DEBOOTSTRAP
                     and labels.get(PIN_LABEL) == spec.identity)
        origin = DEBOOTSTRAP if made_here else PULLED
        return BaseImage(reference=tag, image_id=image.id, origin=origin, pin=spec.identity)
    if spec.image is None:
        return None
    repository, digest = split_digest_reference(spec.image)
    try:
        image = client.images.get(f"{repository}@{digest}")
    except ImageNotFound:
        return None
    image.tag(*tag.split(":", 1))
    return BaseImage(reference=tag, image_id=image.id, origin=PULLED, pin=spec.image)


def ensure_base(
    client: docker.DockerClient, spec: BaseSpec, console: Console, *, offline_fallback: bool = True
) -> BaseImage:
    """The base image: already present, else pulled by digest, else (if allowed) debootstrapped."""
    found = find_base(client, spec)
    if found is not None:
        return found
    if spec.image is None:  # no published image to pull: the suite is always made here
        return debootstrap_base(client, spec, console)
    try:
        return pull_base(client, spec, console)
    except RegistryError as error:
        if not offline_fallback:
            raise
        console.warn(f"{error.message}; creating the base offline with debootstrap instead")
    return debootstrap_base(client, spec, console)


def pull_base(client: docker.DockerClient, spec: BaseSpec, console: Console) -> BaseImage:
    """Pull the pinned digest; a RegistryError (one line) when the registry cannot give it."""
    from docker.errors import DockerException

    assert spec.image is not None, "a base without an image is never pulled"
    repository, digest = split_digest_reference(spec.image)
    console.info(f"base | pulling {spec.image}")
    started = time.monotonic()
    def show(event: dict[str, Any]) -> None:
        if event.get("status"):
            console.debug(f"base | {event.get('id', '-')}: {event['status']}")

    try:
        # A client of the pull's own with a deadline on every read (the SDK's pull has none),
        # which reads the events to the end, so the connection is released even after an error.
        events = stream_transfer(
            lambda api: api.pull(repository, tag=digest, stream=True, decode=True),
            f"pulling {spec.image}", on_event=show)
        for error_text in filter(None, (event.get("error") for event in events)):
            _raise_on_pull_error({"error": error_text}, spec.image)
        image = client.images.get(f"{repository}@{digest}")
    except DockerException as error:
        msg = f"cannot pull {spec.image}: {engine_error_line(error)}"
        raise RegistryError(msg) from None
    tag = local_base_tag(spec)
    image.tag(*tag.split(":", 1))
    console.info(f"base | pulled {spec.image} in {time.monotonic() - started:.1f} s")
    return BaseImage(reference=tag, image_id=image.id, origin=PULLED, pin=spec.image)


def debootstrap_base(client: docker.DockerClient, spec: BaseSpec, console: Console) -> BaseImage:
    """Create the base from the Debian mirror (``debootstrap``) and import it into the engine."""
    program = shutil.which("debootstrap")
    if program is None:
        msg = (f"debootstrap is not installed, and the pinned base {spec.image} could not be pulled"
               if spec.image else f"debootstrap is not installed: it creates the {spec.suite} base")
        raise ToolNotFoundError(
            msg, hint="apt-get install debootstrap, or make the registry reachable"
        )
    if os.geteuid() != 0:
        msg = "creating the Debian base offline needs root (debootstrap creates device nodes)"
        raise UserError(
            msg, hint="run 'sudo wasmforge toolchains build' once, or make the registry reachable"
        )
    started = time.monotonic()
    console.info(
        f"base | creating Debian {spec.suite} offline: debootstrap --variant={spec.variant} "
        f"{spec.suite} from {spec.mirror}"
    )
    work = Path(tempfile.mkdtemp(prefix="wasmforge-base-"))
    try:
        root = work / "root"
        _run_debootstrap(program, spec, root, console)
        _prune_caches(root)
        archive = work / "rootfs.tar"
        _tar_rootfs(root, archive)
        tag = local_base_tag(spec)
        image_id = _import_rootfs(client, archive, tag, spec)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    console.info(f"base | created {tag} offline in {time.monotonic() - started:.1f} s")
    return BaseImage(reference=tag, image_id=image_id, origin=DEBOOTSTRAP, pin=spec.identity)


def _run_debootstrap(program: str, spec: BaseSpec, root: Path, console: Console) -> None:
    argv = [program, f"--variant={spec.variant}", spec.suite, str(root), spec.mirror]
    console.debug("+ " + " ".join(argv))
    tail: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        for line in _lines(process.stdout):
            tail = [*tail[-19:], line]
            console.debug(f"base | {line}")
        code = process.wait()
    if code != 0:
        errors = [line for line in tail if line.startswith("E:")] or tail[-1:] or ["no output"]
        msg = f"debootstrap of Debian {spec.suite} from {spec.mirror} failed: {errors[-1]}"
        raise ToolchainError(msg, hint="is the Debian mirror reachable? rerun with -v for its log")


def _lines(stream: Any) -> Iterator[str]:
    for raw in stream:
        line = str(raw).rstrip()
        if line:
            yield line


def _prune_caches(root: Path) -> None:
    """Drop downloaded .debs and package lists: every recipe runs apt-get update itself."""
    for folder in (root / "var/cache/apt/archives", root / "var/lib/apt/lists"):
        for path in folder.glob("*"):
            if path.is_file() and path.name != "lock":
                path.unlink()


def _tar_rootfs(root: Path, archive: Path) -> None:
    # GNU tar keeps device nodes, hard links and ownership exactly as debootstrap made them.
    tar = shutil.which("tar")
    if tar is None:
        msg = "tar not found on PATH"
        raise ToolNotFoundError(msg, hint="apt-get install tar")
    result = subprocess.run(
        [tar, "--numeric-owner", "-C", str(root), "-cf", str(archive), "."],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        msg = f"packing the debootstrapped base failed: {result.stderr.strip()[-300:]}"
        raise ToolchainError(msg)


def _import_rootfs(client: docker.DockerClient, archive: Path, tag: str, spec: BaseSpec) -> str:
    from docker.errors import DockerException

    repository, name_tag = tag.split(":", 1)
    changes = [
        f"LABEL {ORIGIN_LABEL}={DEBOOTSTRAP}",
        f"LABEL {PIN_LABEL}={spec.identity}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["bash"]',
    ]
    try:
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=name_tag, changes=changes
        )
        return str(client.images.get(tag).id)
    except DockerException as error:
        msg = f"importing the debootstrapped base into Docker failed: {engine_error_line(error)}"
        raise ToolchainError(msg) from None


def split_digest_reference(reference: str) -> tuple[str, str]:
    """``name[:tag]@sha256:...`` to (name, digest); the tag is dropped, the digest decides."""
    name, digest = reference.rsplit("@", 1)
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    return name, digest


def _raise_on_pull_error(event: dict[str, Any], reference: str) -> None:
    if "error" in event:
        msg = f"cannot pull {reference}: {' '.join(str(event['error']).split())}"
        raise RegistryError(msg)

