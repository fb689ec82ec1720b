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

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pytest_loadcert.bundle import Bundle, StageRun
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.hashing import sha256_file
from pytest_loadcert.jsonio import read_bytes
from pytest_loadcert.k6summary import K6Summary
from pytest_loadcert.profile import MetricSpec, Profile, StabilitySpec
from pytest_loadcert.prometheus import MetricSample, check_window, lookup
from pytest_loadcert.shards import check_shard_records

SUCCESS_TREND = "http_req_duration{expected_response:true}"


@dataclass(frozen=True)
class GateResult:
    """What a gate measured and how it judged it."""

    passed: bool
    observed: str
    required: str
    samples: str
    source: str
    explanation: str = ""

    def message(self) -> str:
        """The one-line reviewer message: verdict, observed, required, samples, source."""
        head = "passed" if self.passed else "not certified"
        text = (
            f"{head}: observed {self.observed}; required {self.required}; "
            f"samples {self.samples}; source {self.source}"
        )
        if self.explanation:
            text += f" -- {self.explanation}"
        return text


def _fmt(value: float) -> str:
    return f"{value:.6g}"


# ----------------------------------------------------------------------------- k6 facts


def _sum_count(summaries: tuple[K6Summary, ...], metric: str, key: str) -> tuple[int, str]:
    total = sum(s.count(metric, key) for s in summaries)
    return total, ", ".join(f"{s.rel} {s.field(metric, key)}" for s in summaries)


def _require_metric(summaries: tuple[K6Summary, ...], metric: str, why: str) -> None:
    for summary in summaries:
        if not summary.has(metric):
            raise EvidenceError(summary.rel, summary.field(metric), f"is missing: {why}")


def peak_active_vus(summaries: tuple[K6Summary, ...]) -> tuple[int, str]:
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


def request_count(summaries: tuple[K6Summary, ...]) -> tuple[int, str]:
    """HTTP requests sent (``http_reqs.count``), summed over shards."""
    _require_metric(summaries, "http_reqs", "the stage sent no HTTP request")
    return _sum_count(summaries, "http_reqs", "count")


def require_requests(summaries: tuple[K6Summary, ...], profile: Profile) -> int:
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


def failed_requests(summaries: tuple[K6Summary, ...]) -> tuple[int, int, str]:
    """(failed, total) from ``http_req_failed``: ``passes`` counts *failed* requests."""
    failed, source = _sum_count(summaries, "http_req_failed", "passes")
    ok, _ = _sum_count(summaries, "http_req_failed", "fails")
    return failed, failed + ok, source


# ----------------------------------------------------------------------------- stage gates


def observed_concurrency(
    summaries: tuple[K6Summary, ...], profile: Profile, required: int
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


def requests_sent(summaries: tuple[K6Summary, ...], profile: Profile) -> GateResult:
    """The stage sent requests: zero (or under ``min_requests``) is no evidence at all."""
    count, source = request_count(summaries)
    require_requests(summaries, profile)
    return GateResult(
        True, f"{count} requests", f">= {profile.k6.min_requests}", str(count), source
    )


def latency_percentile(
    summaries: tuple[K6Summary, ...], profile: Profile, stat: str, bound_ms: float
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
        if stat not in summary.metrics[SUCCESS_TREND].values:
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
        f"{stat} {_fmt(worst)} ms",
        f"<= {_fmt(bound_ms)} ms",
        f"{successful} successful requests",
        source,
        "largest shard percentile (an upper bound)" if len(observed) > 1 else "",
    )


def error_rate(summaries: tuple[K6Summary, ...], profile: Profile) -> GateResult:
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
        f"error rate {_fmt(rate)} ({failed}/{total} failed)",
        f"<= {_fmt(bound)}",
        str(total),
        source,
    )


def checks_rate(summaries: tuple[K6Summary, ...], profile: Profile) -> GateResult:
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
        f"checks rate {_fmt(rate)} ({passed}/{total} passed)",
        f">= {_fmt(bound)}",
        str(total),
        source,
    )


def k6_thresholds(summaries: tuple[K6Summary, ...], profile: Profile, run: StageRun) -> GateResult:
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


