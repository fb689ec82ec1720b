"""The built-in gates as pure functions: evidence in, :class:`GateResult` out.

A gate returns ``passed`` or ``failed`` when it could measure on sufficient, valid evidence,
and raises :class:`EvidenceError` when it could not (the gate is then ``blocked``). Gates
never default a missing value, and they read observed values only: targets and metadata
are informational.

Shards (``k6-summary.<shard>.json``, one per k6 instance of a distributed run such as
k6-operator's execution segments) are combined conservatively: counts add up; peak VUs add
up (every segment runs the same schedule, so the peaks coincide); a percentile is the
*largest* shard percentile, an upper bound of the combined percentile.
"""

from __future__ import annotations

from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.load import LoadSummary
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.gates.result import GateResult, fmt

SUCCESS_TREND = "http_req_duration{expected_response:true}"


# ----------------------------------------------------------------------------- k6 facts


def _sum_count(summaries: tuple[LoadSummary, ...], metric: str, key: str) -> tuple[int, str]:
    total = sum(s.count(metric, key) for s in summaries)
    return total, ", ".join(f"{s.rel} {s.field(metric, key)}" for s in summaries)


def _require_metric(summaries: tuple[LoadSummary, ...], metric: str, why: str) -> None:
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
    """HTTP requests sent (``http_reqs.count``), summed over shards."""
    _require_metric(summaries, "http_reqs", "the stage sent no HTTP request")
    return _sum_count(summaries, "http_reqs", "count")


def require_requests(summaries: tuple[LoadSummary, ...], profile: Profile) -> int:
    """Raise (blocked) unless the stage sent at least ``k6.min_requests`` requests."""
    count, _ = request_count(summaries)
    if count < profile.k6.min_requests:
        raise EvidenceError(
            summaries[0].rel,
            summaries[0].field("http_reqs", "count"),
            f"is {count}, under k6.min_requests = {profile.k6.min_requests}: under-sampled, "
            "no k6 gate of this stage is judged",
        )
    return count


def failed_requests(summaries: tuple[LoadSummary, ...]) -> tuple[int, int, str]:
    """(failed, total) from ``http_req_failed``: ``passes`` counts *failed* requests."""
    failed, source = _sum_count(summaries, "http_req_failed", "passes")
    ok, _ = _sum_count(summaries, "http_req_failed", "fails")
    return failed, failed + ok, source


# ----------------------------------------------------------------------------- stage gates


def observed_concurrency(
    summaries: tuple[LoadSummary, ...], profile: Profile, required: int
) -> GateResult:
    """Peak active VUs (observed by k6) reach the stage's requirement."""
    require_requests(summaries, profile)
    peak, source = peak_active_vus(summaries)
    return GateResult(
        peak >= required,
        f"peak active VUs {peak}",
        f">= {required}",
        f"{len(summaries)} summary file(s)",
        source,
        ""
        if peak >= required
        else "k6 never ran this many VUs at once; target_vus and vus_max are not concurrency",
    )


def requests_sent(summaries: tuple[LoadSummary, ...], profile: Profile) -> GateResult:
    """The stage sent requests: zero (or under ``min_requests``) is no evidence at all."""
    count, source = request_count(summaries)
    require_requests(summaries, profile)
    return GateResult(
        True, f"{count} requests", f">= {profile.k6.min_requests}", str(count), source
    )


def latency_percentile(
    summaries: tuple[LoadSummary, ...], profile: Profile, stat: str, bound_ms: float
) -> GateResult:
    """A percentile of successful requests' ``http_req_duration`` is within the bound."""
    require_requests(summaries, profile)
    failed, total, _ = failed_requests(summaries)
    successful = total - failed
    if successful < 1:
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
    return GateResult(
        worst <= bound_ms,
        f"{stat} {fmt(worst)} ms",
        f"<= {fmt(bound_ms)} ms",
        f"{successful} successful requests",
        source,
        "largest shard percentile (an upper bound)" if len(observed) > 1 else "",
    )


