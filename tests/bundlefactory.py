"""A pytest-free factory of ``loadcert/v1`` evidence bundles, and named trap variants.

The factory reproduces the **built-in default profile** (stages smoke .. 100k, the seven
critical metrics, the ``shop`` cluster) and writes a complete, valid bundle. The k6
summaries are modelled on the real recordings in ``fixtures/k6/`` (both JSON formats), the
Prometheus answers are real HTTP API bodies, the cluster snapshot is a ``kubectl get -o json``
v1 List.

It is deliberately independent of ``pytest_loadcert`` (its own hashing, time formatting and
JSON encoding), so the tests do not check the plugin against itself.

Typical use::

    from bundlefactory import bundle_files, build_variant, metric, stage_summaries, write_bundle

    files = bundle_files()                      # {relative path: JSON-able object | bytes}
    summary = stage_summaries(files, "100k")[0]
    metric(summary, "vus")["max"] = 60000       # mutate...
    write_bundle(tmp_path / "b", files)         # ...then (re)seal and write

    build_variant("nan_metric", tmp_path / "v")  # one of VARIANTS

Values in the files dict: ``bytes`` are written as they are; anything else is JSON, written
with sorted keys, ``indent=2`` and a trailing newline (NaN/Infinity refused).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_FORMATS",
    "EXPORT",
    "HANDLESUMMARY",
    "K6_VERSION",
    "METRICS",
    "NAMESPACE",
    "REDACTED",
    "STAGES",
    "START",
    "TREND_STATS",
    "VARIANTS",
    "Files",
    "StageWindow",
    "Variant",
    "build_bundle",
    "build_variant",
    "bundle_files",
    "digest",
    "encode",
    "find_items",
    "fmt_time",
    "image_digest",
    "k8s_items",
    "loadcert",
    "make_container_not_ready",
    "metric",
    "prometheus_query",
    "promql_for",
    "seal",
    "seal_files",
    "set_rate",
    "set_sample",
    "set_stage_window",
    "set_threshold",
    "stage_summaries",
    "stage_windows",
    "summary_format",
    "variant",
    "variant_files",
    "write_bundle",
]

Files = dict[str, Any]
"""A bundle in memory: relative ``/``-separated path -> JSON-able object, or ``bytes``."""

# --------------------------------------------------------------------------- constants

START = datetime(2026, 5, 1, tzinfo=UTC)
"""Default time base: the smoke stage starts here."""

#: The built-in profile's stages in ramp order: (name, min_active_vus).
STAGES: tuple[tuple[str, int], ...] = (
    ("smoke", 20),
    ("1k", 1000),
    ("10k", 10000),
    ("25k", 25000),
    ("50k", 50000),
    ("100k", 100000),
)
SMOKE_SECONDS = 60
STAGE_SECONDS = 300
GAP_SECONDS = 60

K6_VERSION = "k6 v1.1.0 (commit/0e3fb953be, go1.24.4, linux/amd64)"
TREND_STATS: tuple[str, ...] = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count")

HANDLESUMMARY = "handlesummary"
EXPORT = "summary-export"
#: Default k6 JSON format per stage: both formats are exercised.
DEFAULT_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        "smoke": HANDLESUMMARY,
        "1k": EXPORT,
        "10k": HANDLESUMMARY,
        "25k": EXPORT,
        "50k": HANDLESUMMARY,
        "100k": EXPORT,
    }
)

#: The k6 script's own thresholds (as they appear in the summaries, never in loadcert.json).
K6_THRESHOLDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "http_req_duration": ("p(95)<300", "p(99)<800"),
        "http_req_failed": ("rate<0.001",),
        "checks": ("rate>0.999",),
    }
)

#: The built-in profile's critical metrics: (name, promql template, "min" | "max", bound).
METRICS: tuple[tuple[str, str, str, float], ...] = (
    (
        "gateway_restarts",
        'sum(increase(kube_pod_container_status_restarts_total{pod=~"gateway-.*"}[{window}]))',
        "max",
        0,
    ),
    ("realtime_ws_connected", "sum(max_over_time(realtime_ws_connected[{window}]))", "min", 1),
    (
        "realtime_dropped_connections",
        "sum(increase(realtime_ws_dropped_connections_total[{window}]))",
        "max",
        50,
    ),
    ("db_pool_saturation", "max(max_over_time(db_pool_saturation_ratio[{window}]))", "max", 0.8),
    ("object_store_errors", "sum(increase(object_store_errors_total[{window}]))", "max", 0),
    ("nats_lag", "max(max_over_time(nats_consumer_num_pending[{window}]))", "max", 1000),
    (
        "vector_store_consistent",
        "min(min_over_time(vector_store_consistent[{window}]))",
        "min",
        1,
    ),
)

NAMESPACE = "shop"
GIT_SHA = hashlib.sha1(b"pytest-loadcert fixture commit").hexdigest()
SCRIPT_PATH = "artifacts/k6-script.js"
MANIFEST_PATH = "artifacts/k8s-manifest.yaml"
LOADCERT = "loadcert.json"
CLUSTER_PATH = "cluster/kubernetes.json"
GRAFANA_PATH = "observability/grafana.json"
OTEL_PATH = "observability/otel-traces.json"

CLUSTER_DELAY_S = 120  # cluster.collected_at = last stage end + this
GRAFANA_TO_DELAY_S = 240  # grafana time.to = last stage end + this
CREATED_DELAY_S = 300  # loadcert.json created_at = last stage end + this
EVAL_DELAY_S = 5  # Prometheus evaluation time = stage end + this
PROM_COLLECT_DELAY_S = 10  # prometheus.json collected_at = evaluation time + this

# --------------------------------------------------------------------------- low level


def fmt_time(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` suffix; milliseconds only when there are any."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def _grafana_time(moment: datetime) -> str:
    """Grafana's absolute time: always with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _epoch(moment: datetime) -> int | float:
    """Seconds since the epoch as Prometheus writes them: no ``.0`` for whole seconds."""
    value = moment.timestamp()
    return int(value) if value == int(value) else value


def encode(value: Any) -> bytes:
    """The bytes a files-dict value is written as."""
    if isinstance(value, bytes):
        return value
    return (json.dumps(value, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def digest(data: bytes) -> str:
    """``sha256:<64 lowercase hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _hex(seed: str, length: int) -> str:
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{seed}#{counter}".encode()).hexdigest()
        counter += 1
    return out[:length]


def _frac(seed: str) -> float:
    """A deterministic number in [0, 1)."""
    return int(_hex(seed, 8), 16) / 16**8


_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _k8s_suffix(seed: str, length: int) -> str:
    """A suffix as Kubernetes generates them (pod-template-hash, pod names)."""
    raw = hashlib.sha256(seed.encode()).digest()
    return "".join(_K8S_ALPHABET[b % len(_K8S_ALPHABET)] for b in raw[:length])


def _uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"loadcert-fixture/{seed}"))


def _num(value: float) -> int | float:
    """k6 writes whole numbers as JSON ints."""
    value = round(value, 6)
    return int(value) if value == int(value) else value


def _prom_value(value: float) -> str:
    """A Prometheus sample value string (Go's shortest float formatting)."""
    return str(int(value)) if value == int(value) else repr(value)


# --------------------------------------------------------------------------- stage windows


@dataclass(frozen=True)
class StageWindow:
    """One stage's wall-clock window and requirement."""

    name: str
    vus: int
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def stage_windows(
    start: datetime = START, stages: Iterable[tuple[str, int]] = STAGES
) -> list[StageWindow]:
    """Smoke lasts 60 s; each next stage starts 60 s after the previous ends and lasts 300 s."""
    windows: list[StageWindow] = []
    cursor = start
    for index, (name, vus) in enumerate(stages):
        length = SMOKE_SECONDS if index == 0 else STAGE_SECONDS
        if index:
            cursor += timedelta(seconds=GAP_SECONDS)
        windows.append(StageWindow(name, vus, cursor, cursor + timedelta(seconds=length)))
        cursor += timedelta(seconds=length)
    return windows


# --------------------------------------------------------------------------- k6 summaries


def _trend(
    base: Mapping[str, float], stats: Iterable[str], count: int, seed: str
) -> dict[str, Any]:
    """Trend values for the requested stats, with a small deterministic wobble."""
    wobble = 1.0 + (_frac(seed) - 0.5) * 0.04
    values: dict[str, Any] = {}
    for stat in stats:
        if stat == "count":
            values[stat] = count
        elif stat in base:
            values[stat] = _num(base[stat] * wobble)
        else:
            raise ValueError(f"no base value for trend stat {stat!r}")
    return values


_DURATION = {
    "avg": 61.8,
    "min": 1.92,
    "med": 44.7,
    "max": 1873.4,
    "p(90)": 97.3,
    "p(95)": 120.4,
    "p(99)": 401.7,
}
_WAITING = {k: v * 0.96 for k, v in _DURATION.items()}
_BLOCKED = {
    "avg": 0.031,
    "min": 0.0011,
    "med": 0.0041,
    "max": 46.2,
    "p(90)": 0.0062,
    "p(95)": 0.0083,
    "p(99)": 0.612,
}
_CONNECTING = {k: v * 0.8 for k, v in _BLOCKED.items()}
_SENDING = {
    "avg": 0.041,
    "min": 0.0052,
    "med": 0.026,
    "max": 12.7,
    "p(90)": 0.071,
    "p(95)": 0.093,
    "p(99)": 0.31,
}
_RECEIVING = {
    "avg": 0.16,
    "min": 0.011,
    "med": 0.078,
    "max": 33.9,
    "p(90)": 0.34,
    "p(95)": 0.49,
    "p(99)": 1.42,
}
_ZERO = {"avg": 0, "min": 0, "med": 0, "max": 0, "p(90)": 0, "p(95)": 0, "p(99)": 0}
_ITERATION = {k: 5000.0 + v for k, v in _DURATION.items()}


def _stage_numbers(window: StageWindow, share: int, index: int) -> dict[str, int]:
    """Counts for one summary (a whole stage, or shard ``index`` of ``share``)."""
    total_reqs = window.vus * window.seconds // 6
    reqs = total_reqs // share + (1 if index < total_reqs % share else 0)
    failed = round(reqs * 0.0002)
    check_fails = round(reqs * 0.0005)
    return {
        "vus": window.vus // share,
        "pool": window.vus * 6 // 5 // share,
        "reqs": reqs,
        "failed": failed,
        "check_fails": check_fails,
    }


def _duration_ms(window: StageWindow, seed: str) -> float:
    """k6's testRunDurationMs: the window minus process start-up and summary time (< 1 s)."""
    return round(window.seconds * 1000 - 150 - 700 * _frac(seed), 6)


def _summary_metrics(
    window: StageWindow,
    numbers: Mapping[str, int],
    stats: tuple[str, ...],
    run_ms: float,
    seed: str,
) -> dict[str, dict[str, Any]]:
    """Metric entries in the handleSummary shape: {type, contains, values, thresholds?}."""
    seconds = run_ms / 1000
    reqs, failed = numbers["reqs"], numbers["failed"]
    ok_reqs = reqs - failed
    check_fails = numbers["check_fails"]

    def counter(count: int) -> dict[str, Any]:
        return {
            "type": "counter",
            "contains": "default",
            "values": {"count": count, "rate": _num(count / seconds)},
        }

    def data(count: int) -> dict[str, Any]:
        return {
            "type": "counter",
            "contains": "data",
            "values": {"count": count, "rate": _num(count / seconds)},
        }

    def trend(base: Mapping[str, float], count: int, name: str) -> dict[str, Any]:
        return {
            "type": "trend",
            "contains": "time",
            "values": _trend(base, stats, count, f"{seed}/{name}"),
        }

    def rate(passes: int, fails: int) -> dict[str, Any]:
        total = passes + fails
        return {
            "type": "rate",
            "contains": "default",
            "values": {
                "rate": _num(passes / total) if total else 0,
                "passes": passes,
                "fails": fails,
            },
        }

    def gauge(value: int, low: int, high: int) -> dict[str, Any]:
        return {
            "type": "gauge",
            "contains": "default",
            "values": {"value": value, "min": low, "max": high},
        }

    metrics: dict[str, dict[str, Any]] = {
        "checks": rate(reqs - check_fails, check_fails),
        "data_received": data(reqs * 2143),
        "data_sent": data(reqs * 163),
        "http_req_blocked": trend(_BLOCKED, reqs, "blocked"),
        "http_req_connecting": trend(_CONNECTING, reqs, "connecting"),
        "http_req_duration": trend(_DURATION, reqs, "duration"),
        "http_req_duration{expected_response:true}": trend(_DURATION, ok_reqs, "duration"),
        "http_req_failed": rate(failed, reqs - failed),
        "http_req_receiving": trend(_RECEIVING, reqs, "receiving"),
        "http_req_sending": trend(_SENDING, reqs, "sending"),
        "http_req_tls_handshaking": trend(_ZERO, reqs, "tls"),
        "http_req_waiting": trend(_WAITING, reqs, "waiting"),
        "http_reqs": counter(reqs),
        "iteration_duration": trend(_ITERATION, reqs, "iteration"),
        "iterations": counter(reqs),
        "vus": gauge(0, 0, numbers["vus"]),
        "vus_max": gauge(numbers["pool"], numbers["pool"], numbers["pool"]),
    }
    # successful requests are a little faster than all of them
    # (min and max stay those of all requests: the extremes were successful requests)
    ok_trend = metrics["http_req_duration{expected_response:true}"]["values"]
    for stat in ok_trend:
        if stat not in ("count", "min", "max"):
            ok_trend[stat] = _num(ok_trend[stat] * 0.995)
    for name, exprs in K6_THRESHOLDS.items():
        metrics[name]["thresholds"] = {expr: {"ok": True} for expr in exprs}
    return metrics


def _check_id(path: str) -> str:
    return hashlib.md5(path.encode()).hexdigest()


_ROOT_GROUP_ID = hashlib.md5(b"").hexdigest()


def _render_summary(
    metrics: Mapping[str, Mapping[str, Any]],
    checks: list[tuple[str, int, int]],
    fmt: str,
    stats: tuple[str, ...],
    run_ms: float,
) -> dict[str, Any]:
    """Render handleSummary-shaped metric entries in ``fmt`` (handlesummary | summary-export)."""
    check_entries = [
        {
            "name": name,
            "path": f"::{name}",
            "id": _check_id(f"::{name}"),
            "passes": passes,
            "fails": fails,
        }
        for name, passes, fails in checks
    ]
    if fmt == HANDLESUMMARY:
        return {
            "metrics": copy.deepcopy(dict(metrics)),
            "options": {"noColor": False, "summaryTimeUnit": "", "summaryTrendStats": list(stats)},
            "root_group": {
                "name": "",
                "path": "",
                "id": _ROOT_GROUP_ID,
                "groups": [],
                "checks": check_entries,
            },
            "state": {"isStdOutTTY": False, "isStdErrTTY": False, "testRunDurationMs": run_ms},
        }
    if fmt != EXPORT:
        raise ValueError(f"unknown k6 summary format {fmt!r}")
    flat: dict[str, Any] = {}
    for name, entry in metrics.items():
        values = copy.deepcopy(dict(entry["values"]))
        if entry["type"] == "rate":
            values["value"] = values.pop("rate")  # a rate's `rate` is `value` in the export
        if "thresholds" in entry:
            # the export writes !ok: true means the threshold FAILED
            values["thresholds"] = {e: not r["ok"] for e, r in entry["thresholds"].items()}
        flat[name] = values
    return {
        "metrics": flat,
        "root_group": {
            "name": "",
            "path": "",
            "id": _ROOT_GROUP_ID,
            "groups": {},
            "checks": {c["name"]: c for c in check_entries},
        },
    }


def _k6_summary(
    window: StageWindow,
    fmt: str,
    stats: tuple[str, ...],
    share: int = 1,
    index: int = 0,
) -> dict[str, Any]:
    seed = f"{window.name}/{index}"
    numbers = _stage_numbers(window, share, index)
    run_ms = _duration_ms(window, seed)
    metrics = _summary_metrics(window, numbers, stats, run_ms, seed)
    checks = [("status is 200", numbers["reqs"] - numbers["check_fails"], numbers["check_fails"])]
    return _render_summary(metrics, checks, fmt, stats, run_ms)


def _command(
    window: StageWindow,
    fmt: str,
    summary_path: str,
    stats: tuple[str, ...],
    segment: str | None = None,
) -> list[str]:
    command = ["k6", "run", "--no-usage-report", "--summary-trend-stats", ",".join(stats)]
    if fmt == EXPORT:
        command += ["--summary-export", summary_path]
    if segment is not None:
        command += ["--execution-segment", segment]
    command += [
        "-e",
        f"STAGE={window.name}",
        "-e",
        f"TARGET_VUS={window.vus}",
        "-e",
        f"DURATION_S={window.seconds}",
    ]
    if fmt == HANDLESUMMARY:
        command += ["-e", f"SUMMARY_PATH={summary_path}"]
    return [*command, SCRIPT_PATH]


# --------------------------------------------------------------------------- Prometheus


def _metric_value(name: str, window: StageWindow, index: int) -> float:
    connected = window.vus * 9 // 10
    return {
        "gateway_restarts": 0,
        "realtime_ws_connected": connected,
        "realtime_dropped_connections": min(connected // 2000, 45),
        "db_pool_saturation": round(0.22 + 0.08 * index, 2),
        "object_store_errors": 0,
        "nats_lag": (3, 17, 96, 212, 388, 640)[min(index, 5)],
        "vector_store_consistent": 1,
    }[name]


def promql_for(template: str, window: StageWindow) -> str:
    """The profile's PromQL as asked for ``window``: each ``[{window}]`` as ``[<seconds>s] @
    <end>`` (whole-second windows), ``{stage}`` as the stage name."""
    ranged = template.replace("[{window}]", f"[{window.seconds}s] @ {_epoch(window.end)}")
    return ranged.replace("{stage}", window.name)


#: Coverage: the built-in profile's max_gap_s, looked back before each window; a scrape
#: interval of 15 s.
COVERAGE_LOOKBACK_S = 30
SCRAPE_S = 15


def coverage_for(template: str, window: StageWindow, value: str = "0") -> list[dict[str, Any]]:
    """The coverage entries a collector records for ``template`` over ``window``: each series
    selector's raw samples every SCRAPE_S from COVERAGE_LOOKBACK_S before the window to its
    end, from one series whose samples give ``value``: a gauge holding it, or (under
    ``increase``) a counter rising evenly from 0 at the window start to it at the end."""
    entries: list[dict[str, Any]] = []
    selectors = re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*(?:\{[^{}]*\})?)\[\{window\}\]", template)
    span = window.seconds + COVERAGE_LOOKBACK_S
    for selector in dict.fromkeys(selectors):
        name = selector.split("{")[0]
        offsets = range(-COVERAGE_LOOKBACK_S, window.seconds + 1, SCRAPE_S)
        counter = f"increase({selector}[{{window}}]" in template
        amount = float(value)

        def sample(offset: int, amount: float = amount, counter: bool = counter) -> str:
            if not counter:
                return value
            return _prom_value(amount * max(offset, 0) / window.seconds)

        entries.append(
            {
                "promql": f"{selector}[{span}s] @ {_epoch(window.end)}",
                "response": {
                    "status": "success",
                    "data": {
                        "resultType": "matrix",
                        "result": [
                            {
                                "metric": {"__name__": name, "instance": "10.0.0.1:9090"},
                                "values": [
                                    [_epoch(window.start + timedelta(seconds=t)), sample(t)]
                                    for t in offsets
                                ],
                            }
                        ],
                    },
                },
            }
        )
    return entries


def _vector(at: datetime, value: str) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [_epoch(at), value]}]},
    }


