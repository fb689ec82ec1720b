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


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """Serial, then ``-n 2``."""
    return MODES[request.param]
