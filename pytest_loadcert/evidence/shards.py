"""Shard records: what each k6 instance of a distributed stage measured, and the one rule
that says the instances ran together.

A distributed stage runs one k6 per machine, each with an ``--execution-segment`` of the
same script (``loadcert run-stage --shard I/N``, or k6-operator's runners). Each instance
leaves ``stages/<stage>/k6-summary.<I>.json`` and a shard record
``stages/<stage>/shard-<I>.json``: the wall clock around that k6 process, its exit code and
version, the script's hash and the segment it ran. ``loadcert merge-shards`` combines them
into one ``stage.json``; the ``stage_window`` gate checks the records again in the sealed
bundle, with the same function (:func:`check_shard_records`).

Peak VUs and counts of shards add up only if the shards were one run: every segment of the
same script, with one k6 version, running at the same time. Shards that ran an hour apart
would add two small runs into one large claim that never happened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.layout import RECORD_PREFIX, RECORD_SUFFIX
from pytest_loadcert.evidence.timeutil import parse_utc

if TYPE_CHECKING:
    from pytest_loadcert.evidence.k6 import K6Summary
    from pytest_loadcert.evidence.stage import StageRun

#: A shard's name: the ``I`` of ``--shard I/N`` (the same pattern as stage.json ``shards`` keys).
SHARD_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: ``measured_by`` of a record that ``loadcert run-stage --shard`` wrote around its own k6.
MEASURED_BY_RUN_STAGE = "loadcert run-stage"
#: ``measured_by`` of a record whose times and exit code were given to merge-shards on its
#: command line (a k6-operator runner, which loadcert cannot wrap): declared, not measured here.
MEASURED_BY_DECLARED = "declared to loadcert merge-shards"
#: A run split into more machines than this is a mistake (100000 VUs over 1000 machines is
#: 100 VUs each); the segment sequence would also make every k6 command line enormous.
MAX_SHARDS = 1000

_SHA256_RE = re.compile(r"sha256:[0-9a-f]{64}")
_SEGMENT_RE = re.compile(r"[0-9./%]+:[0-9./%]+")
_REQUIRED = {
    "stage": str,
    "shard": str,
    "execution_segment": str,
    "start_time": str,
    "end_time": str,
    "measured_by": str,
    "k6_exit_code": int,
    "k6_version": str,
    "k6_script_sha256": str,
}
_OPTIONAL = {
    "of": int,
    "execution_segment_sequence": str,
    "host": str,
    "target_vus": int,
    "command": list,
    "k6_environment": list,
}


def equal_segment(index: int, total: int) -> str:
    """The ``index``-th (1-based) of ``total`` equal execution segments, as k6-operator
    names them: 1/4 -> ``0:1/4``, 2/4 -> ``1/4:2/4``, 4/4 -> ``3/4:1``."""
    if not 1 <= index <= total:
        raise ValueError(f"shard {index} is not in 1..{total}")

    def point(i: int) -> str:
        return "0" if i == 0 else "1" if i == total else f"{i}/{total}"

    return f"{point(index - 1)}:{point(index)}"


def segment_sequence(total: int) -> str:
    """The execution segment sequence of ``total`` equal segments: ``0,1/4,2/4,3/4,1``."""
    return ",".join(["0", *(f"{i}/{total}" for i in range(1, total)), "1"])


def shard_order(name: str) -> tuple[int, int, str]:
    """Sort key of shard names: numbers by value (2 before 10), then other names."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


@dataclass(frozen=True)
class ShardRecord:
    """``stages/<stage>/shard-<name>.json``, validated."""

    rel: str
    raw: dict[str, Any]
    stage: str
    shard: str
    execution_segment: str
    start: datetime
    end: datetime
    exit_code: int
    k6_version: str
    script_sha256: str
    measured_by: str

    @property
    def start_text(self) -> str:
        return str(self.raw["start_time"])

    @property
    def end_text(self) -> str:
        return str(self.raw["end_time"])

    @property
    def command(self) -> list[str] | None:
        command = self.raw.get("command")
        return None if command is None else [str(part) for part in command]


