"""RFC 3339 UTC times as the bundle writes them (``...Z``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Strict: a 'Z' suffix is required, fractional seconds optional (up to nanoseconds).
_RFC3339_Z = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?Z$", re.ASCII)


def parse_utc(value: object) -> datetime | None:
    """Parse an RFC 3339 UTC string ending in ``Z``; None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _RFC3339_Z.fullmatch(value)
    if match is None:
        return None
    try:
        # The pattern fixed the layout; fromisoformat checks the calendar (strptime's
        # equal, ten times slower: a 5,000-pod snapshot carries ~45,000 times).
        base = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    except ValueError:
        return None
    fraction = match.group(2)
    if fraction:
        # datetime keeps microseconds; nanosecond digits beyond that are truncated.
        micros = int((fraction[1:] + "000000")[:6])
        base = base.replace(microsecond=micros)
    return base


def format_utc(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with a ``Z`` suffix (millisecond precision)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def now_utc() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