def _prometheus(window: StageWindow, index: int) -> dict[str, Any]:
    at = window.end + timedelta(seconds=EVAL_DELAY_S)
    queries = [
        {
            "name": name,
            "promql": promql_for(template, window),
            "time": fmt_time(at),
            "response": _vector(at, _prom_value(_metric_value(name, window, index))),
            "coverage": coverage_for(
                template, window, _prom_value(_metric_value(name, window, index))
            ),
        }
        for name, template, _kind, _bound in METRICS
    ]
    return {
        "stage": window.name,
        "window": {"start": fmt_time(window.start), "end": fmt_time(window.end)},
        "collected_at": fmt_time(at + timedelta(seconds=PROM_COLLECT_DELAY_S)),
        "queries": queries,
    }


# --------------------------------------------------------------------------- Kubernetes

#: image label -> (repository, tag); a digest per image, derived deterministically.
IMAGES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "gateway": ("docker.io/shop/gateway", "1.4.2"),
        "otel-agent": ("docker.io/otel/opentelemetry-collector-contrib", "0.112.0"),
        "realtime-gateway": ("docker.io/shop/realtime-gateway", "1.4.2"),
        "pgbouncer": ("docker.io/bitnami/pgbouncer", "1.23.1"),
        "nats": ("docker.io/library/nats", "2.10.22-alpine"),
        "nats-config-reloader": ("docker.io/natsio/nats-server-config-reloader", "0.16.0"),
        "qdrant": ("docker.io/qdrant/qdrant", "v1.12.4"),
        "valkey": ("docker.io/valkey/valkey", "8.0.1"),
        # not run by certification pods, hence never bound:
        "gateway-migrate": ("docker.io/shop/gateway-migrate", "1.4.2"),
        "legacy-reports": ("docker.io/shop/legacy-reports", "0.9.0"),
        "netshoot": ("docker.io/nicolaka/netshoot", "v0.13"),
    }
)
UNBOUND_IMAGES = frozenset({"gateway-migrate", "legacy-reports", "netshoot"})


def image_digest(label: str) -> str:
    repo, tag = IMAGES[label]
    return "sha256:" + hashlib.sha256(f"image {repo}:{tag}".encode()).hexdigest()


def image_ref(label: str) -> str:
    repo, tag = IMAGES[label]
    return f"{repo}:{tag}"


def image_id(label: str) -> str:
    return f"{IMAGES[label][0]}@{image_digest(label)}"


# workload -> (replicas, [(container name, image label, port or None)])
DEPLOYMENTS: Mapping[str, tuple[int, tuple[tuple[str, str, int | None], ...]]] = MappingProxyType(
    {
        "gateway": (3, (("gateway", "gateway", 8080), ("otel-agent", "otel-agent", None))),
        "realtime-gateway": (2, (("realtime-gateway", "realtime-gateway", 8081),)),
        "pgbouncer": (2, (("pgbouncer", "pgbouncer", 6432),)),
    }
)
STATEFULSETS: Mapping[str, tuple[int, tuple[tuple[str, str, int | None], ...]]] = MappingProxyType(
    {
        "nats": (3, (("nats", "nats", 4222), ("reloader", "nats-config-reloader", None))),
        "qdrant": (2, (("qdrant", "qdrant", 6333),)),
        "valkey": (1, (("valkey", "valkey", 6379),)),
    }
)
SERVICE_PORTS = {
    "gateway": 80,
    "realtime-gateway": 80,
    "pgbouncer": 6432,
    "nats": 4222,
    "qdrant": 6333,
    "valkey": 6379,
}
HPAS = {"gateway": (3, 40), "realtime-gateway": (2, 30)}  # minReplicas, maxReplicas
PDBS = {"gateway": {"maxUnavailable": 1}, "realtime-gateway": {"minAvailable": 1}}
NODES = ("ip-10-0-1-17.ec2.internal", "ip-10-0-2-41.ec2.internal", "ip-10-0-3-88.ec2.internal")


