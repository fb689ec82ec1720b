"""``loadcert run-stage``: run k6 for one stage and write that stage's evidence.

Writes, under the evidence directory:

- ``stages/<stage>/k6-summary.json``: k6's own ``--summary-export`` (what k6 measured)
- ``stages/<stage>/stage.json``: the wall clock around the k6 process, k6's exit code and
  version, the profile's target VUs (informational only) and the command that ran
- ``artifacts/k6-script.js``: the exact script (every stage of a bundle runs the same one)

k6's summary carries no timestamps, so the only honest stage window is the wall clock
measured here around the process. A k6 failure (exit 99: thresholds crossed) is still
recorded: failing evidence is evidence, and the gates decide what it means.

With ``--shard I/N`` (one machine's part of a distributed stage) k6 runs the I-th of N equal
execution segments (``--execution-segment``, ``--execution-segment-sequence``: k6 itself
splits every scenario's VUs and iterations by segment), and the evidence directory is this
worker's own, not the bundle:

- ``stages/<stage>/k6-summary.<I>.json``: k6's ``--summary-export`` of this segment
- ``stages/<stage>/shard-<I>.json``: this machine's shard record
  (:mod:`pytest_loadcert.evidence.shards`)
- ``artifacts/k6-script.js``: the script

``loadcert merge-shards`` combines the workers' directories into the bundle's stage.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.config.profile import Profile
from pytest_loadcert.evidence.hashing import sha256_bytes, sha256_file
from pytest_loadcert.evidence.jsonio import write_atomic, write_json_atomic
from pytest_loadcert.evidence.k6_options import (
    K6_EMPTY_CONFIG,
    bending_environment,
    bending_options,
)
from pytest_loadcert.evidence.layout import (
    K6_SCRIPT,
    STAGE_JSON,
    SUMMARY,
    record_name,
    stage_dir,
    summary_name,
)
from pytest_loadcert.evidence.shards import (
    MAX_SHARDS,
    MEASURED_BY_RUN_STAGE,
    equal_segment,
    segment_sequence,
)
from pytest_loadcert.evidence.timeutil import format_utc, now_utc
from pytest_loadcert.run.k6bin import K6NotFound, find_k6, k6_version

#: Every stat the gates read (p95, p99 and the sample count) must be in the summary.
TREND_STATS = "avg,min,med,max,p(90),p(95),p(99),count"
#: From this many VUs on, a stage does not belong on a developer machine or shared runner.
DEDICATED_WORKER_VUS = 100_000


@dataclass(frozen=True)
class Shard:
    """``--shard I/N``: this machine runs the I-th of N equal execution segments."""

    index: int
    total: int

    @property
    def name(self) -> str:
        return str(self.index)

    @property
    def segment(self) -> str:
        return equal_segment(self.index, self.total)

    @property
    def sequence(self) -> str:
        return segment_sequence(self.total)


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N <= :data:`MAX_SHARDS`; raises ValueError saying why not."""
    index_text, slash, total_text = text.partition("/")
    if not (slash and index_text.isascii() and index_text.isdigit()) or not (
        total_text.isascii() and total_text.isdigit()
    ):
        raise ValueError(f"{text!r} is not I/N (e.g. 2/4: the second of four equal parts)")
    index, total = int(index_text), int(total_text)
    if not 1 <= total <= MAX_SHARDS:
        raise ValueError(f"{text!r}: N must be 1..{MAX_SHARDS}")
    if not 1 <= index <= total:
        raise ValueError(f"{text!r}: I must be 1..{total}")
    return Shard(index, total)


class RunStageError(cliopts.CommandError):
    """run-stage cannot do what was asked; ``exit_status`` 2 = usage/refusal, 1 = failure."""

    default_status = cliopts.EXIT_USAGE


@dataclass(frozen=True)
class StageRunResult:
    """The outcome of one stage (or shard): what was written and how k6 ended.

    ``stage_json`` is the document written to ``record`` (stage.json, or shard-<I>.json).
    """

    stage_dir: Path
    stage_json: dict[str, Any]
    k6_exit_code: int
    summary_written: bool
    summary: str = SUMMARY
    record: str = STAGE_JSON

    @property
    def ok(self) -> bool:
        """True when k6 exited 0 and wrote its summary."""
        return self.k6_exit_code == 0 and self.summary_written


