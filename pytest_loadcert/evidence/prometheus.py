"""Prometheus answers recorded for one stage window (``stages/<stage>/prometheus.json``).

A lookup returns the measured value of a named metric or raises :class:`EvidenceError`:
a metric that was not queried, a query that differs from the profile's PromQL asked over the
stage window (every ``[{window}]`` as ``[<duration>] @ <stage end>``, see
:func:`query_window`), an evaluation time outside ``[stage end, stage end +
eval_delay_max_s]``, an error response, a partial answer (``warnings``), an answer stamped
with another time than the record's, an empty result, several series, or a
``NaN``/``+Inf``/``-Inf`` sample all block. Missing is never zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pytest_loadcert.config.profile import MetricSpec
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.schema import validate
from pytest_loadcert.evidence.timeutil import parse_utc

#: Prometheus stamps an instant answer with the evaluation time, to the millisecond.
STAMP_SLACK_S = 0.001


@dataclass(frozen=True)
class QueryRecord:
    """One recorded query and its untouched response."""

    index: int
    name: str
    promql: str
    time: datetime
    response: dict[str, Any]
    #: The raw samples of each series selector the metric reads over the window, as
    #: ``{"promql", "response"}`` (see :mod:`.prometheus_coverage`); None when not recorded.
    coverage: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class PrometheusEvidence:
    """A parsed ``prometheus.json``."""

    rel: str
    stage: str
    window_start: datetime
    window_end: datetime
    collected_at: datetime
    queries: dict[str, QueryRecord]

    def __repr__(self) -> str:
        return f"<PrometheusEvidence {self.rel} ({len(self.queries)} queries)>"


@dataclass(frozen=True)
class MetricSample:
    """A metric's value for a stage, with where it came from."""

    name: str
    value: float
    promql: str
    time: datetime
    rel: str  # "stages/1k/prometheus.json"
    field: str  # "queries[3]"
    #: Prometheus's ``infos`` on the answer (2.54 and later): shown with the value.
    infos: tuple[str, ...] = ()
    #: How the metric's series covered the window ("40 samples of 2 series, longest gap 5s").
    coverage: str = ""

    @property
    def source(self) -> str:
        return f"{self.rel} {self.field}"


def parse_prometheus(document: Any, rel: str) -> PrometheusEvidence:
    """Validate ``prometheus.json`` against its schema and index queries by name."""
    validate("prometheus", document, rel)
    queries: dict[str, QueryRecord] = {}
    for index, entry in enumerate(document["queries"]):
        name = entry["name"]
        if name in queries:
            raise EvidenceError(rel, f"queries[{index}].name", f"repeats the metric {name!r}")
        moment = parse_utc(entry["time"])
        if moment is None:  # pragma: no cover - the schema's pattern admits only valid forms
            raise EvidenceError(rel, f"queries[{index}].time", "is not an RFC 3339 UTC time")
        coverage = entry.get("coverage")
        queries[name] = QueryRecord(
            index,
            name,
            entry["promql"],
            moment,
            entry["response"],
            None if coverage is None else tuple(coverage),
        )
    start = _time(document["window"]["start"], rel, "window.start")
    end = _time(document["window"]["end"], rel, "window.end")
    collected = _time(document["collected_at"], rel, "collected_at")
    return PrometheusEvidence(rel, document["stage"], start, end, collected, queries)


def _time(value: str, rel: str, field: str) -> datetime:
    moment = parse_utc(value)
    if moment is None:
        raise EvidenceError(rel, field, "is not a valid RFC 3339 UTC time")
    return moment


