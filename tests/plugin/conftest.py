"""Fixtures of the tests that certify a repository with a failing team gate (tests/teamrepo.py)."""

from __future__ import annotations

from pathlib import Path

import bundlefactory as bf
import pytest
from teamrepo import MODES


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sealed bundle that certifies with the built-in gates alone."""
    return bf.build_variant("valid", tmp_path_factory.mktemp("team") / "bundle")


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.slow) if name == "xdist" else name
        for name in sorted(MODES)
    ]
)
def mode(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """Serial, then ``-n 2``. The ``-n 2`` runs (2-3 s each) are in the slow tier: .ci/run
    runs them, the inner loop (``-m "not slow"``) does not."""
    return MODES[request.param]
