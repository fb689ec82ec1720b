"""A failed HTTP request in one line a person can act on: the TLS, connection, timeout or
cut-short answer behind the exceptions requests and urllib3 nest inside each other, and
whether the server could not be reached at all.

``requests`` and ``urllib3`` are imported inside each function, as in
:mod:`pytest_loadcert.collect.http`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Attempt(Protocol):
    """What a description names of how the request was made (an ``HttpSettings``)."""

    @property
    def retries(self) -> int: ...
    @property
    def ca_cert(self) -> Path | None: ...
    @property
    def connect_timeout_s(self) -> float: ...
    @property
    def read_timeout_s(self) -> float: ...


def error_chain(exc: BaseException) -> list[BaseException]:
    """``exc``, the urllib3 errors it wraps (``args[0]``, ``.reason``) and their causes."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        for candidate in (
            getattr(current, "reason", None),
            current.args[0] if current.args else None,
            current.__cause__,
            current.__context__,
        ):
            if isinstance(candidate, BaseException):
                todo.append(candidate)
    return seen


def unreachable(exc: BaseException) -> bool:
    import ssl

    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    kinds = (
        NewConnectionError,
        ConnectTimeoutError,
        requests.exceptions.ConnectTimeout,
        requests.exceptions.SSLError,
        ssl.SSLError,
    )
    return any(isinstance(error, kinds) for error in error_chain(exc))


def describe(exc: BaseException, settings: Attempt) -> str:
    import http.client
    import ssl

    import requests
    from urllib3.exceptions import (
        ConnectTimeoutError,
        IncompleteRead,
        MaxRetryError,
        NewConnectionError,
        ReadTimeoutError,
    )

    chain = error_chain(exc)
    gave_up = any(isinstance(e, MaxRetryError) for e in chain) and settings.retries > 0
    after = f" (gave up after {settings.retries} retries)" if gave_up else ""

    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    if has(requests.exceptions.SSLError, ssl.SSLError):
        hint = (
            "name the server's CA with --ca-cert FILE"
            if settings.ca_cert is None
            else f"is {settings.ca_cert} the CA that signed the server's certificate?"
        )
        return f"TLS failed: the server's certificate could not be verified ({hint})"
    if has(NewConnectionError):  # before ConnectTimeoutError, of which it is a subclass
        for error in chain:
            if isinstance(error, OSError) and error.strerror:
                return f"could not connect: {error.strerror}{after}"
        return f"could not connect{after}"
    if has(requests.exceptions.ConnectTimeout, ConnectTimeoutError):
        return f"connecting timed out after {settings.connect_timeout_s:g} s{after}"
    if has(requests.exceptions.ReadTimeout, ReadTimeoutError):
        return f"no answer within the read timeout of {settings.read_timeout_s:g} s{after}"
    for error in chain:
        if isinstance(error, IncompleteRead | http.client.IncompleteRead):
            return f"the answer was cut short ({error}): the connection closed mid-body"
    if has(requests.exceptions.ChunkedEncodingError):
        return "the answer was cut short: the connection closed mid-body"
    if has(http.client.RemoteDisconnected):
        return f"the server closed the connection without answering{after}"
    for error in chain:
        if isinstance(error, OSError) and error.strerror:
            return f"{error.strerror}{after}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}{after}"
