"""The figures of one k6 summary checked against each other.

k6 computes every figure of a summary from one sample stream at one moment, so figures
about the same requests, checks or time must agree. A script can write into k6's built-in
metrics (``new Rate('http_req_failed')`` returns k6's own metric and dilutes it), and a
file can be edited; either leaves two figures of the same file that contradict each other.
Each contradiction raises :class:`EvidenceError` (the stage's gates are ``blocked``) naming
both fields and both values. What each figure is compared with is listed in
docs/security.md ("k6 figures").

- **Time**: every counter's ``rate`` is its ``count`` over the run's duration (k6 divides
  by ``state.testRunDurationMs``); an export has no duration field, so its counters'
  duration is derived from ``http_reqs`` (or the largest counter) and every other counter
  must agree with it.
- **Requests**: ``http_req_failed`` counts every request once (``passes`` failed, ``fails``
  succeeded), as does each ``http_req_*`` trend: each equals ``http_reqs.count``; the success
  trend ``http_req_duration{expected_response:true}`` counts the requests that succeeded.
- **Concurrency**: active VUs (``vus.max``) never exceed the allocated pool
  (``vus_max.max``).
- **Checks**: the ``checks`` metric counts every ``check()``, as does the ``root_group``
  tree check by check.
"""

from __future__ import annotations

from dataclasses import replace

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.k6_summary import K6Summary
from pytest_loadcert.evidence.load import SUCCESS_TREND

#: A rate written with six decimals (or computed in float64) is within this of count / s;
#: a duration derived from such a rate carries its rounding (half of RATE_ABSOLUTE) along.
RATE_ABSOLUTE = 1e-6
RATE_RELATIVE = 1e-9


def check_agreement(summary: K6Summary) -> K6Summary:
    """Raise on the first contradiction; return the summary (with an export's duration)."""
    summary = _counters_share_one_duration(summary)
    _vus_within_pool(summary)
    _requests_counted_alike(summary)
    _checks_match_the_tree(summary)
    return summary


def _show(value: float) -> str:
    return f"{value:g}" if value != int(value) or abs(value) >= 1e15 else str(int(value))


def _counters_share_one_duration(summary: K6Summary) -> K6Summary:
    rel = summary.rel
    counters = sorted(
        (name, metric) for name, metric in summary.metrics.items() if metric.kind == "counter"
    )
    counting = []
    for name, metric in counters:
        count, rate = metric.values["count"], metric.values["rate"]
        if (count == 0) != (rate == 0) or rate < 0:
            raise EvidenceError(
                rel,
                summary.field(name, "rate"),
                f"is {_show(rate)}, but {summary.field(name, 'count')} is {_show(count)}: a "
                "counter's rate is its count over the run's duration",
            )
        if count > 0:
            counting.append((name, metric))
    if not counting:
        return summary
    spread = RATE_RELATIVE  # the duration's own relative uncertainty
    if summary.duration_ms is not None:
        seconds, source = summary.duration_ms / 1000, summary.duration_field
    else:  # --summary-export: the run's duration is count / rate of its counters
        name, metric = max(
            counting, key=lambda item: (item[0] == "http_reqs", item[1].values["count"])
        )
        seconds = metric.values["count"] / metric.values["rate"]
        spread += RATE_ABSOLUTE / 2 / metric.values["rate"]
        source = f"{summary.field(name, 'count')} / {summary.field(name, 'rate')}"
        summary = replace(summary, duration_ms=seconds * 1000, duration_field=source)
    for name, metric in counting:
        count, rate = metric.values["count"], metric.values["rate"]
        if seconds <= 0:
            raise EvidenceError(
                rel,
                summary.field(name, "count"),
                f"is {_show(count)}, but {source} is {_show(seconds * 1000)} ms: nothing is "
                "counted in a run that took no time",
            )
        expected = count / seconds
        if abs(rate - expected) > RATE_ABSOLUTE + (RATE_RELATIVE + spread) * expected:
            raise EvidenceError(
                rel,
                summary.field(name, "rate"),
                f"is {_show(rate)}/s, but {summary.field(name, 'count')} {_show(count)} over "
                f"{source} ({seconds:g} s) is {expected:g}/s: the rate and the run's duration "
                f"disagree (a {count / rate:g} s run)",
            )
    return summary


