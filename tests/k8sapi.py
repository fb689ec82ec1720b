"""A Kubernetes API server stand-in on 127.0.0.1 that replays recorded response bodies.

No API server can run on this machine, so the official ``kubernetes`` client (and
``kubectl``) are tested against this one. It serves:

- discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>/<version>``
  (``fixtures/k8s-api/discovery/``; enough for ``kubectl get``);
- namespaced lists, ``GET /api/v1/namespaces/<ns>/<plural>`` and
  ``GET /apis/<group>/<version>/namespaces/<ns>/<plural>``, from
  ``fixtures/k8s-api/lists/<plural>.json`` (or lists set with :meth:`KubeAPI.set_list`),
  paginated as the real server does: ``limit`` items per page, an opaque ``metadata.continue``
  token (base64 JSON of the snapshot's resourceVersion and the next key, as kube-apiserver
  writes it) and ``metadata.remainingItemCount``. A continue token of a list that has changed
  since is answered ``410 Gone`` with the ``Expired`` Status, as after an etcd compaction.

Faults are injected per list (:meth:`fail`, :meth:`truncate`, :meth:`change_after`), and every
request is recorded (:attr:`KubeAPI.requests`) with its headers. Imports nothing from pytest
or ``pytest_loadcert``::

    with KubeAPI() as api:
        api.fail("pods", 403)
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", token="...")
"""

from __future__ import annotations

import base64
import copy
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "k8s-api"


