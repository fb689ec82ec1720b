"""``loadcert collect prometheus``: ask Prometheus the profile's queries for each stage window.

For every ``stages/<stage>/stage.json`` and every ``[[metrics]]`` entry of the profile, one
instant query ``GET /api/v1/query?query=<promql>&time=<t>``:

- ``promql`` is the profile's query with ``{window}`` = the stage duration in whole seconds,
  rounded up (``ceil(end - start)``, e.g. ``9s``) and ``{stage}`` = the stage name;
- ``t`` is the stage end rounded up to the whole second, plus ``--delay-s``.

Prometheus answers for past instants, but a sample can land after the instant it describes:
k6 pushes its final remote-write batch as it exits, and the last scrape of the service may
still be in flight. So before asking anything the collector waits, in wall-clock time, until
``t + 5 s`` has passed for every stage (:data:`SETTLE_S`). Asking earlier could return a
truncated counter that looks like valid evidence.

Answers are written untouched to ``stages/<stage>/prometheus.json``. Nothing is defaulted: an
error answer is recorded as the error it is (the gates block on it) and makes the command
fail; an empty result is recorded as empty (the gates treat it as missing).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_loadcert import cliopts
from pytest_loadcert.bundle import Bundle, StageRun
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.jsonio import parse_json, write_json_atomic
from pytest_loadcert.profile import STAGE_NAME_RE, Profile
from pytest_loadcert.prometheus import window_seconds
from pytest_loadcert.timeutil import format_utc, now_utc

if TYPE_CHECKING:
    import requests

HELP = "query Prometheus for each stage window (stages/<stage>/prometheus.json)"

#: Seconds to wait after the evaluation time before asking: k6's final push, the last scrape.
SETTLE_S = 5.0
#: (connect, read) timeouts for one query.
HTTP_TIMEOUT_S = (5.0, 30.0)
PROMETHEUS_JSON = "prometheus.json"


class CollectError(Exception):
    """Collection cannot start; ``exit_status`` 2 = usage, 1 = bad evidence in the bundle."""

    def __init__(self, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


@dataclass
class CollectResult:
    """Files written, and every problem met (non-empty problems = exit status 1)."""

    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def evaluation_time(end: datetime, delay_s: int) -> datetime:
    """The stage end rounded up to the whole second, plus ``delay_s``."""
    whole = end.replace(microsecond=0)
    if whole != end:
        whole += timedelta(seconds=1)
    return whole + timedelta(seconds=delay_s)


def check_url(url: str) -> str:
    """The Prometheus base URL without a trailing slash; raises CollectError (2) if unusable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CollectError(f"--url {url!r}: expected http(s)://host:port[/prefix]", exit_status=2)
    if parts.query or parts.fragment:
        raise CollectError(f"--url {url!r}: must not carry a query or fragment", exit_status=2)
    return url.rstrip("/")


def stage_windows(evidence_dir: Path, profile: Profile) -> list[StageRun]:
    """Every stage directory holding a ``stage.json``, in the profile's ramp order.

    Directories the profile does not name come last, by name. Raises :class:`CollectError`
    for a stage.json that is unreadable or has no usable window.
    """
    stages_dir = evidence_dir / "stages"
    if not evidence_dir.is_dir():
        raise CollectError(f"--evidence-dir {evidence_dir}: not a directory", exit_status=2)
    names: list[str] = []
    if stages_dir.is_dir() and not stages_dir.is_symlink():
        for entry in os.scandir(stages_dir):
            # Never follow a link: it could point at another run's evidence.
            if entry.is_dir(follow_symlinks=False) and os.path.lexists(
                Path(entry.path) / "stage.json"
            ):
                names.append(entry.name)
    if not names:
        raise CollectError(
            f"{evidence_dir}: no stages/<stage>/stage.json to collect for; "
            "run `loadcert run-stage` first",
            exit_status=2,
        )
    order = {name: index for index, name in enumerate(profile.stage_names)}
    names.sort(key=lambda name: (order.get(name, len(order)), name))
    bundle = Bundle(evidence_dir)
    return [_read_window(bundle, name) for name in names]


def _read_window(bundle: Bundle, stage: str) -> StageRun:
    if not STAGE_NAME_RE.fullmatch(stage):
        raise CollectError(f"stages/{stage}: not a valid stage name")
    try:
        run = bundle.stage_run(stage)
    except EvidenceError as exc:
        raise CollectError(str(exc)) from None
    if run.end <= run.start:
        raise CollectError(
            f"{run.rel}: end_time {run.end_text} is not after start_time {run.start_text}"
        )
    return run


