"""``loadcert collect grafana``: the run's Grafana dashboard, pinned to the run window.

1. ``GET <url>/api/dashboards/uid/<uid>`` (Grafana's dashboard API): the answer is
   ``{"dashboard": {...the dashboard model...}, "meta": {...}}``.
2. The dashboard's time range is set to the run window, as absolute times: ``dashboard.time``
   = ``{"from": <first stage's start_time, rounded down to the second>, "to": <last stage's
   end_time, rounded up>}`` in Grafana's own absolute format (``2026-05-01T00:00:00.000Z``).
   A relative range such as ``now-6h`` would show whatever happened when someone opens it.
3. With ``--snapshot``: ``POST <url>/api/snapshots`` with the pinned dashboard (answer
   ``{"key", "url", "deleteKey", "deleteUrl", "id"}``), then ``GET <url>/api/snapshots/<key>``,
   whose answer (``{"dashboard", "meta": {"isSnapshot": true, ...}}``) is what is recorded. The
   delete key is a credential: it is never written or printed.

What is written, ``observability/grafana.json``, is Grafana's own answer with only
``dashboard.time`` changed, and it is checked with the Grafana coverage gate's own reader
(:func:`pytest_loadcert.evidence.observability.grafana_range`) before it is written: the collector
never
writes a file the gate would reject. Errors (401, 403, 404, ...) carry Grafana's ``message``.
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.collect.base import CollectError, stage_windows
from pytest_loadcert.collect.http import (
    HttpClient,
    HttpSettings,
    HttpUsageError,
    RetryReporter,
    check_base_url,
    response_json,
)
from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import json_bytes, write_atomic
from pytest_loadcert.evidence.layout import GRAFANA
from pytest_loadcert.evidence.observability import grafana_range

HELP = "fetch a Grafana dashboard pinned to the run window (observability/grafana.json)"

#: Grafana's dashboard uid: at most 40 characters, letters, digits, '-' and '_'.
UID_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
TOKEN_OPTION = "--token-env"

#: What Grafana's status codes mean for this collector, added to Grafana's own message.
_STATUS_HINTS = {
    401: "not authenticated: check the token (--token-env) or basic auth",
    403: "the credentials may not read this (a Viewer role on the dashboard's folder is needed)",
    404: "not found",
}


@dataclass
class GrafanaResult:
    """The file written (if any), the snapshot's URL, and every problem met."""

    written: Path | None = None
    snapshot_url: str | None = None
    window: tuple[str, str] | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def grafana_time(moment: datetime) -> str:
    """Grafana's absolute time format: UTC, always with milliseconds."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def run_window(evidence_dir: Path, profile: Profile) -> tuple[datetime, datetime]:
    """The first stage's start (rounded down) .. the last stage's end (rounded up)."""
    windows = stage_windows(evidence_dir, profile)
    start = min(w.start for w in windows).replace(microsecond=0)
    end = max(w.end for w in windows)
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return start, end


def pin(document: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    """A copy of a dashboard export (or snapshot) with ``dashboard.time`` set to the window."""
    pinned = copy.deepcopy(document)
    pinned["dashboard"]["time"] = {"from": grafana_time(start), "to": grafana_time(end)}
    return pinned


def collect(
    url: str,
    uid: str,
    evidence_dir: Path,
    profile: Profile,
    *,
    snapshot: bool = False,
    snapshot_expires_s: int | None = None,
    http: HttpSettings | None = None,
    log: Callable[[str], None] = lambda message: None,
    progress: Callable[[str], None] = lambda status: None,
) -> GrafanaResult:
    """Fetch dashboard ``uid`` from Grafana at ``url``, pin it to the run window, write it.

    Raises :class:`CollectError` when collection cannot start (bad URL or uid, no stage).
    Failed requests do not raise: they are listed in :attr:`GrafanaResult.problems`, and
    nothing is written unless Grafana answered with a dashboard.
    """
    try:
        base = check_base_url(url)
    except HttpUsageError as exc:
        raise CollectError(str(exc), exit_status=cliopts.EXIT_USAGE) from None
    if not UID_RE.fullmatch(uid):
        raise CollectError(
            f"--dashboard-uid {uid!r}: a Grafana uid is 1 to 40 letters, digits, '-' or '_'",
            exit_status=cliopts.EXIT_USAGE,
        )
    if snapshot_expires_s is not None and snapshot_expires_s <= 0:
        raise CollectError(
            "--snapshot-expires-s: must be at least 1", exit_status=cliopts.EXIT_USAGE
        )
    start, end = run_window(evidence_dir, profile)
    settings = http if http is not None else HttpSettings()
    result = GrafanaResult(warnings=settings.warnings())
    result.window = (grafana_time(start), grafana_time(end))
    on_retry = RetryReporter(base, log, progress)
    with HttpClient(settings, on_retry=on_retry) as client:
        try:
            _collect(
                client, base, uid, evidence_dir, start, end, snapshot, snapshot_expires_s, result
            )
        finally:
            result.problems = [client.redact(p) for p in result.problems]
            result.warnings = [client.redact(w) for w in result.warnings]
    return result


def _collect(
    client: HttpClient,
    base: str,
    uid: str,
    evidence_dir: Path,
    start: datetime,
    end: datetime,
    snapshot: bool,
    snapshot_expires_s: int | None,
    result: GrafanaResult,
) -> None:
    where = f"dashboard {uid!r}"
    export = _get_document(client, f"{base}/api/dashboards/uid/{quote(uid)}", where, result)
    if export is None:
        return
    found_uid = export["dashboard"].get("uid")
    if found_uid is not None and found_uid != uid:
        result.problems.append(
            f"{where}: Grafana answered with dashboard uid {found_uid!r}; not recorded"
        )
        return
    document = pin(export, start, end)
    if snapshot:
        taken = _snapshot(client, base, uid, document, snapshot_expires_s, start, end, result)
        if taken is not None:
            document = taken
    _write(client, evidence_dir, document, start, end, result)


def _get_document(
    client: HttpClient, url: str, where: str, result: GrafanaResult
) -> dict[str, Any] | None:
    """GET a dashboard or snapshot; ``{"dashboard": {...}, "meta": {...}}`` or None."""
    import requests

    try:
        response = client.get(url)
    except requests.RequestException as exc:
        result.problems.append(f"{where}: no answer from Grafana: {client.describe(exc)}")
        return None
    body = response_json(response)
    if response.status_code != 200:
        result.problems.append(f"{where}: {_failure(response.status_code, body)}")
        return None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("dashboard"), dict)
        or not isinstance(body.get("meta", {}), dict)
    ):
        kind = response.headers.get("Content-Type", "no Content-Type")
        result.problems.append(
            f"{where}: HTTP 200 ({kind}) is not a Grafana dashboard "
            '({"dashboard": {...}, "meta": {...}}); not recorded'
        )
        return None
    return body


def _failure(status: int, body: object) -> str:
    """``HTTP 404 (not found): Dashboard not found``: the status, its meaning, Grafana's text."""
    hint = _STATUS_HINTS.get(status)
    text = f"HTTP {status}" + (f" ({hint})" if hint else "")
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message:
        return f"{text}: Grafana says {message!r}"
    return f"{text}: not a Grafana API answer (no JSON message)"


