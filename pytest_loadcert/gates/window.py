"""Gates on time: the stage window against k6's own run duration, and the whole run's window
that the Prometheus, Grafana and OTel evidence must cover.
"""

from __future__ import annotations

from datetime import datetime

from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.layout import stage_dir
from pytest_loadcert.evidence.load import LoadSummary
from pytest_loadcert.evidence.shards import check_shard_records
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.gates.result import GateResult


def stage_window(
    bundle: Bundle, profile: Profile, stage: str, summaries: tuple[LoadSummary, ...]
) -> GateResult:
    """start < end; k6's run duration agrees; stages in ramp order and not overlapping."""
    run = bundle.stage_run(stage)
    tolerance = profile.k6.duration_tolerance_s
    if run.end <= run.start:
        raise EvidenceError(run.rel, "end_time", "is not after start_time: inverted window")
    records = bundle.shard_records(stage)
    if run.shards and not records:
        # Peak VUs of shards add up only if the shards ran at the same time; without each
        # instance's own record nothing shows they did.
        raise EvidenceError(
            run.rel,
            "shards",
            f"names {len(run.shards)} k6 instances, but {stage_dir(stage)} holds no "
            "shard-<name>.json records: nothing shows the instances ran together (loadcert "
            "run-stage --shard and loadcert merge-shards write them)",
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
    # after the shard records: a shard that ran elsewhere in time is named as such
    checked = [s.rel for s in summaries if check_run_duration(s, run, tolerance)]
    check_not_another_stages(bundle, profile, stage)
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


def check_not_another_stages(bundle: Bundle, profile: Profile, stage: str) -> None:
    """No summary of this stage carries the same measurements as one of another stage: one
    run's summary given as two stages (a copy) means one of them never ran."""
    mine = bundle.measured(stage)
    for other in profile.stage_names:
        if other == stage:
            continue
        try:
            theirs = bundle.measured(other)
        except EvidenceError:
            continue  # that stage's own gates block
        for key, rel in theirs.items():
            if key in mine:
                raise EvidenceError(
                    mine[key],
                    "metrics",
                    f"are the same measurements as {rel}: one run's summary given as "
                    f"two stages ({stage} and {other}); one of them never ran",
                )


def check_run_duration(summary: LoadSummary, run: StageRun, tolerance: float) -> bool:
    """k6's own run duration (handleSummary ``state.testRunDurationMs``, or an export's
    counters' count / rate) agrees with the stage window within ``tolerance`` seconds;
    False when the summary has no duration (it counted nothing)."""
    if summary.duration_ms is None:
        return False
    difference = abs(summary.duration_ms / 1000 - run.duration_s)
    if difference > tolerance:
        raise EvidenceError(
            summary.rel,
            summary.duration_field,
            f"is {summary.duration_ms / 1000:g}s but {run.rel} spans {run.duration_s:g}s "
            f"(tolerance {tolerance:g}s)",
        )
    return True


def run_window(bundle: Bundle, profile: Profile) -> tuple[datetime, datetime]:
    """The first stage's start and the last stage's end; every stage must be readable."""
    runs = [bundle.stage_run(stage) for stage in profile.stage_names]
    return min(r.start for r in runs), max(r.end for r in runs)