@dataclass(frozen=True)
class Seen:
    """One request the server answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Fault:
    plural: str
    on_request: int | None  # the n-th request for this list (1-based); None: every one
    status: int = 0
    body: bytes = b""
    truncate: str = ""  # "" | "short-read" (connection closed early) | "cut-json"


@dataclass
class _List:
    body: dict[str, Any]
    version: int
    served: int = 0
    change: tuple[int, list[dict[str, Any]]] | None = None
    faults: list[_Fault] = field(default_factory=list)


def load(rel: str) -> Any:
    """A fixture file of ``fixtures/k8s-api`` as JSON."""
    return json.loads((FIXTURES / rel).read_text())


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (for "server down")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KubeAPI:
    """The stand-in server; ``url`` is ``http://127.0.0.1:<port>`` once started."""

    def __init__(self, namespace: str = "shop", fixtures: Path = FIXTURES) -> None:
        self.namespace = namespace
        self.fixtures = fixtures
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._lists: dict[str, _List] = {}
        self._discovery: dict[str, Any] = {}
        for path in sorted((fixtures / "discovery").glob("*.json")):
            url = "/" + path.stem.replace("__", "/")
            self._discovery[url] = json.loads(path.read_text())
        for path in sorted((fixtures / "lists").glob("*.json")):
            self.set_list(path.stem, json.loads(path.read_text()))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ state

    def set_list(self, plural: str, body: dict[str, Any]) -> None:
        """Serve ``body`` (a ``<Kind>List`` as the server sends it) for ``plural``."""
        with self._lock:
            old = self._lists.get(plural)
            version = int(body.get("metadata", {}).get("resourceVersion") or 1)
            if old is not None:
                version = max(version, old.version + 1)
            entry = _List(copy.deepcopy(body), version)
            entry.body["metadata"]["resourceVersion"] = str(version)
            if old is not None:
                entry.faults = old.faults
                entry.served = old.served
            self._lists[plural] = entry

    def items(self, plural: str) -> list[dict[str, Any]]:
        """The items currently served for ``plural`` (a copy)."""
        with self._lock:
            return copy.deepcopy(self._lists[plural].body["items"])

    def set_items(self, plural: str, items: list[dict[str, Any]]) -> None:
        """Replace the items of ``plural``; the list gets a new resourceVersion."""
        with self._lock:
            body = copy.deepcopy(self._lists[plural].body)
        body["items"] = copy.deepcopy(items)
        self.set_list(plural, body)

    def change_after(self, plural: str, request: int, items: list[dict[str, Any]]) -> None:
        """After answering the ``request``-th request for ``plural``, serve ``items`` (a new
        resourceVersion: continue tokens handed out before then expire)."""
        with self._lock:
            self._lists[plural].change = (request, copy.deepcopy(items))

    def fail(
        self,
        plural: str,
        status: int,
        *,
        on_request: int | None = None,
        body: dict[str, Any] | bytes | None = None,
    ) -> None:
        """Answer requests for ``plural`` with ``status`` (every one, or the n-th only).

        The body defaults to the recorded Status of that code in ``fixtures/k8s-api/status``.
        """
        if body is None:
            matches = sorted((self.fixtures / "status").glob(f"{status}-*.json"))
            body = matches[0].read_bytes() if matches else b""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with self._lock:
            self._lists[plural].faults.append(_Fault(plural, on_request, status, data))

    def truncate(
        self, plural: str, how: str = "short-read", *, on_request: int | None = None
    ) -> None:
        """Cut the answer for ``plural``: ``short-read`` announces the full Content-Length and
        closes the connection halfway; ``cut-json`` sends half the JSON as a complete body."""
        with self._lock:
            self._lists[plural].faults.append(_Fault(plural, on_request, truncate=how))

    def requests_for(self, plural: str) -> list[Seen]:
        """The requests made for the list ``plural``, in order."""
        return [seen for seen in self.requests if seen.path.rsplit("/", 1)[-1] == plural]

    # ------------------------------------------------------------------ kubeconfig

    def kubeconfig(
        self,
        path: Path,
        *,
        token: str | None = None,
        client_key_data: str | None = None,
        client_certificate_data: str | None = None,
        context: str = "fake",
        namespace: str | None = None,
    ) -> Path:
        """Write a kubeconfig pointing at this server (plain HTTP on 127.0.0.1)."""
        user: dict[str, Any] = {}
        if token is not None:
            user["token"] = token
        if client_key_data is not None:
            user["client-key-data"] = client_key_data
        if client_certificate_data is not None:
            user["client-certificate-data"] = client_certificate_data
        ctx: dict[str, Any] = {"cluster": "fake", "user": "ci"}
        if namespace is not None:
            ctx["namespace"] = namespace
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "ci", "user": user}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        path.write_text(json.dumps(document, indent=2))  # JSON is YAML
        return path

    # ------------------------------------------------------------------ serving

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> KubeAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> KubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _list_path(self, parts: list[str]) -> tuple[str, str, str] | None:
        """(group/version, namespace, plural) of a namespaced list path."""
        if len(parts) == 5 and parts[:2] == ["api", "v1"] and parts[2] == "namespaces":
            return "v1", parts[3], parts[4]
        if len(parts) == 6 and parts[0] == "apis" and parts[3] == "namespaces":
            return f"{parts[1]}/{parts[2]}", parts[4], parts[5]
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        with self._lock:
            self.requests.append(
                Seen("GET", split.path, query, {k.lower(): v for k, v in handler.headers.items()})
            )
        path = split.path.rstrip("/") or "/"
        if path in self._discovery:
            return self._send(handler, 200, json.dumps(self._discovery[path]).encode())
        parts = [part for part in path.split("/") if part]
        target = self._list_path(parts)
        with self._lock:
            entry = self._lists.get(target[2]) if target is not None else None
            if target is None or entry is None or target[1] != self.namespace:
                return self._send(
                    handler, 404, (self.fixtures / "status/404-not-found.json").read_bytes()
                )
            group_version, _, plural = target
            if entry.body["apiVersion"] != group_version:
                return self._send(
                    handler, 404, (self.fixtures / "status/404-not-found.json").read_bytes()
                )
            entry.served += 1
            number = entry.served
            fault = next((f for f in entry.faults if f.on_request in (None, number)), None)
            if fault is not None and fault.status:
                return self._send(handler, fault.status, fault.body)
            status, body = self._page(entry, query)
            if entry.change is not None and entry.change[0] == number:
                items = entry.change[1]
                entry.change = None
                fresh = copy.deepcopy(entry.body)
                fresh["items"] = items
                fresh["metadata"]["resourceVersion"] = str(entry.version + 1)
                replacement = _List(fresh, entry.version + 1, entry.served, None, entry.faults)
                self._lists[plural] = replacement
        data = json.dumps(body).encode()
        if fault is not None and fault.truncate == "cut-json":
            data = data[: len(data) // 2]
        if fault is not None and fault.truncate == "short-read":
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return None
        return self._send(handler, status, data)

    def _page(self, entry: _List, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        items = entry.body["items"]
        start = 0
        token = query.get("continue")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                version, after = int(decoded["rv"]), str(decoded["start"]).rstrip("\x00")
            except (ValueError, KeyError, TypeError):
                return 400, {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "continue key is not valid",
                    "reason": "BadRequest",
                    "code": 400,
                }
            if version != entry.version:
                expired = load("status/410-expired.json")
                return 410, expired
            start = next(
                (i for i, item in enumerate(items) if item["metadata"]["name"] > after), len(items)
            )
        limit = int(query.get("limit") or 0)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        page = copy.deepcopy(entry.body)
        page["items"] = copy.deepcopy(items[start:end])
        page["metadata"] = {"resourceVersion": str(entry.version)}
        if end < len(items):
            last = items[end - 1]["metadata"]["name"]
            raw = json.dumps(
                {"v": "meta.k8s.io/v1", "rv": entry.version, "start": last + "\x00"},
                separators=(",", ":"),
            )
            page["metadata"]["continue"] = (
                base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
            )
            page["metadata"]["remainingItemCount"] = len(items) - end
        return 200, page

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
