"""``package_module``: one WASI module in, OCI layouts and tars out, digests reported.

Output directory (replaced whole and atomically, so a failed run leaves the previous one intact)::

    OUT/image/          OCI image layout of the runnable compat image
    OUT/image.tar       the same, plus docker's manifest.json (docker load, podman load)
    OUT/artifact/       OCI image layout of the CNCF Wasm artifact
    OUT/artifact.tar
    OUT/wasmforge-package.json   what was written, with digests (push reads it)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wasmforge.errors import UserError
from wasmforge.fsutil import atomic_dir
from wasmforge.oci.blob import json_object
from wasmforge.oci.image import OciImage, compat_image, wasm_artifact
from wasmforge.oci.layout import layout_files, layout_tar, write_layout_dir
from wasmforge.oci.reference import Reference, parse_reference

FormatName = Literal["image", "artifact"]
FORMATS: tuple[FormatName, ...] = ("image", "artifact")
RESULT_FILE = "wasmforge-package.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PackagedFormat:
    format: FormatName
    layout: Path
    tar: Path
    manifest_digest: str
    config_digest: str
    layer_digests: tuple[str, ...]
    size: int  # manifest + config + layers, as a registry stores them

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "layout": str(self.layout), "tar": str(self.tar),
            "digest": self.manifest_digest, "config_digest": self.config_digest,
            "layer_digests": list(self.layer_digests), "size": self.size,
        }


@dataclass(frozen=True)
class PackageResult:
    name: str
    reference: str
    out_dir: Path
    created: int
    formats: tuple[PackagedFormat, ...] = field(default=())

    def get(self, fmt: FormatName) -> PackagedFormat:
        for packaged in self.formats:
            if packaged.format == fmt:
                return packaged
        msg = f"{self.out_dir}: no {fmt} was packaged here"
        raise UserError(msg)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "reference": self.reference, "out_dir": str(self.out_dir),
            "created": self.created, "formats": [f.as_dict() for f in self.formats],
        }


def expand_format(choice: str) -> tuple[FormatName, ...]:
    if choice == "both":
        return FORMATS
    if choice in FORMATS:
        return (choice,)
    msg = f"unknown package format {choice!r} (expected image, artifact or both)"
    raise UserError(msg)


def build_images(
    wasm: bytes,
    *,
    name: str,
    formats: Sequence[FormatName],
    annotations: Mapping[str, str],
    created: int,
    author: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> list[OciImage]:
    """The OCI images for ``formats``, in memory."""
    file_name = f"{name}.wasm"
    images: list[OciImage] = []
    for fmt in formats:
        if fmt == "image":
            images.append(compat_image(wasm, file_name=file_name, created=created,
                                       annotations=annotations, args=args, env=env))
        else:
            images.append(wasm_artifact(wasm, file_name=file_name, created=created,
                                        annotations=annotations, author=author))
    return images


def package_module(
    wasm: Path,
    *,
    name: str,
    reference: str,
    formats: Sequence[FormatName],
    annotations: Mapping[str, str],
    created: int,
    out_dir: Path,
    author: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> PackageResult:
    """Package ``wasm`` in each of ``formats`` under ``out_dir`` (see the module docstring)."""
    if not _NAME.match(name):
        msg = f"--name {name!r}: use letters, digits, '.', '_' and '-' (it becomes /{name}.wasm)"
        raise UserError(msg)
    ref = parse_reference(reference)
    data = _read_wasm(wasm)
    images = build_images(data, name=name, formats=formats, annotations=annotations,
                          created=created, author=author, args=args, env=env)
    packaged: list[PackagedFormat] = []
    with atomic_dir(out_dir) as staging:
        for image in images:
            packaged.append(_write_format(image, ref, created, staging, out_dir))
        result = PackageResult(name, str(ref), out_dir, created, tuple(packaged))
        (staging / RESULT_FILE).write_bytes(
            json.dumps(result.as_dict(), indent=2).encode() + b"\n"
        )
    return result


def _write_format(
    image: OciImage, ref: Reference, created: int, staging: Path, out_dir: Path
) -> PackagedFormat:
    files = layout_files(image, ref)
    write_layout_dir(files, staging / image.format)
    tar_name = f"{image.format}.tar"
    (staging / tar_name).write_bytes(layout_tar(files, mtime=created))
    fmt: FormatName = "image" if image.format == "image" else "artifact"
    return PackagedFormat(
        format=fmt,
        layout=out_dir / image.format,
        tar=out_dir / tar_name,
        manifest_digest=image.digest,
        config_digest=image.config.digest,
        layer_digests=tuple(layer.digest for layer in image.layers),
        size=sum(blob.size for blob in image.blobs()),
    )


def _read_wasm(path: Path) -> bytes:
    from wasmforge.wasm.module import parse_module

    try:
        data = path.read_bytes()
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise UserError(msg) from None
    info = parse_module(data, str(path))
    if info.kind == "component":
        # The artifact would need the component's world (config.component); crun and youki run
        # core modules only, so a compat image of a component would not run anywhere it claims to.
        msg = f"{path}: is a WebAssembly component; wasmforge packages core WASI modules only"
        raise UserError(msg)
    from wasmforge.optimize.validate import standard_validation_error

    problem = standard_validation_error(path)  # an image of an invalid module runs nowhere
    if problem is not None:
        msg = f"{path}: not a valid module: {problem}"
        raise UserError(msg)
    return data


def read_package_result(out_dir: Path) -> dict[str, Any]:
    """The ``wasmforge-package.json`` written by an earlier run, or a UserError saying to package."""
    path = out_dir / RESULT_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        msg = f"{out_dir}: not packaged yet (no {RESULT_FILE})"
        raise UserError(msg, hint="run 'wasmforge package' first") from None
    except OSError as error:
        msg = f"{path}: unreadable: {error.strerror}"
        raise UserError(msg) from None
    return json_object(str(path), "the package result", data)

