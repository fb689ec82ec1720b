"""An OpenTelemetry SDK span exporter that writes OTLP/JSON, one request per line.

The file has the shape the OpenTelemetry Collector's ``file`` exporter writes: NDJSON, each
line one ``ExportTraceServiceRequest`` (``{"resourceSpans": [...]}``) in the OTLP/JSON
encoding. Spans are encoded by the OTLP exporters' own encoder
(``opentelemetry-exporter-otlp-proto-common``) into the protobuf request, then rendered by
``google.protobuf.json_format`` with the two changes the OTLP/JSON specification makes to
the plain protobuf JSON mapping: ``traceId``, ``spanId`` and ``parentSpanId`` are hex
strings (not base64), and enum values are integers. Field names are lowerCamelCase and
64-bit integers (``startTimeUnixNano``) are decimal strings, as protobuf JSON has them.

Usage (the SDK and the encoder come with the ``demo`` extra)::

    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(BatchSpanProcessor(OtlpJsonFileExporter(Path("traces.jsonl"))))
    ...
    provider.shutdown()  # flushes the last batch into the file
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

#: Byte fields of OTLP messages that OTLP/JSON writes as hex, with their byte lengths.
_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def _hex_ids(node: Any) -> None:
    """Rewrite protobuf JSON's base64 IDs as OTLP/JSON's lowercase hex, in place."""
    if isinstance(node, list):
        for item in node:
            _hex_ids(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _ID_FIELDS and isinstance(value, str):
            raw = base64.b64decode(value, validate=True)
            if len(raw) != _ID_FIELDS[key]:
                raise ValueError(f"{key} has {len(raw)} bytes, expected {_ID_FIELDS[key]}")
            node[key] = raw.hex()
        else:
            _hex_ids(value)


def encode_request(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """``spans`` as one OTLP/JSON ``ExportTraceServiceRequest`` document."""
    from google.protobuf import json_format

    message = encode_spans(spans)
    document: dict[str, Any] = json_format.MessageToDict(message, use_integers_for_enums=True)
    _hex_ids(document)
    return document


class OtlpJsonFileExporter(SpanExporter):
    """Append each exported batch to ``path`` as one OTLP/JSON line (see the module doc).

    The file is opened for appending when the exporter is created and closed by
    :meth:`shutdown`. Each line is written whole and flushed, so a reader never sees half a
    line of a batch that was exported.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        line = json.dumps(encode_request(spans), separators=(",", ":"), allow_nan=False)
        with self._lock:
            if self._file is None:
                return SpanExportResult.FAILURE
            self._file.write(line + "\n")
            self._file.flush()
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            if self._file is not None:
                self._file.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
