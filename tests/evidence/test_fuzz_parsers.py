"""Fuzzing the evidence parsers: the only outcomes are a parsed value or EvidenceError.

Regression tests for what fuzzing and the property tests found come first; the hypothesis
fuzzers follow.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest_loadcert.gates as gates
import pytest_loadcert.gates as runtime_gates
from pytest_loadcert.config.defaults import DEFAULT_PROFILE
from pytest_loadcert.config.load import load_profile, profile_from_mapping
from pytest_loadcert.config.profile import ProfileError
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.cluster import (
    ClusterSnapshot,
    certification_pods,
    parse_cluster,
    running_digests,
)
from pytest_loadcert.evidence.integrity import walk_bundle
from pytest_loadcert.evidence.jsonio import parse_json
from pytest_loadcert.evidence.k6 import K6Summary, parse_summary
from pytest_loadcert.evidence.observability import grafana_range, otel_spans
from pytest_loadcert.evidence.prometheus import (
    MetricSample,
    PrometheusEvidence,
    check_window,
    lookup,
    parse_prometheus,
)
from pytest_loadcert.evidence.prometheus_coverage import Coverage, check_coverage
from pytest_loadcert.evidence.schema import SCHEMAS, validate
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.gates.catalogue import subjects

# A failing example of a mutated cluster List is large; hypothesis warns before printing it.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

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
    _, refused = walk_bundle(bundle)
    assert [str(r) for r in refused] == [
        "stages/1k/k6-summary.\\xff.json: is not a regular file",
        "stages/smoke/link\\xff: is a symbolic link",
    ]
    with pytest.raises(EvidenceError) as caught:
        Bundle(bundle).summaries("1k")
    assert str(caught.value) == "stages/1k/k6-summary.\\xff.json: has a file name that is not UTF-8"
    str(caught.value).encode("utf-8")


def test_integrity_never_hashes_a_file_over_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sparse 64 GiB file listed in the manifest was hashed in full by bundle_integrity
    # (minutes of reading zeros); now the size is checked first, and the file never read.
    import pytest_loadcert.evidence.integrity as bundle_module

    bundle = bf.build_bundle(tmp_path / "b")
    summary = bundle / "stages/smoke/k6-summary.json"
    with open(summary, "r+b") as handle:
        handle.truncate(64 << 30)
    hashed: list[Path] = []
    real_sha256_file = bundle_module.sha256_file

    def recording(path: Path) -> str:
        hashed.append(Path(path))
        return real_sha256_file(path)

    monkeypatch.setattr(bundle_module, "sha256_file", recording)
    problems = Bundle(bundle).integrity_problems()
    assert summary not in hashed
    assert hashed  # the other sealed files were hashed
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


# --------------------------------------------------------------------------- fuzzers
#
# Each fuzzer feeds a parser (and, when it parses, the gates that read the result) with
# arbitrary or mutated input. The only allowed outcomes are a value and EvidenceError
# (ProfileError for the profile); anything else propagates and fails the test.

K6_FIXTURES = Path(__file__).parents[2] / "fixtures" / "k6"
REAL_SUMMARIES = {
    path.name: json.loads(path.read_bytes())
    for path in sorted(K6_FIXTURES.glob("*.json"))
    if not path.name.endswith(".meta.json")
}
VALID = S.base_files(S.DEFAULT_CONFIG)
SUMMARIES = {
    **REAL_SUMMARIES,
    "factory.handlesummary": VALID["stages/smoke/k6-summary.json"],
    "factory.summary-export": VALID["stages/1k/k6-summary.json"],
}
START = datetime(2026, 5, 1, tzinfo=UTC)
RUN = StageRun(
    "stages/1k/stage.json",
    "1k",
    START,
    START + timedelta(seconds=300),
    0,
    "k6 v1.1.0",
    None,
    "2026-05-01T00:00:00Z",
    "2026-05-01T00:05:00Z",
    {},
)


def _only_evidence_errors(call: Callable[[], object]) -> object:
    try:
        return call()
    except EvidenceError as exc:
        str(exc).encode("utf-8")  # the message is printable as the certificate is written
        return exc


@settings(max_examples=S.examples("fuzz_bytes_parse_json"))
@given(
    st.binary(max_size=200)
    | st.text(alphabet='{}[]":,-.0123456789eEtrufalsn \\u\n\t\ud800', max_size=60).map(
        lambda t: t.encode("utf-8", "surrogatepass")
    )
    | S.json_values().map(lambda v: json.dumps(v).encode())
    | st.sampled_from(
        (
            b"[" * 100_000,
            b'{"a": NaN}',
            b"-Infinity",
            b'{"a":1,"a":2}',
            b"\xef\xbb\xbf{}",
            b"1" * 4400,
        )
    )
)
def test_fuzz_parse_json_returns_a_value_or_evidence_error(data: bytes) -> None:
    _only_evidence_errors(lambda: parse_json(data, "f.json"))


@settings(max_examples=S.examples("fuzz_json_documents"))
@given(S.json_values(40))
def test_fuzz_every_parser_on_arbitrary_json(document: Any) -> None:
    _only_evidence_errors(lambda: parse_summary(document, "k.json"))
    _only_evidence_errors(lambda: parse_prometheus(document, "p.json"))
    _only_evidence_errors(lambda: parse_cluster(document, "c.json"))
    _only_evidence_errors(lambda: grafana_range(document, "g.json"))
    _only_evidence_errors(lambda: otel_spans(json.dumps(document).encode(), "o.json"))
    for name in SCHEMAS:
        _only_evidence_errors(lambda name=name: validate(name, document, f"{name}.json"))


def _k6_gates(summary: K6Summary) -> None:
    summaries = (summary,)
    for gate in (
        lambda: gates.observed_concurrency(summaries, S.PROFILE, 1000),
        lambda: gates.requests_sent(summaries, S.PROFILE),
        lambda: gates.latency_percentile(summaries, S.PROFILE, "p(95)", 300),
        lambda: gates.latency_percentile(summaries, S.PROFILE, "p(99)", 800),
        lambda: gates.error_rate(summaries, S.PROFILE),
        lambda: gates.checks_rate(summaries, S.PROFILE),
        lambda: gates.k6_thresholds(summaries, S.PROFILE, RUN),
    ):
        result = _only_evidence_errors(gate)
        assert isinstance(result, gates.GateResult | EvidenceError)


@settings(max_examples=S.examples("fuzz_mutated_k6"))
@given(st.sampled_from(sorted(SUMMARIES)).flatmap(lambda n: S.mutate_json(SUMMARIES[n])))
def test_fuzz_k6_summaries_and_their_gates(document: Any) -> None:
    summary = _only_evidence_errors(lambda: parse_summary(document, "k.json"))
    if isinstance(summary, K6Summary):
        _k6_gates(summary)


PROMETHEUS = VALID["stages/1k/prometheus.json"]
REAL_SHAPES = [  # Prometheus HTTP API bodies as recorded (k6-prometheus-facts.md)
    {"status": "success", "data": {"resultType": "scalar", "result": [1795770044, "NaN"]}},
    {"status": "success", "data": {"resultType": "vector", "result": []}},
    {"status": "success", "data": {"resultType": "string", "result": [1795770044, "hello"]}},
    {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"testid": "t"}, "values": [[1795770028, "7"], [1795770033, "+Inf"]]}
            ],
        },
    },
    {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {
                    "metric": {},
                    "histogram": [
                        1795770044,
                        {
                            "count": "142",
                            "sum": "42.876",
                            "buckets": [[0, "0.1927", "0.2102", "8"]],
                        },
                    ],
                }
            ],
        },
    },
    {"status": "error", "errorType": "bad_data", "error": "parse error"},
]


@st.composite
def prometheus_documents(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(PROMETHEUS)
    for query in document["queries"]:
        if draw(st.integers(0, 3)) == 0:
            query["response"] = copy.deepcopy(draw(st.sampled_from(REAL_SHAPES)))
    return draw(S.mutate_json(document))


@settings(max_examples=S.examples("fuzz_mutated_prometheus"))
@given(prometheus_documents())
def test_fuzz_prometheus_answers_and_their_lookup(document: Any) -> None:
    evidence = _only_evidence_errors(lambda: parse_prometheus(document, "p.json"))
    if isinstance(evidence, PrometheusEvidence):
        start, end = RUN.start + timedelta(seconds=360), RUN.end + timedelta(seconds=360)
        _only_evidence_errors(lambda: check_window(evidence, start, end))
        for spec in S.PROFILE.metrics:
            sample = _only_evidence_errors(
                lambda spec=spec: lookup(evidence, spec, "1k", start, end, 30)
            )
            assert isinstance(sample, MetricSample | EvidenceError)
            record = evidence.queries.get(spec.name)
            if record is not None:
                coverage = _only_evidence_errors(
                    lambda spec=spec, record=record: check_coverage(
                        record, spec, "1k", start, end, 30, "p.json"
                    )
                )
                assert coverage is None or isinstance(coverage, Coverage | EvidenceError)


CLUSTER = VALID[bf.CLUSTER_PATH]


@settings(
    max_examples=S.examples("fuzz_mutated_cluster"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(S.mutate_json(CLUSTER, edits=6))
def test_fuzz_cluster_lists_and_their_gates(document: Any) -> None:
    snapshot = _only_evidence_errors(lambda: parse_cluster(document, "c.json"))
    if not isinstance(snapshot, ClusterSnapshot):
        return
    for kind, gate in (
        ("workloads", runtime_gates.workload_ready),
        ("hpas", runtime_gates.hpa),
        ("pdbs", runtime_gates.pdb),
        ("services", runtime_gates.service),
    ):
        for subject in subjects(S.PROFILE, kind):
            _only_evidence_errors(lambda gate=gate, subject=subject: gate(snapshot, subject))
    _only_evidence_errors(lambda: runtime_gates.pod_readiness(snapshot, S.PROFILE))
    _only_evidence_errors(lambda: snapshot.namespaces())
    pods = _only_evidence_errors(
        lambda: certification_pods(
            snapshot, S.PROFILE.cluster.deployments, S.PROFILE.cluster.statefulsets
        )
    )
    for _, pod in pods if isinstance(pods, list) else []:
        _only_evidence_errors(lambda pod=pod: running_digests(snapshot, pod))


GRAFANA = VALID[bf.GRAFANA_PATH]
OTEL = VALID[bf.OTEL_PATH]


def _ndjson(document: Any) -> bytes:
    """OTLP/JSON as the Collector's file exporter writes it: one request per line."""
    spans = document.get("resourceSpans") if isinstance(document, dict) else None
    if not isinstance(spans, list) or len(spans) < 2:
        return json.dumps(document).encode()
    return b"\n".join(json.dumps({"resourceSpans": [r]}).encode() for r in spans)


