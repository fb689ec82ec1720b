"""The gates as pure judgments: evidence in, :class:`~pytest_loadcert.gates.result.GateResult`
out, grouped by what they read: k6 summaries (:mod:`~pytest_loadcert.gates.k6`), the stage
windows (:mod:`~pytest_loadcert.gates.window`), Prometheus
(:mod:`~pytest_loadcert.gates.prometheus`),
the bindings to the build (:mod:`~pytest_loadcert.gates.bindings`), the cluster
(:mod:`~pytest_loadcert.gates.cluster`) and the Grafana/OTel exports
(:mod:`~pytest_loadcert.gates.observability`).

pytest-free. Imports ``evidence``, ``config`` and ``errors`` only. A team's own gate imports
what it needs from here (see docs/writing-gates.md).

Each name loads its module on first use: importing one gate module (the plugin imports
:mod:`~pytest_loadcert.gates.catalogue` and :mod:`~pytest_loadcert.gates.result`) does not
import the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Each public gate function (and GateResult), and the module it lives in.
_PUBLIC = {
    "GateResult": "pytest_loadcert.gates.result",
    "achieved_concurrency": "pytest_loadcert.gates.k6",
    "artifact_binding": "pytest_loadcert.gates.bindings",
    "bundle_integrity": "pytest_loadcert.gates.bindings",
    "check_run_duration": "pytest_loadcert.gates.window",
    "checks_rate": "pytest_loadcert.gates.k6",
    "cluster_snapshot": "pytest_loadcert.gates.cluster",
    "critical_metric": "pytest_loadcert.gates.prometheus",
    "error_rate": "pytest_loadcert.gates.k6",
    "failed_requests": "pytest_loadcert.evidence.load",
    "fresh_snapshot": "pytest_loadcert.gates.cluster",
    "git_binding": "pytest_loadcert.gates.bindings",
    "grafana_coverage": "pytest_loadcert.gates.observability",
    "hpa": "pytest_loadcert.gates.cluster",
    "image_binding": "pytest_loadcert.gates.cluster",
    "k6_thresholds": "pytest_loadcert.gates.k6",
    "latency_percentile": "pytest_loadcert.gates.k6",
    "metric_sample": "pytest_loadcert.gates.prometheus",
    "observed_concurrency": "pytest_loadcert.gates.k6",
    "otel_coverage": "pytest_loadcert.gates.observability",
    "pdb": "pytest_loadcert.gates.cluster",
    "peak_active_vus": "pytest_loadcert.evidence.load",
    "pod_continuity": "pytest_loadcert.gates.cluster",
    "pod_readiness": "pytest_loadcert.gates.cluster",
    "request_count": "pytest_loadcert.evidence.load",
    "requests_sent": "pytest_loadcert.gates.k6",
    "scheduled_iterations": "pytest_loadcert.gates.k6",
    "require_requests": "pytest_loadcert.gates.k6",
    "run_window": "pytest_loadcert.gates.window",
    "service": "pytest_loadcert.gates.cluster",
    "stability": "pytest_loadcert.gates.prometheus",
    "stage_window": "pytest_loadcert.gates.window",
    "workload_ready": "pytest_loadcert.gates.cluster",
}
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
    "pod_continuity",
    "pod_readiness",
    "request_count",
    "requests_sent",
    "require_requests",
    "run_window",
    "scheduled_iterations",
    "service",
    "stability",
    "stage_window",
    "workload_ready",
]

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ loads each name
    from pytest_loadcert.gates.bindings import artifact_binding, bundle_integrity, git_binding
    from pytest_loadcert.gates.cluster import (
        cluster_snapshot,
        fresh_snapshot,
        hpa,
        image_binding,
        pdb,
        pod_continuity,
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
        scheduled_iterations,
    )
    from pytest_loadcert.gates.observability import grafana_coverage, otel_coverage
    from pytest_loadcert.gates.prometheus import critical_metric, metric_sample, stability
    from pytest_loadcert.gates.result import GateResult
    from pytest_loadcert.gates.window import check_run_duration, run_window, stage_window


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_loadcert.gates' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