def build_k6_argv(
    k6: str,
    stage: str,
    summary_path: str,
    script: str,
    extra: Sequence[str],
    shard: Shard | None = None,
    config: str = K6_EMPTY_CONFIG,
) -> list[str]:
    """The k6 command line for one stage (the same shape is recorded in stage.json)."""
    segment = (
        []
        if shard is None
        else [
            "--execution-segment",
            shard.segment,
            "--execution-segment-sequence",
            shard.sequence,
        ]
    )
    return [
        k6,
        "run",
        "--no-usage-report",  # k6 otherwise phones home on every run
        "--quiet",  # no banner or per-second progress lines in CI logs
        "--config",  # an empty options file: no user config layer under the script's options
        config,
        "--summary-export",
        summary_path,
        "--summary-trend-stats",
        TREND_STATS,
        "--tag",
        f"stage={stage}",  # every sample (and remote-write series) names its stage
        *segment,
        *extra,
        script,
    ]


def check_request(
    profile: Profile,
    stage: str,
    script: Path,
    extra: Sequence[str],
    dedicated_load_worker: bool,
    shard: Shard | None = None,
) -> int:
    """Validate a run-stage request before anything runs; returns the stage's target VUs."""
    try:
        spec = profile.stage(stage)
    except KeyError:
        raise RunStageError(
            f"stage {stage!r} is not in the profile ({profile.source}); its stages are "
            + ", ".join(profile.stage_names)
        ) from None
    if spec.min_active_vus >= DEDICATED_WORKER_VUS and not dedicated_load_worker:
        raise RunStageError(
            f"stage {stage!r} requires {spec.min_active_vus} active VUs: a run this large "
            "belongs on dedicated or distributed load workers (e.g. k6-operator), not on a "
            "shared machine. Run it there and pass --dedicated-load-worker to confirm."
        )
    for found in bending_options(extra):
        raise RunStageError(
            f"{found.written.partition('=')[0]} after `--`: {found.option.why}. run-stage "
            "refuses it: the "
            "schedule and the thresholds are the bound script's, the summary options "
            "run-stage's"
        )
    for name, option in bending_environment(os.environ):
        raise RunStageError(
            f"${name} is set: k6 reads it, and it {option.why}. Unset it: run-stage refuses "
            "to run a stage whose judgment or schedule the environment bends"
        )
    if not script.is_file():
        raise RunStageError(f"--script {script}: not a file")
    return spec.min_active_vus


def _check_bundle(
    evidence_dir: Path, stage: str, script_bytes: bytes, script: Path, shard: Shard | None
) -> None:
    if evidence_dir.exists() and not evidence_dir.is_dir():
        raise RunStageError(f"--evidence-dir {evidence_dir}: exists and is not a directory")
    directory = evidence_dir / stage_dir(stage)
    names = [STAGE_JSON, SUMMARY]
    if shard is not None:  # a worker's directory: its shards, never a whole stage beside them
        names += [summary_name(shard.name), record_name(shard.name)]
    for name in names:
        if os.path.lexists(directory / name):
            what = f"stage {stage!r}" if shard is None else f"shard {shard.name} of {stage!r}"
            raise RunStageError(
                f"{stage_dir(stage)}/{name} already exists in {evidence_dir}: {what} "
                f"was already run. Evidence is not overwritten; remove "
                f"{directory} to run the stage again, or use a new evidence directory."
            )
    artifact = evidence_dir / K6_SCRIPT
    if os.path.lexists(artifact):
        mode = os.lstat(artifact).st_mode
        if not stat.S_ISREG(mode):
            raise RunStageError(f"{K6_SCRIPT} in {evidence_dir} is not a regular file")
        if sha256_file(artifact) != sha256_bytes(script_bytes):
            raise RunStageError(
                f"{K6_SCRIPT} in {evidence_dir} is a different script than {script}: every "
                "stage of a bundle must run the same script (use a new evidence directory)"
            )


