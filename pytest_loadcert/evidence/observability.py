"""Grafana and OpenTelemetry exports: the absolute time each one covers, and what it is about.

* Grafana: a dashboard export (``GET /api/dashboards/uid/<uid>``) or a snapshot
  (``GET /api/snapshots/<key>``), both ``{"dashboard": {"time": {"from", "to"}}, "meta"}``.
  Relative ranges (``now-6h``) prove nothing about the run and are rejected.
* OpenTelemetry: OTLP/JSON ``ExportTraceServiceRequest`` objects (``resourceSpans``), one
  document or NDJSON of several, as the Collector's file exporter writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import parse_json
from pytest_loadcert.evidence.timeutil import parse_utc


@dataclass(frozen=True)
class TimeRange:
    """An absolute time range and where it was read."""

    start: datetime
    end: datetime
    rel: str
    field: str

    @property
    def source(self) -> str:
        return f"{self.rel} {self.field}"


def _from_epoch(value: int, per_second: int, rel: str, field: str) -> datetime:
    """``value`` (in 1/``per_second`` s since the epoch) as a UTC time; out of range raises."""
    try:
        return datetime.fromtimestamp(value / per_second, UTC)
    except (OverflowError, OSError, ValueError):
        raise EvidenceError(rel, field, f"is {value}, out of the range of a time") from None


def _digits(value: object, rel: str, field: str) -> int | None:
    """An ASCII digit string as an int, else None. A time has at most 20 digits; a longer
    string is refused before int() (which raises ValueError past 4300 digits)."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        return None
    if len(value) > 20:
        raise EvidenceError(
            rel, field, f"is a {len(value)}-digit number, out of the range of a time"
        )
    return int(value)


def _grafana_time(value: object, rel: str, field: str) -> datetime:
    if isinstance(value, str) and value.strip().startswith("now"):
        raise EvidenceError(
            rel, field, f"is relative ({value!r}); an absolute time range is required"
        )
    digits = _digits(value, rel, field)
    if digits is not None:
        value = digits
    if isinstance(value, int) and not isinstance(value, bool):
        return _from_epoch(value, 1000, rel, field)
    moment = parse_utc(value)
    if moment is None:
        raise EvidenceError(rel, field, f"is {value!r}, not an absolute UTC time")
    return moment


@dataclass(frozen=True)
class GrafanaExport(TimeRange):
    """A Grafana export's time range, and which dashboard it is."""

    uid: str | None = None
    panels: int = 0
    #: Grafana's Home dashboard (``/api/dashboards/home``: ``meta.isHome``).
    home: bool = False


def grafana_range(document: Any, rel: str) -> GrafanaExport:
    """The dashboard's (or snapshot's) absolute time range, uid and panel count."""
    if not isinstance(document, dict):
        raise EvidenceError(rel, "", "is not a JSON object; expected a Grafana dashboard export")
    dashboard = document.get("dashboard")
    if not isinstance(dashboard, dict):
        raise EvidenceError(
            rel, "dashboard", "is missing; expected a Grafana dashboard or snapshot"
        )
    if "meta" in document and not isinstance(document["meta"], dict):
        raise EvidenceError(rel, "meta", "must be an object")
    time = dashboard.get("time")
    if not isinstance(time, dict):
        raise EvidenceError(rel, "dashboard.time", "is missing")
    start = _grafana_time(time.get("from"), rel, "dashboard.time.from")
    end = _grafana_time(time.get("to"), rel, "dashboard.time.to")
    if end <= start:
        raise EvidenceError(rel, "dashboard.time", "ends before it starts")
    uid = dashboard.get("uid")
    panels = dashboard.get("panels")
    meta = document.get("meta")
    return GrafanaExport(
        start,
        end,
        rel,
        "dashboard.time",
        uid if isinstance(uid, str) and uid else None,
        _panel_count(panels),
        isinstance(meta, dict) and meta.get("isHome") is True,
    )


def _panel_count(panels: object) -> int:
    """Panels of a dashboard, those inside collapsed rows included."""
    if not isinstance(panels, list):
        return 0
    count = 0
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        if panel.get("type") == "row":
            count += _panel_count(panel.get("panels"))
        else:
            count += 1
    return count


@dataclass(frozen=True)
class Resource:
    """Who emitted spans: the OTel resource attributes the profile names."""

    service: str | None
    namespace: str | None
    environment: str | None

    def describe(self) -> str:
        return (
            f"service {self.service or '(none)'} in namespace {self.namespace or '(none)'}, "
            f"environment {self.environment or '(none)'}"
        )