class _Cluster:
    """Builds the items of the snapshot with consistent uids, IPs and owner references."""

    def __init__(
        self,
        start: datetime,
        namespace: str = NAMESPACE,
        *,
        resource_version: int = 48213577,
        first_ip: int = 10,
    ) -> None:
        self.ns = namespace
        self.created = start - timedelta(days=2, hours=3)
        self.rolled = start - timedelta(hours=2)
        self.items: list[dict[str, Any]] = []
        self._rv = resource_version
        self._ip = first_ip
        self.pod_ips: dict[str, list[tuple[dict[str, Any], str]]] = {}

    def _meta(
        self,
        kind: str,
        name: str,
        labels: Mapping[str, str] | None = None,
        created: datetime | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        self._rv += 7
        meta: dict[str, Any] = {
            "name": name,
            "namespace": self.ns,
            "uid": _uid(f"{kind}/{name}"),
            "resourceVersion": str(self._rv),
            "creationTimestamp": fmt_time(created or self.created),
        }
        if labels:
            meta["labels"] = dict(labels)
        meta.update(extra)
        return meta

    @staticmethod
    def _owner(api_version: str, kind: str, name: str) -> dict[str, Any]:
        return {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "uid": _uid(f"{kind}/{name}"),
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _next_ip(self) -> str:
        self._ip += 1
        return f"10.42.{self._ip // 200}.{self._ip % 200 + 2}"

    @staticmethod
    def _containers(spec: Iterable[tuple[str, str, int | None]]) -> list[dict[str, Any]]:
        containers = []
        for cname, label, port in spec:
            container: dict[str, Any] = {
                "name": cname,
                "image": image_ref(label),
                "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}},
            }
            if port is not None:
                container["ports"] = [{"name": "main", "containerPort": port, "protocol": "TCP"}]
                container["readinessProbe"] = {"tcpSocket": {"port": port}, "periodSeconds": 5}
            containers.append(container)
        return containers

    def pod(
        self,
        name: str,
        labels: Mapping[str, str],
        owner: dict[str, Any],
        spec: Iterable[tuple[str, str, int | None]],
        node: str,
        *,
        phase: str = "Running",
        restart_policy: str = "Always",
        created: datetime | None = None,
        generate_name: str | None = None,
    ) -> dict[str, Any]:
        created = created or self.rolled
        started = created + timedelta(seconds=9)
        spec = tuple(spec)
        ip = self._next_ip()
        meta = self._meta("Pod", name, labels, created, ownerReferences=[owner])
        if generate_name:
            meta["generateName"] = generate_name
        statuses = []
        for cname, label, _port in spec:
            status: dict[str, Any] = {
                "name": cname,
                "image": image_ref(label),
                "imageID": image_id(label),
                "containerID": "containerd://" + _hex(f"container/{name}/{cname}", 64),
                "restartCount": 0,
                "lastState": {},
            }
            if phase == "Succeeded":
                status.update(
                    ready=False,
                    started=False,
                    state={
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": fmt_time(started),
                            "finishedAt": fmt_time(started + timedelta(seconds=74)),
                            "containerID": status["containerID"],
                        }
                    },
                )
            else:
                status.update(
                    ready=True, started=True, state={"running": {"startedAt": fmt_time(started)}}
                )
            statuses.append(status)
        ready = "False" if phase == "Succeeded" else "True"
        conditions: list[dict[str, Any]] = [
            {"type": "PodReadyToStartContainers", "status": ready},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": ready},
            {"type": "ContainersReady", "status": ready},
            {"type": "PodScheduled", "status": "True"},
        ]
        for condition in conditions:
            condition.update(lastProbeTime=None, lastTransitionTime=fmt_time(started))
            if (
                phase == "Succeeded"
                and condition["status"] == "False"
                and condition["type"] in ("Ready", "ContainersReady")
            ):
                condition["reason"] = "PodCompleted"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": {
                "containers": self._containers(spec),
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": True,
                "nodeName": node,
                "restartPolicy": restart_policy,
                "schedulerName": "default-scheduler",
                "serviceAccountName": "default",
                "terminationGracePeriodSeconds": 30,
            },
            "status": {
                "phase": phase,
                "conditions": conditions,
                "containerStatuses": statuses,
                "hostIP": f"10.0.{NODES.index(node) + 1}.{17 + NODES.index(node)}",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "qosClass": "Burstable",
                "startTime": fmt_time(created + timedelta(seconds=1)),
            },
        }
        self.items.append(pod)
        return pod

    def _template(
        self, labels: Mapping[str, str], spec: Iterable[tuple[str, str, int | None]]
    ) -> dict[str, Any]:
        return {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "containers": self._containers(spec),
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
            },
        }

    def deployment(
        self, name: str, replicas: int, spec: tuple[tuple[str, str, int | None], ...]
    ) -> None:
        labels = {"app": name}
        template_hash = _k8s_suffix(f"rs/{name}", 10)
        rs_name = f"{name}-{template_hash}"
        self.items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self._meta(
                    "Deployment",
                    name,
                    labels,
                    generation=4,
                    annotations={"deployment.kubernetes.io/revision": "4"},
                ),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                    },
                    "revisionHistoryLimit": 10,
                    "progressDeadlineSeconds": 600,
                    "template": self._template(labels, spec),
                },
                "status": {
                    "observedGeneration": 4,
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "reason": "MinimumReplicasAvailable",
                            "message": "Deployment has minimum availability.",
                            "lastUpdateTime": fmt_time(self.rolled + timedelta(minutes=1)),
                            "lastTransitionTime": fmt_time(self.rolled + timedelta(minutes=1)),
                        },
                        {
                            "type": "Progressing",
                            "status": "True",
                            "reason": "NewReplicaSetAvailable",
                            "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
                            "lastUpdateTime": fmt_time(self.rolled + timedelta(minutes=1)),
                            "lastTransitionTime": fmt_time(self.created),
                        },
                    ],
                },
            }
        )
        rs_labels = {**labels, "pod-template-hash": template_hash}
        self.items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": self._meta(
                    "ReplicaSet",
                    rs_name,
                    rs_labels,
                    self.rolled,
                    generation=1,
                    annotations={
                        "deployment.kubernetes.io/desired-replicas": str(replicas),
                        "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                        "deployment.kubernetes.io/revision": "4",
                    },
                    ownerReferences=[self._owner("apps/v1", "Deployment", name)],
                ),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": rs_labels},
                    "template": self._template(rs_labels, spec),
                },
                "status": {
                    "replicas": replicas,
                    "fullyLabeledReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "observedGeneration": 1,
                },
            }
        )
        pods = []
        used: set[str] = set()
        for i in range(replicas):
            pod_name, salt = f"{rs_name}-{_k8s_suffix(f'pod/{rs_name}/{i}', 5)}", 0
            while pod_name in used:  # thousands of replicas: the 5-letter suffixes collide
                salt += 1
                pod_name = f"{rs_name}-{_k8s_suffix(f'pod/{rs_name}/{i}/{salt}', 5)}"
            used.add(pod_name)
            pods.append(
                self.pod(
                    pod_name,
                    rs_labels,
                    self._owner("apps/v1", "ReplicaSet", rs_name),
                    spec,
                    NODES[i % len(NODES)],
                    generate_name=f"{rs_name}-",
                )
            )
        self.pod_ips[name] = [(p, p["status"]["podIP"]) for p in pods]

    def statefulset(
        self, name: str, replicas: int, spec: tuple[tuple[str, str, int | None], ...]
    ) -> None:
        labels = {"app": name}
        revision = f"{name}-{_k8s_suffix(f'rev/{name}', 10)}"
        self.items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": self._meta("StatefulSet", name, labels, generation=2),
                "spec": {
                    "replicas": replicas,
                    "serviceName": name,
                    "podManagementPolicy": "Parallel",
                    "selector": {"matchLabels": labels},
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                    "revisionHistoryLimit": 10,
                    "template": self._template(labels, spec),
                },
                "status": {
                    "observedGeneration": 2,
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "currentReplicas": replicas,
                    "updatedReplicas": replicas,
                    "currentRevision": revision,
                    "updateRevision": revision,
                    "collisionCount": 0,
                },
            }
        )
        pods = []
        for i in range(replicas):
            pod_name = f"{name}-{i}"
            pod_labels = {
                **labels,
                "apps.kubernetes.io/pod-index": str(i),
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": pod_name,
            }
            pods.append(
                self.pod(
                    pod_name,
                    pod_labels,
                    self._owner("apps/v1", "StatefulSet", name),
                    spec,
                    NODES[(i + 1) % len(NODES)],
                    generate_name=f"{name}-",
                )
            )
        self.pod_ips[name] = [(p, p["status"]["podIP"]) for p in pods]

    def hpa(self, name: str, low: int, high: int, current: int) -> None:
        at = fmt_time(self.rolled + timedelta(minutes=3))
        self.items.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": self._meta("HorizontalPodAutoscaler", name, {"app": name}),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": low,
                    "maxReplicas": high,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 70},
                            },
                        }
                    ],
                },
                "status": {
                    "currentReplicas": current,
                    "desiredReplicas": current,
                    "currentMetrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "current": {"averageUtilization": 12, "averageValue": "61m"},
                            },
                        }
                    ],
                    "conditions": [
                        {
                            "type": "AbleToScale",
                            "status": "True",
                            "reason": "ReadyForNewScale",
                            "message": "recommended size matches current size",
                            "lastTransitionTime": at,
                        },
                        {
                            "type": "ScalingActive",
                            "status": "True",
                            "reason": "ValidMetricFound",
                            "message": "the HPA was able to successfully calculate a replica count "
                            "from cpu resource utilization (percentage of request)",
                            "lastTransitionTime": at,
                        },
                        {
                            "type": "ScalingLimited",
                            "status": "False",
                            "reason": "DesiredWithinRange",
                            "message": "the desired count is within the acceptable range",
                            "lastTransitionTime": at,
                        },
                    ],
                },
            }
        )

    def pdb(self, name: str, rule: Mapping[str, int], expected: int) -> None:
        if "maxUnavailable" in rule:
            desired = expected - rule["maxUnavailable"]
        else:
            desired = rule["minAvailable"]
        self.items.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": self._meta("PodDisruptionBudget", name, {"app": name}, generation=1),
                "spec": {**rule, "selector": {"matchLabels": {"app": name}}},
                "status": {
                    "observedGeneration": 1,
                    "currentHealthy": expected,
                    "desiredHealthy": desired,
                    "disruptionsAllowed": expected - desired,
                    "expectedPods": expected,
                    "conditions": [
                        {
                            "type": "DisruptionAllowed",
                            "status": "True",
                            "reason": "SufficientPods",
                            "message": "",
                            "observedGeneration": 1,
                            "lastTransitionTime": fmt_time(self.rolled),
                        }
                    ],
                },
            }
        )

    def service(self, name: str) -> None:
        port = SERVICE_PORTS[name]
        target = DEPLOYMENTS.get(name, STATEFULSETS.get(name))
        assert target is not None
        target_port = next(p for _c, _l, p in target[1] if p is not None)
        cluster_ip = f"172.20.{40 + len(self.items) % 50}.{10 + len(self.items) % 200}"
        port_name = "http" if port == 80 else "tcp"
        self.items.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self._meta("Service", name, {"app": name}),
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": cluster_ip,
                    "clusterIPs": [cluster_ip],
                    "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "ports": [
                        {
                            "name": port_name,
                            "port": port,
                            "protocol": "TCP",
                            "targetPort": target_port,
                        }
                    ],
                    "selector": {"app": name},
                    "sessionAffinity": "None",
                },
                "status": {"loadBalancer": {}},
            }
        )
        backends = self.pod_ips[name]

        def ref(pod: dict[str, Any]) -> dict[str, Any]:
            return {
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": self.ns,
                "uid": pod["metadata"]["uid"],
            }

        self.items.append(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": self._meta(
                    "Endpoints",
                    name,
                    {"app": name},
                    annotations={
                        "endpoints.kubernetes.io/last-change-trigger-time": fmt_time(
                            self.rolled + timedelta(seconds=40)
                        )
                    },
                ),
                "subsets": [
                    {
                        "addresses": [
                            {"ip": ip, "nodeName": pod["spec"]["nodeName"], "targetRef": ref(pod)}
                            for pod, ip in backends
                        ],
                        "ports": [{"name": port_name, "port": target_port, "protocol": "TCP"}],
                    }
                ],
            }
        )
        slice_name = f"{name}-{_k8s_suffix(f'slice/{name}', 5)}"
        self.items.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": self._meta(
                    "EndpointSlice",
                    slice_name,
                    {
                        "app": name,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                        "kubernetes.io/service-name": name,
                    },
                    generateName=f"{name}-",
                    generation=3,
                    ownerReferences=[self._owner("v1", "Service", name)],
                ),
                "addressType": "IPv4",
                "endpoints": [
                    {
                        "addresses": [ip],
                        "conditions": {"ready": True, "serving": True, "terminating": False},
                        "nodeName": pod["spec"]["nodeName"],
                        "targetRef": ref(pod),
                    }
                    for pod, ip in backends
                ],
                "ports": [{"name": port_name, "port": target_port, "protocol": "TCP"}],
            }
        )

    def job(
        self,
        name: str,
        container: str,
        labels: Mapping[str, str],
        label: str,
        finished: datetime,
        owner: dict[str, Any] | None = None,
    ) -> None:
        """A completed Job and its Succeeded pod (carrying ``labels``, e.g. app: gateway)."""
        created = finished - timedelta(seconds=95)
        job_uid = _uid(f"Job/{name}")
        pod_labels = {
            **labels,
            "batch.kubernetes.io/controller-uid": job_uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": job_uid,
            "job-name": name,
        }
        spec = ((container, label, None),)
        extra: dict[str, Any] = {"generation": 1}
        if owner is not None:
            extra["ownerReferences"] = [owner]
        self.items.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": self._meta("Job", name, labels, created, **extra),
                "spec": {
                    "backoffLimit": 2,
                    "completions": 1,
                    "parallelism": 1,
                    "completionMode": "NonIndexed",
                    "suspend": False,
                    "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}},
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": {"containers": self._containers(spec), "restartPolicy": "Never"},
                    },
                },
                "status": {
                    "ready": 0,
                    "terminating": 0,
                    "succeeded": 1,
                    "startTime": fmt_time(created),
                    "completionTime": fmt_time(finished),
                    "uncountedTerminatedPods": {},
                    "conditions": [
                        {
                            "type": "SuccessCriteriaMet",
                            "status": "True",
                            "lastProbeTime": fmt_time(finished),
                            "lastTransitionTime": fmt_time(finished),
                        },
                        {
                            "type": "Complete",
                            "status": "True",
                            "lastProbeTime": fmt_time(finished),
                            "lastTransitionTime": fmt_time(finished),
                        },
                    ],
                },
            }
        )
        self.pod(
            f"{name}-{_k8s_suffix(f'jobpod/{name}', 5)}",
            pod_labels,
            {**self._owner("batch/v1", "Job", name)},
            spec,
            NODES[2],
            phase="Succeeded",
            restart_policy="Never",
            created=created,
            generate_name=f"{name}-",
        )

    def unrelated_failing(self) -> None:
        """A Deployment of another app whose only pod crash-loops (must be ignored)."""
        name = "legacy-reports"
        labels = {"app": name}
        template_hash = _k8s_suffix(f"rs/{name}", 10)
        rs_name = f"{name}-{template_hash}"
        spec = (("legacy-reports", "legacy-reports", 9000),)
        self.items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self._meta("Deployment", name, labels, generation=1),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": self._template(labels, spec),
                },
                # readyReplicas/availableReplicas are absent, not 0, when none is ready
                "status": {
                    "observedGeneration": 1,
                    "replicas": 1,
                    "updatedReplicas": 1,
                    "unavailableReplicas": 1,
                },
            }
        )
        rs_labels = {**labels, "pod-template-hash": template_hash}
        self.items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": self._meta(
                    "ReplicaSet",
                    rs_name,
                    rs_labels,
                    generation=1,
                    ownerReferences=[self._owner("apps/v1", "Deployment", name)],
                ),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": rs_labels},
                    "template": self._template(rs_labels, spec),
                },
                "status": {"replicas": 1, "fullyLabeledReplicas": 1, "observedGeneration": 1},
            }
        )
        pod = self.pod(
            f"{rs_name}-{_k8s_suffix(f'pod/{rs_name}', 5)}",
            rs_labels,
            self._owner("apps/v1", "ReplicaSet", rs_name),
            spec,
            NODES[1],
            generate_name=f"{rs_name}-",
        )
        make_container_not_ready(pod, "legacy-reports", crash_loop=True)


