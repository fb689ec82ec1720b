"""The status rule of a gate's phase, without pytest: what each outcome proves."""

from __future__ import annotations

from datetime import date

import pytest

from pytest_loadcert.certify.classify import (
    PhaseResult,
    Raised,
    Status,
    WaiverState,
    classify,
    matching_waiver,
)
from pytest_loadcert.config.profile import Waiver
from pytest_loadcert.gates.catalogue import GateKey

GATE = "p99_latency[smoke]"
VALID = WaiverState("waived by sre until 2027-01-01: too few requests", expired=False)
EXPIRED = WaiverState("the waiver by sre for p99_latency[smoke] expired on 2026-01-01", True)


@pytest.mark.parametrize(
    ("result", "waiver", "expected"),
    [
        (PhaseResult("call", "passed"), None, Status("passed")),
        (PhaseResult("setup", "passed"), None, None),
        (PhaseResult("teardown", "passed"), None, None),
        (
            PhaseResult("call", "failed", raised=Raised.ASSERTION, text="assert 450 <= 300"),
            None,
            Status("failed"),
        ),
        # an assert outside the gate's body measured nothing
        (PhaseResult("setup", "failed", raised=Raised.ASSERTION), None, Status("blocked")),
        (PhaseResult("teardown", "failed", raised=Raised.ASSERTION), None, Status("blocked")),
        (
            PhaseResult("call", "failed", raised=Raised.EVIDENCE, text="a.json: x is missing"),
            None,
            Status("blocked", "a.json: x is missing"),
        ),
        (
            PhaseResult("setup", "failed", raised=Raised.EVIDENCE, text="a.json: x is missing"),
            None,
            Status("blocked", "a.json: x is missing"),
        ),
        (PhaseResult("call", "failed", raised=Raised.OTHER), None, Status("blocked")),
        (PhaseResult("setup", "skipped", raised=Raised.OTHER), VALID, Status("waived")),
        (
            PhaseResult("setup", "skipped", raised=Raised.OTHER, text="Skipped: no data"),
            None,
            Status(
                "blocked",
                f"gate {GATE} was skipped (Skipped: no data); a skipped gate is not evidence",
            ),
        ),
        (
            PhaseResult("setup", "skipped", raised=Raised.OTHER, text="Skipped: x"),
            EXPIRED,
            Status(
                "blocked", f"gate {GATE} was skipped (Skipped: x); a skipped gate is not evidence"
            ),
        ),
        (
            PhaseResult("call", "skipped", xfail=True),
            VALID,  # a waiver never turns an xfail into anything but blocked
            Status("blocked", f"gate {GATE} is marked xfail; an expected failure proves nothing"),
        ),
        (
            PhaseResult("call", "passed", xfail=True),
            None,
            Status("blocked", f"gate {GATE} is marked xfail; an expected failure proves nothing"),
        ),
    ],
)
def test_each_outcome_has_one_status(
    result: PhaseResult, waiver: WaiverState | None, expected: Status | None
) -> None:
    assert classify(GATE, result, waiver) == expected


def test_a_waiver_is_valid_until_the_day_before_it_expires() -> None:
    waiver = Waiver("p99_latency", "smoke", None, "sre", "too few requests", date(2027, 1, 1))
    key = GateKey("p99_latency", "smoke")
    valid = matching_waiver((waiver,), key, date(2026, 12, 31))
    assert valid == WaiverState("waived by sre until 2027-01-01: too few requests", False)
    expired = matching_waiver((waiver,), key, date(2027, 1, 1))
    assert expired is not None and expired.expired
    assert "expired on 2027-01-01" in expired.message
    assert matching_waiver((waiver,), GateKey("p95_latency", "smoke"), date(2026, 1, 1)) is None
