"""``loadcert collect prometheus``: ask Prometheus the profile's queries for each stage window.

For every ``stages/<stage>/stage.json`` and every ``[[metrics]]`` entry of the profile, one
instant query ``GET /api/v1/query?query=<promql>&time=<t>``:

- ``promql`` is the profile's query with every ``[{window}]`` asked as ``[<duration>] @
  <stage end>`` (the stage window exactly, to the millisecond, whatever ``t``) and
  ``{stage}`` = the stage name;
- ``t`` is the stage end rounded up to the whole second, plus ``--delay-s``.

Prometheus answers for past instants, but a sample can land after the instant it describes:
k6 pushes its final remote-write batch as it exits, and the last scrape of the service may
still be in flight. So before asking anything the collector waits, in wall-clock time, until
``t + 5 s`` has passed for every stage (:data:`SETTLE_S`). Asking earlier could return a
truncated counter that looks like valid evidence.

The queries run concurrently (``--concurrency``, default 4) over one keep-alive session of
:mod:`pytest_loadcert.collect.http` (retries with backoff on connection errors, timeouts, 429
and 5xx, credentials from the environment, TLS options). Each stage's queries are written in
the profile's order, whatever order the answers arrive in.

Answers are written untouched to ``stages/<stage>/prometheus.json``. Nothing is defaulted: an
error answer is recorded as the error it is (the gates block on it) and makes the command
fail; an empty result is recorded as empty (the gates treat it as missing); a query with no
Prometheus answer at all is not recorded (missing, so the gates block) and makes the command
fail.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from pytest_loadcert.evidence.jsonio import json_bytes, write_atomic
from pytest_loadcert.evidence.layout import PROMETHEUS_JSON, stage_file
from pytest_loadcert.evidence.prometheus import query_window
from pytest_loadcert.evidence.prometheus_coverage import expected_coverage
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.evidence.timeutil import format_utc, now_utc

if TYPE_CHECKING:
    import requests

HELP = "query Prometheus for each stage window (stages/<stage>/prometheus.json)"

#: Seconds to wait after the evaluation time before asking: k6's final push, the last scrape.
SETTLE_S = 5.0
#: A stage may end at most this many seconds after this machine's "now" (clock skew); a later
#: end_time is refused rather than waited for.
FUTURE_SLACK_S = 60.0
#: (connect, read) timeouts for one query, the defaults of :class:`HttpSettings`.
HTTP_TIMEOUT_S = (HttpSettings.connect_timeout_s, HttpSettings.read_timeout_s)
#: Queries in flight at once, by default. Prometheus answers an instant query in about a
#: millisecond; a few at once hide the network round trip without loading the server.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64


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
    """The Prometheus base URL without a trailing slash; raises CollectError (2) if unusable.

    A URL with ``user:password@`` is refused without being echoed.
    """
    try:
        return check_base_url(url)
    except HttpUsageError as exc:
        raise CollectError(str(exc), exit_status=cliopts.EXIT_USAGE) from None


@dataclass(frozen=True)
class _Query:
    """One instant query to ask: which stage and metric, the PromQL and the time."""

    stage: str
    name: str
    promql: str
    time: str
    #: The coverage queries: each selector's raw samples over the window (and max_gap_s
    #: before it), asked at the same time.
    coverage: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"stage {self.stage!r}, query {self.name!r}"


@dataclass(frozen=True)
class _Answer:
    """What one query produced: a record for prometheus.json (or None), and messages."""

    record: dict[str, Any] | None
    problem: str | None = None
    warning: str | None = None
    #: No answer at all: why (the transport's account, redacted), for one line per cause.
    no_answer: str | None = None
    #: The server could not be reached (no connection): asking anything else is pointless.
    unreachable: bool = False
    #: Not asked: the server had already proved unreachable.
    skipped: bool = False


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
    concurrency: int = DEFAULT_CONCURRENCY,
    http: HttpSettings | None = None,
    progress: Callable[[str], None] = lambda status: None,
) -> CollectResult:
    """Query Prometheus at ``url`` for every stage window and write ``prometheus.json``.

    ``log`` gets a line per step (waiting for late samples; the first retry of each kind);
    ``progress`` a status to show in place, on a terminal (queries answered, each retry).
    Once Prometheus cannot be reached at all (no connection), the queries not yet asked are
    not asked: the failure is reported once, with how many queries it left unrecorded.

    ``concurrency`` queries are in flight at once; ``http`` sets credentials, TLS, timeouts
    and retries (default :class:`HttpSettings`); a ``session`` given is used as it is (its
    own adapters and retries), with ``http``'s timeouts and TLS settings.

    Raises :class:`CollectError` when collection cannot start (bad URL, delay or
    concurrency, no stage, a broken stage.json). Query failures do not raise: they are
    recorded when Prometheus answered with a JSON body, and listed in
    :attr:`CollectResult.problems`. No message holds a credential of ``http``.
    """
    base = check_url(url)
    if delay_s < 0:
        raise CollectError(
            f"--delay-s {delay_s}: must not be negative", exit_status=cliopts.EXIT_USAGE
        )
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise CollectError(
            f"--concurrency {concurrency}: must be between 1 and {MAX_CONCURRENCY}",
            exit_status=cliopts.EXIT_USAGE,
        )
    settings = http if http is not None else HttpSettings()
    if settings.pool_size < concurrency:
        # Every worker gets a kept-alive connection of its own; none waits for the pool.
        settings = _with_pool(settings, concurrency)
    windows = stage_windows(evidence_dir, profile)
    max_delay = profile.k6.eval_delay_max_s
    for window in windows:
        late = (evaluation_time(window.end, delay_s) - window.end).total_seconds()
        if late > max_delay:
            raise CollectError(
                f"--delay-s {delay_s}: stage {window.name!r} would be evaluated {late:g}s after "
                f"it ended, beyond [k6] eval_delay_max_s = {max_delay:g} "
                f"({profile.source}); the gates would block it",
                exit_status=cliopts.EXIT_USAGE,
            )

    now = clock()
    for window in windows:
        ahead = (window.end - now).total_seconds()
        if ahead > FUTURE_SLACK_S:  # waiting for it would take as long: refuse instead
            raise CollectError(
                f"{window.rel}: end_time {window.end_text} is in the future ({ahead:.0f}s from "
                "now): the stage has not ended, or this machine's clock disagrees with the one "
                "that ran k6"
            )
    ready_at = max(evaluation_time(w.end, delay_s) for w in windows) + timedelta(seconds=SETTLE_S)
    wait = (ready_at - now).total_seconds()
    if wait > 0:
        log(f"waiting {wait:.1f}s for late samples (k6's final push, the last scrape)")
        sleep(wait)

    plan = {window.name: _plan(window, profile, delay_s) for window in windows}
    queries = [q for stage_queries in plan.values() for q in stage_queries]
    result = CollectResult(warnings=list(settings.warnings()))
    tracker = _Tracker(base, len(queries), log, progress)
    with HttpClient(settings, session=session, on_retry=tracker.retried) as client:
        answers = _ask_all(client, base, queries, concurrency, tracker)
        for window in windows:
            _write_stage(evidence_dir, window, plan[window.name], answers, client, clock, result)
        result.problems = _no_answer_problems(base, queries, answers) + result.problems
        result.problems = [client.redact(p) for p in result.problems]
        result.warnings = [client.redact(w) for w in result.warnings]
    return result


def _with_pool(settings: HttpSettings, pool_size: int) -> HttpSettings:
    from dataclasses import replace

    return replace(settings, pool_size=pool_size)


def _plan(window: StageRun, profile: Profile, delay_s: int) -> list[_Query]:
    """The stage's queries, in the profile's order, each with its coverage queries."""
    moment = format_utc(evaluation_time(window.end, delay_s).astimezone(UTC))
    span = query_window(window.start, window.end)
    gap = profile.prometheus.max_gap_s
    return [
        _Query(
            window.name,
            spec.name,
            spec.query_for(window.name, *span),
            moment,
            tuple(
                promql
                for _, promql in expected_coverage(spec, window.name, window.start, window.end, gap)
            ),
        )
        for spec in profile.metrics
    ]


class _Tracker:
    """Progress of the queries, shared by the worker threads: answers counted for the status
    line, retries reported (:class:`RetryReporter`), and whether Prometheus proved
    unreachable."""

    def __init__(
        self,
        base: str,
        total: int,
        log: Callable[[str], None],
        progress: Callable[[str], None],
    ) -> None:
        import threading

        self.total = total
        self.progress = progress
        self.retried = RetryReporter(base, log, progress)
        self.done = 0
        self.unreachable = threading.Event()
        self._lock = threading.Lock()

    def answered(self) -> None:
        with self._lock:
            self.done += 1
            done = self.done
        self.progress(f"{done}/{self.total} queries done")


def _ask_all(
    client: HttpClient, base: str, queries: list[_Query], concurrency: int, tracker: _Tracker
) -> dict[_Query, _Answer]:
    """Ask every query, ``concurrency`` at a time; answers keyed by query (order-free)."""
    if concurrency == 1 or len(queries) <= 1:
        return {query: _ask(client, base, query, tracker) for query in queries}
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="loadcert-prom")
    try:
        futures = {query: executor.submit(_ask, client, base, query, tracker) for query in queries}
        return {query: future.result() for query, future in futures.items()}
    finally:
        # On Ctrl-C: drop what has not started; what runs ends within its timeouts.
        executor.shutdown(wait=True, cancel_futures=True)


def _ask(client: HttpClient, base: str, query: _Query, tracker: _Tracker) -> _Answer:
    if tracker.unreachable.is_set():
        return _Answer(None, skipped=True)
    answer = _ask_once(client, base, query, tracker)
    tracker.answered()
    return answer


def _no_answer_problems(
    base: str, queries: list[_Query], answers: dict[_Query, _Answer]
) -> list[str]:
    """One line per cause of queries that got no answer at all, not one per query: a
    Prometheus that cannot be reached is said once, with how many queries it cost."""
    causes: dict[str, list[_Query]] = {}
    unreachable: str | None = None
    for query in queries:  # the profile's order: the first cause met is named first
        answer = answers[query]
        if answer.no_answer is not None:
            if answer.unreachable and unreachable is None:
                unreachable = answer.no_answer
            causes.setdefault(answer.no_answer, []).append(query)
    lines: list[str] = []
    if unreachable is not None:
        lost = [q for q in queries if answers[q].skipped or answers[q].unreachable]
        lines.append(
            f"no answer from {base}: {unreachable}; {len(lost)} of {len(queries)} queries not "
            "recorded" + (f" ({lost[0].where})" if len(lost) == 1 else "")
        )
    for cause, failed in causes.items():
        if all(answers[q].unreachable for q in failed):
            continue  # said above
        failed = [q for q in failed if not answers[q].unreachable]
        who = failed[0].where + (f" and {len(failed) - 1} more" if len(failed) > 1 else "")
        lines.append(f"{who}: no answer from {base}: {cause}")
    return lines


def _fetch(
    client: HttpClient, base: str, where: str, promql: str, moment: str
) -> tuple[int, dict[str, Any]] | str:
    """``GET /api/v1/query``: (HTTP status, the API body), or why there is nothing to record
    (an answer quoting a credential, or not a Prometheus API answer). A transport failure
    raises ``requests.RequestException``."""
    response = client.get(f"{base}/api/v1/query", params={"query": promql, "time": moment})
    if client.contains_secret(response.content):
        return (
            f"{where}: the answer from {base} contains a credential given for this "
            "collection; not recorded"
        )
    body = response_json(response)
    if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
        # Not a Prometheus API answer (a proxy's HTML page, say): nothing to record.
        kind = response.headers.get("Content-Type", "no Content-Type")
        return (
            f"{where}: HTTP {response.status_code} ({kind}) from {base} is not a Prometheus "
            "API response; not recorded"
        )
    return response.status_code, body


def _ask_once(client: HttpClient, base: str, query: _Query, tracker: _Tracker) -> _Answer:
    import requests

    try:
        fetched = _fetch(client, base, query.where, query.promql, query.time)
    except requests.RequestException as exc:
        unreachable = client.unreachable(exc)
        if unreachable:
            tracker.unreachable.set()
        return _Answer(None, no_answer=client.describe(exc), unreachable=unreachable)
    if isinstance(fetched, str):
        return _Answer(None, problem=fetched)
    status, body = fetched
    record: dict[str, Any] = {
        "name": query.name,
        "promql": query.promql,
        "time": query.time,
        "response": body,
    }
    if status != 200 or body.get("status") != "success":
        return _Answer(
            record,
            problem=f"{query.where} failed: HTTP {status}, "
            f"{body.get('errorType', '?')}: {body.get('error', 'no error text')} "
            f"(PromQL: {query.promql})",
        )
    if body.get("warnings"):
        return _Answer(
            record,
            problem=f"{query.where}: Prometheus says the answer is partial: "
            f"{body['warnings'][0]} (PromQL: {query.promql}); the gates block it",
        )
    coverage, problem = _ask_coverage(client, base, query)
    if coverage is not None:
        record["coverage"] = coverage
    if problem is not None:
        return _Answer(record, problem=problem)
    data = body.get("data")
    if isinstance(data, dict) and data.get("result") == []:
        return _Answer(
            record,
            warning=f"{query.where} returned no series (PromQL: {query.promql}); recorded as "
            "empty, which the gates treat as missing",
        )
    return _Answer(record)


def _ask_coverage(
    client: HttpClient, base: str, query: _Query
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The raw samples of each of the query's selectors, or (what was got, a problem)."""
    import requests

    entries: list[dict[str, Any]] = []
    for promql in query.coverage:
        where = f"{query.where}: coverage query {promql!r}"
        try:
            fetched = _fetch(client, base, where, promql, query.time)
        except requests.RequestException as exc:
            return None, f"{where}: no answer from {base}: {client.describe(exc)}"
        if isinstance(fetched, str):
            return None, fetched
        _, body = fetched
        entries.append({"promql": promql, "response": body})
        if body.get("status") != "success" or body.get("warnings"):
            reason = body.get("error") or (body.get("warnings") or ["?"])[0]
            return entries, f"{where} failed: {reason}"
    return entries, None


