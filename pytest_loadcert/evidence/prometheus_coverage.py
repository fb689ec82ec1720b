"""How completely a critical metric's series were observed over a stage window.

With each metric's answer, ``loadcert collect prometheus`` records the raw samples of every
series selector the metric reads over the stage window (``x{a="b"}`` of
``sum(increase(x{a="b"}[{window}]))``): the instant query ``x{a="b"}[<W + G>] @ <stage end>``
(``G`` = ``prometheus.max_gap_s`` before the window, to see which series existed when the
stage began), in the record's ``coverage`` list. :func:`check_coverage` then blocks:

- a selector with no coverage recorded, or recorded with another query or time;
- a coverage answer that is not whole (an error, ``warnings``), not a matrix, or holds a
  sample outside its own range (it is not this query's answer);
- no sample of the selector in the window at all;
- a stretch of the window longer than ``max_gap_s`` without any sample of the selector
  (from the window start to the first sample, between two samples, from the last sample to
  the window end): a scrape gap, the target down, a series gone stale;
- a series that vanished for longer than ``max_gap_s`` inside the window and came back;
- a series read by ``increase``/``rate``/``irate`` that was born inside the window (no
  sample in the ``max_gap_s`` before its first one) with a first value above 0: Prometheus
  does not count a series' first value, so the errors it was born with would read as 0.

A series born (a pod scaled out) or ended (scaled in) inside the window is not a gap by
itself; the selector's samples as a whole must cover the window.

The samples are also a second account of the value: for a query of the form
``sum|max|min(max_over_time|min_over_time|increase|rate(<selector>[{window}]))``,
:func:`check_value` computes the value from the coverage samples inside the window, as
Prometheus 2 does (``increase``/``rate`` with its extrapolation, ``promql/functions.go``
``extrapolatedRate``), and a value that the samples contradict blocks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from pytest_loadcert.config.profile import WINDOW_SELECTOR_RE, MetricSpec
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.prometheus import (
    QueryRecord,
    check_answer,
    parse_pair,
    query_window,
    window_ms,
)

#: Sample times may stand this far outside the range asked (Prometheus keeps milliseconds).
EDGE_SLACK_S = 0.001
#: A query whose value the coverage samples determine: aggregation, function, one selector.
SIMPLE_QUERY_RE = re.compile(
    r"^\s*(sum|max|min)\s*\(\s*(max_over_time|min_over_time|increase|rate)\s*\(\s*"
    + WINDOW_SELECTOR_RE.pattern
    + r"\s*\)\s*\)\s*$"
)
#: Relative difference tolerated between the recorded value and the one computed from the
#: samples (floating-point summation order).
VALUE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Coverage:
    """What the coverage of one metric showed: the selectors, series and longest gap."""

    selectors: tuple[str, ...]
    series: int
    samples: int
    longest_gap_s: float
    #: The first selector's series, each as its (seconds, value) samples: what
    #: :func:`check_value` recomputes the value from.
    points: tuple[tuple[tuple[float, float], ...], ...] = field(default=(), repr=False)

    def describe(self) -> str:
        return (
            f"{self.samples} samples of {self.series} series, longest gap {self.longest_gap_s:g}s"
        )


def coverage_range(start: datetime, end: datetime, max_gap_s: float) -> tuple[str, str]:
    """The range and ``@`` time of a coverage query: the window, plus ``max_gap_s`` before."""
    return query_window(start - timedelta(seconds=math.ceil(max_gap_s)), end)


def expected_coverage(
    spec: MetricSpec, stage: str, start: datetime, end: datetime, max_gap_s: float
) -> list[tuple[str, str]]:
    """``(selector, promql)`` of each coverage query the metric needs, in order."""
    window, at = coverage_range(start, end, max_gap_s)
    return [
        (selector.replace("{stage}", stage), spec.coverage_query(selector, stage, window, at))
        for selector in spec.selectors
    ]


def check_coverage(
    record: QueryRecord,
    spec: MetricSpec,
    stage: str,
    start: datetime,
    end: datetime,
    max_gap_s: float,
    rel: str,
) -> Coverage | None:
    """Raise :class:`EvidenceError` unless every selector's samples cover the window; None
    when the metric reads no series over a window (no ``[{window}]`` selector)."""
    expected = expected_coverage(spec, stage, start, end, max_gap_s)
    if not expected:
        return None
    where = f"queries[{record.index}].coverage"
    entries = record.coverage
    if entries is None:
        raise EvidenceError(
            rel,
            where,
            "is missing: the samples of the metric's series over the window were not "
            "recorded, so a gap in them cannot be seen; collect again with this loadcert",
        )
    if len(entries) != len(expected):
        raise EvidenceError(
            rel, where, f"holds {len(entries)} entries; the metric reads {len(expected)} selectors"
        )
    counters = {s.replace("{stage}", stage) for s in spec.counter_selectors}
    look_back = timedelta(seconds=math.ceil(max_gap_s))
    series_total = samples_total = 0
    longest = 0.0
    first_points: tuple[tuple[tuple[float, float], ...], ...] = ()
    for index, ((selector, promql), entry) in enumerate(zip(expected, entries, strict=True)):
        at = f"{where}[{index}]"
        if entry.get("promql") != promql:
            raise EvidenceError(
                rel,
                f"{at}.promql",
                f"is {entry.get('promql')!r}, not {promql!r} (the window, and max_gap_s = "
                f"{max_gap_s:g} before it)",
            )
        response = entry.get("response")
        if not isinstance(response, dict):
            raise EvidenceError(rel, f"{at}.response", "is missing")
        check_answer(response, rel, f"{at}.response")
        series = _matrix(response, rel, f"{at}.response", start - look_back, end)
        gap, series_count, samples = _judge(
            series, selector, selector in counters, start, end, max_gap_s, rel, at
        )
        series_total += series_count
        samples_total += samples
        longest = max(longest, gap)
        if index == 0:
            first_points = tuple(tuple(points) for _, points in series)
    return Coverage(
        tuple(s for s, _ in expected), series_total, samples_total, longest, first_points
    )


def check_value(
    coverage: Coverage,
    spec: MetricSpec,
    value: float,
    start: datetime,
    end: datetime,
    rel: str,
    where: str,
) -> float | None:
    """The value computed from the samples :func:`check_coverage` accepted, when the query's
    form determines it; raises :class:`EvidenceError` when it contradicts the recorded
    ``value`` (at ``where``)."""
    match = SIMPLE_QUERY_RE.match(spec.promql)
    if match is None:
        return None
    aggregate, function = match.group(1), match.group(2)
    first_ms, last_ms = window_ms(start, end)
    results: list[float] = []
    for series in coverage.points:
        points = [(ms, v) for t, v in series if first_ms <= (ms := round(t * 1000)) <= last_ms]
        computed = _function(function, points, first_ms, last_ms)
        if computed is not None:
            results.append(computed)
    if not results:
        return None
    total = (
        math.fsum(results) if aggregate == "sum" else (max if aggregate == "max" else min)(results)
    )
    if abs(total - value) > VALUE_TOLERANCE * max(1.0, abs(total), abs(value)):
        raise EvidenceError(
            rel,
            where,
            f"gives {spec.name} = {value:g}, but the recorded samples of its series over the "
            f"window give {total:g} ({aggregate} of {function}): the answer and its "
            "coverage are not of the same data",
        )
    return total


def _function(
    function: str, points: list[tuple[int, float]], first_ms: int, last_ms: int
) -> float | None:
    """One series' value of ``function`` over its ``points`` (ms, value) in the range."""
    if not points:
        return None
    if function == "max_over_time":
        return max(v for _, v in points)
    if function == "min_over_time":
        return min(v for _, v in points)
    if len(points) < 2:  # Prometheus drops the series: no rate over one sample
        return None
    result = points[-1][1] - points[0][1]
    last_value = 0.0
    for _, sample in points:
        if sample < last_value:  # a counter reset
            result += last_value
        last_value = sample
    to_start = (points[0][0] - first_ms) / 1000
    to_end = (last_ms - points[-1][0]) / 1000
    sampled = (points[-1][0] - points[0][0]) / 1000
    average = sampled / (len(points) - 1)
    if result > 0 and points[0][1] >= 0:
        to_zero = sampled * (points[0][1] / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    result = result * (interval / sampled)
    if function == "rate":
        result /= (last_ms - first_ms) / 1000
    return result


def _matrix(
    response: dict[str, Any], rel: str, where: str, first: datetime, last: datetime
) -> list[tuple[dict[str, Any], list[tuple[float, float]]]]:
    data = response.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, dict) else None
        raise EvidenceError(
            rel, f"{where}.data.resultType", f"is {kind!r}; a range selector answers a matrix"
        )
    result = data.get("result")
    if not isinstance(result, list):
        raise EvidenceError(rel, f"{where}.data.result", "must be a list")
    low, high = first.timestamp() - EDGE_SLACK_S, last.timestamp() + EDGE_SLACK_S
    series: list[tuple[dict[str, Any], list[tuple[float, float]]]] = []
    for s_index, entry in enumerate(result):
        path = f"{where}.data.result[{s_index}]"
        values = entry.get("values") if isinstance(entry, dict) else None
        labels = entry.get("metric") if isinstance(entry, dict) else None
        if not isinstance(values, list) or not isinstance(labels, dict):
            raise EvidenceError(rel, path, "must be {metric, values}")
        points: list[tuple[float, float]] = []
        for v_index, pair in enumerate(values):
            stamp, value = parse_pair(pair, rel, f"{path}.values[{v_index}]")
            if not low <= stamp <= high:
                raise EvidenceError(
                    rel,
                    f"{path}.values[{v_index}]",
                    f"is stamped {_iso(stamp)}, outside the range asked: not this query's answer",
                )
            if points and stamp <= points[-1][0]:
                raise EvidenceError(
                    rel, f"{path}.values[{v_index}]", "is not after the sample before it"
                )
            points.append((stamp, value))
        series.append((labels, points))
    return series


