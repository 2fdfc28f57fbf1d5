"""Content addressing: digests, descriptors, and the one way JSON is turned into bytes.

A manifest's digest is the sha256 of the exact bytes a registry receives, so every JSON document is
serialised once, here, and those bytes are what is written, tarred and uploaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from wasmforge.errors import UserError

DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(document: Any) -> bytes:
    """Compact UTF-8 JSON. Key order is the order the document was built in, which callers fix."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def is_digest(text: str) -> bool:
    return bool(DIGEST_PATTERN.match(text))


def digest_hex(digest: str) -> str:
    """The hex part of a sha256 digest (its file name under ``blobs/sha256/``)."""
    if not is_digest(digest):
        msg = f"not a sha256 digest: {digest!r}"
        raise ValueError(msg)
    return digest.split(":", 1)[1]


@dataclass(frozen=True)
class Blob:
    """Bytes with their media type; the digest is computed from the bytes, never given."""

    media_type: str
    data: bytes
    annotations: tuple[tuple[str, str], ...] = ()

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        """An OCI descriptor, keys in the order oci-client and wkg write them."""
        described: dict[str, Any] = {
            "mediaType": self.media_type, "digest": self.digest, "size": self.size,
        }
        if self.annotations:
            described["annotations"] = dict(self.annotations)
        return described


def json_object(origin: str, what: str, data: bytes | None) -> dict[str, Any]:
    """``data`` parsed as a JSON object, or a UserError naming ``what`` in ``origin``."""
    if data is None:
        msg = f"{origin}: {what} is missing"
        raise UserError(msg)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        msg = f"{origin}: {what} is not valid JSON: {error}"
        raise UserError(msg) from None
    if not isinstance(value, dict):
        msg = f"{origin}: {what} is not a JSON object"
        raise UserError(msg)
    return value
