"""The certificate states each k6 figure the gate judged, from the same code: where the two
once disagreed (a shard with no successful request), the certificate follows the gate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest

from pytest_loadcert.certify.certificate import StageFacts, stage_facts
from pytest_loadcert.config.load import load_profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.gates.k6 import error_rate, latency_percentile, observed_concurrency

TREND = "http_req_duration{expected_response:true}"


def _sharded(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Bundle:
    files = bf.bundle_files(shards={"100k": 2})
    shard = bf.stage_summaries(files, "100k")[1]
    edit(shard)
    return Bundle(bf.write_bundle(tmp_path / "bundle", files))


def _row(bundle: Bundle, stage: str) -> StageFacts:
    return next(row for row in stage_facts(bundle, load_profile(None)) if row.name == stage)


def test_a_shard_without_successes_that_still_reports_latency_is_refused(
    tmp_path: Path,
) -> None:
    """A shard whose every request failed but whose success trend says p(95) 900 ms over
    its samples: the trend's count contradicts the requests that succeeded (none), so the
    stage's figures are unknown, on the gates and on the certificate alike."""

    def all_failed_slow(summary: dict[str, Any]) -> None:
        requests = int(bf.metric(summary, "http_reqs")["count"])
        bf.set_rate(summary, "http_req_failed", passes=requests, fails=0)
        trend = bf.metric(summary, TREND)  # still in order: p(95) <= p(99) <= max
        trend.update(
            {"p(95)": 900, "p(99)": max(trend["p(99)"], 950), "max": max(trend["max"], 1000)}
        )

    bundle = _sharded(tmp_path, all_failed_slow)
    with pytest.raises(EvidenceError, match=r"expected_response:true\}\.count is \d+, but "):
        bundle.summaries("100k")
    assert _row(bundle, "100k").p95_ms is None


def test_a_shard_with_successes_lacking_the_stat_leaves_both_unknown(tmp_path: Path) -> None:
    def no_p99(summary: dict[str, Any]) -> None:
        del bf.metric(summary, TREND)["p(99)"]

    bundle = _sharded(tmp_path, no_p99)
    profile = load_profile(None)
    with pytest.raises(EvidenceError, match=r"p\(99\).*is missing"):
        latency_percentile(bundle.summaries("100k"), profile, "p(99)", profile.k6.p99_ms_max)
    row = _row(bundle, "100k")
    assert row.p99_ms is None
    assert row.p95_ms is not None  # the other stats are still known


def test_every_figure_on_the_certificate_is_the_gates(tmp_path: Path) -> None:
    bundle = Bundle(bf.write_bundle(tmp_path / "bundle", bf.bundle_files(shards={"100k": 2})))
    profile = load_profile(None)
    for spec in profile.stages:
        summaries = bundle.summaries(spec.name)
        row = _row(bundle, spec.name)
        peak = observed_concurrency(summaries, profile, spec.min_active_vus)
        assert peak.observed == f"peak active VUs {row.peak_active_vus}"
        p95 = latency_percentile(summaries, profile, "p(95)", profile.k6.p95_ms_max)
        assert p95.observed.startswith("p(95) ")
        assert float(p95.observed.split()[1]) == pytest.approx(row.p95_ms, rel=1e-3)
        errors = error_rate(summaries, profile)
        assert errors.samples == str(row.requests)
