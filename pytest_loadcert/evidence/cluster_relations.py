"""What a second field of the cluster List can contradict, checked against it.

A snapshot is one List read after the run. Each relation below holds in any List the API
server answers for one moment; a List that breaks one is a copy, an edit, or objects read
at different times, and is blocked (raises :class:`~pytest_loadcert.errors.EvidenceError`
naming the item and the field):

* **one object, one item**: no two items share a kind and a name, or a ``metadata.uid``;
* **no time after the snapshot**: every time an object carries (its creation and deletion,
  its conditions' transitions, its containers' starts and terminations, ...) is at most the
  collection time plus the profile's ``cluster.max_clock_skew_s``;
* **an owner is the object it names**: an ``ownerReferences`` entry whose kind and name are
  in the List carries that object's uid; an object has at most one controller, which the List
  holds when it holds objects of that kind, and whose selector the object's labels match;
* **status within spec**: a workload's ready, available and updated counts do not pass the
  replicas it has, its status is not of a generation newer than its spec, an HPA's
  ``minReplicas`` is at most its ``maxReplicas``, a PodDisruptionBudget's counters agree;
* **a workload counts the pods the List holds**: a certification Deployment's or
  StatefulSet's ``status.readyReplicas`` equals the ready, not terminating pods of it in the
  List (see :func:`workload_pods`);
* **a Service routes to pods of the List**: every ready endpoint of a required Service that
  names a pod names one of the List, by uid and name, at one of the pod's IPs, ready, not
  terminating, and carrying the Service's selector labels.

docs/security.md lists these kind by kind, and what is not checked and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.cluster import (
    ClusterSnapshot,
    certification_pods,
    conditions,
    is_ready_pod,
    ready_endpoints,
)
from pytest_loadcert.evidence.timeutil import format_utc, parse_utc

#: Keys whose string value is a time (Kubernetes' Time and MicroTime fields).
_TIME_SUFFIXES = ("Time", "Timestamp", "At")


def check_relations(
    snapshot: ClusterSnapshot,
    collected_at: datetime,
    skew_s: float,
    deployments: tuple[str, ...],
    statefulsets: tuple[str, ...],
    services: tuple[str, ...],
) -> None:
    """Every relation of the module docstring, or EvidenceError naming the first broken."""
    check_list(snapshot)
    _no_time_after(snapshot, collected_at + timedelta(seconds=skew_s), collected_at)
    for kind, names in (("Deployment", deployments), ("StatefulSet", statefulsets)):
        for name in names:
            _workload_counts_its_pods(snapshot, kind, name)
    for name in services:
        _service_routes_to_pods(snapshot, name)


def check_list(snapshot: ClusterSnapshot) -> None:
    """The relations that need no profile and no clock: one item per object, owners that are
    the objects they name, each status within its own spec and counters."""
    _one_item_per_object(snapshot)
    _owners_are_the_objects_named(snapshot)
    for item in snapshot.items:
        _within(snapshot, item)


def _label(item: dict[str, Any]) -> str:
    return f"{item['kind'].lower()}/{item['metadata']['name']}"


def _one_item_per_object(snapshot: ClusterSnapshot) -> None:
    names: dict[tuple[str, str, str], int] = {}
    uids: dict[str, int] = {}
    for index, item in enumerate(snapshot.items):
        metadata = item["metadata"]
        key = (item["kind"], str(metadata.get("namespace")), metadata["name"])
        if key in names:
            raise EvidenceError(
                snapshot.rel,
                f"items[{index}]",
                f"is {_label(item)} a second time (first at items[{names[key]}]): one object "
                "is one item of a List",
            )
        names[key] = index
        uid = metadata.get("uid")
        if uid is None:
            continue
        if not isinstance(uid, str) or not uid:
            raise EvidenceError(snapshot.rel, f"items[{index}].metadata.uid", "must be a string")
        if uid in uids:
            first = snapshot.items[uids[uid]]
            raise EvidenceError(
                snapshot.rel,
                f"items[{index}].metadata.uid",
                f"is {uid}, the uid of {_label(first)} (items[{uids[uid]}]) too: one uid "
                "is one object",
            )
        uids[uid] = index


def _times(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every time-named key under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if isinstance(value, (dict, list)):
                yield from _times(value, where)
            elif isinstance(key, str) and key.endswith(_TIME_SUFFIXES) and value is not None:
                yield where, value
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _times(value, f"{path}[{index}]")


def _time_values(node: Any) -> Iterator[Any]:
    """Every time-named value under ``node``, without paths (the fast pass)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                if isinstance(value, (dict, list)):
                    stack.append(value)
                elif value is not None and isinstance(key, str) and key.endswith(_TIME_SUFFIXES):
                    yield value
        elif isinstance(current, list):
            stack.extend(current)


