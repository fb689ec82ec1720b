"""The load gates read :class:`LoadSummary` only: a summary from another load tool that
implements the protocol is judged by the same rules, missing figures included."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pytest_loadcert import EvidenceError, LoadSummary, peak_active_vus, request_count
from pytest_loadcert.config.load import profile_from_mapping
from pytest_loadcert.gates.k6 import error_rate, latency_percentile, requests_sent

TREND = "http_req_duration{expected_response:true}"


@dataclass(frozen=True)
class OtherToolSummary:
    """What a reader of another load tool would hand the gates (plain mapping, no k6)."""

    rel: str
    values: dict[str, dict[str, float]]
    duration_ms: float | None = None
    duration_field: str = "duration"
    setup_checks: tuple[int, int] = (0, 0)
    limits: list[tuple[str, str, bool]] = field(default_factory=list)

    def field(self, metric: str, key: str | None = None) -> str:
        return f"{metric}/{key}" if key else metric

    def has(self, metric: str) -> bool:
        return metric in self.values

    def has_value(self, metric: str, key: str) -> bool:
        return key in self.values.get(metric, {})

    def value(self, metric: str, key: str) -> float:
        if not self.has_value(metric, key):
            raise EvidenceError(self.rel, self.field(metric, key), "is missing")
        return self.values[metric][key]

    def count(self, metric: str, key: str) -> int:
        return int(self.value(metric, key))

    def thresholds(self) -> list[tuple[str, str, bool]]:
        return sorted(self.limits)


def _summary(**overrides: dict[str, float]) -> OtherToolSummary:
    values = {
        "vus": {"max": 1000.0},
        "vus_max": {"max": 1000.0},
        "http_reqs": {"count": 50000.0},
        "http_req_failed": {"passes": 10.0, "fails": 49990.0, "rate": 0.0002},
        "checks": {"passes": 50000.0, "fails": 0.0, "rate": 1.0},
        TREND: {"p(95)": 120.0, "p(99)": 250.0},
    }
    values.update(overrides)
    return OtherToolSummary("other-tool/summary.txt", values)


def test_another_tools_summary_is_a_load_summary() -> None:
    summary: LoadSummary = _summary()
    assert peak_active_vus((summary,))[0] == 1000
    assert request_count((summary,))[0] == 50000


def test_the_gates_judge_it_by_the_same_rules() -> None:
    profile = profile_from_mapping({}, "test")
    summaries = (_summary(), _summary(vus={"max": 500.0}))
    assert peak_active_vus(summaries)[0] == 1500  # summed over instances
    assert requests_sent(summaries, profile).passed
    assert error_rate(summaries, profile).passed
    assert latency_percentile(summaries, profile, "p(95)", 300.0).passed
    slow = (_summary(**{TREND: {"p(95)": 450.0, "p(99)": 900.0}}),)
    assert not latency_percentile(slow, profile, "p(95)", 300.0).passed


def test_a_missing_figure_of_another_tool_blocks_naming_its_field() -> None:
    profile = profile_from_mapping({}, "test")
    no_p95 = (_summary(**{TREND: {"p(99)": 250.0}}),)
    with pytest.raises(EvidenceError, match=r"other-tool/summary.txt.*p\(95\)"):
        latency_percentile(no_p95, profile, "p(95)", 300.0)
    values = dict(_summary().values)
    del values["vus"]
    with pytest.raises(EvidenceError, match="vus"):
        peak_active_vus((OtherToolSummary("other-tool/summary.txt", values),))
