"""Which image a toolchain kind runs in, building (or pulling) it on first use.

Three sources, in this order: a user's digest-pinned image (``[toolchains.KIND] image``), a user's
recipe directory (``[toolchains.KIND] recipe``, relative to the project root), or the shipped recipe
``toolchains/<set>/KIND`` of the kind's toolchain set (``[toolchains] set``, default debian-13). Recipe images are tagged by content (see ``tagging``): when the tag exists the
image is used as it is, with no other work than one lookup.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wasmforge.console import Console
from wasmforge.errors import ConfigError, RegistryError, ToolchainError, UserError
from wasmforge.kinds import IMAGE_KINDS, RUNTIME_IMAGES
from wasmforge.toolchain_sets import DEFAULT_SET, ToolchainSetName
from wasmforge.toolchains import base as base_images
from wasmforge.toolchains.builder import LABEL_PREFIX, build_image
from wasmforge.toolchains.lock import BaseRecord, LockEntry, LockFile, lock_path
from wasmforge.toolchains.probe import ImageProbe, installed_packages
from wasmforge.toolchains.recipe import (
    BaseSpec,
    Recipe,
    VerifyCheck,
    load_base,
    load_recipe,
    recipe_names,
)
from wasmforge.toolchains.recipe import shipped_recipe as load_shipped_recipe
from wasmforge.toolchains.tagging import image_tag, recipe_digest

if TYPE_CHECKING:
    import docker

    from wasmforge.config.model import ToolchainOverride, WasmforgeConfig

__all__ = ["IMAGE_KINDS", "ToolchainImage", "ToolchainSource", "ensure_image", "identity",
           "image_names", "record_image", "resolve_source"]

OVERRIDE_IMAGE = "image"
OVERRIDE_RECIPE = "recipe"

# A user's recipe gets the base image only if its Dockerfile asks for it.
_WANTS_BASE = re.compile(r"^\s*ARG\s+BASE\b", re.MULTILINE | re.IGNORECASE)

# Threads of one process (--jobs) share the file lock's guarantees through this.
_process_lock = threading.Lock()


@dataclass(frozen=True)
class ToolchainImage:
    kind: str  # "wasi-sdk" | "rust" | "emscripten" | "wasmedge"
    reference: str  # what to pass to containers.run(): local tag or user's digest-pinned ref
    image_id: str  # "sha256:..." of the image as built/pulled
    env: Mapping[str, str] = field(default_factory=dict)  # env the toolchain needs inside
    toolchain_set: ToolchainSetName = DEFAULT_SET


@dataclass(frozen=True)
class ToolchainSource:
    """Where a kind's image comes from, resolved from the config but not yet touched."""

    kind: str
    override: str | None  # None, OVERRIDE_IMAGE or OVERRIDE_RECIPE
    recipe: Recipe | None  # for recipe sources
    pinned_image: str | None  # for OVERRIDE_IMAGE
    checks: tuple[VerifyCheck, ...]
    env: Mapping[str, str]
    uses_base: bool
    toolchain_set: ToolchainSetName = DEFAULT_SET  # whose shipped recipe (and base) it is

    @property
    def judge_versions(self) -> bool:
        """Version expectations hold only for the shipped recipes' pinned packages."""
        return self.override is None

    @property
    def lock_name(self) -> str:
        """Its entry in the lock file: a shipped image per set, a user's own per kind."""
        return f"{self.toolchain_set}/{self.kind}" if self.override is None else self.kind

    def base_spec(self) -> BaseSpec | None:
        """The base its recipe builds FROM, if it asks for one."""
        return load_base(toolchain_set=self.toolchain_set) if self.uses_base else None


def image_names(toolchain_set: str = DEFAULT_SET) -> list[str]:
    """The images a set ships, build toolchains first (in kind order), then runtimes."""
    shipped = recipe_names(toolchain_set=toolchain_set)
    return [name for name in (*IMAGE_KINDS, *RUNTIME_IMAGES) if name in shipped]


def check_kind(kind: str) -> None:
    if kind == "wat":
        msg = "the wat toolchain needs no image: WABT runs on the host"
        raise UserError(msg)
    if kind not in (*IMAGE_KINDS, *RUNTIME_IMAGES):
        msg = f"unknown toolchain {kind!r} (known: {', '.join((*IMAGE_KINDS, *RUNTIME_IMAGES))})"
        raise UserError(msg)


