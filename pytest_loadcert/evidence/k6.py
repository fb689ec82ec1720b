"""Exact parsers for k6's two end-of-test JSON formats.

* handleSummary ``data`` (``JSON.stringify(data)``): ``{"metrics": {name: {"type",
  "contains", "values": {...}, "thresholds": {expr: {"ok": bool}}}}, "options", "state",
  "root_group"}``; a rate's ratio is ``values.rate``.
* ``--summary-export``: ``{"metrics": {name: {<flat values>, "thresholds": {expr: bool}}},
  "root_group"}``; a rate's ratio is called ``value``, and a threshold value of ``true``
  means the threshold **failed**.

Both are normalised to :class:`K6Summary` (thresholds as ``expr -> ok``, a rate's ratio as
``rate``). Anything that is neither format, or that has wrong types, NaN, negative counts
or inconsistent rates, raises :class:`EvidenceError` naming the file and the JSON path
*as written in that file*.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.k6_agreement import check_agreement
from pytest_loadcert.evidence.k6_summary import CheckCount, Format, K6Summary, Metric

HANDLESUMMARY_TOP = frozenset({"metrics", "options", "state", "root_group", "setup_data"})
EXPORT_TOP = frozenset({"metrics", "root_group", "setup_data"})
METRIC_TYPES = frozenset({"counter", "gauge", "rate", "trend"})
CONTAINS = frozenset({"default", "time", "data"})
COUNT_KEYS = frozenset({"count", "passes", "fails"})
REQUIRED_VALUES: dict[str, frozenset[str]] = {
    "counter": frozenset({"count", "rate"}),
    "gauge": frozenset({"value", "min", "max"}),
    "rate": frozenset({"rate", "passes", "fails"}),
    "trend": frozenset(),
}
__all__ = ["CheckCount", "Format", "K6Summary", "Metric", "parse_summary"]

# Relative tolerance when checking a rate against passes / (passes + fails).
_RATE_TOLERANCE = 1e-9


def parse_summary(document: Any, rel: str) -> K6Summary:
    """Parse a k6 summary in either format; reject anything else."""
    if not isinstance(document, dict):
        raise EvidenceError(rel, "", "is not a JSON object; expected a k6 summary")
    if "metrics" not in document:
        raise EvidenceError(rel, "metrics", "is missing; not a k6 summary")
    metrics = document["metrics"]
    if not isinstance(metrics, dict) or not metrics:
        raise EvidenceError(rel, "metrics", "must be a non-empty object")
    keys = set(document)
    if keys <= HANDLESUMMARY_TOP and ("state" in keys or "options" in keys):
        summary = _parse_handlesummary(document, metrics, rel)
    elif keys <= EXPORT_TOP:
        summary = _parse_export(metrics, rel)
    else:
        summary = None
    if summary is not None:
        tree = _check_tree(document.get("root_group"), rel, summary.format)
        return check_agreement(replace(summary, check_tree=tree))
    unknown = sorted(keys - HANDLESUMMARY_TOP)
    if unknown:
        raise EvidenceError(
            rel,
            unknown[0],
            "is not a key of either k6 summary format (handleSummary data or --summary-export)",
        )
    raise EvidenceError(rel, "", "is neither k6 handleSummary data nor a --summary-export file")


def _number(value: object, rel: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvidenceError(rel, field, f"must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond float range
        raise EvidenceError(rel, field, "is not a finite number") from None
    if not math.isfinite(number):
        raise EvidenceError(rel, field, "is not a finite number")
    return number


def _values(
    raw: dict[str, Any], rel: str, prefix: str, metric: str, rename: dict[str, str]
) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, value in raw.items():
        field = f"{prefix}.{key}"
        number = _number(value, rel, field)
        target = rename.get(key, key)
        if target in COUNT_KEYS and (number < 0 or number != int(number)):
            raise EvidenceError(
                rel, field, f"is a count and must be a non-negative integer, got {value}"
            )
        if number < 0 and metric.startswith(("http_req_", "iteration_duration")):
            raise EvidenceError(rel, field, f"is a duration and must not be negative, got {value}")
        values[target] = number
    return values


def _check_rate(metric: Metric, summary_field: str, rel: str) -> None:
    if metric.kind != "rate":
        return
    passes, fails, rate = metric.values["passes"], metric.values["fails"], metric.values["rate"]
    total = passes + fails
    expected = passes / total if total else 0.0
    if not 0.0 <= rate <= 1.0 or abs(rate - expected) > _RATE_TOLERANCE * max(1.0, expected):
        raise EvidenceError(
            rel,
            summary_field,
            f"is {rate}, which disagrees with passes / (passes + fails) = {passes:g} / {total:g}",
        )


def _check_trend(metric: Metric, base: str, rel: str) -> None:
    """A trend's statistics of one sample set are in order: ``min <= med <= p(N) <= ... <=
    max`` (percentiles by N) and ``avg`` within ``[min, max]``. A summary where p(95) sits
    under the median was edited, or fed by a script: blocked, naming both fields."""
    if metric.kind != "trend":
        return
    values = metric.values

    def rank(key: str) -> float | None:
        if key == "min":
            return 0.0
        if key == "med":
            return 50.0
        if key == "max":
            return 100.0
        if key.startswith("p(") and key.endswith(")"):
            try:
                return float(key[2:-1])
            except ValueError:
                return None
        return None

    ordered = sorted((r, k) for k in values if (r := rank(k)) is not None)
    for (_, low), (_, high) in itertools.pairwise(ordered):
        if values[high] < values[low]:
            raise EvidenceError(
                rel,
                f"{base}.{high}",
                f"is {values[high]:g}, under {base}.{low} {values[low]:g}: the statistics of one "
                "trend are in order (min <= med <= p(90) <= p(95) <= p(99) <= max)",
            )
    if values.get("count") == 0:
        for key, value in sorted(values.items()):
            if value != 0:
                raise EvidenceError(
                    rel,
                    f"{base}.{key}",
                    f"is {value:g}, but {base}.count is 0: a trend of no samples is all zeros",
                )
    if {"avg", "min", "max"} <= set(values) and not (
        values["min"] <= values["avg"] <= values["max"]
    ):
        raise EvidenceError(
            rel,
            f"{base}.avg",
            f"is {values['avg']:g}, outside {base}.min {values['min']:g} and {base}.max "
            f"{values['max']:g}",
        )


def _check_tree(root: object, rel: str, fmt: Format) -> tuple[CheckCount, ...] | None:
    """Every check of ``root_group``'s tree (groups and checks are lists in handleSummary
    data, objects keyed by name in an export); None when the file has no ``root_group``."""
    if root is None:
        return None
    found: list[CheckCount] = []
    stack: list[tuple[object, str]] = [(root, "root_group")]
    while stack:
        group, where = stack.pop()
        if not isinstance(group, dict):
            raise EvidenceError(rel, where, "must be an object (a k6 group)")
        for key in ("groups", "checks"):
            members = group.get(key, [] if fmt == "handlesummary" else {})
            if fmt == "handlesummary":
                if not isinstance(members, list):
                    raise EvidenceError(rel, f"{where}.{key}", "must be a list")
                named = [(f"{where}.{key}[{i}]", m) for i, m in enumerate(members)]
            else:
                if not isinstance(members, dict):
                    raise EvidenceError(rel, f"{where}.{key}", "must be an object")
                named = [(f"{where}.{key}.{name}", m) for name, m in members.items()]
            if key == "groups":
                stack.extend((member, field) for field, member in reversed(named))
                continue
            for field, check in named:
                if not isinstance(check, dict):
                    raise EvidenceError(rel, field, "must be an object (a k6 check)")
                counts = []
                for count in ("passes", "fails"):
                    value = check.get(count)
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise EvidenceError(
                            rel, f"{field}.{count}", "must be a non-negative integer"
                        )
                    counts.append(value)
                path = check.get("path", "")
                if not isinstance(path, str):
                    raise EvidenceError(rel, f"{field}.path", "must be a string")
                found.append(CheckCount(field, path, counts[0], counts[1]))
    return tuple(found)


def _parse_handlesummary(document: dict[str, Any], metrics: dict[str, Any], rel: str) -> K6Summary:
    duration: float | None = None
    if "state" in document:
        state = document["state"]
        if not isinstance(state, dict):
            raise EvidenceError(rel, "state", "must be an object")
        if "testRunDurationMs" in state:
            duration = _number(state["testRunDurationMs"], rel, "state.testRunDurationMs")
            if duration < 0:
                raise EvidenceError(rel, "state.testRunDurationMs", "must not be negative")
    trend_stats: tuple[str, ...] | None = None
    options = document.get("options")
    if options is not None:
        if not isinstance(options, dict):
            raise EvidenceError(rel, "options", "must be an object")
        stats = options.get("summaryTrendStats")
        if stats is not None:
            if not isinstance(stats, list) or not all(isinstance(s, str) for s in stats):
                raise EvidenceError(rel, "options.summaryTrendStats", "must be a list of strings")
            trend_stats = tuple(stats)
    parsed: dict[str, Metric] = {}
    for name, entry in metrics.items():
        base = f"metrics.{name}"
        if not isinstance(entry, dict):
            raise EvidenceError(rel, base, "must be an object")
        extra = sorted(set(entry) - {"type", "contains", "values", "thresholds"})
        if extra:
            raise EvidenceError(
                rel, f"{base}.{extra[0]}", "is not a key of handleSummary metric data"
            )
        kind = entry.get("type")
        if not isinstance(kind, str) or kind not in METRIC_TYPES:  # a list is unhashable
            raise EvidenceError(
                rel, f"{base}.type", f"must be one of counter, gauge, rate, trend; got {kind!r}"
            )
        contains = entry.get("contains", "default")
        if not isinstance(contains, str) or contains not in CONTAINS:
            raise EvidenceError(
                rel, f"{base}.contains", f"must be default, time or data; got {entry['contains']!r}"
            )
        raw_values = entry.get("values")
        if not isinstance(raw_values, dict):
            raise EvidenceError(rel, f"{base}.values", "is missing or not an object")
        values = _values(raw_values, rel, f"{base}.values", name, {})
        for required in sorted(REQUIRED_VALUES[kind] - set(values)):
            raise EvidenceError(
                rel, f"{base}.values.{required}", f"is missing from a {kind} metric"
            )
        thresholds: dict[str, bool] = {}
        raw_thresholds = entry.get("thresholds", {})
        if not isinstance(raw_thresholds, dict):
            raise EvidenceError(rel, f"{base}.thresholds", "must be an object")
        for expr, result in raw_thresholds.items():
            field = f"{base}.thresholds.{expr}"
            if (
                not isinstance(result, dict)
                or set(result) != {"ok"}
                or not isinstance(result["ok"], bool)
            ):
                raise EvidenceError(rel, field, 'must be {"ok": true|false} in handleSummary data')
            thresholds[expr] = result["ok"]
        metric = Metric(name, kind, values, thresholds)
        _check_rate(metric, f"{base}.values.rate", rel)
        _check_trend(metric, f"{base}.values", rel)
        parsed[name] = metric
    return K6Summary(rel, "handlesummary", parsed, duration, trend_stats)


def _parse_export(metrics: dict[str, Any], rel: str) -> K6Summary:
    parsed: dict[str, Metric] = {}
    for name, entry in metrics.items():
        base = f"metrics.{name}"
        if not isinstance(entry, dict):
            raise EvidenceError(rel, base, "must be an object")
        if "values" in entry or "type" in entry:
            raise EvidenceError(
                rel, base, "mixes the handleSummary shape into a --summary-export file"
            )
        thresholds: dict[str, bool] = {}
        raw_thresholds = entry.get("thresholds", {})
        if not isinstance(raw_thresholds, dict):
            raise EvidenceError(rel, f"{base}.thresholds", "must be an object")
        for expr, failed in raw_thresholds.items():
            if not isinstance(failed, bool):
                raise EvidenceError(
                    rel,
                    f"{base}.thresholds.{expr}",
                    "must be true (failed) or false (passed) in a --summary-export file",
                )
            thresholds[expr] = not failed  # --summary-export writes true for a FAILED threshold
        raw = {k: v for k, v in entry.items() if k != "thresholds"}
        kind: str | None = None
        rename: dict[str, str] = {}
        if "passes" in raw or "fails" in raw:
            kind = "rate"
            rename = {"value": "rate"}
            for required in ("passes", "fails", "value"):
                if required not in raw:
                    raise EvidenceError(rel, f"{base}.{required}", "is missing from a rate metric")
            if "rate" in raw:
                raise EvidenceError(rel, f"{base}.rate", "is not a key of a --summary-export rate")
        elif "count" in raw and "rate" in raw and len(raw) == 2:
            kind = "counter"
        elif set(raw) == {"value", "min", "max"}:
            kind = "gauge"
        elif raw and set(raw) <= {"avg", "min", "med", "max", "count"} | {
            k for k in raw if k.startswith("p(")
        }:
            kind = "trend"
        values = _values(raw, rel, base, name, rename)
        metric = Metric(name, kind, values, thresholds)
        _check_rate(metric, f"{base}.value", rel)
        _check_trend(metric, base, rel)
        parsed[name] = metric
    return K6Summary(rel, "summary-export", parsed, None, None)
