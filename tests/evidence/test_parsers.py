"""Unit tests of the pytest-free core: parsers against real k6 output and real API shapes."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_loadcert.config.profile import MetricSpec
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import check_shards
from pytest_loadcert.evidence.cluster import certification_pods, parse_cluster
from pytest_loadcert.evidence.integrity import walk_bundle
from pytest_loadcert.evidence.jsonio import parse_json, read_json
from pytest_loadcert.evidence.k6 import parse_summary
from pytest_loadcert.evidence.observability import grafana_range, otel_spans
from pytest_loadcert.evidence.prometheus import lookup, parse_prometheus, query_window
from pytest_loadcert.evidence.stage import StageRun

K6 = Path(__file__).parents[2] / "fixtures" / "k6"
CASES = ("pass", "threshold-fail", "target-down", "no-requests")


def load(case: str, fmt: str):
    rel = f"{case}.{fmt}.json"
    return parse_summary(read_json(K6 / rel, rel), rel)


@pytest.mark.parametrize("case", CASES)
def test_both_real_k6_formats_read_alike(case: str) -> None:
    hs, export = load(case, "handlesummary"), load(case, "summary-export")
    assert (hs.format, export.format) == ("handlesummary", "summary-export")
    assert hs.thresholds() == export.thresholds()
    assert set(hs.metrics) == set(export.metrics)
    for name, metric in hs.metrics.items():
        assert export.metrics[name].values == pytest.approx(metric.values), name
    # the export has no duration field: its counters' count / rate give the same duration
    assert export.duration_ms == pytest.approx(hs.duration_ms, rel=1e-9)
    assert hs.duration_field == "state.testRunDurationMs"
    assert export.duration_field == (
        "metrics.iterations.count / metrics.iterations.rate"
        if case == "no-requests"  # k6 writes no http_reqs when nothing was sent
        else "metrics.http_reqs.count / metrics.http_reqs.rate"
    )


def test_threshold_true_in_summary_export_means_failed() -> None:
    export = load("threshold-fail", "summary-export")
    raw = read_json(K6 / "threshold-fail.summary-export.json", "x")
    assert raw["metrics"]["http_req_failed"]["thresholds"]["rate<0.01"] is True
    assert ("http_req_failed", "rate<0.01", False) in export.thresholds()
    assert export.field("http_req_failed", "rate") == "metrics.http_req_failed.value"


def test_target_down_counts_failed_requests_from_passes() -> None:
    summary = load("target-down", "handlesummary")
    assert summary.count("http_req_failed", "passes") == summary.count("http_reqs", "count")
    assert not summary.has("http_req_duration{expected_response:true}")


def test_missing_value_is_an_error_never_zero() -> None:
    summary = load("no-requests", "handlesummary")
    with pytest.raises(EvidenceError, match=r"metrics.http_reqs is missing"):
        summary.value("http_reqs", "count")


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        (
            {
                "metrics": {
                    "vus": {"type": "gauge", "values": {"value": 0, "min": 0, "max": "10"}}
                },
                "state": {},
            },
            "metrics.vus.values.max must be a number",
        ),
        ({"metrics": {"x": {"count": -1, "rate": 1}}}, "metrics.x.count is a count"),
        ({"metrics": {"f": {"passes": 1, "fails": 1, "value": 0.9}}}, "disagrees with passes"),
        (
            {
                "metrics": {
                    "f": {
                        "passes": 1,
                        "fails": 1,
                        "value": 0.5,
                        "thresholds": {"rate<1": {"ok": True}},
                    }
                }
            },
            "must be true (failed) or false",
        ),
        (
            {
                "metrics": {
                    "f": {
                        "type": "rate",
                        "values": {"rate": 0, "passes": 0, "fails": 1},
                        "thresholds": {"rate<1": False},
                    }
                },
                "options": {},
            },
            '"ok"',
        ),
        ({"metrics": {"vus": {"value": 1}}, "extra": 1}, "extra is not a key"),
        ({"metrics": {}}, "non-empty"),
    ],
)
def test_k6_summary_rejects(document: dict, needle: str) -> None:
    with pytest.raises(EvidenceError) as info:
        parse_summary(document, "s.json")
    assert needle in str(info.value)
    assert str(info.value).startswith("s.json")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b'{"a": NaN}', "NaN is not JSON"),
        (b'{"a": Infinity}', "Infinity is not JSON"),
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b'\xef\xbb\xbf{"a": 1}', "byte-order mark"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": ', "not valid JSON"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    ],
)
def test_strict_json(data: bytes, needle: str) -> None:
    with pytest.raises(EvidenceError, match=needle):
        parse_json(data, "f.json")


def _prom(
    value: str = "0",
    *,
    time: str = "2026-05-01T00:05:05Z",
    promql: str | None = None,
    result: list | None = None,
) -> dict:
    spec = MetricSpec("restarts", "sum(increase(x[{window}]))", None, 0)
    return {
        "stage": "1k",
        "window": {"start": "2026-05-01T00:00:00Z", "end": "2026-05-01T00:05:00Z"},
        "collected_at": "2026-05-01T00:06:00Z",
        "queries": [
            {
                "name": "restarts",
                "promql": promql or spec.query_for("1k", "300s", "1777593900"),
                "time": time,
                "response": {
                    "status": "success",
                    "data": {
                        "resultType": "vector",
                        "result": (
                            result
                            if result is not None
                            else [{"metric": {}, "value": [1777593905, value]}]
                        ),
                    },
                },
            }
        ],
    }


START = datetime(2026, 5, 1, tzinfo=UTC)
END = START + timedelta(seconds=300)
SPEC = MetricSpec("restarts", "sum(increase(x[{window}]))", None, 0)


def test_prometheus_lookup_reads_the_value() -> None:
    sample = lookup(parse_prometheus(_prom("3"), "p.json"), SPEC, "1k", START, END, 30)
    assert sample.value == 3.0
    assert sample.source == "p.json queries[0]"


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        (_prom("NaN"), "not a measurement"),
        (_prom("+Inf"), "not a measurement"),
        (_prom(result=[]), "missing, not 0"),
        (
            _prom(
                result=[
                    {"metric": {}, "value": [1, "1"]},
                    {"metric": {"a": "b"}, "value": [1, "1"]},
                ]
            ),
            "holds 2 series",
        ),
        (_prom(promql="sum(increase(x[300s])) or vector(0)"), "not the profile's query"),
        (_prom(time="2026-05-01T00:04:59Z"), "before the stage ended"),
        (_prom(time="2026-05-01T00:05:31Z"), "over eval_delay_max_s"),
    ],
)
def test_prometheus_lookup_blocks(document: dict, needle: str) -> None:
    with pytest.raises(EvidenceError, match=needle):
        lookup(parse_prometheus(document, "p.json"), SPEC, "1k", START, END, 30)


def test_missing_query_blocks() -> None:
    other = MetricSpec("nats_lag", "max(y)", None, 1)
    with pytest.raises(EvidenceError, match="metric is missing"):
        lookup(parse_prometheus(_prom(), "p.json"), other, "1k", START, END, 30)


def test_window_rounding() -> None:
    assert query_window(START, END) == ("300s", "1777593900")
    assert query_window(START, END + timedelta(milliseconds=400)) == ("300400ms", "1777593900.400")


def test_grafana_relative_range_is_rejected() -> None:
    with pytest.raises(EvidenceError, match="relative"):
        grafana_range({"dashboard": {"time": {"from": "now-6h", "to": "now"}}}, "g.json")
    ok = grafana_range(
        {"dashboard": {"time": {"from": "1777593600000", "to": "2026-05-01T01:00:00.000Z"}}},
        "g.json",
    )
    assert ok.start == START and ok.end == START + timedelta(hours=1)


def test_otel_ndjson_and_bad_times() -> None:
    span = {"startTimeUnixNano": "1777593600000000000", "endTimeUnixNano": "1777593600500000000"}
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    data = (json.dumps(doc) + "\n" + json.dumps(doc) + "\n").encode()
    assert len(otel_spans(data, "t.json")) == 2
    bad = {"resourceSpans": [{"scopeSpans": [{"spans": [dict(span, endTimeUnixNano="1")]}]}]}
    with pytest.raises(EvidenceError, match="before startTimeUnixNano"):
        otel_spans(json.dumps(bad).encode(), "t.json")


def _run(shards: dict[str, str]) -> StageRun:
    return StageRun(
        "stages/1k/stage.json",
        "1k",
        START,
        END,
        0,
        "k6",
        1000,
        "2026-05-01T00:00:00Z",
        "2026-05-01T00:05:00Z",
        shards,
    )


def test_shards_must_partition_the_run() -> None:
    files = ["stages/1k/k6-summary.a.json", "stages/1k/k6-summary.b.json"]
    check_shards(_run({"a": "0:1/2", "b": "50%:1"}), files)
    for shards, needle in [
        ({}, "must name every shard"),
        ({"a": "0:1", "b": "0:1"}, "overlaps"),
        ({"a": "0:1/4", "b": "1/2:1"}, "overlaps or leaves a gap"),
        ({"a": "0:1/4", "b": "1/4:1/2"}, "not the whole run"),
        ({"a": "0:x", "b": "x:1"}, "not an execution segment"),
    ]:
        with pytest.raises(EvidenceError, match=needle):
            check_shards(_run(shards), files)
    with pytest.raises(EvidenceError, match=r"one k6-summary\.json"):
        check_shards(_run({"a": "0:1"}), ["stages/1k/k6-summary.json"])


def test_owner_reference_without_controller_flag_still_counts() -> None:
    snapshot = parse_cluster(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": "gateway-abc12-x",
                        "namespace": "shop",
                        "labels": {"pod-template-hash": "abc12"},
                        "ownerReferences": [{"kind": "ReplicaSet", "name": "gateway-abc12"}],
                    },
                    "status": {"phase": "Pending"},
                }
            ],
        },
        "k.json",
    )
    pods = certification_pods(snapshot, ("gateway",), ())
    assert [label for label, _ in pods] == ["deployment/gateway"]


def test_walk_reports_links_and_special_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "a.json")
    os.mkfifo(tmp_path / "fifo")
    files, refused = walk_bundle(tmp_path)
    problems = [str(r) for r in refused]
    assert files == {"a.json"}
    assert "link.json: is a symbolic link" in problems
    assert "fifo: is not a regular file" in problems


# ----------------------------------------------------------------- a trend against itself


def _trend_edited(fmt: str, edit: dict[str, float]) -> dict[str, object]:
    """The real ``pass`` recording, http_req_duration's statistics edited (fixtures/README.md:
    edits of real recordings)."""
    document = json.loads((K6 / f"pass.{fmt}.json").read_text())
    trend = document["metrics"]["http_req_duration"]
    (trend["values"] if fmt == "handlesummary" else trend).update(edit)
    return document


@pytest.mark.parametrize("fmt", ["handlesummary", "summary-export"])
@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ({"p(95)": 0.000001}, "p(95) is 1e-06, under "),
        ({"med": 10_000.0}, ".med 10000: the statistics"),  # above p(90) and the rest
        ({"p(99)": 0.0}, "p(99) is 0, under "),
        ({"max": 0.0000001}, "max is 1e-07, under "),
        ({"avg": 10_000.0}, "avg is 10000, outside "),
    ],
    ids=["p95-under-median", "median-over-max", "p99-under-p95", "max-under-p99", "avg-out"],
)
def test_a_trend_whose_statistics_contradict_each_other_is_refused(
    fmt: str, edit: dict[str, float], needle: str
) -> None:
    """A p(95) of 12 ms under a median of 250 ms certified: one sample set cannot say both."""
    with pytest.raises(EvidenceError) as caught:
        parse_summary(_trend_edited(fmt, edit), "k6-summary.json")
    message = str(caught.value)
    assert message.startswith("k6-summary.json: metrics.http_req_duration") and needle in message


#: Real recordings whose figures k6 computed alone (every figure agrees with the others).
FAITHFUL = (
    *CASES,
    "arrival-served",
    "arrival-dropped",
    "setup-only",
    "setup-only-split",
)
#: Real recordings of scripts that wrote into k6's built-in metrics (tools/record_k6.py
#: INJECTING): the contradicting pair each one leaves, as the refusal names it.
INJECTED = {
    "failed-diluted": (
        "metrics.http_req_failed",
        "counts 460 requests",
        "but metrics.http_reqs.count is 46",
    ),
    "checks-diluted": (
        "metrics.checks",
        "counts 450 passes and 10 fails",
        "root_group count 36 passes and 10 fails",
    ),
    "latency-diluted": (
        "metrics.http_req_duration",
        "count is 460",
        "but metrics.http_reqs.count is 46",
    ),
    "vus-injected": ("metrics.vus", "max is 999", "over metrics.vus_max.max 2"),
}


def test_every_faithful_real_recording_is_read_in_both_formats() -> None:
    recordings = {p.name.split(".")[0] for p in K6.glob("*.meta.json")}
    assert recordings == set(FAITHFUL) | set(INJECTED)  # every recording is judged here
    for case in FAITHFUL:
        for fmt in ("handlesummary", "summary-export"):
            load(case, fmt)


@pytest.mark.parametrize("fmt", ["handlesummary", "summary-export"])
@pytest.mark.parametrize("case", sorted(INJECTED))
def test_a_script_writing_into_a_builtin_metric_is_refused(case: str, fmt: str) -> None:
    """k6 1.1.0 hands ``new Rate('http_req_failed')`` (or Rate('checks'), Gauge('vus'),
    Trend('http_req_duration', true)) k6's own metric: the script's samples are merged in
    silently. A real 21.7 % failure rate read 2.2 %; the second field of the same file that
    counts the same events says so."""
    with pytest.raises(EvidenceError) as caught:
        load(case, fmt)
    message = str(caught.value).replace(".values.", ".")  # the two formats' paths, alike
    field, own, other = INJECTED[case]
    assert message.startswith(f"{case}.{fmt}.json: {field}")
    assert own in message and other in message, message


def _edited(case: str, fmt: str, metric: str, edit: dict[str, float]) -> dict[str, object]:
    """A real recording with one metric's values edited (fixtures/README.md: edits)."""
    document = json.loads((K6 / f"{case}.{fmt}.json").read_text())
    entry = document["metrics"][metric]
    (entry["values"] if fmt == "handlesummary" else entry).update(edit)
    return document


