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


#: Per-stage built-in gates parametrized over a list of the profile: (kind, gate).
STAGE_SUBJECT_GATES = (("metrics", "critical_metric"), ("stability", "stability"))
#: Run-level built-in gates of the bundle's bindings, the ones with subjects as (kind, gate).
BINDING_GATES = ("bundle_integrity", ("artifacts", "artifact_binding"), "git_binding")
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
    "image_binding",
)
#: Gates of the Grafana and OpenTelemetry exports, each run when the profile asks for it.
OBSERVABILITY_GATES = ("grafana_coverage", "otel_coverage")
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


def _run_keys(profile: Profile, entries: tuple[str | tuple[str, str], ...]) -> list[GateKey]:
    keys: list[GateKey] = []
    for entry in entries:
        if isinstance(entry, str):
            keys.append(GateKey(entry))
        else:
            kind, gate = entry
            keys += [GateKey(gate, None, s) for s in subjects(profile, kind)]
    return keys


def expected_builtin(profile: Profile) -> list[GateKey]:
    """Every built-in gate x stage (x subject) the profile requires, in report order."""
    keys: list[GateKey] = []
    for stage in profile.stage_names:
        keys += [GateKey(gate, stage) for gate in STAGE_GATES]
        for kind, gate in STAGE_SUBJECT_GATES:
            keys += [GateKey(gate, stage, s) for s in subjects(profile, kind)]
    keys.append(GateKey("achieved_concurrency"))
    keys += _run_keys(profile, BINDING_GATES)
    if profile.cluster.required:
        cluster: dict[str, tuple[str, str]] = {g: (k, g) for k, g in CLUSTER_SUBJECT_GATES}
        keys += _run_keys(profile, tuple(cluster.get(gate, gate) for gate in CLUSTER_GATES))
    grafana, otel = OBSERVABILITY_GATES
    if profile.grafana:
        keys.append(GateKey(grafana))
    if profile.otel:
        keys.append(GateKey(otel))
    return keys


#: Every built-in gate's name, in report order.
GATES = (
    *STAGE_GATES,
    *(gate for _, gate in STAGE_SUBJECT_GATES),
    "achieved_concurrency",
    *(entry if isinstance(entry, str) else entry[1] for entry in BINDING_GATES),
    *CLUSTER_GATES,
    *OBSERVABILITY_GATES,
)
