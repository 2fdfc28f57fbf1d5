"""The media types and platform values wasmforge writes, named once.

See ``/work/shared/reference/oci-wasm-formats.md``: the compat image is what Podman/crun-wasm, youki
and runwasi run from a rootfs; the artifact is the CNCF TAG Runtime layout that wkg, wasmCloud, Spin
and runwasi read.
"""

from __future__ import annotations

OCI_LAYOUT_FILE = "oci-layout"
OCI_LAYOUT_VERSION = "1.0.0"

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
# Uncompressed on purpose: a gzip stream's bytes depend on the zlib build (zlib, zlib-ng, versions),
# so a compressed layer could get a different digest on another machine. docker save (25+) also
# writes uncompressed layers. The module is the only file, so the cost is its compressibility.
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_CONFIG = "application/vnd.wasm.config.v0+json"
WASM_LAYER = "application/wasm"
# Layers that are a module's raw bytes, not a tar: the CNCF type and runwasi's component layer.
RAW_WASM_LAYERS = (WASM_LAYER, "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm")

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# What pull and inspect accept from a registry, most wanted first.
ACCEPT_MANIFESTS = (MANIFEST, INDEX, DOCKER_MANIFEST_V2, DOCKER_MANIFEST_LIST)

# Image platform: Podman picks crun-wasm by an exact match on "wasi/wasm"; "wasip1" would not match.
IMAGE_OS = "wasi"
ARCHITECTURE = "wasm"
# Artifact platform: the CNCF layout says wasip1 for core modules (a GOOS-like value), wasip2 for
# WASI 0.2 components (whose config must then carry the component's world).
ARTIFACT_OS = "wasip1"
COMPONENT_OS = "wasip2"

ANNOTATION_VARIANT = "module.wasm.image/variant"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_VERSION = "org.opencontainers.image.version"
ANNOTATION_SOURCE = "org.opencontainers.image.source"
ANNOTATION_REVISION = "org.opencontainers.image.revision"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_DESCRIPTION = "org.opencontainers.image.description"
ANNOTATION_LICENSES = "org.opencontainers.image.licenses"
ANNOTATION_AUTHORS = "org.opencontainers.image.authors"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"
# wasmforge's own: the WASI preview1 adapter a component was made with (npm package, version, file),
# when the build made it; under the org.wasmforge prefix of the toolchain images' labels.
ANNOTATION_ADAPTER = "org.wasmforge.component.adapter"
