"""Gates on the Grafana and OpenTelemetry exports: they are about the system the profile names,
and cover the run's window."""

from __future__ import annotations

from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.layout import OTEL
from pytest_loadcert.gates.result import GateResult
from pytest_loadcert.gates.window import run_window


def grafana_coverage(bundle: Bundle, profile: Profile) -> GateResult:
    """The Grafana export is the profile's dashboard, shows panels, and its absolute time
    range covers the whole run."""
    start, end = run_window(bundle, profile)
    grafana = bundle.grafana()
    uid = profile.observability.grafana_dashboard_uid
    if grafana.home:
        raise EvidenceError(
            grafana.rel, "meta.isHome", f"is true: Grafana's Home dashboard, not {uid!r}"
        )
    if grafana.uid != uid:
        raise EvidenceError(
            grafana.rel,
            "dashboard.uid",
            f"is {grafana.uid!r}, not the dashboard the profile names "
            f"(observability.grafana_dashboard_uid = {uid!r})",
        )
    if grafana.panels == 0:
        raise EvidenceError(grafana.rel, "dashboard.panels", "holds no panel: it shows nothing")
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
        f"dashboard {uid}, {grafana.panels} panels",
        grafana.source,
    )


def otel_coverage(bundle: Bundle, profile: Profile) -> GateResult:
    """OpenTelemetry traces hold, for every service the profile names (in its namespace and
    environment), a span starting inside every stage window. Spans of other resources do
    not count."""
    wanted = profile.observability
    spans = bundle.otel()
    ours = [
        span
        for span in spans
        if span.resource.service in wanted.otel_services
        and span.resource.namespace == wanted.otel_namespace
        and span.resource.environment == wanted.otel_environment
    ]
    about = f"in namespace {wanted.otel_namespace}, environment {wanted.otel_environment}"
    if not ours:
        seen = sorted({span.resource.describe() for span in spans})
        raise EvidenceError(
            OTEL,
            "resourceSpans",
            f"holds no span of {', '.join(wanted.otel_services)} {about}; its spans are of: "
            + "; ".join(seen[:5])
            + (f" and {len(seen) - 5} more" if len(seen) > 5 else ""),
        )
    empty = []
    for stage in profile.stage_names:
        run = bundle.stage_run(stage)
        for service in wanted.otel_services:
            if not any(
                run.start <= span.start <= run.end and span.resource.service == service
                for span in ours
            ):
                empty.append(f"{service} in stage {stage}")
    if empty:
        # Traces that do not cover the run are missing evidence, not a measured failure.
        raise EvidenceError(
            OTEL,
            "",
            f"has no span {about} starting inside the window of: {', '.join(empty)}",
        )
    return GateResult(
        True,
        f"{len(ours)} spans of {', '.join(wanted.otel_services)}",
        f"a span of every service {about} in every stage window",
        f"{len(ours)} of {len(spans)} spans",
        OTEL,
    )
