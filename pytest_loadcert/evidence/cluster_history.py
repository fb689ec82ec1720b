"""What the snapshot's own times say about the run it was taken after.

The List is read once, after the last stage, but its objects carry their history: a
container's ``restartCount`` and its ``lastState.terminated`` (reason, exit code, finish
time), when each container last started, when a pod's ``Ready`` condition last changed, when
each pod and ReplicaSet was created. Placed on the run's timeline (the stage windows), they
tell whether the certification pods held from the first stage on:

* a container that restarted, or whose last termination falls in or after the first stage,
  failed under the load (e.g. OOMKilled);
* a container that started in or after the first stage in a pod that existed before it was
  not running when the run began (a restart whose count was lost, or a slow start);
* a pod that existed before the run and became Ready in or after the first stage was not
  ready for part of the run;
* a pod created in or after the first stage replaced one, unless its Deployment is the
  scale target of a required HPA that scaled at most :data:`SCALE_LAG` before the pod was
  created (``status.lastScaleTime``): a scale-up, which is what the HPA is for. A pod created
  later than that after the HPA's last scale was not created by a scale;
* a ReplicaSet of a certification Deployment created in or after the first stage is a
  rollout during the run: the load did not run against one version.

The first four are failures (``not_certified``); the last, and a restart the List cannot
place in time, are unknowns (``blocked``). A pod with a ``deletionTimestamp`` is judged by
``pod_readiness``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.cluster import (
    ClusterSnapshot,
    condition,
    deployment_of_replica_set,
)
from pytest_loadcert.evidence.cluster import owners as owners_of
from pytest_loadcert.evidence.timeutil import format_utc, parse_utc


@dataclass(frozen=True)
class Timeline:
    """The run's stages in order, as (name, start, end)."""

    stages: tuple[tuple[str, datetime, datetime], ...]

    @property
    def start(self) -> datetime:
        return min(start for _, start, _ in self.stages)

    def place(self, moment: datetime) -> str:
        """Where ``moment`` falls: ``in stage 50k``, ``between stages 10k and 25k``, ..."""
        text = format_utc(moment)
        previous = None
        for name, start, end in sorted(self.stages, key=lambda stage: stage[1]):
            if moment < start:
                if previous is None:
                    return f"{text}, before the run"
                return f"{text}, between stages {previous} and {name}"
            if moment <= end:
                return f"{text}, in stage {name}"
            previous = name
        return f"{text}, after the last stage ({previous}) ended"


#: How long after an HPA's scale its workload's new pods may be created.
SCALE_LAG = timedelta(seconds=60)


@dataclass(frozen=True)
class Scaler:
    """The required HPA that scales a workload, and when it last scaled (None: never)."""

    hpa: str
    last_scale: datetime | None


@dataclass
class History:
    """What the List says happened from the first stage on."""

    failures: list[str] = field(default_factory=list)
    unknowns: list[tuple[str, str]] = field(default_factory=list)  # (field, why)
    scaled_up: list[str] = field(default_factory=list)


def _time(snapshot: ClusterSnapshot, value: object, path: str) -> datetime | None:
    if value is None:
        return None
    moment = parse_utc(value)
    if moment is None:
        raise EvidenceError(snapshot.rel, path, f"is {value!r}, not an RFC 3339 UTC time (...Z)")
    return moment


def _restarts(snapshot: ClusterSnapshot, status: dict[str, Any], path: str) -> int | None:
    """``restartCount``, or None when it is missing: the API always sends it, so missing is
    not 0 restarts (the caller records it as unknown)."""
    count = status.get("restartCount")
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise EvidenceError(snapshot.rel, f"{path}.restartCount", "must be a non-negative integer")
    return count


def _container(
    snapshot: ClusterSnapshot,
    timeline: Timeline,
    pod_name: str,
    existed: bool,
    status: dict[str, Any],
    path: str,
    history: History,
    *,
    init: bool,
) -> None:
    name = status.get("name")
    restarts = _restarts(snapshot, status, path)
    last = (status.get("lastState") or {}).get("terminated")
    kind = "init container" if init else "container"
    if restarts is None:
        history.unknowns.append(
            (
                f"{path}.restartCount",
                f"is missing: how often pod {pod_name} {kind} {name} restarted is unknown",
            )
        )
    if isinstance(last, dict):
        at = f"{path}.lastState.terminated.finishedAt"
        finished = _time(snapshot, last.get("finishedAt"), at)
        if finished is None:
            history.unknowns.append(
                (
                    at,
                    f"is missing: when pod {pod_name} {kind} {name} last terminated is unknown",
                )
            )
        elif finished >= timeline.start:
            count = "?" if restarts is None else restarts
            history.failures.append(
                f"pod {pod_name} {kind} {name} restarted {count} time(s), last terminated "
                f"{last.get('reason') or 'without a reason'} (exit code {last.get('exitCode')}) "
                f"at {timeline.place(finished)}"
            )
            return
    elif restarts:
        history.unknowns.append(
            (
                f"{path}.lastState",
                f"records no termination, but pod {pod_name} {kind} {name} restarted "
                f"{restarts} time(s): when is unknown",
            )
        )
    running = (status.get("state") or {}).get("running")
    if existed and not init and isinstance(running, dict):
        started = _time(snapshot, running.get("startedAt"), f"{path}.state.running.startedAt")
        if started is not None and started >= timeline.start:
            history.failures.append(
                f"pod {pod_name} container {name} started at {timeline.place(started)}, in a pod "
                "created before the run: it was not running when the run began"
            )