def error_rate(summaries: tuple[LoadSummary, ...], profile: Profile) -> GateResult:
    """The failed-request ratio (``http_req_failed``) is within the bound."""
    require_requests(summaries, profile)
    failed, total, source = failed_requests(summaries)
    if total < profile.k6.min_requests:
        raise EvidenceError(
            summaries[0].rel,
            summaries[0].field("http_req_failed"),
            f"counts {total} requests, under k6.min_requests = {profile.k6.min_requests}",
        )
    rate = failed / total
    bound = profile.k6.http_req_failed_max
    return GateResult(
        rate <= bound,
        f"error rate {fmt(rate)} ({failed}/{total} failed)",
        f"<= {fmt(bound)}",
        str(total),
        source,
    )


def checks_rate(summaries: tuple[LoadSummary, ...], profile: Profile) -> GateResult:
    """The ratio of passed ``check()`` calls is at least the bound; no checks blocks."""
    require_requests(summaries, profile)
    _require_metric(
        summaries, "checks", "the script ran no check(), a checks rate over nothing is not a rate"
    )
    passed, source = _sum_count(summaries, "checks", "passes")
    failed, _ = _sum_count(summaries, "checks", "fails")
    total = passed + failed
    if total < 1:
        raise EvidenceError(summaries[0].rel, summaries[0].field("checks"), "counts no check")
    rate = passed / total
    bound = profile.k6.checks_min
    return GateResult(
        rate >= bound,
        f"checks rate {fmt(rate)} ({passed}/{total} passed)",
        f">= {fmt(bound)}",
        str(total),
        source,
    )


def k6_thresholds(
    summaries: tuple[LoadSummary, ...], profile: Profile, run: StageRun
) -> GateResult:
    """Every threshold k6 evaluated passed, and k6's exit code agrees."""
    require_requests(summaries, profile)
    failed = [
        f"{summary.rel} {summary.field(metric)}.thresholds[{expr!r}]"
        for summary in summaries
        for metric, expr, ok in summary.thresholds()
        if not ok
    ]
    count = sum(len(s.thresholds()) for s in summaries)
    source = f"{run.rel} k6_exit_code, " + ", ".join(s.rel for s in summaries)
    if failed:
        return GateResult(
            False,
            f"{len(failed)} of {count} thresholds failed (k6 exit {run.exit_code})",
            "every threshold passed",
            str(count),
            source,
            "failed: " + "; ".join(failed),
        )
    if run.exit_code == 99:
        raise EvidenceError(
            run.rel,
            "k6_exit_code",
            "is 99 (thresholds crossed) but every threshold in the summary passed: inconsistent",
        )
    if run.exit_code != 0:
        raise EvidenceError(
            run.rel, "k6_exit_code", f"is {run.exit_code}: k6 did not complete the stage normally"
        )
    return GateResult(
        True, f"{count} thresholds passed, k6 exit 0", "every threshold passed", str(count), source
    )


# ----------------------------------------------------------------------------- run gates


def achieved_concurrency(bundle: Bundle, profile: Profile) -> GateResult:
    """The largest observed peak over all stages reaches ``target_concurrency``."""
    best = -1
    best_source = ""
    unreadable: list[EvidenceError] = []
    for stage in profile.stage_names:
        try:
            peak, source = peak_active_vus(bundle.summaries(stage))
        except EvidenceError as exc:
            unreadable.append(exc)
            continue
        if peak > best:
            best, best_source = peak, source
    target = profile.target_concurrency
    if best >= target:
        return GateResult(
            True, f"max peak active VUs {best}", f">= {target}", "all stages", best_source
        )
    if unreadable:
        raise EvidenceError(
            unreadable[0].file,
            unreadable[0].field,
            f"{unreadable[0].problem}; without it the run's peak concurrency is unknown",
        )
    return GateResult(
        False,
        f"max peak active VUs {max(best, 0)}",
        f">= {target}",
        "all stages",
        best_source,
        "no stage observed the target concurrency",
    )
