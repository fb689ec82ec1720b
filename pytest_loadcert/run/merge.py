"""``loadcert merge-shards``: combine the shards of a distributed stage into the bundle.

Each load worker ran its part of the stage with ``loadcert run-stage --shard I/N`` into its
own evidence directory (``--from``). k6-operator runners, which loadcert cannot wrap, are
declared shard by shard on the command line instead (``--summary I=FILE --segment I=SEG
--start I=TIME --end I=TIME --exit-code I=CODE`` with ``--k6-version`` and ``--script``);
their shard records say ``measured_by: "declared to loadcert merge-shards"``.

Into ``<evidence-dir>/stages/<stage>/`` it writes every ``k6-summary.<I>.json`` and
``shard-<I>.json`` (a worker's files byte for byte), then one ``stage.json``:

- ``start_time``/``end_time``: the earliest shard start and the latest shard end;
- ``shards``: ``{I: execution segment}``, which must cover 0:1 exactly once;
- ``k6_exit_code``: that of the lowest-numbered shard that did not exit 0, else 0;
- ``k6_version``: the one version every shard ran (different versions are refused);
- ``target_vus``: the profile's, informational; ``command``: the first shard's k6 command.

It refuses (2, nothing written) shards that are not one run: segments that overlap or leave
a gap, different scripts or k6 versions, shards that did not run together (the rule of
:func:`pytest_loadcert.evidence.shards.check_shard_windows`, which the ``stage_window`` gate applies
again to the sealed bundle), a k6 run duration that disagrees with the stage window. The
script is copied to ``artifacts/k6-script.js`` as run-stage does.
"""

from __future__ import annotations

import argparse
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.hashing import sha256_bytes
from pytest_loadcert.evidence.jsonio import json_bytes, parse_json, read_bytes, write_atomic
from pytest_loadcert.evidence.layout import (
    K6_SCRIPT,
    RECORD_PREFIX,
    STAGE_JSON,
    SUMMARY_PREFIX,
    record_name,
    stage_dir,
    summary_name,
)
from pytest_loadcert.evidence.shards import (
    MEASURED_BY_DECLARED,
    SHARD_NAME_RE,
    ShardRecord,
    merged_exit_code,
    parse_shard_record,
    read_shard_records,
    shard_order,
)
from pytest_loadcert.evidence.timeutil import parse_utc

if TYPE_CHECKING:
    from pytest_loadcert.config.profile import Profile
    from pytest_loadcert.evidence.k6 import K6Summary

HELP = "combine the shards of a distributed stage into stages/<stage>/ of the bundle"

#: What a declared shard needs, one value per shard: option -> shard record field.
DECLARED_OPTIONS = {
    "--summary": "summary",
    "--segment": "execution_segment",
    "--start": "start_time",
    "--end": "end_time",
    "--exit-code": "k6_exit_code",
    "--k6-environment": "k6_environment",
}


class MergeError(cliopts.CommandError):
    """The shards cannot be merged; ``exit_status`` 2 = usage/refusal, 1 = unreadable input."""

    default_status = cliopts.EXIT_USAGE


@dataclass(frozen=True)
class ShardInput:
    """One shard to merge: its record, its summary's bytes, and where they came from."""

    record: ShardRecord
    record_bytes: bytes
    summary: K6Summary
    summary_bytes: bytes
    source: str  # a worker directory, or "the command line"


@dataclass(frozen=True)
class Declared:
    """A shard declared on the command line (a k6-operator runner's outputs)."""

    shard: str
    summary: Path
    segment: str
    start: str
    end: str
    exit_code: int
    #: The K6_* variable names set in the runner (the TestRun's runner env); may be empty.
    k6_environment: tuple[str, ...] = ()


@dataclass
class MergeResult:
    """What was written: the stage document and the files, bundle-relative."""

    stage_json: dict[str, Any]
    written: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- inputs


