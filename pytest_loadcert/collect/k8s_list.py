"""Listing one namespaced resource completely, from one snapshot of the API server.

:data:`RESOURCES` is what a cluster snapshot holds. :func:`list_resource` pages through
one of them (``limit`` and ``continue``, as ``kubectl get`` pages) and restarts from the
first page when the continue token expired (HTTP 410) or the pages disagree on the list's
resourceVersion, at most :data:`MAX_RESTARTS` times: pages of two different snapshots are
never joined. Any other failure is a :class:`CollectError` naming the resource and the
namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_loadcert.collect.base import CollectError
from pytest_loadcert.collect.k8s_client import one_line
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import parse_json

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

#: Items per page; ``kubectl get`` asks for 500 too.
PAGE_SIZE = 500


#: Restarts of one list after its continue token expired (HTTP 410 Gone).
MAX_RESTARTS = 3


#: Pages of one list before the collector gives up (a server repeating itself).
MAX_PAGES = 10_000


#: (connect, read) timeout of one request, seconds.
REQUEST_TIMEOUT_S = (10.0, 60.0)


@dataclass(frozen=True)
class Resource:
    """A namespaced resource and the client method that lists it."""

    plural: str
    api_version: str
    kind: str
    api: str
    method: str

    @property
    def label(self) -> str:
        return f"{self.plural} ({self.api_version})"


RESOURCES: tuple[Resource, ...] = (
    Resource("pods", "v1", "Pod", "CoreV1Api", "list_namespaced_pod"),
    Resource("replicasets", "apps/v1", "ReplicaSet", "AppsV1Api", "list_namespaced_replica_set"),
    Resource("deployments", "apps/v1", "Deployment", "AppsV1Api", "list_namespaced_deployment"),
    Resource("statefulsets", "apps/v1", "StatefulSet", "AppsV1Api", "list_namespaced_stateful_set"),
    Resource("daemonsets", "apps/v1", "DaemonSet", "AppsV1Api", "list_namespaced_daemon_set"),
    Resource("jobs", "batch/v1", "Job", "BatchV1Api", "list_namespaced_job"),
    Resource(
        "horizontalpodautoscalers",
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "AutoscalingV2Api",
        "list_namespaced_horizontal_pod_autoscaler",
    ),
    Resource(
        "poddisruptionbudgets",
        "policy/v1",
        "PodDisruptionBudget",
        "PolicyV1Api",
        "list_namespaced_pod_disruption_budget",
    ),
    Resource("services", "v1", "Service", "CoreV1Api", "list_namespaced_service"),
    Resource("endpoints", "v1", "Endpoints", "CoreV1Api", "list_namespaced_endpoints"),
    Resource(
        "endpointslices",
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "DiscoveryV1Api",
        "list_namespaced_endpoint_slice",
    ),
)


@dataclass
class ListResult:
    """One resource, listed completely from a single snapshot."""

    resource: Resource
    items: list[dict[str, Any]] = field(default_factory=list)
    resource_version: str = ""
    pages: int = 0
    restarts: int = 0


class _Expired(Exception):
    """The continue token expired, or the pages disagree: restart the list."""


def _status_message(body: object) -> str:
    """The ``message`` of a Kubernetes Status body, if the body is one."""
    if not isinstance(body, str):
        return ""
    try:
        status = parse_json(body.encode("utf-8"), "Status")
    except EvidenceError:
        return ""
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return one_line(status["message"])
    return ""


def _api_error(resource: Resource, namespace: str, status: int, body: object) -> CollectError:
    what = f"listing {resource.label} in namespace {namespace}"
    detail = _status_message(body)
    suffix = f": {detail}" if detail else ""
    if status == 401:
        return CollectError(f"the API server refused the credentials (HTTP 401) {what}{suffix}")
    if status == 403:
        return CollectError(
            f"forbidden (HTTP 403) {what}{suffix}; the account needs RBAC `list` on "
            f"{resource.plural} in {namespace}"
        )
    if status == 404:
        return CollectError(
            f"not found (HTTP 404) {what}{suffix}; does the cluster serve {resource.api_version}?"
        )
    if status >= 500:
        return CollectError(f"the API server failed (HTTP {status}) {what}{suffix}")
    return CollectError(f"HTTP {status} {what}{suffix}")


def _fetch_page(
    client: ApiClient,
    resource: Resource,
    namespace: str,
    page_size: int,
    token: str | None,
) -> bytes:
    import urllib3
    from kubernetes import client as k8s

    api = getattr(k8s, resource.api)(client)
    kwargs: dict[str, Any] = {
        "limit": page_size,
        "_preload_content": False,
        "_request_timeout": REQUEST_TIMEOUT_S,
    }
    if token is not None:
        kwargs["_continue"] = token
    what = f"listing {resource.label} in namespace {namespace}"
    try:
        response = getattr(api, resource.method)(namespace, **kwargs)
        data = response.data
    except k8s.ApiException as exc:
        if not exc.status:  # the client raises ApiException without a status: no HTTP answer
            raise CollectError(f"no answer from the API server {what}: {exc.reason}") from None
        status = int(exc.status)
        if status == 410 and token is not None:
            raise _Expired from None
        raise _api_error(resource, namespace, status, exc.body) from None
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CollectError(
            f"no complete answer from the API server {what}: {one_line(str(reason))}"
        ) from None
    except OSError as exc:
        raise CollectError(
            f"no complete answer from the API server {what}: {exc.strerror or exc}"
        ) from None
    if not isinstance(data, bytes):
        raise CollectError(f"no response body {what}")
    return data


def _page_items(
    resource: Resource, namespace: str, data: bytes, page: int
) -> tuple[list[dict[str, Any]], str, str | None]:
    """Items, resourceVersion and continue token of one list page; CollectError if malformed."""
    where = f"the API server's answer {'page ' + str(page) + ' ' if page > 1 else ''}listing "
    where += f"{resource.label} in namespace {namespace}"
    try:
        body = parse_json(data, "response")
    except EvidenceError as exc:
        raise CollectError(f"{where} {exc.problem}") from None
    if not isinstance(body, dict):
        raise CollectError(f"{where} is not a JSON object")
    if body.get("kind") != f"{resource.kind}List" or body.get("apiVersion") != (
        resource.api_version
    ):
        raise CollectError(
            f"{where} is a {body.get('kind')!r} of {body.get('apiVersion')!r}, not a "
            f"{resource.kind}List of {resource.api_version}"
        )
    metadata = body.get("metadata")
    items = body.get("items")
    if not isinstance(metadata, dict) or not isinstance(items, list):
        raise CollectError(f"{where} has no metadata or no items list")
    token = metadata.get("continue")
    if token is not None and not isinstance(token, str):
        raise CollectError(f"{where}: metadata.continue is not a string")
    version = metadata.get("resourceVersion")
    if not isinstance(version, str):
        raise CollectError(f"{where}: metadata.resourceVersion is missing")
    result: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        meta = raw.get("metadata") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or not isinstance(meta, dict):
            raise CollectError(f"{where}: items[{index}] has no metadata")
        if not isinstance(meta.get("name"), str) or meta.get("namespace") != namespace:
            raise CollectError(
                f"{where}: items[{index}] is not a named object of namespace {namespace}"
            )
        for key, expected in (("apiVersion", resource.api_version), ("kind", resource.kind)):
            if key in raw and raw[key] != expected:
                raise CollectError(f"{where}: items[{index}].{key} is {raw[key]!r}")
        # As kubectl prints a list: apiVersion and kind on every item, no managedFields.
        item: dict[str, Any] = {"apiVersion": resource.api_version, "kind": resource.kind}
        item.update({k: v for k, v in raw.items() if k not in ("apiVersion", "kind")})
        item["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
        result.append(item)
    return result, version, token or None


def list_resource(
    client: ApiClient,
    resource: Resource,
    namespace: str,
    page_size: int = PAGE_SIZE,
    log: Callable[[str], None] = lambda message: None,
    progress: Callable[[str], None] = lambda status: None,
) -> ListResult:
    """Every item of ``resource`` in ``namespace``, from one consistent snapshot.

    ``progress`` gets a status after each page (shown in place on a terminal).

    Follows ``continue`` tokens; on HTTP 410 (the token expired) or pages that disagree on
    the list's resourceVersion, starts over from the first page, at most
    :data:`MAX_RESTARTS` times. Raises :class:`CollectError` on anything else.
    """
    restarts = 0
    while True:
        result = ListResult(resource, restarts=restarts)
        try:
            _list_once(client, resource, namespace, page_size, result, progress)
            return result
        except _Expired:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise CollectError(
                    f"listing {resource.label} in namespace {namespace}: the list changed "
                    f"under every attempt (HTTP 410 Gone, continue token expired) "
                    f"{restarts} times; try again, or with a larger --page-size"
                ) from None
            log(
                f"{resource.plural}: continue token expired after page {result.pages} "
                f"(HTTP 410); restarting the list ({restarts}/{MAX_RESTARTS})"
            )


def _list_once(
    client: ApiClient,
    resource: Resource,
    namespace: str,
    page_size: int,
    result: ListResult,
    progress: Callable[[str], None],
) -> None:
    token: str | None = None
    seen: set[str] = set()
    while True:
        data = _fetch_page(client, resource, namespace, page_size, token)
        result.pages += 1
        items, version, token = _page_items(resource, namespace, data, result.pages)
        if result.pages == 1:
            result.resource_version = version
        elif version != result.resource_version:
            # A continued list is served from the first page's snapshot; anything else
            # would join two states of the cluster.
            raise _Expired
        result.items.extend(items)
        progress(f"listing {resource.plural}: page {result.pages}, {len(result.items)} items")
        if token is None:
            return
        if token in seen or result.pages >= MAX_PAGES:
            raise CollectError(
                f"listing {resource.label} in namespace {namespace}: the API server keeps "
                f"answering with more pages ({result.pages}); giving up"
            )
        seen.add(token)
