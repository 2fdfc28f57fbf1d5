"""Push an image from a layout to a registry, and pull one from a registry into a layout."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.console import get_console
from wasmforge.errors import RegistryError
from wasmforge.fsutil import atomic_dir
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import Blob, canonical_json, is_digest
from wasmforge.oci.credentials import find_credentials
from wasmforge.oci.layout import LoadedImage, blob_path, write_layout_dir
from wasmforge.oci.reference import Reference
from wasmforge.oci.registry import DEFAULT_CHUNK_SIZE, TIMEOUT, RegistryClient


@dataclass(frozen=True)
class PushResult:
    reference: str
    digest: str
    uploaded: int  # blobs sent (the others were already there)
    skipped: int

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest,
                "pinned": f"{self.reference.split('@')[0]}@{self.digest}",
                "uploaded_blobs": self.uploaded, "existing_blobs": self.skipped}


def client_for(
    ref: Reference, env: Mapping[str, str], *, insecure: bool,
    chunk_size: int = DEFAULT_CHUNK_SIZE, attempts: int = 4,
    timeout: tuple[float, float] = TIMEOUT,
) -> RegistryClient:
    return RegistryClient(ref.registry, credentials=find_credentials(ref.registry, env),
                          insecure=insecure, chunk_size=chunk_size, attempts=attempts,
                          timeout=timeout)


def push_image(image: LoadedImage, ref: Reference, client: RegistryClient) -> PushResult:
    """Layers and config first, the manifest (the tag) last: a failure never tags partial content."""
    client.ping()
    repository = ref.api_repository
    uploaded = skipped = 0
    for blob in (*image.layers, image.config):
        if client.upload_blob(repository, blob):
            uploaded += 1
            get_console().debug(f"uploaded {blob.digest} ({blob.size} bytes)")
        else:
            skipped += 1
    if ref.digest and ref.digest != image.digest:
        msg = f"{ref}: the reference pins {ref.digest} but the image is {image.digest}"
        raise RegistryError(msg)
    digest = client.put_manifest(repository, ref.reference, image.manifest)
    return PushResult(str(ref), digest, uploaded, skipped)


def fetch_image(ref: Reference, client: RegistryClient) -> LoadedImage:
    """The manifest, config and layers of ``ref``, each checked against its digest. Whatever
    the registry sends that is not an image is a RegistryError naming it."""
    repository = ref.api_repository
    manifest = client.get_manifest(repository, ref.reference)
    document = _document(ref, manifest.data, "its manifest")
    if manifest.media_type in (mt.INDEX, mt.DOCKER_MANIFEST_LIST) or "manifests" in document:
        manifest, document = _wasm_entry(ref, client, document)
    config_descriptor = _descriptor(ref, document.get("config"), "the config descriptor")
    config = Blob(str(config_descriptor.get("mediaType", "")),
                  client.get_blob(repository, config_descriptor["digest"]))
    raw_layers = document.get("layers") or []
    if not isinstance(raw_layers, list):
        msg = f"{ref}: the registry sent a manifest whose layers are not a list"
        raise RegistryError(msg)
    layers = []
    for raw in raw_layers:
        layer = _descriptor(ref, raw, "a layer descriptor")
        annotations = layer.get("annotations") or {}
        if not isinstance(annotations, dict):
            annotations = {}
        layers.append(Blob(str(layer.get("mediaType", "")),
                           client.get_blob(repository, layer["digest"]),
                           tuple(sorted((str(k), str(v)) for k, v in annotations.items()))))
    annotations = {mt.ANNOTATION_REF_NAME: ref.tag_or_default,
                   mt.ANNOTATION_CONTAINERD_NAME: ref.full()}
    return LoadedImage(str(ref), manifest, config, tuple(layers), annotations)


def _document(ref: Reference, data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        msg = f"{ref}: the registry sent something that is not JSON as {what}"
        raise RegistryError(msg)
    return value


def _descriptor(ref: Reference, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not is_digest(str(value.get("digest", ""))):
        msg = f"{ref}: the registry sent a manifest with a broken {what}"
        raise RegistryError(msg)
    return value


def _wasm_entry(
    ref: Reference, client: RegistryClient, index: dict[str, Any]
) -> tuple[Blob, dict[str, Any]]:
    """From an index, the manifest for a Wasm platform (wasi/wasm or wasip1/wasip2)."""
    entries = index.get("manifests") or []
    for entry in entries if isinstance(entries, list) else []:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if isinstance(platform, dict) and platform.get("architecture") == mt.ARCHITECTURE:
            descriptor = _descriptor(ref, entry, "index entry")
            manifest = client.get_manifest(ref.api_repository, descriptor["digest"])
            return manifest, _document(ref, manifest.data, "its manifest")
    msg = f"{ref}: an image index with no wasm platform entry"
    raise RegistryError(msg)


def write_pulled_layout(image: LoadedImage, ref: Reference, out_dir: Path) -> None:
    """An OCI layout of ``image`` in ``out_dir`` (replaced whole, atomically), blobs byte-exact."""
    files = {blob_path(b.digest): b.data for b in (*image.layers, image.config, image.manifest)}
    files[mt.OCI_LAYOUT_FILE] = canonical_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION})
    descriptor: dict[str, Any] = {"mediaType": image.manifest.media_type or mt.MANIFEST,
                                  "digest": image.digest, "size": image.manifest.size}
    descriptor["annotations"] = {mt.ANNOTATION_CONTAINERD_NAME: ref.full(),
                                 mt.ANNOTATION_REF_NAME: ref.tag_or_default}
    files["index.json"] = canonical_json(
        {"schemaVersion": 2, "mediaType": mt.INDEX, "manifests": [descriptor]}
    )
    with atomic_dir(out_dir) as staging:
        write_layout_dir(files, staging)
