"""Record the example evidence bundle (evidence/example) for real, on this machine.

    .venv/bin/python tools/record_example.py            # writes evidence/example
    .venv/bin/python tools/record_example.py --out DIR  # somewhere else

What it does, all on 127.0.0.1 and bounded (about 40 s; it gives up after 60 s), with the
machinery ``loadcert demo`` uses (pytest_loadcert/demo/):

1. starts the example service (``python -m pytest_loadcert.demo.exampleservice --port 0``);
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

k6's output goes to a log in the temporary directory; a failing step prints its tail.

For ``git.dirty`` to be false (the gates block a dirty tree), run it from a clean checkout,
e.g. ``git clone . /tmp/rec && cd /tmp/rec && python tools/record_example.py --out
<repo>/evidence/example`` (see evidence/README.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_loadcert.config.load import load_profile  # noqa: E402
from pytest_loadcert.demo.processes import (  # noqa: E402
    Deadline,
    PipelineError,
    Processes,
    Progress,
    start_listening_service,
)
from pytest_loadcert.demo.prometheus_server import find_prometheus, start_prometheus  # noqa: E402
from pytest_loadcert.demo.snapshot import illustrative_manifest  # noqa: E402
from pytest_loadcert.demo.stages import empty_prometheus_answers, run_stages  # noqa: E402
from pytest_loadcert.evidence.hashing import sha256_file  # noqa: E402
from pytest_loadcert.evidence.timeutil import now_utc  # noqa: E402

PROFILE = REPO / "evidence" / "example.toml"
SCRIPT = REPO / "evidence" / "example-script.js"
SERVICE_SOURCE = REPO / "pytest_loadcert" / "demo" / "exampleservice.py"
DEFAULT_OUT = REPO / "evidence" / "example"
STAGE_SECONDS = 8
#: A pause between stages so no scrape or window rounding mixes two stages.
STAGE_GAP_S = 1.5
BUDGET_S = 60.0


def loadcert(args: Sequence[str], env: dict[str, str], deadline: Deadline) -> None:
    """Run the real CLI (``python -m pytest_loadcert.cli``) as a user would."""
    command = [sys.executable, "-m", "pytest_loadcert.cli", *args]
    print("$ loadcert " + " ".join(args), flush=True)
    try:
        done = subprocess.run(command, env=env, timeout=deadline.remaining(), check=False)
    except subprocess.TimeoutExpired:
        raise PipelineError(f"loadcert {args[0]}: timed out") from None
    if done.returncode != 0:
        raise PipelineError(f"loadcert {args[0]} exited {done.returncode}")


def record(out: Path, prometheus: str, k6: str | None) -> float:
    """Record the bundle into ``out``; returns the seconds it took."""
    deadline = Deadline(BUDGET_S)
    progress = Progress(deadline)
    profile = load_profile(PROFILE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    processes = Processes()
    with tempfile.TemporaryDirectory(prefix="loadcert-record-") as tmp_name:
        tmp = Path(tmp_name)
        bundle, logs = tmp / "bundle", tmp / "logs"
        logs.mkdir()
        try:
            _service, service_url = start_listening_service(
                [sys.executable, "-m", "pytest_loadcert.demo.exampleservice", "--port", "0"],
                processes, deadline, logs / "service.log", "example service", env,
            )  # fmt: skip
            progress.step(f"example service: {service_url}")
            _prom, prom_url = start_prometheus(
                prometheus, int(service_url.rsplit(":", 1)[1]), tmp / "prometheus.yml",
                tmp / "tsdb", logs / "prometheus.log", processes, deadline,
                job="example-service",
            )  # fmt: skip
            progress.step(f"prometheus: {prom_url} (storage {tmp / 'tsdb'})")
            run_stages(
                bundle, profile, PROFILE, SCRIPT, service_url,
                prometheus_url=prom_url, stage_seconds=STAGE_SECONDS, logs=logs,
                deadline=deadline, processes=processes, k6=k6, gap_s=STAGE_GAP_S, env=env,
                on_stage=lambda stage, vus: progress.step(
                    f"k6: stage {stage}, {vus} VUs for {STAGE_SECONDS} s"
                ),
            )  # fmt: skip
            loadcert(
                [
                    "collect", "prometheus", "--url", prom_url, "--evidence-dir", str(bundle),
                    "--loadcert-profile", str(PROFILE),
                ],
                env,
                deadline,
            )  # fmt: skip
            empty = empty_prometheus_answers(bundle, profile.stage_names)
            if empty:
                raise PipelineError("; ".join(empty))
        finally:
            processes.stop_all()

        digest = sha256_file(SERVICE_SOURCE)
        manifest = tmp / "k8s-manifest.yaml"
        text = illustrative_manifest(
            "example-service", "pytest_loadcert.demo.exampleservice",
            "pytest_loadcert/demo/exampleservice.py", "loadcert-example", digest,
        )  # fmt: skip
        manifest.write_text(text)
        run_id = "example-" + now_utc().strftime("%Y-%m-%dT%H-%MZ")
        loadcert(
            [
                "seal", "--evidence-dir", str(bundle), "--run-id", run_id,
                "--environment", "local-example", "--image", f"example-service={digest}",
                "--k8s-manifest", str(manifest), "--git-repo", str(REPO),
            ],
            env,
            deadline,
        )  # fmt: skip
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(bundle, out)
    return deadline.elapsed()


def main(argv: list[str] | None = None) -> int:
    """Record the example bundle; exit 1 (with the step) on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle directory to replace")
    parser.add_argument("--prometheus", default=None, help="prometheus binary (default: on PATH)")
    parser.add_argument("--k6", default=None, help="k6 binary (default: loadcert's lookup)")
    args = parser.parse_args(argv)
    prometheus = shutil.which(args.prometheus) if args.prometheus else find_prometheus()
    if prometheus is None:
        print(
            f"record_example: {args.prometheus or 'prometheus'} not found "
            "(apt-get install prometheus)",
            file=sys.stderr,
        )
        return 1
    try:
        seconds = record(args.out.resolve(), prometheus, args.k6)
    except PipelineError as exc:
        print(f"record_example: {exc}", file=sys.stderr)
        return 1
    print(f"recorded {args.out} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
