"""Record real k6 summary files for the fixtures (both JSON formats of the same run).

Re-record with::

    .venv/bin/python tools/record_k6.py          # all cases
    .venv/bin/python tools/record_k6.py pass     # one case

It starts a tiny ``http.server`` on 127.0.0.1 (free port) in a thread and runs the real k6
binary (``.venv/bin/k6``, ``--no-usage-report``, every ``K6_*`` variable removed from its
environment) against it, bounded to 5 VUs and a few seconds. Each case writes, into
``fixtures/k6/``:

- ``<case>.summary-export.json``  as written by ``--summary-export`` (legacy format), untouched
- ``<case>.handlesummary.json``   the handleSummary ``data`` (``JSON.stringify(data)``), untouched
- ``<case>.meta.json``            exit code, k6 version string and the command (sorted, indent 2)

The server answers 200, except ``/error*`` (HTTP 500) and ``/slow*`` (200 after 40 ms).

Cases of the first script (``SCRIPT``, ``--vus 5 --duration 3s``):

- ``pass``: thresholds on ``http_req_duration`` p(95) and ``http_req_failed`` that hold (exit 0)
- ``threshold-fail``: one request in four hits ``/error`` (HTTP 500), so the
  ``http_req_failed`` threshold fails (exit 99); the p(95) threshold still passes
- ``target-down``: a port nobody listens on, no thresholds (exit 0, 100 % failed requests)
- ``no-requests``: thresholds on, but the iterations send no request. k6 exits 0, reports the
  thresholds as ok, ``http_req_failed`` as ``rate 0, passes 0, fails 0``, ``http_req_duration``
  as all zeros with ``count 0``, and writes **no** ``http_reqs`` metric at all

Cases with a script of their own (``SCRIPTS``; the schedule is the script's, no ``--vus``):
a script that writes into k6's built-in metrics, an arrival-rate schedule k6 could or could
not serve, and a run whose only requests came from ``setup()``/``teardown()``. See
``fixtures/README.md`` for what each shows.

Only 127.0.0.1 is contacted. Every run is bounded and stops by itself.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "k6"
K6 = Path(sys.executable).parent / "k6"
TREND_STATS = "avg,min,med,max,p(90),p(95),p(99),count"
VUS = 5
DURATION = "3s"

_SUMMARY = """
export function handleSummary(data) {
  return { "handlesummary.json": JSON.stringify(data) };
}
"""

SCRIPT = (
    """\
import http from "k6/http";
import { check, sleep } from "k6";

const BASE = __ENV.BASE_URL;
const THRESHOLDS = __ENV.THRESHOLDS === "1";
const ERRORS = __ENV.ERRORS === "1";
const NO_REQUESTS = __ENV.NO_REQUESTS === "1";

export const options = {
  thresholds: THRESHOLDS
    ? {
        http_req_duration: ["p(95)<300"],
        http_req_failed: ["rate<0.01"],
      }
    : {},
};

export default function () {
  if (NO_REQUESTS) {
    sleep(0.5);
    return;
  }
  const path = ERRORS && __ITER % 4 === 3 ? "/error" : "/ok";
  const res = http.get(`${BASE}${path}`);
  check(res, { "status is 200": (r) => r.status === 200 });
  sleep(0.05);
}
"""
    + _SUMMARY
)


#: A script that writes into k6's built-in metrics: each iteration sends one real request
#: (every 4th to /error, HTTP 500) with one real check, then adds samples of its own to the
#: built-in metric named by INJECT.
INJECTING = (
    """\
import http from "k6/http";
import { check, sleep } from "k6";
import { Gauge, Rate, Trend } from "k6/metrics";

const BASE = __ENV.BASE_URL;
const INJECT = __ENV.INJECT;
const vus = new Gauge("vus");                            // returns k6's own vus gauge
const failed = new Rate("http_req_failed");              // k6's own failure rate
const checks = new Rate("checks");                       // k6's own checks rate
const duration = new Trend("http_req_duration", true);   // k6's own latency trend

export const options = {
  scenarios: { load: { executor: "constant-vus", vus: 2, duration: "3s" } },
  thresholds: {
    http_req_failed: ["rate<0.5"],
    "http_req_duration{expected_response:true}": ["p(95)<300"],
  },
};

export default function () {
  const path = __ITER % 4 === 3 ? "/error" : "/slow";
  const res = http.get(`${BASE}${path}`);
  check(res, { "status is 200": (r) => r.status === 200 });
  for (let i = 0; i < 9; i++) {
    if (INJECT === "failed") failed.add(false);
    if (INJECT === "checks") checks.add(true);
    if (INJECT === "latency") duration.add(1, { expected_response: "true" });
  }
  if (INJECT === "vus") vus.add(999);
  sleep(0.1);
}
"""
    + _SUMMARY
)

#: An arrival-rate schedule: RATE iterations/s for 3 s on at most PVU VUs; each iteration
#: sends one request and sleeps SLEEP s, so RATE > PVU / SLEEP cannot be served.
ARRIVAL = (
    """\
import http from "k6/http";
import { check, sleep } from "k6";

export const options = {
  scenarios: {
    arrivals: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.RATE),
      timeUnit: "1s",
      duration: "3s",
      preAllocatedVUs: Number(__ENV.PVU),
      maxVUs: Number(__ENV.PVU),
    },
  },
  thresholds: { http_req_failed: ["rate<0.01"] },
};

