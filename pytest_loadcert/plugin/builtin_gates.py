"""The built-in certification gates, written as ordinary pytest tests.

Each test asks for the evidence it needs through the public fixtures, computes a
:class:`~pytest_loadcert.gates.result.GateResult` with a pure gate function, and hands it to
``loadcert_judge``. Unusable evidence raises inside a fixture or gate function and the test
is reported ``blocked``. Read these as examples for your own gates (docs/writing-gates.md).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import pytest_loadcert.gates as gates
from pytest_loadcert.config.profile import Profile, StageSpec
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.cluster import ClusterSnapshot
from pytest_loadcert.evidence.load import LoadSummary
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.gates.result import GateResult

Judge = Callable[[GateResult], None]

# --------------------------------------------------------------------------- per stage


def test_stage_evidence(
    loadcert_bundle: Bundle, loadcert_stage: StageSpec, loadcert_judge: Judge
) -> None:
    """The stage's stage.json, k6 summary and prometheus.json exist and are valid."""
    run = loadcert_bundle.stage_run(loadcert_stage.name)
    summaries = loadcert_bundle.summaries(loadcert_stage.name)
    prometheus = loadcert_bundle.prometheus(loadcert_stage.name)
    files = [run.rel, *(s.rel for s in summaries), prometheus.rel]
    loadcert_judge(
        GateResult(
            True,
            f"{len(files)} valid files",
            "stage.json, k6 summary, prometheus.json",
            str(len(files)),
            ", ".join(files),
        )
    )


def test_observed_concurrency(
    loadcert_k6: tuple[LoadSummary, ...],
    loadcert_profile: Profile,
    loadcert_stage: StageSpec,
    loadcert_judge: Judge,
) -> None:
    """Peak active VUs observed by k6 (``vus`` max) reach the stage's min_active_vus."""
    loadcert_judge(
        gates.observed_concurrency(loadcert_k6, loadcert_profile, loadcert_stage.min_active_vus)
    )


