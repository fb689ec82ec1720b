"""One HTTP client for the collectors that talk to HTTP APIs (Prometheus, Grafana).

:class:`HttpClient` wraps one :class:`requests.Session` with keep-alive: an ``HTTPAdapter``
whose connection pool holds at least as many connections as the collector runs requests at
once, and urllib3's :class:`~urllib3.util.retry.Retry` mounted on it, so connection errors,
read timeouts, 429 and 5xx answers are retried with exponential backoff (and after the
server's ``Retry-After``, capped) by urllib3 itself. When the retries are spent on an error
status, the last answer is returned (``raise_on_status=False``) so the caller can record the
server's own error body.

Credentials: a bearer token or a basic-auth password is read from an environment variable
the user names (never from the command line, where ``ps`` and shell history would keep it).
A missing or empty variable is a usage error naming the variable, never the value. Every
message the collectors print goes through :meth:`HttpClient.redact`, and
:meth:`HttpClient.contains_secret` lets them refuse to write an answer that carries a
credential. URLs with ``user:password@`` are refused without being echoed.

``requests`` and ``urllib3`` are imported only when a client is built: ``loadcert --help``
and the pytest plugin never pay for them. The options that build :class:`HttpSettings` are in
:mod:`~pytest_loadcert.collect.http_options`; how a failed request is said, in
:mod:`~pytest_loadcert.collect.http_errors`.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import parse_json

if TYPE_CHECKING:
    import requests

#: Statuses worth asking again: rate limited, or a server/proxy that may recover.
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: An environment variable's name (POSIX: upper case, digits, underscore). A token pasted
#: where a name belongs does not match, so it is refused without being echoed.
ENV_NAME_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
REDACTED = "[REDACTED]"


class HttpUsageError(cliopts.CommandError):
    """A bad HTTP option or credential source (exit status 2). The message holds no secret."""

    default_status = cliopts.EXIT_USAGE


@dataclass(frozen=True)
class HttpSettings:
    """How to reach a server: timeouts, retries, TLS and credentials.

    Secrets are excluded from ``repr`` so a settings object can be logged safely.
    """

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 0.5
    retry_after_max_s: float = 30.0
    pool_size: int = 10
    ca_cert: Path | None = None
    insecure: bool = False
    bearer_token: str | None = field(default=None, repr=False)
    basic_user: str | None = None
    basic_password: str | None = field(default=None, repr=False)

    def secrets(self) -> list[str]:
        """Every credential value, and the encoded forms that could travel in a header."""
        values = [v for v in (self.bearer_token, self.basic_password) if v]
        if self.basic_user is not None and self.basic_password:
            pair = f"{self.basic_user}:{self.basic_password}".encode()
            values.append(base64.b64encode(pair).decode("ascii"))
        return values

    def warnings(self) -> list[str]:
        """What the user should be told about these settings (``--insecure``)."""
        if self.insecure:
            return [
                "--insecure: TLS certificates are NOT verified; anyone on the path can "
                "impersonate the server (use --ca-cert FILE instead)"
            ]
        return []


def check_base_url(url: str, option: str = "--url") -> str:
    """The base URL without a trailing slash; raises :class:`HttpUsageError` if unusable.

    A URL carrying credentials (``user:password@host``) is refused, and is not echoed.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range raises here
    except ValueError:  # an unclosed "[" of an IPv6 address, a port out of range
        shown = "(not shown: it may carry credentials)" if "@" in url else repr(url)
        raise HttpUsageError(f"{option} {shown}: expected http(s)://host:port[/prefix]") from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise HttpUsageError(
            f"{option}: must not carry credentials (user:password@); the URL is not shown. "
            "Pass them with the --*-env options instead"
        )
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HttpUsageError(f"{option} {url!r}: expected http(s)://host:port[/prefix]")
    if parts.query or parts.fragment:
        raise HttpUsageError(
            f"{option}: must not carry a query or fragment (the URL is not shown: it may hold "
            "a token)"
        )
    return url.rstrip("/")