def _snapshot(
    client: HttpClient,
    base: str,
    uid: str,
    document: dict[str, Any],
    expires_s: int | None,
    start: datetime,
    end: datetime,
    result: GrafanaResult,
) -> dict[str, Any] | None:
    """Create a snapshot of the pinned dashboard and fetch it back; None on failure."""
    import requests

    dashboard = copy.deepcopy(document["dashboard"])
    title = dashboard.get("title") if isinstance(dashboard.get("title"), str) else uid
    request: dict[str, Any] = {
        "dashboard": dashboard,
        "name": f"{title} {grafana_time(start)} .. {grafana_time(end)}",
    }
    if expires_s is not None:
        request["expires"] = expires_s
    where = f"snapshot of dashboard {uid!r}"
    try:
        response = client.post_json(f"{base}/api/snapshots", request)
    except requests.RequestException as exc:
        result.problems.append(f"{where}: no answer from Grafana: {client.describe(exc)}")
        return None
    body = response_json(response)
    if isinstance(body, dict) and isinstance(body.get("deleteKey"), str):
        client.add_secret(body["deleteKey"])  # a capability: whoever holds it may delete
    if response.status_code != 200:
        result.problems.append(f"{where}: {_failure(response.status_code, body)}")
        return None
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        result.problems.append(f"{where}: Grafana's answer has no snapshot key; not recorded")
        return None
    taken = _get_document(client, f"{base}/api/snapshots/{quote(key, safe='')}", where, result)
    if taken is None:
        return None
    url = body.get("url") if isinstance(body, dict) else None
    result.snapshot_url = url if isinstance(url, str) else None
    return taken