def _no_time_after(snapshot: ClusterSnapshot, limit: datetime, collected_at: datetime) -> None:
    parsed: dict[Any, datetime | None] = {}

    def moment(value: Any) -> datetime | None:
        if value not in parsed:
            parsed[value] = parse_utc(value)
        return parsed[value]

    def check(item: dict[str, Any], field: str, value: Any, allowance_s: int = 0) -> None:
        if value is None:
            raise EvidenceError(snapshot.rel, field, "is missing")
        at = moment(value)
        if at is None:
            raise EvidenceError(
                snapshot.rel, field, f"is {value!r}, not an RFC 3339 UTC time (...Z)"
            )
        if at - timedelta(seconds=allowance_s) > limit:
            raise EvidenceError(
                snapshot.rel,
                field,
                f"of {_label(item)} is {value}, after the snapshot was collected "
                f"({format_utc(collected_at)}, cluster.max_clock_skew_s allowing "
                f"{(limit - collected_at).total_seconds():g}s): the object is not the one "
                "the collection read",
            )

    for index, item in enumerate(snapshot.items):
        metadata = item["metadata"]
        check(item, f"items[{index}].metadata.creationTimestamp", metadata.get("creationTimestamp"))
        if metadata.get("deletionTimestamp") is not None:
            # The API server sets deletionTimestamp to the delete request's time plus the
            # grace period: it may pass the collection by that much.
            grace = metadata.get("deletionGracePeriodSeconds")
            grace_s = grace if isinstance(grace, int) and not isinstance(grace, bool) else 0
            field = f"items[{index}].metadata.deletionTimestamp"
            check(item, field, metadata["deletionTimestamp"], max(0, grace_s))
        status = item.get("status")
        for value in _time_values(status):
            at = moment(value)
            if at is None or at > limit:  # find the field, and say so
                for field, found in _times(status, f"items[{index}].status"):
                    check(item, field, found)


#: Owner kinds a List of the namespace holds every object of, when it holds any.
_LISTED = ("Deployment", "ReplicaSet", "StatefulSet", "Job")


def _owners_are_the_objects_named(snapshot: ClusterSnapshot) -> None:
    kinds = {item["kind"] for item in snapshot.items}
    by_name = {
        (item["kind"], item["metadata"]["name"]): item
        for item in snapshot.items
        if isinstance(item["metadata"].get("uid"), str)
    }
    for index, item in enumerate(snapshot.items):
        references = item["metadata"].get("ownerReferences") or []
        controllers = [r for r in references if isinstance(r, dict) and r.get("controller")]
        if len(controllers) > 1:
            raise EvidenceError(
                snapshot.rel,
                f"items[{index}].metadata.ownerReferences",
                f"of {_label(item)} names {len(controllers)} controllers; an object has one",
            )
        for position, reference in enumerate(references):
            if not isinstance(reference, dict):
                continue
            where = f"items[{index}].metadata.ownerReferences[{position}]"
            kind, name = str(reference.get("kind")), str(reference.get("name"))
            owner = by_name.get((kind, name))
            if owner is None:
                if reference.get("controller") and kind in _LISTED and kind in kinds:
                    raise EvidenceError(
                        snapshot.rel,
                        where,
                        f"of {_label(item)} names its controller {kind.lower()}/{name}, which "
                        f"this List does not hold although it holds {kind} objects: the owner "
                        "is unknown",
                    )
                continue
            if reference.get("uid") != owner["metadata"]["uid"]:
                raise EvidenceError(
                    snapshot.rel,
                    f"{where}.uid",
                    f"of {_label(item)} is {reference.get('uid')!r}, but {_label(owner)} in "
                    f"this List has uid {owner['metadata']['uid']}: the owner named is "
                    "another object",
                )
            if reference.get("controller"):
                _carries_selector(snapshot, item, owner, f"items[{index}].metadata.labels")


