"""``loadcert collect otel``: import OpenTelemetry traces for the run window into the bundle.

Input: the OpenTelemetry Collector's ``file`` exporter output, NDJSON with one OTLP/JSON
``ExportTraceServiceRequest`` (``{"resourceSpans": [...]}``) per line, or a single JSON
document of that shape (pretty-printed or not). Several files may be given; they are read
in the order given.

The run window is the first stage's ``start_time`` .. the last stage's ``end_time``, from
the bundle's ``stages/<stage>/stage.json`` files. A span is kept when it **starts** inside
the window (bounds included); its end does not matter. That is the rule the
``otel_coverage`` gate applies per stage: a span that started before the run belongs to
earlier traffic, even when it was still open when the run began, and a request sent during
the last stage is part of the run even when its span ended after k6 exited.

Output: ``observability/otel-traces.json``, one ``ExportTraceServiceRequest`` document (the
shape the gate reads) holding the kept spans with their resource and scope, everything else
untouched; resources and scopes left without a span are dropped.

Everything is read and checked before anything is written: malformed input names the file,
the line and the field, exits 1 and writes nothing. So does input with no span in the window.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import parse_json, read_bytes, write_atomic
from pytest_loadcert.evidence.layout import OTEL
from pytest_loadcert.evidence.timeutil import format_utc

if TYPE_CHECKING:
    from pytest_loadcert.config.profile import Profile

HELP = "import OpenTelemetry traces (Collector file-exporter OTLP/JSON) for the run window"

_TRACE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID_RE = re.compile(r"^[0-9a-f]{16}$")


class OtelError(cliopts.CommandError):
    """Nothing can be imported; ``exit_status`` 2 = usage, 1 = bad input or no span."""

    default_status = cliopts.EXIT_FAILED


@dataclass
class OtelResult:
    """What :func:`collect` wrote, and what it read."""

    path: Path
    window: tuple[datetime, datetime]
    documents: int = 0
    spans_read: int = 0
    spans_kept: int = 0
    #: profile stages whose window holds no span start (the otel_coverage gate blocks them)
    stages_without_spans: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Document:
    where: str  # "FILE line N" or "FILE"
    body: dict[str, Any]


#: Nanoseconds of 10000-01-01T00:00:00Z: the otel_coverage gate reads no time from there on.
_END_OF_TIME_NS = 253_402_300_800 * 10**9


def _nanos(value: object, where: str, path: str) -> int:
    # OTLP/JSON writes fixed64 as a decimal string; a JSON number is accepted too.
    if isinstance(value, str) and value.isdigit() and value.isascii():
        number = int(value) if len(value) <= 20 else _END_OF_TIME_NS  # as the gate reads it
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        number = value
    else:
        raise EvidenceError(
            where, path, f"must be unsigned nanoseconds since the epoch (got {value!r})"
        )
    if number >= _END_OF_TIME_NS:
        raise EvidenceError(where, path, f"is {value!r}, out of the range of a time")
    return number


def _list(node: dict[str, Any], key: str, where: str, path: str) -> list[Any]:
    # Protobuf JSON omits empty repeated fields: absent means empty, anything else must be a list.
    value = node.get(key, [])
    if not isinstance(value, list):
        raise EvidenceError(where, f"{path}{key}", "must be a list")
    return value


def read_documents(source: Path) -> list[_Document]:
    """Every ``ExportTraceServiceRequest`` in ``source`` (one JSON document, or NDJSON)."""
    name = str(source)
    try:
        data = read_bytes(source, name)  # the evidence file cap (LOADCERT_MAX_FILE_BYTES)
    except EvidenceError as exc:
        raise OtelError(
            str(exc), exit_status=cliopts.EXIT_USAGE if exc.problem == "is missing" else 1
        ) from None
    if not data.strip():
        raise OtelError(f"{name}: is empty; expected OTLP/JSON traces")
    try:
        whole = parse_json(data, name)
    except EvidenceError as whole_error:
        lines = data.split(b"\n")
        first = next(line for line in lines if line.strip())
        try:
            parse_json(first, name)
        except EvidenceError:
            # Not NDJSON either: one document with a syntax error (json names line and column).
            raise OtelError(str(whole_error)) from None
        documents = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{name} line {number}"
            try:
                documents.append(_Document(where, _request(parse_json(line, where), where)))
            except EvidenceError as exc:
                raise OtelError(str(exc)) from None
        return documents
    where = name if data.strip().count(b"\n") else f"{name} line 1"
    try:
        return [_Document(where, _request(whole, where))]
    except EvidenceError as exc:
        raise OtelError(str(exc)) from None


def _request(document: object, where: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise EvidenceError(
            where, "", "is not a JSON object; expected an ExportTraceServiceRequest"
        )
    if "resourceSpans" not in document:
        keys = ", ".join(sorted(document)[:5]) or "none"
        raise EvidenceError(
            where,
            "resourceSpans",
            f"is missing (keys: {keys}); expected OTLP/JSON traces, as the Collector's file "
            "exporter writes them",
        )
    return document


def _check_span(span: object, where: str, path: str) -> tuple[int, int]:
    """Validate one span; returns its (start, end) in nanoseconds."""
    if not isinstance(span, dict):
        raise EvidenceError(where, path, "must be an object")
    trace_id = span.get("traceId")
    if not isinstance(trace_id, str) or not _TRACE_ID_RE.fullmatch(trace_id):
        raise EvidenceError(
            where,
            f"{path}.traceId",
            f"must be 32 lowercase hex digits (OTLP/JSON encodes IDs as hex, not base64); "
            f"got {trace_id!r}",
        )
    if trace_id == "0" * 32:
        raise EvidenceError(where, f"{path}.traceId", "is all zeros, which is not a trace ID")
    span_id = span.get("spanId")
    if not isinstance(span_id, str) or not _SPAN_ID_RE.fullmatch(span_id):
        raise EvidenceError(
            where,
            f"{path}.spanId",
            f"must be 16 lowercase hex digits (OTLP/JSON encodes IDs as hex, not base64); "
            f"got {span_id!r}",
        )
    if not isinstance(span.get("name"), str):
        raise EvidenceError(where, f"{path}.name", "must be a string")
    if "startTimeUnixNano" not in span:
        raise EvidenceError(where, f"{path}.startTimeUnixNano", "is missing")
    if "endTimeUnixNano" not in span:
        raise EvidenceError(where, f"{path}.endTimeUnixNano", "is missing")
    start = _nanos(span["startTimeUnixNano"], where, f"{path}.startTimeUnixNano")
    end = _nanos(span["endTimeUnixNano"], where, f"{path}.endTimeUnixNano")
    if start == 0:
        raise EvidenceError(where, f"{path}.startTimeUnixNano", "is 0: the span has no start time")
    if end < start:
        raise EvidenceError(where, f"{path}.endTimeUnixNano", "is before startTimeUnixNano")
    return start, end


def _nanos_of(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def filter_window(
    documents: Sequence[_Document], low: int, high: int
) -> tuple[dict[str, Any], list[int], int]:
    """Check every span and keep those starting in ``[low, high]`` (nanoseconds).

    Returns the merged ``ExportTraceServiceRequest``, the start of every kept span, and the
    number of spans read. Raises :class:`EvidenceError` for the first malformed field.
    """
    kept_resources: list[dict[str, Any]] = []
    starts: list[int] = []
    read = 0
    for document in documents:
        where = document.where
        for r_index, resource in enumerate(_list(document.body, "resourceSpans", where, "")):
            r_path = f"resourceSpans[{r_index}]"
            if not isinstance(resource, dict):
                raise EvidenceError(where, r_path, "must be an object")
            if "resource" in resource and not isinstance(resource["resource"], dict):
                raise EvidenceError(where, f"{r_path}.resource", "must be an object")
            kept_scopes: list[dict[str, Any]] = []
            for s_index, scope in enumerate(_list(resource, "scopeSpans", where, f"{r_path}.")):
                s_path = f"{r_path}.scopeSpans[{s_index}]"
                if not isinstance(scope, dict):
                    raise EvidenceError(where, s_path, "must be an object")
                if "scope" in scope and not isinstance(scope["scope"], dict):
                    raise EvidenceError(where, f"{s_path}.scope", "must be an object")
                spans = []
                for p_index, span in enumerate(_list(scope, "spans", where, f"{s_path}.")):
                    start, _end = _check_span(span, where, f"{s_path}.spans[{p_index}]")
                    read += 1
                    if low <= start <= high:
                        spans.append(span)
                        starts.append(start)
                if spans:
                    kept_scopes.append({**scope, "spans": spans})
            if kept_scopes:
                kept_resources.append({**resource, "scopeSpans": kept_scopes})
    return {"resourceSpans": kept_resources}, starts, read


def collect(sources: Sequence[Path], evidence_dir: Path, profile: Profile) -> OtelResult:
    """Import the spans of ``sources`` that start inside the run window; see the module doc.

    Raises :class:`OtelError` (nothing written) for unusable input, a bundle without stage
    windows, or no span in the window.
    """
    from pytest_loadcert.collect.base import CollectError, stage_windows

    if not sources:
        raise OtelError("--from: at least one file is required", exit_status=cliopts.EXIT_USAGE)
    try:
        runs = stage_windows(evidence_dir, profile)
    except CollectError as exc:
        raise OtelError(str(exc), exc.exit_status) from None
    start = min(run.start for run in runs)
    end = max(run.end for run in runs)
    documents: list[_Document] = []
    for source in sources:
        documents.extend(read_documents(source))
    try:
        merged, starts, read = filter_window(documents, _nanos_of(start), _nanos_of(end))
    except EvidenceError as exc:
        raise OtelError(str(exc)) from None
    window = f"{format_utc(start)} .. {format_utc(end)}"
    if not starts:
        raise OtelError(
            f"no span starts inside the run window {window} "
            f"({read} span(s) read from {len(documents)} document(s) in "
            f"{', '.join(str(s) for s in sources)}); nothing written"
        )
    result = OtelResult(evidence_dir / OTEL, (start, end), len(documents), read, len(starts))
    for run in runs:
        if run.name not in profile.stage_names:
            continue
        low, high = _nanos_of(run.start), _nanos_of(run.end)
        if not any(low <= moment <= high for moment in starts):
            result.stages_without_spans.append(run.name)
    text = json.dumps(merged, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    write_atomic(result.path, (text + "\n").encode("utf-8"))
    return result


# ----------------------------------------------------------------------------- command line


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert collect otel``."""
    parser.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        required=True,
        type=Path,
        metavar="FILE",
        help="OTLP/JSON traces: the Collector's file-exporter NDJSON, or one JSON document",
    )
    cliopts.add_evidence_dir(parser)
    cliopts.add_profile(parser)


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert collect otel``: 0 when spans were imported, 1 bad input or none, 2 usage."""

    try:
        profile = cliopts.load_profile(ns)
        result = collect(ns.sources, ns.evidence_dir, profile)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    start, end = result.window
    print(
        f"{result.path}: written; {result.spans_kept} of {result.spans_read} spans start inside "
        f"the run window {format_utc(start)} .. {format_utc(end)}"
    )
    if result.stages_without_spans:
        cliopts.log(
            ns,
            "warning: no span starts inside the window of stage(s) "
            + ", ".join(result.stages_without_spans)
            + "; the otel_coverage gate will block",
        )
    return cliopts.EXIT_OK
