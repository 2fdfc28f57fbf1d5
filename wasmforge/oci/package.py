"""``package_module``: one WASI module in, OCI layouts and tars out, digests reported.

Output directory (replaced whole and atomically, so a failed run leaves the previous one intact)::

    OUT/image/          OCI image layout of the runnable compat image
    OUT/image.tar       the same, plus docker's manifest.json (docker load, podman load)
    OUT/artifact/       OCI image layout of the CNCF Wasm artifact
    OUT/artifact.tar
    OUT/wasmforge-package.json   what was written, with digests (push reads it)

A WASI 0.2 component is packaged the same way: the artifact says ``os: wasip2`` and lists the
component's world in its config (``component``), read from the component itself.
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
from wasmforge.oci.image import ComponentFields, OciImage, compat_image, wasm_artifact
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
    component: ComponentFields | None = None  # None: a core module

    def get(self, fmt: FormatName) -> PackagedFormat:
        for packaged in self.formats:
            if packaged.format == fmt:
                return packaged
        msg = f"{self.out_dir}: no {fmt} was packaged here"
        raise UserError(msg)

    def as_dict(self) -> dict[str, Any]:
        result = {
            "name": self.name, "reference": self.reference, "out_dir": str(self.out_dir),
            "created": self.created, "formats": [f.as_dict() for f in self.formats],
        }
        if self.component is not None:  # absent for a module: its result file stays as it was
            result["component"] = self.component.as_dict()
        return result


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
    component: ComponentFields | None = None,
) -> list[OciImage]:
    """The OCI images for ``formats``, in memory; ``component`` when ``wasm`` is a component."""
    file_name = f"{name}.wasm"
    images: list[OciImage] = []
    for fmt in formats:
        if fmt == "image":
            images.append(compat_image(wasm, file_name=file_name, created=created,
                                       annotations=annotations, args=args, env=env,
                                       component=component))
        else:
            images.append(wasm_artifact(wasm, file_name=file_name, created=created,
                                        annotations=annotations, author=author,
                                        component=component))
    return images


@dataclass(frozen=True)
class BuiltComponent:
    """What a build knows of a component beyond its bytes (the build manifest's record)."""

    adapter: str | None = None  # the preview1 adapter's version, for the annotation
    adapter_kind: str | None = None  # command or reactor
    world: str | None = None  # the WIT world the build embedded
    wit_dir: Path | None = None  # where that world's package is declared


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
    built: BuiltComponent | None = None,
) -> PackageResult:
    """Package ``wasm`` in each of ``formats`` under ``out_dir`` (see the module docstring).
    ``built``: what the build recorded when ``wasm`` is a component it made."""
    if not _NAME.match(name):
        msg = f"--name {name!r}: use letters, digits, '.', '_' and '-' (it becomes /{name}.wasm)"
        raise UserError(msg)
    ref = parse_reference(reference)
    data, is_component = _read_wasm(wasm)
    component = component_fields(wasm, built or BuiltComponent()) if is_component else None
    images = build_images(data, name=name, formats=formats, annotations=annotations,
                          created=created, author=author, args=args, env=env,
                          component=component)
    packaged: list[PackagedFormat] = []
    with atomic_dir(out_dir) as staging:
        for image in images:
            packaged.append(_write_format(image, ref, created, staging, out_dir))
        result = PackageResult(name, str(ref), out_dir, created, tuple(packaged), component)
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


def component_fields(path: Path, built: BuiltComponent) -> ComponentFields:
    """The artifact's ``component`` for the component at ``path``: its world as the component
    declares it, the target world and adapter as far as the build says."""
    from wasmforge.component.world import component_world, target_world

    world = component_world(path)
    target = target_world(world, built_world=built.world, adapter_kind=built.adapter_kind,
                          wit_dir=built.wit_dir)
    return ComponentFields(exports=world.export_names, imports=world.import_names, target=target,
                           adapter=built.adapter)


def _read_wasm(path: Path) -> tuple[bytes, bool]:
    """The file's bytes, once validated, and whether it is a component."""
    from wasmforge.wasm.module import parse_module

    try:
        data = path.read_bytes()
    except OSError as error:
        msg = f"{path}: cannot read: {error.strerror}"
        raise UserError(msg) from None
    info = parse_module(data, str(path))
    from wasmforge.optimize.validate import standard_validation_error

    # An image of an invalid module runs nowhere; wasm-tools validates components as well.
    problem = standard_validation_error(path)
    if problem is not None:
        what = "component" if info.kind == "component" else "module"
        msg = f"{path}: not a valid {what}: {problem}"
        raise UserError(msg)
    return data, info.kind == "component"


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

