"""The cluster under load is a film, not a photo.

The snapshot is read after the run, but its objects carry their history: restarts and
terminations, readiness transitions, creation times, rollouts, deletions, debug containers.
Each case edits the factory's valid snapshot the way the API server shows that history
(see the helpers in tests/bundlefactory.py and fixtures/README.md) and states its verdict.
A List that contradicts itself is blocked whatever it shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest
import strategies as S

from pytest_loadcert.evidence.bundle import Bundle

Files = dict[str, Any]
Edit = Callable[[Files], None]


def _pod(files: Files, workload: str, index: int = 0) -> dict[str, Any]:
    return bf._pods_of(files, workload)[index]


def _stage_start(files: Files, stage: str, plus_s: float = 0) -> Any:
    return bf.run_windows(files)[stage][0] + timedelta(seconds=plus_s)


def oomkilled_in_50k(files: Files) -> None:
    bf.restart_container(_pod(files, "nats", 1), "nats", _stage_start(files, "50k", 100))


def restart_after_run(files: Files) -> None:
    last_end = bf.run_windows(files)["100k"][1]
    bf.restart_container(
        _pod(files, "gateway"), "gateway", last_end + timedelta(seconds=40), count=1
    )


def restarted_before_run(files: Files) -> None:
    pod = _pod(files, "gateway")
    bf.restart_container(pod, "gateway", _stage_start(files, "smoke", -86400), count=2)


def readiness_lost_in_10k(files: Files) -> None:
    bf.lose_readiness(_pod(files, "realtime-gateway"), _stage_start(files, "10k", 42))


def replaced_in_25k(files: Files) -> None:
    pod = _pod(files, "pgbouncer")
    created = bf._parse_time(pod["metadata"]["creationTimestamp"])
    bf.shift_times(pod, _stage_start(files, "25k", 20) - created)


def scale_up_in_50k(files: Files) -> None:
    # hpa/gateway scaled at 50k + 28 s, and the new pod was created two seconds later
    pod = _pod(files, "gateway", 2)
    created = bf._parse_time(pod["metadata"]["creationTimestamp"])
    bf.shift_times(pod, _stage_start(files, "50k", 30) - created)
    hpa = bf.find_items(files, "HorizontalPodAutoscaler", "gateway")[0]
    hpa["status"]["lastScaleTime"] = bf.fmt_time(_stage_start(files, "50k", 28))


def replaced_in_autoscaled(files: Files) -> None:
    # a gateway pod created in the 50k stage, but hpa/gateway never scaled: an eviction
    pod = _pod(files, "gateway", 2)
    created = bf._parse_time(pod["metadata"]["creationTimestamp"])
    bf.shift_times(pod, _stage_start(files, "50k", 30) - created)


def hpa_at_max(files: Files) -> None:
    bf.hpa_at_max(bf.find_items(files, "HorizontalPodAutoscaler", "gateway")[0])


def _scaling_limited(files: Files, reason: str, message: str) -> None:
    hpa = bf.find_items(files, "HorizontalPodAutoscaler", "realtime-gateway")[0]
    bf.set_condition(hpa, "ScalingLimited", status="True", reason=reason, message=message)


def hpa_scale_up_limited(files: Files) -> None:
    _scaling_limited(
        files,
        "ScaleUpLimit",
        "the desired replica count is increasing faster than the maximum scale rate",
    )


def hpa_at_minimum(files: Files) -> None:
    _scaling_limited(
        files, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    )


def rollout_half_done(files: Files) -> None:
    bf.half_rolled_out(files, "gateway")


def progressing_not_complete(files: Files) -> None:
    bf.set_condition(
        bf.find_items(files, "Deployment", "pgbouncer")[0],
        "Progressing",
        status="False",
        reason="ProgressDeadlineExceeded",
        message='ReplicaSet "pgbouncer-5c8d7f9b6d" has timed out progressing.',
    )


def two_replicasets_with_pods(files: Files) -> None:
    # the old ReplicaSet still owns a pod, though the counts say the rollout is done
    bf.half_rolled_out(files, "realtime-gateway")
    deployment = bf.find_items(files, "Deployment", "realtime-gateway")[0]
    deployment["status"]["updatedReplicas"] = deployment["spec"]["replicas"]
    bf.set_condition(deployment, "Progressing", reason="NewReplicaSetAvailable")


def late_start(files: Files) -> None:
    status = _pod(files, "pgbouncer", 1)["status"]["containerStatuses"][0]
    status["state"] = {"running": {"startedAt": bf.fmt_time(_stage_start(files, "1k", 12))}}


def restart_time_unknown(files: Files) -> None:
    status = _pod(files, "valkey")["status"]["containerStatuses"][0]
    status["restartCount"] = 2  # and lastState {}: the kubelet lost it


def restart_count_missing(files: Files) -> None:
    del _pod(files, "qdrant")["status"]["containerStatuses"][0]["restartCount"]


def rollout_during_run(files: Files) -> None:
    bf.rolled_out_at(files, "gateway", _stage_start(files, "25k", 30))


def statefulset_revision_apart(files: Files) -> None:
    status = bf.find_items(files, "StatefulSet", "nats")[0]["status"]
    status["updateRevision"] = "nats-" + "7f9c6d5b84"


def pod_terminating(files: Files) -> None:
    # qdrant scaled from 2 to 1 after the run: qdrant-1 is terminating
    bf.scale_down(files, _pod(files, "qdrant", 1), bf.collected_at(files) - timedelta(seconds=5))


def namespace_being_deleted(files: Files) -> None:
    requested = bf.collected_at(files) - timedelta(seconds=2)
    for item in bf.k8s_items(files):
        bf.delete_gracefully(item, requested)
    bf.reconcile(bf.k8s_items(files))


def namespace_terminating(files: Files) -> None:
    # the List carries the namespace itself (kubectl get namespace shop -o json), deleted a
    # second before the collection: Terminating, before any object of it has gone
    collected = bf.collected_at(files)
    bf.k8s_items(files).append(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "shop",
                "uid": "5e0c6d1a-3b2f-4c8e-9a7d-2f1b0c9e8d7a",
                "resourceVersion": "48213001",
                "creationTimestamp": bf.fmt_time(collected - timedelta(days=90)),
                "deletionTimestamp": bf.fmt_time(collected - timedelta(seconds=1)),
                "labels": {"kubernetes.io/metadata.name": "shop"},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating"},
        }
    )


def unrelated_pod_terminating(files: Files) -> None:
    pod = bf.find_items(files, "Pod", app="legacy-reports")[0]
    bf.delete_gracefully(pod, bf.collected_at(files) - timedelta(seconds=5))
    bf.reconcile(bf.k8s_items(files))


def debug_container(files: Files) -> None:
    bf.debug_container(_pod(files, "gateway"), _stage_start(files, "100k", 60))


def three_days_later(files: Files) -> None:
    for item in bf.k8s_items(files):
        if item["kind"] in ("Pod", "ReplicaSet"):
            bf.shift_times(item, timedelta(days=3))


def duplicate_pod(files: Files) -> None:
    bf.k8s_items(files).append(json.loads(json.dumps(_pod(files, "qdrant"))))


def uid_of_another(files: Files) -> None:
    _pod(files, "qdrant", 1)["metadata"]["uid"] = _pod(files, "qdrant", 0)["metadata"]["uid"]


def owner_of_another_uid(files: Files) -> None:
    reference = _pod(files, "pgbouncer")["metadata"]["ownerReferences"][0]
    reference["uid"] = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def ready_count_against_pods(files: Files) -> None:
    doomed = _pod(files, "realtime-gateway", 1)
    bf.k8s_items(files).remove(doomed)


def endpoint_to_absent_pod(files: Files) -> None:
    for item in bf.find_items(files, "EndpointSlice"):
        if item["metadata"]["labels"]["kubernetes.io/service-name"] == "qdrant":
            item["endpoints"][0]["targetRef"]["uid"] = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def endpoint_at_other_ip(files: Files) -> None:
    for item in bf.find_items(files, "EndpointSlice"):
        if item["metadata"]["labels"]["kubernetes.io/service-name"] == "valkey":
            item["endpoints"][0]["addresses"] = ["10.42.9.250"]


def owner_not_in_list(files: Files) -> None:
    reference = _pod(files, "gateway", 1)["metadata"]["ownerReferences"][0]
    reference["name"] = "gateway-6d4cf56db6"  # a ReplicaSet the List does not hold


def pod_without_owner_selector(files: Files) -> None:
    _pod(files, "realtime-gateway")["metadata"]["labels"]["pod-template-hash"] = "6d4cf56db6"


def endpoint_to_other_app(files: Files) -> None:
    # the qdrant Service's ready endpoint names a nats pod, at its own IP
    nats = _pod(files, "nats", 2)
    for item in bf.find_items(files, "EndpointSlice"):
        if item["metadata"]["labels"]["kubernetes.io/service-name"] == "qdrant":
            endpoint = item["endpoints"][0]
            endpoint["addresses"] = [nats["status"]["podIP"]]
            endpoint["targetRef"].update(name=nats["metadata"]["name"], uid=nats["metadata"]["uid"])


def no_replicasets(files: Files) -> None:
    # a List made without ReplicaSets (kubectl get deploy,sts,pods,...): a Deployment's pods
    # are known by their ReplicaSet's name, <deployment>-<pod-template-hash>
    items = bf.k8s_items(files)
    items[:] = [i for i in items if i["kind"] != "ReplicaSet"]


def pdb_contradiction(files: Files) -> None:
    bf.find_items(files, "PodDisruptionBudget", "gateway")[0]["status"]["disruptionsAllowed"] = 3


def ready_beyond_replicas(files: Files) -> None:
    bf.find_items(files, "StatefulSet", "qdrant")[0]["status"]["replicas"] = 1


#: case -> (edit, verdict, gate id, text the gate's message or observation must hold)
CASES: dict[str, tuple[Edit, str, str, str]] = {
    "oomkilled-in-50k": (
        oomkilled_in_50k,
        "not_certified",
        "pod_continuity",
        "container nats restarted 3 time(s), last terminated OOMKilled (exit code 137) at ",
    ),
    "restart-after-run": (
        restart_after_run,
        "not_certified",
        "pod_continuity",
        "after the last stage (100k) ended",
    ),
    "restarted-before-run": (restarted_before_run, "certified", "pod_continuity", "held"),
    "readiness-lost-in-10k": (
        readiness_lost_in_10k,
        "not_certified",
        "pod_continuity",
        "in stage 10k: it was not ready for part of the run",
    ),
    "replaced-in-25k": (
        replaced_in_25k,
        "not_certified",
        "pod_continuity",
        "in stage 25k: it replaced a pod, and no required HPA scales deployment/pgbouncer",
    ),
    "scale-up-in-50k": (
        scale_up_in_50k,
        "certified",
        "pod_continuity",
        "1 created by a scale-up",
    ),
    "replaced-in-autoscaled": (
        replaced_in_autoscaled,
        "not_certified",
        "pod_continuity",
        "in stage 50k, but hpa/gateway never scaled: it replaced a pod",
    ),
    "hpa-at-max": (
        hpa_at_max,
        "not_certified",
        "hpa_active[gateway]",
        "3 current replicas, at maxReplicas 3: no headroom left",
    ),
    "hpa-scale-up-limited": (
        hpa_scale_up_limited,
        "not_certified",
        "hpa_active[realtime-gateway]",
        "condition ScalingLimited is True (ScaleUpLimit",
    ),
    "hpa-at-minimum": (hpa_at_minimum, "certified", "hpa_active[realtime-gateway]", "current"),
    "rollout-half-done": (
        rollout_half_done,
        "blocked",
        "workload_ready[deployment/gateway]",
        "says a rollout is in progress (deployment/gateway has 2 of 3 replicas updated",
    ),
    "progressing-not-complete": (
        progressing_not_complete,
        "blocked",
        "workload_ready[deployment/pgbouncer]",
        "condition Progressing is False (ProgressDeadlineExceeded)",
    ),
    "two-replicasets-with-pods": (
        two_replicasets_with_pods,
        "blocked",
        "workload_ready[deployment/realtime-gateway]",
        "has 2 ReplicaSets with pods",
    ),
    "late-start": (
        late_start,
        "not_certified",
        "pod_continuity",
        "in stage 1k, in a pod created before the run: it was not running when the run began",
    ),
    "restart-time-unknown": (
        restart_time_unknown,
        "blocked",
        "pod_continuity",
        "records no termination, but pod valkey-0 container valkey restarted 2 time(s)",
    ),
    "restart-count-missing": (
        restart_count_missing,
        "blocked",
        "pod_continuity",
        "restartCount is missing: how often pod qdrant-0 container qdrant restarted is unknown",
    ),
    "rollout-during-run": (
        rollout_during_run,
        "blocked",
        "pod_continuity",
        "was rolled out during the run",
    ),
    "statefulset-revision-apart": (
        statefulset_revision_apart,
        "blocked",
        "workload_ready[statefulset/nats]",
        "updating to nats-7f9c6d5b84",
    ),
    "pod-terminating": (
        pod_terminating,
        "blocked",
        "pod_readiness",
        "pod/qdrant-1 is being deleted",
    ),
    "namespace-being-deleted": (
        namespace_being_deleted,
        "blocked",
        "workload_ready[deployment/gateway]",
        "deployment/gateway is being deleted",
    ),
    "namespace-terminating": (
        namespace_terminating,
        "blocked",
        "cluster_snapshot",
        "namespace/shop is being deleted",
    ),
    "unrelated-pod-terminating": (
        unrelated_pod_terminating,
        "certified",
        "pod_readiness",
        "ready",
    ),
    "debug-container": (
        debug_container,
        "blocked",
        "image_binding",
        "(ephemeral, kubectl debug) runs sha256:",
    ),
    "three-days-later": (
        three_days_later,
        "blocked",
        "cluster_snapshot",
        "after the snapshot was collected",
    ),
    "duplicate-pod": (duplicate_pod, "blocked", "cluster_snapshot", "a second time"),
    "uid-of-another": (uid_of_another, "blocked", "cluster_snapshot", "one uid is one object"),
    "owner-of-another-uid": (
        owner_of_another_uid,
        "blocked",
        "cluster_snapshot",
        "the owner named is another object",
    ),
    "ready-count-against-pods": (
        ready_count_against_pods,
        "blocked",
        "cluster_snapshot",
        "but the List holds 1 ready pod(s) of it",
    ),
    "endpoint-to-absent-pod": (
        endpoint_to_absent_pod,
        "blocked",
        "cluster_snapshot",
        "which this List does not hold",
    ),
    "endpoint-at-other-ip": (
        endpoint_at_other_ip,
        "blocked",
        "cluster_snapshot",
        "route service/valkey to 10.42.9.250",
    ),
    "owner-not-in-list": (
        owner_not_in_list,
        "blocked",
        "cluster_snapshot",
        "names its controller replicaset/gateway-6d4cf56db6, which this List does not hold",
    ),
    "pod-without-owner-selector": (
        pod_without_owner_selector,
        "blocked",
        "cluster_snapshot",
        "selects pod-template-hash=",
    ),
    "endpoint-to-other-app": (
        endpoint_to_other_app,
        "blocked",
        "cluster_snapshot",
        "give app='nats', but service/qdrant, which it belongs to, selects app='qdrant'",
    ),
    "no-replicasets": (no_replicasets, "certified", "cluster_snapshot", "objects in shop"),
    "pdb-contradiction": (
        pdb_contradiction,
        "blocked",
        "cluster_snapshot",
        "the status contradicts itself",
    ),
    "ready-beyond-replicas": (
        ready_beyond_replicas,
        "blocked",
        "cluster_snapshot",
        "more than status.replicas 1",
    ),
}


def case_files(case: str) -> Files:
    files = bf.variant_files("valid")
    CASES[case][0](files)
    return bf.seal_files(files)


@pytest.mark.parametrize("case", sorted(CASES))
def test_core_verdict_and_message(tmp_path: Path, case: str) -> None:
    _, verdict, gate_id, needle = CASES[case]
    root = bf.write_bundle(tmp_path / "bundle", case_files(case))
    results = S.core_results(Bundle(root))
    assert S.core_verdict({k: status for k, (status, _) in results.items()}).verdict == verdict
    status, text = {key.id: value for key, value in results.items()}[gate_id]
    assert status == {"certified": "passed", "not_certified": "failed"}.get(verdict, "blocked")
    assert needle in text, text


def judge(pytester: pytest.Pytester, tmp_path: Path, case: str, *args: str) -> dict[str, Any]:
    bundle = bf.write_bundle(tmp_path / "bundle", case_files(case))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *args)
    assert "Traceback" not in result.stdout.str()
    certificate: dict[str, Any] = json.loads((pytester.path / "certificate.json").read_text())
    assert result.ret == S.EXIT[certificate["verdict"]]
    return certificate


def gate(certificate: dict[str, Any], gate_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in certificate["gates"] if g["id"] == gate_id)
    return found


#: The cases the issue names, judged by the plugin serial and with two xdist workers (the
#: core test above judges every case, with its message, in the inner loop); the plugin's
#: serial run of the first is in the inner loop too.
PLUGIN = (
    "oomkilled-in-50k",
    "restart-after-run",
    "replaced-in-25k",
    "replaced-in-autoscaled",
    "scale-up-in-50k",
    "hpa-at-max",
    "hpa-scale-up-limited",
    "rollout-half-done",
    "progressing-not-complete",
    "two-replicasets-with-pods",
    "rollout-during-run",
    "pod-terminating",
    "namespace-being-deleted",
    "debug-container",
    "three-days-later",
    "endpoint-to-other-app",
)
INNER_LOOP = {"oomkilled-in-50k"}


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=() if c in INNER_LOOP else pytest.mark.slow) for c in PLUGIN]
)
def test_plugin_verdict_and_message(pytester: pytest.Pytester, tmp_path: Path, case: str) -> None:
    _, verdict, gate_id, needle = CASES[case]
    certificate = judge(pytester, tmp_path, case)
    assert certificate["verdict"] == verdict
    outcome = gate(certificate, gate_id)
    text = " ".join(str(outcome.get(k, "")) for k in ("message", "observed", "explanation"))
    assert needle in text, text


@pytest.mark.slow
@pytest.mark.parametrize("case", PLUGIN)
def test_the_same_under_xdist(pytester: pytest.Pytester, tmp_path: Path, case: str) -> None:
    _, verdict, gate_id, _ = CASES[case]
    certificate = judge(pytester, tmp_path, case, "-n", "2")
    assert certificate["verdict"] == verdict
    expected = {"certified": "passed", "not_certified": "failed"}.get(verdict, "blocked")
    assert gate(certificate, gate_id)["status"] == expected


def test_an_oomkill_names_pod_container_reason_count_and_time(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    certificate = judge(pytester, tmp_path, "oomkilled-in-50k")
    outcome = gate(certificate, "pod_continuity")
    assert outcome["status"] == "failed"
    files = case_files("oomkilled-in-50k")
    finished = bf.fmt_time(_stage_start(files, "50k", 100))
    assert (
        f"pod nats-1 container nats restarted 3 time(s), last terminated OOMKilled (exit code "
        f"137) at {finished}, in stage 50k" in outcome["message"]
    )
    stages = {s["name"]: s["verdict"] for s in certificate["stages"]}
    assert certificate["verdict"] == "not_certified"
    assert stages["smoke"] != "certified" or certificate["highest_certified_stage"] != "100k"