def pod_history(
    snapshot: ClusterSnapshot,
    pods: list[tuple[str, dict[str, Any]]],
    timeline: Timeline,
    autoscaled: dict[str, Scaler],
    rolled_out: frozenset[str] = frozenset(),
) -> History:
    """The history of the certification ``pods`` (workload label, pod) from the first stage.

    ``autoscaled``: workload labels (``deployment/<name>``) a required HPA scales, whose pods
    created during the run, soon enough after its last scale, are scale-ups rather than
    replacements. ``rolled_out``: ReplicaSets created during the run (see
    :func:`rollouts_during_run`), whose pods are judged as a rollout, not as replacements.
    """
    history = History()
    for workload, pod in pods:
        name = pod["metadata"]["name"]
        where = snapshot.where(pod)
        created = _time(
            snapshot,
            pod["metadata"].get("creationTimestamp"),
            f"{where}.metadata.creationTimestamp",
        )
        if created is None:
            history.unknowns.append(
                (
                    f"{where}.metadata.creationTimestamp",
                    f"is missing: when pod {name} began is unknown",
                )
            )
            continue
        existed = created < timeline.start
        owners = {name for kind, name in owners_of(pod) if kind == "ReplicaSet"}
        if not existed and not owners & rolled_out:
            scaler = autoscaled.get(workload)
            last = scaler.last_scale if scaler is not None else None
            if last is not None and created <= last + SCALE_LAG:
                history.scaled_up.append(f"pod {name} ({workload}) at {timeline.place(created)}")
            elif scaler is None:
                history.failures.append(
                    f"pod {name} of {workload} was created at {timeline.place(created)}: it "
                    "replaced a pod, and no required HPA scales " + workload
                )
            else:
                when = f"last scaled at {format_utc(last)}" if last else "never scaled"
                history.failures.append(
                    f"pod {name} of {workload} was created at {timeline.place(created)}, but "
                    f"hpa/{scaler.hpa} {when}: it replaced a pod"
                )
        status = pod.get("status") or {}
        for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
            for index, entry in enumerate(status.get(key) or []):
                if isinstance(entry, dict):
                    path = f"{where}.status.{key}[{index}]"
                    _container(snapshot, timeline, name, existed, entry, path, history, init=init)
        ready = condition(pod, "Ready")
        if existed and ready is not None:
            index = status["conditions"].index(ready)
            path = f"{where}.status.conditions[{index}].lastTransitionTime"
            changed = _time(snapshot, ready.get("lastTransitionTime"), path)
            if changed is not None and changed >= timeline.start:
                regained = ready.get("status") == "True"
                lost = ": it was not ready for part of the run" if regained else ""
                history.failures.append(
                    f"pod {name} condition Ready became {ready.get('status')} at "
                    f"{timeline.place(changed)}{lost}"
                )
    return history


def rollouts_during_run(
    snapshot: ClusterSnapshot, deployments: tuple[str, ...], timeline: Timeline
) -> dict[str, tuple[str, str]]:
    """ReplicaSet name -> (field, why) for each ReplicaSet of a certification Deployment
    created from the first stage on: a new version rolled out while the load ran."""
    found = {}
    for replica_set in snapshot.of_kind("ReplicaSet"):
        deployment = deployment_of_replica_set(replica_set)
        if deployment not in deployments:
            continue
        where = f"{snapshot.where(replica_set)}.metadata.creationTimestamp"
        created = _time(snapshot, replica_set["metadata"].get("creationTimestamp"), where)
        if created is not None and created >= timeline.start:
            name = replica_set["metadata"]["name"]
            found[name] = (
                where,
                f"is {timeline.place(created)}: replicaset/{name} of deployment/{deployment} "
                "was rolled out during the run, so the load did not run against one version",
            )
    return found


def hpa_scalers(snapshot: ClusterSnapshot, hpas: tuple[str, ...]) -> dict[str, Scaler]:
    """Workload labels (``deployment/<name>``, ``statefulset/<name>``) the required HPAs
    scale, with the HPA and its ``status.lastScaleTime``."""
    scalers = {}
    for name in hpas:
        item = snapshot.get("HorizontalPodAutoscaler", name)
        if item is None:
            continue
        reference = (item.get("spec") or {}).get("scaleTargetRef")
        if not isinstance(reference, dict):
            continue
        where = f"{snapshot.where(item)}.status.lastScaleTime"
        last = _time(snapshot, (item.get("status") or {}).get("lastScaleTime"), where)
        workload = f"{str(reference.get('kind')).lower()}/{reference.get('name')}"
        scalers[workload] = Scaler(name, last)
    return scalers
