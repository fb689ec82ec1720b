"""What a certification run loads, runs and says about itself: the conftest files it imports,
the node ids it prints and accepts, the profile it names, and the exit status it records."""

from __future__ import annotations

import json
from pathlib import Path

import bundlefactory as bf
import pytest

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
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\nloadcert_gates = ["certification"]\n'
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
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", *workers
    )
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
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={bundle}",
        "loadcert/builtin_gates.py::test_no_such_gate",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_no_such_gate" in result.stderr.str()
    assert not stale.exists()
    assert "loadcert verdict" not in result.stdout.str()


def test_the_profile_is_named_and_stages_it_does_not_know_block(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """The example bundle judged outside the repository, without its profile: the run says
    which profile it used and which of the bundle's stages that profile does not name."""
    import shutil

    bundle = tmp_path / "example"
    shutil.copytree(Path(__file__).parents[2] / "evidence" / "example", bundle)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--evidence-dir={bundle}")
    out = result.stdout.str()
    header = out.split("collected", 1)[0]
    assert "loadcert: profile <built-in profile>" in header
    assert "10vu, 5vu are not stages of the profile <built-in profile>" in header
    certificate = _certificate(pytester)
    assert certificate["profile_source"] == "<built-in profile>"
    assert any("10vu, 5vu are not stages" in p for p in certificate["problems"])  # type: ignore[attr-defined]
    assert "profile: <built-in profile>" in out
    # smoke is in both, and its 2 VUs miss the built-in 20: measured and violated.
    assert certificate["verdict"] == "not_certified"
    assert result.ret == 1


def test_an_empty_evidence_dir_says_so_first_and_last(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--evidence-dir={empty}")
    lines = result.stdout.lines
    said = f"{empty}: no loadcert.json; this is not a sealed evidence bundle"
    first = next(i for i, line in enumerate(lines) if said in line)
    assert first < next(i for i, line in enumerate(lines) if "BLOCKED loadcert/" in line)
    assert said in lines[-1] and lines[-1].startswith("loadcert verdict: blocked (exit 2)")
    assert result.ret == 2


@WORKERS
def test_no_stage_reads_certified_while_the_run_level_blocks(
    pytester: pytest.Pytester, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    bundle = bf.build_variant("snapshot_stale", tmp_path / "bundle")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", *workers
    )
    certificate = _certificate(pytester)
    assert certificate["verdict"] == "blocked"
    stages = certificate["stages"]
    assert all(s["verdict"] == "blocked" for s in stages)  # type: ignore[attr-defined]
    assert all(s["stage_gates_verdict"] == "certified" for s in stages)  # type: ignore[attr-defined]
    assert certificate["run_level"]["verdict"] == "blocked"  # type: ignore[index]
    assert "cluster_snapshot" in certificate["run_level"]["reason"]  # type: ignore[index]
    table = [line for line in result.stdout.lines if line.startswith(("smoke ", "100k "))]
    assert len(table) == 2
    assert all(line.endswith("blocked (stage gates passed)") for line in table)
    assert "run level blocked: run-level gate cluster_snapshot" in result.stdout.str()
    props = dict(_suite_properties(pytester, result, bundle, workers))
    assert props["loadcert.stage.100k.verdict"] == "blocked"


def _suite_properties(
    pytester: pytest.Pytester, result: pytest.RunResult, bundle: Path, workers: tuple[str, ...]
) -> list[tuple[str, str]]:
    import xml.etree.ElementTree as ET

    xml = pytester.path / "c.xml"
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", f"--junitxml={xml}", *workers
    )
    root = ET.parse(xml).getroot()
    return [(p.get("name", ""), p.get("value", "")) for p in root.iter("property")]


@WORKERS
def test_two_gates_with_one_id_block_serial_and_under_xdist(
    pytester: pytest.Pytester, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    pytester.makeini("[pytest]\nloadcert_gates = certification\n")
    gates = pytester.mkdir("certification")
    body = "def test_team_rule(loadcert_stage):\n    pass\n"
    (gates / "test_one.py").write_text(body)
    (gates / "test_two.py").write_text(body)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", *workers
    )
    certificate = _certificate(pytester)
    assert certificate["verdict"] == "blocked"
    assert any("are both gate team_rule[1k]" in p for p in certificate["problems"])  # type: ignore[attr-defined]
    assert all(s["verdict"] == "blocked" for s in certificate["stages"])  # type: ignore[attr-defined]
    assert result.ret == 2


TEAM_GATES = """
from pytest_loadcert.errors import EvidenceError

def test_enough_requests(loadcert_k6):
    assert loadcert_k6[0].count("http_reqs", "count") >= 10**9

def test_no_summary(loadcert_k6):
    assert not loadcert_k6

def test_blocks_in_body(loadcert_stage):
    raise EvidenceError("stages/x.json", "a.b", "is missing")

def test_crashes_in_body(loadcert_stage):
    {}["nope"]
"""


@WORKERS
def test_junit_and_certificate_say_what_a_team_gate_measured_and_where_it_blocked(
    pytester: pytest.Pytester, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    import xml.etree.ElementTree as ET

    bundle = bf.build_variant("valid", tmp_path / "bundle")
    pytester.makeini("[pytest]\nloadcert_gates = certification\n")
    pytester.mkdir("certification")
    (pytester.path / "certification" / "test_team.py").write_text(TEAM_GATES)
    xml = pytester.path / "certificate.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", f"--junitxml={xml}", *workers
    )
    assert result.ret == 1
    gates = {g["id"]: g for g in _certificate(pytester)["gates"]}  # type: ignore[attr-defined]
    # An assert-style gate reports the assertion's two values as observed and required.
    enough = gates["enough_requests[1k]"]
    assert enough["status"] == "failed"
    assert enough["observed"] == "50000" and enough["required"] == ">= 1000000000"
    # Evidence objects show as their file, not as every parsed metric.
    assert gates["no_summary[1k]"]["message"].startswith(
        "assert not (<K6Summary stages/1k/k6-summary.json ("
    )
    assert len(gates["no_summary[1k]"]["message"]) < 120
    # A gate that blocked in its body is a junit <error> that says it blocked, not that
    # setup failed.
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    blocked = cases["test_blocks_in_body[1k]"].find("error")
    assert blocked is not None
    assert blocked.get("message") == "blocked: stages/x.json: a.b is missing"
    crashed = cases["test_crashes_in_body[1k]"].find("error")
    assert crashed is not None and crashed.get("message") == "blocked: KeyError: 'nope'"
    for case in cases.values():
        for element in case:
            assert "failed on setup" not in (element.get("message") or "")
