"""JSON Schema validation (draft 2020-12) of the bundle's own files.

The schemas ship in ``pytest_loadcert/evidence/schemas``; validators are compiled on first use
(jsonschema is not imported when the plugin loads).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import json_path

SCHEMAS = ("loadcert", "stage", "prometheus")


@functools.cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    text = (
        resources.files("pytest_loadcert.evidence.schemas")
        .joinpath(f"{name}.schema.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_document(name: str) -> dict[str, Any]:
    """The schema called ``name`` (one of :data:`SCHEMAS`) as a dict."""
    return dict(_validator(name).schema)


def validate(name: str, document: object, rel: str) -> None:
    """Raise :class:`EvidenceError` naming ``rel`` and the field when ``document`` is invalid.

    The first error in document order is reported, so the message is stable.
    """
    errors = sorted(
        _validator(name).iter_errors(document),
        key=lambda e: (list(map(str, e.absolute_path)), e.message),
    )
    if not errors:
        return
    error = errors[0]
    field = json_path(list(error.absolute_path))
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        prefix = f"{field}." if error.absolute_path else ""
        raise EvidenceError(rel, f"{prefix}{missing}", "is missing")
    if error.validator == "additionalProperties":
        raise EvidenceError(rel, field, f"has an unexpected key: {error.message}")
    raise EvidenceError(rel, field, f"is invalid: {_short(error.message)}")


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