def _summary(path: Path, rel: str) -> tuple[K6Summary, bytes]:
    from pytest_loadcert.evidence.k6 import parse_summary

    data = read_bytes(path, rel)
    return parse_summary(parse_json(data, rel), rel), data


def _regular_bytes(path: Path, shown: str) -> bytes:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise MergeError(f"{shown}: is missing", exit_status=1) from None
    if not stat.S_ISREG(mode):
        raise MergeError(f"{shown}: is not a regular file", exit_status=1)
    return path.read_bytes()


def worker_shards(worker: Path, stage: str) -> tuple[list[ShardInput], bytes]:
    """The shards of ``stage`` in one worker's evidence directory, and its script's bytes."""
    if not worker.is_dir():
        raise MergeError(f"--from {worker}: not a directory")
    directory = worker / stage_dir(stage)
    shown_dir = f"{worker}/{stage_dir(stage)}"
    if os.path.lexists(directory / STAGE_JSON):
        raise MergeError(
            f"{shown_dir}/{STAGE_JSON}: {worker} holds a whole-stage run, not shards; "
            "run each worker with `loadcert run-stage --shard I/N`"
        )

    def read(rel: str) -> Any:
        return parse_json(read_bytes(directory / rel.rsplit("/", 1)[1], rel), rel)

    records = read_shard_records(directory, shown_dir, read)
    if not records:
        raise MergeError(
            f"--from {worker}: no shard of stage {stage!r} (no {shown_dir}/shard-<I>.json; "
            "`loadcert run-stage --shard I/N` writes it)"
        )
    script = _regular_bytes(worker / K6_SCRIPT, f"{worker}/{K6_SCRIPT}")
    inputs = []
    for name, record in sorted(records.items(), key=lambda item: shard_order(item[0])):
        if sha256_bytes(script) != record.script_sha256:
            raise MergeError(
                f"{record.rel}: k6_script_sha256 is {record.script_sha256}, but "
                f"{worker}/{K6_SCRIPT} hashes to {sha256_bytes(script)}: the worker's script "
                "is not the one that ran"
            )
        summary, data = _summary(
            directory / summary_name(name), f"{shown_dir}/{summary_name(name)}"
        )
        record_bytes = read_bytes(directory / record_name(name), record.rel)
        inputs.append(ShardInput(record, record_bytes, summary, data, str(worker)))
    return inputs, script


def declared_shards(
    stage: str, declared: list[Declared], k6_version: str, script: bytes
) -> list[ShardInput]:
    """Shard records for shards declared on the command line (times measured elsewhere)."""
    inputs = []
    for item in declared:
        rel = f"shard {item.shard} (declared on the command line)"
        document = {
            "stage": stage,
            "shard": item.shard,
            "execution_segment": item.segment,
            "start_time": item.start,
            "end_time": item.end,
            "measured_by": MEASURED_BY_DECLARED,
            "k6_exit_code": item.exit_code,
            "k6_version": k6_version,
            "k6_script_sha256": sha256_bytes(script),
            "k6_environment": list(item.k6_environment),
        }
        record = parse_shard_record(document, rel)
        summary, data = _summary(item.summary, str(item.summary))
        inputs.append(ShardInput(record, json_bytes(document), summary, data, "the command line"))
    return inputs


# ----------------------------------------------------------------------------- merge


def _check_target(evidence_dir: Path, stage: str) -> Path:
    if evidence_dir.exists() and not evidence_dir.is_dir():
        raise MergeError(f"--evidence-dir {evidence_dir}: exists and is not a directory")
    directory = evidence_dir / stage_dir(stage)
    if directory.is_dir():
        for entry in sorted(os.listdir(directory)):
            if entry == STAGE_JSON or entry.startswith((SUMMARY_PREFIX, RECORD_PREFIX)):
                raise MergeError(
                    f"{stage_dir(stage)}/{entry} already exists in {evidence_dir}: stage {stage!r} "
                    f"already has evidence. Evidence is not overwritten; remove {directory} to "
                    "merge again, or use a new evidence directory."
                )
    return directory