def make_container_not_ready(
    pod: dict[str, Any], container: str, *, crash_loop: bool = False
) -> None:
    """Mark one container of a Running pod not ready (pod stays Running)."""
    for status in pod["status"]["containerStatuses"]:
        if status["name"] == container:
            status["ready"] = False
            if crash_loop:
                status["started"] = False
                status["restartCount"] = 14
                status["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": "back-off 5m0s restarting failed container=legacy-reports",
                    }
                }
                status["lastState"] = {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": "2026-04-30T23:51:02Z",
                        "finishedAt": "2026-04-30T23:51:04Z",
                        "containerID": status["containerID"],
                    }
                }
            break
    else:
        raise KeyError(container)
    for condition in pod["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition["status"] = "False"
            condition["reason"] = "ContainersNotReady"
            condition["message"] = f"containers with unready status: [{container}]"


def _pod_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return (
        status.get("phase") == "Running"
        and bool(ready)
        and ready[0].get("status") == "True"
        and pod["metadata"].get("deletionTimestamp") is None
    )


def _pod_serving(pod: dict[str, Any]) -> bool:
    """Ready as its probes say, terminating or not (EndpointSlice ``serving``)."""
    ready = [c for c in pod["status"].get("conditions") or [] if c.get("type") == "Ready"]
    return pod["status"].get("phase") == "Running" and bool(ready) and ready[0]["status"] == "True"


def reconcile(items: list[dict[str, Any]]) -> None:
    """Rewrite what the controllers derive from the pods, as they would after a pod changed:
    every ReplicaSet's, Deployment's and StatefulSet's ready and available counts, each
    PodDisruptionBudget's healthy count, and each Service's endpoints (a pod that is not
    ready is a not-ready endpoint; a pod that is gone or has no IP is no endpoint).

    A test that edits a pod calls it so that the List stays one consistent moment, and only
    the edit it means is judged.
    """
    pods = [i for i in items if i["kind"] == "Pod"]
    by_uid = {p["metadata"]["uid"]: p for p in pods}

    def owned(kind: str, name: str) -> list[dict[str, Any]]:
        return [
            p
            for p in pods
            if any(
                o["kind"] == kind and o["name"] == name
                for o in p["metadata"].get("ownerReferences", [])
            )
        ]

    def count(status: dict[str, Any], ready: int) -> None:
        for key in ("readyReplicas", "availableReplicas"):
            if ready:
                status[key] = ready
            else:
                status.pop(key, None)  # Kubernetes omits them at 0

    sets: dict[str, int] = {}
    for rs in (i for i in items if i["kind"] == "ReplicaSet"):
        ready = sum(map(_pod_ready, owned("ReplicaSet", rs["metadata"]["name"])))
        count(rs["status"], ready)
        for ref in rs["metadata"].get("ownerReferences", []):
            if ref["kind"] == "Deployment":
                sets[ref["name"]] = sets.get(ref["name"], 0) + ready
    for item in items:
        if item["kind"] == "Deployment":
            count(item["status"], sets.get(item["metadata"]["name"], 0))
        elif item["kind"] == "StatefulSet":
            count(
                item["status"], sum(map(_pod_ready, owned("StatefulSet", item["metadata"]["name"])))
            )
    for pdb in (i for i in items if i["kind"] == "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        healthy = sum(
            _pod_ready(p)
            for p in pods
            if all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        )
        status = pdb["status"]
        status["currentHealthy"] = healthy
        status["disruptionsAllowed"] = max(0, healthy - status["desiredHealthy"])
    for item in items:
        if item["kind"] == "EndpointSlice":
            kept = []
            for endpoint in item.get("endpoints") or []:
                pod = by_uid.get((endpoint.get("targetRef") or {}).get("uid"))
                if pod is None or not pod["status"].get("podIP"):
                    continue
                ready = _pod_ready(pod)
                endpoint.setdefault("conditions", {})
                endpoint["conditions"]["ready"] = ready
                if "serving" in endpoint["conditions"]:
                    endpoint["conditions"]["serving"] = ready or _pod_serving(pod)
                if pod["metadata"].get("deletionTimestamp") is not None:
                    endpoint["conditions"]["terminating"] = True
                kept.append(endpoint)
            if item.get("endpoints") is not None:
                item["endpoints"] = kept
        elif item["kind"] == "Endpoints":
            for subset in item.get("subsets") or []:
                addresses = subset.pop("addresses", []) + subset.pop("notReadyAddresses", [])
                live = [a for a in addresses if (a.get("targetRef") or {}).get("uid") in by_uid]
                ready = [a for a in live if _pod_ready(by_uid[a["targetRef"]["uid"]])]
                if ready:
                    subset["addresses"] = ready
                if len(ready) < len(live):
                    subset["notReadyAddresses"] = [a for a in live if a not in ready]


# -- what happens to the cluster during a run, as the API server then shows it


def run_windows(files: Files) -> dict[str, tuple[datetime, datetime]]:
    """Each stage's (start, end) as its stage.json records it."""
    return _windows_of(files)


def collected_at(files: Files) -> datetime:
    """When the cluster snapshot was collected (loadcert.json)."""
    return _parse_time(loadcert(files)["cluster"]["collected_at"])


def _status_of(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for status in pod["status"]["containerStatuses"]:
        if status["name"] == container:
            found: dict[str, Any] = status
            return found
    raise KeyError(container)


def _set_ready_since(pod: dict[str, Any], at: datetime) -> None:
    for condition in pod["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition["lastTransitionTime"] = fmt_time(at)


def restart_container(
    pod: dict[str, Any],
    container: str,
    finished: datetime,
    *,
    count: int = 3,
    reason: str = "OOMKilled",
    exit_code: int = 137,
) -> None:
    """The container was killed at ``finished`` (by default OOMKilled, exit 137, the third
    time) and the kubelet restarted it: ``restartCount``, ``lastState.terminated`` with the
    old container's id, a new container id running since a second later, and the pod ready
    again eight seconds after that (what ``kubectl get pod -o yaml`` shows after a restart)."""
    status = _status_of(pod, container)
    previous = status["containerID"]
    was_started = status["state"]["running"]["startedAt"]
    status["restartCount"] = count
    status["lastState"] = {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": was_started,
            "finishedAt": fmt_time(finished),
            "containerID": previous,
        }
    }
    status["containerID"] = "containerd://" + _hex(f"restart/{previous}/{count}", 64)
    status["state"] = {"running": {"startedAt": fmt_time(finished + timedelta(seconds=1))}}
    _set_ready_since(pod, finished + timedelta(seconds=9))


def lose_readiness(pod: dict[str, Any], until: datetime) -> None:
    """The pod's readiness probe failed under load and passed again at ``until``: Ready and
    ContainersReady last changed then (no restart)."""
    _set_ready_since(pod, until)


def _time_keys(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                yield from _time_keys(value)
            elif isinstance(value, str) and key.endswith(("Time", "Timestamp", "At")):
                yield node, key
    elif isinstance(node, list):
        for value in node:
            yield from _time_keys(value)


def shift_times(item: dict[str, Any], delta: timedelta) -> None:
    """Move every time the object carries (creation, conditions, container starts and
    terminations, ...) by ``delta``: the object was created or changed that much later."""
    for node, key in _time_keys({"metadata": item["metadata"], "status": item.get("status")}):
        node[key] = fmt_time(_parse_time(node[key]) + delta)


def delete_gracefully(item: dict[str, Any], requested: datetime, grace_s: int = 30) -> None:
    """``kubectl delete`` at ``requested``: the API server sets deletionTimestamp to the
    request's time plus the grace period, and deletionGracePeriodSeconds (call
    :func:`reconcile` after: a terminating pod is no ready endpoint, no ready replica)."""
    item["metadata"]["deletionTimestamp"] = fmt_time(requested + timedelta(seconds=grace_s))
    item["metadata"]["deletionGracePeriodSeconds"] = grace_s


def scale_down(files: Files, pod: dict[str, Any], requested: datetime, grace_s: int = 30) -> None:
    """Its workload was scaled down by one at ``requested`` and ``pod`` is terminating: the
    workload's (and ReplicaSet's) replicas lowered, the pod deleted gracefully, the counts
    and endpoints reconciled."""
    owners = pod["metadata"]["ownerReferences"]
    chain = [find_items(files, owners[0]["kind"], owners[0]["name"])[0]]
    chain += [
        find_items(files, ref["kind"], ref["name"])[0]
        for ref in chain[0]["metadata"].get("ownerReferences", [])
    ]
    for item in chain:
        item["spec"]["replicas"] -= 1
        for key in ("replicas", "currentReplicas", "updatedReplicas"):
            if key in item["status"]:
                item["status"][key] -= 1
    delete_gracefully(pod, requested, grace_s)
    reconcile(k8s_items(files))


def debug_container(pod: dict[str, Any], at: datetime, image: str = "busybox:1.28") -> None:
    """``kubectl debug -it <pod> --image=busybox:1.28 --target=<first container>`` at ``at``:
    an ephemeral container in the spec and its running status."""
    name = "debugger-" + _k8s_suffix(f"debug/{pod['metadata']['name']}", 5)
    target = pod["spec"]["containers"][0]["name"]
    pod["spec"]["ephemeralContainers"] = [
        {
            "name": name,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "resources": {},
            "stdin": True,
            "targetContainerName": target,
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "tty": True,
        }
    ]
    repository = image.split(":", 1)[0]
    pod["status"]["ephemeralContainerStatuses"] = [
        {
            "name": name,
            "image": f"docker.io/library/{image}",
            "imageID": f"docker.io/library/{repository}@sha256:" + _hex(f"image/{image}", 64),
            "containerID": "containerd://" + _hex(f"container/{name}", 64),
            "ready": False,
            "restartCount": 0,
            "lastState": {},
            "state": {"running": {"startedAt": fmt_time(at)}},
        }
    ]


def set_condition(item: dict[str, Any], kind: str, **fields: Any) -> None:
    """Update the object's ``status.conditions`` entry of type ``kind``."""
    for condition in item["status"]["conditions"]:
        if condition["type"] == kind:
            condition.update(fields)
            return
    raise KeyError(kind)


def hpa_at_max(hpa: dict[str, Any]) -> None:
    """The HPA wanted more replicas than its maximum: it sits at maxReplicas with
    ScalingLimited True (TooManyReplicas), as ``kubectl describe hpa`` then shows."""
    hpa["spec"]["maxReplicas"] = hpa["status"]["currentReplicas"]
    set_condition(
        hpa,
        "ScalingLimited",
        status="True",
        reason="TooManyReplicas",
        message="the desired replica count is more than the maximum replica count",
    )


def half_rolled_out(files: Files, deployment: str) -> None:
    """A rollout of ``deployment`` stuck half way: its previous ReplicaSet still owns one
    pod, the current one the others; updatedReplicas below replicas, Progressing says
    ReplicaSetUpdated."""
    item = find_items(files, "Deployment", deployment)[0]
    current = find_items(files, "ReplicaSet", app=deployment)[0]
    old_hash = _k8s_suffix(f"rs-old/{deployment}", 10)
    old = copy.deepcopy(current)
    old_name = f"{deployment}-{old_hash}"
    old["metadata"].update(
        name=old_name,
        uid=_uid(f"ReplicaSet/{old_name}"),
        creationTimestamp=item["metadata"]["creationTimestamp"],
    )
    old["metadata"]["labels"]["pod-template-hash"] = old_hash
    old["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3"
    old["spec"]["selector"]["matchLabels"]["pod-template-hash"] = old_hash
    old["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = old_hash
    pods = _pods_of(files, deployment)
    moved = pods[0]
    moved["metadata"]["labels"]["pod-template-hash"] = old_hash
    moved["metadata"]["ownerReferences"] = [
        {**moved["metadata"]["ownerReferences"][0], "name": old_name, "uid": old["metadata"]["uid"]}
    ]
    old["spec"]["replicas"] = old["status"]["replicas"] = 1
    current["spec"]["replicas"] = current["status"]["replicas"] = len(pods) - 1
    k8s_items(files).append(old)
    item["status"]["updatedReplicas"] = len(pods) - 1
    set_condition(
        item,
        "Progressing",
        reason="ReplicaSetUpdated",
        message=f'ReplicaSet "{current["metadata"]["name"]}" is progressing.',
    )
    reconcile(k8s_items(files))


def rolled_out_at(files: Files, deployment: str, at: datetime) -> None:
    """``deployment``'s current ReplicaSet and its pods were created from ``at`` on: a new
    version rolled out then (and completed)."""
    replica_set = find_items(files, "ReplicaSet", app=deployment)[0]
    delta = at - _parse_time(replica_set["metadata"]["creationTimestamp"])
    shift_times(replica_set, delta)
    for pod in _pods_of(files, deployment):
        shift_times(pod, delta)


def _cluster_items(start: datetime) -> list[dict[str, Any]]:
    cluster = _Cluster(start)
    for name, (replicas, spec) in DEPLOYMENTS.items():
        cluster.deployment(name, replicas, spec)
    for name, (replicas, spec) in STATEFULSETS.items():
        cluster.statefulset(name, replicas, spec)
    for name, (low, high) in HPAS.items():
        cluster.hpa(name, low, high, DEPLOYMENTS[name][0])
    for name, rule in PDBS.items():
        cluster.pdb(name, rule, DEPLOYMENTS[name][0])
    for name in SERVICE_PORTS:
        cluster.service(name)
    cluster.job(
        "gateway-migrate-20260430",
        "migrate",
        {"app": "gateway", "component": "migration"},
        "gateway-migrate",
        start - timedelta(minutes=28),
    )
    cluster.unrelated_failing()
    return cluster.items


def _k8s_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


# --------------------------------------------------------------------------- artifacts

K6_SCRIPT = """\
// Checkout load test. One k6 run per certification stage; the pipeline passes
// STAGE, TARGET_VUS and DURATION_S, and SUMMARY_PATH when it wants handleSummary JSON.
import http from "k6/http";
import { check, sleep } from "k6";

const BASE_URL = __ENV.BASE_URL || "http://gateway.shop.svc.cluster.local";
const TARGET_VUS = parseInt(__ENV.TARGET_VUS, 10);
const DURATION_S = parseInt(__ENV.DURATION_S, 10);
const RAMP_S = Math.max(5, Math.floor(DURATION_S / 6));
const THINK_S = 5;

export const options = {
  scenarios: {
    checkout: {
      executor: "ramping-arrival-rate",
      startRate: 0,
      timeUnit: "1s",
      preAllocatedVUs: Math.ceil(TARGET_VUS * 1.2),
      maxVUs: Math.ceil(TARGET_VUS * 1.2),
      stages: [
        { duration: `${RAMP_S}s`, target: Math.ceil(TARGET_VUS / THINK_S) },
        { duration: `${DURATION_S - 2 * RAMP_S}s`, target: Math.ceil(TARGET_VUS / THINK_S) },
        { duration: `${RAMP_S}s`, target: 0 },
      ],
      tags: { stage: __ENV.STAGE },
    },
  },
  thresholds: {
    http_req_duration: ["p(95)<300", "p(99)<800"],
    http_req_failed: ["rate<0.001"],
    checks: ["rate>0.999"],
  },
};

export default function () {
  const res = http.get(`${BASE_URL}/api/checkout/cart`, { tags: { name: "cart" } });
  check(res, { "status is 200": (r) => r.status === 200 });
  sleep(THINK_S);
}

export function handleSummary(data) {
  const out = {};
  if (__ENV.SUMMARY_PATH) {
    out[__ENV.SUMMARY_PATH] = JSON.stringify(data);
  }
  return out;
}
"""

_PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    plain = (
        text
        and set(text) <= _PLAIN
        and not text[0].isdigit()
        and not text.startswith("-")
        and text.lower() not in {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}
    )
    return text if plain else json.dumps(text)


def _yaml(value: Any, indent: int = 0) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{_yaml_scalar(key)}:")
                lines.extend(_yaml(item, indent + 1 if isinstance(item, dict) else indent))
            else:
                empty = "{}" if isinstance(item, dict) else "[]"
                text = empty if isinstance(item, dict | list) else _yaml_scalar(item)
                lines.append(f"{pad}{_yaml_scalar(key)}: {text}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                sub = _yaml(item, indent + 1)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(value))
    return lines


def _manifest(items: list[dict[str, Any]]) -> bytes:
    """The rendered manifest that was applied: the spec of every certification object."""
    kinds = (
        "Deployment",
        "StatefulSet",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    )
    docs = []
    for item in items:
        if item["kind"] not in kinds or item["metadata"]["name"] == "legacy-reports":
            continue
        meta = {
            k: item["metadata"][k] for k in ("name", "namespace", "labels") if k in item["metadata"]
        }
        spec = copy.deepcopy(item["spec"])
        if item["kind"] == "Service":
            for key in (
                "clusterIP",
                "clusterIPs",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "sessionAffinity",
            ):
                spec.pop(key, None)
        doc = {
            "apiVersion": item["apiVersion"],
            "kind": item["kind"],
            "metadata": meta,
            "spec": spec,
        }
        docs.append("\n".join(_yaml(doc)))
    header = "# Rendered by helm template shop ./charts/shop -n shop -f values/staging.yaml\n"
    return (header + "---\n" + "\n---\n".join(docs) + "\n").encode()


# --------------------------------------------------------------------------- observability


def _grafana(first: datetime, last: datetime, snapshot: bool) -> dict[str, Any]:
    to = last + timedelta(seconds=GRAFANA_TO_DELAY_S)
    ds = {"type": "prometheus", "uid": "prometheus-staging"}
    panel_specs = [
        ("Active VUs", "sum(k6_vus)"),
        ("Requests per second", "sum(rate(k6_http_reqs_total[1m]))"),
        ("p95 latency (s)", "max(k6_http_req_duration_p95)"),
        (
            "Failed requests",
            'sum(k6_http_reqs_total{expected_response="false"}) / sum(k6_http_reqs_total)',
        ),
        ("Realtime connections", "sum(realtime_ws_connected)"),
        ("DB pool saturation", "max(db_pool_saturation_ratio)"),
        ("NATS pending", "max(nats_consumer_num_pending)"),
        ("Gateway restarts", 'sum(kube_pod_container_status_restarts_total{pod=~"gateway-.*"})'),
    ]
    panels = []
    for index, (title, expr) in enumerate(panel_specs):
        panel: dict[str, Any] = {
            "id": index + 1,
            "type": "timeseries",
            "title": title,
            "datasource": ds,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "targets": [
                {
                    "refId": "A",
                    "datasource": ds,
                    "expr": expr,
                    "range": True,
                    "editorMode": "code",
                    "legendFormat": "__auto",
                }
            ],
            "fieldConfig": {"defaults": {"custom": {"lineWidth": 1}}, "overrides": []},
            "options": {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "single", "sort": "none"},
            },
        }
        if snapshot:
            step = 300
            points = int((to - first).total_seconds()) // step + 1
            panel["snapshotData"] = [
                {
                    "fields": [
                        {
                            "name": "Time",
                            "type": "time",
                            "config": {},
                            "values": [
                                int((first + timedelta(seconds=step * i)).timestamp() * 1000)
                                for i in range(points)
                            ],
                        },
                        {
                            "name": "Value",
                            "type": "number",
                            "config": {},
                            "values": [
                                round(_frac(f"{title}/{i}") * 100, 3) for i in range(points)
                            ],
                        },
                    ],
                    "meta": {"type": "timeseries-multi"},
                    "refId": "A",
                }
            ]
            del panel["targets"][0]["datasource"]
        panels.append(panel)
    dashboard: dict[str, Any] = {
        "id": 42,
        "uid": "loadcert-checkout",
        "title": "Checkout load certification",
        "tags": ["k6", "loadcert", "staging"],
        "timezone": "utc",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [],
        "liveNow": False,
        "refresh": "",
        "schemaVersion": 39,
        "version": 7,
        "weekStart": "",
        "time": {"from": _grafana_time(first), "to": _grafana_time(to)},
        "timepicker": {},
        "templating": {"list": []},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "panels": panels,
    }
    if not snapshot:
        meta = {
            "type": "db",
            "canSave": True,
            "canEdit": True,
            "canAdmin": True,
            "canStar": True,
            "canDelete": True,
            "slug": "checkout-load-certification",
            "url": "/d/loadcert-checkout/checkout-load-certification",
            "expires": "0001-01-01T00:00:00Z",
            "created": "2026-04-20T09:12:44Z",
            "updated": fmt_time(to + timedelta(seconds=10)),
            "updatedBy": "release-bot",
            "createdBy": "sre-oncall",
            "version": 7,
            "hasAcl": False,
            "isFolder": False,
            "folderId": 5,
            "folderUid": "load-tests",
            "folderTitle": "Load tests",
            "folderUrl": "/dashboards/f/load-tests/load-tests",
            "provisioned": False,
            "provisionedExternalId": "",
            "annotationsPermissions": {
                "dashboard": {"canAdd": True, "canEdit": True, "canDelete": True},
                "organization": {"canAdd": True, "canEdit": True, "canDelete": True},
            },
        }
        return {"dashboard": dashboard, "meta": meta}
    taken = to + timedelta(seconds=10)
    dashboard["id"] = None
    dashboard["snapshot"] = {
        "timestamp": _grafana_time(taken),
        "originalUrl": "https://grafana.staging.example.com/d/loadcert-checkout/"
        "checkout-load-certification",
    }
    meta = {
        "isSnapshot": True,
        "type": "snapshot",
        "canSave": False,
        "canEdit": False,
        "canAdmin": False,
        "canStar": False,
        "canDelete": False,
        "slug": "",
        "url": "",
        "expires": "2027-05-01T00:00:00Z",
        "created": fmt_time(taken),
        "updated": "0001-01-01T00:00:00Z",
        "updatedBy": "",
        "createdBy": "",
        "version": 0,
        "hasAcl": False,
        "isFolder": False,
        "folderId": 0,
        "folderUid": "",
        "folderTitle": "",
        "folderUrl": "",
        "provisioned": False,
        "provisionedExternalId": "",
        "annotationsPermissions": None,
    }
    return {"dashboard": dashboard, "meta": meta}


def _nanos(moment: datetime) -> str:
    return str(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


def _attr(key: str, value: str | int) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _otel(windows: list[StageWindow]) -> dict[str, Any]:
    services = (
        ("gateway", "GET /api/checkout/cart", "/api/checkout/cart"),
        ("realtime-gateway", "GET /ws/orders", "/ws/orders"),
    )
    resource_spans = []
    for service, span_name, route in services:
        spans = []
        for window in windows:
            for offset in (10, window.seconds - 10):
                begin = window.start + timedelta(seconds=offset, milliseconds=137)
                seed = f"{service}/{window.name}/{offset}"
                status_code = 200 if service == "gateway" else 101
                spans.append(
                    {
                        "traceId": _hex(f"trace/{seed}", 32),
                        "spanId": _hex(f"span/{seed}", 16),
                        "name": span_name,
                        "kind": 2,
                        "startTimeUnixNano": _nanos(begin),
                        "endTimeUnixNano": _nanos(begin + timedelta(milliseconds=84)),
                        "attributes": [
                            _attr("http.request.method", "GET"),
                            _attr("http.route", route),
                            _attr("http.response.status_code", status_code),
                            _attr("loadcert.stage", window.name),
                        ],
                        "status": {},
                    }
                )
        resource_spans.append(
            {
                "resource": {
                    "attributes": [
                        _attr("service.name", service),
                        _attr("service.version", "1.4.2"),
                        _attr("deployment.environment", "staging"),
                        _attr("k8s.namespace.name", NAMESPACE),
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "io.opentelemetry.contrib.http", "version": "0.56.0"},
                        "spans": spans,
                    }
                ],
                "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
            }
        )
    return {"resourceSpans": resource_spans}


# --------------------------------------------------------------------------- the bundle


def bundle_files(
    *,
    start: datetime = START,
    stages: Iterable[tuple[str, int]] = STAGES,
    formats: Mapping[str, str] | None = None,
    shards: Mapping[str, int] | None = None,
    grafana: str = "dashboard",
    trend_stats: Iterable[str] = TREND_STATS,
    run_id: str | None = None,
    git_sha: str = GIT_SHA,
) -> Files:
    """A complete, valid, sealed bundle for the built-in profile, as a files dict.

    ``formats``: stage -> ``HANDLESUMMARY`` | ``EXPORT`` (missing stages use
    ``DEFAULT_FORMATS``). ``shards``: stage -> number of k6 instances; the stage is written as
    ``k6-summary.1.json`` .. ``k6-summary.<n>.json`` with VUs and counts split evenly.
    ``grafana``: ``"dashboard"`` (``/api/dashboards/uid``) or ``"snapshot"``
    (``/api/snapshots``). ``start``: the time base (smoke start).
    """
    if grafana not in ("dashboard", "snapshot"):
        raise ValueError(f"grafana must be 'dashboard' or 'snapshot', not {grafana!r}")
    formats = {**DEFAULT_FORMATS, **(formats or {})}
    shards = dict(shards or {})
    stats = tuple(trend_stats)
    windows = stage_windows(start, stages)
    unknown = set(shards) - {w.name for w in windows}
    if unknown:
        raise ValueError(f"shards for unknown stages: {sorted(unknown)}")
    last_end = windows[-1].end
    files: Files = {}
    for index, window in enumerate(windows):
        fmt = formats.get(window.name, HANDLESUMMARY)
        base = f"stages/{window.name}"
        count = shards.get(window.name, 1)
        if count < 1 or window.vus % count:
            raise ValueError(f"cannot split {window.name} ({window.vus} VUs) into {count} shards")
        if count == 1:
            files[f"{base}/k6-summary.json"] = _k6_summary(window, fmt, stats)
            command = _command(window, fmt, f"{base}/k6-summary.json", stats)
        else:
            for shard in range(count):
                path = f"{base}/k6-summary.{shard + 1}.json"
                files[path] = _k6_summary(window, fmt, stats, count, shard)
            command = _command(
                window, fmt, f"{base}/k6-summary.1.json", stats, segment=f"0:1/{count}"
            )
        files[f"{base}/stage.json"] = {
            "stage": window.name,
            "start_time": fmt_time(window.start),
            "end_time": fmt_time(window.end),
            "k6_exit_code": 0,
            "k6_version": K6_VERSION,
            "target_vus": window.vus,
            "command": command,
            "k6_environment": [],  # loadcert run-stage records the K6_* names set (none here)
        }
        if count > 1:
            segments = {
                str(shard + 1): f"{shard}/{count}:{shard + 1}/{count}".replace(f"0/{count}:", "0:")
                for shard in range(count)
            }
            files[f"{base}/stage.json"]["shards"] = segments
            for name, segment in segments.items():
                # Each k6 instance's own record (loadcert run-stage --shard): they ran together.
                files[f"{base}/shard-{name}.json"] = {
                    "stage": window.name,
                    "shard": name,
                    "of": count,
                    "execution_segment": segment,
                    "start_time": fmt_time(window.start),
                    "end_time": fmt_time(window.end),
                    "measured_by": "loadcert run-stage",
                    "k6_exit_code": 0,
                    "k6_version": K6_VERSION,
                    "k6_script_sha256": digest(K6_SCRIPT.encode()),
                    "target_vus": window.vus // count,
                }
        files[f"{base}/prometheus.json"] = _prometheus(window, index)
    items = _cluster_items(start)
    files[CLUSTER_PATH] = _k8s_list(items)
    files[GRAFANA_PATH] = _grafana(windows[0].start, last_end, grafana == "snapshot")
    files[OTEL_PATH] = _otel(windows)
    files[SCRIPT_PATH] = K6_SCRIPT.encode()
    files[MANIFEST_PATH] = _manifest(items)
    bound = sorted(
        {
            label
            for (_r, spec) in (*DEPLOYMENTS.values(), *STATEFULSETS.values())
            for (_c, label, _p) in spec
        }
    )
    files[LOADCERT] = {
        "schema": "loadcert/v1",
        "run_id": run_id or "checkout-" + start.strftime("%Y-%m-%dT%H-%MZ"),
        "environment": "staging",
        "created_at": fmt_time(last_end + timedelta(seconds=CREATED_DELAY_S)),
        "git": {"sha": git_sha, "ref": "refs/heads/main", "dirty": False},
        "artifacts": {
            "k6_script": {"path": SCRIPT_PATH, "sha256": ""},
            "k8s_manifest": {"path": MANIFEST_PATH, "sha256": ""},
            "images": [{"name": label, "digest": image_digest(label)} for label in bound],
        },
        "cluster": {
            "namespace": NAMESPACE,
            "collected_at": fmt_time(last_end + timedelta(seconds=CLUSTER_DELAY_S)),
        },
        "files": {},
    }
    seal_files(files)
    return files


def seal_files(files: Files) -> Files:
    """(Re)write ``loadcert.json``'s artifact hashes and ``files`` from the dict, in place."""
    manifest = files[LOADCERT]
    for key in ("k6_script", "k8s_manifest"):
        entry = manifest["artifacts"][key]
        entry["sha256"] = digest(encode(files[entry["path"]]))
    manifest["files"] = {
        path: digest(encode(files[path])) for path in sorted(files) if path != LOADCERT
    }
    return files


def _safe_relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in path:
        raise ValueError(f"refusing to write {path!r}: not a relative path inside the bundle")
    return rel


def write_bundle(root: Path, files: Files, *, seal: bool = True) -> Path:
    """Write ``files`` under ``root`` (created; must be empty). Seals the dict first unless
    ``seal=False`` (for variants that break the seal on purpose)."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    if seal:
        seal_files(files)
    root.mkdir(parents=True, exist_ok=True)
    for path in sorted(files):
        target = root.joinpath(*_safe_relative(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode(files[path]))
    return root


def build_bundle(root: Path, **options: Any) -> Path:
    """Write a complete valid bundle to ``root``; ``options`` as for :func:`bundle_files`."""
    return write_bundle(root, bundle_files(**options))


def seal(root: Path) -> Path:
    """Re-seal a bundle on disk: every file except loadcert.json, and the artifact hashes."""
    root = Path(root)
    manifest_path = root / LOADCERT
    manifest = json.loads(manifest_path.read_text())
    hashes = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path != manifest_path:
            hashes[path.relative_to(root).as_posix()] = digest(path.read_bytes())
    for key in ("k6_script", "k8s_manifest"):
        entry = manifest["artifacts"][key]
        entry["sha256"] = digest((root / entry["path"]).read_bytes())
    manifest["files"] = hashes
    manifest_path.write_bytes(encode(manifest))
    return root


# --------------------------------------------------------------------------- mutation helpers


def loadcert(files: Files) -> dict[str, Any]:
    """The manifest object."""
    value: dict[str, Any] = files[LOADCERT]
    return value


def stage_summaries(files: Files, stage: str) -> list[dict[str, Any]]:
    """The stage's k6 summary objects (one, or one per shard, in shard order)."""
    prefix = f"stages/{stage}/k6-summary."
    return [files[p] for p in sorted(files) if p.startswith(prefix) and p.endswith(".json")]


def summary_format(summary: Mapping[str, Any]) -> str:
    """``HANDLESUMMARY`` or ``EXPORT``."""
    return HANDLESUMMARY if "state" in summary or "options" in summary else EXPORT


def metric(summary: dict[str, Any], name: str) -> dict[str, Any]:
    """The values object of a metric (``values`` in handleSummary, the entry in the export)."""
    entry: dict[str, Any] = summary["metrics"][name]
    if summary_format(summary) == HANDLESUMMARY:
        values: dict[str, Any] = entry["values"]
        return values
    return entry


def set_rate(summary: dict[str, Any], name: str, passes: int, fails: int) -> None:
    """Set a Rate metric consistently (``rate`` / ``value``, passes = non-zero samples)."""
    values = metric(summary, name)
    total = passes + fails
    ratio = _num(passes / total) if total else 0
    values["passes"], values["fails"] = passes, fails
    values["rate" if summary_format(summary) == HANDLESUMMARY else "value"] = ratio


def set_threshold(summary: dict[str, Any], name: str, expr: str, ok: bool) -> None:
    """Set a threshold result in the summary's own notation."""
    if summary_format(summary) == HANDLESUMMARY:
        summary["metrics"][name].setdefault("thresholds", {})[expr] = {"ok": ok}
    else:
        summary["metrics"][name].setdefault("thresholds", {})[expr] = not ok


def prometheus_query(files: Files, stage: str, name: str) -> dict[str, Any]:
    """The query entry ``name`` in a stage's prometheus.json."""
    for query in files[f"stages/{stage}/prometheus.json"]["queries"]:
        if query["name"] == name:
            entry: dict[str, Any] = query
            return entry
    raise KeyError(name)


def set_sample(files: Files, stage: str, name: str, value: str) -> None:
    """Replace the sample value string of a metric's vector answer, and its series' samples
    with ones that give it (when it is a finite number)."""
    query = prometheus_query(files, stage, name)
    query["response"]["data"]["result"][0]["value"][1] = value
    if math.isfinite(float(value)):
        document = files[f"stages/{stage}/prometheus.json"]
        start, end = (_parse_time(document["window"][k]) for k in ("start", "end"))
        template = next(t for n, t, _k, _b in METRICS if n == name)
        query["coverage"] = coverage_for(template, StageWindow(stage, 0, start, end), value)


def _set_eval_time(files: Files, stage: str, at: datetime) -> None:
    document = files[f"stages/{stage}/prometheus.json"]
    for query in document["queries"]:
        query["time"] = fmt_time(at)
        for sample in query["response"].get("data", {}).get("result", []):
            sample["value"][0] = _epoch(at)
    document["collected_at"] = fmt_time(at + timedelta(seconds=PROM_COLLECT_DELAY_S))


def set_stage_window(files: Files, stage: str, start: datetime, end: datetime) -> None:
    """Move a stage's window consistently: stage.json, prometheus.json (window, PromQL window,
    evaluation time, sample timestamps) and handleSummary run durations."""
    stage_doc = files[f"stages/{stage}/stage.json"]
    stage_doc["start_time"], stage_doc["end_time"] = fmt_time(start), fmt_time(end)
    document = files[f"stages/{stage}/prometheus.json"]
    document["window"] = {"start": fmt_time(start), "end": fmt_time(end)}
    seconds = int((end - start).total_seconds())
    if seconds > 0:
        window = StageWindow(stage, 0, start, end)
        templates = {name: template for name, template, _k, _b in METRICS}
        for query in document["queries"]:
            if query["name"] in templates:
                query["promql"] = promql_for(templates[query["name"]], window)
                value = query["response"]["data"]["result"][0]["value"][1]
                query["coverage"] = coverage_for(templates[query["name"]], window, value)
        for summary in stage_summaries(files, stage):
            if summary_format(summary) == HANDLESUMMARY:
                summary["state"]["testRunDurationMs"] = _duration_ms(window, f"{stage}/moved")
    _set_eval_time(files, stage, end + timedelta(seconds=EVAL_DELAY_S))


def k8s_items(files: Files) -> list[dict[str, Any]]:
    """The cluster snapshot's items (mutable)."""
    items: list[dict[str, Any]] = files[CLUSTER_PATH]["items"]
    return items


def find_items(
    files: Files, kind: str, name: str | None = None, *, app: str | None = None
) -> list[dict[str, Any]]:
    """Items of ``kind``, optionally by exact name or by ``app`` label."""
    return [
        item
        for item in k8s_items(files)
        if item["kind"] == kind
        and (name is None or item["metadata"]["name"] == name)
        and (app is None or item["metadata"].get("labels", {}).get("app") == app)
    ]


def owner_workload(files: Files, pod: dict[str, Any]) -> str | None:
    """The name of the Deployment (through its ReplicaSet) or StatefulSet owning ``pod``."""
    for ref in pod["metadata"].get("ownerReferences", []):
        if ref["kind"] == "StatefulSet":
            return str(ref["name"])
        if ref["kind"] == "ReplicaSet":
            for rs in find_items(files, "ReplicaSet", ref["name"]):
                for owner in rs["metadata"].get("ownerReferences", []):
                    return str(owner["name"])
    return None


def _pods_of(files: Files, workload: str) -> list[dict[str, Any]]:
    """Certification pods of a Deployment/StatefulSet, by owner chain."""
    owners = {workload}
    owners |= {
        rs["metadata"]["name"]
        for rs in find_items(files, "ReplicaSet")
        if any(o["name"] == workload for o in rs["metadata"].get("ownerReferences", []))
    }
    return [
        pod
        for pod in find_items(files, "Pod")
        if any(
            o["kind"] in ("ReplicaSet", "StatefulSet") and o["name"] in owners
            for o in pod["metadata"].get("ownerReferences", [])
        )
    ]


def _remove(files: Files, predicate: Callable[[str], bool]) -> None:
    for path in [p for p in files if predicate(p)]:
        del files[path]


def _windows_of(files: Files) -> dict[str, tuple[datetime, datetime]]:
    out = {}
    for path, value in files.items():
        if path.endswith("/stage.json") and isinstance(value, dict):
            out[value["stage"]] = (_parse_time(value["start_time"]), _parse_time(value["end_time"]))
    return out


# --------------------------------------------------------------------------- variants


class Variant(NamedTuple):
    """A named bundle: ``bundle_files(**options)``, then ``mutate(files)``, then re-sealed
    unless ``reseal`` is False (variants about the seal mutate after sealing)."""

    name: str
    description: str
    expected: str  # "certified" | "not_certified" | "blocked"
    mutate: Callable[[Files], None]
    options: Mapping[str, Any] = MappingProxyType({})
    reseal: bool = True


def _nothing(files: Files) -> None:
    pass


# -- k6 observed concurrency


def _intended_vus_only(files: Files) -> None:
    metric(stage_summaries(files, "100k")[0], "vus")["max"] = 60000


def _vus_max_not_vus(files: Files) -> None:
    summary = stage_summaries(files, "100k")[0]
    metric(summary, "vus")["max"] = 40000
    metric(summary, "vus_max").update(value=150000, min=150000, max=150000)


# -- Prometheus


def _missing_metric_entry(files: Files) -> None:
    document = files["stages/100k/prometheus.json"]
    document["queries"] = [q for q in document["queries"] if q["name"] != "db_pool_saturation"]


def _empty_metric_result(files: Files) -> None:
    query = prometheus_query(files, "25k", "realtime_dropped_connections")
    query["response"]["data"]["result"] = []


def _nan_metric(files: Files) -> None:
    set_sample(files, "10k", "db_pool_saturation", "NaN")


def _inf_metric(files: Files) -> None:
    set_sample(files, "1k", "nats_lag", "+Inf")


def _promql_mismatch(files: Files) -> None:
    prometheus_query(files, "50k", "gateway_restarts")["promql"] += " or vector(0)"


def _eval_before_end(files: Files) -> None:
    _set_eval_time(files, "100k", _windows_of(files)["100k"][1] - timedelta(seconds=10))


def _eval_too_late(files: Files) -> None:
    _set_eval_time(files, "50k", _windows_of(files)["50k"][1] + timedelta(seconds=120))


def _prometheus_error_status(files: Files) -> None:
    prometheus_query(files, "25k", "nats_lag")["response"] = {
        "status": "error",
        "errorType": "execution",
        "error": "query processing would load too many samples into memory in query execution",
    }


def _metric_violated(files: Files) -> None:
    set_sample(files, "50k", "db_pool_saturation", "0.95")


# -- cluster


def _migration_job_pod(files: Files) -> None:
    start = _windows_of(files)["smoke"][0]
    cluster = _Cluster(start, resource_version=48299001, first_ip=150)
    cron = "gateway-cache-warmup"
    cluster.items.append(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": cluster._meta("CronJob", cron, {"app": "gateway"}, generation=1),
            "spec": {
                "schedule": "*/30 * * * *",
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "suspend": False,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": cluster._containers(
                                    ((cron, "gateway-migrate", None),)
                                ),
                            }
                        }
                    }
                },
            },
            "status": {
                "lastScheduleTime": fmt_time(start - timedelta(minutes=30)),
                "lastSuccessfulTime": fmt_time(start - timedelta(minutes=28)),
            },
        }
    )
    cluster.job(
        f"{cron}-29622450",
        "cache-warmup",
        {"app": "gateway", "component": "cache-warmup"},
        "gateway-migrate",
        start - timedelta(minutes=28),
        owner=cluster._owner("batch/v1", "CronJob", cron),
    )
    k8s_items(files).extend(cluster.items)


