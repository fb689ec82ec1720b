"""The load generator's summary as the load gates read it: :class:`LoadSummary`.

The gates of :mod:`pytest_loadcert.gates.k6` and :mod:`pytest_loadcert.gates.window` read
one stage's summaries (one per load-generator instance) only through this protocol, never
through a reader's own fields. :class:`pytest_loadcert.evidence.k6.K6Summary` implements
it; a second load tool's reader is one new module that maps the tool's output onto the
metric names below, not a change to every gate.

Metric names and value keys are k6's, the vocabulary of the evidence contract: ``vus``
(``max``: peak active virtual users), ``vus_max`` (``max``: allocated), ``http_reqs``
(``count``), ``http_req_failed`` (``passes``, ``fails``, ``rate``), ``checks`` (``passes``,
``fails``, ``rate``) and the success trend ``http_req_duration{expected_response:true}``
(``p(95)``, ``p(99)``, ...). A missing figure is an
:class:`~pytest_loadcert.errors.EvidenceError` naming the file and the field, never zero.
"""

from __future__ import annotations

import math
from typing import Protocol

from pytest_loadcert.errors import EvidenceError


class LoadSummary(Protocol):
    """One load-generator instance's summary of one stage."""

    @property
    def rel(self) -> str:
        """The file's path inside the bundle, as messages name it."""
        ...

    @property
    def duration_ms(self) -> float | None:
        """The run's own measured duration, or None when the file does not record one."""
        ...

    @property
    def duration_field(self) -> str:
        """Where ``duration_ms`` comes from, as the file spells it."""
        ...

    def field(self, metric: str, key: str | None = None) -> str:
        """The path of ``metric`` (and a value ``key``) as the file spells it."""
        ...

    def has(self, metric: str) -> bool:
        """True when the summary holds ``metric``."""
        ...

    def has_value(self, metric: str, key: str) -> bool:
        """True when the summary holds ``key`` of ``metric``."""
        ...

    def value(self, metric: str, key: str) -> float:
        """A measured value; missing raises EvidenceError, never returns zero."""
        ...

    def count(self, metric: str, key: str) -> int:
        """A measured count (``count``, ``passes``, ``fails``)."""
        ...

    def thresholds(self) -> list[tuple[str, str, bool]]:
        """The tool's own threshold results as (metric, expression, passed), sorted."""
        ...

    @property
    def setup_checks(self) -> tuple[int, int]:
        """(passes, fails) of the checks made outside the load (k6: in setup()/teardown())."""
        ...


# ----------------------------------------------------------------------------- figures
#
# Each figure of one stage, over its summaries (one per load-generator instance), computed
# once: the gates judge these numbers and the certificate states the same numbers. Counts
# add up over instances; peak VUs add up (every instance runs the same schedule, so the
# peaks coincide); a percentile is the *largest* instance percentile, an upper bound of the
# combined one. Each returns the figure and its source (``<file> <field>, ...``) and raises
# EvidenceError for a figure the summaries cannot give.

SUCCESS_TREND = "http_req_duration{expected_response:true}"
#: The requests setup() and teardown() sent, when the script's thresholds make k6 count them
#: (e.g. ``'http_reqs{group:::setup}': ['count>=0']``): they are not load.
SETUP_REQUESTS = ("http_reqs{group:::setup}", "http_reqs{group:::teardown}")


def summed_count(summaries: tuple[LoadSummary, ...], metric: str, key: str) -> tuple[int, str]:
    """A count (``count``, ``passes``, ``fails``) added over the instances."""
    total = sum(s.count(metric, key) for s in summaries)
    return total, ", ".join(f"{s.rel} {s.field(metric, key)}" for s in summaries)


def require_metric(summaries: tuple[LoadSummary, ...], metric: str, why: str) -> None:
    """Raise, naming the first file without ``metric`` and ``why`` it matters."""
    for summary in summaries:
        if not summary.has(metric):
            raise EvidenceError(summary.rel, summary.field(metric), f"is missing: {why}")


def peak_active_vus(summaries: tuple[LoadSummary, ...]) -> tuple[int, str]:
    """Observed concurrency: the peak of ``vus`` (its ``max``), summed over shards.

    ``vus_max`` (the allocated pool) and ``vus.value`` (the last sample) are never used.
    """
    total = 0
    for summary in summaries:
        value = summary.value("vus", "max")
        if value < 0 or value != int(value):
            raise EvidenceError(
                summary.rel, summary.field("vus", "max"), "must be a non-negative integer"
            )
        total += int(value)
    return total, ", ".join(f"{s.rel} {s.field('vus', 'max')}" for s in summaries)