def resolve_source(
    kind: str, config: WasmforgeConfig | None, root: Path | None = None,
    toolchain_set: ToolchainSetName | None = None,
) -> ToolchainSource:
    """The image source for ``kind`` under ``config`` (see the module docstring); ``toolchain_set``
    replaces the set the config names (``toolchains list --set``)."""
    check_kind(kind)
    chosen_set = toolchain_set or (config.toolchains.set_for(kind) if config else DEFAULT_SET)
    shipped = load_shipped_recipe(kind, chosen_set)
    # check_kind above made ``kind`` one of the image kinds, which are the tables' names.
    toolchains: Mapping[str, ToolchainOverride] = config.toolchains.overrides() if config else {}
    override = toolchains.get(kind)
    if override is not None and override.image and override.recipe:
        msg = f"toolchains.{kind}: set either 'image' or 'recipe', not both"
        raise ConfigError(msg)
    if override is not None and override.image:
        return ToolchainSource(
            kind=kind,
            override=OVERRIDE_IMAGE,
            recipe=None,
            pinned_image=override.image,
            checks=shipped.checks,
            env={},
            uses_base=False,
            toolchain_set=chosen_set,
        )
    if override is not None and override.recipe:
        directory = Path(override.recipe)
        if not directory.is_absolute():
            directory = (root or Path.cwd()) / directory
        if not directory.is_dir():
            msg = f"toolchains.{kind}.recipe: {directory} is not a directory"
            raise ConfigError(msg)
        recipe = load_recipe(directory, name=kind)
        uses_base = bool(_WANTS_BASE.search((directory / "Dockerfile").read_text("utf-8")))
        return ToolchainSource(
            kind=kind,
            override=OVERRIDE_RECIPE,
            recipe=recipe,
            pinned_image=None,
            checks=recipe.checks or shipped.checks,
            env=recipe.env,
            uses_base=uses_base,
            toolchain_set=chosen_set,
        )
    return ToolchainSource(
        kind=kind,
        override=None,
        recipe=shipped,
        pinned_image=None,
        checks=shipped.checks,
        env=shipped.env,
        uses_base=True,
        toolchain_set=chosen_set,
    )


def tag_for(source: ToolchainSource, base: BaseSpec | None = None) -> str:
    """The content tag of a recipe source (a pinned image is its own reference)."""
    if source.pinned_image is not None:
        return pinned_reference(source.pinned_image)
    return image_tag(_image_name(source), _recipe_digest(source, base))


def identity(kind: str, config: WasmforgeConfig | None, root: Path | None = None) -> str:
    """What pins the toolchain ``kind`` under ``config``, the same on every machine: the full hash
    of its recipe (which pins every package and the base image), or a prebuilt image's digest.
    Never the local image id, which differs between two engines that built the same recipe."""
    source = resolve_source(kind, config, root)
    if source.pinned_image is not None:
        return f"image:{pinned_reference(source.pinned_image)}"
    return f"recipe:{_image_name(source)}:{_recipe_digest(source, None)}"


def _image_name(source: ToolchainSource) -> str:
    return source.kind if source.override is None else f"{source.kind}-custom"


def _recipe_digest(source: ToolchainSource, base: BaseSpec | None) -> str:
    assert source.recipe is not None
    spec = base or source.base_spec()
    base_identity = spec.identity if spec is not None else ""
    return recipe_digest(source.recipe.directory, base_identity)


def pinned_reference(reference: str) -> str:
    """``name[:tag]@sha256:...`` as ``name@sha256:...``: the digest decides, and engines look
    images up (and run them) by that form without surprises."""
    repository, digest = base_images.split_digest_reference(reference)
    return f"{repository}@{digest}"


def default_lock(client: docker.DockerClient) -> LockFile:
    from wasmforge.engine import engine_id

    return LockFile(lock_path(), engine_id(client))


def ensure_image(
    kind: str,
    config: WasmforgeConfig | None,
    console: Console,
    *,
    root: Path | None = None,
    client: docker.DockerClient | None = None,
    rebuild: bool = False,
    base: BaseSpec | None = None,
    lock: LockFile | None = None,
    toolchain_set: ToolchainSetName | None = None,
) -> ToolchainImage:
    """The image for ``kind``, built on first use (progress on the console) when missing.

    Honours ``[toolchains.<kind>]`` of ``config``: a digest-pinned image is pulled if absent, a
    recipe directory (relative to ``root``, default the current directory) is built like a shipped
    one.
    ``base`` and ``lock`` replace the set's base.toml and the per-user lock file (tests).
    """
    from wasmforge.engine import docker_client

    source = resolve_source(kind, config, root, toolchain_set)
    client = client or docker_client()
    lock = lock or default_lock(client)
    if source.pinned_image is not None:
        return _ensure_pinned(client, source, pinned_reference(source.pinned_image), console, lock)
    base_spec = (base or source.base_spec()) if source.uses_base else None
    tag = tag_for(source, base_spec)
    if not rebuild:
        present = _existing(client, tag)
        if present is not None:
            if _needs_record(lock.get(source.lock_name), tag, present):
                record_image(client, lock, source, tag, present, base_spec, None)
            return ToolchainImage(kind=kind, reference=tag, image_id=present, env=source.env,
                                  toolchain_set=source.toolchain_set)
    with _process_lock, lock.building():
        present = None if rebuild else _existing(client, tag)  # built while we waited?
        if present is None:
            present = _build(client, source, tag, base_spec, console, lock)
    return ToolchainImage(kind=kind, reference=tag, image_id=present, env=source.env,
                          toolchain_set=source.toolchain_set)


