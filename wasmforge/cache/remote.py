"""Build results shared through an OCI registry: every team already runs one (GHCR, ECR, Harbor,
distribution), and it is the distributed cache.

One action result is one OCI artifact (image-spec 1.1) in the cache repository, tagged by the
action's key:

    manifest  artifactType application/vnd.wasmforge.action.v1
      config  application/vnd.wasmforge.action.result.v1+json   the ActionRecord (outputs, deps)
      layers  application/vnd.wasmforge.action.output.v1        one per output file, titled by path

A lookup is a HEAD of the tag, then GETs; every blob is checked against its digest before it is
kept. An upload sends the blobs first and the manifest last, so a tag never names missing content.
Whoever can push to the repository decides what everyone restores from it: see docs/cache.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wasmforge.cache.record import ActionRecord, DamagedEntry
from wasmforge.cache.store import LocalStore
from wasmforge.errors import RegistryError
from wasmforge.oci import mediatypes as mt
from wasmforge.oci.blob import Blob, canonical_json, json_object
from wasmforge.oci.reference import parse_reference
from wasmforge.oci.registry import RegistryClient
from wasmforge.oci.transfer import client_for

ARTIFACT_TYPE = "application/vnd.wasmforge.action.v1"
RESULT_MEDIA_TYPE = "application/vnd.wasmforge.action.result.v1+json"
OUTPUT_MEDIA_TYPE = "application/vnd.wasmforge.action.output.v1"
KEY_ANNOTATION = "org.wasmforge.action.key"
# A cache must never hold a build up for long: short deadlines, one retry.
CACHE_TIMEOUT = (5.0, 30.0)
CACHE_ATTEMPTS = 2


class RegistryCache:
    """The cache repository ``reference`` (``registry/name``) on its registry."""

    def __init__(self, reference: str, env: Mapping[str, str], *, insecure: bool) -> None:
        self.reference = reference
        ref = parse_reference(reference, what="cache repository")
        self.repository = ref.api_repository
        self._client: RegistryClient = client_for(
            ref, env, insecure=insecure, attempts=CACHE_ATTEMPTS, timeout=CACHE_TIMEOUT)

    def fetch(
        self, key: str, deps_match: Callable[[Mapping[str, str]], bool], store: LocalStore
    ) -> ActionRecord | None:
        """The result of ``key`` if the registry has one whose dependencies hold here; its blobs
        are checked and kept in ``store``. RegistryError when the registry fails."""
        if not self.has(key):
            return None
        manifest = json_object(f"{self.reference}:{key[:12]}", "cache entry manifest",
                               self._client.get_manifest(self.repository, key).data)
        if manifest.get("artifactType") != ARTIFACT_TYPE:
            msg = "the tag is not a wasmforge cache entry"
            raise DamagedEntry(msg)
        config = _descriptor(manifest.get("config"))
        record = ActionRecord.from_bytes(
            self._client.get_blob(self.repository, config["digest"]), key=key)
        if not deps_match(record.deps):
            return None
        for out in record.outputs.values():
            store.put_bytes(self._client.get_blob(self.repository, out.digest), out.digest)
        return record

    def has(self, key: str) -> bool:
        """True if the repository holds a result for ``key`` (RegistryError when it fails)."""
        return self._client.manifest_exists(self.repository, key)

    def push(self, record: ActionRecord, store: LocalStore) -> None:
        """Upload ``record`` and its output blobs (from ``store``), then tag it with its key."""
        result = Blob(RESULT_MEDIA_TYPE, record.to_bytes())
        layers = []
        for path, out in sorted(record.outputs.items()):
            blob = Blob(OUTPUT_MEDIA_TYPE, store.read_blob(out),
                        annotations=((mt.ANNOTATION_TITLE, path),))
            self._client.upload_blob(self.repository, blob)
            layers.append(blob.descriptor())
        self._client.upload_blob(self.repository, result)
        manifest = {
            "schemaVersion": 2,
            "mediaType": mt.MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "config": result.descriptor(),
            "layers": layers,
            "annotations": {KEY_ANNOTATION: record.key},
        }
        self._client.put_manifest(self.repository, record.key,
                                  Blob(mt.MANIFEST, canonical_json(manifest)))


def _descriptor(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("digest"), str):
        msg = "its manifest has no config descriptor"
        raise DamagedEntry(msg)
    return value


__all__ = ["ARTIFACT_TYPE", "RegistryCache", "RegistryError"]
