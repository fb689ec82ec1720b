"""What a certification run collects, and which collected tests are its gates.

The built-in gates and the repository's gate paths (never its unit tests), their
parametrization over the profile's stages and subjects, the gate each item is, the waivers,
and the deselection of everything that is not a gate.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_loadcert.plugin.state import GATE_KEY, WAIVER_KEY, WORKER_OUTPUT, key_to_json

if TYPE_CHECKING:
    from pytest_loadcert.gates.catalogue import GateKey
    from pytest_loadcert.plugin.state import RunState

BUILTIN_GATES = Path(__file__).with_name("builtin_gates.py")
BUILTIN_NODEID = "loadcert/builtin_gates.py"


def gate_args(explicit: list[str], gate_paths: tuple[Path, ...]) -> list[str]:
    """What a certification run collects: the built-in gates, then the paths given on the
    command line or else the repository's gate paths (``loadcert_gates``), never its unit
    tests. A node id as the run printed it (``loadcert/builtin_gates.py::...``) names the
    built-in gates wherever the package is installed."""
    given = [_builtin_path(arg) for arg in explicit]
    # A node id inside the built-in gates asks for that gate alone (the rest are then not
    # run, so the verdict is blocked: a rerun of one gate diagnoses, it does not certify).
    builtin = (
        [] if any(arg.startswith(f"{BUILTIN_GATES}::") for arg in given) else [str(BUILTIN_GATES)]
    )
    paths = [*builtin, *given, *(str(p) for p in gate_paths if not explicit)]
    return list(dict.fromkeys(paths))


def _builtin_path(arg: str) -> str:
    path, sep, rest = arg.partition("::")
    if Path(path).as_posix() == BUILTIN_NODEID:
        return f"{BUILTIN_GATES}{sep}{rest}"
    return arg


def parametrize(metafunc: pytest.Metafunc, state: RunState) -> None:
    """Parametrize a gate over the profile's stages (``loadcert_stage``) and over a profile
    list (``loadcert_subject``, named by ``@pytest.mark.loadcert_gate(subjects=...)``)."""
    if "loadcert_stage" in metafunc.fixturenames:
        names = list(state.profile.stage_names)
        metafunc.parametrize("loadcert_stage", names, ids=names, indirect=True)
    if "loadcert_subject" in metafunc.fixturenames:
        from pytest_loadcert.gates.catalogue import SUBJECT_KINDS, subjects

        marker = metafunc.definition.get_closest_marker("loadcert_gate")
        kind = marker.kwargs.get("subjects") if marker else None
        if kind not in SUBJECT_KINDS:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: loadcert_subject needs "
                "@pytest.mark.loadcert_gate(name, subjects=...) with one of "
                f"{', '.join(SUBJECT_KINDS)}"
            )
        values = subjects(state.profile, kind)
        metafunc.parametrize("loadcert_subject", values, ids=values, indirect=True)


def gate_key(item: pytest.Item) -> GateKey | None:
    """The gate an item is (name, stage, subject), or None for a test that is not a gate."""
    from pytest_loadcert.gates.catalogue import GateKey

    marker = item.get_closest_marker("loadcert_gate")
    fixturenames = getattr(item, "fixturenames", ())
    if marker is None and not any(name.startswith("loadcert_") for name in fixturenames):
        return None
    name = marker.args[0] if marker and marker.args else getattr(item, "originalname", item.name)
    name = name.removeprefix("test_")
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    stage = params.get("loadcert_stage")
    subject = params.get("loadcert_subject")
    if callspec is not None and subject is None:
        # A gate's own parametrization (beyond the stage) identifies its subject.
        rest = [part for part in callspec.id.split("-") if part != stage]
        subject = "-".join(rest) or None
    return GateKey(name, stage, subject)


def select_gates(config: pytest.Config, state: RunState, items: list[pytest.Item]) -> None:
    """Keep the gates (the profile's built-in gates and the team's), mark and record each,
    apply the waivers, and deselect everything else."""
    gates: list[pytest.Item] = []
    others: list[pytest.Item] = []
    seen: dict[GateKey, str] = {}
    required = set(state.expected)
    _check_scope(config, state, required, {item.nodeid for item in items})
    for item in items:
        key = gate_key(item)
        builtin = item.path == BUILTIN_GATES
        if key is None or (builtin and key not in required):
            others.append(item)  # not a gate, or a built-in gate the profile does not require
            continue
        if key in seen:
            state.problems.append(f"{item.nodeid} and {seen[key]} are both gate {key.id}")
        seen[key] = item.nodeid
        item.stash[GATE_KEY] = key
        item.add_marker(pytest.mark.loadcert)
        item.user_properties.append(("loadcert.gate", key.id))
        state.collected[item.nodeid] = key
        apply_waiver(state, item, key)
        gates.append(item)
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = gates
    if hasattr(config, "workeroutput"):
        config.workeroutput[WORKER_OUTPUT] = json.dumps(
            {
                "keys": sorted(key_to_json(k) for k in state.collected.values()),
                "problems": state.problems,
            }
        )


def _check_scope(
    config: pytest.Config, state: RunState, required: set[GateKey], present: set[str]
) -> None:
    """Add the run problems of what was collected against what is declared
    (:mod:`pytest_loadcert.plugin.scope`)."""
    from pytest_loadcert.plugin.scope import scope_problems, unloaded_conftests
    from pytest_loadcert.plugin.state import loaded_conftests

    def relative(path: Path) -> str:
        return os.path.relpath(path, config.rootpath)

    problems = scope_problems(
        declared=state.gate_files,
        builtin=BUILTIN_GATES.resolve(),
        required=required,
        discovered=state.discovered,
        present=present,
        relative=relative,
    )
    problems += unloaded_conftests(
        state.gate_conftests,
        set(loaded_conftests(config)),
        {item.path.resolve() for item in state.discovered},
        relative,
    )
    for problem in problems:
        if problem not in state.problems:
            state.problems.append(problem)


def apply_waiver(state: RunState, item: pytest.Item, key: GateKey) -> None:
    """Stash the first matching waiver's reason on the item (an expired one blocks)."""
    from pytest_loadcert.certify.classify import matching_waiver
    from pytest_loadcert.evidence.timeutil import now_utc

    waiver = matching_waiver(state.profile.waivers, key, now_utc().date())
    if waiver is not None:
        item.stash[WAIVER_KEY] = waiver
