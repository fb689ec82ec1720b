"""``loadcert collect k8s``: snapshot the namespace's workloads with the official client.

Lists every resource of :data:`~pytest_loadcert.collect.k8s_list.RESOURCES` in one
namespace (:mod:`.k8s_list`, through a client configured as kubectl's,
:mod:`.k8s_client`), and writes them as the v1 List that ``kubectl get -o json`` prints:
each item with its ``apiVersion`` and ``kind``, exactly the JSON the API server sent
(``_preload_content=False``: the client's typed objects would rewrite times, drop unknown
fields and lose ``apiVersion``/``kind``), without ``metadata.managedFields`` (kubectl hides
them too), and redacted (:mod:`.redact`).

Fail closed: any failure of any list (403 from RBAC, 5xx, no answer, a body that is not a
complete JSON list, a list that changed under every attempt) stops the collection; nothing
is written, so no partial List can pass for a complete one. The resources are listed one
after another, so a namespace that moves in between gives a List that contradicts itself
(:func:`~pytest_loadcert.evidence.cluster_relations.check_list`: a copy, an owner of another
uid, a status beyond its spec): the whole namespace is listed again, at most
:data:`MAX_LISTINGS` times.

Next to the List, ``cluster/collection.json`` records the namespace, the collection time
(taken after every list completed) and the digest of the List, for ``loadcert seal``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.collect.base import CollectError
from pytest_loadcert.collect.k8s_client import api_client, close, credentials, redact_message
from pytest_loadcert.collect.k8s_list import PAGE_SIZE, RESOURCES, ListResult, list_resource
from pytest_loadcert.collect.redact import redact_items
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.cluster import COLLECTION_SCHEMA, NAMESPACE_RE
from pytest_loadcert.evidence.cluster_relations import check_list
from pytest_loadcert.evidence.hashing import sha256_bytes
from pytest_loadcert.evidence.jsonio import json_bytes, write_atomic, write_json_atomic
from pytest_loadcert.evidence.layout import CLUSTER, COLLECTION
from pytest_loadcert.evidence.timeutil import format_utc, now_utc

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["RESOURCES", "CollectResult", "check_namespace", "collect", "configure", "run"]

HELP = "snapshot the namespace's workloads from the Kubernetes API (cluster/kubernetes.json)"

#: How many times the whole namespace is listed before a List that contradicts itself fails.
MAX_LISTINGS = 3


@dataclass(frozen=True)
class CollectResult:
    """What :func:`collect` wrote."""

    snapshot: Path
    record: Path
    lists: tuple[ListResult, ...]
    collected_at: str


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
    for attempt in range(1, MAX_LISTINGS + 1):
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
            parsed = parse_cluster(document, CLUSTER)
        except EvidenceError as exc:  # the gates could not read it: do not write it
            raise CollectError(str(exc)) from None
        try:
            check_list(parsed)
            break
        except EvidenceError as exc:
            # The resources are listed one after another: a namespace that moved in between
            # gives a List that contradicts itself, which the gates block. List it again.
            if attempt == MAX_LISTINGS:
                raise CollectError(
                    f"the namespace changed while it was listed, {MAX_LISTINGS} times: {exc}. "
                    "Collect again once the cluster is at rest (no rollout, no scaling)"
                ) from None
            log(f"the List contradicts itself ({exc}); listing again ({attempt}/{MAX_LISTINGS})")
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
            close(client)
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
