"""Our own Prometheus on 127.0.0.1 for a local run: Debian's ``prometheus`` binary with
storage in a directory the caller owns, scraping one local service every second and
accepting k6's remote write."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pytest_loadcert.demo.processes import (
    NEW_GROUP,
    Deadline,
    PipelineError,
    Processes,
    free_port,
    http_get,
    log_tail,
    wait_for,
)

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


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