def _write(
    client: HttpClient,
    evidence_dir: Path,
    document: dict[str, Any],
    start: datetime,
    end: datetime,
    result: GrafanaResult,
) -> None:
    # The gate's own reader: never write what the Grafana coverage gate would reject.
    try:
        recorded = grafana_range(document, GRAFANA)
    except EvidenceError as exc:
        result.problems.append(f"{exc}; not recorded")
        return
    if recorded.start > start or recorded.end < end:
        result.problems.append(
            f"{GRAFANA}: dashboard.time {recorded.start.isoformat()} .. "
            f"{recorded.end.isoformat()} as Grafana returned it does not cover the run "
            f"{start.isoformat()} .. {end.isoformat()}; not recorded"
        )
        return
    data = json_bytes(document)
    if client.contains_secret(data):
        result.problems.append(f"{GRAFANA}: not written: it would contain a credential")
        return
    path = evidence_dir / GRAFANA
    write_atomic(path, data)
    result.written = path


# ----------------------------------------------------------------------------- command line


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert collect grafana``."""
    from pytest_loadcert.collect.http_options import add_http_options

    parser.add_argument("--url", required=True, help="Grafana base URL, e.g. https://grafana:3000")
    parser.add_argument(
        "--dashboard-uid", required=True, metavar="UID", help="the dashboard's uid (from its URL)"
    )
    cliopts.add_evidence_dir(parser)
    cliopts.add_profile(parser)
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="also create a Grafana snapshot of the pinned dashboard (POST /api/snapshots) "
        "and record the snapshot instead of the export",
    )
    parser.add_argument(
        "--snapshot-expires-s",
        type=cliopts.positive_int,
        metavar="S",
        help="the snapshot expires after S seconds (default: Grafana's, never)",
    )
    add_http_options(
        parser, token_option=TOKEN_OPTION, token_help="a Grafana service account token"
    )


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert collect grafana``: 0 when recorded as asked, else 1 (2: usage)."""
    cliopts.require("collect", "requests")
    from pytest_loadcert.collect.http_options import settings_from_args
    from pytest_loadcert.collect.progress import StatusLine

    status = StatusLine(getattr(ns, "prog", "loadcert"))
    try:
        http = settings_from_args(ns, token_option=TOKEN_OPTION)
        profile = cliopts.load_profile(ns)
        with status:
            status.update("asking Grafana for the dashboard", force=True)
            result = collect(
                ns.url,
                ns.dashboard_uid,
                ns.evidence_dir,
                profile,
                snapshot=ns.snapshot,
                snapshot_expires_s=ns.snapshot_expires_s,
                http=http,
                log=status.log,
                progress=status.update,
            )
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    for warning in result.warnings:
        cliopts.log(ns, f"warning: {warning}")
    if result.written is not None and result.window is not None:
        kind = "snapshot" if result.snapshot_url is not None else "dashboard"
        print(f"{result.written}: written ({kind}, {result.window[0]} .. {result.window[1]})")
    if result.snapshot_url is not None:
        print(f"snapshot: {result.snapshot_url}")
    for problem in result.problems:
        cliopts.error(ns, problem, cliopts.EXIT_FAILED)
    return cliopts.EXIT_FAILED if result.problems else cliopts.EXIT_OK