@pytest.mark.parametrize("fmt", ["handlesummary", "summary-export"])
@pytest.mark.parametrize(
    ("metric", "edit", "needle"),
    [
        # a 10 s run standing for 300 s: the rate gives the run's duration
        ("http_reqs", {"rate": 29.5}, "10 s"),  # the rate's own run, or the others' view
        ("iterations", {"count": 2950}, "iterations.rate is 96.7555/s, but "),
        ("http_reqs", {"rate": 0}, "http_reqs.rate is 0, but metrics.http_reqs.count is 295"),
        ("http_req_waiting", {"count": 3}, "http_req_waiting.count is 3, but "),
        (
            "http_req_duration{expected_response:true}",
            {"count": 3},
            "{expected_response:true}.count is 3, but metrics.http_req_failed.fails",
        ),
        ("vus", {"max": 6}, "vus.max is 6, over metrics.vus_max.max 5"),
    ],
    ids=["http_reqs-rate", "counter-count", "rate-zero", "trend-count", "success-count", "vus"],
)
def test_two_figures_of_one_summary_that_contradict_each_other_are_refused(
    fmt: str, metric: str, edit: dict[str, float], needle: str
) -> None:
    with pytest.raises(EvidenceError) as caught:
        parse_summary(_edited("pass", fmt, metric, edit), "k6-summary.json")
    message = str(caught.value).replace(".values.", ".")
    assert needle in message and "k6-summary.json: metrics." in message, message


