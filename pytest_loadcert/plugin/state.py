"""Run state shared by the plugin's hooks and fixtures, kept in ``config.stash``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast, get_args

import pytest

from pytest_loadcert.certify.classify import WaiverState
from pytest_loadcert.certify.verdict import Outcome
from pytest_loadcert.config.committed import Committed
from pytest_loadcert.gates.catalogue import GateKey
from pytest_loadcert.status import GateStatus

if TYPE_CHECKING:
    from pytest_loadcert.certify.model import Certificate
    from pytest_loadcert.config.profile import Profile
    from pytest_loadcert.evidence.bundle import Bundle
    from pytest_loadcert.gates.result import GateResult
    from pytest_loadcert.plugin.scope import Discovered, GateFunction
    from pytest_loadcert.plugin.settings import Settings


@dataclass
class RunState:
    """Everything a certification run accumulates. Lives on each process's config."""

    settings: Settings
    profile: Profile
    bundle: Bundle
    expected: list[GateKey]
    collected: dict[str, GateKey] = field(default_factory=dict)  # nodeid -> key (pre-deselect)
    #: The team's gate files under the declared gate paths (plugin/scope.py), found once.
    gate_files: tuple[Path, ...] = ()
    #: The gate functions those files define, read from their source (plugin/gatedefs.py).
    gate_functions: tuple[GateFunction, ...] = ()
    #: Every conftest.py that takes part in judging the gate paths (plugin/scope.py).
    gate_conftests: tuple[Path, ...] = ()
    #: Every item as pytest collected it, before any collection hook could remove it.
    discovered: list[Discovered] = field(default_factory=list)
    outcomes: dict[GateKey, Outcome] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    certificate: Certificate | None = None


STATE_KEY = pytest.StashKey[RunState]()
COMMITTED_KEY = pytest.StashKey[Committed]()
GATE_KEY = pytest.StashKey[GateKey]()
WAIVER_KEY = pytest.StashKey[WaiverState]()

RESULT_PROPERTIES = ("observed", "required", "samples", "source")
WORKER_OUTPUT = "loadcert_collected"


def loaded_conftests(config: pytest.Config) -> list[Path]:
    """The conftest.py files this process loaded."""
    return [
        Path(module_file).resolve()
        for plugin in config.pluginmanager.get_plugins()
        if isinstance(module_file := getattr(plugin, "__file__", None), str)
        and Path(module_file).name == "conftest.py"
    ]


def key_to_json(key: GateKey) -> str:
    return json.dumps([key.gate, key.stage, key.subject])


def key_from_json(text: str) -> GateKey:
    gate, stage, subject = json.loads(text)
    return GateKey(gate, stage, subject)


#: Comparisons whose two sides are a gate's observed and required values.
COMPARISONS = frozenset({">=", "<=", ">", "<", "==", "!="})


def record_comparison(item: pytest.Item, op: str, left: object, right: object) -> None:
    """A failed ``assert observed <op> required`` in a team gate: its two values become the
    gate's observed and required figures, as a built-in gate's result would give them."""
    item.user_properties.append(("loadcert.observed", _short(left)))
    item.user_properties.append(("loadcert.required", f"{op} {_short(right)}"))


def _short(value: object, limit: int = 80) -> str:
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = limit
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def record_result(item: pytest.Item, result: GateResult) -> None:
    """Attach a gate's measurement to the item; it rides to the controller on the report."""
    for name in RESULT_PROPERTIES:
        item.user_properties.append((f"loadcert.{name}", getattr(result, name)))


# A gate's status rides on its report as plain attributes: xdist sends a report's attributes
# (strings only) from the worker to the controller, which decides the verdict.
_STATUS, _GATE, _PHASE = "loadcert_status", "loadcert_gate", "loadcert_phase"


def mark_gate_report(
    report: pytest.TestReport, key: GateKey, status: GateStatus, phase: str | None
) -> None:
    """Put ``status`` of gate ``key`` on its report; ``phase``: where a gate shown as a setup
    error really blocked (``"call"``)."""
    marks = {_STATUS: status, _GATE: key_to_json(key)}
    if phase is not None:
        marks[_PHASE] = phase
    vars(report).update(marks)


def gate_report_status(report: object) -> GateStatus | None:
    """The loadcert status a gate's report carries; None for any other report."""
    status = getattr(report, _STATUS, None)
    for known in get_args(GateStatus):
        if status == known:
            return cast(GateStatus, known)
    return None


def gate_report_key(report: object) -> GateKey | None:
    """The gate a report is of; None for any other report."""
    text = getattr(report, _GATE, None)
    return None if text is None else key_from_json(str(text))


def blocked_in_call(report: object) -> bool:
    """True for a gate that blocked in its body and is shown as a setup error."""
    return getattr(report, _PHASE, None) == "call"


def report_message(report: pytest.TestReport) -> str:
    """The first line of what a report says (a failure's or skip's message)."""
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        text = str(report.longrepr[2])
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(report.longrepr)
        text = text.removeprefix("Failed: ")
    line = text.splitlines()[0] if text else ""
    # One line for people (junit, HTML, the certificate), never a whole object's repr.
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."


MESSAGE_LIMIT = 500
