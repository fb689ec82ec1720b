"""A real Prometheus on 127.0.0.1 for tests and benchmarks, and real k6 stages pushing to it.

Debian's ``prometheus`` binary, started as our own process: a free port on 127.0.0.1, its own
``--storage.tsdb.path`` and config in a temporary directory, ``--web.enable-remote-write-receiver``
so k6 can push with ``-o experimental-prometheus-rw``, scraping the local targets it is given
every second. Ready in well under a second; stopped (terminate, then kill) on exit.

    with start_service(0) as service, start_prometheus(tmp, [service.address]) as prom:
        run_stage(bundle, "smoke", prom.url, service.url, vus=2, duration="2s", profile=...)
        prom.query("up")

Pytest-free (benchmarks import it too); callers turn :class:`PrometheusUnavailable` into a
skip. Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SCRIPT = REPO / "evidence" / "example-script.js"
HOST = "127.0.0.1"


class PrometheusUnavailable(Exception):
    """The prometheus binary is not installed (``apt-get install prometheus``)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> bytes:
    """GET a 127.0.0.1 URL with the standard library (no retries, no session)."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"refusing to reach {url}: 127.0.0.1 only")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


@dataclass(frozen=True)
class PrometheusServer:
    """A running Prometheus: its URL, and where its config, data and log live."""

    url: str
    port: int
    directory: Path

    @property
    def log(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")

    def query_raw(self, promql: str, time_text: str | None = None) -> bytes:
        """The body of ``GET /api/v1/query`` exactly as Prometheus sent it."""
        params = {"query": promql}
        if time_text is not None:
            params["time"] = time_text
        return http_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}")

    def query(self, promql: str, time_text: str | None = None) -> dict[str, Any]:
        """``GET /api/v1/query`` parsed."""
        document: dict[str, Any] = json.loads(self.query_raw(promql, time_text))
        return document


def prometheus_binary() -> str:
    """The prometheus binary on PATH; raises :class:`PrometheusUnavailable`."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise PrometheusUnavailable("prometheus is not installed (apt-get install prometheus)")
    return binary