def _vus_within_pool(summary: K6Summary) -> None:
    if not (summary.has_value("vus", "max") and summary.has_value("vus_max", "max")):
        return
    active, pool = summary.value("vus", "max"), summary.value("vus_max", "max")
    if active > pool:
        raise EvidenceError(
            summary.rel,
            summary.field("vus", "max"),
            f"is {_show(active)}, over {summary.field('vus_max', 'max')} {_show(pool)}: k6 "
            "never runs more VUs than it allocated (a script can write into the vus gauge)",
        )


def _requests_counted_alike(summary: K6Summary) -> None:
    """``http_req_failed``, the ``http_req_*`` trends and ``http_reqs`` count the same
    requests; the success trend counts those that did not fail."""
    rel = summary.rel
    if summary.has("http_reqs"):
        requests = summary.count("http_reqs", "count")
        requests_field = summary.field("http_reqs", "count")
    else:  # k6 writes no http_reqs when nothing was sent
        requests, requests_field = 0, f"{summary.field('http_reqs')} (absent: 0)"
    succeeded: int | None = None
    if summary.has("http_req_failed") and summary.metrics["http_req_failed"].kind == "rate":
        failed = summary.count("http_req_failed", "passes")
        succeeded = summary.count("http_req_failed", "fails")
        if failed + succeeded != requests:
            raise EvidenceError(
                rel,
                summary.field("http_req_failed"),
                f"counts {failed + succeeded} requests "
                f"({summary.field('http_req_failed', 'passes')} {failed} + "
                f"{summary.field('http_req_failed', 'fails')} {succeeded}), but "
                f"{requests_field} is {requests}: samples not from requests were written into "
                "it (a script's new Rate('http_req_failed') is k6's own metric)",
            )
    for name, metric in sorted(summary.metrics.items()):
        if metric.kind not in ("trend", None) or "count" not in metric.values:
            continue
        if name.startswith("http_req_") and "{" not in name:
            expected, expected_field = requests, requests_field
        elif name == SUCCESS_TREND and succeeded is not None:
            expected = succeeded
            expected_field = (
                summary.field("http_req_failed", "fails") + " (requests that succeeded)"
            )
        else:
            continue
        count = metric.values["count"]
        if count != expected:
            raise EvidenceError(
                rel,
                summary.field(name, "count"),
                f"is {_show(count)}, but {expected_field} is {expected}: one sample per "
                "request, so samples not from requests were written into it",
            )


def _checks_match_the_tree(summary: K6Summary) -> None:
    rel = summary.rel
    tree = summary.check_tree
    if tree is None:
        if summary.has("checks"):
            raise EvidenceError(
                rel,
                "root_group",
                "is missing: the checks rate cannot be compared with the check() calls that "
                "k6 lists there",
            )
        return
    passes = sum(check.passes for check in tree)
    fails = sum(check.fails for check in tree)
    if summary.has("checks") and summary.metrics["checks"].kind == "rate":
        metric_passes = summary.count("checks", "passes")
        metric_fails = summary.count("checks", "fails")
    else:
        metric_passes = metric_fails = 0
    if (metric_passes, metric_fails) != (passes, fails):
        raise EvidenceError(
            rel,
            summary.field("checks"),
            f"counts {metric_passes} passes and {metric_fails} fails, but the check() calls "
            f"of root_group count {passes} passes and {fails} fails ({len(tree)} checks): "
            "samples not from check() were written into it (a script's new Rate('checks') "
            "is k6's own metric)",
        )
