"""``loadcert collect otel``: OTLP/JSON traces imported for the run window.

The first test runs the demo service's real OpenTelemetry SDK exporter on 127.0.0.1 and
imports what it wrote; the others pin the window rule and the malformed-input messages on
small hand-written documents.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import pytest_loadcert.gates as runtime_gates
from pytest_loadcert import cli
from pytest_loadcert.config.load import load_profile
from pytest_loadcert.demo.service import start_service
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.observability import otel_spans
from pytest_loadcert.evidence.timeutil import format_utc, now_utc

OUTPUT = "observability/otel-traces.json"
PROFILE = """\
target_concurrency = 5

[[stages]]
name = "smoke"
min_active_vus = 2

[[stages]]
name = "5vu"
min_active_vus = 5

[observability]
otel_services = ["loadcert-demo-service"]
otel_namespace = "loadcert-demo"
otel_environment = "demo"
"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def write_stage(evidence: Path, stage: str, start: datetime, end: datetime) -> None:
    path = evidence / "stages" / stage / "stage.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "stage": stage, "start_time": format_utc(start), "end_time": format_utc(end),
        "k6_exit_code": 0, "k6_version": "k6 v1.1.0", "target_vus": 2,
        "command": ["k6", "run", "artifacts/k6-script.js"],
    }))  # fmt: skip


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE)
    return path


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """Stage smoke 00:00:10 .. 00:00:20, stage 5vu 00:00:21 .. 00:00:31."""
    evidence = tmp_path / "evidence"
    write_stage(evidence, "smoke", T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    write_stage(evidence, "5vu", T0 + timedelta(seconds=21), T0 + timedelta(seconds=31))
    return evidence


def collect(
    sources: list[Path], evidence: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    status = cli.main([
        "collect", "otel", "--from", *map(str, sources), "--evidence-dir", str(evidence),
        "--loadcert-profile", str(profile),
    ])  # fmt: skip
    out, err = capsys.readouterr()
    return status, out, err


def nanos(moment: datetime) -> str:
    return str(round((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e9))


_counter = iter(range(1, 10_000))


def span(name: str, start_s: float, end_s: float, **override: Any) -> dict[str, Any]:
    """A server span starting ``start_s`` seconds after T0."""
    number = next(_counter)
    document = {
        "traceId": f"{number:032x}",
        "spanId": f"{number:016x}",
        "name": name,
        "kind": 2,
        "startTimeUnixNano": nanos(T0 + timedelta(seconds=start_s)),
        "endTimeUnixNano": nanos(T0 + timedelta(seconds=end_s)),
        "status": {},
    }
    document.update(override)
    return document


def request(*resources: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """An ExportTraceServiceRequest: one resource per argument, one scope per inner list."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": f"svc-{index}"}}
                    ]
                },
                "scopeSpans": [
                    {"scope": {"name": f"scope-{index}-{s}"}, "spans": spans}
                    for s, spans in enumerate(scopes)
                ],
            }
            for index, scopes in enumerate(resources)
        ]
    }


def ndjson(path: Path, *documents: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents))
    return path


def kept_names(evidence: Path) -> list[str]:
    document = json.loads((evidence / OUTPUT).read_text())
    return [
        s["name"]
        for r in document["resourceSpans"]
        for scope in r["scopeSpans"]
        for s in scope["spans"]
    ]


# ----------------------------------------------------------------------------- real SDK output


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()


def test_real_sdk_export_is_imported_for_the_run_window(
    tmp_path: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traces = tmp_path / "service-traces.ndjson"
    evidence = tmp_path / "evidence"
    with start_service(traces) as service:
        before = [f"{service.url}/"] * 3
        smoke = [f"{service.url}/api/items"] * 4 + [f"{service.url}/metrics"]  # not traced
        fivevu = [f"{service.url}/", f"{service.url}/nope"]
        after = [f"{service.url}/api/items"] * 2
        for url in before:
            _get(url)
        time.sleep(0.05)  # stage.json keeps milliseconds: no request shares the bound's ms
        windows = []
        for batch in (smoke, fivevu):
            start = now_utc()
            time.sleep(0.01)
            for url in batch:
                try:
                    _get(url)
                except OSError:  # the 404
                    pass
            time.sleep(0.05)
            windows.append((start, now_utc()))
            time.sleep(0.05)
        for url in after:
            _get(url)
    # Stopping the service flushed the last batch: every request above is in the file.
    raw = [json.loads(line) for line in traces.read_text().splitlines()]
    raw_spans = [s for d in raw for r in d["resourceSpans"] for sc in r["scopeSpans"]
                 for s in sc["spans"]]  # fmt: skip
    assert len(raw_spans) == 3 + 4 + 2 + 2
    first = raw_spans[0]
    assert len(first["traceId"]) == 32 and int(first["traceId"], 16)  # hex, not base64
    assert len(first["spanId"]) == 16 and int(first["spanId"], 16)
    assert first["kind"] == 2  # SPAN_KIND_SERVER as an integer, as OTLP/JSON requires
    assert first["startTimeUnixNano"].isdigit()

    write_stage(evidence, "smoke", *windows[0])
    write_stage(evidence, "5vu", *windows[1])
    status, out, err = collect([traces], evidence, profile, capsys)
    assert status == 0, err
    assert err == ""
    assert "6 of 11 spans start inside the run window" in out

    assert sorted(kept_names(evidence)) == ["GET", "GET /", *["GET /api/items"] * 4]
    # The coverage gate's own reader accepts the file, and the gate passes on it.
    spans = otel_spans((evidence / OUTPUT).read_bytes(), OUTPUT)
    assert len(spans) == 6
    low, high = windows[0][0] - timedelta(milliseconds=1), windows[1][1]
    assert all(low <= s.start <= high for s in spans)
    result = runtime_gates.otel_coverage(Bundle(evidence), load_profile(profile))
    assert result.passed and result.observed == "6 spans of loadcert-demo-service"
    resource = json.loads((evidence / OUTPUT).read_text())["resourceSpans"][0]["resource"]
    names = [a["value"] for a in resource["attributes"] if a["key"] == "service.name"]
    assert names == [{"stringValue": "loadcert-demo-service"}]


# ----------------------------------------------------------------------------- the window rule


def test_spans_are_kept_when_they_start_inside_the_window(
    tmp_path: Path, evidence: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ndjson(
        tmp_path / "traces.ndjson",
        request(
            [[span("overlaps-start", 5, 12), span("at-start", 10, 10.5)],
             [span("ends-after-run", 30.9, 40)]],
            [[span("before-run", 1, 2)]],  # a resource left with no span: dropped
        ),
        request([[span("at-end", 31, 31), span("after-run", 31.001, 31.2)]]),
    )  # fmt: skip
    status, out, err = collect([source], evidence, profile, capsys)
    assert status == 0, err
    assert "3 of 6 spans start inside the run window" in out
    assert "2026-01-01T00:00:10Z .. 2026-01-01T00:00:31Z" in out
    assert kept_names(evidence) == ["at-start", "ends-after-run", "at-end"]
    document = json.loads((evidence / OUTPUT).read_text())
    assert [r["resource"]["attributes"][0]["value"]["stringValue"]
            for r in document["resourceSpans"]] == ["svc-0", "svc-0"]  # fmt: skip
    assert [s["scope"]["name"] for s in document["resourceSpans"][0]["scopeSpans"]] == [
        "scope-0-0", "scope-0-1"
    ]  # fmt: skip


def test_a_single_document_and_several_files(
    tmp_path: Path, evidence: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pretty = tmp_path / "one.json"
    pretty.write_text(json.dumps(request([[span("smoke-span", 15, 15.1)]]), indent=2))
    lines = ndjson(tmp_path / "two.ndjson", request([[span("5vu-span", 25, 25.1)]]))
    status, out, err = collect([pretty, lines], evidence, profile, capsys)
    assert status == 0, err
    assert kept_names(evidence) == ["smoke-span", "5vu-span"]
    assert "2 of 2 spans" in out


def test_a_stage_without_spans_is_warned_about(
    tmp_path: Path, evidence: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ndjson(tmp_path / "t.ndjson", request([[span("smoke-only", 12, 13)]]))
    status, _out, err = collect([source], evidence, profile, capsys)
    assert status == 0
    assert "no span starts inside the window of stage(s) 5vu" in err
    assert "otel_coverage gate will block" in err


def test_no_span_in_the_window_fails_and_writes_nothing(
    tmp_path: Path, evidence: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ndjson(tmp_path / "t.ndjson", request([[span("early", 1, 2), span("late", 40, 41)]]))
    status, out, err = collect([source], evidence, profile, capsys)
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert (
        "no span starts inside the run window 2026-01-01T00:00:10Z .. 2026-01-01T00:00:31Z "
        "(2 span(s) read from 1 document(s)" in err
    )
    assert not (evidence / OUTPUT).exists()


# ----------------------------------------------------------------------------- malformed input


def _bad_id(document: dict[str, Any]) -> None:
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = (
        "AAAAAAAAAAAAAAAAAAAAAQ=="  # base64, as plain protobuf JSON would write it
    )


def _negative_start(document: dict[str, Any]) -> None:
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = -5


def _end_before_start(document: dict[str, Any]) -> None:
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["endTimeUnixNano"] = str(int(spans[0]["startTimeUnixNano"]) - 1)


def _spans_not_a_list(document: dict[str, Any]) -> None:
    document["resourceSpans"][0]["scopeSpans"][0]["spans"] = {"name": "x"}


def _no_resource_spans(document: dict[str, Any]) -> None:
    document["traces"] = document.pop("resourceSpans")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_bad_id, "line 2: resourceSpans[0].scopeSpans[0].spans[1].traceId must be 32 lowercase "
                  "hex digits (OTLP/JSON encodes IDs as hex, not base64); "
                  "got 'AAAAAAAAAAAAAAAAAAAAAQ=='"),
        (_negative_start, "line 2: resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano "
                          "must be unsigned nanoseconds since the epoch (got -5)"),
        (_end_before_start, "line 2: resourceSpans[0].scopeSpans[0].spans[0].endTimeUnixNano "
                            "is before startTimeUnixNano"),
        (_spans_not_a_list, "line 2: resourceSpans[0].scopeSpans[0].spans must be a list"),
        (_no_resource_spans, "line 2: resourceSpans is missing (keys: traces); expected "
                             "OTLP/JSON traces, as the Collector's file exporter writes them"),
    ],
)  # fmt: skip
def test_malformed_span_names_file_line_and_field(
    tmp_path: Path,
    evidence: Path,
    profile: Path,
    damage: Any,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = request([[span("fine", 12, 13)]])
    bad = request([[span("a", 14, 15), span("b", 16, 17)]])
    damage(bad)
    source = ndjson(tmp_path / "t.ndjson", good, bad)
    previous = b"previous collection\n"
    (evidence / OUTPUT).parent.mkdir(parents=True)
    (evidence / OUTPUT).write_bytes(previous)
    status, out, err = collect([source], evidence, profile, capsys)
    assert status == 1
    assert out == ""
    assert err == f"loadcert collect otel: error: {source} {message}\n"
    assert (evidence / OUTPUT).read_bytes() == previous  # nothing written


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"resourceSpans":[]}\n{"resourceSpans": [}\n', " line 2: is not valid JSON"),
        ('{"resourceSpans":[]}\n{"resourceSpans":[],"resourceSpans":[]}\n',
         " line 2: is not valid JSON: duplicate key 'resourceSpans'"),
        ('{\n  "resourceSpans": [\n    {"scopeSpans": [}\n  ]\n}\n',
         ": is not valid JSON: Expecting value at line 3 column 21"),
        ("\n  \n", ": is empty; expected OTLP/JSON traces"),
        ('[{"resourceSpans": []}]\n', " line 1: is not a JSON object"),
    ],
)  # fmt: skip
def test_malformed_json_names_file_and_line(
    tmp_path: Path,
    evidence: Path,
    profile: Path,
    text: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "t.ndjson"
    source.write_text(text)
    status, _out, err = collect([source], evidence, profile, capsys)
    assert status == 1
    assert err.startswith(f"loadcert collect otel: error: {source}{message}")
    assert err.count("\n") == 1
    assert not (evidence / OUTPUT).exists()


def test_usage_errors(
    tmp_path: Path, evidence: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.ndjson"
    status, _out, err = collect([missing], evidence, profile, capsys)
    assert (status, err) == (4, f"loadcert collect otel: error: {missing}: is missing\n")

    source = ndjson(tmp_path / "t.ndjson", request([[span("s", 12, 13)]]))
    empty_bundle = tmp_path / "empty-bundle"
    empty_bundle.mkdir()
    status, _out, err = collect([source], empty_bundle, profile, capsys)
    assert status == 4
    assert "no stages/<stage>/stage.json to collect for" in err

    assert cli.main(["collect", "otel", "--evidence-dir", str(evidence)]) == 4
    assert "--from" in capsys.readouterr().err


@pytest.mark.parametrize("end", ["9" * 25, 253402300800 * 10**9], ids=["25-digits", "year-10000"])
def test_a_span_time_the_gate_cannot_read_is_refused_and_nothing_written(
    tmp_path: Path, evidence: Path, profile: Path, end: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A span starting inside the window but ending beyond any representable time: the
    otel_coverage gate would block the whole file, so the collector must not report success."""
    source = ndjson(tmp_path / "t.ndjson", request([[span("ok", 12, 13), span("far", 14, 15)]]))
    document = json.loads(source.read_text())
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["endTimeUnixNano"] = end
    ndjson(source, document)
    status, out, err = collect([source], evidence, profile, capsys)
    assert (status, out) == (1, "")
    assert err.startswith(
        f"loadcert collect otel: error: {source} line 1: "
        "resourceSpans[0].scopeSpans[0].spans[1].endTimeUnixNano "
    ), err
    assert "out of the range of a time" in err and err.count("\n") == 1
    assert not (evidence / OUTPUT).exists()