def stage_window(
    bundle: Bundle, profile: Profile, stage: str, summaries: tuple[K6Summary, ...]
) -> GateResult:
    """start < end; k6's run duration agrees; stages in ramp order and not overlapping."""
    run = bundle.stage_run(stage)
    tolerance = profile.k6.duration_tolerance_s
    if run.end <= run.start:
        raise EvidenceError(run.rel, "end_time", "is not after start_time: inverted window")
    checked = [s.rel for s in summaries if check_run_duration(s, run, tolerance)]
    records = bundle.shard_records(stage)
    if run.shards and not records:
        # Peak VUs of shards add up only if the shards ran at the same time; without each
        # instance's own record nothing shows they did.
        raise EvidenceError(
            run.rel,
            "shards",
            f"names {len(run.shards)} k6 instances, but stages/{stage} holds no shard-<name>.json "
            "records: nothing shows the instances ran together (loadcert run-stage --shard "
            "and loadcert merge-shards write them)",
        )
    if records:  # each k6 instance's own record: the shards were one run, run together
        check_shard_records(run, records, tolerance)
        bound = bundle.manifest().artifact("k6_script")["sha256"]
        for record in records.values():
            if record.script_sha256 != bound:
                raise EvidenceError(
                    record.rel,
                    "k6_script_sha256",
                    f"is {record.script_sha256}, but loadcert.json artifacts.k6_script is "
                    f"{bound}: the shard ran another script than the one the bundle binds",
                )
    names = profile.stage_names
    index = names.index(stage)
    if index > 0:
        previous = bundle.stage_run(names[index - 1])
        if run.start < previous.end:
            raise EvidenceError(
                run.rel,
                "start_time",
                f"is before stage {previous.name} ended ({previous.rel} end_time): "
                "stages overlap or are out of ramp order",
            )
    return GateResult(
        True,
        f"{run.duration_s:g}s window",
        "start < end, ordered, duration agrees",
        f"{len(checked)} duration(s) checked",
        run.rel,
        "; ".join(
            ([] if checked else ["--summary-export has no run duration to compare"])
            + ([f"{len(records)} shard records agree with the window"] if records else [])
        ),
    )


def check_run_duration(summary: K6Summary, run: StageRun, tolerance: float) -> bool:
    """k6's own run duration (handleSummary ``state.testRunDurationMs``) agrees with the
    stage window within ``tolerance`` seconds; False when the summary has no duration."""
    if summary.duration_ms is None:
        return False
    difference = abs(summary.duration_ms / 1000 - run.duration_s)
    if difference > tolerance:
        raise EvidenceError(
            summary.rel,
            "state.testRunDurationMs",
            f"is {summary.duration_ms / 1000:g}s but {run.rel} spans {run.duration_s:g}s "
            f"(tolerance {tolerance:g}s)",
        )
    return True


def metric_sample(bundle: Bundle, profile: Profile, stage: str, name: str) -> MetricSample:
    """A critical metric's value for the stage window, or EvidenceError."""
    try:
        spec = profile.metric(name)
    except KeyError:
        known = ", ".join(m.name for m in profile.metrics) or "none"
        raise LookupError(
            f"{profile.source}: no [[metrics]] entry named {name!r} (known: {known})"
        ) from None
    run = bundle.stage_run(stage)
    evidence = bundle.prometheus(stage)
    check_window(evidence, run.start, run.end)
    return lookup(evidence, spec, stage, run.start, run.end, profile.k6.eval_delay_max_s)


def critical_metric(sample: MetricSample, spec: MetricSpec, window: str) -> GateResult:
    """A Prometheus metric is within the profile's bounds for the stage window."""
    bounds = []
    ok = True
    if spec.min is not None:
        bounds.append(f">= {_fmt(spec.min)}")
        ok = ok and sample.value >= spec.min
    if spec.max is not None:
        bounds.append(f"<= {_fmt(spec.max)}")
        ok = ok and sample.value <= spec.max
    return GateResult(
        ok,
        f"{spec.name} = {_fmt(sample.value)}",
        " and ".join(bounds),
        "1 instant query",
        f"{sample.source}: {sample.promql} at {sample.time.isoformat()} ({window})",
    )


