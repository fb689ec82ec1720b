"""Gates on the Grafana and OpenTelemetry exports: they cover the run's window."""

from __future__ import annotations

from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.layout import OTEL
from pytest_loadcert.gates.result import GateResult
from pytest_loadcert.gates.window import run_window


def grafana_coverage(bundle: Bundle, profile: Profile) -> GateResult:
    """The Grafana export's absolute time range covers the whole run."""
    start, end = run_window(bundle, profile)
    grafana = bundle.grafana()
    if grafana.start > start or grafana.end < end:
        raise EvidenceError(
            grafana.rel,
            grafana.field,
            f"does not cover the run {start.isoformat()} .. {end.isoformat()}",
        )
    return GateResult(
        True,
        f"{grafana.start.isoformat()} .. {grafana.end.isoformat()}",
        f"covers {start.isoformat()} .. {end.isoformat()}",
        "1 time range",
        grafana.source,
    )


def otel_coverage(bundle: Bundle, profile: Profile) -> GateResult:
    """OpenTelemetry traces hold at least one span starting inside every stage window."""
    spans = bundle.otel()
    empty = []
    for stage in profile.stage_names:
        run = bundle.stage_run(stage)
        if not any(run.start <= span.start <= run.end for span in spans):
            empty.append(stage)
    if empty:
        # Traces that do not cover the run are missing evidence, not a measured failure.
        raise EvidenceError(
            OTEL, "", f"has no span starting inside the window of stage(s) {', '.join(empty)}"
        )
    return GateResult(
        True,
        f"{len(spans)} spans",
        "a span in every stage window",
        str(len(spans)),
        OTEL,
    )