def build_stage(stage: str, inputs: list[ShardInput], profile: Profile) -> dict[str, Any]:
    """The merged ``stage.json`` document, checked as the gates will check it.

    Raises :class:`MergeError` (2) when the shards are not one run.
    """
    from pytest_loadcert.evidence.bundle import check_shards
    from pytest_loadcert.evidence.schema import validate
    from pytest_loadcert.evidence.shards import check_distinct_summaries, check_shard_records
    from pytest_loadcert.evidence.stage import StageRun
    from pytest_loadcert.gates.window import check_run_duration

    rel = f"{stage_dir(stage)}/{STAGE_JSON}"
    records = {item.record.shard: item.record for item in inputs}
    ordered = [records[name] for name in sorted(records, key=shard_order)]
    first_start = min(ordered, key=lambda r: r.start)
    last_end = max(ordered, key=lambda r: r.end)
    exit_code = merged_exit_code(ordered)
    command = ordered[0].command or ["loadcert", "merge-shards", "--stage", stage]
    document: dict[str, Any] = {
        "stage": stage,
        "start_time": first_start.start_text,
        "end_time": last_end.end_text,
        "k6_exit_code": exit_code,
        "k6_version": ordered[0].k6_version,
        "target_vus": profile.stage(stage).min_active_vus,
        "command": command,
        "shards": {r.shard: r.execution_segment for r in ordered},
    }
    environments = [r.raw["k6_environment"] for r in ordered if "k6_environment" in r.raw]
    if len(environments) == len(ordered):  # every shard recorded its environment
        document["k6_environment"] = sorted({name for names in environments for name in names})
    tolerance = profile.k6.duration_tolerance_s
    try:
        validate("stage", document, rel)
        run = StageRun(
            rel,
            stage,
            first_start.start,
            last_end.end,
            exit_code,
            ordered[0].k6_version,
            document["target_vus"],
            document["start_time"],
            document["end_time"],
            dict(document["shards"]),
        )
        check_shards(run, [f"{stage_dir(stage)}/{summary_name(name)}" for name in records])
        check_shard_records(run, records, tolerance)
        check_distinct_summaries(
            item.summary for item in sorted(inputs, key=lambda i: shard_order(i.record.shard))
        )
        for item in sorted(inputs, key=lambda i: shard_order(i.record.shard)):
            _check_own_duration(item, tolerance)
            check_run_duration(item.summary, run, tolerance)
    except EvidenceError as exc:
        raise MergeError(f"cannot merge the shards of stage {stage!r}: {exc}") from None
    return document


def _check_own_duration(item: ShardInput, tolerance: float) -> None:
    """k6's own run duration (handleSummary's, or an export's counters') agrees with its own
    shard's window (declared times are checked against what k6 itself measured)."""
    duration_ms = item.summary.duration_ms
    if duration_ms is None:
        return
    window = (item.record.end - item.record.start).total_seconds()
    if abs(duration_ms / 1000 - window) > tolerance:
        raise EvidenceError(
            item.summary.rel,
            item.summary.duration_field,
            f"is {duration_ms / 1000:g}s but {item.record.rel} spans {window:g}s "
            f"(tolerance {tolerance:g}s)",
        )