def secret_from_env(name: str, option: str) -> str:
    """The value of environment variable ``name``; a usage error naming it when unset/empty."""
    value = os.environ.get(name)
    if value is None:
        raise HttpUsageError(f"{option} {name}: the environment variable {name} is not set")
    if not value.strip():
        raise HttpUsageError(f"{option} {name}: the environment variable {name} is empty")
    # http.client refuses such a header value with an exception that quotes it (a token
    # read from a file often ends in a newline): refuse it here, naming only the variable.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise HttpUsageError(
            f"{option} {name}: the environment variable {name} holds a line break or another "
            "control character (a trailing newline?), which an HTTP header cannot carry; "
            "the value is not shown"
        )
    if not all(ord(char) < 0x100 for char in value):
        raise HttpUsageError(
            f"{option} {name}: the environment variable {name} holds a character outside "
            "Latin-1, which an HTTP header cannot carry; the value is not shown"
        )
    return value


def response_json(response: requests.Response) -> Any:
    """The answer's body parsed strictly as JSON, or ``None`` when it is not JSON."""
    try:
        return parse_json(response.content, "response")
    except EvidenceError:
        return None


@dataclass(frozen=True)
class RetryEvent:
    """A request is about to be asked again: retry ``attempt`` of ``retries``, in about
    ``wait_s`` seconds, because of ``reason`` (redacted; e.g. ``could not connect: Connection
    refused``, ``HTTP 503``)."""

    attempt: int
    retries: int
    wait_s: float
    reason: str


class RetryReporter:
    """What a user sees of retries: the first retry of each kind as one line (``log``), every
    retry as a status (``progress``, shown in place on a terminal). Thread-safe."""

    def __init__(
        self,
        server: str,
        log: Callable[[str], None],
        progress: Callable[[str], None] = lambda status: None,
    ) -> None:
        import threading

        self.server = server
        self.log = log
        self.progress = progress
        self._lock = threading.Lock()
        self._logged: set[str] = set()

    def __call__(self, event: RetryEvent) -> None:
        with self._lock:
            first = event.reason not in self._logged
            self._logged.add(event.reason)
        if first:
            self.log(
                f"no answer yet from {self.server} ({event.reason}); retrying, up to "
                f"{event.retries} time{'s' if event.retries != 1 else ''}"
            )
        retry = f"retry {event.attempt}/{event.retries} in {event.wait_s:.1f} s"
        self.progress(f"{retry}: {event.reason}")