def window_ms(start: datetime, end: datetime) -> tuple[int, int]:
    """The range :func:`query_window` asks, in Unix milliseconds: ``start`` rounded down,
    ``end`` rounded up."""
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    first = ((start - epoch) // timedelta(microseconds=1)) // 1000
    last = -(-((end - epoch) // timedelta(microseconds=1)) // 1000)
    return first, last


def query_window(start: datetime, end: datetime) -> tuple[str, str]:
    """The range and the ``@`` time that cover ``start``..``end`` exactly, at Prometheus's
    millisecond resolution: ``("60s", "1700000060")``, or ``("60001ms", "1700000060.001")``.

    The range ends at ``end`` rounded up to the millisecond and starts at ``start`` rounded
    down, so no sample of the stage falls outside it (ranges are closed at both ends in
    Prometheus 2).
    """
    first, last = window_ms(start, end)
    span = last - first
    window = f"{span // 1000}s" if span % 1000 == 0 else f"{span}ms"
    at = f"{last // 1000}" if last % 1000 == 0 else f"{last // 1000}.{last % 1000:03d}"
    return window, at


def check_window(evidence: PrometheusEvidence, start: datetime, end: datetime) -> None:
    """The recorded window is the stage's window (the collector copies stage.json's times):
    a window that differs at all was asked for another stage or another run."""
    if evidence.window_start != start:
        raise EvidenceError(
            evidence.rel, "window.start", f"is not the stage's start_time {start.isoformat()}"
        )
    if evidence.window_end != end:
        raise EvidenceError(
            evidence.rel, "window.end", f"is not the stage's end_time {end.isoformat()}"
        )


def lookup(
    evidence: PrometheusEvidence,
    spec: MetricSpec,
    stage: str,
    start: datetime,
    end: datetime,
    eval_delay_max_s: float,
) -> MetricSample:
    """The value of ``spec`` for ``stage``; every doubt raises :class:`EvidenceError`."""
    rel = evidence.rel
    record = evidence.queries.get(spec.name)
    if record is None:
        raise EvidenceError(
            rel, "queries", f"has no query named {spec.name!r}: the metric is missing"
        )
    where = f"queries[{record.index}]"
    expected = spec.query_for(stage, *query_window(start, end))
    if record.promql != expected:
        raise EvidenceError(
            rel,
            f"{where}.promql",
            f"is {record.promql!r}, not the profile's query over the stage window {expected!r}",
        )
    if record.time < end:
        raise EvidenceError(
            rel,
            f"{where}.time",
            f"is {(end - record.time).total_seconds():g}s before the stage ended; late samples "
            "would be missed",
        )
    if record.time > end + timedelta(seconds=eval_delay_max_s):
        raise EvidenceError(
            rel,
            f"{where}.time",
            f"is {(record.time - end).total_seconds():g}s after the stage ended, over "
            f"eval_delay_max_s = {eval_delay_max_s:g}",
        )
    if record.time > evidence.collected_at:
        raise EvidenceError(rel, f"{where}.time", "is after collected_at: not yet observable")
    value = _single_value(record.response, record.time, rel, f"{where}.response")
    infos = tuple(str(info) for info in record.response.get("infos", ()))
    return MetricSample(spec.name, value, record.promql, record.time, rel, where, infos)


def check_answer(response: dict[str, Any], rel: str, where: str) -> None:
    """A whole answer: ``success`` with no ``warnings``. Prometheus answers ``success`` (HTTP
    200) with ``warnings`` when storage failed to give everything (a remote read, a shard):
    the data may be partial, so it blocks, quoting the warning."""
    if response.get("status") != "success":
        kind = response.get("errorType", "?")
        text = response.get("error", "no error text")
        raise EvidenceError(
            rel, f"{where}.status", f"is {response.get('status')!r} ({kind}: {text})"
        )
    warnings = response.get("warnings")
    if warnings:
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        raise EvidenceError(
            rel, f"{where}.warnings", f"says the answer is partial: {warnings[0]}{more}"
        )


def check_stamp(pair: object, moment: datetime, rel: str, where: str) -> None:
    """A sample of an instant answer is stamped with the evaluation time the record states."""
    if isinstance(pair, list) and pair and isinstance(pair[0], int | float):
        stamp = pair[0]
        if not isinstance(stamp, bool) and abs(stamp - moment.timestamp()) > STAMP_SLACK_S:
            raise EvidenceError(
                rel,
                f"{where}[0]",
                f"is {stamp!r}, but the record says the query was evaluated at "
                f"{moment.timestamp():g}: the answer is not this query's",
            )


def _single_value(response: dict[str, Any], moment: datetime, rel: str, where: str) -> float:
    check_answer(response, rel, where)
    data = response.get("data")
    if not isinstance(data, dict):
        raise EvidenceError(rel, f"{where}.data", "is missing")
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "scalar":
        check_stamp(result, moment, rel, f"{where}.data.result")
        return _sample(result, rel, f"{where}.data.result")
    if result_type != "vector":
        raise EvidenceError(
            rel,
            f"{where}.data.resultType",
            f"is {result_type!r}; an instant query for a gate must return a vector or scalar",
        )
    if not isinstance(result, list):
        raise EvidenceError(rel, f"{where}.data.result", "must be a list")
    if not result:
        raise EvidenceError(
            rel, f"{where}.data.result", "is empty: Prometheus returned no sample (missing, not 0)"
        )
    if len(result) > 1:
        raise EvidenceError(
            rel,
            f"{where}.data.result",
            f"holds {len(result)} series; the query must aggregate to one",
        )
    series = result[0]
    if not isinstance(series, dict) or "value" not in series:
        if isinstance(series, dict) and "histogram" in series:
            raise EvidenceError(
                rel, f"{where}.data.result[0]", "is a native histogram, not a value"
            )
        raise EvidenceError(rel, f"{where}.data.result[0].value", "is missing")
    check_stamp(series["value"], moment, rel, f"{where}.data.result[0].value")
    return _sample(series["value"], rel, f"{where}.data.result[0].value")


def parse_pair(pair: object, rel: str, where: str) -> tuple[float, float]:
    """A sample ``[<timestamp>, "<value>"]`` as Prometheus writes it: (seconds, value). The
    value may be NaN or infinite (a raw sample can be); anything else malformed raises."""
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or isinstance(pair[0], bool)
        or not isinstance(pair[0], int | float)
    ):
        raise EvidenceError(rel, where, 'must be [<timestamp>, "<value>"]')
    raw = pair[1]
    if not isinstance(raw, str):
        raise EvidenceError(rel, f"{where}[1]", "must be a string, as Prometheus writes samples")
    try:
        return float(pair[0]), float(raw)
    except ValueError:
        raise EvidenceError(rel, f"{where}[1]", f"is {raw!r}, not a number") from None


def _sample(pair: object, rel: str, where: str) -> float:
    _, value = parse_pair(pair, rel, where)
    if not math.isfinite(value):
        raise EvidenceError(rel, f"{where}[1]", f"is {value}: not a measurement")
    return value