def _judge(
    series: list[tuple[dict[str, Any], list[tuple[float, float]]]],
    selector: str,
    counter: bool,
    start: datetime,
    end: datetime,
    max_gap_s: float,
    rel: str,
    where: str,
) -> tuple[float, int, int]:
    """The longest gap of the selector over the window, its series and samples; raises on
    a gap over ``max_gap_s``, a series that vanished and came back, or a counter born with a
    value inside the window."""
    begin, finish = start.timestamp(), end.timestamp()
    inside: list[float] = []
    for labels, points in series:
        name = _series(labels)
        # The samples in the window, and the last one before it: a series that vanished
        # before the stage began and came back inside it has a gap too.
        first_inside = next(
            (i for i, (t, _) in enumerate(points) if t >= begin - EDGE_SLACK_S), len(points)
        )
        stamps = [t for t, _ in points[max(first_inside - 1, 0) :]]
        for before, after in pairwise(stamps):
            if after - before > max_gap_s:
                raise EvidenceError(
                    rel,
                    where,
                    f"series {name} has no sample from {_iso(before)} to {_iso(after)} "
                    f"({after - before:g}s) in the stage window, over prometheus.max_gap_s "
                    f"= {max_gap_s:g}",
                )
        if counter and points and points[0][0] > begin + EDGE_SLACK_S and points[0][1] > 0:
            born, value = points[0]
            raise EvidenceError(
                rel,
                where,
                f"series {name} was born {born - begin:g}s into the stage window with the value "
                f"{value:g}: increase() and rate() do not count a series' first value, so what "
                "it was born with would read as 0 (create the series at 0 when the service "
                "starts)",
            )
        inside.extend(t for t in stamps if t >= begin - EDGE_SLACK_S)
    if not inside:
        raise EvidenceError(
            rel, where, f"holds no sample of {selector} in the stage window: it was not observed"
        )
    inside.sort()
    edges = [begin, *inside, finish]
    longest, at = 0.0, 0
    for i, (before, after) in enumerate(pairwise(edges)):
        if after - before > longest:
            longest, at = after - before, i
    if longest > max_gap_s + EDGE_SLACK_S:
        raise EvidenceError(
            rel,
            where,
            f"has no sample of {selector} from {_iso(edges[at])} to {_iso(edges[at + 1])} "
            f"({longest:g}s of the stage window), over prometheus.max_gap_s = {max_gap_s:g}",
        )
    return round(longest, 3), len(series), len(inside)


def _series(labels: dict[str, Any]) -> str:
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")