def _carries_selector(
    snapshot: ClusterSnapshot, item: dict[str, Any], owner: dict[str, Any], where: str
) -> None:
    """``item`` carries every label of ``owner``'s ``spec.selector.matchLabels`` (or of a
    Service's ``spec.selector``)."""
    spec = owner.get("spec") or {}
    selector = spec.get("selector")
    if owner["kind"] != "Service" and isinstance(selector, dict):
        selector = selector.get("matchLabels")
    if not isinstance(selector, dict):
        return
    labels = item["metadata"].get("labels") or {}
    for key in sorted(selector):
        if labels.get(key) != selector[key]:
            raise EvidenceError(
                snapshot.rel,
                where,
                f"of {_label(item)} give {key}={labels.get(key)!r}, but {_label(owner)}, which "
                f"it belongs to, selects {key}={selector[key]!r}",
            )


def _counts(snapshot: ClusterSnapshot, item: dict[str, Any], *paths: str) -> list[int | None]:
    """The non-negative integers at ``paths`` (dotted), None where absent."""
    values: list[int | None] = []
    for path in paths:
        node: Any = item
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and (isinstance(node, bool) or not isinstance(node, int) or node < 0):
            raise EvidenceError(
                snapshot.rel, f"{snapshot.where(item)}.{path}", "must be a non-negative integer"
            )
        values.append(node)
    return values


def _at_most(
    snapshot: ClusterSnapshot, item: dict[str, Any], low: str, high: str, values: dict[str, Any]
) -> None:
    if values[low] is not None and values[high] is not None and values[low] > values[high]:
        raise EvidenceError(
            snapshot.rel,
            f"{snapshot.where(item)}.{low}",
            f"of {_label(item)} is {values[low]}, more than {high} {values[high]}: the status "
            "contradicts itself",
        )


#: Per kind, the (count, bound) pairs of its own fields a status must keep: each count at
#: most its bound.
_WITHIN = {
    kind: (
        ("status.readyReplicas", "status.replicas"),
        ("status.availableReplicas", "status.readyReplicas"),
        ("status.updatedReplicas", "status.replicas"),
        ("status.observedGeneration", "metadata.generation"),
    )
    for kind in ("Deployment", "StatefulSet", "ReplicaSet")
} | {
    "HorizontalPodAutoscaler": (
        ("spec.minReplicas", "spec.maxReplicas"),
        ("status.desiredReplicas", "spec.maxReplicas"),
    ),
    "PodDisruptionBudget": (("status.currentHealthy", "status.expectedPods"),),
}


def _within(snapshot: ClusterSnapshot, item: dict[str, Any]) -> None:
    pairs = _WITHIN.get(item["kind"], ())
    paths = sorted({path for pair in pairs for path in pair})
    values = dict(zip(paths, _counts(snapshot, item, *paths), strict=True))
    for low, high in pairs:
        _at_most(snapshot, item, low, high, values)
    if item["kind"] == "PodDisruptionBudget":
        _pdb_allowed(snapshot, item)


