"""Test helpers: the bundle factory lives beside the tests."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
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

# The same for the package's own modules: a gate module first imported inside an in-process
# run is imported again after it, and a GateResult its old functions return is then no
# instance of the new module's class. The built-in gates import every gate module.
import pytest_loadcert.gates.result
import pytest_loadcert.plugin.builtin_gates  # noqa: F401

# Hypothesis profiles (tests/strategies.py EXAMPLES holds the per-property counts, and
# scales them by profile): "quick", the default, the inner loop, deterministic, a twentieth of
# each count; "ci", what .ci/run selects, deterministic, every count in full; "long" draws
# fresh random examples, twenty times as many: HYPOTHESIS_PROFILE=long pytest tests/gates
for _name in ("quick", "ci"):
    settings.register_profile(
        _name, derandomize=True, deadline=None, database=None, print_blob=True
    )
settings.register_profile("long", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

# The suite runs the plugin hundreds of times, in process (pytester re-imports it each time)
# and in subprocesses. With PYTHONDONTWRITEBYTECODE set, as some machines set it, every one
# of those runs compiled the package and assertion-rewrote the plugin's modules again;
# allowing bytecode for the test run (and the processes it starts) lets them reuse it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

#: hypothesis's pytest plugin imports all of hypothesis (1.3 s) at the end of every pytest
#: run it is loaded in; the suite's pytest subprocesses use no hypothesis.
NO_HYPOTHESIS = ("-p", "no:hypothesispytest")


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, whose pytest subprocesses leave hypothesis's plugin out (NO_HYPOTHESIS)."""
    run = pytester.runpytest_subprocess

    def runpytest_subprocess(
        *args: str | os.PathLike[str], timeout: float | None = None
    ) -> pytest.RunResult:
        return run(*NO_HYPOTHESIS, *args, timeout=timeout)

    monkeypatch.setattr(pytester, "runpytest_subprocess", runpytest_subprocess)
    return pytester


# Every certificate the plugin writes during this suite, in any test, serial or under
# xdist, in-process or in a child pytest, is listed in one receipt file
# ($LOADCERT_RECEIPT, inherited by workers and children). At the end, each one that is still
# as the plugin wrote it is read back as `loadcert report` reads it: the plugin must never
# write a certificate that its own report refuses. Certificates a test edited afterwards
# (the hostile ones) are counted, not read.
_RECEIPTS = "LOADCERT_RECEIPT"
_RECEIPT_KEY = pytest.StashKey[Path]()
_RESULT_KEY = pytest.StashKey[tuple[int, int, list[str]]]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _RECEIPTS in os.environ:
        return
    folder = Path(tempfile.mkdtemp(prefix="loadcert-suite-receipts-"))
    os.environ[_RECEIPTS] = str(folder / "receipts.jsonl")
    config.stash[_RECEIPT_KEY] = folder


def pytest_sessionfinish(session: pytest.Session) -> None:
    folder = session.config.stash.get(_RECEIPT_KEY, None)
    if folder is None:
        return
    from pytest_loadcert.certify.read import read_certificate
    from pytest_loadcert.certify.session import read_receipts
    from pytest_loadcert.errors import EvidenceError
    from pytest_loadcert.evidence.hashing import sha256_file

    checked, edited, refused = 0, 0, []
    for receipt in read_receipts(folder / "receipts.jsonl"):
        try:
            if sha256_file(receipt.certificate) != receipt.sha256:
                edited += 1
                continue
        except OSError:  # replaced by a directory, or its test's folder cleaned up
            edited += 1
            continue
        try:
            read_certificate(receipt.certificate)
            checked += 1
        except EvidenceError as exc:
            refused.append(str(exc))
    session.config.stash[_RESULT_KEY] = (checked, edited, refused)
    if refused and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    result = config.stash.get(_RESULT_KEY, None)
    if result is None:
        return
    checked, edited, refused = result
    terminalreporter.write_line(
        f"loadcert report read back {checked} certificates the plugin wrote in this run "
        f"({edited} edited afterwards by their tests, not read); {len(refused)} refused"
    )
    for line in refused:
        terminalreporter.write_line(f"REFUSED: {line}", red=True)
    shutil.rmtree(config.stash[_RECEIPT_KEY], ignore_errors=True)
