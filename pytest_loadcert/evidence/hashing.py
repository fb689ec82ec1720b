"""Content digests in the bundle's notation: ``sha256:<64 lowercase hex>``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Digest of ``data`` as ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Digest of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def is_digest(value: object) -> bool:
    """True when ``value`` is a string in ``sha256:<64 lowercase hex>`` form."""
    return isinstance(value, str) and DIGEST_RE.fullmatch(value) is not None
