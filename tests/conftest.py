"""Test helpers: the bundle factory lives beside the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# Hypothesis profiles (tests/strategies.py EXAMPLES holds the per-property counts):
# "ci", the default, is deterministic and has no deadline; "long" draws fresh random
# examples, twenty times as many: HYPOTHESIS_PROFILE=long pytest tests/test_properties.py
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("long", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
