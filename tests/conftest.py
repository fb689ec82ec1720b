"""Test helpers: the bundle factory lives beside the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# pytester restores sys.modules after every in-process run. A library first imported inside
# such a run is dropped from sys.modules afterwards while its C extensions or module-level
# state stay loaded, and importing it again fails (numpy: "cannot load module more than
# once"; requests: "You can only merge into CookieJar"). Import them once here, for every
# test module, whatever order xdist runs them in.
import matplotlib  # noqa: F401
import numpy  # noqa: F401
import requests  # noqa: F401

# Hypothesis profiles (tests/strategies.py EXAMPLES holds the per-property counts, and
# scales them by profile): "quick", the default, the inner loop, deterministic, a tenth of
# each count; "ci", what .ci/run selects, deterministic, every count in full; "long" draws
# fresh random examples, twenty times as many: HYPOTHESIS_PROFILE=long pytest tests/gates
for _name in ("quick", "ci"):
    settings.register_profile(
        _name, derandomize=True, deadline=None, database=None, print_blob=True
    )
settings.register_profile("long", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
