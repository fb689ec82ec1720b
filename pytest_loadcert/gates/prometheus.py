"""Gates on the Prometheus answers of a stage: one critical metric against its bound, and
stability (dropped over total).
"""

from __future__ import annotations

from dataclasses import replace

from pytest_loadcert.config.profile import MetricSpec, Profile, StabilitySpec
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.prometheus import MetricSample, check_window, lookup
from pytest_loadcert.evidence.prometheus_coverage import check_value
from pytest_loadcert.gates.result import GateResult, fmt


def metric_sample(bundle: Bundle, profile: Profile, stage: str, name: str) -> MetricSample:
    """A critical metric's value for the stage window, or EvidenceError."""
    try:
        spec = profile.metric(name)
    except KeyError:
        known = ", ".join(m.name for m in profile.metrics) or "none"
        raise LookupError(
            f"{profile.source}: no [[metrics]] entry named {name!r} (known: {known})"
        ) from None
    run = bundle.stage_run(stage)
    evidence = bundle.prometheus(stage)
    check_window(evidence, run.start, run.end)
    sample = lookup(evidence, spec, stage, run.start, run.end, profile.k6.eval_delay_max_s)
    coverage = bundle.coverage(stage, spec, profile.prometheus.max_gap_s)
    if coverage is None:
        return replace(sample, coverage="no series read over the window")
    text = coverage.describe()
    where = f"{sample.field}.response"
    recomputed = check_value(coverage, spec, sample.value, run.start, run.end, evidence.rel, where)
    if recomputed is not None:
        text += ", the value recomputed from them"
    return replace(sample, coverage=text)


class PrometheusLookup:
    """Metric values for one stage window, by profile metric name; a missing metric raises,
    it is never 0. What the ``loadcert_prometheus`` fixture gives a gate; pytest-free, so a
    script can read a bundle the same way."""

    def __init__(self, bundle: Bundle, profile: Profile, stage: str) -> None:
        self._bundle = bundle
        self._profile = profile
        self.stage = stage

    def __repr__(self) -> str:
        return f"<PrometheusLookup stage {self.stage}>"

    def sample(self, name: str) -> MetricSample:
        """The recorded sample of the profile metric ``name`` (value, PromQL, time, source)."""
        return metric_sample(self._bundle, self._profile, self.stage, name)

    def value(self, name: str) -> float:
        """The value of the profile metric ``name`` for this stage."""
        return self.sample(name).value


def critical_metric(sample: MetricSample, spec: MetricSpec, window: str) -> GateResult:
    """A Prometheus metric is within the profile's bounds for the stage window."""
    bounds = []
    ok = True
    if spec.min is not None:
        bounds.append(f">= {fmt(spec.min)}")
        ok = ok and sample.value >= spec.min
    if spec.max is not None:
        bounds.append(f"<= {fmt(spec.max)}")
        ok = ok and sample.value <= spec.max
    evidence = f"{sample.source}: {sample.promql} at {sample.time.isoformat()} ({window})"
    if sample.coverage:
        evidence += f"; coverage: {sample.coverage}"
    if sample.infos:
        evidence += "; Prometheus infos: " + " | ".join(sample.infos)
    return GateResult(
        ok,
        f"{spec.name} = {fmt(sample.value)}",
        " and ".join(bounds),
        "1 instant query",
        evidence,
    )


def stability(total: MetricSample, dropped: MetricSample, spec: StabilitySpec) -> GateResult:
    """``(total - dropped) / total`` is at least the bound; a zero total blocks."""
    if total.value <= 0:
        raise EvidenceError(
            total.rel,
            total.field,
            f"gives {spec.total} = {fmt(total.value)}: a ratio over nothing is not a ratio",
        )
    ratio = (total.value - dropped.value) / total.value
    return GateResult(
        ratio >= spec.min,
        f"{spec.name} = {fmt(ratio)}",
        f">= {fmt(spec.min)}",
        f"{spec.total} = {fmt(total.value)}, {spec.dropped} = {fmt(dropped.value)}",
        f"{total.source}; {dropped.source}",
    )
