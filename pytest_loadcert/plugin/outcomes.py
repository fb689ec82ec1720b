"""A gate's outcome in loadcert's words: each pytest report given the status
:mod:`pytest_loadcert.certify.classify` decides (passed, failed, blocked or waived), and how
the terminal and junit show it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest

from pytest_loadcert.certify.classify import PhaseResult, Raised
from pytest_loadcert.certify.classify import classify as decide
from pytest_loadcert.plugin.state import (
    GATE_KEY,
    WAIVER_KEY,
    gate_report_status,
    mark_gate_report,
    report_message,
)
from pytest_loadcert.status import GATE_BLOCKED, PASSED, WAIVED


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


def _phase_result(call: pytest.CallInfo[None], report: pytest.TestReport) -> PhaseResult:
    """What :func:`pytest_loadcert.certify.classify.classify` needs to know of a report."""
    from pytest_loadcert.errors import EvidenceError

    excinfo = call.excinfo
    raised = text = None
    if excinfo is not None:
        if excinfo.errisinstance(EvidenceError):
            raised, text = Raised.EVIDENCE, str(excinfo.value)
        elif excinfo.errisinstance((AssertionError, pytest.fail.Exception)):
            raised, text = Raised.ASSERTION, excinfo.exconly()
        else:
            raised, text = Raised.OTHER, excinfo.exconly()
    return PhaseResult(
        when=report.when or "",
        outcome=report.outcome,
        xfail=hasattr(report, "wasxfail"),
        raised=raised,
        text=text or "",
    )


def classify(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Give a gate's report its loadcert status (:mod:`pytest_loadcert.certify.classify`
    decides it) and show it in pytest's terms: a blocked gate is a junit ``<error>``."""
    key = item.stash.get(GATE_KEY, None)
    if key is None:
        return
    decided = decide(key.id, _phase_result(call, report), item.stash.get(WAIVER_KEY, None))
    if decided is None:
        return
    phase = None
    if decided.status == GATE_BLOCKED:
        if hasattr(report, "wasxfail"):
            del report.wasxfail
        report.outcome = "failed"
        # junit writes <error> only for a non-call phase; the phase it really blocked in
        # rides along, so junit's message can say so.
        if report.when == "call":
            report.when, phase = "setup", "call"
        if decided.message is not None:
            report.longrepr = f"blocked: {decided.message}"
    mark_gate_report(report, key, decided.status, phase)
    item.user_properties.append(("loadcert.status", decided.status))
    if decided.status != PASSED:
        item.user_properties.append(("loadcert.message", report_message(report)))


def terminal_status(
    report: pytest.TestReport,
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """How the terminal spells a blocked or waived gate."""
    status = gate_report_status(report)
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
