"""The built-in gates as pure functions: evidence in, :class:`GateResult` out.

A gate returns ``passed`` or ``failed`` when it could measure on sufficient, valid evidence,
and raises :class:`EvidenceError` when it could not (the gate is then ``blocked``). Gates
never default a missing value, and they read observed values only: targets and metadata
are informational.

Shards (``k6-summary.<shard>.json``, one per k6 instance of a distributed run such as
k6-operator's execution segments) are combined by the figures of
:mod:`pytest_loadcert.evidence.load` (counts and peaks add up, a percentile is the largest
shard's), the same code that states them on the certificate.
"""

from __future__ import annotations

from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.k6_options import check_recorded
from pytest_loadcert.evidence.load import (
    SUCCESS_TREND,
    LoadSummary,
    check_counts,
    dropped_iterations,
    failed_requests,
    peak_active_vus,
    request_count,
    worst_percentile,
)
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.gates.result import GateResult, fmt

# The stage's figures live in evidence/load.py; they stay importable from here, where team
# gates written before that move import them.
__all__ = [
    "SUCCESS_TREND",
    "achieved_concurrency",
    "checks_rate",
    "error_rate",
    "failed_requests",
    "k6_thresholds",
    "latency_percentile",
    "observed_concurrency",
    "peak_active_vus",
    "request_count",
    "requests_sent",
    "require_requests",
    "scheduled_iterations",
]


# ----------------------------------------------------------------------------- k6 facts


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


def scheduled_iterations(summaries: tuple[LoadSummary, ...], profile: Profile) -> GateResult:
    """The iterations the script's schedule asked for ran: the share k6 dropped
    (``dropped_iterations``, no free VU at an arrival-rate executor's tick) is within
    ``k6.dropped_iterations_max`` (default 0)."""
    require_requests(summaries, profile)
    dropped, scheduled, source = dropped_iterations(summaries)
    share = dropped / scheduled if scheduled else 0.0
    bound = profile.k6.dropped_iterations_max
    passed = share <= bound
    return GateResult(
        passed,
        f"{dropped} of {scheduled} scheduled iterations dropped ({share:.2%})",
        f"<= {bound:.2%} dropped (k6.dropped_iterations_max)",
        f"{scheduled} scheduled iterations",
        source,
        ""
        if passed
        else "k6 had no free VU to start them: the schedule's load was never generated "
        "(raise the scenario's maxVUs, or the load generator's capacity)",
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
    worst, source, measured = worst_percentile(summaries, stat)
    failed, total, _ = failed_requests(summaries)
    successful = total - failed
    return GateResult(
        worst <= bound_ms,
        f"{stat} {fmt(worst)} ms",
        f"<= {fmt(bound_ms)} ms",
        f"{successful} successful requests",
        source,
        "largest shard percentile (an upper bound)" if measured > 1 else "",
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
    passed, total, source = check_counts(summaries)
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
    """Every threshold k6 evaluated passed, and k6's exit code agrees; the recorded command
    and environment bend neither judgment nor the schedule (``--no-thresholds``,
    ``K6_THRESHOLDS``, ``--vus``, ...: :mod:`pytest_loadcert.evidence.k6_options`)."""
    check_recorded(run.command, run.k6_environment, run.rel, bool(run.shards))
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
