"""A gate's outcome in loadcert's words: each pytest report mapped to passed, failed,
blocked or waived, and how the terminal and junit show it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

from pytest_loadcert.plugin.state import GATE_KEY, WAIVER_KEY, key_to_json, report_message
from pytest_loadcert.status import FAILED, GATE_BLOCKED, PASSED, WAIVED


def evidence_report(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """A gate's unusable evidence as a report carrying its one-line message (no traceback)."""
    from pytest_loadcert.errors import EvidenceError

    if item.stash.get(GATE_KEY, None) is None or call.excinfo is None:
        return None
    if not call.excinfo.errisinstance(EvidenceError) or call.when == "collect":
        return None
    return pytest.TestReport(
        nodeid=item.nodeid,
        location=item.location,
        keywords=dict.fromkeys(item.keywords, 1),
        outcome="failed",
        longrepr=str(call.excinfo.value),
        when=call.when,
        sections=[],
        duration=call.duration,
        start=call.start,
        stop=call.stop,
        user_properties=item.user_properties,
    )


def _as_error(report: pytest.TestReport) -> None:
    # junit writes <error> only for a non-call phase; a blocked gate is an error, not a
    # failure. The phase it really blocked in rides along, so junit's message can say so.
    if report.when == "call":
        report.when = "setup"
        report.loadcert_phase = "call"  # type: ignore[attr-defined]


def _block(report: pytest.TestReport, message: str) -> None:
    report.outcome = "failed"
    _as_error(report)
    report.longrepr = f"blocked: {message}"
    report.loadcert_status = GATE_BLOCKED  # type: ignore[attr-defined]


def classify(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Give a gate's report its loadcert status: passed, failed (measured and over its bound),
    blocked (unusable evidence, an error, a skip or an xfail: nothing proven) or waived."""
    key = item.stash.get(GATE_KEY, None)
    if key is None:
        return
    from pytest_loadcert.errors import EvidenceError

    excinfo = call.excinfo
    waiver = item.stash.get(WAIVER_KEY, None)
    if hasattr(report, "wasxfail"):
        del report.wasxfail
        _block(report, f"gate {key.id} is marked xfail; an expected failure proves nothing")
    elif report.skipped:
        if waiver is not None and not waiver.startswith("expired:"):
            report.loadcert_status = WAIVED  # type: ignore[attr-defined]
        else:
            reason = excinfo.exconly() if excinfo else "skipped"
            _block(report, f"gate {key.id} was skipped ({reason}); a skipped gate is not evidence")
    elif report.failed:
        if excinfo is not None and excinfo.errisinstance(EvidenceError):
            _block(report, str(excinfo.value))
        elif (
            report.when == "call"
            and excinfo is not None
            and excinfo.errisinstance((AssertionError, pytest.fail.Exception))
        ):
            report.loadcert_status = FAILED  # type: ignore[attr-defined]
        else:
            report.loadcert_status = GATE_BLOCKED  # type: ignore[attr-defined]
            _as_error(report)
    elif report.when == "call":
        report.loadcert_status = PASSED  # type: ignore[attr-defined]
    status = getattr(report, "loadcert_status", None)
    if status is not None:
        report.loadcert_gate = key_to_json(key)  # type: ignore[attr-defined]
        item.user_properties.append(("loadcert.status", status))
        if status != PASSED:
            item.user_properties.append(("loadcert.message", report_message(report)))


def terminal_status(
    report: pytest.TestReport,
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """How the terminal spells a blocked or waived gate."""
    status = getattr(report, "loadcert_status", None)
    if status == GATE_BLOCKED:
        return "error", "B", ("BLOCKED", {"red": True})
    if status == WAIVED:
        return "waived", "w", ("WAIVED", {"yellow": True})
    return None


class GateExit(Exception):
    """A gate tried to end the process (``os._exit``): raised in its place, so the gate is
    blocked and the run still reaches its verdict and writes its certificate."""


@contextmanager
def process_kept_alive() -> Iterator[None]:
    """While a gate runs, ``os._exit`` raises :class:`GateExit` instead of ending the process
    (which would end the run with exit 0 and no certificate). ``sys.exit`` needs nothing:
    its SystemExit is already a gate error."""
    real = os._exit

    def refuse(status: int) -> NoReturn:
        raise GateExit(
            f"the gate called os._exit({status}); a gate that ends the process proves nothing"
        )

    os._exit = refuse
    try:
        yield
    finally:
        os._exit = real
