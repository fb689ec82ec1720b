"""Fuzzing the evidence parsers: the only outcomes are a parsed value or EvidenceError.

Regression tests for the inputs fuzzing found come first; the hypothesis fuzzers follow.
"""

from __future__ import annotations

import pytest

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.jsonio import parse_json
from pytest_loadcert.k6summary import parse_summary

# --------------------------------------------------------------------------- regressions


def test_k6_integer_beyond_float_range_is_evidence_error() -> None:
    # A 401-digit JSON integer parses to a Python int that float() cannot hold:
    # math.isfinite() raised OverflowError instead of rejecting the value.
    big = "1" + "0" * 400
    document = parse_json(
        f'{{"metrics": {{"vus": {{"value": 0, "min": 0, "max": {big}}}}}}}'.encode(), "k.json"
    )
    with pytest.raises(EvidenceError, match=r"^k\.json: metrics\.vus\.max is not a finite number"):
        parse_summary(document, "k.json")
