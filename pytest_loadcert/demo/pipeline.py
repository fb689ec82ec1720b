"""``loadcert demo``: the whole pipeline on this machine, as a first real run.

Everything listens on 127.0.0.1, every load is bounded (2, 5 and 10 VUs for a few seconds
each), and everything the demo starts is stopped when it ends, also on Ctrl-C or an error:

1. records the code under test (``loadcert collect git``): a one-commit snapshot
   repository of exactly what runs (the demo service's modules, the k6 script, the
   profile), never the current directory's repository, whose commit is not what is tested;
2. starts the demo service (:mod:`pytest_loadcert.demo.service`: OpenTelemetry traces to an
   OTLP/JSON file, Prometheus metrics on ``/metrics``);
3. starts a real Prometheus (Debian's ``prometheus``) with its own storage in a temporary
   directory, scraping the service every second and accepting k6's remote write. Without a
   ``prometheus`` binary the demo goes on without Prometheus evidence, says so, and the
   certificate is ``blocked``: nothing is faked;
4. runs ``loadcert run-stage`` (the real k6) for each stage of the demo profile;
5. ``loadcert collect prometheus`` (the profile's queries per stage window);
6. stops the service (its last spans are flushed) and ``loadcert collect otel``;
7. ``loadcert seal``, then certification: pytest with the plugin, in a subprocess, writing
   ``certificate.xml`` and ``certificate.json``.

The exit status is the certification's (0 certified, 1 not certified, 2 blocked); 1 when
the pipeline itself failed before there was anything to certify, 130 on Ctrl-C.

The machinery (starting Prometheus, running the stages with remote write, stopping
processes) is shared with ``tools/record_example.py``, which records the example bundle.
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from pytest_loadcert import cliopts

if TYPE_CHECKING:
    from pytest_loadcert.config.profile import Profile

HELP = "run the whole pipeline on this machine: local service, k6, Prometheus, OTel, certify"

#: The whole demo gives up after this many seconds (it needs well under a minute).
BUDGET_S = 150.0
#: A pause between stages, so no scrape or window rounding mixes two stages.
STAGE_GAP_S = 1.0
DEFAULT_STAGE_SECONDS = 5
MAX_STAGE_SECONDS = 60
STOP_TIMEOUT_S = 5.0
RUN_ID_PREFIX = "demo-"
ENVIRONMENT = "local-demo"
SERVICE_NAME = "demo-service"
#: Tail of a log shown when a step fails.
LOG_TAIL_CHARS = 2000
#: Gates that did not pass, listed after the verdict (the rest are in certificate.json).
SHOWN_GATES = 5

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""

MANIFEST_TEMPLATE = """\
# ILLUSTRATIVE: how the {name} would be deployed on Kubernetes.
# Nothing was applied to any cluster for this bundle: the service ran as a local process on
# 127.0.0.1 (python -m {module}), and the image digest below is the sha256 of its source
# file ({source}), not of a container image.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: {name}@{digest}
          command: ["python", "-m", "{module}", "--port", "8080"]
          ports:
            - {{name: http, containerPort: 8080}}
          readinessProbe:
            httpGet: {{path: /, port: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {namespace}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/path: /metrics
spec:
  selector: {{app: {name}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
"""


class PipelineError(cliopts.CommandError):
    """A step of the pipeline failed; the message names the step (``exit_status`` 2: usage)."""

    default_status = cliopts.EXIT_FAILED


# ----------------------------------------------------------------------------- shared machinery


class Deadline:
    """A time budget for a whole run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + seconds

    def remaining(self) -> float:
        """Seconds left; raises :class:`PipelineError` when the budget is spent."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise PipelineError(f"over the {self.seconds:g} s time budget")
        return left

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class Progress:
    """One line per step on stdout, with the seconds elapsed since the start."""

    def __init__(self, deadline: Deadline, out: IO[str] | None = None) -> None:
        self.deadline = deadline
        self.out = out if out is not None else sys.stdout

    def step(self, message: str) -> None:
        print(f"[{self.deadline.elapsed():5.1f}s] {message}", file=self.out, flush=True)

    def detail(self, message: str) -> None:
        print(f"         {message}", file=self.out, flush=True)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET ``url`` on 127.0.0.1; (status, body), or (0, b"") when nothing answers."""
    import urllib.request

    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"{url}: only 127.0.0.1 is asked")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except OSError:
        return 0, b""


def wait_for(what: str, check: Callable[[], bool], deadline: Deadline, limit_s: float) -> None:
    """Poll ``check()`` every 0.1 s until true, at most ``limit_s``."""
    stop = time.monotonic() + min(limit_s, deadline.remaining())
    while time.monotonic() < stop:
        if check():
            return
        time.sleep(0.1)
    raise PipelineError(f"{what}: not ready after {limit_s:g} s")


def log_tail(path: Path) -> str:
    """The end of a log file, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:].strip()


def _signal(process: subprocess.Popen[Any], signum: int) -> None:
    """``signum`` to the process, and to its whole group when it leads one (see
    :class:`Processes`): a run-stage stops with the k6 it started."""
    try:
        if os.name == "posix" and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    """Terminate a process we started (and its group), then kill it if it lingers; reaped."""
    if process is None:
        return
    if process.poll() is None:
        _signal(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


#: Keyword arguments for every process a run starts: a process group of its own, so that
#: stopping it stops its children too, and Ctrl-C reaches only the run, which then stops
#: each process in order (rather than all of them at once, mid-step).
NEW_GROUP: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}


@dataclass
class Processes:
    """Every process a run started, stopped in reverse order by :meth:`stop_all`."""

    started: list[subprocess.Popen[Any]] = field(default_factory=list)

    def add(self, process: subprocess.Popen[Any]) -> subprocess.Popen[Any]:
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[Any] | None) -> None:
        stop_process(process)
        if process in self.started:
            self.started.remove(process)

    def stop_all(self) -> None:
        while self.started:
            stop_process(self.started.pop())


def start_listening_service(
    argv: Sequence[str],
    processes: Processes,
    deadline: Deadline,
    log: Path,
    what: str,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """Start a service whose first stdout line is ``listening on <url>``; (process, url)."""
    with log.open("wb") as stderr:  # the child keeps its own descriptor
        process = processes.add(
            subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                **NEW_GROUP,
            )
        )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=min(15.0, deadline.remaining()))
    line = process.stdout.readline().strip() if ready else ""
    prefix = "listening on "
    if not line.startswith(prefix):
        processes.stop(process)
        detail = f"printed {line!r}" if line else "printed nothing within 15 s"
        raise PipelineError(f"{what} did not start ({detail}); its log: {log_tail(log)}")
    return process, line[len(prefix) :]


def find_prometheus() -> str | None:
    """The ``prometheus`` binary on PATH, or None."""
    return shutil.which("prometheus")


def start_prometheus(
    binary: str,
    scrape_port: int,
    config: Path,
    storage: Path,
    log: Path,
    processes: Processes,
    deadline: Deadline,
    job: str = "service",
) -> tuple[subprocess.Popen[bytes], str]:
    """Start our own Prometheus on 127.0.0.1 (configuration written to ``config``, TSDB in
    ``storage``), scraping 127.0.0.1:``scrape_port`` every second and accepting remote
    write; returns (process, URL).

    Returns once Prometheus is ready *and* has scraped the service once, so the first
    stage's window does not start before the first sample.
    """
    port = free_port()
    config.write_text(PROMETHEUS_CONFIG.format(job=job, port=scrape_port))
    with log.open("wb") as output:  # the child keeps its own descriptor
        process = processes.add(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={storage}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--web.enable-remote-write-receiver",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                **NEW_GROUP,
            )
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("prometheus", lambda: http_get(f"{url}/-/ready")[0] == 200, deadline, 15.0)
        wait_for(
            "prometheus scraping the service",
            lambda: b'"value":[' in http_get(f"{url}/api/v1/query?query=up%3D%3D1")[1],
            deadline,
            15.0,
        )
    except PipelineError as exc:
        processes.stop(process)
        raise PipelineError(f"{exc}; its log: {log_tail(log)}") from None
    return process, url


def run_stages(
    bundle: Path,
    profile: Profile,
    profile_path: Path,
    script: Path,
    service_url: str,
    *,
    prometheus_url: str | None,
    stage_seconds: int,
    logs: Path,
    deadline: Deadline,
    processes: Processes,
    on_stage: Callable[[str, int], None] = lambda stage, vus: None,
    k6: str | None = None,
    gap_s: float = STAGE_GAP_S,
    env: dict[str, str] | None = None,
) -> None:
    """``loadcert run-stage`` for every stage of ``profile``: constant VUs = the stage's
    ``min_active_vus`` for ``stage_seconds`` against ``service_url``; with
    ``prometheus_url``, k6 pushes its metrics there every second (``--tag stage`` labels).

    k6's output goes to ``logs/k6-<stage>.log``. Raises :class:`PipelineError` when a stage
    fails (k6 exit code non-zero, no summary), naming the log. ``env`` is the environment
    to start from (default: this process's).
    """
    env = dict(os.environ if env is None else env)
    rw: list[str] = []
    if prometheus_url is not None:
        rw = ["-o", "experimental-prometheus-rw"]
        env.update(
            K6_PROMETHEUS_RW_SERVER_URL=f"{prometheus_url}/api/v1/write",
            K6_PROMETHEUS_RW_TREND_STATS="p(95),p(99),max",
            # Denser k6_vus samples than the 5 s default: max_over_time sees the plateau.
            K6_PROMETHEUS_RW_PUSH_INTERVAL="1s",
        )
    k6_option = ["--k6", k6] if k6 else []
    for index, stage in enumerate(profile.stages):
        if index:
            time.sleep(gap_s)
        on_stage(stage.name, stage.min_active_vus)
        log = logs / f"k6-{stage.name}.log"
        argv = [
            sys.executable, "-m", "pytest_loadcert.cli", "run-stage",
            "--evidence-dir", str(bundle), "--stage", stage.name, "--script", str(script),
            "--loadcert-profile", str(profile_path), *k6_option,
            "--", *rw,
            "-e", f"BASE_URL={service_url}",
            "-e", f"VUS={stage.min_active_vus}",
            "-e", f"DURATION={stage_seconds}s",
        ]  # fmt: skip
        with log.open("wb") as output:
            process = processes.add(
                subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    env=env,
                    **NEW_GROUP,
                )
            )
        try:
            code = process.wait(timeout=deadline.remaining())
        except subprocess.TimeoutExpired:
            raise PipelineError(f"stage {stage.name}: over the time budget; see {log}") from None
        finally:
            processes.stop(process)
        if code != 0:
            raise PipelineError(
                f"stage {stage.name}: loadcert run-stage exited {code}; see {log}:\n{log_tail(log)}"
            )


def empty_prometheus_answers(bundle: Path, stages: Sequence[str]) -> list[str]:
    """Every query of every stage that came back without a sample (or is not there)."""
    import json

    problems = []
    for stage in stages:
        path = bundle / "stages" / stage / "prometheus.json"
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            problems.append(f"{stage}: stages/{stage}/prometheus.json is missing or unreadable")
            continue
        for query in document.get("queries", []):
            data = query.get("response", {}).get("data", {})
            if not data.get("result"):
                problems.append(f"{stage}: {query['name']} came back empty ({query['promql']})")
    return problems


def illustrative_manifest(name: str, module: str, source: str, namespace: str, digest: str) -> str:
    """A Deployment + Service for a service that ran as a local process; says so in its header."""
    return MANIFEST_TEMPLATE.format(
        name=name, module=module, source=source, namespace=namespace, digest=digest
    )


# ----------------------------------------------------------------------------- the demo


@dataclass
class DemoResult:
    """What a demo run produced; ``verdict`` is None when certification did not run."""

    out: Path
    verdict: str | None = None
    exit_status: int = cliopts.EXIT_FAILED
    notes: list[str] = field(default_factory=list)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the demo like Ctrl-C does, through every ``finally``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _copy_asset(name: str, target: Path) -> Path:
    data = resources.files("pytest_loadcert.demo.assets").joinpath(name).read_bytes()
    target.write_bytes(data)
    return target


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PipelineError(
            f"--out {out}: exists and is not an empty directory; evidence is never overwritten "
            "(choose a new directory)",
            exit_status=cliopts.EXIT_USAGE,
        )


def _record_git(out: Path, bundle: Path, progress: Progress) -> bool:
    """``loadcert collect git`` of a snapshot repository of exactly what the demo runs.

    The code under test is the packaged demo service, never the current directory's
    repository: binding that repository's commit would certify a commit that was not
    tested. Returns False when no git state could be recorded (git missing).
    """
    from pytest_loadcert.collect.git import GitError, collect

    if shutil.which("git") is None:
        progress.detail("git is not installed: nothing can bind the code under test, so the")
        progress.detail("bundle is not sealed and the certificate will be blocked")
        return False
    snapshot = _snapshot_repository(out)
    try:
        document = collect(snapshot, bundle)
    except GitError as error:
        raise PipelineError(f"git state of the snapshot {snapshot}: {error}") from None
    progress.detail(
        f"binding what runs: {snapshot} (the demo service's source, the k6 script, the "
        f"profile), commit {document['sha'][:12]} {document['ref']}"
    )
    return True


#: The package modules the demo service runs, bound in the snapshot repository.
SERVICE_MODULES = ("demo.service", "demo.otlpjson", "demo.exampleservice")


def _snapshot_repository(out: Path) -> Path:
    """A one-commit repository of the demo's inputs under ``out/source``."""
    import importlib

    source = out / "source"
    source.mkdir()
    for name in SERVICE_MODULES:
        module_file = importlib.import_module(f"pytest_loadcert.{name}").__file__
        if module_file is None:
            raise PipelineError(f"pytest_loadcert.{name} has no source file to bind")
        shutil.copyfile(module_file, source / f"{name.rsplit('.', 1)[-1]}.py")
    shutil.copyfile(out / "script.js", source / "script.js")
    shutil.copyfile(out / "profile.toml", source / "profile.toml")
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    for args in (
        ["init", "-q", "-b", "loadcert-demo"],
        ["add", "."],
        ["commit", "-q", "-m", "loadcert demo: the service, script and profile that ran"],
    ):
        done = subprocess.run(
            [
                "git",
                "-C",
                str(source),
                "-c",
                "user.name=loadcert demo",
                "-c",
                "user.email=loadcert-demo@localhost",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise PipelineError(f"git {args[0]} in {source}: {done.stderr.strip()}")
    return source


def run_demo(
    out: Path | None,
    *,
    stage_seconds: int = DEFAULT_STAGE_SECONDS,
    progress_out: IO[str] | None = None,
) -> DemoResult:
    """Run the demo into ``out`` (default: a new directory under the system's temp dir).

    A module of the ``demo`` extra found missing on the way removes what the run wrote
    (``out`` itself, unless it was an empty directory given) before the error goes on."""
    deadline = Deadline(BUDGET_S)
    progress = Progress(deadline, progress_out)
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="loadcert-demo-"))
        created = True
    else:
        _check_out(out)
        created = not out.exists()
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _run_demo(out, stage_seconds, deadline, progress)
    except ModuleNotFoundError:
        # An extra's module imported late (check_requirements saw it installed, or was not
        # called): nothing of this run is worth keeping, and it is not the user's directory.
        _remove_run(out, created)
        raise


def _remove_run(out: Path, created: bool) -> None:
    """Remove what a run wrote: ``out`` itself when the run created it, else its contents
    (an empty directory the user named stays, empty)."""
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for entry in out.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _run_demo(out: Path, stage_seconds: int, deadline: Deadline, progress: Progress) -> DemoResult:
    from pytest_loadcert.config.profile import load_profile

    result = DemoResult(out)
    bundle, logs, telemetry = out / "bundle", out / "logs", out / "telemetry"
    for directory in (bundle, logs, telemetry):
        directory.mkdir()
    profile_path = _copy_asset("demo.toml", out / "profile.toml")
    script = _copy_asset("script.js", out / "script.js")
    profile = load_profile(profile_path)
    traces = telemetry / "otel-traces.ndjson"
    progress.step(f"loadcert demo: writing to {out}")

    processes = Processes()
    with _sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="loadcert-demo-prom-") as tmp:
        try:
            progress.step("recording the git state (loadcert collect git)")
            git_recorded = _record_git(out, bundle, progress)

            progress.step("starting the demo service (OpenTelemetry traces, Prometheus metrics)")
            service, service_url = start_listening_service(
                [
                    sys.executable,
                    "-m",
                    "pytest_loadcert.demo.service",
                    "--port",
                    "0",
                    "--traces",
                    str(traces),
                ],
                processes,
                deadline,
                logs / "service.log",
                "the demo service",
            )
            progress.detail(f"{service_url} (pid {service.pid}); traces to {traces}")

            prometheus_url: str | None = None
            binary = find_prometheus()
            if binary is None:
                progress.step(
                    "prometheus: not found on PATH (Debian/Ubuntu: apt-get install prometheus)"
                )
                progress.detail(
                    "going on without Prometheus evidence: the metric gates will block,"
                )
                progress.detail("so the certificate will be blocked (nothing is faked)")
                result.notes.append(
                    "no Prometheus: install it (apt-get install prometheus) for a certified run"
                )
            else:
                progress.step(f"starting Prometheus ({binary}), scraping the service every second")
                port = int(service_url.rsplit(":", 1)[1])
                prom, prometheus_url = start_prometheus(
                    binary,
                    port,
                    logs / "prometheus.yml",
                    Path(tmp) / "tsdb",
                    logs / "prometheus.log",
                    processes,
                    deadline,
                    job="demo-service",
                )
                progress.detail(f"{prometheus_url} (pid {prom.pid}); storage {Path(tmp) / 'tsdb'}")

            def on_stage(stage: str, vus: int) -> None:
                progress.step(
                    f"k6: stage {stage}, {vus} VUs for {stage_seconds} s (loadcert run-stage)"
                )

            run_stages(
                bundle,
                profile,
                profile_path,
                script,
                service_url,
                prometheus_url=prometheus_url,
                stage_seconds=stage_seconds,
                logs=logs,
                deadline=deadline,
                processes=processes,
                on_stage=on_stage,
            )

            if prometheus_url is not None:
                progress.step(
                    "collecting Prometheus answers per stage (loadcert collect prometheus)"
                )
                _collect_prometheus(prometheus_url, bundle, profile, progress)
                processes.stop(prom)

            progress.step("stopping the service (flushes its last spans)")
            processes.stop(service)
            progress.step("importing the run window's spans (loadcert collect otel)")
            _collect_otel(traces, bundle, profile, progress)

            if git_recorded:
                progress.step("sealing the bundle (loadcert seal)")
                _seal(bundle, out, progress)
        finally:
            processes.stop_all()

    progress.step("certifying (pytest with the loadcert plugin)")
    return _certify(result, bundle, profile_path, deadline, progress)


def _collect_prometheus(url: str, bundle: Path, profile: Profile, progress: Progress) -> None:
    from pytest_loadcert.collect.base import CollectError
    from pytest_loadcert.collect.prometheus import collect

    try:
        collected = collect(url, bundle, profile, log=progress.detail)
    except CollectError as exc:
        progress.detail(f"collection failed: {exc}")
        return
    for problem in [*collected.problems, *collected.warnings]:
        progress.detail(problem)
    empty = empty_prometheus_answers(bundle, profile.stage_names)
    for problem in empty:
        progress.detail(problem)
    if not collected.problems and not empty:
        progress.detail(
            f"{len(profile.metrics)} queries x {len(profile.stages)} stages, every one answered"
        )


def _collect_otel(traces: Path, bundle: Path, profile: Profile, progress: Progress) -> None:
    from pytest_loadcert.collect.otel import OtelError, collect

    try:
        imported = collect([traces], bundle, profile)
    except OtelError as exc:
        progress.detail(f"nothing imported: {exc}")
        return
    progress.detail(
        f"{imported.spans_kept} of {imported.spans_read} spans start inside the run window"
    )
    if imported.stages_without_spans:
        progress.detail("no span in stage(s) " + ", ".join(imported.stages_without_spans))


def _seal(bundle: Path, out: Path, progress: Progress) -> None:
    from pytest_loadcert.demo import service as demoservice
    from pytest_loadcert.evidence.hashing import sha256_file
    from pytest_loadcert.evidence.timeutil import now_utc
    from pytest_loadcert.run.seal import SealError, seal

    source = Path(demoservice.__file__)
    digest = sha256_file(source)
    manifest = out / "k8s-manifest.yaml"
    manifest.write_text(
        illustrative_manifest(
            SERVICE_NAME,
            "pytest_loadcert.demo.service",
            "pytest_loadcert/demo/service.py",
            "loadcert-demo",
            digest,
        )
    )
    run_id = RUN_ID_PREFIX + now_utc().strftime("%Y-%m-%dT%H-%M-%SZ")
    try:
        sealed = seal(
            bundle,
            run_id=run_id,
            environment=ENVIRONMENT,
            images=[(SERVICE_NAME, digest)],
            k8s_manifest=manifest,
        )
    except SealError as exc:
        progress.detail(f"not sealed: {exc}")
        return
    progress.detail(
        f"{sealed.path}: {len(sealed.manifest['files'])} files; run {run_id}; image "
        f"{SERVICE_NAME}={digest[:19]}... (the sha256 of demo/service.py; illustrative manifest)"
    )


def _certify(
    result: DemoResult, bundle: Path, profile_path: Path, deadline: Deadline, progress: Progress
) -> DemoResult:
    import json

    out = result.out
    junit = out / "certificate.xml"
    argv = [
        sys.executable, "-m", "pytest",
        # The demo's own configuration only: no ini file, conftest or cache of the directory
        # it was started from; the plugin by its entry-point name, even with autoload off.
        "-c", os.devnull, "--rootdir", str(out), "-p", "no:cacheprovider", "-p", "loadcert",
        f"--evidence-dir={bundle}", "--loadcert-profile", str(profile_path),
        f"--junitxml={junit}", "-q", "--tb=no", "-rN", "--color=no",
    ]  # fmt: skip
    # Settings meant for the user's own certification runs (LOADCERT_GIT_SHA,
    # LOADCERT_CERTIFICATE, PYTEST_ADDOPTS, ...) do not apply to the demo's bundle.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LOADCERT_") and key not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
    }
    sys.stdout.flush()
    try:
        done = subprocess.run(
            argv,
            cwd=out,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=deadline.remaining(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PipelineError("certification: over the time budget") from None
    certificate = out / "certificate.json"
    try:
        document = json.loads(certificate.read_text())
        verdict = str(document["verdict"])
    except (OSError, ValueError, KeyError, TypeError):
        raise PipelineError(
            f"certification wrote no readable {certificate} (pytest exited {done.returncode})"
        ) from None
    result.verdict = verdict
    result.exit_status = done.returncode
    progress.step(f"verdict: {verdict} (exit {done.returncode})")
    gates = document.get("gates")
    stopped = [
        gate
        for gate in (gates if isinstance(gates, list) else [])
        if isinstance(gate, dict) and gate.get("status") in ("failed", "blocked", "not_run")
    ]
    for gate in stopped[:SHOWN_GATES]:
        status = str(gate.get("status"))
        message = str(gate.get("message")).removeprefix(f"{status}: ")
        progress.detail(f"{status}: {gate.get('id')}: {message}")
    if len(stopped) > SHOWN_GATES:
        progress.detail(f"... and {len(stopped) - SHOWN_GATES} more in {certificate}")
    progress.detail(f"bundle:           {bundle}")
    progress.detail(f"certificate.json: {certificate}")
    progress.detail(f"junit XML:        {junit}")
    progress.detail(f"logs:             {out / 'logs'}")
    progress.detail(
        f"certify it again: pytest --evidence-dir={bundle} --loadcert-profile {profile_path}"
    )
    for note in result.notes:
        progress.detail(note)
    return result


# ----------------------------------------------------------------------------- command line


def _stage_seconds(text: str) -> int:
    value = cliopts.positive_int(text)
    if value > MAX_STAGE_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_STAGE_SECONDS}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert demo``."""
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="a new (or empty) directory for the bundle, certificate and logs "
        "(default: a new loadcert-demo-* directory in the system's temp dir)",
    )
    parser.add_argument(
        "--stage-seconds",
        type=_stage_seconds,
        default=DEFAULT_STAGE_SECONDS,
        metavar="N",
        help=f"how long each of the three stages runs (default {DEFAULT_STAGE_SECONDS}, "
        f"at most {MAX_STAGE_SECONDS})",
    )


#: What the demo imports from the ``demo`` extra: the HTTP client of ``collect prometheus``,
#: the service's OpenTelemetry SDK and OTLP/JSON encoder, and its metrics library.
DEMO_MODULES = (
    "requests",
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.common.trace_encoder",
    "prometheus_client",
)


def check_requirements() -> None:
    """:class:`cliopts.MissingExtra` (exit 2) unless the ``demo`` extra is installed: every
    module it imports, and a k6 binary (the extra's ``k6`` package ships one). Called before
    anything is created, so a missing extra leaves nothing behind."""
    from pytest_loadcert.run.k6bin import K6NotFound, find_k6

    cliopts.require("demo", *DEMO_MODULES)
    try:
        find_k6()
    except K6NotFound as exc:
        raise cliopts.MissingExtra(
            f"{exc}; the demo extra ships it: pip install 'pytest-loadcert[demo]'"
        ) from None


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert demo``: the certification's exit status (0, 1, 2), or 1 when a step failed."""
    from pytest_loadcert.config.profile import ProfileError

    check_requirements()
    try:
        result = run_demo(ns.out, stage_seconds=ns.stage_seconds)
    except PipelineError as exc:
        return cliopts.error(ns, str(exc), exc.exit_status)
    except ProfileError as exc:
        return cliopts.error(ns, str(exc), cliopts.EXIT_FAILED)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    return result.exit_status