def request_count(summaries: tuple[LoadSummary, ...]) -> tuple[int, str]:
    """HTTP requests the load sent (``http_reqs.count``), summed over shards, less those of
    setup() and teardown() where k6 counted them apart (:data:`SETUP_REQUESTS`).

    k6 counts setup()'s requests in ``http_reqs`` and nothing else in the summary tells
    them apart unless a threshold names the submetric (docs/security.md).
    """
    require_metric(summaries, "http_reqs", "the stage sent no HTTP request")
    total, source = summed_count(summaries, "http_reqs", "count")
    outside = [
        (s.count(name, "count"), f"{s.rel} {s.field(name, 'count')}")
        for s in summaries
        for name in SETUP_REQUESTS
        if s.has(name)
    ]
    setup = sum(count for count, _ in outside)
    if not outside:
        return total, source
    if setup > total:
        raise EvidenceError(
            summaries[0].rel,
            summaries[0].field(SETUP_REQUESTS[0], "count"),
            f"counts {setup} setup()/teardown() requests, more than http_reqs.count {total}",
        )
    return total - setup, f"{source} less {setup} of setup()/teardown() (" + ", ".join(
        where for _, where in outside
    ) + ")"


def failed_requests(summaries: tuple[LoadSummary, ...]) -> tuple[int, int, str]:
    """(failed, total) from ``http_req_failed``: ``passes`` counts *failed* requests."""
    failed, source = summed_count(summaries, "http_req_failed", "passes")
    ok, _ = summed_count(summaries, "http_req_failed", "fails")
    return failed, failed + ok, source


def check_counts(summaries: tuple[LoadSummary, ...]) -> tuple[int, int, str]:
    """(passed, total) ``check()`` calls of the load (those of setup() and teardown() left
    out); a summary without ``checks`` raises."""
    require_metric(
        summaries, "checks", "the script ran no check(), a checks rate over nothing is not a rate"
    )
    passed, source = summed_count(summaries, "checks", "passes")
    failed, _ = summed_count(summaries, "checks", "fails")
    setup_passed = sum(s.setup_checks[0] for s in summaries)
    setup_failed = sum(s.setup_checks[1] for s in summaries)
    if setup_passed or setup_failed:
        source += (
            f" less {setup_passed + setup_failed} check() calls of setup()/teardown() "
            "(root_group groups ::setup, ::teardown)"
        )
    return passed - setup_passed, passed + failed - setup_passed - setup_failed, source


def worst_percentile(summaries: tuple[LoadSummary, ...], stat: str) -> tuple[float, str, int]:
    """The largest instance value of a successful-request latency ``stat`` (``p(95)``,
    ``med``, ...): (value, source, instances measured).

    A stage without a successful request is no evidence of latency (raises: k6 still writes
    the success trend, every stat 0, when a threshold names it). An instance without the
    success trend and without a successful request measured nothing and is left out; one
    that had successful requests and lacks the trend or the stat makes the figure unknown.
    """
    failed, total, _ = failed_requests(summaries)
    if total - failed < 1:
        raise EvidenceError(
            summaries[0].rel,
            summaries[0].field("http_req_failed", "fails"),
            "is 0: no request succeeded, so the stage is no evidence of latency",
        )
    observed: list[tuple[float, str]] = []
    for summary in summaries:
        if not summary.has(SUCCESS_TREND):
            if summary.count("http_req_failed", "fails") == 0:
                continue  # this shard had no successful request: nothing to measure
            raise EvidenceError(summary.rel, summary.field(SUCCESS_TREND), "is missing")
        if not summary.has_value(SUCCESS_TREND, stat):
            raise EvidenceError(
                summary.rel,
                summary.field(SUCCESS_TREND, stat),
                f"is missing: run k6 with --summary-trend-stats including {stat}",
            )
        observed.append(
            (
                summary.value(SUCCESS_TREND, stat),
                f"{summary.rel} {summary.field(SUCCESS_TREND, stat)}",
            )
        )
    worst, source = max(observed)
    return worst, source, len(observed)


def dropped_iterations(summaries: tuple[LoadSummary, ...]) -> tuple[int, int, str]:
    """(dropped, scheduled) iterations: ``dropped_iterations.count`` (the iterations an
    arrival-rate schedule asked for that k6 had no VU to start) and ``iterations.count``
    plus those, summed over the instances.

    k6 1.1.0 writes no ``dropped_iterations`` metric at all when nothing was dropped (recorded:
    fixtures/k6/arrival-served), so an absent metric counts 0; a counter cannot be lowered
    by the script, and an edited summary is caught by the seal.
    """
    require_metric(summaries, "iterations", "no iteration ran, so nothing shows the schedule")
    dropped = sum(
        s.count("dropped_iterations", "count") for s in summaries if s.has("dropped_iterations")
    )
    completed, _ = summed_count(summaries, "iterations", "count")
    source = ", ".join(
        f"{s.rel} {s.field('dropped_iterations', 'count')}"
        if s.has("dropped_iterations")
        else f"{s.rel} {s.field('dropped_iterations')} (absent: none dropped)"
        for s in summaries
    )
    return dropped, completed + dropped, source


def summed_rate(summaries: tuple[LoadSummary, ...], metric: str) -> float:
    """A counter's per-second ``rate`` added over the instances (a finite total only)."""
    require_metric(summaries, metric, "the stage's rate is unknown")
    total = sum(s.value(metric, "rate") for s in summaries)
    if not math.isfinite(total):  # finite shard rates can add up to inf
        raise EvidenceError(summaries[0].rel, summaries[0].field(metric, "rate"), "adds up to inf")
    return total
