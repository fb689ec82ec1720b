"""Real-tool integration: the real k6 (and a real Prometheus) against the example service.

Everything runs on 127.0.0.1, bounded (2 VUs for 3 s per k6 run), and stops by itself.
:func:`make_real_bundle` builds a complete, sealed bundle from real runs; other tests (the
plugin's certification of a real bundle) reuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from promserver import PrometheusUnavailable, start_prometheus

from pytest_loadcert import cli
from pytest_loadcert.demo.exampleservice import start_service
from pytest_loadcert.evidence.hashing import sha256_file
from pytest_loadcert.run.k6bin import K6NotFound, find_k6

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "evidence" / "example.toml"
SCRIPT = REPO / "evidence" / "example-script.js"
SERVICE_SOURCE = REPO / "pytest_loadcert" / "demo" / "exampleservice.py"


def _k6_or_skip() -> str:
    try:
        return str(find_k6())
    except K6NotFound as exc:
        pytest.skip(str(exc))


@contextmanager
def real_prometheus(tmp: Path, scrape_port: int) -> Iterator[str]:
    """Our own Prometheus on 127.0.0.1 (tests/promserver.py), scraping the service on
    ``scrape_port`` and accepting remote write; yields its URL, stops it afterwards."""
    try:
        with start_prometheus(tmp / "prometheus", [f"127.0.0.1:{scrape_port}"]) as server:
            yield server.url
    except PrometheusUnavailable as exc:
        pytest.skip(str(exc))


def make_real_bundle(
    dest: Path,
    *,
    service_url: str,
    stage: str = "smoke",
    vus: int = 2,
    duration: str = "3s",
    prometheus_url: str | None = None,
    git_repo: Path | None = None,
) -> Path:
    """Run the real k6 for one stage of evidence/example.toml into ``dest``, optionally
    collect a real Prometheus, and seal. Returns ``dest``.

    ``git_repo`` defaults to a fresh one-commit repository beside ``dest`` (so ``git.dirty``
    is false whatever state the working tree is in).
    """
    k6 = _k6_or_skip()
    extra = ["-e", f"BASE_URL={service_url}", "-e", f"VUS={vus}", "-e", f"DURATION={duration}"]
    env_backup = dict(os.environ)
    if prometheus_url is not None:
        extra = ["-o", "experimental-prometheus-rw", *extra]
        os.environ["K6_PROMETHEUS_RW_SERVER_URL"] = f"{prometheus_url}/api/v1/write"
        os.environ["K6_PROMETHEUS_RW_TREND_STATS"] = "p(95),p(99),max"
        os.environ["K6_PROMETHEUS_RW_PUSH_INTERVAL"] = "1s"
    try:
        status = cli.main(
            [
                "run-stage",
                "--evidence-dir",
                str(dest),
                "--stage",
                stage,
                "--script",
                str(SCRIPT),
                "--loadcert-profile",
                str(PROFILE),
                "--k6",
                k6,
                "--",
                *extra,
            ]
        )
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    assert status == 0, "loadcert run-stage failed"
    if prometheus_url is not None:
        status = cli.main(
            [
                "collect",
                "prometheus",
                "--url",
                prometheus_url,
                "--evidence-dir",
                str(dest),
                "--loadcert-profile",
                str(PROFILE),
            ]
        )
        assert status == 0, "loadcert collect prometheus failed"

    if git_repo is None:
        git_repo = dest.parent / f"{dest.name}-repo"
        git_repo.mkdir()
        for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "under test"]):
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(git_repo),
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@example.invalid",
                    *args,
                ],
                check=True,
                capture_output=True,
            )
    manifest = dest.parent / f"{dest.name}-manifest.yaml"
    manifest.write_text("# illustrative manifest for a real-k6 test bundle\nkind: List\n")
    status = cli.main(
        [
            "seal",
            "--evidence-dir",
            str(dest),
            "--run-id",
            f"real-k6-{stage}",
            "--environment",
            "test",
            "--image",
            f"example-service={sha256_file(SERVICE_SOURCE)}",
            "--k8s-manifest",
            str(manifest),
            "--git-repo",
            str(git_repo),
        ]
    )
    assert status == 0, "loadcert seal failed"
    return dest


def test_run_stage_and_seal_with_real_k6(tmp_path: Path) -> None:
    with start_service(0) as service:
        bundle = make_real_bundle(tmp_path / "bundle", service_url=service.url)

    stage = json.loads((bundle / "stages/smoke/stage.json").read_text())
    summary = json.loads((bundle / "stages/smoke/k6-summary.json").read_text())
    metrics = summary["metrics"]
    assert stage["k6_exit_code"] == 0
    assert stage["k6_version"].startswith("k6 v")
    assert stage["target_vus"] == 2
    # What k6 measured: 2 VUs at the peak (vus.max; vus_max is only the pool size).
    assert metrics["vus"]["max"] == 2
    assert metrics["vus_max"]["max"] == 2
    assert metrics["http_reqs"]["count"] >= 50
    assert metrics["http_req_failed"]["passes"] == 0  # passes = failed requests
    assert all(v is False for v in metrics["http_req_failed"]["thresholds"].values())
    assert "p(99)" in metrics["http_req_duration"] and "count" in metrics["http_req_duration"]
    # The wall-clock window brackets the 3 s run: never shorter, and longer by no more than
    # k6's start-up and its graceful stop (30 s at most) can add, however busy the machine.
    from pytest_loadcert.evidence.timeutil import parse_utc

    start, end = parse_utc(stage["start_time"]), parse_utc(stage["end_time"])
    assert start is not None and end is not None
    assert 3.0 <= (end - start).total_seconds() < 3.0 + 30 + 10

    manifest = json.loads((bundle / "loadcert.json").read_text())
    assert manifest["git"]["dirty"] is False
    assert sorted(manifest["files"]) == [
        "artifacts/k6-script.js",
        "artifacts/k8s-manifest.yaml",
        "stages/smoke/k6-summary.json",
        "stages/smoke/stage.json",
    ]
    for rel, digest in manifest["files"].items():
        assert sha256_file(bundle / rel) == digest
    assert manifest["artifacts"]["k6_script"]["sha256"] == sha256_file(SCRIPT)


def test_collect_prometheus_from_real_prometheus(tmp_path: Path) -> None:
    with start_service(0) as service, real_prometheus(tmp_path, service.port) as prom_url:
        bundle = make_real_bundle(
            tmp_path / "bundle", service_url=service.url, prometheus_url=prom_url
        )

    document = json.loads((bundle / "stages/smoke/prometheus.json").read_text())
    summary = json.loads((bundle / "stages/smoke/k6-summary.json").read_text())["metrics"]
    values = {}
    for query in document["queries"]:
        assert query["response"]["status"] == "success", query
        result = query["response"]["data"]["result"]
        assert len(result) == 1, query  # k6's remote write arrived; nothing was defaulted
        values[query["name"]] = float(result[0]["value"][1])
    assert 1 <= values["k6_peak_vus"] <= 2  # the gauge as sampled: never above what k6 ran
    assert values["k6_failed_ratio"] == 0
    assert values["service_errors"] == 0
    # The service's scraped counter saw roughly what k6 sent (increase() extrapolates).
    assert values["service_requests"] >= 0.5 * summary["http_reqs"]["count"]
    assert (
        "stages/smoke/prometheus.json"
        in json.loads((bundle / "loadcert.json").read_text())["files"]
    )
