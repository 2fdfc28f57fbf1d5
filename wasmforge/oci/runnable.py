"""From an OCI image to the WASI process a runtime would start: module bytes, argv, env."""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
from collections.abc import Mapping, Sequence

from wasmforge.errors import UserError
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.layout import LoadedImage
from wasmforge.wasirun import WasiProgram, merge_env


def program_from_image(
    image: LoadedImage,
    *,
    args: Sequence[str],
    env: Mapping[str, str],
    dirs: Sequence[tuple[str, str]],
) -> WasiProgram:
    """Args replace the image's Cmd, as with ``docker run IMAGE ARGS``; env adds to its Env."""
    config = image.config_json()
    if image.format == "artifact":
        if len(image.layers) != 1 or image.layers[0].media_type != mt.WASM_LAYER:
            msg = f"{image.origin}: a Wasm artifact must have exactly one application/wasm layer"
            raise UserError(msg)
        layer = image.layers[0]
        title = dict(layer.annotations).get(mt.ANNOTATION_TITLE, "module.wasm")
        return WasiProgram(layer.data, (title, *args), merge_env([], env), tuple(dirs),
                           image.origin)
    if config.get("architecture") != mt.ARCHITECTURE:
        msg = (f"{image.origin}: platform {config.get('os')}/{config.get('architecture')} "
               "is not a Wasm image")
        raise UserError(msg)
    container = config.get("config") or {}
    entrypoint = list(container.get("Entrypoint") or [])
    command = list(args) if args else list(container.get("Cmd") or [])
    argv = entrypoint + command
    if not argv:
        msg = f"{image.origin}: the image config has no Entrypoint or Cmd"
        raise UserError(msg)
    wasm = _file_from_layers(image, argv[0], str(container.get("WorkingDir") or "/"))
    return WasiProgram(wasm, tuple(argv), merge_env(container.get("Env") or [], env),
                       tuple(dirs), image.origin)


def _file_from_layers(image: LoadedImage, path: str, workdir: str) -> bytes:
    # runwasi's own image format carries the module as a raw layer instead of in a tar: it runs it.
    raw = [layer for layer in image.layers if layer.media_type in mt.RAW_WASM_LAYERS]
    if raw:
        return raw[0].data
    wanted = posixpath.normpath(posixpath.join(workdir, path)).lstrip("/")
    found: bytes | None = None
    for layer in image.layers:  # later layers win, like an overlay
        try:
            data = layer.data
            if layer.media_type.endswith("+gzip") or data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                for member in archive.getmembers():
                    if posixpath.normpath(member.name).lstrip("/") == wanted and member.isfile():
                        extracted = archive.extractfile(member)
                        found = extracted.read() if extracted else found
        except (OSError, EOFError, tarfile.TarError):
            msg = f"{image.origin}: layer {layer.digest} ({layer.media_type}) is not a tar archive"
            raise UserError(msg) from None
    if found is None:
        msg = f"{image.origin}: the entrypoint /{wanted} is not in the image's layers"
        raise UserError(msg)
    return found
