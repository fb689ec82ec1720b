"""What a certification run loads, runs and says about itself: the conftest files it imports,
the node ids it prints and accepts, the profile it names, and the exit status it records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bundlefactory as bf

WORKERS = pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])


def _certificate(pytester: pytest.Pytester) -> dict[str, object]:
    return json.loads((pytester.path / "certificate.json").read_text())  # type: ignore[no-any-return]


@WORKERS
def test_only_the_gate_paths_conftests_are_loaded(
    pytester: pytest.Pytester, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """A repository whose unit tests need a test-only package can still certify."""
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    pytester.makepyprojecttoml(
        "[tool.pytest.ini_options]\n"
        'testpaths = ["tests"]\n'
        'loadcert_gates = ["certification"]\n'
    )
    tests = pytester.mkdir("tests")
    (tests / "conftest.py").write_text("import a_test_only_package_that_is_not_installed\n")
    (tests / "test_unit.py").write_text("def test_unit():\n    pass\n")
    gates = pytester.mkdir("certification")
    (gates / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef team_floor():\n    return 1\n"
    )
    (gates / "test_team.py").write_text(
        "def test_team_floor(loadcert_k6, team_floor):\n"
        "    assert sum(s.count('http_reqs', 'count') for s in loadcert_k6) >= team_floor\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--evidence-dir={bundle}",
                                           *workers)
    assert "a_test_only_package" not in result.stdout.str() + result.stderr.str()
    certificate = _certificate(pytester)
    statuses = {g["id"]: g["status"] for g in certificate["gates"]}  # type: ignore[attr-defined]
    assert statuses["team_floor[100k]"] == "passed"
    assert "unit" not in statuses
    assert certificate["verdict"] == "certified"
    assert result.ret == 0


def test_without_evidence_the_repository_conftests_still_load(pytester: pytest.Pytester) -> None:
    """Outside a certification run pytest's own rules apply: the unit tests' conftest loads."""
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    tests = pytester.mkdir("tests")
    (tests / "conftest.py").write_text("import a_test_only_package_that_is_not_installed\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a_test_only_package_that_is_not_installed" in result.stderr.str()


@WORKERS
def test_a_printed_node_id_reruns_that_gate_alone(
    pytester: pytest.Pytester, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    listed = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "--collect-only", "-q"
    )
    nodeid = "loadcert/builtin_gates.py::test_p95_latency[1k]"
    assert nodeid in listed.stdout.str().splitlines()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", nodeid, *workers
    )
    result.assert_outcomes(passed=1)
    certificate = _certificate(pytester)
    statuses = {g["id"]: g["status"] for g in certificate["gates"]}  # type: ignore[attr-defined]
    assert statuses["p95_latency[1k]"] == "passed"
    assert statuses["p95_latency[10k]"] == "not_run"
    # One gate rerun diagnoses; it does not certify.
    assert certificate["verdict"] == "blocked"
    assert certificate["exit_status"] == result.ret == 2


def test_a_node_id_that_does_not_exist_writes_no_certificate(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    stale = pytester.path / "certificate.json"
    stale.write_text('{"verdict": "certified"}')
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}",
        "loadcert/builtin_gates.py::test_no_such_gate",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_no_such_gate" in result.stderr.str()
    assert not stale.exists()
    assert "loadcert verdict" not in result.stdout.str()
