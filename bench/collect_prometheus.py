"""Benchmark ``loadcert collect prometheus`` against a real Prometheus on 127.0.0.1.

    .venv/bin/python bench/collect_prometheus.py [--repeat 3] [--stages 6 12 24]

What it does (bounded: about a minute on 2 cores, everything on 127.0.0.1):

1. starts the example service and our own Prometheus (tests/promserver.py) scraping it every
   second; runs the real k6 once (3 VUs, 3 s) pushing its metrics by remote write, so the
   queries below hit real series;
2. writes a bundle of N stages (6, 12, 24 by default) whose windows lie inside that data, and
   a profile of 7 metrics (k6's and the service's), so N x 7 instant queries per collection;
3. times ``collect()`` (the Python API behind the command, files written) at concurrency 1
   and 4, the median of ``--repeat`` runs each; it asks each query's coverage too (the raw
   samples of each series selector, one more query per selector, in the same worker);
4. times the same queries one by one with a plain keep-alive ``requests.Session`` and sums
   the individual latencies: the raw query time, the floor for a sequential collection.

With ``--latency-ms 20`` (default: 0 and 20) the same runs go through a local forwarding
server that waits that long before passing each request on: a Prometheus one network round
trip away (another zone, a proxy), which is where concurrency pays.

It prints one row per latency and N: queries, raw sum, wall time at concurrency 1 and 4, the
collector's overhead over the raw sum at concurrency 1, and the speed-up of 4 over 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from promserver import FakeHttpServer, Reply, Seen, run_stage, start_prometheus  # noqa: E402

from pytest_loadcert.collect.http import HttpSettings  # noqa: E402
from pytest_loadcert.collect.prometheus import collect, evaluation_time  # noqa: E402
from pytest_loadcert.config.load import load_profile  # noqa: E402
from pytest_loadcert.demo.exampleservice import start_service  # noqa: E402
from pytest_loadcert.evidence.layout import STAGE_JSON, stage_file  # noqa: E402
from pytest_loadcert.evidence.prometheus import query_window  # noqa: E402
from pytest_loadcert.evidence.timeutil import format_utc, now_utc, parse_utc  # noqa: E402

METRICS = {
    "k6_peak_vus": 'max(max_over_time(k6_vus{stage="push"}[{window}]))',
    "k6_requests": 'sum(last_over_time(k6_http_reqs_total{stage="push"}[{window}]))',
    "k6_failed_ratio": '1 - sum(last_over_time(k6_http_reqs_total{stage="push",'
    'expected_response="true"}[{window}])) / sum(last_over_time(k6_http_reqs_total'
    '{stage="push"}[{window}]))',
    "k6_p95_s": 'max(last_over_time(k6_http_req_duration_p95{stage="push"}[{window}]))',
    "service_requests": 'sum(increase(example_http_requests_total{path!="/metrics"}[{window}]))',
    "service_errors": "sum(increase(example_http_errors_total[{window}]))",
    "service_in_flight": "max(max_over_time(example_http_requests_in_flight[{window}]))",
}


def profile_text(stages: int) -> str:
    text = "target_concurrency = 1\nstability = []\n"
    for index in range(stages):
        text += f'\n[[stages]]\nname = "s{index:02d}"\nmin_active_vus = 1\n'
    for name, promql in METRICS.items():
        text += f"\n[[metrics]]\nname = \"{name}\"\npromql = '{promql}'\nmin = 0\n"
    return text


def write_bundle(root: Path, stages: int, first: str, last: str) -> None:
    """``stages`` consecutive windows splitting [first, last] (the k6 run's window)."""
    start, end = parse_utc(first), parse_utc(last)
    assert start is not None and end is not None
    step = (end - start) / stages
    for index in range(stages):
        path = root / stage_file(f"s{index:02d}", STAGE_JSON)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({
            "stage": f"s{index:02d}",
            "start_time": format_utc(start + step * index),
            "end_time": format_utc(start + step * (index + 1)),
            "k6_exit_code": 0, "k6_version": "k6 v1.1.0",
            "command": ["k6", "run", "artifacts/k6-script.js"],
        }))  # fmt: skip


