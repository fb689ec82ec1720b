"""A tiny local HTTP service to load-test: the system under test of the example and tests.

Standard library only, threaded, bound to 127.0.0.1 (never another interface):

- ``GET /``           small JSON status document
- ``GET /api/items``  small JSON list
- ``GET /metrics``    Prometheus text format: ``example_http_requests_total{path,code}``,
  ``example_http_requests_in_flight``, ``example_http_errors_total`` and
  ``example_start_time_seconds``

Run it as ``python -m pytest_loadcert.demo.exampleservice --port 8080`` (``--port 0`` picks a
free port; the first line printed is ``listening on http://127.0.0.1:<port>``), or from
Python::

    service = start_service()          # port 0: a free port
    ...  service.url  ...
    stop_service(service)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Self

HOST = "127.0.0.1"
ITEMS = [
    {"id": 1, "name": "apple", "price_cents": 120},
    {"id": 2, "name": "bread", "price_cents": 250},
    {"id": 3, "name": "cheese", "price_cents": 480},
]
#: Paths with their own label value; anything else is counted as path="other".
KNOWN_PATHS = ("/", "/api/items", "/metrics")
#: Every (path label, status code) the service can answer with: a known path 200, anything
#: else 404, either 500 when answering fails. Their series exist at 0 before any request.
ANSWERED = (
    *((path, code) for path in KNOWN_PATHS for code in ("200", "500")),
    ("other", "404"),
    ("other", "500"),
)


class _Metrics:
    """Counters shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = time.time()
        self.in_flight = 0
        self.errors = 0
        # Every series the service can answer exists at 0 before the first request: a counter
        # born inside a stage window with its first count reads as 0 in increase() (the
        # coverage check blocks it), and a missing one is "missing".
        self.requests: dict[tuple[str, str], int] = dict.fromkeys(ANSWERED, 0)

    def render(self) -> str:
        with self.lock:
            requests = sorted(self.requests.items())
            in_flight, errors = self.in_flight, self.errors
        lines = [
            "# HELP example_http_requests_total HTTP requests answered, by path and status code.",
            "# TYPE example_http_requests_total counter",
        ]
        for (path, code), count in requests:
            lines.append(f'example_http_requests_total{{code="{code}",path="{path}"}} {count}')
        lines += [
            "# HELP example_http_requests_in_flight HTTP requests being answered now.",
            "# TYPE example_http_requests_in_flight gauge",
            f"example_http_requests_in_flight {in_flight}",
            "# HELP example_http_errors_total Requests answered with a 5xx status.",
            "# TYPE example_http_errors_total counter",
            f"example_http_errors_total {errors}",
            "# HELP example_start_time_seconds Unix time the service started.",
            "# TYPE example_start_time_seconds gauge",
            f"example_start_time_seconds {self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown
    request_queue_size = 128  # k6 opens one connection per VU at once; 5 would drop SYNs

    def __init__(self, port: int) -> None:
        self.metrics = _Metrics()
        super().__init__((HOST, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service under k6 would offer
    server_version = "loadcert-example/1"
    timeout = 30  # seconds an idle keep-alive connection may hold a thread
    # Headers and body leave in one write (flushed by http.server after each request) and
    # without Nagle's delay: otherwise every keep-alive response waits ~40 ms for an ACK.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        metrics = self.server.metrics
        path = self.path.split("?", 1)[0]
        with metrics.lock:
            metrics.in_flight += 1
        code = 500
        try:
            try:
                code, content_type, body = self._route(path)
            except Exception:  # a bug here must show up as a 5xx, not a dropped connection
                code, content_type, body = 500, "application/json", b'{"error":"internal"}'
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            label = path if path in KNOWN_PATHS else "other"
            with metrics.lock:
                metrics.in_flight -= 1
                # A status not foreseen above is still counted; its series is born with 1, which
                # the coverage check blocks rather than under-counts.
                key = (label, str(code))
                metrics.requests[key] = metrics.requests.get(key, 0) + 1
                if code >= 500:
                    metrics.errors += 1

    def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/":
            return (
                200,
                "application/json",
                json_body({"service": "loadcert-example", "status": "ok"}),
            )
        if path == "/api/items":
            return 200, "application/json", json_body({"items": ITEMS})
        if path == "/metrics":
            text = self.server.metrics.render()
            return 200, "text/plain; version=0.0.4; charset=utf-8", text.encode("utf-8")
        return 404, "application/json", json_body({"error": "not found", "path": path})

    def log_message(self, format: str, *args: object) -> None:
        # One line per request would flood the output of a load test.
        pass


def json_body(document: object) -> bytes:
    """A compact JSON response body."""
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class ExampleService:
    """A running service (a server thread on 127.0.0.1); stop it with :meth:`stop`."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_service(port: int = 0) -> ExampleService:
    """Start the service on 127.0.0.1:``port`` (0 = a free port) in a background thread."""
    server = _Server(port)
    return ExampleService(server, serve_in_thread(server, f"example-service-{port}"))


def serve_in_thread(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    """Run ``server`` in a daemon thread, started."""
    # A short poll interval: stop() returns within 0.05 s instead of serve_forever's 0.5 s.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
    thread.start()
    return thread


def stop_service(service: ExampleService) -> None:
    """Stop a service started with :func:`start_service`."""
    service.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_loadcert.demo.exampleservice --port N``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_loadcert.demo.exampleservice",
        description="Serve the loadcert example service on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8080, help="TCP port; 0 = a free port")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: not a TCP port")
    try:
        server = _Server(args.port)
    except OSError as exc:
        print(
            f"example service: cannot listen on {HOST}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    # The first line is the contract with whoever started us (tools/record_example.py).
    print(f"listening on http://{HOST}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