def parse_shard_record(document: object, rel: str) -> ShardRecord:
    """Validate a shard record; raises :class:`EvidenceError` naming ``rel`` and the field."""
    if not isinstance(document, dict):
        raise EvidenceError(rel, "", "must be a JSON object")
    for key, kind in _REQUIRED.items():
        if key not in document:
            raise EvidenceError(rel, key, "is missing")
        _check_type(document[key], kind, rel, key)
    for key, value in document.items():
        if key in _REQUIRED:
            continue
        if key not in _OPTIONAL:
            raise EvidenceError(rel, key, "is not a field of a shard record")
        _check_type(value, _OPTIONAL[key], rel, key)
    for key in ("stage", "k6_version", "measured_by"):
        if not document[key]:
            raise EvidenceError(rel, key, "is empty")
    if not SHARD_NAME_RE.fullmatch(document["shard"]):
        raise EvidenceError(rel, "shard", f"is {document['shard']!r}, not a shard name")
    if not _SEGMENT_RE.fullmatch(document["execution_segment"]):
        raise EvidenceError(
            rel, "execution_segment", f"is {document['execution_segment']!r}, not a segment"
        )
    if not _SHA256_RE.fullmatch(document["k6_script_sha256"]):
        raise EvidenceError(rel, "k6_script_sha256", "is not sha256:<64 lowercase hex>")
    if not 0 <= document["k6_exit_code"] <= 255:
        raise EvidenceError(rel, "k6_exit_code", "must be 0..255")
    for key in ("of", "target_vus"):
        if key in document and document[key] < (1 if key == "of" else 0):
            raise EvidenceError(rel, key, "is out of range")
    command = document.get("command")
    if command is not None and (not command or not all(isinstance(p, str) for p in command)):
        raise EvidenceError(rel, "command", "must be a non-empty array of strings")
    environment = document.get("k6_environment", [])
    if not all(isinstance(name, str) and name.startswith("K6_") for name in environment):
        raise EvidenceError(rel, "k6_environment", "must be an array of K6_* variable names")
    start = parse_utc(document["start_time"])
    end = parse_utc(document["end_time"])
    if start is None:
        raise EvidenceError(rel, "start_time", "is not a valid RFC 3339 UTC time")
    if end is None:
        raise EvidenceError(rel, "end_time", "is not a valid RFC 3339 UTC time")
    return ShardRecord(
        rel,
        dict(document),
        document["stage"],
        document["shard"],
        document["execution_segment"],
        start,
        end,
        document["k6_exit_code"],
        document["k6_version"],
        document["k6_script_sha256"],
        document["measured_by"],
    )


def _check_type(value: object, kind: type, rel: str, key: str) -> None:
    # bool is an int in Python, never in a shard record.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = {str: "a string", int: "an integer", list: "an array"}
        raise EvidenceError(rel, key, f"must be {names[kind]}")


def read_shard_records(
    directory: Path, rel_dir: str, read_json: Callable[[str], Any]
) -> dict[str, ShardRecord]:
    """Every ``shard-<name>.json`` in ``directory`` (shown as ``rel_dir``), by shard name.

    ``read_json(rel)`` reads ``rel_dir/<file>`` strictly. A file whose name starts with
    ``shard-`` and ends with ``.json`` but names no valid shard, or whose ``shard`` field
    disagrees with its name, is refused: a record is either usable or an error, never skipped.
    """
    records: dict[str, ShardRecord] = {}
    if not directory.is_dir():
        return records
    names = sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.name.startswith(RECORD_PREFIX) and entry.name.endswith(RECORD_SUFFIX)
    )
    for name in names:
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        rel = f"{rel_dir}/{shown}"
        shard = name[len(RECORD_PREFIX) : -len(RECORD_SUFFIX)]
        if shown != name or not SHARD_NAME_RE.fullmatch(shard):
            raise EvidenceError(rel, "", "is not shard-<name>.json with a valid shard name")
        record = parse_shard_record(read_json(rel), rel)
        if record.shard != shard:
            raise EvidenceError(rel, "shard", f"is {record.shard!r}, but the file is {name}")
        records[shard] = record
    return records


def measurements(summary: K6Summary) -> str:
    """What a summary measured, as one comparable key, whatever the order of its keys (real
    runs never measure alike)."""
    metrics = sorted(
        (name, m.kind, sorted(m.values.items()), sorted(m.thresholds.items()))
        for name, m in summary.metrics.items()
    )
    return repr((summary.format, metrics, summary.duration_ms))


