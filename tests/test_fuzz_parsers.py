"""Fuzzing the evidence parsers: the only outcomes are a parsed value or EvidenceError.

Regression tests for what fuzzing and the property tests found come first; the hypothesis
fuzzers follow.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import bundlefactory as bf
import pytest

import pytest_loadcert.gates as gates
from pytest_loadcert.bundle import Bundle, walk_bundle
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.jsonio import parse_json
from pytest_loadcert.k6summary import parse_summary
from pytest_loadcert.observability import grafana_range, otel_spans

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


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("\u00b2", "3", "dashboard.time.from"),  # str.isdigit() is true for a superscript two
        ("1" * 30, "2" * 30, "dashboard.time.from"),  # epoch ms beyond datetime's range
        (10**30, 10**31, "dashboard.time.from"),
    ],
    ids=["unicode-digit", "huge-epoch-string", "huge-epoch-int"],
)
def test_grafana_time_out_of_range_is_evidence_error(
    start: object, end: object, field: str
) -> None:
    # int("²") raised ValueError; datetime.fromtimestamp(1e27) raised OverflowError.
    document = {"dashboard": {"time": {"from": start, "to": end}}}
    with pytest.raises(EvidenceError, match=rf"^g\.json: {field} is"):
        grafana_range(document, "g.json")


@pytest.mark.parametrize(
    ("start", "end"),
    [("\u00b2", "3"), ("9" * 40, "9" * 41), (2**70, 2**71)],
    ids=["unicode-digit", "huge-string", "huge-int"],
)
def test_otel_span_time_out_of_range_is_evidence_error(start: object, end: object) -> None:
    span = {"startTimeUnixNano": start, "endTimeUnixNano": end}
    data = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    where = r"resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.startTimeUnixNano"
    with pytest.raises(EvidenceError, match=rf"^o\.json: {where} "):
        otel_spans(data, "o.json")


def test_symlink_loop_in_bundle_is_evidence_error(tmp_path: Path) -> None:
    # Path.resolve() raises RuntimeError (not OSError) on a link loop in Python 3.11.
    bundle = bf.build_bundle(tmp_path / "b")
    summary = bundle / "stages/smoke/k6-summary.json"
    summary.unlink()
    os.symlink("loop", summary)
    os.symlink("k6-summary.json", bundle / "stages/smoke/loop")
    with pytest.raises(EvidenceError, match=r"^stages/smoke/k6-summary\.json: cannot be resolved"):
        Bundle(bundle).summaries("smoke")


@pytest.mark.parametrize(
    "text",
    [rb'{"metrics": {"x\ud800": 1}}', rb'["\udc80"]', rb'"\uDBFF\u0041"'],
    ids=["key", "value", "high-then-ascii"],
)
def test_lone_surrogate_escape_is_evidence_error(text: bytes) -> None:
    # json.loads accepts these escapes; the string then cannot be encoded as UTF-8, so the
    # error message quoting it crashed the certificate writer (UnicodeEncodeError).
    with pytest.raises(EvidenceError, match=r"^s\.json: holds a lone UTF-16 surrogate"):
        parse_json(text, "s.json")


def test_surrogate_pair_and_escaped_backslash_are_text() -> None:
    assert parse_json(rb'["\ud83d\ude00", "\\ud800"]', "s.json") == ["\U0001f600", "\\ud800"]


def test_non_utf8_file_names_are_named_printably(tmp_path: Path) -> None:
    # os returns b"\xff" in a name as the surrogate "\udcff"; quoting it raw in a problem
    # made certificate.json unwritable (UnicodeEncodeError) and the run crash.
    bundle = bf.build_bundle(tmp_path / "b")
    os.symlink(b"k6-summary.json", os.path.join(bytes(bundle), b"stages/smoke/link\xff"))
    os.mkfifo(os.path.join(bytes(bundle), b"stages/1k/k6-summary.\xff.json"))
    _, problems = walk_bundle(bundle)
    assert problems == [
        "stages/1k/k6-summary.\\xff.json: is not a regular file",
        "stages/smoke/link\\xff: is a symbolic link",
    ]
    with pytest.raises(EvidenceError) as caught:
        Bundle(bundle).summaries("1k")
    assert str(caught.value) == "stages/1k/k6-summary.\\xff.json: has a file name that is not UTF-8"
    str(caught.value).encode("utf-8")


def test_integrity_never_hashes_a_file_over_the_cap(tmp_path: Path) -> None:
    # A sparse 64 GiB file listed in the manifest was hashed in full by bundle_integrity
    # (minutes of reading zeros); now the size is checked first.
    bundle = bf.build_bundle(tmp_path / "b")
    summary = bundle / "stages/smoke/k6-summary.json"
    with open(summary, "r+b") as handle:
        handle.truncate(64 << 30)
    started = time.monotonic()
    problems = Bundle(bundle).integrity_problems()
    assert time.monotonic() - started < 5
    assert problems == [
        f"stages/smoke/k6-summary.json: is {64 << 30} bytes, over the {64 << 20}-byte cap; "
        "not hashed"
    ]


def test_file_cap_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = bf.build_bundle(tmp_path / "b")
    size = (bundle / "stages/smoke/k6-summary.json").stat().st_size
    monkeypatch.setenv("LOADCERT_MAX_FILE_BYTES", str(size))
    assert Bundle(bundle).summaries("smoke")
    monkeypatch.setenv("LOADCERT_MAX_FILE_BYTES", str(size - 1))
    with pytest.raises(EvidenceError) as caught:
        Bundle(bundle).summaries("smoke")
    assert str(caught.value) == (
        f"stages/smoke/k6-summary.json: is {size} bytes, over the {size - 1}-byte cap"
    )
    for bad in ("0", "-1", "64MiB", "\u0661\u0662"):
        monkeypatch.setenv("LOADCERT_MAX_FILE_BYTES", bad)
        with pytest.raises(EvidenceError, match=r"^LOADCERT_MAX_FILE_BYTES: is .* positive number"):
            Bundle(bundle).summaries("smoke")


@pytest.mark.parametrize("content", [b"", b" \n\t\n"], ids=["empty", "whitespace"])
@pytest.mark.parametrize("key", ["k6_script", "k8s_manifest"])
def test_an_empty_artifact_binds_nothing(tmp_path: Path, key: str, content: bytes) -> None:
    # Found by the deletion property: an emptied k6 script, honestly re-sealed, certified.
    files = bf.bundle_files()
    rel = bf.loadcert(files)["artifacts"][key]["path"]
    files[rel] = content
    bundle = bf.write_bundle(tmp_path / "b", files)
    with pytest.raises(EvidenceError) as caught:
        gates.artifact_binding(Bundle(bundle), key)
    assert str(caught.value) == f"{rel}: is empty: artifacts.{key} binds no content"


def test_digit_strings_longer_than_int_can_parse_are_evidence_errors() -> None:
    # int() refuses strings of more than 4300 digits with ValueError (CVE-2020-10735 limit).
    long = "1" * 5000
    with pytest.raises(EvidenceError, match=r"^g\.json: dashboard\.time\.from is a 5000-digit"):
        grafana_range({"dashboard": {"time": {"from": long, "to": "2"}}}, "g.json")
    span = {"startTimeUnixNano": long, "endTimeUnixNano": "1"}
    data = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    with pytest.raises(EvidenceError, match=r"startTimeUnixNano is a 5000-digit number"):
        otel_spans(data, "o.json")


@pytest.mark.parametrize("key", ["type", "contains"])
def test_k6_metric_type_that_is_not_a_string_is_evidence_error(key: str) -> None:
    # Found by fuzzing: "type": ["gauge"] raised TypeError (a list is unhashable) in the
    # membership test against the set of metric types.
    entry = {"type": "gauge", "contains": "default", "values": {"value": 0, "min": 0, "max": 1}}
    entry[key] = ["gauge"]
    document = {"metrics": {"vus": entry}, "options": {}, "state": {}}
    with pytest.raises(EvidenceError, match=rf"^k\.json: metrics\.vus\.{key} must be"):
        parse_summary(document, "k.json")