def _required_pod_not_ready(files: Files) -> None:
    make_container_not_ready(_pods_of(files, "gateway")[1], "otel-agent")
    reconcile(k8s_items(files))


def _required_deployment_missing(files: Files) -> None:
    doomed = {id(p) for p in _pods_of(files, "pgbouncer")}
    doomed |= {id(i) for i in find_items(files, "Deployment", "pgbouncer")}
    doomed |= {id(i) for i in find_items(files, "ReplicaSet", app="pgbouncer")}
    files[CLUSTER_PATH]["items"] = [i for i in k8s_items(files) if id(i) not in doomed]
    reconcile(k8s_items(files))
    images = loadcert(files)["artifacts"]["images"]
    images[:] = [i for i in images if i["name"] != "pgbouncer"]


def _pending_pod_no_statuses(files: Files) -> None:
    pod = _pods_of(files, "gateway")[2]
    status = pod["status"]
    for key in ("containerStatuses", "podIP", "podIPs", "hostIP", "startTime"):
        status.pop(key, None)
    del pod["spec"]["nodeName"]
    status["phase"] = "Pending"
    status["qosClass"] = "Burstable"
    status["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
            "available: 3 No preemption victims found for incoming pod.",
            "lastProbeTime": None,
            "lastTransitionTime": status["conditions"][0]["lastTransitionTime"],
        }
    ]
    reconcile(k8s_items(files))