def raw_sum(url: str, root: Path, profile_path: Path) -> tuple[float, int]:
    """Each query asked alone over one keep-alive session: sum of latencies, count."""
    import requests

    profile = load_profile(profile_path)
    total, count = 0.0, 0
    with requests.Session() as session:
        session.get(f"{url}/api/v1/query", params={"query": "1"}, timeout=5)  # connect first
        for stage in profile.stage_names:
            document = json.loads((root / stage_file(stage, STAGE_JSON)).read_text())
            start, end = parse_utc(document["start_time"]), parse_utc(document["end_time"])
            assert start is not None and end is not None
            moment = format_utc(evaluation_time(end, 0))
            for spec in profile.metrics:
                params = {"query": spec.query_for(stage, *query_window(start, end)),
                          "time": moment}  # fmt: skip
                began = time.perf_counter()
                response = session.get(f"{url}/api/v1/query", params=params, timeout=30)
                response.content  # noqa: B018 - the body is part of the latency
                total += time.perf_counter() - began
                count += 1
                assert response.status_code == 200, response.text
    return total, count


def timed_collect(url: str, root: Path, profile_path: Path, concurrency: int) -> float:
    profile = load_profile(profile_path)
    began = time.perf_counter()
    result = collect(url, root, profile, concurrency=concurrency, http=HttpSettings(retries=0))
    elapsed = time.perf_counter() - began
    if result.problems:
        raise SystemExit(f"collection failed: {result.problems[0]}")
    return elapsed


def measure(tmp: Path, url: str, stages: int, pushed: dict[str, str], repeat: int) -> list[str]:
    """One row: raw sum and collection times (medians) for ``stages`` x 7 queries."""
    root = tmp / f"bundle-{stages}-{time.monotonic_ns()}"
    profile = tmp / f"profile-{stages}.toml"
    profile.write_text(profile_text(stages))
    write_bundle(root, stages, pushed["start_time"], pushed["end_time"])
    raws, ones, fours = [], [], []
    count = 0
    for _ in range(repeat):
        raw, count = raw_sum(url, root, profile)
        raws.append(raw)
        ones.append(timed_collect(url, root, profile, 1))
        fours.append(timed_collect(url, root, profile, 4))
    raw, one, four = (statistics.median(v) for v in (raws, ones, fours))
    return [
        str(stages), str(count), f"{raw:.3f}", f"{one:.3f}", f"{four:.3f}", f"{one - raw:.3f}",
        f"{one / count * 1000:.2f}", f"{four / count * 1000:.2f}", f"{one / four:.2f}x",
    ]  # fmt: skip


def delayed(target: str, latency_s: float) -> FakeHttpServer:
    """A local server forwarding every GET to ``target`` after ``latency_s``."""
    import urllib.parse
    import urllib.request

    def forward(seen: Seen, attempt: int) -> Reply:
        time.sleep(latency_s)
        query = urllib.parse.urlencode(seen.params)
        with urllib.request.urlopen(f"{target}{seen.path}?{query}", timeout=30) as response:
            return Reply(response.status, json.loads(response.read()))

    return FakeHttpServer(forward)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", type=int, nargs="+", default=[6, 12, 24])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="loadcert-bench-") as name:
        tmp = Path(name)
        with (
            start_service(0) as service,
            start_prometheus(tmp / "prom", [f"127.0.0.1:{service.port}"]) as prom,
        ):
            push_profile = tmp / "push.toml"
            push_profile.write_text(
                'target_concurrency = 1\nstability = []\n[[stages]]\nname = "push"\n'
                "min_active_vus = 1\n"
            )
            done = run_stage(tmp / "push", "push", prom.url, service.url, vus=3,
                             duration="3s", profile=push_profile)  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"k6 failed: {done.stderr[-2000:]}")
            pushed = json.loads((tmp / "push/stages/push/stage.json").read_text())
            # Let the last push and scrape land, and the collector's own wait elapse.
            end = parse_utc(pushed["end_time"])
            assert end is not None
            while now_utc() < end + timedelta(seconds=7):
                time.sleep(0.2)

            print(f"Prometheus {prom.url}, k6 run {pushed['start_time']} .. {pushed['end_time']}")
            print(
                f"median of {args.repeat} runs; {len(METRICS)} metrics per stage; `queries` "
                "counts the profile's queries: collect() also asks each one's coverage (one "
                "query per series selector), which the raw sum does not\n"
            )
            header = ("latency ms", "stages", "queries", "raw sum s", "c=1 s", "c=4 s",
                      "c=1 overhead s", "c=1 per query ms", "c=4 per query ms",
                      "speed-up 4/1")  # fmt: skip
            print(" | ".join(header))
            for latency in args.latency_ms:
                with contextlib.ExitStack() as stack:
                    url = prom.url
                    if latency > 0:
                        url = stack.enter_context(delayed(prom.url, latency / 1000)).url
                    for stages in args.stages:
                        print(" | ".join([f"{latency:g}", *measure(tmp, url, stages, pushed,
                                                                    args.repeat)]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
