"""``inspect_oci``: what an OCI layout (directory or tar) or a registry reference contains."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wasmforge.oci import mediatypes as mt
from wasmforge.oci.layout import LoadedImage, is_layout_dir, is_layout_tar, load_layout


def looks_like_layout(target: str) -> bool:
    path = Path(target)
    return is_layout_dir(path) or (path.suffix == ".tar" and is_layout_tar(path))


def load_oci(
    target: str, *, env: Mapping[str, str] | None = None, insecure: bool = False
) -> LoadedImage:
    """A layout directory or tar (``PATH`` or ``PATH:TAG``), else a registry reference."""
    path_part, _, tag = target.rpartition(":")
    if path_part and "/" not in tag and looks_like_layout(path_part):
        return load_layout(Path(path_part), tag)
    if looks_like_layout(target) or Path(target).exists():
        return load_layout(Path(target))
    from wasmforge.errors import RegistryError
    from wasmforge.oci.reference import is_loopback, parse_reference
    from wasmforge.oci.transfer import client_for, fetch_image

    ref = parse_reference(target)
    environment = os.environ if env is None else env
    try:
        return fetch_image(ref, client_for(ref, environment, insecure=insecure))
    except RegistryError:
        # Reading only: like Docker, a registry on this machine may speak plain HTTP.
        if insecure or not is_loopback(ref.registry):
            raise
        return fetch_image(ref, client_for(ref, environment, insecure=True))


def inspect_oci(
    target: str, *, env: Mapping[str, str] | None = None, insecure: bool = False
) -> dict[str, Any]:
    """Manifest, config, layers, annotations, platform and digests of ``target``."""
    return describe(load_oci(target, env=env, insecure=insecure))


def describe(image: LoadedImage) -> dict[str, Any]:
    manifest = image.manifest_json()
    config = image.config_json()
    container = config.get("config") if isinstance(config.get("config"), dict) else {}
    return {
        "source": image.origin,
        "format": image.format,
        "digest": image.digest,
        "media_type": manifest.get("mediaType"),
        "platform": {"os": config.get("os"), "architecture": config.get("architecture")},
        "created": config.get("created"),
        "annotations": manifest.get("annotations") or {},
        "ref_name": image.annotations.get(mt.ANNOTATION_REF_NAME),
        "config": {"media_type": image.config.media_type, "digest": image.config.digest,
                   "size": image.config.size, "content": config},
        "entrypoint": (container or {}).get("Entrypoint"),
        "cmd": (container or {}).get("Cmd"),
        "env": (container or {}).get("Env"),
        "layers": [
            {"media_type": layer.media_type, "digest": layer.digest, "size": layer.size,
             "annotations": dict(layer.annotations)}
            for layer in image.layers
        ],
        "total_size": image.manifest.size + image.config.size + sum(l.size for l in image.layers),
    }


def looks_like_oci_target(target: str) -> bool:
    """A layout directory or tar (optionally ``:TAG``), or a registry reference (has a '/')."""
    path_part, _, tag = target.rpartition(":")
    if looks_like_layout(target) or (path_part and "/" not in tag and looks_like_layout(path_part)):
        return True
    from wasmforge.oci.reference import looks_like_file

    if Path(target).exists() or "/" not in target or looks_like_file(target):
        return False
    from wasmforge.errors import UserError
    from wasmforge.oci.reference import parse_reference

    try:
        parse_reference(target)
    except UserError:
        return False
    return True


def show_oci(report: Mapping[str, Any]) -> None:
    """The human view of an ``inspect_oci`` report (stderr tables)."""
    from wasmforge.console import get_console

    console = get_console()
    platform = report["platform"]
    rows = [("source", str(report["source"])), ("format", str(report["format"])),
            ("digest", str(report["digest"])),
            ("platform", f"{platform['os']}/{platform['architecture']}"),
            ("created", str(report["created"])),
            ("config", f"{report['config']['media_type']} {report['config']['digest']}")]
    if report["entrypoint"]:
        rows.append(("entrypoint", " ".join(report["entrypoint"])))
    if report["cmd"]:
        rows.append(("cmd", " ".join(report["cmd"])))
    console.table(["property", "value"], rows, title="OCI image")
    console.table(["media type", "digest", "size"],
                  [(l["media_type"], l["digest"], str(l["size"])) for l in report["layers"]],
                  title="layers")
    if report["annotations"]:
        console.table(["annotation", "value"], sorted(report["annotations"].items()),
                      title="annotations")
