"""The expected gate x stage matrix and the tri-state verdict (pytest-free).

``not_certified`` dominates ``blocked``, which dominates ``certified``. A gate that did not
run (deselected, skipped, interrupted, never collected) is ``blocked``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_loadcert.config.profile import Profile

CERTIFIED = "certified"
NOT_CERTIFIED = "not_certified"
BLOCKED = "blocked"

#: Exit statuses of a certification run (pytest's own 3 and 4 keep their meaning).
EXIT_STATUS = {CERTIFIED: 0, NOT_CERTIFIED: 1, BLOCKED: 2}

#: Gate statuses as the certificate records them.
PASSED, FAILED, GATE_BLOCKED, WAIVED, NOT_RUN = "passed", "failed", "blocked", "waived", "not_run"

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


#: Run-level built-in gates parametrized over a cluster list of the profile: (kind, gate).
CLUSTER_GATES = (
    ("workloads", "workload_ready"),
    ("hpas", "hpa_active"),
    ("pdbs", "pdb_healthy"),
    ("services", "service_endpoints"),
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
        for kind, gate in CLUSTER_GATES:
            keys += [GateKey(gate, None, s) for s in subjects(profile, kind)]
        keys.append(GateKey("pod_readiness"))
        keys.append(GateKey("image_binding"))
    if profile.grafana:
        keys.append(GateKey("grafana_coverage"))
    if profile.otel:
        keys.append(GateKey("otel_coverage"))
    return keys


@dataclass
class Outcome:
    """How one gate ended, as the controller saw it."""

    key: GateKey
    status: str
    message: str = ""
    nodeid: str = ""
    observed: str = ""
    required: str = ""
    samples: str = ""
    source: str = ""


@dataclass
class Verdict:
    """The aggregated verdict."""

    verdict: str
    #: Each stage's standing in this run: never ``certified`` while the run level is not.
    stages: dict[str, str]
    highest_certified_stage: str | None
    not_run: list[str]
    problems: list[str] = field(default_factory=list)
    #: Each stage's own gates alone (``stages`` differs where the run level holds it back).
    stage_gates: dict[str, str] = field(default_factory=dict)
    #: The run-level gates (bindings, cluster, observability) and run problems together.
    run_level: str = CERTIFIED
    run_level_reason: str | None = None


def _worst(statuses: list[str]) -> str:
    if FAILED in statuses:
        return NOT_CERTIFIED
    if any(s in (GATE_BLOCKED, NOT_RUN) for s in statuses):
        return BLOCKED
    return CERTIFIED


def decide(
    profile: Profile,
    expected: list[GateKey],
    outcomes: dict[GateKey, Outcome],
    problems: list[str],
) -> Verdict:
    """Aggregate gate outcomes over the expected matrix into the verdict."""
    statuses: dict[GateKey, str] = {key: NOT_RUN for key in expected}
    for key, outcome in outcomes.items():
        statuses[key] = outcome.status
    not_run = [key.id for key, status in statuses.items() if status == NOT_RUN]
    stages = {
        stage: _worst([s for k, s in statuses.items() if k.stage == stage] or [NOT_RUN])
        for stage in profile.stage_names
    }
    overall = _worst(list(statuses.values()) or [NOT_RUN])
    if problems and overall == CERTIFIED:
        overall = BLOCKED
    # achieved_concurrency is the run's claim over the stages, not a condition of each one.
    run_gates = {
        key: status
        for key, status in statuses.items()
        if key.stage is None and key.gate != "achieved_concurrency"
    }
    held = [key.id for key, status in run_gates.items() if status not in (PASSED, WAIVED)]
    run_level = _worst([*run_gates.values(), *([GATE_BLOCKED] if problems else [])])
    reason = None
    if problems:
        reason = problems[0] + (f" (and {len(problems) - 1} more problems)" if problems[1:] else "")
    elif held:
        reason = (
            f"run-level gate {', '.join(held[:3])}"
            + (f" and {len(held) - 3} more" if held[3:] else "")
            + f" {'failed' if run_level == NOT_CERTIFIED else 'did not pass'}"
        )
    standing = {
        stage: run_level if verdict == CERTIFIED else verdict for stage, verdict in stages.items()
    }
    highest = None
    if run_level == CERTIFIED:
        for stage in profile.stage_names:
            if stages[stage] != CERTIFIED:
                break
            highest = stage
    return Verdict(overall, standing, highest, not_run, list(problems), stages, run_level, reason)
