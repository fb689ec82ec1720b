"""The live cluster snapshot (``cluster/kubernetes.json``): a v1 List as ``kubectl get -o json``
prints it, and the readiness facts the gates judge.

Readiness is scoped to the certification workloads named in the profile: a pod counts when
it is owned by a required Deployment (through its ReplicaSet) or StatefulSet. Pods of Jobs,
CronJobs and anything else are ignored, whatever their labels say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.layout import CLUSTER, COLLECTION

#: A Kubernetes namespace name (RFC 1123 label).
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

DIGEST_IN_IMAGE_ID = re.compile(r"(sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class ClusterSnapshot:
    """Items of the List, indexed by kind and name."""

    rel: str
    items: tuple[dict[str, Any], ...]
    _positions: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._positions.update((id(item), index) for index, item in enumerate(self.items))

    def __repr__(self) -> str:
        return f"<ClusterSnapshot {self.rel} ({len(self.items)} items)>"

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Items of ``kind`` in List order."""
        return [item for item in self.items if item["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The item of ``kind`` called ``name``, or None."""
        for item in self.items:
            if item["kind"] == kind and item["metadata"]["name"] == name:
                return item
        return None

    def where(self, item: dict[str, Any]) -> str:
        """A JSON path naming ``item``."""
        return f"items[{self._positions[id(item)]}]"

    def namespaces(self) -> set[str]:
        """Every namespace an item names."""
        return {
            item["metadata"]["namespace"]
            for item in self.items
            if isinstance(item["metadata"].get("namespace"), str)
        }


def parse_cluster(document: Any, rel: str) -> ClusterSnapshot:
    """Check the List's shape; every item needs apiVersion, kind and metadata.name."""
    if not isinstance(document, dict):
        raise EvidenceError(rel, "", "is not a JSON object; expected a v1 List")
    if document.get("kind") != "List" or document.get("apiVersion") != "v1":
        raise EvidenceError(
            rel, "kind", 'must be "List" with apiVersion "v1" (kubectl get -o json)'
        )
    items = document.get("items")
    if not isinstance(items, list):
        raise EvidenceError(rel, "items", "is missing or not a list")
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            raise EvidenceError(rel, where, "must be an object")
        for key in ("apiVersion", "kind"):
            if not isinstance(item.get(key), str):
                raise EvidenceError(rel, f"{where}.{key}", "is missing")
        metadata = item.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise EvidenceError(rel, f"{where}.metadata.name", "is missing")
        for key in ("spec", "status"):
            if key in item and not isinstance(item[key], dict):
                raise EvidenceError(rel, f"{where}.{key}", "must be an object")
        _check_shape(item, rel, where)
    return ClusterSnapshot(rel, tuple(items))


def _objects(value: object, rel: str, field: str, key: str | None = None) -> list[Any]:
    """A list of objects (each with a string ``key``), or absent/null; else EvidenceError."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise EvidenceError(rel, field, "must be a list")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise EvidenceError(rel, f"{field}[{index}]", "must be an object")
        if key is not None and not isinstance(entry.get(key), str):
            raise EvidenceError(rel, f"{field}[{index}].{key}", "must be a string")
    return value


def _check_shape(item: dict[str, Any], rel: str, where: str) -> None:
    """The fields the readiness gates read have the types Kubernetes gives them, or are absent.

    Without this a malformed field (conditions: 5, a label that is a number) reached the
    gates as a TypeError instead of blocking with the field named.
    """
    metadata = item["metadata"]
    labels = metadata.get("labels")
    if labels is not None and (
        not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values())
    ):
        raise EvidenceError(rel, f"{where}.metadata.labels", "must map names to strings")
    _objects(metadata.get("ownerReferences"), rel, f"{where}.metadata.ownerReferences")
    spec, status = item.get("spec") or {}, item.get("status") or {}
    _objects(status.get("conditions"), rel, f"{where}.status.conditions", "type")
    _objects(spec.get("containers"), rel, f"{where}.spec.containers", "name")
    _objects(spec.get("ephemeralContainers"), rel, f"{where}.spec.ephemeralContainers", "name")
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        _objects(status.get(key), rel, f"{where}.status.{key}", "name")
    for index, subset in enumerate(_objects(item.get("subsets"), rel, f"{where}.subsets")):
        _objects(subset.get("addresses"), rel, f"{where}.subsets[{index}].addresses")


# ----------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Check:
    """A readiness fact: ``ok`` with an explanation, or an evidence problem (``blocked``)."""

    ok: bool
    observed: str
    required: str
    source: str


def _int(
    item: dict[str, Any], snapshot: ClusterSnapshot, path: tuple[str, ...], default: int | None
) -> int:
    node: Any = item
    for key in path:
        if not isinstance(node, dict) or key not in node:
            if default is None:
                raise EvidenceError(
                    snapshot.rel, f"{snapshot.where(item)}.{'.'.join(path)}", "is missing"
                )
            return default
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int) or node < 0:
        raise EvidenceError(
            snapshot.rel,
            f"{snapshot.where(item)}.{'.'.join(path)}",
            "must be a non-negative integer",
        )
    return node


def condition(item: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The ``status.conditions`` entry of type ``kind`` (with its reason and times), or None."""
    for entry in (item.get("status") or {}).get("conditions") or []:
        if isinstance(entry, dict) and entry.get("type") == kind:
            return entry
    return None


def conditions(item: dict[str, Any]) -> dict[Any, Any]:
    """``status.conditions`` as type -> status ("True", "False", "Unknown")."""
    return {
        c.get("type"): c.get("status")
        for c in (item.get("status") or {}).get("conditions") or []
        if isinstance(c, dict)
    }


def refuse_deleted(snapshot: ClusterSnapshot, item: dict[str, Any]) -> None:
    """EvidenceError when ``item`` carries a ``deletionTimestamp``: an object being deleted
    is not the steady state the load ran against."""
    deleted = item["metadata"].get("deletionTimestamp")
    if deleted is not None:
        raise EvidenceError(
            snapshot.rel,
            f"{snapshot.where(item)}.metadata.deletionTimestamp",
            f"is {deleted}: {item['kind'].lower()}/{item['metadata']['name']} is being deleted, "
            "so the snapshot is not the steady state the load ran against",
        )


def rollout_in_progress(snapshot: ClusterSnapshot, item: dict[str, Any]) -> str | None:
    """Why a Deployment's or StatefulSet's rollout is not complete, or None.

    A Deployment: fewer updated replicas than wanted, replicas beyond the wanted (old ones
    still there), a ``Progressing`` condition other than ``NewReplicaSetAvailable``, or more
    than one of its ReplicaSets with pods. A StatefulSet: fewer updated replicas than wanted,
    or a current revision other than the update revision.
    """
    label = f"{item['kind'].lower()}/{item['metadata']['name']}"
    status = item.get("status") or {}
    wanted = _int(item, snapshot, ("spec", "replicas"), 1)
    updated = _int(item, snapshot, ("status", "updatedReplicas"), 0)
    total = _int(item, snapshot, ("status", "replicas"), 0)
    if updated < wanted:
        return f"{label} has {updated} of {wanted} replicas updated to its current template"
    if item["kind"] == "StatefulSet":
        if status.get("currentRevision") != status.get("updateRevision"):
            return (
                f"{label} is at revision {status.get('currentRevision')}, updating to "
                f"{status.get('updateRevision')}"
            )
        return None
    if total > wanted:
        return f"{label} has {total} replicas for {wanted} wanted: old ones are still running"
    progressing = condition(item, "Progressing")
    if progressing is not None and (
        progressing.get("status") != "True" or progressing.get("reason") != "NewReplicaSetAvailable"
    ):
        return (
            f"{label} condition Progressing is {progressing.get('status')} "
            f"({progressing.get('reason')}), not True (NewReplicaSetAvailable)"
        )
    name = item["metadata"]["name"]
    active = [
        rs["metadata"]["name"]
        for rs in snapshot.of_kind("ReplicaSet")
        if deployment_of_replica_set(rs) == name
        and (
            _int(rs, snapshot, ("status", "replicas"), 0) > 0
            or _int(rs, snapshot, ("spec", "replicas"), 0) > 0
        )
    ]
    if len(active) > 1:
        return f"{label} has {len(active)} ReplicaSets with pods: {', '.join(sorted(active))}"
    return None


def replicas_ready(snapshot: ClusterSnapshot, kind: str, name: str) -> Check:
    """A Deployment or StatefulSet: present, not being deleted, at least one replica wanted,
    its rollout complete (else EvidenceError: the snapshot shows no one version), all of its
    replicas ready."""
    item = snapshot.get(kind, name)
    label = f"{kind.lower()}/{name}"
    if item is None:
        return Check(False, f"{label} is not in the snapshot", "present and ready", snapshot.rel)
    refuse_deleted(snapshot, item)
    where = snapshot.where(item)
    desired = _int(item, snapshot, ("spec", "replicas"), 1)
    # Kubernetes omits readyReplicas when no replica is ready: absent means none.
    ready = _int(item, snapshot, ("status", "readyReplicas"), 0)
    generation = item["metadata"].get("generation")
    observed_gen = (item.get("status") or {}).get("observedGeneration")
    source = f"{snapshot.rel} {where}"
    if desired < 1:
        return Check(False, f"{label} is scaled to 0 replicas", ">= 1 replica", source)
    if isinstance(generation, int) and isinstance(observed_gen, int) and observed_gen < generation:
        return Check(
            False,
            f"{label} status is for generation {observed_gen}, spec is {generation}",
            "controller caught up",
            source,
        )
    rollout = rollout_in_progress(snapshot, item)
    if rollout is not None:
        raise EvidenceError(
            snapshot.rel,
            f"{where}.status",
            f"says a rollout is in progress ({rollout}): the snapshot does not show one "
            "version of the system the load ran against",
        )
    return Check(
        ready >= desired, f"{ready}/{desired} replicas ready", f"{desired}/{desired}", source
    )


def hpa_active(snapshot: ClusterSnapshot, name: str) -> Check:
    """An HPA: present, scaling a workload of the snapshot, able to scale and actively
    scaling, at or above its minimum, and with headroom: below its maximum and not limited
    on the way up (``ScalingLimited`` True for any reason but ``TooFewReplicas`` or
    ``ScaleDownLimit``). At its maximum the system ran out of room to absorb the load."""
    item = snapshot.get("HorizontalPodAutoscaler", name)
    if item is None:
        return Check(False, f"hpa/{name} is not in the snapshot", "present", snapshot.rel)
    refuse_deleted(snapshot, item)
    where = snapshot.where(item)
    source = f"{snapshot.rel} {where}"
    target = (item.get("spec") or {}).get("scaleTargetRef")
    target = target if isinstance(target, dict) else {}
    kind, scaled = str(target.get("kind", "?")), str(target.get("name", "?"))
    if snapshot.get(kind, scaled) is None:
        raise EvidenceError(
            snapshot.rel,
            f"{where}.spec.scaleTargetRef",
            f"of hpa/{name} names {kind}/{scaled}, which the snapshot does not hold: what it "
            "scales is unknown",
        )
    minimum = _int(item, snapshot, ("spec", "minReplicas"), 1)
    maximum = _int(item, snapshot, ("spec", "maxReplicas"), None)
    current = _int(item, snapshot, ("status", "currentReplicas"), None)
    states = conditions(item)
    for kind in ("AbleToScale", "ScalingActive"):
        if states.get(kind) == "False":
            return Check(False, f"hpa/{name} condition {kind} is False", f"{kind} True", source)
    if current < minimum:
        return Check(False, f"{current} current replicas", f">= minReplicas {minimum}", source)
    required = f"below maxReplicas {maximum}, ScalingLimited not True on the way up"
    if current >= maximum:
        return Check(
            False,
            f"{current} current replicas, at maxReplicas {maximum}: no headroom left",
            required,
            source,
        )
    limited = condition(item, "ScalingLimited")
    if (
        limited is not None
        and limited.get("status") == "True"
        and limited.get("reason") not in ("TooFewReplicas", "ScaleDownLimit")
    ):
        return Check(
            False,
            f"condition ScalingLimited is True ({limited.get('reason')}: "
            f"{limited.get('message', '')})",
            required,
            source,
        )
    return Check(True, f"{current} current replicas of {minimum}..{maximum}", required, source)


def pdb_healthy(snapshot: ClusterSnapshot, name: str) -> Check:
    """A PodDisruptionBudget: present, current healthy pods at least the desired count."""
    item = snapshot.get("PodDisruptionBudget", name)
    if item is None:
        return Check(False, f"pdb/{name} is not in the snapshot", "present", snapshot.rel)
    refuse_deleted(snapshot, item)
    source = f"{snapshot.rel} {snapshot.where(item)}"
    current = _int(item, snapshot, ("status", "currentHealthy"), None)
    desired = _int(item, snapshot, ("status", "desiredHealthy"), None)
    return Check(current >= desired, f"{current} healthy", f">= desiredHealthy {desired}", source)


def service_slices(snapshot: ClusterSnapshot, name: str) -> list[dict[str, Any]]:
    """The EndpointSlices labelled ``kubernetes.io/service-name: <name>``."""
    return [
        slice_
        for slice_ in snapshot.of_kind("EndpointSlice")
        if (slice_["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name
    ]


def service_endpoints(snapshot: ClusterSnapshot, name: str) -> Check:
    """A Service with at least one ready endpoint.

    EndpointSlices (discovery.k8s.io/v1) labelled ``kubernetes.io/service-name: <name>``
    decide when the snapshot holds any: they are what kube-proxy routes by, and v1 Endpoints
    is deprecated and capped at 1000 addresses. Otherwise the Endpoints object ``<name>``
    decides. See :func:`ready_endpoints` for what counts as ready.
    """
    service = snapshot.get("Service", name)
    if service is None:
        return Check(False, f"service/{name} is not in the snapshot", "present", snapshot.rel)
    refuse_deleted(snapshot, service)
    if not snapshot.of_kind("Endpoints") and not snapshot.of_kind("EndpointSlice"):
        raise EvidenceError(
            snapshot.rel, "items", "holds no Endpoints or EndpointSlices: service readiness unknown"
        )
    own = service_slices(snapshot, name)
    if own:
        ready = {
            _identity(address, target) for _, address, target in ready_endpoints(snapshot, name)
        }
        where = ", ".join(snapshot.where(slice_) for slice_ in own)
        return Check(
            bool(ready),
            f"{len(ready)} ready endpoint(s) in {len(own)} EndpointSlice(s)",
            ">= 1",
            f"{snapshot.rel} {where}",
        )
    entry = snapshot.get("Endpoints", name)
    if entry is None:
        return Check(
            False,
            f"no EndpointSlice labelled kubernetes.io/service-name={name} and no Endpoints {name}",
            ">= 1 ready endpoint",
            snapshot.rel,
        )
    count = len(ready_endpoints(snapshot, name))
    return Check(
        count > 0,
        f"{count} ready address(es) in Endpoints {name}",
        ">= 1",
        f"{snapshot.rel} {snapshot.where(entry)}",
    )


def _identity(address: str, target: Any) -> str:
    """A ready endpoint's pod: its ``targetRef.uid`` (so dual-stack slices do not count a pod
    twice), else its address."""
    uid = target.get("uid") if isinstance(target, dict) else None
    return f"uid:{uid}" if isinstance(uid, str) and uid else f"address:{address}"


def ready_endpoints(snapshot: ClusterSnapshot, name: str) -> list[tuple[str, str, Any]]:
    """(JSON path, address, targetRef) of each ready, not terminating address the Service
    ``name`` routes to: its EndpointSlices when the List holds any, else its Endpoints.

    Per the discovery.k8s.io/v1 API, an absent ``conditions.ready`` means ready and an absent
    ``terminating`` means not terminating. A terminating endpoint is not counted even when
    marked ready (``publishNotReadyAddresses``): it is on its way out. Conditions that are
    not booleans, or a ready endpoint without addresses, are invalid evidence.
    """
    own = service_slices(snapshot, name)
    if not own:
        entry = snapshot.get("Endpoints", name)
        if entry is None:
            return []
        found = []
        for i, subset in enumerate(entry.get("subsets") or []):
            for j, address in enumerate(subset.get("addresses") or []):
                if isinstance(address, dict):
                    path = f"{snapshot.where(entry)}.subsets[{i}].addresses[{j}]"
                    found.append((path, str(address.get("ip")), address.get("targetRef")))
        return found
    return [found for slice_ in own for found in _slice_ready(snapshot, slice_)]


def _slice_ready(snapshot: ClusterSnapshot, slice_: dict[str, Any]) -> list[tuple[str, str, Any]]:
    where = snapshot.where(slice_)
    raw = slice_.get("endpoints")
    if raw is None:  # the API server sends null for a slice without endpoints
        return []
    if not isinstance(raw, list):
        raise EvidenceError(snapshot.rel, f"{where}.endpoints", "must be a list")
    ready = []
    for index, endpoint in enumerate(raw):
        path = f"{where}.endpoints[{index}]"
        if not isinstance(endpoint, dict):
            raise EvidenceError(snapshot.rel, path, "must be an object")
        states = endpoint.get("conditions")
        if states is None:
            states = {}
        if not isinstance(states, dict):
            raise EvidenceError(snapshot.rel, f"{path}.conditions", "must be an object")
        for key in ("ready", "terminating"):
            if states.get(key) is not None and not isinstance(states[key], bool):
                raise EvidenceError(
                    snapshot.rel, f"{path}.conditions.{key}", "must be true, false or absent"
                )
        if states.get("ready") is False or states.get("terminating") is True:
            continue
        addresses = endpoint.get("addresses")
        if not isinstance(addresses, list) or not addresses:
            raise EvidenceError(snapshot.rel, f"{path}.addresses", "is missing or empty")
        for address in addresses:
            ready.append((path, str(address), endpoint.get("targetRef")))
    return ready


def owners(item: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (kind, name) in ``ownerReferences``; the ``controller`` flag is not trusted to
    be present, so any reference to a certification workload makes a pod count."""
    return [
        (str(ref.get("kind")), str(ref.get("name")))
        for ref in item["metadata"].get("ownerReferences") or []
        if isinstance(ref, dict)
    ]


def deployment_of_replica_set(replica_set: dict[str, Any]) -> str | None:
    """The Deployment a ReplicaSet's owner references name, or None."""
    for kind, name in owners(replica_set):
        if kind == "Deployment":
            return name
    return None


def is_ready_pod(pod: dict[str, Any]) -> bool:
    """Running with condition Ready True: what a workload's ``readyReplicas`` counts."""
    return (pod.get("status") or {}).get("phase") == "Running" and conditions(pod).get(
        "Ready"
    ) == "True"


def _workload_of(
    pod: dict[str, Any],
    replica_sets: dict[str, str],
    deployments: tuple[str, ...],
    statefulsets: tuple[str, ...],
) -> str | None:
    for kind, name in owners(pod):
        if kind == "StatefulSet" and name in statefulsets:
            return f"statefulset/{name}"
        if kind == "ReplicaSet":
            deployment = replica_sets.get(name)
            if deployment is None:
                template_hash = (pod["metadata"].get("labels") or {}).get("pod-template-hash")
                if template_hash and name.endswith(f"-{template_hash}"):
                    deployment = name[: -len(template_hash) - 1]
            if deployment in deployments:
                return f"deployment/{deployment}"
    return None


def certification_pods(
    snapshot: ClusterSnapshot, deployments: tuple[str, ...], statefulsets: tuple[str, ...]
) -> list[tuple[str, dict[str, Any]]]:
    """Pods owned by a required workload, as (workload label, pod).

    A Deployment's pod is owned by a ReplicaSet named ``<deployment>-<pod-template-hash>``;
    when the ReplicaSet is in the snapshot its own owner reference decides.
    """
    replica_sets = {
        rs["metadata"]["name"]: name
        for rs in snapshot.of_kind("ReplicaSet")
        if (name := deployment_of_replica_set(rs)) is not None
    }
    pods: list[tuple[str, dict[str, Any]]] = []
    for pod in snapshot.of_kind("Pod"):
        workload = _workload_of(pod, replica_sets, deployments, statefulsets)
        if workload is not None:
            pods.append((workload, pod))
    return pods


def pod_not_ready_reason(pod: dict[str, Any]) -> str | None:
    """Why a certification pod is not Running and ready, or None when it is."""
    status = pod.get("status") or {}
    name = pod["metadata"]["name"]
    phase = status.get("phase")
    if phase != "Running":
        return f"pod {name} is {phase or 'without a phase'}"
    states = conditions(pod)
    if states.get("Ready") != "True":
        return f"pod {name} condition Ready is {states.get('Ready', 'absent')}"
    spec_containers = [
        c.get("name")
        for c in (pod.get("spec") or {}).get("containers") or []
        if isinstance(c, dict)
    ]
    statuses = {
        s.get("name"): s for s in status.get("containerStatuses") or [] if isinstance(s, dict)
    }
    if not statuses:
        return f"pod {name} has no containerStatuses"
    for container in spec_containers or list(statuses):
        entry = statuses.get(container)
        if entry is None:
            return f"pod {name} container {container} has no status"
        if entry.get("ready") is not True:
            return f"pod {name} container {container} is not ready"
    return None


def running_digests(snapshot: ClusterSnapshot, pod: dict[str, Any]) -> list[tuple[str, str]]:
    """(container, digest) for every container, init container and ephemeral container
    (``kubectl debug``) status of ``pod``.

    The digest is the ``sha256:`` part of ``imageID``; a container without one raises, and
    so does a container or ephemeral container of the spec without a status.
    """
    status = pod.get("status") or {}
    where = snapshot.where(pod)
    result: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        ephemeral = key == "ephemeralContainerStatuses"
        for index, entry in enumerate(status.get(key) or []):
            if not isinstance(entry, dict):
                continue
            name = str(entry.get("name"))
            seen.add((key, name))
            image_id = entry.get("imageID")
            match = DIGEST_IN_IMAGE_ID.search(image_id) if isinstance(image_id, str) else None
            if match is None:
                raise EvidenceError(
                    snapshot.rel,
                    f"{where}.status.{key}[{index}].imageID",
                    "has no sha256 digest: the running image cannot be bound",
                )
            label = f"{name} (ephemeral, kubectl debug)" if ephemeral else name
            result.append((label, match.group(1)))
    spec = pod.get("spec") or {}
    for spec_key, key in (
        ("containers", "containerStatuses"),
        ("ephemeralContainers", "ephemeralContainerStatuses"),
    ):
        for container in spec.get(spec_key) or []:
            name = str(container.get("name")) if isinstance(container, dict) else "?"
            if (key, name) not in seen:
                raise EvidenceError(
                    snapshot.rel,
                    f"{where}.status.{key}",
                    f"has no status for {spec_key[:-1]} {name}: its image is unknown",
                )
    return result


COLLECTION_SCHEMA = "loadcert-k8s-collection/v1"


def read_record(root: Path) -> dict[str, str]:
    """``{"namespace", "collected_at"}`` from ``cluster/collection.json``, for ``loadcert seal``.

    The record must describe the List next to it: its ``snapshot.sha256`` must be the digest
    of ``cluster/kubernetes.json`` as it is now. Raises :class:`EvidenceError` otherwise.
    """
    from pytest_loadcert.evidence.hashing import is_digest, sha256_file
    from pytest_loadcert.evidence.jsonio import read_bytes, read_json
    from pytest_loadcert.evidence.timeutil import parse_utc

    record = read_json(root / COLLECTION, COLLECTION)
    if not isinstance(record, dict):
        raise EvidenceError(COLLECTION, "", "is not a JSON object")
    if record.get("schema") != COLLECTION_SCHEMA:
        raise EvidenceError(COLLECTION, "schema", f"must be {COLLECTION_SCHEMA!r}")
    namespace = record.get("namespace")
    if not isinstance(namespace, str) or not NAMESPACE_RE.fullmatch(namespace):
        raise EvidenceError(COLLECTION, "namespace", "is missing or not a namespace name")
    collected_at = record.get("collected_at")
    if parse_utc(collected_at) is None:
        raise EvidenceError(COLLECTION, "collected_at", "is not an RFC 3339 UTC time (...Z)")
    snapshot = record.get("snapshot")
    if not isinstance(snapshot, dict) or snapshot.get("path") != CLUSTER:
        raise EvidenceError(COLLECTION, "snapshot.path", f"must be {CLUSTER!r}")
    if not is_digest(snapshot.get("sha256")):
        raise EvidenceError(COLLECTION, "snapshot.sha256", "is not sha256:<64 hex>")
    read_bytes(root / CLUSTER, CLUSTER)  # a regular file, or EvidenceError
    if sha256_file(root / CLUSTER) != snapshot["sha256"]:
        raise EvidenceError(
            COLLECTION,
            "snapshot.sha256",
            f"does not match {CLUSTER}: the List is not the one this collection wrote",
        )
    return {"namespace": namespace, "collected_at": str(collected_at)}
