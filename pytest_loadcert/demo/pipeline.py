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

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.demo.processes import (
    Deadline,
    PipelineError,
    Processes,
    Progress,
    start_listening_service,
)
from pytest_loadcert.demo.prometheus_server import find_prometheus, start_prometheus
from pytest_loadcert.demo.snapshot import illustrative_manifest, record_git
from pytest_loadcert.demo.stages import empty_prometheus_answers, run_stages

if TYPE_CHECKING:
    from pytest_loadcert.config.profile import Profile

#: The whole demo gives up after this many seconds (it needs well under a minute).
BUDGET_S = 150.0
#: How long each stage runs unless ``--stage-seconds`` says otherwise.
DEFAULT_STAGE_SECONDS = 5
RUN_ID_PREFIX = "demo-"
ENVIRONMENT = "local-demo"
SERVICE_NAME = "demo-service"
#: Gates that did not pass, listed after the verdict (the rest are in certificate.json).
SHOWN_GATES = 5


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
    from pytest_loadcert.config.load import load_profile

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
            git_recorded = record_git(out, bundle, progress)

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
    from pytest_loadcert.evidence.layout import K8S_MANIFEST
    from pytest_loadcert.evidence.timeutil import now_utc
    from pytest_loadcert.run.seal import SealError, seal

    source = Path(demoservice.__file__)
    digest = sha256_file(source)
    manifest = out / Path(K8S_MANIFEST).name
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
    # The demo's own configuration only (an empty pytest.ini in its output folder, which
    # pytest takes before any file above it): no ini file or conftest of the directory it was
    # started from, no cache; the plugin by its entry-point name, even with autoload off.
    (out / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    argv = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "loadcert",
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
