"""The gates as pure judgments: evidence in, :class:`~pytest_loadcert.gates.result.GateResult`
out, grouped by what they read: k6 summaries (:mod:`~pytest_loadcert.gates.k6`), the stage
windows (:mod:`~pytest_loadcert.gates.window`), Prometheus
(:mod:`~pytest_loadcert.gates.prometheus`),
the bindings to the build (:mod:`~pytest_loadcert.gates.bindings`), the cluster
(:mod:`~pytest_loadcert.gates.cluster`) and the Grafana/OTel exports
(:mod:`~pytest_loadcert.gates.observability`).

pytest-free. Imports ``evidence``, ``config`` and ``errors`` only. A team's own gate imports
what it needs from here (see docs/writing-gates.md).
"""

from pytest_loadcert.gates.bindings import (
    artifact_binding,
    bundle_integrity,
    git_binding,
)
from pytest_loadcert.gates.cluster import (
    cluster_snapshot,
    fresh_snapshot,
    hpa,
    image_binding,
    pdb,
    pod_readiness,
    service,
    workload_ready,
)
from pytest_loadcert.gates.k6 import (
    achieved_concurrency,
    checks_rate,
    error_rate,
    failed_requests,
    k6_thresholds,
    latency_percentile,
    observed_concurrency,
    peak_active_vus,
    request_count,
    requests_sent,
    require_requests,
)
from pytest_loadcert.gates.observability import (
    grafana_coverage,
    otel_coverage,
)
from pytest_loadcert.gates.prometheus import (
    critical_metric,
    metric_sample,
    stability,
)
from pytest_loadcert.gates.result import (
    GateResult,
)
from pytest_loadcert.gates.window import (
    check_run_duration,
    run_window,
    stage_window,
)

__all__ = [
    "GateResult",
    "achieved_concurrency",
    "artifact_binding",
    "bundle_integrity",
    "check_run_duration",
    "checks_rate",
    "cluster_snapshot",
    "critical_metric",
    "error_rate",
    "failed_requests",
    "fresh_snapshot",
    "git_binding",
    "grafana_coverage",
    "hpa",
    "image_binding",
    "k6_thresholds",
    "latency_percentile",
    "metric_sample",
    "observed_concurrency",
    "otel_coverage",
    "pdb",
    "peak_active_vus",
    "pod_readiness",
    "request_count",
    "requests_sent",
    "require_requests",
    "run_window",
    "service",
    "stability",
    "stage_window",
    "workload_ready",
]
