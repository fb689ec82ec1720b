"""Run-level gates on the live cluster snapshot and the observability exports.

A snapshot is judged only when it is valid, fresh and one List: of the profile's namespace,
taken after the last stage ended and within ``cluster.max_snapshot_age_s`` of it, with no
relation between its fields broken (:mod:`~pytest_loadcert.evidence.cluster_relations`).
Otherwise every cluster gate is blocked. On such a snapshot a missing or unready workload,
an HPA without headroom, or a certification pod that did not hold from the first stage on
(:mod:`~pytest_loadcert.evidence.cluster_history`) fails; a rollout in progress or an object
being deleted blocks.
"""

from __future__ import annotations

from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.cluster import (
    Check,
    ClusterSnapshot,
    certification_pods,
    hpa_active,
    pdb_healthy,
    pod_not_ready_reason,
    refuse_deleted,
    replicas_ready,
    running_digests,
    service_endpoints,
)
from pytest_loadcert.evidence.cluster_history import (
    Timeline,
    hpa_scalers,
    pod_history,
    rollouts_during_run,
)
from pytest_loadcert.evidence.timeutil import format_utc
from pytest_loadcert.gates.result import GateResult
from pytest_loadcert.gates.window import run_window

WORKLOAD_KINDS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
}


def fresh_snapshot(bundle: Bundle, profile: Profile) -> ClusterSnapshot:
    """The cluster snapshot, checked for namespace and freshness (else EvidenceError)."""
    manifest = bundle.manifest()
    if manifest.raw["cluster"] is None or manifest.cluster_collected_at is None:
        raise EvidenceError(
            manifest.rel, "cluster", "is null, but the profile requires a cluster snapshot"
        )
    snapshot = bundle.cluster()
    namespace = profile.cluster.namespace
    if manifest.raw["cluster"]["namespace"] != namespace:
        raise EvidenceError(
            manifest.rel,
            "cluster.namespace",
            f"is {manifest.raw['cluster']['namespace']!r}; the profile certifies {namespace!r}",
        )
    others = sorted(snapshot.namespaces() - {namespace})
    if others:
        raise EvidenceError(
            snapshot.rel, "items", f"hold objects of namespace {others[0]!r}, not {namespace!r}"
        )
    for item in snapshot.of_kind("Namespace"):  # a List may carry the namespace itself
        name = item["metadata"]["name"]
        if name != namespace:
            raise EvidenceError(
                snapshot.rel, snapshot.where(item), f"is namespace {name!r}, not {namespace!r}"
            )
        refuse_deleted(snapshot, item)
        phase = (item.get("status") or {}).get("phase")
        if phase != "Active":
            raise EvidenceError(
                snapshot.rel,
                f"{snapshot.where(item)}.status.phase",
                f"is {phase!r}, not 'Active': namespace {name} may be being torn down, so the "
                "snapshot is not the steady state the load ran against",
            )
    _, last_end = run_window(bundle, profile)
    collected = manifest.cluster_collected_at
    if collected < last_end:
        raise EvidenceError(
            manifest.rel,
            "cluster.collected_at",
            "is before the last stage ended: the snapshot does not show the cluster after the run",
        )
    age = (collected - last_end).total_seconds()
    if age > profile.cluster.max_snapshot_age_s:
        raise EvidenceError(
            manifest.rel,
            "cluster.collected_at",
            f"is {age:g}s after the last stage ended, over cluster.max_snapshot_age_s = "
            f"{profile.cluster.max_snapshot_age_s:g}",
        )
    return bundle.consistent_cluster(collected, profile.cluster)


def cluster_snapshot(bundle: Bundle, profile: Profile) -> GateResult:
    """The snapshot is valid, of the certified namespace, and fresh."""
    snapshot = fresh_snapshot(bundle, profile)
    manifest = bundle.manifest()
    return GateResult(
        True,
        f"{len(snapshot.items)} objects in {profile.cluster.namespace}, collected "
        f"{manifest.raw['cluster']['collected_at']}",
        f"namespace {profile.cluster.namespace}, "
        f"within {profile.cluster.max_snapshot_age_s:g}s after the run",
        str(len(snapshot.items)),
        f"{snapshot.rel}, {manifest.rel} cluster",
    )


def _result(check: Check) -> GateResult:
    return GateResult(check.ok, check.observed, check.required, "1 object", check.source)


def workload_ready(snapshot: ClusterSnapshot, subject: str) -> GateResult:
    """A required Deployment or StatefulSet (``kind/name``) has all replicas ready."""
    kind, name = subject.split("/", 1)
    return _result(replicas_ready(snapshot, WORKLOAD_KINDS[kind], name))


def hpa(snapshot: ClusterSnapshot, name: str) -> GateResult:
    """A required HorizontalPodAutoscaler is present and scaling."""
    return _result(hpa_active(snapshot, name))


