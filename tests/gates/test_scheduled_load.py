"""The schedule's load was generated, by the VU iterations: ``dropped_iterations`` and the
traffic of setup()/teardown() on real k6 1.1.0 recordings (fixtures/k6/arrival-*,
setup-only*, tools/record_k6.py) and in a certified run."""

from __future__ import annotations

import json
from pathlib import Path

import bundlefactory as bf
import pytest

from pytest_loadcert.config.load import profile_from_mapping
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import read_json
from pytest_loadcert.evidence.k6 import parse_summary
from pytest_loadcert.evidence.load import request_count
from pytest_loadcert.gates.k6 import checks_rate, requests_sent, scheduled_iterations

K6 = Path(__file__).parents[2] / "fixtures" / "k6"
PROFILE = profile_from_mapping({}, "built-in")


def _recording(case: str, fmt: str) -> tuple:
    rel = f"{case}.{fmt}.json"
    return (parse_summary(read_json(K6 / rel, rel), rel),)


@pytest.mark.parametrize("fmt", ["handlesummary", "summary-export"])
def test_an_arrival_rate_schedule_k6_could_not_serve_fails(fmt: str) -> None:
    """20 iterations/s asked of 2 VUs that sleep 0.5 s: k6 dropped 49 of 61 and exited 0."""
    result = scheduled_iterations(_recording("arrival-dropped", fmt), PROFILE)
    assert not result.passed
    assert result.observed == "49 of 61 scheduled iterations dropped (80.33%)"
    assert result.required == "<= 0.00% dropped (k6.dropped_iterations_max)"
    assert "dropped_iterations" in result.source and "never generated" in result.explanation


@pytest.mark.parametrize("fmt", ["handlesummary", "summary-export"])
def test_a_served_schedule_has_no_dropped_iterations_metric_and_passes(fmt: str) -> None:
    """k6 writes no dropped_iterations at all when none was dropped (the recorded fact the
    gate's reading of an absent metric rests on)."""
    (summary,) = _recording("arrival-served", fmt)
    assert not summary.has("dropped_iterations")
    result = scheduled_iterations((summary,), PROFILE)
    assert result.passed and result.observed == "0 of 16 scheduled iterations dropped (0.00%)"
    assert "(absent: none dropped)" in result.source


def test_the_profile_states_the_share_it_accepts() -> None:
    lenient = profile_from_mapping({"k6": {"dropped_iterations_max": 0.9}}, "p.toml")
    assert scheduled_iterations(_recording("arrival-dropped", "handlesummary"), lenient).passed


@pytest.mark.parametrize(
    "args", [(), pytest.param(("-n", "2"), marks=pytest.mark.slow)], ids=["serial", "xdist"]
)
def test_dropped_iterations_make_the_run_not_certified(
    pytester: pytest.Pytester, tmp_path: Path, args: tuple[str, ...]
) -> None:
    bundle = bf.build_variant("iterations_dropped", tmp_path / "bundle")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *args)
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert certificate["verdict"] == "not_certified" and result.ret == 1
    failed = [g for g in certificate["gates"] if g["status"] != "passed"]
    assert [g["id"] for g in failed] == ["dropped_iterations[25k]"]
    assert failed[0]["observed"].endswith("scheduled iterations dropped (4.00%)")


# ------------------------------------------------- load comes from the VU iterations


def test_checks_made_in_setup_and_teardown_are_not_load() -> None:
    """Real k6: every VU iteration threw before any request; setup() made 20 checked
    requests, teardown() one. The checks rate read 21/21 passed; none of them was load."""
    for fmt in ("handlesummary", "summary-export"):
        summaries = _recording("setup-only", fmt)
        assert summaries[0].setup_checks == (21, 0)
        with pytest.raises(EvidenceError, match=r"metrics\.checks.*counts no check"):
            checks_rate(summaries, PROFILE)


@pytest.mark.parametrize("fmt", ["handlesummary", "summary-export"])
def test_requests_k6_counted_in_setup_and_teardown_are_not_load(fmt: str) -> None:
    """With the thresholds that make k6 count setup()'s and teardown()'s requests apart
    (``http_reqs{group:::setup}``), the stage whose VU iterations sent nothing blocks."""
    summaries = _recording("setup-only-split", fmt)
    count, source = request_count(summaries)
    assert count == 0 and "less 21 of setup()/teardown()" in source
    with pytest.raises(EvidenceError, match=r"is 0, under k6\.min_requests = 1"):
        requests_sent(summaries, PROFILE)


def test_without_those_thresholds_the_summary_cannot_tell_setup_requests_apart() -> None:
    """The limit, stated as a test: k6 1.1.0's summary gives setup()'s requests no field of
    their own unless a threshold names the submetric (docs/security.md)."""
    assert request_count(_recording("setup-only", "summary-export"))[0] == 21
