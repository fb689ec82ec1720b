"""Real Prometheus 2.42 answers (fixtures/prometheus, tools/record_prometheus.py) judged in a
bundle: the window is the stage's whatever the evaluation time, its samples must cover it,
a counter born inside it blocks, and a partial answer blocks.

Each recording takes the place of the smoke stage's prometheus.json of the valid bundle
(re-sealed); the plugin certifies the bundle in a real pytest run and the test reads what a
user reads: the verdict, the gate statuses and the message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest

PROM = Path(__file__).parents[2] / "fixtures" / "prometheus"
ERRORS_GATE = "critical_metric[smoke-object_store_errors]"


def recording(case: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PROM / f"{case}.prometheus.json").read_text())
    return document


def meta(case: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PROM / f"{case}.meta.json").read_text())
    return document


def judge(
    pytester: pytest.Pytester, tmp_path: Path, document: dict[str, Any], *args: str
) -> tuple[dict[str, Any], str]:
    files = bf.variant_files("valid")
    assert document["window"] == files["stages/smoke/prometheus.json"]["window"]
    files["stages/smoke/prometheus.json"] = document
    bundle = bf.write_bundle(tmp_path / "bundle", bf.seal_files(files))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *args)
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert "Traceback" not in result.stdout.str()
    return certificate, result.stdout.str()


def smoke_gates(certificate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["id"]: g for g in certificate["gates"] if g.get("stage") == "smoke"}


def test_the_healthy_recording_certifies_and_shows_its_coverage(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    certificate, _ = judge(pytester, tmp_path, recording("healthy"))
    assert certificate["verdict"] == "certified"
    gate = smoke_gates(certificate)[ERRORS_GATE]
    assert "@ 1777593660" in gate["source"]  # asked at the stage end, evaluated 30 s later
    assert "coverage: 13 samples of 1 series, longest gap 5s" in gate["source"]


def test_an_error_in_the_first_second_of_the_stage_counts(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # Asked as before (the stage's duration, evaluated 30 s late), the same data read 0.
    before = meta("first-second")["before_at_modifier"]["response"]["data"]["result"]
    assert before[0]["value"][1] == "0"
    certificate, _ = judge(pytester, tmp_path, recording("first-second"))
    assert certificate["verdict"] == "not_certified"
    gate = smoke_gates(certificate)[ERRORS_GATE]
    assert (gate["status"], gate["observed"]) == ("failed", "object_store_errors = 1")


def test_an_error_in_the_second_after_the_stage_does_not(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    before = meta("after-end")["before_at_modifier"]["response"]["data"]["result"]
    assert before[0]["value"][1] == "1"  # the late window took in the second after the stage
    certificate, _ = judge(pytester, tmp_path, recording("after-end"))
    assert certificate["verdict"] == "certified"
    assert smoke_gates(certificate)[ERRORS_GATE]["observed"] == "object_store_errors = 0"


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        (
            "scrape-gap",
            'series object_store_errors_total{op="get"} has no sample from '
            "2026-05-01T00:00:10Z to 2026-05-01T00:00:45Z (35s) in the stage window, over "
            "prometheus.max_gap_s = 30",
        ),
        (
            "counter-born",
            'series object_store_errors_total{op="put"} was born 20s into the stage window with '
            "the value 5",
        ),
        (
            "partial",
            "says the answer is partial: remote_read: error sending request: Post "
            '"http://127.0.0.1:1/api/v1/read"',
        ),
    ],
)
def test_unobserved_or_partial_answers_block(
    pytester: pytest.Pytester, tmp_path: Path, case: str, needle: str
) -> None:
    certificate, output = judge(pytester, tmp_path, recording(case))
    assert certificate["verdict"] == "blocked"
    gate = smoke_gates(certificate)[ERRORS_GATE]
    assert gate["status"] == "blocked"
    assert needle in gate["message"], gate["message"]
    assert needle in output


@pytest.mark.slow
@pytest.mark.parametrize("case", ["scrape-gap", "counter-born", "partial"])
def test_the_same_under_xdist(pytester: pytest.Pytester, tmp_path: Path, case: str) -> None:
    certificate, _ = judge(pytester, tmp_path, recording(case), "-n", "2")
    assert certificate["verdict"] == "blocked"
    assert smoke_gates(certificate)[ERRORS_GATE]["status"] == "blocked"


def test_first_second_under_xdist(pytester: pytest.Pytester, tmp_path: Path) -> None:
    certificate, _ = judge(pytester, tmp_path, recording("first-second"), "-n", "2")
    assert certificate["verdict"] == "not_certified"


def test_infos_are_shown_on_the_testcase_and_the_certificate(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # Prometheus 2.42 cannot write infos (2.54 added them): an edit of the real answer, with
    # the info text 2.54's util/annotations writes.
    document = recording("healthy")
    info = (
        "PromQL info: metric might not be a counter, name does not end in "
        '_total/_sum/_count/_bucket: "db_pool_saturation_ratio" (1:5)'
    )
    for query in document["queries"]:
        if query["name"] == "db_pool_saturation":
            query["response"]["infos"] = [info]
    certificate, _ = judge(pytester, tmp_path, document, "--junitxml=certificate.xml")
    assert certificate["verdict"] == "certified"
    gate = smoke_gates(certificate)["critical_metric[smoke-db_pool_saturation]"]
    assert info in gate["source"]
    from xml.sax.saxutils import escape

    assert escape(info, {'"': "&quot;"}) in (pytester.path / "certificate.xml").read_text()


def test_an_answer_stamped_with_another_time_blocks(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # The record says it was evaluated 30 s after the stage; the answer is stamped at the end.
    document = recording("healthy")
    for query in document["queries"]:
        if query["name"] == "object_store_errors":
            query["response"]["data"]["result"][0]["value"][0] = 1777593660
    certificate, _ = judge(pytester, tmp_path, document)
    assert certificate["verdict"] == "blocked"
    assert "the answer is not this query's" in smoke_gates(certificate)[ERRORS_GATE]["message"]


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda q: q.pop("coverage"), "coverage is missing"),
        (
            lambda q: q["coverage"][0]["response"]["data"]["result"][0]["values"].append(
                [1777593700, "0"]
            ),
            "outside the range asked",
        ),
        (
            lambda q: q["coverage"][0].update(
                promql=q["coverage"][0]["promql"].replace("[90s]", "[60s]")
            ),
            "not 'object_store_errors_total[90s] @ 1777593660'",
        ),
        (
            lambda q: q["coverage"][0]["response"].update(warnings=["a shard did not answer"]),
            "partial: a shard did not answer",
        ),
    ],
    ids=["missing", "sample-outside", "other-range", "partial-coverage"],
)
@pytest.mark.slow  # the core properties break coverage alike in the inner loop
def test_coverage_that_is_not_this_querys_blocks(
    pytester: pytest.Pytester, tmp_path: Path, edit: Any, needle: str
) -> None:
    document = recording("healthy")
    for query in document["queries"]:
        if query["name"] == "object_store_errors":
            edit(query)
    certificate, _ = judge(pytester, tmp_path, document)
    assert certificate["verdict"] == "blocked"
    assert needle in smoke_gates(certificate)[ERRORS_GATE]["message"]


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("db_pool_saturation", "0.5", "gives db_pool_saturation = 0.5, but the recorded samples"),
        ("object_store_errors", "0", None),  # what the samples give: still certified
        ("realtime_ws_connected", "19", "over the window give 18 (sum of max_over_time)"),
    ],
)
def test_a_value_its_own_samples_contradict_blocks(
    pytester: pytest.Pytester, tmp_path: Path, name: str, value: str, needle: str | None
) -> None:
    # Within its bound, but not what Prometheus computed from the samples it also returned.
    document = recording("healthy")
    for query in document["queries"]:
        if query["name"] == name:
            query["response"]["data"]["result"][0]["value"][1] = value
    certificate, _ = judge(pytester, tmp_path, document)
    gate = smoke_gates(certificate)[f"critical_metric[smoke-{name}]"]
    if needle is None:
        assert certificate["verdict"] == "certified"
        assert "the value recomputed from them" in gate["source"]
    else:
        assert certificate["verdict"] == "blocked"
        assert needle in gate["message"], gate["message"]
