"""One profile resolver: a ``loadcert`` command and a certification run, started in the same
place, judge with the same profile, wherever the repository's configuration names it
(pytest's own discovery: every configuration file kind, walking up from where it started)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from pytest_loadcert.cliopts import load_profile
from pytest_loadcert.config.profile import BUILTIN_SOURCE

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "evidence" / "example"
EXAMPLE_PROFILE = REPO / "evidence" / "example.toml"

#: Each configuration file pytest reads, naming the profile as the ini key loadcert_profile.
CONFIGS = {
    "pytest.ini": "[pytest]\nloadcert_profile = profiles/team.toml\n",
    "tox.ini": "[pytest]\nloadcert_profile = profiles/team.toml\n",
    "setup.cfg": "[tool:pytest]\nloadcert_profile = profiles/team.toml\n",
    "pyproject.toml": '[tool.pytest.ini_options]\nloadcert_profile = "profiles/team.toml"\n',
    "pytest.toml": '[pytest]\nloadcert_profile = "profiles/team.toml"\n',
}


@pytest.mark.parametrize(
    ("name", "mode"),
    [(name, ()) for name in sorted(CONFIGS)] + [("tox.ini", ("-n", "2"))],
)
def test_a_command_and_a_certification_run_resolve_the_same_profile(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, mode: tuple[str, ...]
) -> None:
    (pytester.path / name).write_text(CONFIGS[name])
    profile = pytester.path / "profiles" / "team.toml"
    profile.parent.mkdir()
    shutil.copyfile(EXAMPLE_PROFILE, profile)
    below = pytester.mkdir("deploy")  # started below the repository's root
    monkeypatch.chdir(below)
    monkeypatch.delenv("LOADCERT_PROFILE", raising=False)
    command = load_profile(argparse.Namespace(loadcert_profile=None))
    assert Path(command.source) == profile
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={EXAMPLE}", *mode, "--junitxml=c.xml"
    )
    assert f"loadcert: profile {profile}" in result.stdout.str()
    assert json.loads((below / "certificate.json").read_text())["profile_source"] == str(profile)


def test_a_pyproject_table_is_the_profile_beside_the_configuration_found_above(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file named: [tool.loadcert] of the pyproject.toml at the repository's root, also
    from a folder below it."""
    (pytester.path / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n" + _as_tool_table(EXAMPLE_PROFILE.read_text())
    )
    monkeypatch.chdir(pytester.mkdir("deploy"))
    monkeypatch.delenv("LOADCERT_PROFILE", raising=False)
    command = load_profile(argparse.Namespace(loadcert_profile=None))
    assert str(pytester.path / "pyproject.toml") in command.source


def _as_tool_table(profile: str) -> str:
    """``profile``'s keys under ``[tool.loadcert]`` (its tables under ``tool.loadcert.*``)."""
    lines = []
    for line in profile.splitlines():
        stripped = line.strip()
        if stripped.startswith("[[") and stripped.endswith("]]"):
            line = f"[[tool.loadcert.{stripped[2:-2].strip()}]]"
        elif stripped.startswith("[") and stripped.endswith("]"):
            line = f"[tool.loadcert.{stripped[1:-1].strip()}]"
        lines.append(line)
    return "[tool.loadcert]\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("table", "mode"),
    [(t, ()) for t in ("loadcrt", "load-cert", "LoadCert", "loadcerts", "laodcert")]
    + [("loadcrt", ("-n", "2"))],
)
def test_a_misspelt_loadcert_table_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, table: str, mode: tuple[str, ...]
) -> None:
    """``[tool.loadcrt]`` was judged with the built-in profile, silently."""
    (pytester.path / "pyproject.toml").write_text(f"[tool.{table}]\ntarget_concurrency = 50000\n")
    monkeypatch.delenv("LOADCERT_PROFILE", raising=False)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={EXAMPLE}", *mode)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"[tool.{table}] looks like [tool.loadcert] misspelt" in result.stderr.str()
    assert not (pytester.path / "certificate.json").exists()
    from pytest_loadcert.config.profile import ProfileError

    with pytest.raises(ProfileError, match="misspelt"):
        load_profile(argparse.Namespace(loadcert_profile=None))


@pytest.mark.parametrize("table", ["loader", "loadtest", "locust", "pytest"])
def test_a_table_of_another_tool_is_not_taken_for_a_misspelling(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    (pytester.path / "pyproject.toml").write_text(f"[tool.{table}]\nanything = 1\n")
    monkeypatch.delenv("LOADCERT_PROFILE", raising=False)
    assert load_profile(argparse.Namespace(loadcert_profile=None)).source == BUILTIN_SOURCE
