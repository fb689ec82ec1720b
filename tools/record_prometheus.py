"""Record real Prometheus 2.42 answers for one stage window (fixtures/prometheus/).

    .venv/bin/python tools/record_prometheus.py            # rewrites fixtures/prometheus/
    .venv/bin/python tools/record_prometheus.py --out DIR  # somewhere else

For each case: series written as OpenMetrics, backfilled with ``promtool tsdb
create-blocks-from openmetrics`` into a fresh TSDB, served by Debian's ``prometheus`` on
127.0.0.1 (retention 20 y, so the backfilled blocks stay), and asked by the real ``loadcert
collect prometheus`` (the built-in profile, ``--delay-s 30``) for the smoke stage window of
the factory's valid bundle (``tests/bundlefactory.py``: 2026-05-01T00:00:00Z, 60 s). It writes

- ``<case>.prometheus.json``: the stage's prometheus.json exactly as the collector wrote it;
- ``<case>.meta.json``: the Prometheus version, the case's description, and what the query
  of ``object_store_errors`` answered when asked the way loadcert asked before the window
  was bound with ``@`` (``[60s]`` evaluated at the stage end + 30 s), for comparison.

Every series is sampled every 5 s from 120 s before the window to 60 s after it, with
values the built-in profile passes, except where a case says otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import bundlefactory as bf  # noqa: E402
import promserver  # noqa: E402

from pytest_loadcert.collect.prometheus import collect  # noqa: E402
from pytest_loadcert.config.load import load_profile  # noqa: E402

OUT = REPO / "fixtures" / "prometheus"
WINDOW = bf.stage_windows()[0]  # smoke: 2026-05-01T00:00:00Z .. +60 s
START = int(WINDOW.start.timestamp())
END = int(WINDOW.end.timestamp())
STEP = 5
DELAY_S = 30

#: The built-in profile's series, each with a value it passes: (series, value).
HEALTHY: tuple[tuple[str, float], ...] = (
    ('kube_pod_container_status_restarts_total{pod="gateway-7d9f8-abcde",container="gateway"}', 0),
    ('realtime_ws_connected{pod="realtime-gateway-0"}', 18),
    ('realtime_ws_dropped_connections_total{pod="realtime-gateway-0"}', 0),
    ('db_pool_saturation_ratio{pod="pgbouncer-0"}', 0.31),
    ('object_store_errors_total{op="get"}', 0),
    ('nats_consumer_num_pending{consumer="orders"}', 3),
    ("vector_store_consistent", 1),
)

Series = dict[str, list[tuple[float, float]]]


def healthy(skip: Callable[[int], bool] = lambda t: False) -> Series:
    """Every healthy series, sampled every STEP s, without the instants ``skip`` names."""
    times = [t for t in range(START - 120, END + 61, STEP) if not skip(t)]
    return {name: [(t, value) for t in times] for name, value in HEALTHY}


def one_error_at(moment: int) -> Series:
    """The healthy series, and ``object_store_errors_total{op="put"}`` sampled every STEP s
    (0 before ``moment``, 1 from it) with one more sample at ``moment`` itself."""
    series = healthy()
    before = [(t, 0) for t in range(START - 120, END + 61, STEP) if t < moment]
    after = [(t, 1) for t in range(START - 120, END + 61, STEP) if t > moment]
    series['object_store_errors_total{op="put"}'] = [*before, (moment, 1), *after]
    return series


def first_second() -> Series:
    return one_error_at(START + 1)  # an error in the stage's first second


def after_end() -> Series:
    return one_error_at(END + 1)  # an error one second after the stage ended


def scrape_gap() -> Series:
    # Nothing scraped from +10 s to +45 s of the 60 s stage.
    return healthy(lambda t: START + 10 < t < START + 45)


def counter_born() -> Series:
    series = healthy()
    # A labelled counter created at its first errors (prometheus_client's labels()), 20 s
    # into the stage, already at 5: increase() reads 0 for it.
    series['object_store_errors_total{op="put"}'] = [
        (t, 5) for t in range(START + 20, END + 61, STEP)
    ]
    return series


#: case -> (series, extra Prometheus config, description)
CASES: dict[str, tuple[Callable[[], Series], str, str]] = {
    "healthy": (healthy, "", "every series sampled every 5 s, values the profile passes"),
    "first-second": (
        first_second,
        "",
        'object_store_errors_total{op="put"} goes 0 -> 1 one second into the stage',
    ),
    "after-end": (
        after_end,
        "",
        'object_store_errors_total{op="put"} goes 0 -> 1 one second after the stage ended',
    ),
    "scrape-gap": (scrape_gap, "", "no sample of any series from +10 s to +45 s (35 s)"),
    "counter-born": (
        counter_born,
        "",
        'object_store_errors_total{op="put"} first appears 20 s into the stage, at 5',
    ),
    "partial": (
        healthy,
        "remote_read:\n  - url: http://127.0.0.1:1/api/v1/read\n    read_recent: true\n",
        "the healthy series, from a Prometheus whose remote read fails: success + warnings",
    ),
}


def openmetrics(series: Series) -> str:
    lines: list[str] = []
    for name in sorted(series):
        for moment, value in sorted(series[name]):
            lines.append(f"{name} {value:g} {moment}")
    return "\n".join(lines) + "\n# EOF\n"


def record(case: str, work: Path, out: Path) -> None:
    build, config_extra, description = CASES[case]
    data = work / case / "data.om"
    data.parent.mkdir(parents=True)
    data.write_text(openmetrics(build()))
    directory = work / case / "prometheus"
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(data),
            str(directory / "tsdb"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    evidence = work / case / "bundle"
    files = bf.variant_files("valid")
    stage_json = evidence / "stages" / "smoke" / "stage.json"
    stage_json.parent.mkdir(parents=True)
    stage_json.write_text(json.dumps(files["stages/smoke/stage.json"]))
    profile = load_profile(None)
    with promserver.start_prometheus(directory, config_extra=config_extra, retention="20y") as prom:
        result = collect(prom.url, evidence, profile, DELAY_S)
        legacy_at = WINDOW.end + timedelta(seconds=DELAY_S)
        legacy = prom.query("sum(increase(object_store_errors_total[60s]))", bf.fmt_time(legacy_at))
        version = json.loads(promserver.http_get(f"{prom.url}/api/v1/status/buildinfo"))
    shutil.copyfile(
        evidence / "stages" / "smoke" / "prometheus.json", out / f"{case}.prometheus.json"
    )
    meta = {
        "case": case,
        "description": description,
        "prometheus": version["data"]["version"],
        "window": {"start": bf.fmt_time(WINDOW.start), "end": bf.fmt_time(WINDOW.end)},
        "collect_problems": result.problems,
        "before_at_modifier": {
            "promql": "sum(increase(object_store_errors_total[60s]))",
            "time": bf.fmt_time(legacy_at),
            "response": legacy,
        },
    }
    (out / f"{case}.meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"{case}: {len(result.problems)} problems")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="loadcert-record-prom-") as work:
        for case in CASES:
            record(case, Path(work), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
