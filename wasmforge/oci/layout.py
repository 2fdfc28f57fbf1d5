"""OCI image layouts on disk: writing one (directory and tar) and reading one back.

The tar is the directory's files in a deterministic tar. For the runnable image it also carries a
docker-archive ``manifest.json``, so that ``docker load`` (which still requires that file on the
classic store) and ``podman load``/containerd (which prefer ``index.json``) all accept it. The legacy
``repositories`` file is not written: it names v1 layer ids that an OCI layout does not have, and no
current loader needs it.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmforge.errors import UserError
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import (
    Blob,
    canonical_json,
    digest_hex,
    is_digest,
    json_object,
    sha256_digest,
)
from wasmforge.oci.image import OciImage
from wasmforge.oci.reference import Reference
from wasmforge.oci.tarball import TarEntry, deterministic_tar

FILE_MODE = 0o644
DIR_MODE = 0o755


def blob_path(digest: str) -> str:
    return f"blobs/sha256/{digest_hex(digest)}"


def layout_files(image: OciImage, reference: Reference) -> dict[str, bytes]:
    """Every file of the layout by relative path, with its exact bytes."""
    files = {blob_path(blob.digest): blob.data for blob in image.blobs()}
    files[mt.OCI_LAYOUT_FILE] = canonical_json({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION})
    config = json.loads(image.config.data)
    descriptor = image.manifest.descriptor()
    descriptor["platform"] = {"architecture": config["architecture"], "os": config["os"]}
    descriptor["annotations"] = {
        # containerd and podman name the loaded image from the first; OCI tools from the second.
        mt.ANNOTATION_CONTAINERD_NAME: reference.full(),
        mt.ANNOTATION_REF_NAME: reference.tag_or_default,
    }
    files["index.json"] = canonical_json(
        {"schemaVersion": 2, "mediaType": mt.INDEX, "manifests": [descriptor]}
    )
    if image.format == "image":
        files["manifest.json"] = canonical_json([{
            "Config": blob_path(image.config.digest),
            "RepoTags": [reference.familiar()],
            "Layers": [blob_path(layer.digest) for layer in image.layers],
        }])
    return files


def layout_tar(files: Mapping[str, bytes], *, mtime: int) -> bytes:
    directories = {"blobs", "blobs/sha256"}
    entries = [TarEntry(f"{d}/", None, DIR_MODE) for d in sorted(directories)]
    entries += [TarEntry(name, data, FILE_MODE) for name, data in files.items()]
    return deterministic_tar(entries, mtime=mtime)


def write_layout_dir(files: Mapping[str, bytes], directory: Path) -> None:
    """Write into a fresh directory (the caller renames it into place, so no partial layout shows)."""
    for name, data in sorted(files.items()):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(FILE_MODE)


# Reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedImage:
    """A manifest with its config and layer blobs, every digest checked against the bytes."""

    origin: str
    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    annotations: Mapping[str, str]  # the index descriptor's (ref name), not the manifest's

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def manifest_json(self) -> dict[str, Any]:
        return json_object(self.origin, "manifest", self.manifest.data)

    def config_json(self) -> dict[str, Any]:
        return json_object(self.origin, "image config", self.config.data)

    @property
    def format(self) -> str:
        return "artifact" if self.config.media_type == mt.WASM_CONFIG else "image"


Reader = Callable[[str], bytes | None]


def is_layout_dir(path: Path) -> bool:
    return (path / mt.OCI_LAYOUT_FILE).is_file() and (path / "index.json").is_file()


def is_layout_tar(path: Path) -> bool:
    if not path.is_file() or not tarfile.is_tarfile(path):
        return False
    try:
        with tarfile.open(path) as archive:
            names = {n.removeprefix("./") for n in archive.getnames()}
    except (tarfile.TarError, EOFError) as error:
        raise _damaged_tar(path, error) from None
    return mt.OCI_LAYOUT_FILE in names and "index.json" in names


def load_layout(path: Path, tag: str | None = None) -> LoadedImage:
    """The image in a layout directory or layout tar; ``tag`` picks one when it holds several."""
    if path.is_dir():
        if not is_layout_dir(path):
            msg = f"{path}: not an OCI image layout (no oci-layout and index.json)"
            raise UserError(msg)

        def read_dir(name: str) -> bytes | None:
            file = path / name
            return file.read_bytes() if file.is_file() else None

        return _load(str(path), read_dir, tag)
    if not is_layout_tar(path):
        msg = f"{path}: not an OCI image layout directory or tar"
        raise UserError(msg)
    try:
        with tarfile.open(path) as archive:
            members = {m.name.removeprefix("./"): m for m in archive.getmembers() if m.isfile()}

            def read_tar(name: str) -> bytes | None:
                member = members.get(name)
                extracted = archive.extractfile(member) if member is not None else None
                return extracted.read() if extracted is not None else None

            return _load(str(path), read_tar, tag)
    except (tarfile.TarError, EOFError) as error:
        raise _damaged_tar(path, error) from None


def _damaged_tar(path: Path, error: Exception) -> UserError:
    return UserError(f"{path}: a truncated or damaged tar ({error})",
                     hint="package it again, or copy it whole")


def _load(origin: str, read: Reader, tag: str | None) -> LoadedImage:
    index = json_object(origin, "index.json", read("index.json"))
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        msg = f"{origin}: index.json lists no manifests"
        raise UserError(msg)
    if not all(isinstance(entry, dict) for entry in manifests):
        msg = f"{origin}: index.json: every entry of 'manifests' must be a descriptor object"
        raise UserError(msg)
    chosen = _choose(origin, manifests, tag)
    manifest = _blob(origin, read, chosen, "manifest")
    document = json_object(origin, "manifest", manifest.data)
    if "manifests" in document:
        msg = f"{origin}: the tagged entry is an image index; only single manifests are supported"
        raise UserError(msg)
    config = _blob(origin, read, document.get("config"), "config")
    layers = tuple(_blob(origin, read, d, "layer") for d in document.get("layers") or [])
    annotations = chosen.get("annotations") or {}
    return LoadedImage(origin, manifest, config, layers, dict(annotations))


def _choose(origin: str, manifests: list[Any], tag: str | None) -> dict[str, Any]:
    if tag is None:
        if len(manifests) > 1:
            names = [str((m.get("annotations") or {}).get(mt.ANNOTATION_REF_NAME)) for m in manifests]
            msg = f"{origin}: holds {len(manifests)} images ({', '.join(names)}); name one with :TAG"
            raise UserError(msg)
        return dict(manifests[0])
    for entry in manifests:
        if (entry.get("annotations") or {}).get(mt.ANNOTATION_REF_NAME) == tag:
            return dict(entry)
    msg = f"{origin}: no image tagged {tag!r} in index.json"
    raise UserError(msg)


def _blob(origin: str, read: Reader, descriptor: Any, what: str) -> Blob:
    if not isinstance(descriptor, dict) or not is_digest(str(descriptor.get("digest", ""))):
        msg = f"{origin}: {what} descriptor has no valid sha256 digest"
        raise UserError(msg)
    digest = str(descriptor["digest"])
    data = read(blob_path(digest))
    if data is None:
        msg = f"{origin}: {what} blob {digest} is missing"
        raise UserError(msg)
    if sha256_digest(data) != digest:
        msg = f"{origin}: {what} blob {digest} is corrupt (its bytes hash to {sha256_digest(data)})"
        raise UserError(msg)
    if descriptor.get("size") != len(data):
        msg = f"{origin}: {what} blob {digest} is {len(data)} bytes, descriptor says {descriptor.get('size')}"
        raise UserError(msg)
    annotations = tuple(sorted((descriptor.get("annotations") or {}).items()))
    return Blob(str(descriptor.get("mediaType", "")), data, annotations)