@dataclass(frozen=True)
class Span:
    """A span's times (what coverage needs) and its resource."""

    start: datetime
    end: datetime
    resource: Resource = Resource(None, None, None)


#: Resource attributes read, in order of preference: the newer semantic convention first.
NAMESPACE_KEYS = ("k8s.namespace.name", "service.namespace")
ENVIRONMENT_KEYS = ("deployment.environment.name", "deployment.environment")


def _resource(resource: object, rel: str, where: str) -> Resource:
    attributes = resource.get("attributes") if isinstance(resource, dict) else None
    values: dict[str, str] = {}
    if isinstance(attributes, list):
        for attribute in attributes:
            if not isinstance(attribute, dict) or not isinstance(attribute.get("key"), str):
                continue
            value = attribute.get("value")
            text = value.get("stringValue") if isinstance(value, dict) else None
            if isinstance(text, str):
                if attribute["key"] in values and values[attribute["key"]] != text:
                    raise EvidenceError(
                        rel,
                        f"{where}.attributes",
                        f"states {attribute['key']} twice: {values[attribute['key']]!r} and "
                        f"{text!r}",
                    )
                values[attribute["key"]] = text
    environments = {values[k] for k in ENVIRONMENT_KEYS if k in values}
    if len(environments) > 1:
        raise EvidenceError(
            rel,
            f"{where}.attributes",
            f"states two environments: {' and '.join(sorted(environments))}",
        )
    namespace = next((values[k] for k in NAMESPACE_KEYS if k in values), None)
    environment = next((values[k] for k in ENVIRONMENT_KEYS if k in values), None)
    return Resource(values.get("service.name"), namespace, environment)


def _nanos(value: object, rel: str, field: str) -> int:
    digits = _digits(value, rel, field)
    if digits is not None:
        return digits
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise EvidenceError(rel, field, f"must be unsigned nanoseconds since the epoch, got {value!r}")


def otel_spans(data: bytes, rel: str) -> list[Span]:
    """Every span of an OTLP/JSON document or NDJSON of documents."""
    if not data.strip():
        raise EvidenceError(rel, "", "is empty")
    try:
        documents = [parse_json(data, rel)]
        line_prefix = ""
    except EvidenceError:
        lines = [line for line in data.strip().splitlines() if line.strip()]
        if len(lines) < 2:
            raise
        documents = [
            parse_json(line, f"{rel} line {number}") for number, line in enumerate(lines, start=1)
        ]
        line_prefix = "line "
    spans: list[Span] = []
    for doc_index, document in enumerate(documents):
        where = f"{line_prefix}{doc_index + 1}: " if line_prefix else ""
        if not isinstance(document, dict) or not isinstance(document.get("resourceSpans"), list):
            raise EvidenceError(
                rel, f"{where}resourceSpans", "is missing; expected OTLP/JSON traces"
            )
        for r_index, resource in enumerate(document["resourceSpans"]):
            scopes = resource.get("scopeSpans") if isinstance(resource, dict) else None
            owner = _resource(
                resource.get("resource") if isinstance(resource, dict) else None,
                rel,
                f"{where}resourceSpans[{r_index}].resource",
            )
            if not isinstance(scopes, list):
                raise EvidenceError(
                    rel, f"{where}resourceSpans[{r_index}].scopeSpans", "is missing"
                )
            for s_index, scope in enumerate(scopes):
                raw_spans = scope.get("spans") if isinstance(scope, dict) else None
                if not isinstance(raw_spans, list):
                    raise EvidenceError(
                        rel,
                        f"{where}resourceSpans[{r_index}].scopeSpans[{s_index}].spans",
                        "is missing",
                    )
                for p_index, span in enumerate(raw_spans):
                    base = f"{where}resourceSpans[{r_index}].scopeSpans[{s_index}].spans[{p_index}]"
                    if not isinstance(span, dict):
                        raise EvidenceError(rel, base, "must be an object")
                    start = _nanos(span.get("startTimeUnixNano"), rel, f"{base}.startTimeUnixNano")
                    end = _nanos(span.get("endTimeUnixNano"), rel, f"{base}.endTimeUnixNano")
                    if end < start:
                        raise EvidenceError(
                            rel, f"{base}.endTimeUnixNano", "is before startTimeUnixNano"
                        )
                    spans.append(
                        Span(
                            _from_epoch(start, 10**9, rel, f"{base}.startTimeUnixNano"),
                            _from_epoch(end, 10**9, rel, f"{base}.endTimeUnixNano"),
                            owner,
                        )
                    )
    if not spans:
        raise EvidenceError(rel, "resourceSpans", "holds no spans")
    return spans