def stability(total: MetricSample, dropped: MetricSample, spec: StabilitySpec) -> GateResult:
    """``(total - dropped) / total`` is at least the bound; a zero total blocks."""
    if total.value <= 0:
        raise EvidenceError(
            total.rel,
            total.field,
            f"gives {spec.total} = {_fmt(total.value)}: a ratio over nothing is not a ratio",
        )
    ratio = (total.value - dropped.value) / total.value
    return GateResult(
        ratio >= spec.min,
        f"{spec.name} = {_fmt(ratio)}",
        f">= {_fmt(spec.min)}",
        f"{spec.total} = {_fmt(total.value)}, {spec.dropped} = {_fmt(dropped.value)}",
        f"{total.source}; {dropped.source}",
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


def run_window(bundle: Bundle, profile: Profile) -> tuple[datetime, datetime]:
    """The first stage's start and the last stage's end; every stage must be readable."""
    runs = [bundle.stage_run(stage) for stage in profile.stage_names]
    return min(r.start for r in runs), max(r.end for r in runs)


def bundle_integrity(bundle: Bundle) -> GateResult:
    """Every file matches the manifest's hash; nothing outside the manifest; no escapes."""
    problems = bundle.integrity_problems()
    count = len(bundle.manifest().files)
    if problems:
        raise EvidenceError(
            "loadcert.json",
            "files",
            f"does not match the bundle ({len(problems)} problem(s)): " + "; ".join(problems[:5]),
        )
    return GateResult(
        True,
        f"{count} files match",
        "every file hashed and listed",
        str(count),
        "loadcert.json files",
    )


def artifact_binding(bundle: Bundle, key: str) -> GateResult:
    """``artifacts.<key>``: the recorded hash recomputes and the file is in the manifest."""
    manifest = bundle.manifest()
    artifact = manifest.artifact(key)
    rel = artifact["path"]
    field = f"artifacts.{key}"
    path = bundle.path(rel)
    if rel not in manifest.files:
        raise EvidenceError(manifest.rel, f"{field}.path", f"names {rel}, which is not in files")
    if not read_bytes(path, rel).strip():  # regular file, not a link, readable
        # The hash of an empty file binds nothing: no script or manifest ran from it.
        raise EvidenceError(rel, "", f"is empty: {field} binds no content")
    actual = sha256_file(path)
    if actual != artifact["sha256"]:
        raise EvidenceError(
            manifest.rel,
            f"{field}.sha256",
            f"is {artifact['sha256']}, but {rel} hashes to {actual}",
        )
    if manifest.files[rel] != actual:
        raise EvidenceError(manifest.rel, f"files[{rel!r}]", f"disagrees with {field}.sha256")
    return GateResult(True, actual, "recorded hash recomputes", "1 file", f"{manifest.rel} {field}")


def _check_git_record(bundle: Bundle, rel: str, git: dict[str, Any]) -> None:
    """When ``loadcert collect git`` recorded the commit, the manifest must say the same."""
    import os

    from pytest_loadcert.collect_git import GIT_JSON, read_record

    if not os.path.lexists(bundle.root / GIT_JSON):
        return
    recorded = read_record(bundle.root)
    for key in ("sha", "ref", "dirty"):
        if recorded[key] != git.get(key):
            raise EvidenceError(
                rel,
                f"git.{key}",
                f"is {git.get(key)!r}, but {GIT_JSON} recorded {recorded[key]!r}",
            )


def git_binding(bundle: Bundle, expected_sha: str | None) -> GateResult:
    """A full 40-hex SHA of a clean tree, equal to the SHA under test when one is given."""
    manifest = bundle.manifest()
    git = manifest.git
    sha = git["sha"]
    _check_git_record(bundle, manifest.rel, git)
    if git["dirty"]:
        raise EvidenceError(
            manifest.rel, "git.dirty", "is true: the SHA does not identify the code tested"
        )
    if expected_sha is not None and sha != expected_sha.lower():
        raise EvidenceError(
            manifest.rel, "git.sha", f"is {sha}, not the SHA under test {expected_sha}"
        )
    return GateResult(
        True,
        sha,
        expected_sha or "a full 40-hex SHA of a clean tree",
        "1",
        f"{manifest.rel} git.sha",
    )