def merge(
    evidence_dir: Path,
    stage: str,
    profile: Profile,
    *,
    workers: list[Path],
    declared: list[Declared] | None = None,
    script: Path | None = None,
    k6_version: str | None = None,
) -> MergeResult:
    """Merge the shards of ``stage`` into ``evidence_dir``; see the module docstring."""
    declared = declared or []
    try:
        profile.stage(stage)
    except KeyError:
        raise MergeError(
            f"stage {stage!r} is not in the profile ({profile.source}); its stages are "
            + ", ".join(profile.stage_names)
        ) from None
    if not workers and not declared:
        raise MergeError("nothing to merge: give --from WORKER_DIR... or declared shards")
    if declared and (script is None or k6_version is None):
        raise MergeError("declared shards need --script FILE and --k6-version TEXT")
    target = _check_target(evidence_dir, stage)
    script_bytes = None if script is None else _regular_bytes(script, f"--script {script}")

    inputs: list[ShardInput] = []
    scripts: list[tuple[bytes, str]] = []
    try:
        for worker in workers:
            if evidence_dir.exists() and worker.resolve() == evidence_dir.resolve():
                raise MergeError(f"--from {worker}: is the --evidence-dir; merge into another")
            found, worker_script = worker_shards(worker, stage)
            inputs += found
            scripts.append((worker_script, f"{worker}/{K6_SCRIPT}"))
        if declared and script_bytes is not None and k6_version is not None:
            inputs += declared_shards(stage, declared, k6_version, script_bytes)
    except EvidenceError as exc:
        raise MergeError(str(exc), exit_status=1) from None
    if script_bytes is not None:
        scripts.append((script_bytes, f"--script {script}"))

    seen: dict[str, str] = {}
    for item in inputs:
        if item.record.shard in seen:
            raise MergeError(
                f"shard {item.record.shard} comes from both {seen[item.record.shard]} and "
                f"{item.source}: a shard is one k6 instance"
            )
        seen[item.record.shard] = item.source
    reference, reference_source = scripts[0]
    for data, source in scripts[1:]:
        if data != reference:
            raise MergeError(
                f"{source} is a different script than {reference_source}: the shards of one "
                "run run one script"
            )
    artifact = evidence_dir / K6_SCRIPT
    if os.path.lexists(artifact) and _regular_bytes(artifact, str(artifact)) != reference:
        raise MergeError(
            f"{K6_SCRIPT} in {evidence_dir} is a different script than {reference_source}: "
            "every stage of a bundle must run the same script (use a new evidence directory)"
        )

    document = build_stage(stage, inputs, profile)

    result = MergeResult(document)
    for item in sorted(inputs, key=lambda i: shard_order(i.record.shard)):
        name = item.record.shard
        write_atomic(target / summary_name(name), item.summary_bytes)
        write_atomic(target / record_name(name), item.record_bytes)
        result.written += [
            f"{stage_dir(stage)}/{summary_name(name)}",
            f"{stage_dir(stage)}/{record_name(name)}",
        ]
    if not os.path.lexists(artifact):
        write_atomic(artifact, reference)
        result.written.append(K6_SCRIPT)
    # stage.json last: a merge interrupted before it leaves no stage that looks complete.
    write_atomic(target / STAGE_JSON, json_bytes(document))
    result.written.append(f"{stage_dir(stage)}/{STAGE_JSON}")
    return result


# ----------------------------------------------------------------------------- CLI


def _keyed(text: str, *, empty: bool = False) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not SHARD_NAME_RE.fullmatch(name) or not (value or empty):
        raise argparse.ArgumentTypeError(f"{text!r} is not I=VALUE (e.g. 2=...)")
    return name, value