def check_distinct_summaries(summaries: Iterable[K6Summary]) -> None:
    """No two shard summaries carry the same measurements: one k6 instance's summary given
    as two shards (the same file twice) would add its VUs and requests twice. Real
    instances never measure identical metrics and run durations."""
    seen: dict[str, str] = {}
    for summary in summaries:
        key = measurements(summary)
        if key in seen:
            raise EvidenceError(
                summary.rel,
                "metrics",
                f"are the same measurements as {seen[key]}: one k6 instance's summary given "
                "as two shards would count its VUs and requests twice",
            )
        seen[key] = summary.rel


def merged_exit_code(records: Iterable[ShardRecord]) -> int:
    """The stage's k6 exit code: that of the lowest-numbered shard that did not exit 0,
    else 0. Any shard that failed makes the stage fail; the shard records keep every code."""
    for record in sorted(records, key=lambda r: shard_order(r.shard)):
        if record.exit_code != 0:
            return record.exit_code
    return 0


def check_shard_windows(
    stage_rel: str,
    start: datetime,
    end: datetime,
    records: Iterable[ShardRecord],
    tolerance_s: float,
) -> None:
    """The shards ran together: each shard's window starts and ends within ``tolerance_s``
    of the stage window's start and end, and all of them were running at one instant.

    Raises :class:`EvidenceError` naming the shard record and the field that disagrees.
    """
    ordered = sorted(records, key=lambda r: shard_order(r.shard))
    for record in ordered:
        if record.end <= record.start:
            raise EvidenceError(record.rel, "end_time", "is not after start_time: inverted window")
        for field, mine, stage, other in (
            ("start_time", record.start, start, "start_time"),
            ("end_time", record.end, end, "end_time"),
        ):
            offset = (mine - stage).total_seconds()
            if abs(offset) > tolerance_s:
                raise EvidenceError(
                    record.rel,
                    field,
                    f"is {offset:+.3f}s off the stage window's {other} ({stage_rel}), "
                    f"beyond k6.duration_tolerance_s = {tolerance_s:g}: the shards did not run "
                    "together, so their VUs and requests do not add up to one run",
                )
    if ordered:
        latest = max(ordered, key=lambda r: r.start)
        earliest = min(ordered, key=lambda r: r.end)
        if latest.start >= earliest.end:
            raise EvidenceError(
                latest.rel,
                "start_time",
                f"is not before {earliest.rel} end_time: the shards never ran at the same time",
            )


def check_shard_records(
    run: StageRun, records: Mapping[str, ShardRecord], tolerance_s: float
) -> None:
    """The shard records agree with ``stage.json`` and with each other.

    One record per shard that ``stage.json`` names, with the same execution segment; one
    stage, one k6 version and one script for all; the stage's ``k6_exit_code`` is
    :func:`merged_exit_code`; and :func:`check_shard_windows`.
    """
    if set(records) != set(run.shards):
        raise EvidenceError(
            run.rel,
            "shards",
            f"names shards {sorted(run.shards, key=shard_order)}, but the stage's shard "
            f"records are {sorted(records, key=shard_order)}",
        )
    ordered = sorted(records.values(), key=lambda r: shard_order(r.shard))
    first = ordered[0]
    for record in ordered:
        if record.stage != run.name:
            raise EvidenceError(record.rel, "stage", f"is {record.stage!r}, not {run.name!r}")
        segment = run.shards[record.shard]
        if record.execution_segment != segment:
            raise EvidenceError(
                record.rel,
                "execution_segment",
                f"is {record.execution_segment!r}, but {run.rel} shards.{record.shard} "
                f"is {segment!r}",
            )
        if record.k6_version != first.k6_version:
            raise EvidenceError(
                record.rel,
                "k6_version",
                f"is {record.k6_version!r}, but {first.rel} k6_version is "
                f"{first.k6_version!r}: the shards of one run use one k6",
            )
        if record.script_sha256 != first.script_sha256:
            raise EvidenceError(
                record.rel,
                "k6_script_sha256",
                f"is {record.script_sha256}, but {first.rel} k6_script_sha256 is "
                f"{first.script_sha256}: the shards of one run run one script",
            )
    if run.k6_version != first.k6_version:
        raise EvidenceError(
            run.rel,
            "k6_version",
            f"is {run.k6_version!r}, but the shard records say {first.k6_version!r}",
        )
    expected = merged_exit_code(ordered)
    if run.exit_code != expected:
        raise EvidenceError(
            run.rel,
            "k6_exit_code",
            f"is {run.exit_code}, but the shard records say {expected} (the first shard "
            "that did not exit 0, else 0)",
        )
    check_shard_windows(run.rel, run.start, run.end, ordered, tolerance_s)