def test_checks_without_the_group_tree_cannot_be_compared() -> None:
    document = json.loads((K6 / "pass.summary-export.json").read_text())
    del document["root_group"]
    with pytest.raises(EvidenceError, match="root_group is missing: the checks rate"):
        parse_summary(document, "k6-summary.json")


@pytest.mark.parametrize(
    ("promql", "needle"),
    [
        ("sum(increase(x[{window}] offset 30s))", "moves [{window}] with 'offset'"),
        ("sum(increase(x[{window}] @ 1700000000))", "moves [{window}] with '@'"),
        ("vector({window})", "uses {window} outside a range"),
        ("max_over_time(rate(x[1m])[{window}:15s])", "through a subquery"),
        ("max_over_time((x + y)[{window}])", "does not follow a series selector"),
    ],
)
def test_a_metric_whose_range_is_not_the_stage_window_is_refused(promql: str, needle: str) -> None:
    from pytest_loadcert.config.load import profile_from_mapping
    from pytest_loadcert.config.profile import ProfileError

    metric = {"name": "x", "promql": promql, "max": 0}
    with pytest.raises(ProfileError, match=re.escape(needle)):
        profile_from_mapping({"metrics": [metric], "stability": []}, "team.toml")


def test_a_metric_names_the_series_it_reads_over_the_window() -> None:
    spec = MetricSpec(
        "x",
        'sum(increase(a_total{s="{stage}"} [{window}])) / sum(rate(b{c="d"}[{window}])) '
        '+ max(max_over_time(g[{window}])) + sum(increase(a_total{s="{stage}"}[{window}]))',
        None,
        1,
    )
    assert spec.selectors == ('a_total{s="{stage}"}', 'b{c="d"}', "g")
    assert spec.counter_selectors == ('a_total{s="{stage}"}', 'b{c="d"}')
    assert spec.query_for("1k", "60s", "1700000060") == (
        'sum(increase(a_total{s="1k"} [60s] @ 1700000060)) / '
        'sum(rate(b{c="d"}[60s] @ 1700000060)) + max(max_over_time(g[60s] @ 1700000060)) '
        '+ sum(increase(a_total{s="1k"}[60s] @ 1700000060))'
    )