def test_dropped_iterations(
    loadcert_k6: tuple[LoadSummary, ...], loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """The share of scheduled iterations k6 dropped is at most ``k6.dropped_iterations_max``."""
    loadcert_judge(gates.scheduled_iterations(loadcert_k6, loadcert_profile))


def test_requests_sent(
    loadcert_k6: tuple[LoadSummary, ...], loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """The stage sent at least ``k6.min_requests`` HTTP requests (fewer blocks)."""
    loadcert_judge(gates.requests_sent(loadcert_k6, loadcert_profile))


def test_p95_latency(
    loadcert_k6: tuple[LoadSummary, ...], loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """p(95) of successful requests' duration is at most ``k6.p95_ms_max``."""
    loadcert_judge(
        gates.latency_percentile(
            loadcert_k6, loadcert_profile, "p(95)", loadcert_profile.k6.p95_ms_max
        )
    )


def test_p99_latency(
    loadcert_k6: tuple[LoadSummary, ...], loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """p(99) of successful requests' duration is at most ``k6.p99_ms_max``."""
    loadcert_judge(
        gates.latency_percentile(
            loadcert_k6, loadcert_profile, "p(99)", loadcert_profile.k6.p99_ms_max
        )
    )


def test_error_rate(
    loadcert_k6: tuple[LoadSummary, ...], loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """The failed-request ratio is at most ``k6.http_req_failed_max``."""
    loadcert_judge(gates.error_rate(loadcert_k6, loadcert_profile))


def test_checks_rate(
    loadcert_k6: tuple[LoadSummary, ...], loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """The ratio of passed checks is at least ``k6.checks_min``; no checks blocks."""
    loadcert_judge(gates.checks_rate(loadcert_k6, loadcert_profile))


def test_k6_thresholds(
    loadcert_k6: tuple[LoadSummary, ...],
    loadcert_profile: Profile,
    loadcert_stage_run: StageRun,
    loadcert_judge: Judge,
) -> None:
    """Every threshold in the k6 summary passed, and k6's exit code agrees."""
    loadcert_judge(gates.k6_thresholds(loadcert_k6, loadcert_profile, loadcert_stage_run))


def test_stage_window(
    loadcert_bundle: Bundle,
    loadcert_profile: Profile,
    loadcert_stage: StageSpec,
    loadcert_k6: tuple[LoadSummary, ...],
    loadcert_judge: Judge,
) -> None:
    """start < end, k6's run duration agrees, stages in ramp order without overlap."""
    loadcert_judge(
        gates.stage_window(loadcert_bundle, loadcert_profile, loadcert_stage.name, loadcert_k6)
    )


@pytest.mark.loadcert_gate("critical_metric", subjects="metrics")
def test_critical_metric(
    loadcert_bundle: Bundle,
    loadcert_profile: Profile,
    loadcert_stage: StageSpec,
    loadcert_stage_run: StageRun,
    loadcert_subject: str,
    loadcert_judge: Judge,
) -> None:
    """A critical Prometheus metric, asked with the profile's PromQL, is within bounds."""
    sample = gates.metric_sample(
        loadcert_bundle, loadcert_profile, loadcert_stage.name, loadcert_subject
    )
    window = (
        f"window {loadcert_stage_run.start.isoformat()} .. {loadcert_stage_run.end.isoformat()}"
    )
    loadcert_judge(gates.critical_metric(sample, loadcert_profile.metric(loadcert_subject), window))


@pytest.mark.loadcert_gate("stability", subjects="stability")
def test_stability(
    loadcert_bundle: Bundle,
    loadcert_profile: Profile,
    loadcert_stage: StageSpec,
    loadcert_subject: str,
    loadcert_judge: Judge,
) -> None:
    """A derived stability ratio ``(total - dropped) / total`` is at least its bound."""
    spec = next(s for s in loadcert_profile.stability if s.name == loadcert_subject)
    total = gates.metric_sample(loadcert_bundle, loadcert_profile, loadcert_stage.name, spec.total)
    dropped = gates.metric_sample(
        loadcert_bundle, loadcert_profile, loadcert_stage.name, spec.dropped
    )
    loadcert_judge(gates.stability(total, dropped, spec))


# --------------------------------------------------------------------------- per run


def test_achieved_concurrency(
    loadcert_bundle: Bundle, loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """The largest observed peak of active VUs over all stages reaches target_concurrency."""
    loadcert_judge(gates.achieved_concurrency(loadcert_bundle, loadcert_profile))


def test_bundle_integrity(loadcert_bundle: Bundle, loadcert_judge: Judge) -> None:
    """Every file matches its recorded hash; nothing unlisted; no path leaves the bundle."""
    loadcert_judge(gates.bundle_integrity(loadcert_bundle))


@pytest.mark.loadcert_gate("artifact_binding", subjects="artifacts")
def test_artifact_binding(
    loadcert_bundle: Bundle, loadcert_subject: str, loadcert_judge: Judge
) -> None:
    """The k6 script and the rendered manifest recompute to their recorded hashes."""
    loadcert_judge(gates.artifact_binding(loadcert_bundle, loadcert_subject))


def test_git_binding(
    loadcert_bundle: Bundle, loadcert_git_sha: str | None, loadcert_judge: Judge
) -> None:
    """The bundle names a full SHA of a clean tree (the SHA under test, when given)."""
    loadcert_judge(gates.git_binding(loadcert_bundle, loadcert_git_sha))


def test_cluster_snapshot(
    loadcert_bundle: Bundle, loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """The cluster snapshot is of the certified namespace, taken after the run, fresh."""
    loadcert_judge(gates.cluster_snapshot(loadcert_bundle, loadcert_profile))


@pytest.mark.loadcert_gate("workload_ready", subjects="workloads")
def test_workload_ready(
    loadcert_cluster: ClusterSnapshot, loadcert_subject: str, loadcert_judge: Judge
) -> None:
    """A required Deployment or StatefulSet exists with every replica ready."""
    loadcert_judge(gates.workload_ready(loadcert_cluster, loadcert_subject))


@pytest.mark.loadcert_gate("hpa_active", subjects="hpas")
def test_hpa_active(
    loadcert_cluster: ClusterSnapshot, loadcert_subject: str, loadcert_judge: Judge
) -> None:
    """A required HorizontalPodAutoscaler exists, can scale, and is at or above its minimum."""
    loadcert_judge(gates.hpa(loadcert_cluster, loadcert_subject))


@pytest.mark.loadcert_gate("pdb_healthy", subjects="pdbs")
def test_pdb_healthy(
    loadcert_cluster: ClusterSnapshot, loadcert_subject: str, loadcert_judge: Judge
) -> None:
    """A required PodDisruptionBudget has at least its desired healthy pods."""
    loadcert_judge(gates.pdb(loadcert_cluster, loadcert_subject))


@pytest.mark.loadcert_gate("service_endpoints", subjects="services")
def test_service_endpoints(
    loadcert_cluster: ClusterSnapshot, loadcert_subject: str, loadcert_judge: Judge
) -> None:
    """A required Service has ready endpoints (Endpoints or EndpointSlices)."""
    loadcert_judge(gates.service(loadcert_cluster, loadcert_subject))


def test_pod_readiness(
    loadcert_cluster: ClusterSnapshot, loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """Pods of the certification workloads are Running and ready; other pods are ignored."""
    loadcert_judge(gates.pod_readiness(loadcert_cluster, loadcert_profile))


def test_pod_continuity(
    loadcert_bundle: Bundle,
    loadcert_cluster: ClusterSnapshot,
    loadcert_profile: Profile,
    loadcert_judge: Judge,
) -> None:
    """Certification pods held from the first stage on: no restart, no replacement, ready."""
    loadcert_judge(gates.pod_continuity(loadcert_bundle, loadcert_cluster, loadcert_profile))


def test_image_binding(
    loadcert_bundle: Bundle,
    loadcert_cluster: ClusterSnapshot,
    loadcert_profile: Profile,
    loadcert_judge: Judge,
) -> None:
    """Every certification container runs a bound digest, and every bound digest runs."""
    loadcert_judge(gates.image_binding(loadcert_bundle, loadcert_cluster, loadcert_profile))


def test_grafana_coverage(
    loadcert_bundle: Bundle, loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """The Grafana export's absolute time range covers the whole run."""
    loadcert_judge(gates.grafana_coverage(loadcert_bundle, loadcert_profile))


def test_otel_coverage(
    loadcert_bundle: Bundle, loadcert_profile: Profile, loadcert_judge: Judge
) -> None:
    """OpenTelemetry traces have a span inside every stage window."""
    loadcert_judge(gates.otel_coverage(loadcert_bundle, loadcert_profile))
