"""Record the example evidence bundle (evidence/example) for real, on this machine.

    .venv/bin/python tools/record_example.py            # writes evidence/example
    .venv/bin/python tools/record_example.py --out DIR  # somewhere else

What it does, all on 127.0.0.1 and bounded (about 35 s; it gives up after 60 s):

1. starts the example service (``python -m pytest_loadcert.exampleservice --port 0``);
2. starts a real Prometheus (Debian's ``prometheus``) with its own storage in a temporary
   directory, scraping the service's /metrics every second and accepting k6's remote write;
3. runs ``loadcert run-stage`` for every stage of evidence/example.toml with
   evidence/example-script.js: constant VUs = the stage's ``min_active_vus`` for 8 s, k6
   pushing its metrics to that Prometheus (``-o experimental-prometheus-rw``);
4. runs ``loadcert collect prometheus`` and checks every query came back with a sample;
5. writes an illustrative Kubernetes manifest for the service and runs ``loadcert seal``
   binding it, the script, the git commit and the service's "image" digest (the sha256 of
   exampleservice.py: nothing ran in a container);
6. stops everything it started and replaces the output directory with the new bundle.

For ``git.dirty`` to be false (the gates block a dirty tree), run it from a clean checkout,
e.g. ``git clone . /tmp/rec && cd /tmp/rec && python tools/record_example.py --out
<repo>/evidence/example`` (see evidence/README.md).
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_loadcert.hashing import sha256_file  # noqa: E402
from pytest_loadcert.profile import load_profile  # noqa: E402
from pytest_loadcert.timeutil import now_utc  # noqa: E402

PROFILE = REPO / "evidence" / "example.toml"
SCRIPT = REPO / "evidence" / "example-script.js"
SERVICE_SOURCE = REPO / "pytest_loadcert" / "exampleservice.py"
DEFAULT_OUT = REPO / "evidence" / "example"
DURATION = "8s"
#: A pause between stages so no scrape or window rounding mixes two stages.
STAGE_GAP_S = 1.5
BUDGET_S = 60.0

MANIFEST_TEMPLATE = """\
# ILLUSTRATIVE: how the example service would be deployed on Kubernetes.
# Nothing was applied to any cluster for the example bundle: the service ran as a local
# process on 127.0.0.1 (python -m pytest_loadcert.exampleservice), and the image digest below
# is the sha256 of pytest_loadcert/exampleservice.py, not of a container image.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: example-service
  namespace: loadcert-example
  labels: {{app: example-service}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: example-service}}
  template:
    metadata:
      labels: {{app: example-service}}
    spec:
      containers:
        - name: example-service
          image: example-service@{digest}
          command: ["python", "-m", "pytest_loadcert.exampleservice", "--port", "8080"]
          ports:
            - {{name: http, containerPort: 8080}}
          readinessProbe:
            httpGet: {{path: /, port: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: example-service
  namespace: loadcert-example
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/path: /metrics
spec:
  selector: {{app: example-service}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
"""

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: example-service
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


class RecordError(Exception):
    """The recording failed; the message says at which step."""


class Deadline:
    """The whole recording's time budget."""

    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise RecordError(f"over the {BUDGET_S:g} s budget")
        return left

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET ``url`` (127.0.0.1 only); (status, body), or (0, b"") when nothing answers."""
    assert url.startswith("http://127.0.0.1:"), url
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except OSError:
        return 0, b""


def wait_for(what: str, check: object, deadline: Deadline, limit_s: float = 15.0) -> None:
    """Poll ``check()`` until true, at most ``limit_s``."""
    assert callable(check)
    stop = time.monotonic() + min(limit_s, deadline.remaining())
    while time.monotonic() < stop:
        if check():
            return
        time.sleep(0.1)
    raise RecordError(f"{what}: not ready after {limit_s:g} s")


def start_service(env: dict[str, str], deadline: Deadline) -> tuple[subprocess.Popen[str], str]:
    """Start the example service on a free port; returns the process and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_loadcert.exampleservice", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=min(10.0, deadline.remaining())):
        process.kill()
        raise RecordError("example service: printed nothing within 10 s")
    line = process.stdout.readline().strip()
    prefix = "listening on "
    if not line.startswith(prefix):
        process.kill()
        raise RecordError(f"example service: unexpected first line {line!r}")
    return process, line[len(prefix) :]


def start_prometheus(
    binary: str, service_url: str, tmp: Path, deadline: Deadline
) -> tuple[subprocess.Popen[bytes], str]:
    """Start our own Prometheus on 127.0.0.1 (own storage, own config)."""
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG.format(port=service_url.rsplit(":", 1)[1]))
    with (tmp / "prometheus.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("prometheus", lambda: http_get(f"{url}/-/ready")[0] == 200, deadline)
        # Scraping must already work when the first stage starts, or its window misses samples.
        wait_for(
            "prometheus scraping the example service",
            lambda: b'"value":[' in http_get(f"{url}/api/v1/query?query=up%3D%3D1")[1],
            deadline,
        )
    except RecordError:
        process.kill()
        raise RecordError(
            "prometheus did not come up; its log:\n" + (tmp / "prometheus.log").read_text()[-2000:]
        ) from None
    return process, url


def loadcert(args: Sequence[str], env: dict[str, str], deadline: Deadline) -> None:
    """Run the real CLI (``python -m pytest_loadcert.cli``) as a user would."""
    command = [sys.executable, "-m", "pytest_loadcert.cli", *args]
    print("$ loadcert " + " ".join(args), flush=True)
    try:
        done = subprocess.run(command, env=env, timeout=deadline.remaining(), check=False)
    except subprocess.TimeoutExpired:
        raise RecordError(f"loadcert {args[0]}: timed out") from None
    if done.returncode != 0:
        raise RecordError(f"loadcert {args[0]} exited {done.returncode}")


def check_prometheus_answers(bundle: Path, stages: Sequence[str]) -> None:
    """Every query of every stage must hold a sample: a missing k6 push shows up here."""
    import json

    for stage in stages:
        document = json.loads((bundle / "stages" / stage / "prometheus.json").read_text())
        for query in document["queries"]:
            if not query["response"]["data"]["result"]:
                raise RecordError(f"{stage}: {query['name']} came back empty ({query['promql']})")


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> None:
    """Terminate a process we started, then kill it if it lingers."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdout is not None:
        process.stdout.close()


def record(out: Path, prometheus: str, k6: str | None) -> float:
    """Record the bundle into ``out``; returns the seconds it took."""
    deadline = Deadline(BUDGET_S)
    profile = load_profile(PROFILE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    service: subprocess.Popen[str] | None = None
    prom: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="loadcert-record-") as tmp_name:
        tmp = Path(tmp_name)
        bundle = tmp / "bundle"
        try:
            service, service_url = start_service(env, deadline)
            print(f"example service: {service_url}")
            prom, prom_url = start_prometheus(prometheus, service_url, tmp, deadline)
            print(f"prometheus: {prom_url} (storage {tmp / 'tsdb'})")

            k6_env = dict(env)
            k6_env.update(
                K6_PROMETHEUS_RW_SERVER_URL=f"{prom_url}/api/v1/write",
                K6_PROMETHEUS_RW_TREND_STATS="p(95),p(99),max",
                # Denser k6_vus samples than the 5 s default: max_over_time sees the plateau.
                K6_PROMETHEUS_RW_PUSH_INTERVAL="1s",
            )
            k6_option = ["--k6", k6] if k6 else []
            for index, stage in enumerate(profile.stages):
                if index:
                    time.sleep(STAGE_GAP_S)
                loadcert(
                    [
                        "run-stage", "--evidence-dir", str(bundle), "--stage", stage.name,
                        "--script", str(SCRIPT), "--loadcert-profile", str(PROFILE), *k6_option,
                        "--",
                        "-o", "experimental-prometheus-rw",
                        "-e", f"BASE_URL={service_url}",
                        "-e", f"VUS={stage.min_active_vus}",
                        "-e", f"DURATION={DURATION}",
                    ],
                    k6_env,
                    deadline,
                )
            loadcert(
                [
                    "collect", "prometheus", "--url", prom_url, "--evidence-dir", str(bundle),
                    "--loadcert-profile", str(PROFILE),
                ],
                env,
                deadline,
            )
            check_prometheus_answers(bundle, profile.stage_names)
        finally:
            stop(prom)
            stop(service)

        digest = sha256_file(SERVICE_SOURCE)
        manifest = tmp / "k8s-manifest.yaml"
        manifest.write_text(MANIFEST_TEMPLATE.format(digest=digest))
        run_id = "example-" + now_utc().strftime("%Y-%m-%dT%H-%MZ")
        loadcert(
            [
                "seal", "--evidence-dir", str(bundle), "--run-id", run_id,
                "--environment", "local-example", "--image", f"example-service={digest}",
                "--k8s-manifest", str(manifest), "--git-repo", str(REPO),
            ],
            env,
            deadline,
        )
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(bundle, out)
    return deadline.elapsed()


def main(argv: list[str] | None = None) -> int:
    """Record the example bundle; exit 1 (with the step) on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle directory to replace")
    parser.add_argument("--prometheus", default="prometheus", help="prometheus binary")
    parser.add_argument("--k6", default=None, help="k6 binary (default: loadcert's lookup)")
    args = parser.parse_args(argv)
    if shutil.which(args.prometheus) is None:
        print(f"record_example: {args.prometheus} not found (apt-get install prometheus)",
              file=sys.stderr)
        return 1
    try:
        seconds = record(args.out.resolve(), args.prometheus, args.k6)
    except RecordError as exc:
        print(f"record_example: {exc}", file=sys.stderr)
        return 1
    print(f"recorded {args.out} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
