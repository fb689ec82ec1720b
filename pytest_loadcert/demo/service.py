"""The service ``loadcert demo`` load-tests: the example service, instrumented.

The same small API as :mod:`pytest_loadcert.demo.exampleservice` (``GET /`` and
``GET /api/items``, the same documents), bound to 127.0.0.1 only, plus the two kinds of
telemetry a real service exposes:

- **traces** through the OpenTelemetry SDK: one SERVER span per request (``GET /``,
  ``GET /api/items``; Prometheus's scrapes of ``/metrics`` are not traced), batched and
  written as OTLP/JSON NDJSON to a file by
  :class:`~pytest_loadcert.demo.otlpjson.OtlpJsonFileExporter`,
  the format the OpenTelemetry Collector's file exporter writes;
- **metrics** through ``prometheus_client`` on ``GET /metrics``:
  ``demo_http_requests_total{path,code}``, ``demo_http_errors_total``,
  ``demo_http_request_duration_seconds{path}`` (histogram) and ``demo_http_requests_in_flight``.
  The request counters for the known paths exist at 0 from start-up: a counter that
  appears mid-window makes ``increase()`` under-count, and a missing one is "missing".

Needs the ``demo`` extra (``opentelemetry-sdk``, ``opentelemetry-exporter-otlp-proto-common``,
``prometheus-client``). Run it as ``python -m pytest_loadcert.demo.service --port 0 --traces
FILE`` (the first line printed is ``listening on http://127.0.0.1:<port>``; SIGTERM or
Ctrl-C stops it and flushes the last spans), or from Python::

    with start_service(Path("traces.jsonl")) as service:   # port 0: a free port
        ...  service.url  ...
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from pytest_loadcert.demo.exampleservice import (
    ANSWERED,
    HOST,
    ITEMS,
    KNOWN_PATHS,
    ExampleService,
    json_body,
    serve_in_thread,
)
from pytest_loadcert.version import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SERVICE_NAME = "loadcert-demo-service"
#: The OTel resource the demo profile names (observability.otel_namespace, otel_environment).
SERVICE_NAMESPACE = "loadcert-demo"
ENVIRONMENT = "demo"
#: Spans leave in batches at least this often (ms): the file trails the requests by ~1 s.
EXPORT_DELAY_MS = 1000


class _Telemetry:
    """The service's tracer and metrics (one set per server, nothing global)."""

    def __init__(self, traces: Path) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        from pytest_loadcert.demo.otlpjson import OtlpJsonFileExporter

        resource = Resource.create(
            {
                "service.name": SERVICE_NAME,
                "service.version": __version__,
                "service.namespace": SERVICE_NAMESPACE,
                "deployment.environment.name": ENVIRONMENT,
            }
        )
        self.provider: TracerProvider = TracerProvider(resource=resource)
        self.provider.add_span_processor(
            BatchSpanProcessor(OtlpJsonFileExporter(traces), schedule_delay_millis=EXPORT_DELAY_MS)
        )
        self.tracer: Tracer = self.provider.get_tracer("pytest_loadcert.demo.service", __version__)

        self.registry: CollectorRegistry = CollectorRegistry()
        self.requests: Counter = Counter(
            "demo_http_requests",
            "HTTP requests answered, by path and status code.",
            ["path", "code"],
            registry=self.registry,
        )
        for path, code in ANSWERED:
            self.requests.labels(path=path, code=code)
        self.errors: Counter = Counter(
            "demo_http_errors", "Requests answered with a 5xx status.", registry=self.registry
        )
        self.duration: Histogram = Histogram(
            "demo_http_request_duration_seconds",
            "Time to answer a request, by path.",
            ["path"],
            registry=self.registry,
        )
        for path in (*KNOWN_PATHS, "other"):
            # Created at 0 before any request: a series born with its first observations
            # inside a stage window reads as 0 in rate() (the coverage check blocks it).
            self.duration.labels(path=path)
        self.in_flight: Gauge = Gauge(
            "demo_http_requests_in_flight",
            "HTTP requests being answered now.",
            registry=self.registry,
        )

    def shutdown(self) -> None:
        """Export the spans still queued and close the traces file."""
        self.provider.shutdown()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown
    request_queue_size = 128  # k6 opens one connection per VU at once; 5 would drop SYNs

    def __init__(self, port: int, telemetry: _Telemetry) -> None:
        self.telemetry = telemetry
        super().__init__((HOST, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service under k6 would offer
    server_version = "loadcert-demo/1"
    timeout = 30  # seconds an idle keep-alive connection may hold a thread
    wbufsize = 64 * 1024  # headers and body in one write, without Nagle's delay
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        telemetry = self.server.telemetry
        path = self.path.split("?", 1)[0]
        label = path if path in KNOWN_PATHS else "other"
        started = time.perf_counter()
        telemetry.in_flight.inc()
        code = 500
        try:
            if path == "/metrics":  # Prometheus's scrapes are not the service's traffic
                code = self._answer(path)
                return
            attributes: dict[str, str | int] = {
                "http.request.method": "GET",
                "url.path": path,
                "server.address": HOST,
                "server.port": self.server.server_address[1],
            }
            if label != "other":
                attributes["http.route"] = path
            with telemetry.tracer.start_as_current_span(
                f"GET {label if label != 'other' else ''}".rstrip(),
                kind=SpanKind.SERVER,
                attributes=attributes,
            ) as span:
                code = self._answer(path)
                span.set_attribute("http.response.status_code", code)
                if code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
        finally:
            telemetry.in_flight.dec()
            telemetry.requests.labels(path=label, code=str(code)).inc()
            telemetry.duration.labels(path=label).observe(time.perf_counter() - started)
            if code >= 500:
                telemetry.errors.inc()

    def _answer(self, path: str) -> int:
        try:
            code, content_type, body = self._route(path)
        except Exception:  # a bug here must show up as a 5xx, not a dropped connection
            code, content_type, body = 500, "application/json", b'{"error":"internal"}'
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return code

    def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/":
            return 200, "application/json", json_body({"service": SERVICE_NAME, "status": "ok"})
        if path == "/api/items":
            return 200, "application/json", json_body({"items": ITEMS})
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            return 200, CONTENT_TYPE_LATEST, generate_latest(self.server.telemetry.registry)
        return 404, "application/json", json_body({"error": "not found", "path": path})

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would flood the output of a load test


class DemoService(ExampleService):
    """A running demo service (a server thread); stop it with :meth:`stop`."""

    def __init__(self, server: _Server, thread: threading.Thread, traces: Path) -> None:
        super().__init__(server, thread)
        self._telemetry = server.telemetry
        self.traces = traces

    def stop(self) -> None:
        """Stop serving, close the socket, flush the last spans to the file; idempotent."""
        super().stop()
        self._telemetry.shutdown()


def start_service(traces: Path, port: int = 0) -> DemoService:
    """Serve on 127.0.0.1:``port`` (0 = a free port) in a thread, appending spans to ``traces``."""
    telemetry = _Telemetry(traces)
    try:
        server = _Server(port, telemetry)
    except BaseException:
        telemetry.shutdown()
        raise
    return DemoService(server, serve_in_thread(server, f"demo-service-{port}"), traces)


def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_loadcert.demo.service --port N --traces FILE``: serve until stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_loadcert.demo.service",
        description="Serve the loadcert demo service on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 (default) = a free port")
    parser.add_argument(
        "--traces", type=Path, required=True, metavar="FILE", help="OTLP/JSON NDJSON output"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: not a TCP port")

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        service = start_service(args.traces, args.port)
    except OSError as exc:
        print(
            f"demo service: cannot listen on {HOST}:{args.port} or write {args.traces}: "
            f"{exc.strerror}",
            file=sys.stderr,
        )
        return 1
    # The first line is the contract with whoever started us (loadcert demo).
    print(f"listening on {service.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
