"""``loadcert collect k8s``: snapshot the namespace's workloads with the official client.

Lists every resource of :data:`RESOURCES` in one namespace, page by page (``limit`` and
``continue``, as ``kubectl get`` pages), and writes them as the v1 List that
``kubectl get -o json`` prints: each item with its ``apiVersion`` and ``kind``, exactly the
JSON the API server sent (``_preload_content=False``: the client's typed objects would
rewrite times, drop unknown fields and lose ``apiVersion``/``kind``), without
``metadata.managedFields`` (kubectl hides them too), and redacted (:mod:`.redact`).

Fail closed:

- A list whose continue token expired (HTTP 410) is restarted from its first page, at most
  :data:`MAX_RESTARTS` times: pages of two different snapshots are never joined.
- Any other failure (403 from RBAC, 5xx, no answer, a body that is not a complete JSON list)
  stops the collection; nothing is written, so no partial List can pass for a complete one.

Next to the List, ``cluster/collection.json`` records the namespace, the collection time
(taken after every list completed) and the digest of the List, for ``loadcert seal``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_loadcert import cliopts
from pytest_loadcert.collect.base import CollectError
from pytest_loadcert.collect.redact import redact_items
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.cluster import COLLECTION_SCHEMA, NAMESPACE_RE
from pytest_loadcert.evidence.hashing import sha256_bytes
from pytest_loadcert.evidence.jsonio import json_bytes, parse_json, write_atomic, write_json_atomic
from pytest_loadcert.evidence.layout import CLUSTER, COLLECTION
from pytest_loadcert.evidence.timeutil import format_utc, now_utc

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

HELP = "snapshot the namespace's workloads from the Kubernetes API (cluster/kubernetes.json)"

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


@dataclass(frozen=True)
class CollectResult:
    """What :func:`collect` wrote."""

    snapshot: Path
    record: Path
    lists: tuple[ListResult, ...]
    collected_at: str


# ----------------------------------------------------------------------------- client


def api_client(
    kubeconfig: Path | None = None, context: str | None = None, in_cluster: bool = False
) -> ApiClient:
    """A client configured like kubectl: ``kubeconfig`` (default ``$KUBECONFIG``, else
    ``~/.kube/config``) and ``context`` (default its current context), or the pod's service
    account with ``in_cluster``. Proxies come from ``HTTPS_PROXY``/``NO_PROXY`` as for
    kubectl. Raises :class:`CollectError` (2) when no usable configuration is found."""
    import yaml
    from kubernetes import client

    # Loosely typed on purpose: typing differs between client versions (py.typed from 37 on).
    config: Any = importlib.import_module("kubernetes.config")
    configuration = client.Configuration()
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=str(kubeconfig) if kubeconfig is not None else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except config.ConfigException as exc:
        where = "in-cluster configuration" if in_cluster else f"kubeconfig {kubeconfig or ''}"
        raise CollectError(
            f"{where.strip()}: {_one_line(str(exc))}", exit_status=cliopts.EXIT_USAGE
        ) from None
    except OSError as exc:
        raise CollectError(
            f"{exc.filename or kubeconfig}: {exc.strerror or exc}", exit_status=cliopts.EXIT_USAGE
        ) from None
    except yaml.YAMLError:
        raise CollectError(
            f"kubeconfig {kubeconfig or ''}: is not valid YAML", cliopts.EXIT_USAGE
        ) from None
    except UnicodeDecodeError:
        raise CollectError(
            f"kubeconfig {kubeconfig or ''}: is not UTF-8", cliopts.EXIT_USAGE
        ) from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # The client's loader assumes YAML maps and lists of the documented shape; any other
        # shape (a list at the top, `contexts: 5`, an unparsable server URL) fails inside it.
        # Only the exception's type is shown: its text could quote a value of the file.
        where = "in-cluster configuration" if in_cluster else f"kubeconfig {kubeconfig or ''}"
        raise CollectError(
            f"{where.strip()}: is not a valid kubeconfig: a field has the wrong type or value "
            f"({type(exc).__name__} in the kubernetes client's loader)",
            exit_status=cliopts.EXIT_USAGE,
        ) from None
    # The Authorization header, under "authorization" or (client 37) "BearerToken".
    headers = [v for v in configuration.api_key.values() if isinstance(v, str)]
    if any(ord(c) < 0x20 or ord(c) == 0x7F or ord(c) > 0xFF for h in headers for c in h):
        # http.client would refuse the header with an exception quoting the credential.
        where = "in-cluster token" if in_cluster else f"kubeconfig {kubeconfig or ''}".strip()
        raise CollectError(
            f"{where}: the user's credential holds a line break, a control character or a "
            "character outside Latin-1, which an HTTP header cannot carry; the value is not "
            "shown",
            exit_status=cliopts.EXIT_USAGE,
        )
    return client.ApiClient(configuration)


def credentials(configuration: Any) -> list[str]:
    """Every credential value of a client ``configuration`` that a message could echo: the
    ``Authorization`` header, its credential part and, for basic auth, the password."""
    import base64
    import binascii

    values: set[str] = set()
    for header in configuration.api_key.values():
        if not isinstance(header, str) or not header.strip():
            continue
        scheme, _, credential = header.partition(" ")
        values |= {header, credential.strip()}
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(credential.strip(), validate=True).decode("latin-1")
            except (binascii.Error, ValueError):
                pair = ""
            values.add(pair.partition(":")[2])
    return sorted((value for value in values if len(value) >= 4), key=len, reverse=True)


def redact_message(text: str, secrets: list[str]) -> str:
    """``text`` with every value of ``secrets`` (raw or JSON-escaped) replaced."""
    import json

    for secret in secrets:
        for form in (secret, json.dumps(secret)[1:-1]):
            text = text.replace(form, "[REDACTED]")
    return text


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _status_message(body: object) -> str:
    """The ``message`` of a Kubernetes Status body, if the body is one."""
    if not isinstance(body, str):
        return ""
    try:
        status = parse_json(body.encode("utf-8"), "Status")
    except EvidenceError:
        return ""
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return _one_line(status["message"])
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


# ----------------------------------------------------------------------------- listing


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
            f"no complete answer from the API server {what}: {_one_line(str(reason))}"
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


# ----------------------------------------------------------------------------- collecting


def check_namespace(namespace: str) -> str:
    """``namespace`` if it is a valid Kubernetes namespace name, else CollectError (2)."""
    if not NAMESPACE_RE.fullmatch(namespace):
        raise CollectError(
            f"--namespace {namespace!r}: not a Kubernetes namespace name "
            "(lowercase letters, digits and '-', at most 63)",
            exit_status=cliopts.EXIT_USAGE,
        )
    return namespace


def collect(
    client: ApiClient,
    namespace: str,
    evidence_dir: Path,
    *,
    page_size: int = PAGE_SIZE,
    clock: Callable[[], datetime] = now_utc,
    log: Callable[[str], None] = lambda message: None,
    progress: Callable[[str], None] = lambda status: None,
) -> CollectResult:
    """List :data:`RESOURCES` in ``namespace`` and write the snapshot and its record.

    ``log`` gets a line per resource listed, ``progress`` a status per page and resource
    (``listing pods: page 3, 1500 items``; shown in place on a terminal).

    Nothing is written unless every list completed. Raises :class:`CollectError`.
    """
    from kubernetes import __version__ as client_version

    from pytest_loadcert.evidence.cluster import parse_cluster

    check_namespace(namespace)
    if not evidence_dir.is_dir():
        raise CollectError(
            f"--evidence-dir {evidence_dir}: not a directory", exit_status=cliopts.EXIT_USAGE
        )
    if page_size < 1:
        raise CollectError(
            f"--page-size {page_size}: must be at least 1", exit_status=cliopts.EXIT_USAGE
        )
    started_at = format_utc(clock())
    lists: list[ListResult] = []
    for number, resource in enumerate(RESOURCES, 1):
        progress(f"listing {resource.plural} ({number} of {len(RESOURCES)} resources)")
        listed = list_resource(client, resource, namespace, page_size, log, progress)
        log(f"{resource.plural}: {len(listed.items)} items ({listed.pages} page(s))")
        lists.append(listed)
    # The snapshot shows the cluster as of the last answer, not the first request.
    collected_at = format_utc(clock())

    items, redactions = redact_items([item for listed in lists for item in listed.items])
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": items,
    }
    try:
        parse_cluster(document, CLUSTER)
    except EvidenceError as exc:  # the gates could not read it: do not write it
        raise CollectError(str(exc)) from None
    data = json_bytes(document)
    record = {
        "schema": COLLECTION_SCHEMA,
        "namespace": namespace,
        "started_at": started_at,
        "collected_at": collected_at,
        "snapshot": {"path": CLUSTER, "sha256": sha256_bytes(data)},
        "resources": [
            {
                "resource": listed.resource.plural,
                "apiVersion": listed.resource.api_version,
                "kind": listed.resource.kind,
                "items": len(listed.items),
                "resourceVersion": listed.resource_version,
                "pages": listed.pages,
                "restarts": listed.restarts,
            }
            for listed in lists
        ],
        "redaction": redactions.as_json(),
        "client": f"kubernetes (Python) {client_version}",
    }
    snapshot = evidence_dir / CLUSTER
    record_path = evidence_dir / COLLECTION
    # The List first: if the record write fails, an older record no longer matches the
    # List's digest and `loadcert seal` refuses the pair.
    write_atomic(snapshot, data)
    write_json_atomic(record_path, record)
    return CollectResult(snapshot, record_path, tuple(lists), collected_at)


# ----------------------------------------------------------------------------- command line


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert collect k8s``."""
    parser.add_argument(
        "--namespace", required=True, metavar="NS", help="the namespace under certification"
    )
    cliopts.add_evidence_dir(parser)
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)",
    )
    parser.add_argument(
        "--context", metavar="NAME", help="kubeconfig context (default: the current context)"
    )
    parser.add_argument(
        "--in-cluster",
        action="store_true",
        help="use the pod's service account (when running inside the cluster)",
    )
    parser.add_argument(
        "--page-size",
        type=cliopts.positive_int,
        default=PAGE_SIZE,
        metavar="N",
        help=f"items per list request (default {PAGE_SIZE}, as kubectl)",
    )


