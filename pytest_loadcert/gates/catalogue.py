"""The built-in gates, once: which gate runs per stage, per subject and per run, and the
expected gate x stage x subject matrix a profile asks for. The plugin's built-in gates, the
verdict, the report (which gates are the live cluster's) and the tests' core harness read it
from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_loadcert.config.profile import Profile

STAGE_GATES = (
    "stage_evidence",
    "observed_concurrency",
    "dropped_iterations",
    "requests_sent",
    "p95_latency",
    "p99_latency",
    "error_rate",
    "checks_rate",
    "k6_thresholds",
    "stage_window",
)
ARTIFACTS = ("k6_script", "k8s_manifest")


@dataclass(frozen=True, order=True)
class GateKey:
    """One cell of the matrix: a gate, optionally for a stage and a subject."""

    gate: str
    stage: str | None = None
    subject: str | None = None

    @property
    def id(self) -> str:
        """``gate``, ``gate[stage]``, ``gate[subject]`` or ``gate[stage-subject]``."""
        parts = [p for p in (self.stage, self.subject) if p is not None]
        return f"{self.gate}[{'-'.join(parts)}]" if parts else self.gate


#: Run-level built-in gates parametrized over a cluster list of the profile: (kind, gate).
CLUSTER_SUBJECT_GATES = (
    ("workloads", "workload_ready"),
    ("hpas", "hpa_active"),
    ("pdbs", "pdb_healthy"),
    ("services", "service_endpoints"),
)
#: Every gate of the live cluster (run only when the profile requires the cluster).
CLUSTER_GATES = (
    "cluster_snapshot",
    *(gate for _, gate in CLUSTER_SUBJECT_GATES),
    "pod_readiness",
    "pod_continuity",
    "image_binding",
)
SUBJECT_KINDS = ("metrics", "stability", "artifacts", "workloads", "hpas", "pdbs", "services")


def subjects(profile: Profile, kind: str) -> list[str]:
    """The profile-derived subjects a built-in gate is parametrized over (see SUBJECT_KINDS)."""
    cluster = profile.cluster
    lists = {
        "metrics": [m.name for m in profile.metrics],
        "stability": [s.name for s in profile.stability],
        "artifacts": list(ARTIFACTS),
        "workloads": [f"deployment/{n}" for n in cluster.deployments]
        + [f"statefulset/{n}" for n in cluster.statefulsets],
        "hpas": list(cluster.hpas),
        "pdbs": list(cluster.pdbs),
        "services": list(cluster.services),
    }
    return lists[kind]


def not_required(profile: Profile) -> list[str]:
    """Evidence kinds the profile does not require (shown on the certificate)."""
    result = []
    if not profile.cluster.required:
        result.append("cluster")
    if not profile.grafana:
        result.append("grafana")
    if not profile.otel:
        result.append("otel")
    return result


def expected_builtin(profile: Profile) -> list[GateKey]:
    """Every built-in gate x stage (x subject) the profile requires, in report order."""
    keys: list[GateKey] = []
    for stage in profile.stage_names:
        keys += [GateKey(gate, stage) for gate in STAGE_GATES]
        keys += [GateKey("critical_metric", stage, m) for m in subjects(profile, "metrics")]
        keys += [GateKey("stability", stage, s) for s in subjects(profile, "stability")]
    keys.append(GateKey("achieved_concurrency"))
    keys.append(GateKey("bundle_integrity"))
    keys += [GateKey("artifact_binding", None, a) for a in ARTIFACTS]
    keys.append(GateKey("git_binding"))
    if profile.cluster.required:
        keys.append(GateKey("cluster_snapshot"))
        for kind, gate in CLUSTER_SUBJECT_GATES:
            keys += [GateKey(gate, None, s) for s in subjects(profile, kind)]
        keys.append(GateKey("pod_readiness"))
        keys.append(GateKey("pod_continuity"))
        keys.append(GateKey("image_binding"))
    if profile.grafana:
        keys.append(GateKey("grafana_coverage"))
    if profile.otel:
        keys.append(GateKey("otel_coverage"))
    return keys


#: Every built-in gate's name, in report order (a test holds it equal to the matrix above
#: and to the tests of plugin/builtin_gates.py).
GATES = (
    *STAGE_GATES,
    "critical_metric",
    "stability",
    "achieved_concurrency",
    "bundle_integrity",
    "artifact_binding",
    "git_binding",
    *CLUSTER_GATES,
    "grafana_coverage",
    "otel_coverage",
)
