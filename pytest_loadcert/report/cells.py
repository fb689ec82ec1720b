"""How the report shows a figure, a bound and a status: the cells of its tables and the
marks of its lists, the same in every rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_loadcert.report.blocks import Over, Text, ident
from pytest_loadcert.status import (
    BLOCKED,
    CERTIFIED,
    FAILED,
    GATE_BLOCKED,
    NOT_CERTIFIED,
    NOT_RUN,
    PASSED,
    WAIVED,
)

if TYPE_CHECKING:
    from pytest_loadcert.certify.model import GateEntry, StageMetric


STATUS_MARK = {
    PASSED: "✅",
    FAILED: "❌",
    GATE_BLOCKED: "⛔",
    NOT_RUN: "⚪",
    WAIVED: "\u2796",  # heavy minus sign
    CERTIFIED: "✅",
    NOT_CERTIFIED: "❌",
    BLOCKED: "⛔",
}


def num(value: object, fmt: str, suffix: str = "") -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return format(value, fmt) + suffix


def general(value: object) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return format(value, "g") if isinstance(value, float) else str(value)


def throughput(value: object) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B/s"


def bound_text(metric: StageMetric) -> str:
    low, high = metric["min"], metric["max"]
    if low is not None and high is not None:
        return f"{general(low)} .. {general(high)}"
    if low is not None:
        return f">= {general(low)}"
    if high is not None:
        return f"<= {general(high)}"
    return "none"


def judged(value: object, text: str, bound: object, *, below: bool = False) -> Text:
    """A figure's cell, marked :class:`Over` when it is on the wrong side of its bound."""
    number = (int, float)
    if not isinstance(value, number) or isinstance(value, bool):
        return (text,)
    if not isinstance(bound, number) or isinstance(bound, bool):
        return (text,)
    over = value < bound if below else value > bound
    return (Over(text),) if over else (text,)


def more(total: int, shown: int, what: str) -> str | None:
    return f"and {total - shown} more {what} (all in certificate.json)" if total > shown else None


@dataclass(frozen=True)
class Limits:
    """How much of each list a rendering shows, and the longest cell."""

    rows: int
    cell: int


def gate_text(gate: GateEntry) -> Text:
    return (ident(gate["id"]),)