def _pdb_allowed(snapshot: ClusterSnapshot, item: dict[str, Any]) -> None:
    paths = ("status.currentHealthy", "status.desiredHealthy", "status.disruptionsAllowed")
    current, desired, allowed = _counts(snapshot, item, *paths)
    if current is None or desired is None or allowed is None:
        return
    if allowed > max(0, current - desired):
        raise EvidenceError(
            snapshot.rel,
            f"{snapshot.where(item)}.status.disruptionsAllowed",
            f"of {_label(item)} is {allowed}, but currentHealthy {current} - desiredHealthy "
            f"{desired} allows at most {max(0, current - desired)}: the status contradicts "
            "itself",
        )


def workload_pods(snapshot: ClusterSnapshot, kind: str, name: str) -> list[dict[str, Any]]:
    """The pods of the List a Deployment (through its ReplicaSets) or StatefulSet owns, as
    :func:`~pytest_loadcert.evidence.cluster.certification_pods` finds them."""
    deployments, statefulsets = ((name,), ()) if kind == "Deployment" else ((), (name,))
    return [pod for _, pod in certification_pods(snapshot, deployments, statefulsets)]


def _workload_counts_its_pods(snapshot: ClusterSnapshot, kind: str, name: str) -> None:
    item = snapshot.get(kind, name)
    if item is None:
        return
    pods = workload_pods(snapshot, kind, name)
    if any(pod["metadata"].get("deletionTimestamp") is not None for pod in pods):
        return  # a terminating pod blocks pod_readiness; counts in motion prove nothing more
    (said,) = _counts(snapshot, item, "status.readyReplicas")
    # Kubernetes omits readyReplicas when none is ready, so absent reads 0 here; that cannot
    # pass anything: a List with ready pods of the workload then blocks just below.
    said = said or 0
    ready = [pod["metadata"]["name"] for pod in pods if is_ready_pod(pod)]
    if len(ready) != said:
        raise EvidenceError(
            snapshot.rel,
            f"{snapshot.where(item)}.status.readyReplicas",
            f"of {_label(item)} is {said}, but the List holds {len(ready)} ready pod(s) of it"
            f"{': ' + ', '.join(sorted(ready)[:5]) if ready else ''}: the workload and its "
            "pods were not read at one moment",
        )


def _service_routes_to_pods(snapshot: ClusterSnapshot, name: str) -> None:
    service = snapshot.get("Service", name)
    if service is None or not (service.get("spec") or {}).get("selector"):
        return  # a Service without a selector routes where its hand-written slices say
    pods = {pod["metadata"].get("uid"): pod for pod in snapshot.of_kind("Pod")}
    for where, address, target in ready_endpoints(snapshot, name):
        if not isinstance(target, dict) or target.get("kind") != "Pod":
            raise EvidenceError(
                snapshot.rel,
                f"{where}.targetRef",
                f"of service/{name}'s ready endpoint {address} names no pod, but the Service "
                "selects pods: where it routes is unknown",
            )
        pod = pods.get(target.get("uid"))
        if pod is None or pod["metadata"]["name"] != target.get("name"):
            raise EvidenceError(
                snapshot.rel,
                f"{where}.targetRef",
                f"routes service/{name} to pod {target.get('name')} (uid {target.get('uid')}), "
                "which this List does not hold",
            )
        _carries_selector(snapshot, pod, service, f"{snapshot.where(pod)}.metadata.labels")
        status = pod.get("status") or {}
        ips = {entry.get("ip") for entry in status.get("podIPs") or [] if isinstance(entry, dict)}
        ips.add(status.get("podIP"))
        if address not in ips:
            raise EvidenceError(
                snapshot.rel,
                f"{where}.addresses",
                f"route service/{name} to {address}, but pod {target.get('name')} has IP "
                f"{status.get('podIP')}",
            )
        deleted = pod["metadata"].get("deletionTimestamp")
        if deleted is not None or not is_ready_pod(pod):
            state = (
                f"is terminating (deletionTimestamp {deleted})"
                if deleted is not None
                else f"is not ready (phase {status.get('phase')}, condition Ready "
                f"{conditions(pod).get('Ready', 'absent')})"
            )
            raise EvidenceError(
                snapshot.rel,
                where,
                f"is a ready endpoint of service/{name}, but pod {target.get('name')} {state}",
            )