def pdb(snapshot: ClusterSnapshot, name: str) -> GateResult:
    """A required PodDisruptionBudget has its desired healthy pods."""
    return _result(pdb_healthy(snapshot, name))


def service(snapshot: ClusterSnapshot, name: str) -> GateResult:
    """A required Service has ready endpoints."""
    return _result(service_endpoints(snapshot, name))


def pod_readiness(snapshot: ClusterSnapshot, profile: Profile) -> GateResult:
    """Every pod of the certification workloads is Running and ready; others are ignored."""
    if not snapshot.of_kind("Pod"):
        raise EvidenceError(snapshot.rel, "items", "hold no Pod: pod readiness is unknown")
    pods = certification_pods(snapshot, profile.cluster.deployments, profile.cluster.statefulsets)
    for _, pod in pods:
        refuse_deleted(snapshot, pod)
    reasons = [reason for _, pod in pods if (reason := pod_not_ready_reason(pod)) is not None]
    ignored = len(snapshot.of_kind("Pod")) - len(pods)
    if not pods:
        return GateResult(
            False, "no pod of the certification workloads", ">= 1 ready pod", "0 pods", snapshot.rel
        )
    return GateResult(
        not reasons,
        f"{len(pods) - len(reasons)}/{len(pods)} certification pods ready",
        "all Running and ready",
        f"{len(pods)} pods ({ignored} other pods ignored)",
        snapshot.rel,
        "; ".join(reasons[:5]),
    )


def timeline(bundle: Bundle, profile: Profile) -> Timeline:
    """The run's stage windows, for placing the snapshot's own times."""
    runs = [(stage, bundle.stage_run(stage)) for stage in profile.stage_names]
    return Timeline(tuple((stage, run.start, run.end) for stage, run in runs))


def pod_continuity(bundle: Bundle, snapshot: ClusterSnapshot, profile: Profile) -> GateResult:
    """Every certification pod held from the first stage on: no container restarted or
    terminated, none started late, no pod lost readiness or was replaced (a pod an HPA's
    scale-up created is not a replacement); no certification Deployment rolled out."""
    cluster = profile.cluster
    pods = certification_pods(snapshot, cluster.deployments, cluster.statefulsets)
    if not pods:
        raise EvidenceError(snapshot.rel, "items", "hold no pod of the certification workloads")
    run = timeline(bundle, profile)
    rollouts = rollouts_during_run(snapshot, cluster.deployments, run)
    history = pod_history(
        snapshot, pods, run, hpa_scalers(snapshot, cluster.hpas), frozenset(rollouts)
    )
    required = (
        "no restart, termination, late start, readiness lost or replacement from the first stage on"
    )
    samples = f"{len(pods)} pods, from the first stage's start ({format_utc(run.start)})"
    if history.failures:
        return GateResult(
            False,
            f"{len(history.failures)} event(s) during the run: {history.failures[0]}",
            required,
            samples,
            snapshot.rel,
            "; ".join(history.failures[1:6]),
        )
    unknowns = history.unknowns + list(rollouts.values())
    if unknowns:
        field, why = unknowns[0]
        raise EvidenceError(snapshot.rel, field, why)
    scaled = f"; {len(history.scaled_up)} created by a scale-up" if history.scaled_up else ""
    return GateResult(
        True,
        f"{len(pods)} certification pods held through the run{scaled}",
        required,
        samples,
        snapshot.rel,
        "; ".join(history.scaled_up[:5]),
    )


def image_binding(bundle: Bundle, snapshot: ClusterSnapshot, profile: Profile) -> GateResult:
    """Every certification container runs a bound digest; every bound digest runs."""
    manifest = bundle.manifest()
    bound = {image["digest"]: image["name"] for image in manifest.images}
    if not bound:
        raise EvidenceError(manifest.rel, "artifacts.images", "binds no image digest")
    pods = certification_pods(snapshot, profile.cluster.deployments, profile.cluster.statefulsets)
    if not pods:
        raise EvidenceError(snapshot.rel, "items", "hold no pod of the certification workloads")
    running: set[str] = set()
    containers = 0
    for _, pod in pods:
        for container, digest in running_digests(snapshot, pod):
            containers += 1
            if digest not in bound:
                raise EvidenceError(
                    snapshot.rel,
                    f"{snapshot.where(pod)}.status",
                    f"pod {pod['metadata']['name']} container {container} runs {digest}, "
                    f"which {manifest.rel} artifacts.images does not bind",
                )
            running.add(digest)
    idle = sorted(set(bound) - running)
    if idle:
        raise EvidenceError(
            manifest.rel,
            "artifacts.images",
            f"binds {bound[idle[0]]} {idle[0]}, which no certification pod runs",
        )
    return GateResult(
        True,
        f"{containers} containers run {len(running)} bound digest(s)",
        "every running image bound, every bound image running",
        f"{len(pods)} pods",
        f"{snapshot.rel} imageID, {manifest.rel} artifacts.images",
    )