def find_image(client: docker.DockerClient, reference: str) -> str | None:
    """The image id of ``reference`` on this engine, or None."""
    return _existing(client, reference)


def _existing(client: docker.DockerClient, reference: str) -> str | None:
    from docker.errors import ImageNotFound

    try:
        return str(client.images.get(reference).id)
    except ImageNotFound:
        return None


def _needs_record(entry: LockEntry | None, tag: str, image_id: str) -> bool:
    return entry is None or entry.tag != tag or entry.image_id != image_id


def _build(
    client: docker.DockerClient,
    source: ToolchainSource,
    tag: str,
    base_spec: BaseSpec | None,
    console: Console,
    lock: LockFile,
) -> str:
    assert source.recipe is not None
    recipe = source.recipe
    base = base_images.ensure_base(client, base_spec, console) if base_spec else None
    buildargs = {"PACKAGES": " ".join(recipe.package_pins)}
    if base is not None:
        buildargs["BASE"] = base.image_id
    labels = {
        f"{LABEL_PREFIX}.name": source.kind,
        f"{LABEL_PREFIX}.recipe-digest": tag.rsplit(":", 1)[1],
        f"{LABEL_PREFIX}.base": base.pin if base else "",
    }
    result = build_image(client, recipe, tag, console, buildargs=buildargs, labels=labels)
    console.info(f"{source.kind} | built {tag} ({result.image_id[:19]}) in {result.seconds:.1f} s")
    record_image(client, lock, source, tag, result.image_id, base_spec, base)
    return result.image_id


def record_image(
    client: docker.DockerClient,
    lock: LockFile,
    source: ToolchainSource,
    tag: str,
    image_id: str,
    base_spec: BaseSpec | None,
    base: base_images.BaseImage | None,
) -> None:
    """Read the package versions back from the image, check the pins, and write the lock entry:
    for an image built here, found here, or pulled (``toolchains pull``)."""
    assert source.recipe is not None
    try:
        with ImageProbe(client, image_id) as probe:
            packages = installed_packages(probe)
    except ToolchainError:
        if source.recipe.packages:
            raise
        packages = {}  # a user's recipe that pins nothing may not be Debian at all
    wrong = [
        f"{name} is {packages.get(name, 'not installed')}, pinned {version}"
        for name, version in source.recipe.packages.items()
        if packages.get(name) != version
    ]
    if wrong:
        msg = f"{source.kind}: image {tag} does not have its pinned packages: {'; '.join(wrong)}"
        raise ToolchainError(
            msg, hint=f"rebuild it: wasmforge toolchains build --rebuild {source.kind}"
        )
    if base is None and base_spec is not None:
        base = base_images.find_base(client, base_spec)
    record = BaseRecord(pin=base.pin, image_id=base.image_id, origin=base.origin) if base else None
    lock.record(
        LockEntry(
            name=source.lock_name,
            tag=tag,
            image_id=image_id,
            recipe_digest=tag.rsplit(":", 1)[1],
            base=record,
            pins=dict(source.recipe.packages),
            packages=packages,
        )
    )


def _ensure_pinned(
    client: docker.DockerClient,
    source: ToolchainSource,
    reference: str,
    console: Console,
    lock: LockFile,
) -> ToolchainImage:
    from docker.errors import DockerException

    from wasmforge.engine import stream_transfer

    present = _existing(client, reference)
    if present is None:
        console.info(f"{source.kind} | pulling {reference}")
        repository, digest = base_images.split_digest_reference(reference)
        try:
            # A client of the pull's own with a deadline on every read (the SDK's pull has none);
            # it reads to the end even after an error, so the connection is released.
            events = stream_transfer(
                lambda api: api.pull(repository, tag=digest, stream=True, decode=True),
                f"pulling {reference}")
            for event in events:
                if "error" in event:
                    raise RegistryError(_pull_message(source.kind, reference, event["error"]))
        except DockerException as error:
            text = str(getattr(error, "explanation", None) or error)
            raise RegistryError(_pull_message(source.kind, reference, text)) from None
        present = _existing(client, reference)
        if present is None:
            msg = f"toolchains.{source.kind}.image: {reference} pulled but not found afterwards"
            raise RegistryError(msg)
    entry = lock.get(source.lock_name)
    if _needs_record(entry, reference, present):
        lock.record(
            LockEntry(
                name=source.lock_name, tag=reference, image_id=present, recipe_digest=None, base=None
            )
        )
    return ToolchainImage(kind=source.kind, reference=reference, image_id=present, env=source.env,
                          toolchain_set=source.toolchain_set)


def _pull_message(kind: str, reference: str, reason: object) -> str:
    text = " ".join(str(reason).split())[:300]
    return f"toolchains.{kind}.image: cannot pull {reference}: {text}"