class HttpClient:
    """A session with retries, keep-alive, TLS settings and credentials; see the module doc.

    Thread-safe for concurrent GETs (one connection pool, ``pool_block`` so at most
    ``pool_size`` connections are ever open). Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        session: requests.Session | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self._secrets = sorted(set(settings.secrets()), key=len, reverse=True)
        self._owned = session is None
        self._on_retry = on_retry
        self.session = session if session is not None else self._build_session()

    def _build_session(self) -> requests.Session:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        settings = self.settings
        cap = settings.retry_after_max_s
        client = self

        class CappedRetry(Retry):
            """urllib3's Retry, with the server's Retry-After capped: a proxy asking for an
            hour must not hang a collection; and each retry told to ``on_retry``."""

            def parse_retry_after(self, retry_after: str) -> float:
                return min(super().parse_retry_after(retry_after), cap)

            def increment(self, *args: Any, **kwargs: Any) -> Any:
                retry = super().increment(*args, **kwargs)  # raises when the retries are spent
                response = kwargs.get("response", args[2] if len(args) > 2 else None)
                error = kwargs.get("error", args[3] if len(args) > 3 else None)
                client._retried(retry, response, error)
                return retry

        retry = CappedRetry(
            total=settings.retries,
            connect=settings.retries,
            read=settings.retries,
            status=settings.retries,
            other=0,
            redirect=False,
            backoff_factor=settings.backoff_s,
            status_forcelist=RETRY_STATUSES,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(
            pool_connections=4,
            pool_maxsize=max(1, settings.pool_size),
            max_retries=retry,
            pool_block=True,
        )
        session = requests.Session()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["Accept"] = "application/json"
        if settings.bearer_token:
            session.auth = _bearer_auth(settings.bearer_token)
        elif settings.basic_user is not None and settings.basic_password:
            session.auth = (settings.basic_user, settings.basic_password)
        if settings.insecure:
            import urllib3

            # The user asked for it and was warned once (HttpSettings.warnings); urllib3
            # would otherwise warn again on every request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        return session

    def _retried(self, retry: Any, response: Any, error: BaseException | None) -> None:
        if self._on_retry is None:
            return
        if response is not None and getattr(response, "status", None):
            reason = f"HTTP {response.status}"
            wait = retry.get_retry_after(response)
        else:
            reason = self.describe(error) if error is not None else "no answer"
            wait = None
        if wait is None:
            wait = retry.get_backoff_time()
        total = retry.total if isinstance(retry.total, int) else 0
        self._on_retry(
            RetryEvent(self.settings.retries - total, self.settings.retries, float(wait), reason)
        )

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout_s, self.settings.read_timeout_s)

    @property
    def verify(self) -> bool | str:
        if self.settings.insecure:
            return False
        if self.settings.ca_cert is not None:
            return str(self.settings.ca_cert)
        return True

    def get(self, url: str, params: dict[str, str] | None = None) -> requests.Response:
        """GET ``url`` (retried as configured); raises ``requests.RequestException``."""
        # verify is passed on every call: a session-level value loses to REQUESTS_CA_BUNDLE.
        return self.session.get(url, params=params, timeout=self.timeout, verify=self.verify)

    def post_json(self, url: str, document: object) -> requests.Response:
        """POST ``document`` as JSON. Not retried on an error status or a read error (a POST
        is not idempotent); only a connection that never reached the server is retried."""
        return self.session.post(url, json=document, timeout=self.timeout, verify=self.verify)

    def redact(self, text: str) -> str:
        """``text`` with every credential value replaced by ``[REDACTED]``."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def add_secret(self, value: str) -> None:
        """Treat ``value`` (e.g. a snapshot's delete key) as a credential from now on."""
        if value and value not in self._secrets:
            self._secrets = sorted({*self._secrets, value}, key=len, reverse=True)

    def contains_secret(self, data: bytes) -> bool:
        """Whether ``data`` holds a credential (raw, or as a JSON document would escape it)."""
        import json

        for secret in self._secrets:
            forms = {
                secret.encode(),
                json.dumps(secret)[1:-1].encode(),
                json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
            }
            if any(form in data for form in forms):
                return True
        return False

    def unreachable(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the server cannot be reached at all (no connection, no TLS
        handshake): every other request to it would fail the same way."""
        from pytest_loadcert.collect.http_errors import unreachable

        return unreachable(exc)

    def describe(self, exc: BaseException) -> str:
        """A one-line, redacted account of why a request got no usable answer."""
        from pytest_loadcert.collect.http_errors import describe

        return self.redact(describe(exc, self.settings))

    def close(self) -> None:
        if self._owned:
            self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _bearer_auth(token: str) -> Any:
    """An ``AuthBase`` sending ``Authorization: Bearer <token>``.

    Set as the session's auth (not a plain header) so a ``~/.netrc`` entry for the host
    cannot silently replace it, and so requests drops it on a redirect to another host.
    """
    from requests.auth import AuthBase

    class BearerAuth(AuthBase):
        def __init__(self, value: str) -> None:
            self._value = value

        def __call__(self, request: Any) -> Any:
            request.headers["Authorization"] = f"Bearer {self._value}"
            return request

        def __repr__(self) -> str:
            return "BearerAuth([REDACTED])"

    return BearerAuth(token)
