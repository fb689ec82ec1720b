"""The expected gate x stage matrix and the tri-state verdict (pytest-free).

``not_certified`` dominates ``blocked``, which dominates ``certified``. A gate that did not
run (deselected, skipped, interrupted, never collected) is ``blocked``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_loadcert.config.profile import Profile
from pytest_loadcert.gates.catalogue import GateKey
from pytest_loadcert.status import (  # the words, re-exported for the certify layer
    BLOCKED,
    CERTIFIED,
    EXIT_STATUS,
    FAILED,
    GATE_BLOCKED,
    NOT_CERTIFIED,
    NOT_RUN,
    PASSED,
    WAIVED,
    GateStatus,
    VerdictWord,
)

__all__ = [
    "BLOCKED",
    "CERTIFIED",
    "EXIT_STATUS",
    "FAILED",
    "GATE_BLOCKED",
    "NOT_CERTIFIED",
    "NOT_RUN",
    "PASSED",
    "WAIVED",
    "Outcome",
    "Verdict",
    "decide",
]


@dataclass
class Outcome:
    """How one gate ended, as the controller saw it."""

    key: GateKey
    status: GateStatus
    message: str = ""
    nodeid: str = ""
    observed: str = ""
    required: str = ""
    samples: str = ""
    source: str = ""


@dataclass
class Verdict:
    """The aggregated verdict."""

    verdict: VerdictWord
    #: Each stage's standing in this run: never ``certified`` while the run level is not.
    stages: dict[str, VerdictWord]
    highest_certified_stage: str | None
    not_run: list[str]
    problems: list[str] = field(default_factory=list)
    #: Each stage's own gates alone (``stages`` differs where the run level holds it back).
    stage_gates: dict[str, VerdictWord] = field(default_factory=dict)
    #: The run-level gates (bindings, cluster, observability) and run problems together.
    run_level: VerdictWord = CERTIFIED
    run_level_reason: str | None = None


def _worst(statuses: list[GateStatus]) -> VerdictWord:
    if FAILED in statuses:
        return NOT_CERTIFIED
    if any(s in (GATE_BLOCKED, NOT_RUN) for s in statuses):
        return BLOCKED
    return CERTIFIED


def decide(
    profile: Profile,
    expected: list[GateKey],
    outcomes: dict[GateKey, Outcome],
    problems: list[str],
) -> Verdict:
    """Aggregate gate outcomes over the expected matrix into the verdict."""
    statuses: dict[GateKey, GateStatus] = {key: NOT_RUN for key in expected}
    for key, outcome in outcomes.items():
        statuses[key] = outcome.status
    not_run = [key.id for key, status in statuses.items() if status == NOT_RUN]
    stages = {
        stage: _worst([s for k, s in statuses.items() if k.stage == stage] or [NOT_RUN])
        for stage in profile.stage_names
    }
    overall = _worst(list(statuses.values()) or [NOT_RUN])
    if problems and overall == CERTIFIED:
        overall = BLOCKED
    # achieved_concurrency is the run's claim over the stages, not a condition of each one.
    run_gates = {
        key: status
        for key, status in statuses.items()
        if key.stage is None and key.gate != "achieved_concurrency"
    }
    held = [key.id for key, status in run_gates.items() if status not in (PASSED, WAIVED)]
    held_back: list[GateStatus] = [GATE_BLOCKED] if problems else []
    run_level = _worst([*run_gates.values(), *held_back])
    reason = None
    if problems:
        reason = problems[0] + (f" (and {len(problems) - 1} more problems)" if problems[1:] else "")
    elif held:
        reason = (
            f"run-level gate {', '.join(held[:3])}"
            + (f" and {len(held) - 3} more" if held[3:] else "")
            + f" {'failed' if run_level == NOT_CERTIFIED else 'did not pass'}"
        )
    standing = {
        stage: run_level if verdict == CERTIFIED else verdict for stage, verdict in stages.items()
    }
    highest = None
    if run_level == CERTIFIED:
        for stage in profile.stage_names:
            if stages[stage] != CERTIFIED:
                break
            highest = stage
    return Verdict(overall, standing, highest, not_run, list(problems), stages, run_level, reason)
