"""What pytest was told to judge is part of the certificate: options, positional paths and
repository hooks that shrink the team's gates block the run instead of certifying less.

Each case runs serial and with ``-n 2``; the control (the same repository run plainly) shows
the team gate is judged, so each blocked outcome is the option's doing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest

#: A team gate that fails at 1k: judged, it makes the run not_certified.
from teamrepo import PASSING_GATE, repository


def certify(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...], *args: str
) -> tuple[int, dict[str, Any]]:
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *mode, *args)
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    return int(result.ret), certificate


def problems(certificate: dict[str, Any]) -> str:
    return "\n".join(certificate["problems"])


def test_control_the_team_gate_is_judged(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    repository(pytester)
    status, certificate = certify(pytester, bundle, mode)
    assert (status, certificate["verdict"]) == (1, "not_certified")
    assert certificate["problems"] == []
    ids = {g["id"]: g["status"] for g in certificate["gates"]}
    assert ids["team_rule[1k]"] == "failed" and ids["other_rule[1k]"] == "passed"


@pytest.mark.parametrize(
    "args",
    [
        ("--ignore-glob=certification/*",),
        ("--ignore-glob=*/test_team.py",),
        ("--ignore=certification/test_team.py",),
        ("certification/test_other.py",),
    ],
    ids=["ignore-glob-folder", "ignore-glob-file", "ignore-file", "positional-path"],
)
def test_a_declared_gate_file_left_out_blocks(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...], args: tuple[str, ...]
) -> None:
    repository(pytester)
    status, certificate = certify(pytester, bundle, mode, *args)
    assert (status, certificate["verdict"]) == (2, "blocked")
    assert "gate file certification/test_team.py is declared (loadcert_gates) but " in problems(
        certificate
    )


def test_a_positional_path_outside_the_gate_paths_blocks(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    folder = repository(pytester)
    (folder / "test_team.py").write_text(PASSING_GATE.replace("other", "team"))
    elsewhere = pytester.mkdir("elsewhere")
    (elsewhere / "test_lenient.py").write_text(PASSING_GATE.replace("other", "lenient"))
    status, certificate = certify(pytester, bundle, mode, "certification", "elsewhere")
    assert (status, certificate["verdict"]) == (2, "blocked")
    assert "a gate collected from elsewhere/test_lenient.py, outside the declared gate" in (
        problems(certificate)
    )


def test_a_repository_hook_that_removes_a_gate_blocks(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    folder = repository(pytester)
    (folder / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_collection_modifyitems(items):\n"
        "    items[:] = [i for i in items if 'team_rule' not in i.name]\n"
    )
    status, certificate = certify(pytester, bundle, mode)
    assert (status, certificate["verdict"]) == (2, "blocked")
    assert "gate team_rule[1k] was removed from the collected items before loadcert saw" in (
        problems(certificate)
    )


def test_a_test_in_a_gate_file_that_reads_no_evidence_blocks(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    folder = repository(pytester)
    (folder / "test_team.py").write_text("def test_always():\n    assert True\n")
    status, certificate = certify(pytester, bundle, mode)
    assert (status, certificate["verdict"]) == (2, "blocked")
    assert "test_always: a test in a gate file that uses no loadcert_* fixture reads no " in (
        problems(certificate)
    )


def test_a_declared_gate_path_that_does_not_exist_is_refused(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    repository(pytester, gates="certification gone")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *mode)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "gone, which does not exist: the team's gates" in result.stderr.str()
    assert not (pytester.path / "certificate.json").exists()


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("--junitxml=out/certificate.json",), {}, "--junitxml out/certificate.json: is the "),
        (
            ("--junitxml=out/junit.xml", "--loadcert-intoto=out/junit.xml"),
            {},
            "--junitxml out/junit.xml: is the in-toto Statement's path",
        ),
        (("--loadcert-git-sha=",), {}, "--loadcert-git-sha is empty"),
        ((), {"LOADCERT_GIT_SHA": ""}, "LOADCERT_GIT_SHA is set but empty"),
    ],
    ids=["junit-over-certificate", "junit-over-intoto", "empty-sha-option", "empty-sha-env"],
)
def test_outputs_that_collide_and_an_empty_sha_are_refused(
    pytester: pytest.Pytester,
    bundle: Path,
    mode: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    needle: str,
) -> None:
    """Refused before any gate runs: no certificate, no junit, exit 4 (usage error)."""
    repository(pytester)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *mode, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in result.stderr.str()
    assert not (pytester.path / "certificate.json").exists()
    assert not (pytester.path / "out").exists()


@pytest.mark.parametrize(
    ("gate", "stage"),
    [
        ("observed_concurrency", "100k"),
        ("achieved_concurrency", None),
        ("dropped_iterations", "100k"),
    ],
)
def test_the_concurrency_the_certificate_claims_cannot_be_waived(
    pytester: pytest.Pytester,
    bundle: Path,
    tmp_path: Path,
    mode: tuple[str, ...],
    gate: str,
    stage: str | None,
) -> None:
    """A run that held 60k of a 100k stage, with its concurrency gates waived, said
    "highest certified stage 100k": the profile naming such a waiver is refused."""
    profile = tmp_path / "profile.toml"
    where = f"stage = '{stage}'\n" if stage else ""
    profile.write_text(
        f"[[waivers]]\ngate = '{gate}'\n{where}owner = 'sre'\nreason = 'short on load "
        "generators'\nexpires = 2999-01-01\n"
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", f"--loadcert-profile={profile}", *mode
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"waivers[0].gate: {gate} cannot be waived" in result.stderr.str()
    assert not (pytester.path / "certificate.json").exists()


@pytest.mark.parametrize(
    "gate", ["bundle_integrity", "artifact_binding", "git_binding", "image_binding"]
)
def test_a_binding_gate_cannot_be_waived(
    pytester: pytest.Pytester, tmp_path: Path, mode: tuple[str, ...], gate: str
) -> None:
    """A waiver of bundle_integrity certified a k6 summary edited after sealing; one of
    git_binding certified a dirty tree "at <SHA>". The profile naming such a waiver is
    refused, whatever the bundle: here one whose smoke summary changed after sealing."""
    tampered = bf.build_variant("tampered_file", tmp_path / "bundle")
    profile = tmp_path / "profile.toml"
    profile.write_text(
        f"[[waivers]]\ngate = '{gate}'\nowner = 'sre'\nreason = 'known'\nexpires = 2999-01-01\n"
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={tampered}", f"--loadcert-profile={profile}",
        *mode,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"waivers[0].gate: {gate} cannot be waived: it binds the certificate" in (
        result.stderr.str()
    )
    assert not (pytester.path / "certificate.json").exists()


@pytest.mark.parametrize("call", ["os._exit(0)", "sys.exit(0)"])
def test_a_gate_that_ends_the_process_blocks_and_the_certificate_is_written(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...], call: str
) -> None:
    """``os._exit(0)`` in a team gate ended the run with exit 0 and no certificate."""
    folder = repository(pytester)
    (folder / "test_team.py").write_text(
        f"import os, sys\ndef test_team_rule(loadcert_stage):\n    {call}\n"
    )
    status, certificate = certify(pytester, bundle, mode)
    assert (status, certificate["verdict"]) == (2, "blocked")
    gates = {g["id"]: g for g in certificate["gates"]}
    assert gates["team_rule[1k]"]["status"] == "blocked"
    if call.startswith("os."):
        assert "the gate called os._exit(0)" in gates["team_rule[1k]"]["message"]
    assert gates["other_rule[1k]"]["status"] == "passed"  # the run went on


def test_a_stage_of_the_bundle_the_profile_leaves_out_is_named(
    pytester: pytest.Pytester, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """A 100k stage that failed (p95 450 ms), judged with a profile that stops at 50k."""
    failed = bf.build_variant("p95_high", tmp_path / "bundle")
    stages = "".join(
        f"[[stages]]\nname = '{name}'\nmin_active_vus = {vus}\n"
        for name, vus in (("smoke", 20), ("1k", 1000), ("10k", 10000), ("25k", 25000),
                          ("50k", 50000))
    )  # fmt: skip
    profile = tmp_path / "profile.toml"
    profile.write_text(f"target_concurrency = 50000\n{stages}")
    status, certificate = certify(pytester, failed, mode, f"--loadcert-profile={profile}")
    assert (status, certificate["verdict"]) == (2, "blocked")
    assert certificate["highest_certified_stage"] is None
    assert "stages: 100k is not a stage of the profile" in problems(certificate)


def test_the_certificate_binds_the_gate_files_and_conftests_that_judged(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    import hashlib

    folder = repository(pytester)
    (folder / "conftest.py").write_text("import pytest\n")
    status, certificate = certify(pytester, bundle, mode)
    assert status == 1  # the control's failing team gate
    expected = {
        f"certification/{name}": "sha256:"
        + hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("conftest.py", "test_other.py", "test_team.py")
    }
    assert certificate["gate_files"] == expected


def test_a_run_without_the_plugin_leaves_a_certificate_report_and_verify_refuse(
    pytester: pytest.Pytester,
    bundle: Path,
    mode: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Case 7: job 1 certifies; job 2 runs ``pytest -p no:loadcert`` in the same workspace,
    judges nothing and exits 0, and job 1's certified certificate.json is still there.
    Asked about job 2's session, report and verify refuse it."""
    from pytest_loadcert import cli

    monkeypatch.setenv("LOADCERT_SESSION", "ci-1234.1")
    status, certificate = certify(pytester, bundle, mode)
    assert (status, certificate["verdict"]) == (0, "certified")
    assert certificate["invocation"]["session"] == "ci-1234.1"

    monkeypatch.setenv("LOADCERT_SESSION", "ci-1235.1")
    pytester.makepyfile(test_unrelated="def test_nothing():\n    pass\n")
    assert pytester.runpytest("-p", "no:loadcert", *mode).ret == 0
    assert (pytester.path / "certificate.json").exists()  # the stale one
    capfd.readouterr()
    cert = str(pytester.path / "certificate.json")
    for command in (["report"], ["verify", "--evidence-dir", str(bundle)]):
        assert cli.main([*command, "--certificate", cert]) == 4  # $LOADCERT_SESSION
        err = capfd.readouterr().err
        assert "invocation.session is 'ci-1234.1', not 'ci-1235.1'" in err
        assert cli.main([*command, "--certificate", cert, "--session", "ci-1234.1"]) == 0
        capfd.readouterr()
    monkeypatch.delenv("LOADCERT_SESSION")
    later = "2999-01-01T00:00:00Z"
    assert cli.main(["report", "--certificate", cert, "--not-before", later]) == 4
    assert "invocation.started_at is " in capfd.readouterr().err
    started = certificate["invocation"]["started_at"]
    assert cli.main(["report", "--certificate", cert, "--not-before", started]) == 0


@pytest.mark.parametrize("value", ["", " ", "a b", "-x", "x" * 129])
def test_a_session_id_that_is_empty_or_not_an_id_is_refused(
    pytester: pytest.Pytester,
    bundle: Path,
    mode: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    monkeypatch.setenv("LOADCERT_SESSION", value)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *mode)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "LOADCERT_SESSION" in result.stderr.str()
    assert not (pytester.path / "certificate.json").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--session", "a b"), "--session: 'a b' is not a session id"),
        (("--not-before", "yesterday"), "--not-before: 'yesterday' is not an RFC 3339 UTC time"),
    ],
)
def test_report_and_verify_refuse_a_session_or_time_that_is_not_one(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    from pytest_loadcert import cli

    cert = str(tmp_path / "certificate.json")
    for command in (["report"], ["verify", "--evidence-dir", str(tmp_path)]):
        assert cli.main([*command, "--certificate", cert, *args]) == 4
        assert needle in capfd.readouterr().err