@settings(max_examples=S.examples("fuzz_mutated_observability"))
@given(S.mutate_json(GRAFANA), S.mutate_json(OTEL), st.booleans())
def test_fuzz_grafana_and_otel_exports(grafana: Any, otel: Any, ndjson: bool) -> None:
    _only_evidence_errors(lambda: grafana_range(grafana, "g.json"))
    data = _ndjson(otel) if ndjson else json.dumps(otel).encode()
    _only_evidence_errors(lambda: otel_spans(data, "o.json"))


PROFILE_DEFAULTS = {k: v for k, v in DEFAULT_PROFILE.items()}


@settings(max_examples=S.examples("fuzz_profile"))
@given(
    S.mutate_json(PROFILE_DEFAULTS, edits=4) | S.json_values().filter(lambda v: isinstance(v, dict))
)
def test_fuzz_profile_mapping_is_a_profile_or_profile_error(raw: Any) -> None:
    try:
        profile_from_mapping(raw, "p.toml")
    except ProfileError as exc:
        assert str(exc).startswith("p.toml: ")


@settings(max_examples=S.examples("fuzz_profile") // 5)
@given(st.text(max_size=200))
def test_fuzz_profile_toml_text_is_a_profile_or_profile_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("profile") / "profile.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_profile(path)
    except ProfileError as exc:
        assert str(exc).startswith(f"{path}: ")


def test_profile_integer_beyond_float_range_is_a_profile_error() -> None:
    with pytest.raises(ProfileError, match=r"k6\.p95_ms_max"):
        profile_from_mapping({"k6": {"p95_ms_max": 10**400}}, "p.toml")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda pod: pod["status"].update(conditions=5), "status.conditions must be a list"),
        (
            lambda pod: pod["status"]["conditions"][0].update(type=["Ready"]),
            "status.conditions[0].type must be a string",
        ),
        (
            lambda pod: pod["metadata"]["labels"].update({"pod-template-hash": 7}),
            "metadata.labels must map names to strings",
        ),
        (
            lambda pod: pod["spec"]["containers"][0].update(name=None),
            "spec.containers[0].name must be a string",
        ),
        (
            lambda pod: pod["status"].update(containerStatuses={"gateway": {}}),
            "status.containerStatuses must be a list",
        ),
    ],
    ids=["conditions-int", "condition-type-list", "label-int", "container-name", "statuses-map"],
)
def test_malformed_kubernetes_fields_block_at_parse(
    edit: Callable[[Any], None], field: str
) -> None:
    # Found by fuzzing: conditions whose type is a list raised TypeError (unhashable) in the
    # HPA and pod gates; other fields crashed the same way.
    document = copy.deepcopy(CLUSTER)
    pods = [item for item in document["items"] if item["kind"] == "Pod"]
    edit(pods[0])
    index = document["items"].index(pods[0])
    with pytest.raises(EvidenceError) as caught:
        parse_cluster(document, "c.json")
    assert str(caught.value) == f"c.json: items[{index}].{field}"


@pytest.mark.parametrize("key", ["type", "contains"])
def test_k6_metric_type_that_is_not_a_string_is_evidence_error(key: str) -> None:
    # Found by fuzzing: "type": ["gauge"] raised TypeError (a list is unhashable) in the
    # membership test against the set of metric types.
    entry = {"type": "gauge", "contains": "default", "values": {"value": 0, "min": 0, "max": 1}}
    entry[key] = ["gauge"]
    document = {"metrics": {"vus": entry}, "options": {}, "state": {}}
    with pytest.raises(EvidenceError, match=rf"^k\.json: metrics\.vus\.{key} must be"):
        parse_summary(document, "k.json")