@contextmanager
def start_prometheus(
    directory: Path,
    scrape_targets: Sequence[str] = (),
    *,
    scrape_interval: str = "1s",
    ready_timeout_s: float = 15.0,
    config_extra: str = "",
    retention: str | None = None,
) -> Iterator[PrometheusServer]:
    """Run our own Prometheus in ``directory`` (config, TSDB, log); yields it, then stops it.

    ``scrape_targets`` are ``127.0.0.1:<port>`` addresses; when given, this returns only once
    every target has been scraped successfully, so a load that starts now is seen whole.
    ``config_extra`` is appended to the YAML config (e.g. a ``remote_read`` section);
    ``retention`` sets ``--storage.tsdb.retention.time`` (backfilled old data needs a long one).
    """
    binary = prometheus_binary()
    for target in scrape_targets:
        if not target.startswith(f"{HOST}:"):
            raise ValueError(f"scrape target {target!r}: 127.0.0.1 only")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    lines = [f"global: {{scrape_interval: {scrape_interval}, evaluation_interval: 1s}}"]
    if scrape_targets:
        targets = ", ".join(f"'{t}'" for t in scrape_targets)
        lines += [
            "scrape_configs:",
            "  - job_name: local",
            f"    static_configs: [{{targets: [{targets}]}}]",
        ]
    config.write_text("\n".join(lines) + "\n" + config_extra)
    port = free_port()
    server = PrometheusServer(f"http://{HOST}:{port}", port, directory)
    with (directory / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'tsdb'}",
                f"--web.listen-address={HOST}:{port}",
                "--web.enable-remote-write-receiver",
                "--log.level=warn",
                *([f"--storage.tsdb.retention.time={retention}"] if retention else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(server, process, len(scrape_targets), ready_timeout_s)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(
    server: PrometheusServer, process: subprocess.Popen[bytes], targets: int, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited {process.returncode}: {server.log[-2000:]}")
        try:
            http_get(f"{server.url}/-/ready", timeout=1.0)
            if targets == 0:
                return
            result = server.query("up == 1")["data"]["result"]
            if len(result) >= targets:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"prometheus not ready after {timeout_s:g} s: {server.log[-2000:]}")


def run_stage(
    evidence_dir: Path,
    stage: str,
    prometheus_url: str,
    service_url: str,
    *,
    vus: int,
    duration: str,
    profile: Path,
    script: Path = EXAMPLE_SCRIPT,
    timeout_s: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """``loadcert run-stage`` with the real k6, pushing its metrics to ``prometheus_url``.

    k6 pushes every second (``K6_PROMETHEUS_RW_PUSH_INTERVAL``) with p95/p99/max trend
    series; its series carry ``stage=<stage>`` (run-stage tags every sample). Bounded: the
    script runs ``vus`` VUs for ``duration`` against ``service_url`` (127.0.0.1).
    """
    if not service_url.startswith(f"http://{HOST}:"):
        raise ValueError(f"{service_url}: 127.0.0.1 only")
    env = dict(os.environ)
    env.update(
        K6_PROMETHEUS_RW_SERVER_URL=f"{prometheus_url}/api/v1/write",
        K6_PROMETHEUS_RW_TREND_STATS="p(95),p(99),max",
        K6_PROMETHEUS_RW_PUSH_INTERVAL="1s",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    command = [
        sys.executable, "-m", "pytest_loadcert.cli", "run-stage",
        "--evidence-dir", str(evidence_dir), "--stage", stage, "--script", str(script),
        "--loadcert-profile", str(profile), "--",
        "-o", "experimental-prometheus-rw",
        "-e", f"BASE_URL={service_url}", "-e", f"VUS={vus}", "-e", f"DURATION={duration}",
    ]  # fmt: skip
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


# ----------------------------------------------------------------------------- fault servers


@dataclass
class Reply:
    """What a :class:`FakeHttpServer` answers: status, body, headers, and misbehaviour.

    ``delay_s`` sleeps before answering (until the server stops, at most); ``truncate_to``
    announces the full ``Content-Length`` but sends only that many bytes, then closes.
    """

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] | None = None
    delay_s: float = 0.0
    truncate_to: int | None = None

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "text/html; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class Seen:
    """One request a :class:`FakeHttpServer` received."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_port: int
    at: float


class FakeHttpServer:
    """A threaded HTTP/1.1 (keep-alive) server on 127.0.0.1 answering with ``responder``.

    ``responder(seen, attempt)`` returns a :class:`Reply`; ``attempt`` counts requests with
    the same method, path and parameters (1 for the first), so a test can fail a query twice
    and then answer it. Every request is recorded in :attr:`seen`; :attr:`max_in_flight` is
    the most requests handled at once. ``tls`` is an ``ssl.SSLContext`` for HTTPS.
    """

    def __init__(self, responder: Any, tls: Any = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.responder = responder
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one write: two small writes meet the client's
            # delayed ACK and cost 40 ms each, which would swamp any timing.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner._handle(self, "GET")

            def do_POST(self) -> None:
                owner._handle(self, "POST")

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up (timeouts, TLS refusals) is part of the test

        self.server = Server((HOST, 0), Handler)
        self.scheme = "http" if tls is None else "https"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{HOST}:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHttpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def attempts(self, **params: str) -> int:
        """How many requests carried exactly these query parameters (among others)."""
        return sum(all(s.params.get(k) == v for k, v in params.items()) for s in self.seen)

    def _handle(self, handler: Any, method: str) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        params = dict(urllib.parse.parse_qsl(parts.query))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        seen = Seen(
            method, parts.path, params, dict(handler.headers.items()), body,
            int(handler.client_address[1]), time.monotonic(),
        )  # fmt: skip
        with self.lock:
            self.seen.append(seen)
            attempt = sum(
                (s.method, s.path, s.params) == (method, parts.path, params) for s in self.seen
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply: Reply = self.responder(seen, attempt)
            if reply.delay_s:
                self.stopping.wait(reply.delay_s)
            data, content_type = reply.payload()
            handler.send_response(reply.status)
            headers = {"Content-Type": content_type, **(reply.headers or {})}
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            if reply.truncate_to is not None:
                handler.send_header("Connection", "close")
                handler.close_connection = True
                data = data[: reply.truncate_to]
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        finally:
            with self.lock:
                self.in_flight -= 1
