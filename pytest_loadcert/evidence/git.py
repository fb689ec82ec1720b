"""The git record ``artifacts/git.json`` (written by ``loadcert collect git``), read back
and checked strictly: SHA, ref, dirty and the collection time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import read_json
from pytest_loadcert.evidence.layout import GIT_JSON
from pytest_loadcert.evidence.timeutil import parse_utc

_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


_KEYS = ("sha", "ref", "dirty", "collected_at")


def read_record(evidence_dir: Path) -> dict[str, Any]:
    """``{"sha", "ref", "dirty"}`` from the bundle's ``artifacts/git.json``, checked strictly.

    Raises :class:`~pytest_loadcert.errors.EvidenceError` naming the field.
    """
    document = read_json(evidence_dir / GIT_JSON, GIT_JSON)
    if not isinstance(document, dict):
        raise EvidenceError(GIT_JSON, "", "is not a JSON object")
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise EvidenceError(GIT_JSON, unknown[0], "is not a known key")
    for key in _KEYS:
        if key not in document:
            raise EvidenceError(GIT_JSON, key, "is missing")
    if not isinstance(document["sha"], str) or not _SHA_RE.fullmatch(document["sha"]):
        raise EvidenceError(GIT_JSON, "sha", "must be a full 40-hex commit SHA")
    if not isinstance(document["ref"], str) or not document["ref"].strip():
        raise EvidenceError(GIT_JSON, "ref", "must be a non-empty string")
    if not isinstance(document["dirty"], bool):
        raise EvidenceError(GIT_JSON, "dirty", "must be true or false")
    if parse_utc(document["collected_at"]) is None:
        raise EvidenceError(GIT_JSON, "collected_at", "is not an RFC 3339 UTC time")
    return {"sha": document["sha"], "ref": document["ref"], "dirty": document["dirty"]}