def _close(client: ApiClient) -> None:
    closer: Any = client.close
    closer()


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert collect k8s``: 0 when every list completed and was written, else 1 (2: usage)."""
    cliopts.require("collect", "kubernetes")

    from pytest_loadcert.collect.progress import StatusLine

    status = StatusLine(getattr(ns, "prog", "loadcert"))

    def log(message: str) -> None:
        status.log(message)

    if ns.in_cluster and (ns.kubeconfig is not None or ns.context is not None):
        return cliopts.error(
            ns, "--in-cluster excludes --kubeconfig and --context", cliopts.EXIT_USAGE
        )
    secrets: list[str] = []
    try:
        check_namespace(ns.namespace)
        if not ns.evidence_dir.is_dir():
            raise CollectError(
                f"--evidence-dir {ns.evidence_dir}: not a directory", cliopts.EXIT_USAGE
            )
        client = api_client(ns.kubeconfig, ns.context, ns.in_cluster)
        secrets = credentials(client.configuration)
        try:
            with status:
                result = collect(
                    client,
                    ns.namespace,
                    ns.evidence_dir,
                    page_size=ns.page_size,
                    log=log,
                    progress=status.update,
                )
        finally:
            _close(client)
    except CollectError as exc:
        # An API server's Status message may quote the credential it refused.
        message = redact_message(str(exc), secrets)
        if exc.exit_status == cliopts.EXIT_FAILED:
            return cliopts.error(ns, f"{message}; nothing written", exc.exit_status)
        return cliopts.error(ns, message, exc.exit_status)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    total = sum(len(listed.items) for listed in result.lists)
    print(f"{result.snapshot}: written; {total} objects in {ns.namespace}")
    print(f"{result.record}: written; collected_at {result.collected_at}")
    return cliopts.EXIT_OK


# ----------------------------------------------------------------------------- the record