export default function () {
  const res = http.get(`${__ENV.BASE_URL}/ok`);
  check(res, { "status is 200": (r) => r.status === 200 });
  sleep(Number(__ENV.SLEEP));
}
"""
    + _SUMMARY
)

#: VU iterations that throw before any request; setup() sends 20 checked requests and
#: teardown() one. With SPLIT=1 the thresholds that make k6 count requests per scenario and
#: per setup/teardown group are set (always true).
SETUP_ONLY = (
    """\
import http from "k6/http";
import { check, sleep } from "k6";

const SPLIT = __ENV.SPLIT === "1";
const thresholds = { http_req_failed: ["rate<0.01"] };
if (SPLIT) {
  thresholds["http_reqs{scenario:load}"] = ["count>=0"];
  thresholds["http_reqs{group:::setup}"] = ["count>=0"];
  thresholds["http_reqs{group:::teardown}"] = ["count>=0"];
}

export const options = {
  scenarios: { load: { executor: "constant-vus", vus: 2, duration: "2s" } },
  thresholds,
};

export function setup() {
  for (let i = 0; i < 20; i++) {
    const res = http.get(`${__ENV.BASE_URL}/ok`);
    check(res, { "setup ok": (r) => r.status === 200 });
  }
}

export default function () {
  sleep(0.2);
  throw new Error("boom before request");
}

export function teardown() {
  const res = http.get(`${__ENV.BASE_URL}/ok`);
  check(res, { "teardown ok": (r) => r.status === 200 });
}
"""
    + _SUMMARY
)

SCRIPTS = {"classic": SCRIPT, "injecting": INJECTING, "arrival": ARRIVAL, "setup-only": SETUP_ONLY}
_CLASSIC = ("--vus", str(VUS), "--duration", DURATION)


def _classic(thresholds: bool, errors: bool, no_requests: bool) -> tuple[str, ...]:
    return (
        *_CLASSIC,
        "-e",
        f"THRESHOLDS={int(thresholds)}",
        "-e",
        f"ERRORS={int(errors)}",
        "-e",
        f"NO_REQUESTS={int(no_requests)}",
    )


@dataclass(frozen=True)
class Case:
    """One recording: which script, whether the target answers, and the k6 arguments."""

    script: str
    target_up: bool
    args: tuple[str, ...]


CASES: dict[str, Case] = {
    "pass": Case("classic", True, _classic(True, False, False)),
    "threshold-fail": Case("classic", True, _classic(True, True, False)),
    "target-down": Case("classic", False, _classic(False, False, False)),
    "no-requests": Case("classic", True, _classic(True, False, True)),
    "failed-diluted": Case("injecting", True, ("-e", "INJECT=failed")),
    "checks-diluted": Case("injecting", True, ("-e", "INJECT=checks")),
    "latency-diluted": Case("injecting", True, ("-e", "INJECT=latency")),
    "vus-injected": Case("injecting", True, ("-e", "INJECT=vus")),
    "arrival-served": Case("arrival", True, ("-e", "RATE=5", "-e", "PVU=5", "-e", "SLEEP=0")),
    "arrival-dropped": Case("arrival", True, ("-e", "RATE=20", "-e", "PVU=2", "-e", "SLEEP=0.5")),
    "setup-only": Case("setup-only", True, ("-e", "SPLIT=0")),
    "setup-only-split": Case("setup-only", True, ("-e", "SPLIT=1")),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 500 if self.path.startswith("/error") else 200
        if self.path.startswith("/slow"):
            time.sleep(0.04)
        body = b'{"ok": %s}\n' % (b"false" if status == 500 else b"true")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _k6_version() -> str:
    out = subprocess.run(
        [str(K6), "version"], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout.strip().splitlines()[0]


def record(name: str) -> int:
    """Run k6 for one case and write its three files; returns k6's exit code."""
    case = CASES[name]
    server: http.server.ThreadingHTTPServer | None = None
    if case.target_up:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
    else:
        port = _free_port()  # closed again at once: connection refused
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "script.js").write_text(SCRIPTS[case.script])
            command = [
                "k6",
                "run",
                "--no-usage-report",
                "-q",
                "--summary-trend-stats",
                TREND_STATS,
                "--summary-export",
                "summary-export.json",
                "-e",
                f"BASE_URL=http://127.0.0.1:{port}",
                *case.args,
                "script.js",
            ]
            env = {k: v for k, v in os.environ.items() if not k.startswith("K6_")}
            proc = subprocess.run(
                [str(K6), *command[1:]],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            shutil.copyfile(work / "summary-export.json", HERE / f"{name}.summary-export.json")
            shutil.copyfile(work / "handlesummary.json", HERE / f"{name}.handlesummary.json")
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    meta = {
        "case": name,
        "exit_code": proc.returncode,
        "k6_version": _k6_version(),
        "command": command,
        "script": f"tools/record_k6.py SCRIPTS[{case.script!r}] (handleSummary returns "
        "handlesummary.json)",
    }
    (HERE / f"{name}.meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return proc.returncode


def main(argv: list[str]) -> int:
    for case in argv or list(CASES):
        code = record(case)
        print(f"{case}: k6 exit {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