def collect(
    url: str,
    evidence_dir: Path,
    profile: Profile,
    delay_s: int = 0,
    *,
    session: requests.Session | None = None,
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda message: None,
) -> CollectResult:
    """Query Prometheus at ``url`` for every stage window and write ``prometheus.json``.

    Raises :class:`CollectError` when collection cannot start (bad URL or delay, no stage,
    a broken stage.json). Query failures do not raise: they are recorded when Prometheus
    answered with a JSON body, and listed in :attr:`CollectResult.problems`.
    """
    base = check_url(url)
    if delay_s < 0:
        raise CollectError(f"--delay-s {delay_s}: must not be negative", exit_status=2)
    windows = stage_windows(evidence_dir, profile)
    max_delay = profile.k6.eval_delay_max_s
    for window in windows:
        late = (evaluation_time(window.end, delay_s) - window.end).total_seconds()
        if late > max_delay:
            raise CollectError(
                f"--delay-s {delay_s}: stage {window.name!r} would be evaluated {late:g}s after "
                f"it ended, beyond [k6] eval_delay_max_s = {max_delay:g} "
                f"({profile.source}); the gates would block it",
                exit_status=2,
            )

    ready_at = max(evaluation_time(w.end, delay_s) for w in windows) + timedelta(seconds=SETTLE_S)
    wait = (ready_at - clock()).total_seconds()
    if wait > 0:
        log(f"waiting {wait:.1f}s for late samples (k6's final push, the last scrape)")
        sleep(wait)

    result = CollectResult()
    if session is not None:
        for window in windows:
            _collect_stage(base, evidence_dir, profile, window, delay_s, session, clock, result)
        return result
    import requests  # only here: the rest of the CLI must not pay for importing requests

    with requests.Session() as own:
        for window in windows:
            _collect_stage(base, evidence_dir, profile, window, delay_s, own, clock, result)
    return result


def _collect_stage(
    base: str,
    evidence_dir: Path,
    profile: Profile,
    window: StageRun,
    delay_s: int,
    session: requests.Session,
    clock: Callable[[], datetime],
    result: CollectResult,
) -> None:
    import requests

    moment = evaluation_time(window.end, delay_s)
    time_text = format_utc(moment.astimezone(UTC))
    queries: list[dict[str, Any]] = []
    for spec in profile.metrics:
        promql = spec.query_for(window.name, window_seconds(window.start, window.end))
        where = f"stage {window.name!r}, query {spec.name!r}"
        try:
            response = session.get(
                f"{base}/api/v1/query",
                params={"query": promql, "time": time_text},
                headers={"Accept": "application/json"},
                timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            result.problems.append(f"{where}: no answer from {base}: {exc}")
            continue
        try:
            body = parse_json(response.content, "response")
        except EvidenceError:
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            # Not a Prometheus API answer (a proxy's HTML page, say): nothing to record.
            result.problems.append(
                f"{where}: HTTP {response.status_code} from {response.url} is not a Prometheus "
                "API response; not recorded"
            )
            continue
        queries.append({"name": spec.name, "promql": promql, "time": time_text, "response": body})
        if response.status_code != 200 or body.get("status") != "success":
            result.problems.append(
                f"{where} failed: HTTP {response.status_code}, "
                f"{body.get('errorType', '?')}: {body.get('error', 'no error text')} "
                f"(PromQL: {promql})"
            )
            continue
        data = body.get("data")
        if isinstance(data, dict) and data.get("result") == []:
            result.warnings.append(
                f"{where} returned no series (PromQL: {promql}); recorded as empty, "
                "which the gates treat as missing"
            )

    if not queries and profile.metrics:
        # Nothing was answered: keep whatever an earlier collection wrote for this window.
        return
    document = {
        "stage": window.name,
        "window": {"start": window.start_text, "end": window.end_text},
        "collected_at": format_utc(clock()),
        "queries": queries,
    }
    path = evidence_dir / "stages" / window.name / PROMETHEUS_JSON
    write_json_atomic(path, document)
    result.written.append(path)


# ----------------------------------------------------------------------------- command line


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert collect prometheus``."""
    parser.add_argument(
        "--url", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090"
    )
    cliopts.add_evidence_dir(parser)
    cliopts.add_profile(parser)
    parser.add_argument(
        "--delay-s",
        type=cliopts.non_negative_int,
        default=0,
        metavar="N",
        help="evaluate N seconds after the stage end (rounded up to the second); default 0",
    )


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert collect prometheus``: 0 when every query succeeded, else 1 (2: usage)."""
    from pytest_loadcert.profile import ProfileError

    def log(message: str) -> None:
        cliopts.log(ns, message)

    try:
        profile = cliopts.load_profile(ns)
        result = collect(ns.url, ns.evidence_dir, profile, ns.delay_s, log=log)
    except ProfileError as exc:
        return cliopts.error(ns, str(exc), cliopts.EXIT_USAGE)
    except CollectError as exc:
        return cliopts.error(ns, str(exc), exc.exit_status)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    for path in result.written:
        print(f"{path}: written")
    for warning in result.warnings:
        log(f"warning: {warning}")
    for problem in result.problems:
        cliopts.error(ns, problem, cliopts.EXIT_FAILED)
    return cliopts.EXIT_FAILED if result.problems else cliopts.EXIT_OK