def _write_stage(
    evidence_dir: Path,
    window: StageRun,
    queries: list[_Query],
    answers: dict[_Query, _Answer],
    client: HttpClient,
    clock: Callable[[], datetime],
    result: CollectResult,
) -> None:
    records: list[dict[str, Any]] = []
    for query in queries:  # the profile's order, not the order answers arrived in
        answer = answers[query]
        if answer.problem is not None:
            result.problems.append(answer.problem)
        if answer.warning is not None:
            result.warnings.append(answer.warning)
        if answer.record is not None:
            records.append(answer.record)
    if not records and queries:
        # Nothing was answered: keep whatever an earlier collection wrote for this window.
        return
    document = {
        "stage": window.name,
        "window": {"start": window.start_text, "end": window.end_text},
        "collected_at": format_utc(clock()),
        "queries": records,
    }
    data = json_bytes(document)
    rel = stage_file(window.name, PROMETHEUS_JSON)
    if client.contains_secret(data):
        result.problems.append(f"{rel}: not written: it would contain a credential")
        return
    path = evidence_dir / rel
    write_atomic(path, data)
    result.written.append(path)


# ----------------------------------------------------------------------------- command line

TOKEN_OPTION = "--bearer-token-env"


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert collect prometheus``."""
    from pytest_loadcert.collect.http_options import add_http_options

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
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"queries in flight at once over one keep-alive session "
        f"(1..{MAX_CONCURRENCY}, default {DEFAULT_CONCURRENCY})",
    )
    add_http_options(
        parser,
        token_option=TOKEN_OPTION,
        token_help="e.g. a Prometheus behind an authenticating proxy",
    )


def _concurrency(text: str) -> int:
    value = cliopts.positive_int(text)
    if value > MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{text!r} is above {MAX_CONCURRENCY}")
    return value


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert collect prometheus``: 0 when every query succeeded, else 1 (2: usage)."""
    cliopts.require("collect", "requests")
    from pytest_loadcert.collect.http_options import settings_from_args
    from pytest_loadcert.collect.progress import StatusLine

    def log(message: str) -> None:
        cliopts.log(ns, message)

    status = StatusLine(getattr(ns, "prog", "loadcert"))
    try:
        http = settings_from_args(ns, token_option=TOKEN_OPTION, pool_size=ns.concurrency)
        profile = cliopts.load_profile(ns)
        with status:
            result = collect(
                ns.url,
                ns.evidence_dir,
                profile,
                ns.delay_s,
                log=lambda message: status.log(message),
                concurrency=ns.concurrency,
                http=http,
                progress=status.update,
            )
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    for path in result.written:
        print(f"{path}: written")
    for warning in result.warnings:
        log(f"warning: {warning}")
    for problem in result.problems:
        cliopts.error(ns, problem, cliopts.EXIT_FAILED)
    return cliopts.EXIT_FAILED if result.problems else cliopts.EXIT_OK
