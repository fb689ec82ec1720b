"""A gate's status from what happened when it ran: the rule, pytest-free.

pytest says a phase (setup, call, teardown) passed, failed or was skipped, perhaps as an
expected failure, and what it raised. loadcert says what that proves:

=====================================================  ===========
what happened                                          status
=====================================================  ===========
the call passed                                        passed
``assert`` or ``pytest.fail`` in the call              failed (measured, over the bound)
unusable evidence (EvidenceError), in any phase        blocked
any other error, or a failure outside the call         blocked
skipped under a valid waiver                           waived
skipped otherwise (an expired waiver is not valid)     blocked
marked xfail (failed or passed)                        blocked
=====================================================  ===========

The plugin (:mod:`pytest_loadcert.plugin.outcomes`) describes each report as a
:class:`PhaseResult`, asks :func:`classify`, and shows the answer in pytest's terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pytest_loadcert.config.profile import Waiver
from pytest_loadcert.gates.catalogue import GateKey
from pytest_loadcert.status import FAILED, GATE_BLOCKED, PASSED, WAIVED, GateStatus


@dataclass(frozen=True)
class WaiverState:
    """The profile's waiver that matched a gate: valid (the gate may be skipped, and is then
    ``waived``) or expired (the gate is blocked before it runs)."""

    message: str
    expired: bool

    @classmethod
    def of(cls, waiver: Waiver, key: GateKey, today: date) -> WaiverState:
        if waiver.expired(today):
            return cls(
                f"the waiver by {waiver.owner} for {key.id} expired on {waiver.expires}", True
            )
        return cls(f"waived by {waiver.owner} until {waiver.expires}: {waiver.reason}", False)


def matching_waiver(waivers: tuple[Waiver, ...], key: GateKey, today: date) -> WaiverState | None:
    """The first waiver of the profile that names ``key``, as of ``today``."""
    for waiver in waivers:
        if waiver.matches(key.gate, key.stage, key.subject):
            return WaiverState.of(waiver, key, today)
    return None


class Raised(StrEnum):
    """What a phase raised, as far as the rule cares."""

    EVIDENCE = "evidence"  # EvidenceError: the evidence could not say
    ASSERTION = "assertion"  # assert or pytest.fail: a measured value missed its bound
    OTHER = "other"  # anything else, a skip's exception included


@dataclass(frozen=True)
class PhaseResult:
    """One phase of a gate, as pytest reported it."""

    when: str  # setup, call or teardown
    outcome: str  # passed, failed or skipped
    xfail: bool = False
    raised: Raised | None = None
    text: str = ""  # what was raised, in one line (the EvidenceError's message)


@dataclass(frozen=True)
class Status:
    """A phase's loadcert status, and for a gate blocked by what pytest called a skip,
    an xfail or unusable evidence, the message its report must carry instead."""

    status: GateStatus
    message: str | None = None


def classify(gate_id: str, result: PhaseResult, waiver: WaiverState | None) -> Status | None:
    """The status of one phase of gate ``gate_id``; None for a phase that says nothing
    (a setup or teardown that passed)."""
    if result.xfail:
        return Status(
            GATE_BLOCKED, f"gate {gate_id} is marked xfail; an expected failure proves nothing"
        )
    if result.outcome == "skipped":
        if waiver is not None and not waiver.expired:
            return Status(WAIVED)
        reason = result.text if result.raised is not None else "skipped"
        return Status(
            GATE_BLOCKED, f"gate {gate_id} was skipped ({reason}); a skipped gate is not evidence"
        )
    if result.outcome == "failed":
        if result.raised is Raised.EVIDENCE:
            return Status(GATE_BLOCKED, result.text)
        if result.when == "call" and result.raised is Raised.ASSERTION:
            return Status(FAILED)
        return Status(GATE_BLOCKED)
    if result.when == "call":
        return Status(PASSED)
    return None
