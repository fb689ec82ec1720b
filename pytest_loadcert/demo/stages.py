"""Every stage of a profile through ``loadcert run-stage`` (the real k6) against a local
service, optionally pushing k6's metrics to a local Prometheus; and the check that every
query of the collected answers came back with a sample."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_loadcert.demo.processes import (
    NEW_GROUP,
    Deadline,
    PipelineError,
    Processes,
    log_tail,
)

if TYPE_CHECKING:
    from pytest_loadcert.config.profile import Profile

#: A pause between stages, so no scrape or window rounding mixes two stages.
STAGE_GAP_S = 1.0


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

    from pytest_loadcert.evidence.layout import PROMETHEUS_JSON, stage_file

    problems = []
    for stage in stages:
        rel = stage_file(stage, PROMETHEUS_JSON)
        try:
            document = json.loads((bundle / rel).read_text())
        except (OSError, ValueError):
            problems.append(f"{stage}: {rel} is missing or unreadable")
            continue
        for query in document.get("queries", []):
            data = query.get("response", {}).get("data", {})
            if not data.get("result"):
                problems.append(f"{stage}: {query['name']} came back empty ({query['promql']})")
    return problems