def _covered(series: dict[str, list[tuple[int, str]]], template: str) -> tuple[Any, MetricSpec]:
    """A record of ``template`` over START..START+60 s whose coverage holds ``series``
    (labels -> [(seconds from START, value)])."""
    from pytest_loadcert.evidence.prometheus import QueryRecord

    spec = MetricSpec("m", template, None, 1)
    end = START + timedelta(seconds=60)
    base = int(START.timestamp())
    result = [
        {"metric": {"__name__": "x", "pod": pod}, "values": [[base + t, v] for t, v in points]}
        for pod, points in series.items()
    ]
    response = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    promql = spec.coverage_query(spec.selectors[0], "1k", "90s", str(int(end.timestamp())))
    record = QueryRecord(0, "m", "", end, {}, ({"promql": promql, "response": response},))
    return record, spec


EVERY_15 = [(t, "0") for t in range(-30, 61, 15)]


@pytest.mark.parametrize(
    ("series", "template", "needle"),
    [
        ({"a": EVERY_15}, "sum(increase(x[{window}]))", None),
        # A pod scaled in at +20 s and another scaled out at +25 s, born at 0: covered.
        (
            {"a": [p for p in EVERY_15 if p[0] <= 20], "b": [(t, "0") for t in (25, 40, 55)]},
            "sum(increase(x[{window}]))",
            None,
        ),
        # A gauge series born with a value is a new pod's reading, not a lost count.
        (
            {"a": EVERY_15, "b": [(t, "7") for t in (25, 40, 55)]},
            "max(max_over_time(x[{window}]))",
            None,
        ),
        (
            {"a": [p for p in EVERY_15 if p[0] < 30]},
            "sum(increase(x[{window}]))",
            "from 2026-05-01T00:00:15Z to 2026-05-01T00:01:00Z (45s",
        ),
        (
            {"a": [p for p in EVERY_15 if p[0] not in (0, 15)]},
            "sum(increase(x[{window}]))",
            'series x{pod="a"} has no sample from 2026-04-30T23:59:45Z to 2026-05-01T00:00:30Z',
        ),
        (
            {"a": EVERY_15, "b": [(t, "3") for t in (25, 40, 55)]},
            "sum(rate(x[{window}]))",
            'series x{pod="b"} was born 25s into the stage window with the value 3',
        ),
        (
            {"a": [p for p in EVERY_15 if p[0] < 0]},
            "sum(increase(x[{window}]))",
            "holds no sample of x in the stage window",
        ),
    ],
    ids=["covered", "scaled", "gauge-born", "end-gap", "vanished", "counter-born", "none"],
)
def test_coverage_of_a_window(series: dict, template: str, needle: str | None) -> None:
    from pytest_loadcert.evidence.prometheus_coverage import check_coverage

    record, spec = _covered(series, template)
    end = START + timedelta(seconds=60)
    if needle is None:
        assert check_coverage(record, spec, "1k", START, end, 30, "p.json") is not None
    else:
        with pytest.raises(EvidenceError, match=re.escape(needle)):
            check_coverage(record, spec, "1k", START, end, 30, "p.json")