def run_stage(
    evidence_dir: Path,
    stage: str,
    script: Path,
    profile: Profile,
    *,
    k6: str | None = None,
    extra_args: Sequence[str] = (),
    dedicated_load_worker: bool = False,
    shard: Shard | None = None,
) -> StageRunResult:
    """Run k6 for ``stage`` (or its ``shard``) and write its evidence; see the module
    docstring.

    Raises :class:`RunStageError` for refusals (exit status 2) before anything runs, and
    for a k6 that cannot be started (1). A k6 that ran and failed is *not* an exception:
    the result carries its exit code and the evidence is written.
    """
    target_vus = check_request(profile, stage, script, extra_args, dedicated_load_worker, shard)
    script_bytes = script.read_bytes()
    _check_bundle(evidence_dir, stage, script_bytes, script, shard)
    try:
        k6_path = find_k6(k6)
    except K6NotFound as exc:
        raise RunStageError(str(exc)) from None
    try:
        version = k6_version(k6_path)
    except K6NotFound as exc:
        raise RunStageError(str(exc), exit_status=1) from None

    directory = evidence_dir / stage_dir(stage)
    directory.mkdir(parents=True, exist_ok=True)
    if not os.path.lexists(evidence_dir / K6_SCRIPT):
        write_atomic(evidence_dir / K6_SCRIPT, script_bytes)

    # k6 writes its summary under a temporary name that is renamed once k6 has exited,
    # so a k6 killed mid-write never leaves a truncated k6-summary.json behind.
    summary = SUMMARY if shard is None else summary_name(shard.name)
    partial = directory / f".{summary}.partial"
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    # Recorded with bundle paths: the bundle must not depend on where it was produced.
    recorded = build_k6_argv(
        "k6", stage, f"{stage_dir(stage)}/{summary}", K6_SCRIPT, extra_args, shard
    )
    environment = sorted(name for name in os.environ if name.startswith("K6_"))
    # k6 otherwise reads ~/.config/k6/config.json silently: it gets an empty options file,
    # outside the bundle, recorded as K6_EMPTY_CONFIG.
    with tempfile.TemporaryDirectory(prefix="loadcert-k6-") as options_dir:
        config = Path(options_dir) / K6_EMPTY_CONFIG
        config.write_text("{}\n")
        argv = build_k6_argv(
            str(k6_path), stage, str(partial), str(script), extra_args, shard, str(config)
        )
        start, end, code = _run(argv)

    if sha256_file(script) != sha256_bytes(script_bytes):
        raise RunStageError(
            f"--script {script} changed while k6 ran; the bundle cannot say which version "
            f"ran. Remove {directory} and run the stage again.",
            exit_status=1,
        )
    summary_written = partial.is_file()
    if summary_written:
        os.replace(partial, directory / summary)
    if shard is not None:
        record = record_name(shard.name)
        document = _shard_record(stage, shard, start, end, code, version, script_bytes)
        document.update(target_vus=target_vus, command=recorded, k6_environment=environment)
        write_json_atomic(directory / record, document)
        return StageRunResult(directory, document, code, summary_written, summary, record)
    document = {
        "stage": stage,
        "start_time": format_utc(start),
        "end_time": format_utc(end),
        "k6_exit_code": code,
        "k6_version": version,
        "target_vus": target_vus,
        "command": recorded,
        "k6_environment": environment,
    }
    write_json_atomic(directory / STAGE_JSON, document)
    return StageRunResult(directory, document, code, summary_written)


def _shard_record(
    stage: str,
    shard: Shard,
    start: datetime,
    end: datetime,
    code: int,
    version: str,
    script_bytes: bytes,
) -> dict[str, Any]:
    """The shard record (:mod:`pytest_loadcert.evidence.shards`): the wall clock of *this* machine
    around its k6, and who measured it."""
    return {
        "stage": stage,
        "shard": shard.name,
        "of": shard.total,
        "execution_segment": shard.segment,
        "execution_segment_sequence": shard.sequence,
        "start_time": format_utc(start),
        "end_time": format_utc(end),
        "measured_by": MEASURED_BY_RUN_STAGE,
        "host": socket.gethostname(),
        "k6_exit_code": code,
        "k6_version": version,
        "k6_script_sha256": sha256_bytes(script_bytes),
    }


def _run(argv: list[str]) -> tuple[datetime, datetime, int]:
    """Run k6 with its output streamed through; wall clock measured around the process."""
    start = now_utc()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise RunStageError(f"cannot start k6 ({argv[0]}): {exc.strerror}", exit_status=1) from None
    try:
        code = process.wait()
    except KeyboardInterrupt:
        # k6 got the same Ctrl-C (same process group) and is stopping gracefully, writing
        # its summary; wait for it so the evidence of the interrupted run is complete.
        code = process.wait()
    end = now_utc()
    if code < 0:
        code = 128 - code  # killed by signal N: recorded as the shell would, 128 + N
    return start, end, code
