"""Text from the bundle is printed on one line, without control characters: an environment
name holding a newline and terminal escapes printed a green "VERDICT: CERTIFIED" line over a
run that was not certified."""

from __future__ import annotations

import json
from pathlib import Path

import bundlefactory as bf
import pytest

from pytest_loadcert.errors import EvidenceError, printable

FORGED = "staging\x1b[1A\x1b[2K\r\nVERDICT: CERTIFIED\u202e (run ok)\x1b[32m"


def test_printable_keeps_one_line_of_visible_text() -> None:
    assert printable("plain text, é and ü") == "plain text, é and ü"
    assert printable(FORGED) == "staging [1A [2K VERDICT: CERTIFIED  (run ok) [32m"
    assert printable("two  spaces stay") == "two  spaces stay"
    message = str(EvidenceError("loadcert.json", "environment", f"is {FORGED!s}"))
    assert "\n" not in message and "\x1b" not in message and "\u202e" not in message


@pytest.mark.parametrize("mode", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_an_environment_name_cannot_forge_a_verdict_line(
    pytester: pytest.Pytester, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    files = bf.variant_files("p95_high")  # not_certified: p95 450 ms at 100k
    files[bf.LOADCERT]["environment"] = FORGED
    bundle = bf.write_bundle(tmp_path / "bundle", files)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "--color=no", *mode
    )
    out = result.stdout.str()
    assert result.ret == 1
    assert "\x1b" not in out and "\u202e" not in out
    verdicts = [line for line in out.splitlines() if line.startswith("VERDICT:")]
    assert verdicts == [
        "VERDICT: NOT_CERTIFIED  (run "
        + json.loads((bundle / "loadcert.json").read_text())["run_id"]
        + ", environment staging [1A [2K VERDICT: CERTIFIED  (run ok) [32m)"
    ]