def _keyed_names(text: str) -> tuple[str, str]:
    """``I=NAME,NAME``, or ``I=`` for none."""
    return _keyed(text, empty=True)


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert merge-shards``."""
    cliopts.add_evidence_dir(parser)
    parser.add_argument("--stage", required=True, metavar="NAME", help="a stage of the profile")
    cliopts.add_profile(parser)
    parser.add_argument(
        "--from",
        dest="workers",
        action="extend",
        nargs="+",
        type=Path,
        default=[],
        metavar="WORKER_DIR",
        help="a worker's evidence directory, written by `loadcert run-stage --shard I/N`",
    )
    declared = parser.add_argument_group(
        "declared shards",
        "a k6 instance loadcert did not run (a k6-operator runner): every option once per "
        "shard I; the times and exit code are recorded as declared, not measured by loadcert",
    )
    for option, metavar, what in (
        ("--summary", "I=FILE", "the shard's k6 summary (handleSummary JSON or --summary-export)"),
        ("--segment", "I=SEG", "the shard's --execution-segment, e.g. 1/4:2/4"),
        ("--start", "I=TIME", "when the shard's k6 started, RFC 3339 UTC ...Z"),
        ("--end", "I=TIME", "when the shard's k6 ended, RFC 3339 UTC ...Z"),
        ("--exit-code", "I=CODE", "the shard's k6 exit code"),
        (
            "--k6-environment",
            "I=NAMES",
            "the K6_* variable names set in the shard's runner, comma-separated (`I=` for "
            "none): a TestRun's runner env; the gates block one that bends judgment",
        ),
    ):
        kind = _keyed_names if option == "--k6-environment" else _keyed
        declared.add_argument(
            option, action="append", type=kind, default=[], metavar=metavar, help=what
        )
    declared.add_argument("--k6-version", metavar="TEXT", help="`k6 version` of the runners")
    parser.add_argument(
        "--script",
        type=Path,
        metavar="FILE",
        help="the k6 script (required with declared shards; otherwise checked against the "
        "workers' copies)",
    )


def declared_from_options(ns: argparse.Namespace) -> list[Declared]:
    """Group the declared-shard options by shard; raises :class:`MergeError` (2)."""
    values: dict[str, dict[str, str]] = {}
    for option, key in DECLARED_OPTIONS.items():
        for name, value in getattr(ns, _dest(option)):
            per_shard = values.setdefault(name, {})
            if key in per_shard:
                raise MergeError(f"{option} {name}=...: given twice")
            per_shard[key] = value
    declared = []
    for name in sorted(values, key=shard_order):
        given = values[name]
        missing = [opt for opt, key in DECLARED_OPTIONS.items() if key not in given]
        if missing:
            raise MergeError(f"declared shard {name}: {', '.join(missing)} {name}=... missing")
        for key in ("start_time", "end_time"):
            if parse_utc(given[key]) is None:
                raise MergeError(
                    f"--{key.removesuffix('_time')} {name}={given[key]}: not an RFC 3339 UTC "
                    "time ending in Z"
                )
        code = given["k6_exit_code"]
        if not (code.isascii() and code.isdigit()) or int(code) > 255:
            raise MergeError(f"--exit-code {name}={code}: not an exit code 0..255")
        names = tuple(n for n in given["k6_environment"].split(",") if n)
        bad = [n for n in names if not n.startswith("K6_")]
        if bad:
            raise MergeError(
                f"--k6-environment {name}={given['k6_environment']}: {bad[0]!r} is not a K6_* "
                "variable name"
            )
        declared.append(
            Declared(
                name,
                Path(given["summary"]),
                given["execution_segment"],
                given["start_time"],
                given["end_time"],
                int(code),
                names,
            )
        )
    return declared


def _dest(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert merge-shards``: 0 merged, 1 merged but a shard's k6 failed (or an input is
    unreadable), 2 refused."""

    try:
        profile = cliopts.load_profile(ns)
        result = merge(
            ns.evidence_dir,
            ns.stage,
            profile,
            workers=ns.workers,
            declared=declared_from_options(ns),
            script=ns.script,
            k6_version=ns.k6_version,
        )
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    document = result.stage_json
    print(
        f"{stage_dir(ns.stage)}/{STAGE_JSON}: {len(document['shards'])} shards, k6 exit "
        f"{document['k6_exit_code']}, {document['start_time']} .. {document['end_time']}"
    )
    if document["k6_exit_code"] != 0:
        return cliopts.error(
            ns,
            f"a shard's k6 exited {document['k6_exit_code']}; evidence written to "
            f"{stage_dir(ns.stage)} (each shard's exit code is in its shard-<I>.json)",
            cliopts.EXIT_FAILED,
        )
    return cliopts.EXIT_OK
