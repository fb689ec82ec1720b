"""A certifying repository with a failing team gate, for the tests of what a run judges.

``certification/test_team.py`` fails at 1k: judged, it makes the run ``not_certified``
(exit 1); ``certification/test_other.py`` passes. A test that shrinks the judged set expects
``blocked`` (exit 2) or a refusal (exit 4), never exit 0. Each case runs serial and with
``-n 2`` (``MODES``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

FAILING_GATE = "def test_team_rule(loadcert_stage):\n    assert loadcert_stage.name != '1k'\n"
PASSING_GATE = "def test_other_rule(loadcert_stage):\n    assert loadcert_stage.name\n"

MODES: dict[str, tuple[str, ...]] = {"serial": (), "xdist": ("-n", "2")}


def repository(pytester: pytest.Pytester, gates: str = "certification", ini: str = "") -> Path:
    """The repository's ini declares ``gates``; returns the ``certification`` folder."""
    pytester.makeini(f"[pytest]\nloadcert_gates = {gates}\n{ini}")
    folder = pytester.mkdir("certification")
    (folder / "test_team.py").write_text(FAILING_GATE)
    (folder / "test_other.py").write_text(PASSING_GATE)
    return folder