def _unrelated_pod_failing(files: Files) -> None:
    start = _windows_of(files)["smoke"][0]
    cluster = _Cluster(start, resource_version=48299501, first_ip=170)
    pod = cluster.pod(
        "debug-shell",
        {"app": "netshoot", "owner": "sre-oncall"},
        {},
        (("netshoot", "netshoot", None),),
        NODES[0],
        restart_policy="Never",
        created=start - timedelta(minutes=50),
    )
    del pod["metadata"]["ownerReferences"]  # a bare pod
    pod["status"]["phase"] = "Failed"
    for status in pod["status"]["containerStatuses"]:
        status.update(
            ready=False,
            started=False,
            state={
                "terminated": {
                    "exitCode": 137,
                    "reason": "Error",
                    "startedAt": fmt_time(start - timedelta(minutes=50)),
                    "finishedAt": fmt_time(start - timedelta(minutes=20)),
                    "containerID": status["containerID"],
                }
            },
        )
    for condition in pod["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
            condition["status"] = "False"
            condition["reason"] = "PodFailed"
    k8s_items(files).extend(cluster.items)


def _service_no_ready_endpoints(files: Files) -> None:
    endpoints = find_items(files, "Endpoints", "valkey")[0]
    for subset in endpoints["subsets"]:
        subset["notReadyAddresses"] = subset.pop("addresses")
    for slice_ in find_items(files, "EndpointSlice"):
        if slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "valkey":
            for endpoint in slice_["endpoints"]:
                endpoint["conditions"] = {"ready": False, "serving": False, "terminating": False}


#: What ``loadcert collect k8s`` writes in place of a redacted value
#: (pytest_loadcert.collect.redact).
REDACTED = "<redacted by loadcert>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _endpointslices_only(files: Files) -> None:
    items = k8s_items(files)
    items[:] = [item for item in items if item["kind"] != "Endpoints"]


def _valkey_slice_endpoints(files: Files) -> list[dict[str, Any]]:
    return [
        endpoint
        for slice_ in find_items(files, "EndpointSlice")
        if slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "valkey"
        for endpoint in slice_["endpoints"]
    ]


def _endpointslices_only_not_ready(files: Files) -> None:
    _endpointslices_only(files)
    for endpoint in _valkey_slice_endpoints(files):
        endpoint["conditions"] = {"ready": False, "serving": False, "terminating": False}


def _endpointslices_ready_absent(files: Files) -> None:
    _endpointslices_only(files)
    for slice_ in find_items(files, "EndpointSlice"):
        for endpoint in slice_["endpoints"]:
            del endpoint["conditions"]["ready"]


def _endpointslice_terminating(files: Files) -> None:
    # Endpoints still list valkey's address; the EndpointSlice says it is terminating.
    for endpoint in _valkey_slice_endpoints(files):
        endpoint["conditions"] = {"ready": False, "serving": True, "terminating": True}


def _redacted_snapshot(files: Files) -> None:
    """The snapshot as `loadcert collect k8s` writes it: env values and the last-applied
    annotation replaced by the redaction marker."""
    env = [{"name": "LOG_LEVEL", "value": REDACTED}, {"name": "DATABASE_URL", "value": REDACTED}]

    def containers(pod_spec: dict[str, Any]) -> None:
        for container in pod_spec["containers"]:
            container["env"] = [dict(entry) for entry in env]

    for item in k8s_items(files):
        if item["kind"] == "Pod":
            containers(item["spec"])
        elif item["kind"] in ("Deployment", "ReplicaSet", "StatefulSet", "Job"):
            containers(item["spec"]["template"]["spec"])
        if item["kind"] in ("Deployment", "StatefulSet", "Service"):
            item["metadata"].setdefault("annotations", {})[LAST_APPLIED] = REDACTED


def _renamespace(value: Any, namespace: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "namespace" and isinstance(item, str):
                value[key] = namespace
            else:
                _renamespace(item, namespace)
    elif isinstance(value, list):
        for item in value:
            _renamespace(item, namespace)


def _snapshot_other_namespace(files: Files) -> None:
    _renamespace(files[CLUSTER_PATH]["items"], "other")
    loadcert(files)["cluster"]["namespace"] = "other"


def _set_collected_at(files: Files, offset_s: int) -> None:
    last_end = max(end for _s, end in _windows_of(files).values())
    manifest = loadcert(files)
    collected = last_end + timedelta(seconds=offset_s)
    manifest["cluster"]["collected_at"] = fmt_time(collected)
    created = _parse_time(manifest["created_at"])
    if created <= collected:
        manifest["created_at"] = fmt_time(collected + timedelta(seconds=180))


def _snapshot_stale(files: Files) -> None:
    _set_collected_at(files, 3600)


def _snapshot_before_run_end(files: Files) -> None:
    _set_collected_at(files, -60)


def _unbound_image(files: Files) -> None:
    status = _pods_of(files, "gateway")[0]["status"]["containerStatuses"][0]
    assert status["name"] == "gateway"
    repo = IMAGES["gateway"][0]
    status["imageID"] = f"{repo}@sha256:" + _hex("re-pushed gateway:1.4.2 tag", 64)


def _bound_image_not_running(files: Files) -> None:
    loadcert(files)["artifacts"]["images"].append(
        {"name": "gateway-canary", "digest": "sha256:" + _hex("gateway canary build", 64)}
    )


# -- k6 evidence


def _target_down_summary(summary: dict[str, Any], reqs: int) -> None:
    """Reshape a summary like the real target-down recording (no thresholds)."""
    hs = summary_format(summary) == HANDLESUMMARY
    metrics = summary["metrics"]
    del metrics["http_req_duration{expected_response:true}"]
    for name in list(metrics):
        entry = metrics[name]
        entry.pop("thresholds", None)
        values = metric(summary, name)
        if name.startswith("http_req_") and name != "http_req_failed":
            for stat in values:
                if stat not in ("count", "thresholds"):
                    values[stat] = 0
        if name in ("data_received", "data_sent"):
            values.update(count=0, rate=0)
    set_rate(summary, "http_req_failed", reqs, 0)
    set_rate(summary, "checks", 0, reqs)
    checks = summary["root_group"]["checks"]
    for check in checks if hs else checks.values():
        check.update(passes=0, fails=reqs)


def _vacuous_target_down(files: Files) -> None:
    summary = stage_summaries(files, "1k")[0]
    _target_down_summary(summary, metric(summary, "http_reqs")["count"])


def _zero_requests_summary(summary: dict[str, Any], keep_http_reqs: bool) -> None:
    """Reshape like the real no-requests recording: iterations ran, no request was sent."""
    hs = summary_format(summary) == HANDLESUMMARY
    metrics = summary["metrics"]
    for name in list(metrics):
        if name.startswith("http_req_") and name not in ("http_req_duration", "http_req_failed"):
            del metrics[name]  # also removes http_req_duration{expected_response:true}
    duration = metric(summary, "http_req_duration")
    for stat in duration:
        if stat != "thresholds":
            duration[stat] = 0
    set_rate(summary, "http_req_failed", 0, 0)
    set_rate(summary, "checks", 0, 0)
    for name in ("data_received", "data_sent"):
        metric(summary, name).update(count=0, rate=0)
    if keep_http_reqs:
        metric(summary, "http_reqs").update(count=0, rate=0)
    else:
        del metrics["http_reqs"]
    summary["root_group"]["checks"] = [] if hs else {}


def _zero_requests(files: Files) -> None:
    _zero_requests_summary(stage_summaries(files, "10k")[0], keep_http_reqs=True)


def _zero_requests_no_http_reqs(files: Files) -> None:
    _zero_requests_summary(stage_summaries(files, "10k")[0], keep_http_reqs=False)


def _threshold_failed(stage: str, code: int = 99) -> Callable[[Files], None]:
    def mutate(files: Files) -> None:
        set_threshold(stage_summaries(files, stage)[0], "http_req_failed", "rate<0.001", ok=False)
        files[f"stages/{stage}/stage.json"]["k6_exit_code"] = code

    return mutate


def _exit_code(stage: str, code: int) -> Callable[[Files], None]:
    def mutate(files: Files) -> None:
        files[f"stages/{stage}/stage.json"]["k6_exit_code"] = code

    return mutate


def _duration_mismatch(files: Files) -> None:
    stage_summaries(files, "10k")[0]["state"]["testRunDurationMs"] = 200000


def _overlapping_windows(files: Files) -> None:
    ten_k_end = _windows_of(files)["10k"][1]
    start = ten_k_end - timedelta(seconds=60)
    set_stage_window(files, "25k", start, start + timedelta(seconds=STAGE_SECONDS))


def _inverted_window(files: Files) -> None:
    start, end = _windows_of(files)["1k"]
    set_stage_window(files, "1k", end, start)


# -- seal and bindings


def _tampered_file(files: Files) -> None:
    metric(stage_summaries(files, "smoke")[0], "vus")["max"] = 25


def _extra_file(files: Files) -> None:
    files["stages/50k/k6-stdout.log"] = b"running (5m00.0s), 00000/60000 VUs, 2500000 complete\n"


def _path_escape(files: Files) -> None:
    loadcert(files)["files"]["../outside.json"] = digest(b"{}\n")


def _script_hash_mismatch(files: Files) -> None:
    loadcert(files)["artifacts"]["k6_script"]["sha256"] = digest(b"// an older script\n")


def _short_git_sha(files: Files) -> None:
    loadcert(files)["git"]["sha"] = GIT_SHA[:7]


def _bundle_carries_thresholds(files: Files) -> None:
    loadcert(files)["thresholds"] = {"p95_ms_max": 5000, "http_req_failed_max": 0.5}


# -- missing evidence


def _missing(prefix: str) -> Callable[[Files], None]:
    def mutate(files: Files) -> None:
        _remove(files, lambda p: p == prefix or p.startswith(prefix + "/"))

    return mutate


def _grafana_relative_time(files: Files) -> None:
    files[GRAFANA_PATH]["dashboard"]["time"] = {"from": "now-6h", "to": "now"}


def _grafana_not_covering(files: Files) -> None:
    last_end = max(end for _s, end in _windows_of(files).values())
    files[GRAFANA_PATH]["dashboard"]["time"]["to"] = _grafana_time(last_end - timedelta(seconds=60))


def _otel_not_covering(files: Files) -> None:
    start, end = _windows_of(files)["100k"]
    low, high = int(_nanos(start)), int(_nanos(end))
    for resource in files[OTEL_PATH]["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            scope["spans"] = [
                s for s in scope["spans"] if not low <= int(s["startTimeUnixNano"]) <= high
            ]


# -- malformed evidence


def _not_json(files: Files) -> None:
    data = encode(files["stages/25k/k6-summary.json"])
    files["stages/25k/k6-summary.json"] = data[: len(data) // 2]


def _json_nan_literal(files: Files) -> None:
    summary = stage_summaries(files, "10k")[0]
    metric(summary, "http_req_duration{expected_response:true}")["p(95)"] = math.nan
    files["stages/10k/k6-summary.json"] = (
        json.dumps(summary, indent=2, sort_keys=True, allow_nan=True) + "\n"
    ).encode()


def _wrong_type(files: Files) -> None:
    metric(stage_summaries(files, "100k")[0], "vus")["max"] = "100000"


def _negative_count(files: Files) -> None:
    metric(stage_summaries(files, "50k")[0], "http_reqs")["count"] = -5


def _checks_missing(files: Files) -> None:
    summary = stage_summaries(files, "25k")[0]
    del summary["metrics"]["checks"]
    summary["root_group"]["checks"] = {}


def _checks_low(files: Files) -> None:
    summary = stage_summaries(files, "10k")[0]
    values = metric(summary, "checks")
    total = values["passes"] + values["fails"]
    fails = total // 100
    set_rate(summary, "checks", total - fails, fails)
    checks = summary["root_group"]["checks"]
    for check in checks if isinstance(checks, list) else checks.values():
        check.update(passes=total - fails, fails=fails)


def _p95_high(files: Files) -> None:
    summary = stage_summaries(files, "100k")[0]
    for name in ("http_req_duration", "http_req_duration{expected_response:true}"):
        metric(summary, name).update({"p(95)": 450.112, "p(99)": 652.87})


def _p99_missing(files: Files) -> None:
    summary = stage_summaries(files, "50k")[0]
    summary["options"]["summaryTrendStats"].remove("p(99)")
    for entry in summary["metrics"].values():
        if entry["type"] == "trend":
            del entry["values"]["p(99)"]


def _error_rate_high(files: Files) -> None:
    summary = stage_summaries(files, "50k")[0]
    reqs = metric(summary, "http_reqs")["count"]
    failed = reqs // 100
    set_rate(summary, "http_req_failed", failed, reqs - failed)
    metric(summary, "http_req_duration{expected_response:true}")["count"] = reqs - failed


def _iterations_dropped(files: Files) -> None:
    """25k as an arrival-rate schedule k6 could not serve: 4 % of the scheduled iterations
    dropped (k6 writes the counter only when one was dropped: fixtures/k6/arrival-dropped)."""
    summary = stage_summaries(files, "25k")[0]
    iterations = metric(summary, "iterations")
    dropped = iterations["count"] // 24
    rate = _num(dropped * iterations["rate"] / iterations["count"])
    entry = {"count": dropped, "rate": rate}
    if summary_format(summary) == HANDLESUMMARY:
        entry = {"type": "counter", "contains": "default", "values": entry}
    summary["metrics"]["dropped_iterations"] = entry


def _stage_summary_copied(files: Files) -> None:
    """The 100k stage's summary stands for the 50k stage too (both 300 s): 50k never ran."""
    files["stages/50k/k6-summary.json"] = copy.deepcopy(files["stages/100k/k6-summary.json"])


def _shards_without_segments(files: Files) -> None:
    del files["stages/100k/stage.json"]["shards"]


def _same_run_stored_twice(files: Files) -> None:
    # Both halves "cover" the run, but each is the whole run: segments overlap.
    summary = files.pop("stages/50k/k6-summary.json")
    files["stages/50k/k6-summary.a.json"] = summary
    files["stages/50k/k6-summary.b.json"] = copy.deepcopy(summary)
    files["stages/50k/stage.json"]["shards"] = {"a": "0:1", "b": "0:1"}


def _shards_without_records(files: Files) -> None:
    for name in [rel for rel in files if rel.startswith("stages/100k/shard-")]:
        del files[name]


CERTIFIED, NOT_CERTIFIED, BLOCKED = "certified", "not_certified", "blocked"

VARIANTS: list[Variant] = [
    Variant("valid", "complete valid bundle for the built-in profile", CERTIFIED, _nothing),
    Variant(
        "valid_sharded_100k",
        "100k run as 4 k6 instances (k6-summary.1..4.json, 25000 VUs each)",
        CERTIFIED,
        _nothing,
        MappingProxyType({"shards": {"100k": 4}}),
    ),
    Variant(
        "shards_without_segments",
        "100k as 4 shard summaries, but stage.json does not name their execution segments",
        BLOCKED,
        _shards_without_segments,
        MappingProxyType({"shards": {"100k": 4}}),
    ),
    Variant(
        "shards_without_records",
        "100k as 4 shard summaries with segments, but no shard-<n>.json records: nothing "
        "shows the 4 instances ran at the same time",
        BLOCKED,
        _shards_without_records,
        MappingProxyType({"shards": {"100k": 4}}),
    ),
    Variant(
        "same_run_stored_twice",
        "50k's one run stored twice as two shard files, each claiming the whole run",
        BLOCKED,
        _same_run_stored_twice,
    ),
    Variant(
        "valid_snapshot_grafana",
        "Grafana evidence is a /api/snapshots/<key> export",
        CERTIFIED,
        _nothing,
        MappingProxyType({"grafana": "snapshot"}),
    ),
    # observed concurrency
    Variant(
        "intended_vus_only",
        "100k: stage.json target_vus 100000 but k6 measured vus.max 60000",
        NOT_CERTIFIED,
        _intended_vus_only,
    ),
    Variant(
        "vus_max_not_vus",
        "100k: vus.max 40000 while the VU pool vus_max is 150000",
        NOT_CERTIFIED,
        _vus_max_not_vus,
    ),
    # Prometheus
    Variant(
        "missing_metric_entry",
        "100k prometheus.json has no db_pool_saturation query",
        BLOCKED,
        _missing_metric_entry,
    ),
    Variant(
        "empty_metric_result",
        "25k realtime_dropped_connections answered with an empty vector",
        BLOCKED,
        _empty_metric_result,
    ),
    Variant("nan_metric", '10k db_pool_saturation sample value "NaN"', BLOCKED, _nan_metric),
    Variant("inf_metric", '1k nats_lag sample value "+Inf"', BLOCKED, _inf_metric),
    Variant(
        "promql_mismatch",
        "50k gateway_restarts PromQL has ' or vector(0)' appended",
        BLOCKED,
        _promql_mismatch,
    ),
    Variant(
        "eval_before_end",
        "100k queries evaluated 10 s before the stage end",
        BLOCKED,
        _eval_before_end,
    ),
    Variant(
        "eval_too_late", "50k queries evaluated 120 s after the stage end", BLOCKED, _eval_too_late
    ),
    Variant(
        "prometheus_error_status",
        "25k nats_lag answered with status error (errorType execution)",
        BLOCKED,
        _prometheus_error_status,
    ),
    Variant(
        "metric_violated",
        '50k db_pool_saturation "0.95" (max 0.8)',
        NOT_CERTIFIED,
        _metric_violated,
    ),
    # cluster
    Variant(
        "migration_job_pod",
        "besides the completed migration Job pod, a CronJob's Succeeded Job pod labelled "
        "app: gateway",
        CERTIFIED,
        _migration_job_pod,
    ),
    Variant(
        "required_pod_not_ready",
        "a gateway pod is Running but its otel-agent sidecar is not ready",
        NOT_CERTIFIED,
        _required_pod_not_ready,
    ),
    Variant(
        "required_deployment_missing",
        "pgbouncer Deployment, ReplicaSet and pods absent (its image no longer bound)",
        NOT_CERTIFIED,
        _required_deployment_missing,
    ),
    Variant(
        "pending_pod_no_statuses",
        "a gateway pod is Pending (Unschedulable) without containerStatuses",
        NOT_CERTIFIED,
        _pending_pod_no_statuses,
    ),
    Variant(
        "unrelated_pod_failing",
        "besides the crash-looping legacy-reports pod, a bare Failed debug pod",
        CERTIFIED,
        _unrelated_pod_failing,
    ),
    Variant(
        "service_no_ready_endpoints",
        "valkey Endpoints/EndpointSlice have no ready address",
        NOT_CERTIFIED,
        _service_no_ready_endpoints,
    ),
    Variant(
        "endpointslices_only",
        "the snapshot has EndpointSlices and no v1 Endpoints (Kubernetes 1.33+ style)",
        CERTIFIED,
        _endpointslices_only,
    ),
    Variant(
        "endpointslices_ready_absent",
        "EndpointSlices only, conditions.ready absent (the API says: nil means ready)",
        CERTIFIED,
        _endpointslices_ready_absent,
    ),
    Variant(
        "endpointslices_only_not_ready",
        "EndpointSlices only; valkey's endpoints have ready: false",
        NOT_CERTIFIED,
        _endpointslices_only_not_ready,
    ),
    Variant(
        "endpointslice_terminating",
        "valkey's Endpoints still list its address, its EndpointSlice says terminating",
        NOT_CERTIFIED,
        _endpointslice_terminating,
    ),
    Variant(
        "redacted_snapshot",
        "env values and last-applied-configuration replaced by the redaction marker",
        CERTIFIED,
        _redacted_snapshot,
    ),
    Variant(
        "snapshot_other_namespace",
        'cluster snapshot and cluster.namespace are "other", the profile wants "shop"',
        BLOCKED,
        _snapshot_other_namespace,
    ),
    Variant(
        "snapshot_stale",
        "cluster.collected_at 3600 s after the last stage end",
        BLOCKED,
        _snapshot_stale,
    ),
    Variant(
        "snapshot_before_run_end",
        "cluster.collected_at 60 s before the last stage end",
        BLOCKED,
        _snapshot_before_run_end,
    ),
    Variant(
        "unbound_image",
        "a gateway pod's imageID digest is not among the bound images",
        BLOCKED,
        _unbound_image,
    ),
    Variant(
        "bound_image_not_running",
        "a bound digest that no certification pod runs",
        BLOCKED,
        _bound_image_not_running,
    ),
    # k6 evidence
    Variant(
        "vacuous_target_down",
        "1k from the target-down shape: every request failed in 0 ms, no "
        "expected_response submetric, checks 0, no thresholds, exit 0",
        NOT_CERTIFIED,
        _vacuous_target_down,
    ),
    Variant(
        "zero_requests",
        "10k sent no request: http_reqs count 0, http_req_failed/checks with 0 samples, "
        "thresholds ok, exit 0",
        BLOCKED,
        _zero_requests,
    ),
    Variant(
        "zero_requests_no_http_reqs",
        "10k sent no request, as real k6 writes it: no http_reqs metric at all",
        BLOCKED,
        _zero_requests_no_http_reqs,
    ),
    Variant(
        "threshold_failed_export",
        "25k (--summary-export): threshold rate<0.001 on http_req_failed is true (failed), exit 99",
        NOT_CERTIFIED,
        _threshold_failed("25k"),
    ),
    Variant(
        "threshold_failed_handlesummary",
        '10k (handleSummary): http_req_failed threshold {"ok": false}, exit 99',
        NOT_CERTIFIED,
        _threshold_failed("10k"),
    ),
    Variant(
        "exit_code_disagrees",
        "50k: every threshold ok but k6_exit_code 99",
        BLOCKED,
        _exit_code("50k", 99),
    ),
    Variant(
        "exit_code_abort", "25k: k6_exit_code 108 (test aborted)", BLOCKED, _exit_code("25k", 108)
    ),
    Variant(
        "duration_mismatch",
        "10k: testRunDurationMs 200000 for a 300 s window",
        BLOCKED,
        _duration_mismatch,
    ),
    Variant(
        "overlapping_windows", "25k starts 60 s before 10k ends", BLOCKED, _overlapping_windows
    ),
    Variant("inverted_window", "1k start_time is after its end_time", BLOCKED, _inverted_window),
    # seal and bindings
    Variant(
        "tampered_file",
        "smoke k6 summary changed after sealing",
        BLOCKED,
        _tampered_file,
        reseal=False,
    ),
    Variant(
        "extra_file", "stages/50k/k6-stdout.log is not in files", BLOCKED, _extra_file, reseal=False
    ),
    Variant("path_escape", "files lists ../outside.json", BLOCKED, _path_escape, reseal=False),
    Variant(
        "script_hash_mismatch",
        "artifacts.k6_script.sha256 is not the script's hash",
        BLOCKED,
        _script_hash_mismatch,
        reseal=False,
    ),
    Variant("short_git_sha", "git.sha has 7 hex characters", BLOCKED, _short_git_sha),
    Variant(
        "bundle_carries_thresholds",
        "loadcert.json has a top-level 'thresholds' key",
        BLOCKED,
        _bundle_carries_thresholds,
    ),
    # missing evidence
    Variant("missing_stage_dir", "stages/50k/ is absent", BLOCKED, _missing("stages/50k")),
    Variant(
        "missing_cluster", "cluster/kubernetes.json is absent", BLOCKED, _missing(CLUSTER_PATH)
    ),
    Variant(
        "missing_grafana", "observability/grafana.json is absent", BLOCKED, _missing(GRAFANA_PATH)
    ),
    Variant(
        "missing_otel", "observability/otel-traces.json is absent", BLOCKED, _missing(OTEL_PATH)
    ),
    Variant(
        "grafana_relative_time",
        'Grafana time range is {"from": "now-6h", "to": "now"}',
        BLOCKED,
        _grafana_relative_time,
    ),
    Variant(
        "grafana_not_covering",
        "Grafana time range ends 60 s before the last stage ends",
        BLOCKED,
        _grafana_not_covering,
    ),
    Variant("otel_not_covering", "no span inside the 100k window", BLOCKED, _otel_not_covering),
    # malformed evidence
    Variant("not_json", "25k k6 summary truncated mid-document", BLOCKED, _not_json),
    Variant(
        "json_nan_literal",
        "10k summary has a bare NaN literal as p(95) of the successful-request trend",
        BLOCKED,
        _json_nan_literal,
    ),
    Variant("wrong_type", '100k vus.max is the string "100000"', BLOCKED, _wrong_type),
    Variant("negative_count", "50k http_reqs.count is -5", BLOCKED, _negative_count),
    Variant(
        "checks_missing",
        "25k has no checks metric (and no checks in root_group)",
        BLOCKED,
        _checks_missing,
    ),
    Variant("checks_low", "10k checks rate 0.99 (min 0.999)", NOT_CERTIFIED, _checks_low),
    Variant("p95_high", "100k http_req_duration p(95) 450 ms (max 300)", NOT_CERTIFIED, _p95_high),
    Variant(
        "p99_missing", "50k summaryTrendStats without p(99), so no p(99) key", BLOCKED, _p99_missing
    ),
    Variant(
        "error_rate_high",
        "50k http_req_failed rate 0.01 (max 0.001)",
        NOT_CERTIFIED,
        _error_rate_high,
    ),
    Variant(
        "stage_summary_copied",
        "50k's k6 summary is a copy of 100k's (both 300 s): one run given as two stages",
        BLOCKED,
        _stage_summary_copied,
    ),
    Variant(
        "iterations_dropped",
        "25k dropped 4 % of its scheduled iterations (dropped_iterations; max 0)",
        NOT_CERTIFIED,
        _iterations_dropped,
    ),
]


def variant(name: str) -> Variant:
    """The variant called ``name``."""
    for candidate in VARIANTS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no variant {name!r}; known: {', '.join(v.name for v in VARIANTS)}")


def variant_files(name: str) -> Files:
    """The files dict of a variant, sealed exactly as the variant wants (a fresh copy: the
    caller may change it)."""
    return copy.deepcopy(_built_variant(name))


@functools.cache
def _built_variant(name: str) -> Files:
    """Each variant built once per process; callers get copies."""
    chosen = variant(name)
    files = bundle_files(**dict(chosen.options))
    chosen.mutate(files)
    if chosen.reseal:
        seal_files(files)
    return files


def build_variant(name: str, root: Path) -> Path:
    """Write variant ``name`` to ``root`` (created; must be empty)."""
    chosen = variant(name)
    return write_bundle(root, variant_files(name), seal=chosen.reseal)
