"""Building the two OCI formats from a module's bytes: pure functions, no files.

Each returns an ``OciImage``: the manifest, config and layer blobs with their exact bytes. Nothing
here reads a clock: ``created`` is passed in (SOURCE_DATE_EPOCH), so equal inputs give equal digests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import Blob, canonical_json
from wasmforge.oci.tarball import TarEntry, deterministic_tar

WASM_FILE_MODE = 0o755  # old crun needed the exec bit; runwasi and youki ignore it


@dataclass(frozen=True)
class ComponentFields:
    """The artifact config's ``component``: a WASI 0.2 component's world (see
    ``wasmforge.component.world``). Its presence is what makes a package a component's."""

    exports: tuple[str, ...]
    imports: tuple[str, ...]
    target: str | None = None  # the world the build targeted, e.g. wasi:cli/command@0.2.12
    adapter: str | None = None  # the preview1 adapter that made it, when a build says which

    def config_field(self) -> dict[str, Any]:
        # oci-wasm's Component, in its field order, target null when unknown: the bytes wkg writes.
        return {"exports": list(self.exports), "imports": list(self.imports),
                "target": self.target}

    def as_dict(self) -> dict[str, Any]:
        return {**self.config_field(), "adapter": self.adapter}


@dataclass(frozen=True)
class OciImage:
    """One manifest with its config and layers. ``format`` is "image" or "artifact"."""

    format: str
    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def blobs(self) -> tuple[Blob, ...]:
        """Every blob, in upload order: layers, config, then the manifest that names them."""
        return (*self.layers, self.config, self.manifest)


def rfc3339(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _manifest(config: Blob, layers: Sequence[Blob], annotations: Mapping[str, str]) -> Blob:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        # Set explicitly: the registry's Content-Type must match it, and oras layouts need it.
        "mediaType": mt.MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    if annotations:
        document["annotations"] = dict(sorted(annotations.items()))
    return Blob(mt.MANIFEST, canonical_json(document))


def compat_image(
    wasm: bytes,
    *,
    file_name: str,
    created: int,
    annotations: Mapping[str, str],
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    component: ComponentFields | None = None,
) -> OciImage:
    """The runnable "compat" image: ``/<file_name>`` in one tar layer, platform wasi/wasm.

    A component gets the same image, platform included: Docker and Kubernetes pick the runwasi shim
    by wasi/wasm, and runwasi's wasmtime shim runs a component from the rootfs (``wasi:cli/run`` as
    a command, ``wasi:http/incoming-handler`` as a server). It gets no ``module.wasm.image/variant``
    annotation: that one hands the container to crun's or youki's Wasm handlers, which run core
    modules only."""
    layer_tar = deterministic_tar(
        [TarEntry(file_name, wasm, WASM_FILE_MODE)], mtime=created
    )
    layer = Blob(mt.LAYER_TAR, layer_tar)
    stamp = rfc3339(created)
    container: dict[str, Any] = {"Entrypoint": [f"/{file_name}"]}
    if args:
        container["Cmd"] = list(args)
    if env:
        container["Env"] = [f"{key}={value}" for key, value in sorted(env.items())]
    container["WorkingDir"] = "/"
    config_document = {
        "created": stamp,
        "architecture": mt.ARCHITECTURE,
        "os": mt.IMAGE_OS,
        "config": container,
        # diff_ids name the uncompressed tar; with an uncompressed layer it equals the layer digest.
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
        "history": [{"created": stamp, "created_by": f"wasmforge package (COPY {file_name} /)"}],
    }
    config = Blob(mt.IMAGE_CONFIG, canonical_json(config_document))
    manifest_annotations = {**annotations, **_component_annotations(component),
                            mt.ANNOTATION_CREATED: stamp}
    if component is None:
        manifest_annotations[mt.ANNOTATION_VARIANT] = "compat"
    return OciImage("image", _manifest(config, [layer], manifest_annotations), config, (layer,))


def wasm_artifact(
    wasm: bytes,
    *,
    file_name: str,
    created: int,
    annotations: Mapping[str, str],
    author: str | None = None,
    component: ComponentFields | None = None,
) -> OciImage:
    """The CNCF TAG Runtime Wasm artifact: the raw module or component as its one
    ``application/wasm`` layer (the spec has one layer type for both); ``os`` wasip1 for a core
    module, wasip2 with the REQUIRED ``component`` field for a component."""
    layer = Blob(mt.WASM_LAYER, wasm, ((mt.ANNOTATION_TITLE, file_name),))
    stamp = rfc3339(created)
    # Field order and the explicit nulls follow the oci-wasm crate, so the bytes match wkg's.
    config_document = {
        "created": stamp,
        "author": author,
        "architecture": mt.ARCHITECTURE,
        "os": mt.ARTIFACT_OS if component is None else mt.COMPONENT_OS,
        "layerDigests": [layer.digest],
        "component": None if component is None else component.config_field(),
    }
    config = Blob(mt.WASM_CONFIG, canonical_json(config_document))
    manifest_annotations = {**annotations, **_component_annotations(component),
                            mt.ANNOTATION_CREATED: stamp}
    return OciImage("artifact", _manifest(config, [layer], manifest_annotations), config, (layer,))


def _component_annotations(component: ComponentFields | None) -> dict[str, str]:
    if component is None or component.adapter is None:
        return {}
    return {mt.ANNOTATION_ADAPTER: component.adapter}
