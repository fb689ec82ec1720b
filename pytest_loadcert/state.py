"""Run state shared by the plugin's hooks and fixtures, kept in ``config.stash``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_loadcert.verdict import GateKey, Outcome

if TYPE_CHECKING:
    from pytest_loadcert.bundle import Bundle
    from pytest_loadcert.gates import GateResult
    from pytest_loadcert.profile import Profile
    from pytest_loadcert.settings import Settings


@dataclass
class RunState:
    """Everything a certification run accumulates. Lives on each process's config."""

    settings: Settings
    profile: Profile
    bundle: Bundle
    expected: list[GateKey]
    collected: dict[str, GateKey] = field(default_factory=dict)  # nodeid -> key (pre-deselect)
    outcomes: dict[GateKey, Outcome] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    certificate: dict[str, Any] | None = None


STATE_KEY = pytest.StashKey[RunState]()
GATE_KEY = pytest.StashKey[GateKey]()
WAIVER_KEY = pytest.StashKey[str]()

RESULT_PROPERTIES = ("observed", "required", "samples", "source")
WORKER_OUTPUT = "loadcert_collected"


def key_to_json(key: GateKey) -> str:
    return json.dumps([key.gate, key.stage, key.subject])


def key_from_json(text: str) -> GateKey:
    gate, stage, subject = json.loads(text)
    return GateKey(gate, stage, subject)


def record_result(item: pytest.Item, result: GateResult) -> None:
    """Attach a gate's measurement to the item; it rides to the controller on the report."""
    for name in RESULT_PROPERTIES:
        item.user_properties.append((f"loadcert.{name}", getattr(result, name)))


def report_message(report: pytest.TestReport) -> str:
    """The first line of what a report says (a failure's or skip's message)."""
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        text = str(report.longrepr[2])
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(report.longrepr)
        text = text.removeprefix("Failed: ")
    return text.splitlines()[0] if text else ""
