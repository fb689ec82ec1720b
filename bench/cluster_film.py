"""Benchmark: what reading the cluster snapshot as a film costs, printed as figures.

    .venv/bin/python bench/cluster_film.py [--repeat N] [--pods 500,5000,50000]

For each size, a List built with ``tests/bundlefactory.py``'s cluster: the default
profile's workloads, with ``gateway`` scaled to the given number of pods (its ReplicaSet,
Service, Endpoints and EndpointSlice with them). Measures, each as the median of N runs in
this process:

- parsing the List (``parse_cluster``);
- checking it against itself (``check_relations``: copies, uids, times, owners, counts,
  Service routes);
- reading the certification pods' history (``certification_pods`` + ``pod_history``).

The run's stage windows are the factory's; the List is taken 2 minutes after the last one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import bundlefactory as bf  # noqa: E402

from pytest_loadcert.config.defaults import DEFAULT_PROFILE  # noqa: E402
from pytest_loadcert.evidence.cluster import certification_pods, parse_cluster  # noqa: E402
from pytest_loadcert.evidence.cluster_history import Timeline, hpa_scalers, pod_history  # noqa: E402
from pytest_loadcert.evidence.cluster_relations import check_relations  # noqa: E402


def snapshot_items(pods: int) -> list[dict[str, Any]]:
    cluster = bf._Cluster(bf.START)
    for name, (replicas, spec) in bf.DEPLOYMENTS.items():
        cluster.deployment(name, pods if name == "gateway" else replicas, spec)
    for name, (replicas, spec) in bf.STATEFULSETS.items():
        cluster.statefulset(name, replicas, spec)
    for name, (low, high) in bf.HPAS.items():
        cluster.hpa(name, low, max(high, pods + 1), pods if name == "gateway" else 2)
    for name in bf.SERVICE_PORTS:
        cluster.service(name)
    return cluster.items


def median(label: str, repeat: int, run: Any) -> None:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    print(f"  {label:<34} median {statistics.median(seconds):8.4f} s  (n={repeat})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pods", default="500,5000,50000")
    options = parser.parse_args()
    cluster = DEFAULT_PROFILE["cluster"]
    windows = bf.stage_windows()
    timeline = Timeline(tuple((w.name, w.start, w.end) for w in windows))
    collected = windows[-1].end + timedelta(seconds=bf.CLUSTER_DELAY_S)
    deployments = tuple(cluster["deployments"])
    statefulsets = tuple(cluster["statefulsets"])
    for pods in (int(p) for p in options.pods.split(",")):
        document = {"apiVersion": "v1", "kind": "List", "items": snapshot_items(pods)}
        snapshot = parse_cluster(document, bf.CLUSTER_PATH)
        print(f"gateway at {pods} pods: {len(snapshot.items)} objects")
        median(
            "parse_cluster", options.repeat, lambda d=document: parse_cluster(d, bf.CLUSTER_PATH)
        )
        median(
            "check_relations",
            options.repeat,
            lambda s=snapshot: check_relations(
                s, collected, 5.0, deployments, statefulsets, tuple(cluster["services"])
            ),
        )

        def history(snapshot: Any = snapshot) -> None:
            found = certification_pods(snapshot, deployments, statefulsets)
            result = pod_history(snapshot, found, timeline, hpa_scalers(snapshot, ("gateway",)))
            assert not result.failures and not result.unknowns, result

        median("certification_pods + pod_history", options.repeat, history)


if __name__ == "__main__":
    main()
