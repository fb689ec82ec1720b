"""The judged set is the repository's, not the command line's.

A certifying repository with a failing team gate: whatever a hurried engineer adds to the
command line, to ``PYTEST_ADDOPTS`` or to a conftest, the run either judges that gate (exit 1,
``not_certified``), blocks naming what was left out (exit 2), or is refused before any gate
runs (exit 4) naming the option. Never exit 0.

Each case runs serial and with ``-n 2``. The control of these cases is
``tests/plugin/test_scope.py::test_control_the_team_gate_is_judged``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from teamrepo import FAILING_GATE, MODES, PASSING_GATE, repository


def run(pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...], *args: str) -> Any:
    return pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *mode, *args)


def certificate(pytester: pytest.Pytester) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / "certificate.json").read_text())
    return document


def problems(pytester: pytest.Pytester) -> str:
    return "\n".join(certificate(pytester)["problems"])


# ------------------------------------------------------------------- refused: exit 4

REFUSED = {
    # case 1: pytest's collection keys, and the plugin's own
    "python_files": (("-o", "python_files=check_*.py"), "-o python_files=check_*.py"),
    "python_classes": (("-o", "python_classes=Nope"), "-o python_classes=Nope"),
    "python_functions": (("-o", "python_functions=check"), "-o python_functions=check"),
    "norecursedirs": (("-o", "norecursedirs=certification"), "-o norecursedirs=certification"),
    "override-ini-long": (("--override-ini=python_files=x_*.py",), "-o python_files=x_*.py"),
    "testpaths": (("-o", "testpaths=elsewhere"), "-o testpaths=elsewhere"),
    "collect_imported_tests": (
        ("-o", "collect_imported_tests=false"),
        "-o collect_imported_tests=false",
    ),
    "loadcert_gates": (("-o", "loadcert_gates="), "-o loadcert_gates="),
    "loadcert_profile": (("-o", "loadcert_profile=lenient.toml"), "-o loadcert_profile="),
    "addopts": (("-o", "addopts="), "-o addopts="),
    "usefixtures": (("-o", "usefixtures="), "-o usefixtures="),
    "filterwarnings": (("-o", "filterwarnings=ignore"), "-o filterwarnings=ignore"),
    "no-python": (("-p", "no:python"), "-p no:python"),
    # case 2: another configuration file, another rootdir
    "config-file-short": (("-c", "other.ini"), "-c other.ini"),
    "config-file-long": (("--config-file=other.ini",), "-c other.ini"),
    "rootdir": (("--rootdir=certification",), "--rootdir"),
    # case 3: conftests skipped
    "noconftest": (("--noconftest",), "--noconftest"),
    "confcutdir": (("--confcutdir=certification/sub",), "--confcutdir"),
    "pyargs": (("--pyargs",), "--pyargs"),
    # case 5: informational modes
    "fixtures": (("--fixtures",), "--fixtures "),
    "fixtures-per-test": (("--fixtures-per-test",), "--fixtures-per-test"),
    "markers": (("--markers",), "--markers"),
    "help": (("--help",), "--help"),
    "version-verbose": (("--version", "--version"), "--version"),
    "setup-plan": (("--setup-plan",), "--setup-plan"),
    "setup-only": (("--setup-only",), "--setup-only"),
}


#: Options also given through PYTEST_ADDOPTS (the refusal reads pytest's parse of both).
FROM_ENVIRONMENT = ("python_files", "override-ini-long", "config-file-short", "config-file-long",
                    "noconftest", "loadcert_gates", "fixtures")  # fmt: skip


#: One option of each case also under ``-n 2`` (the refusal comes before xdist starts a worker).
UNDER_XDIST = ("python_files", "loadcert_gates", "config-file-short", "noconftest", "fixtures",
               "markers", "help")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "where", "mode"),
    [(name, "command line", ()) for name in sorted(REFUSED)]
    + [(name, "PYTEST_ADDOPTS", ()) for name in FROM_ENVIRONMENT]
    + [(name, "command line", MODES["xdist"]) for name in UNDER_XDIST]
    + [(name, "PYTEST_ADDOPTS", MODES["xdist"]) for name in ("python_files", "fixtures")],
)
def test_what_changes_the_rules_of_collection_is_refused(
    pytester: pytest.Pytester,
    bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    where: str,
    mode: tuple[str, ...],
) -> None:
    """Exit 4 naming the option and where it came from; no certificate claims a verdict, and
    a certified certificate an earlier run left at the path is not kept as this run's."""
    repository(pytester)
    pytester.path.joinpath("other.ini").write_text("[pytest]\n")
    pytester.path.joinpath("certification", "sub").mkdir()
    args, needle = REFUSED[name]
    stale = pytester.path / "certificate.json"
    stale.write_text('{"verdict": "certified"}')
    if where == "PYTEST_ADDOPTS":
        import shlex

        monkeypatch.setenv("PYTEST_ADDOPTS", shlex.join(args))
        args = ()
    result = run(pytester, bundle, mode, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    error = result.stderr.str()
    assert needle in error and "is refused in a certification run" in error
    assert f"({'in PYTEST_ADDOPTS' if where == 'PYTEST_ADDOPTS' else 'on the command line'})" in (
        error
    )
    assert not stale.exists() or stale.read_text() == '{"verdict": "certified"}'
    assert not (pytester.path / "certificate.intoto.json").exists()


def test_the_repositorys_own_file_named_with_c_is_its_configuration(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    """``-c`` naming the file pytest would find anyway changes nothing: judged as usual."""
    repository(pytester)
    result = run(pytester, bundle, mode, "-c", "tox.ini")
    assert result.ret == 1
    gates = {g["id"]: g["status"] for g in certificate(pytester)["gates"]}
    assert gates["team_rule[1k]"] == "failed"


def test_an_override_the_committed_addopts_carries_is_the_committed_rule(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    """``addopts = -o python_functions=check`` is committed: gates named ``check_*`` are the
    gates, expected from the source under that rule, and judged."""
    pytester.makeini(
        "[pytest]\nloadcert_gates = certification\naddopts = -o python_functions=check\n"
    )
    folder = pytester.mkdir("certification")
    (folder / "test_team.py").write_text(FAILING_GATE.replace("test_team_rule", "check_team"))
    result = run(pytester, bundle, mode)
    assert result.ret == 1, result.stdout.str()[-2000:]
    gates = {g["id"]: g["status"] for g in certificate(pytester)["gates"]}
    assert gates["check_team[1k]"] == "failed"


# ------------------------------------------------------------------- blocked: exit 2


def test_a_gate_named_by_its_node_id_leaves_the_other_gates_of_its_file_unjudged(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    """Case 4: ``certification/test_team.py::test_one`` ran one gate of the file and
    certified; the other gate of the file failing at 1k was never collected."""
    pytester.makeini("[pytest]\nloadcert_gates = certification\n")
    folder = pytester.mkdir("certification")
    (folder / "test_team.py").write_text(
        "def test_one(loadcert_stage):\n    assert True\n\n" + FAILING_GATE
    )
    result = run(pytester, bundle, mode, "certification/test_team.py::test_one")
    assert result.ret == 2
    assert certificate(pytester)["verdict"] == "blocked"
    assert "gate function certification/test_team.py::test_team_rule was not judged" in problems(
        pytester
    )


@pytest.mark.parametrize(
    "hook",
    [
        # after every collection hook: the items the run loop gets
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_runtestloop(session):\n"
        "    session.items[:] = [i for i in session.items if 'team_rule' not in i.nodeid]\n",
        # a conftest wrapper outside loadcert's own: the file is never collected
        "@pytest.hookimpl(wrapper=True, tryfirst=True)\n"
        "def pytest_collect_file(file_path, parent):\n"
        "    result = yield\n"
        "    return [] if file_path.name == 'test_team.py' else result\n",
        # the name is never made an item
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_pycollect_makeitem(collector, name, obj):\n"
        "    return [] if name == 'test_team_rule' else None\n",
        # a conftest variable read by pytest's own pytest_ignore_collect
        "collect_ignore = ['test_team.py']\n",
    ],
    ids=["runtestloop", "collect_file-wrapper", "pycollect_makeitem", "collect_ignore"],
)
def test_a_conftest_that_drops_a_gate_unseen_blocks_naming_it(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...], hook: str
) -> None:
    folder = repository(pytester)
    (folder / "conftest.py").write_text("import pytest\n" + hook)
    result = run(pytester, bundle, mode)
    assert result.ret == 2, result.stdout.str()[-3000:]
    assert certificate(pytester)["verdict"] == "blocked"
    assert "certification/test_team.py::test_team_rule was not judged" in problems(pytester)


def test_a_plugin_from_the_environment_that_drops_a_gate_blocks_naming_it(
    pytester: pytest.Pytester,
    bundle: Path,
    mode: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``PYTEST_PLUGINS`` loads a module the repository never committed; it filters the
    items the run loop gets. No option names it: the rule catches it all the same."""
    repository(pytester)
    pytester.makepyfile(
        dropper="import pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_runtestloop(session):\n"
        "    session.items[:] = [i for i in session.items if 'team_rule' not in i.nodeid]\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    monkeypatch.syspath_prepend(str(pytester.path))
    monkeypatch.setenv("PYTEST_PLUGINS", "dropper")
    result = run(pytester, bundle, mode)
    assert result.ret == 2, result.stdout.str()[-3000:]
    assert "certification/test_team.py::test_team_rule was not judged" in problems(pytester)


def test_a_method_named_by_its_node_id_leaves_the_other_methods_unjudged(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    pytester.makeini("[pytest]\nloadcert_gates = certification\n")
    folder = pytester.mkdir("certification")
    (folder / "test_team.py").write_text(
        "class TestRelease:\n"
        "    def test_one(self, loadcert_stage):\n        assert True\n"
        "    def test_team_rule(self, loadcert_stage):\n"
        "        assert loadcert_stage.name != '1k'\n"
    )
    result = run(pytester, bundle, mode, "certification/test_team.py::TestRelease::test_one")
    assert result.ret == 2
    assert (
        "gate function certification/test_team.py::TestRelease::test_team_rule was not judged"
        in problems(pytester)
    )


def test_a_stage_dropped_after_loadcert_saw_the_items_blocks_naming_it(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    folder = repository(pytester)
    (folder / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_collection_modifyitems(items):\n"
        "    items[:] = [i for i in items if i.name != 'test_team_rule[1k]']\n"
    )
    result = run(pytester, bundle, mode)
    assert result.ret == 2, result.stdout.str()[-3000:]
    assert (
        "gate function certification/test_team.py::test_team_rule was not judged at stage(s) 1k"
        in problems(pytester)
    )


def test_every_conftest_under_the_gate_paths_is_bound(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    """A team policy in a nested conftest is part of the bar: its digest is on the
    certificate even on the xdist controller, which never imports it."""
    import hashlib

    folder = repository(pytester)
    nested = folder / "policy"
    nested.mkdir()
    (nested / "conftest.py").write_text("import pytest\n")
    (nested / "test_policy.py").write_text(PASSING_GATE.replace("other", "policy"))
    result = run(pytester, bundle, mode)
    assert result.ret == 1
    digest = "sha256:" + hashlib.sha256((nested / "conftest.py").read_bytes()).hexdigest()
    assert certificate(pytester)["gate_files"]["certification/policy/conftest.py"] == digest


@pytest.mark.parametrize("option", ["--evidence-dir", "--loadcert-certificate"])
def test_a_value_pytest_took_for_a_test_path_that_moved_the_rootdir_is_refused(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...], option: str
) -> None:
    """``--evidence-dir PATH`` (a space, not '='): pytest chooses its rootdir before the
    plugin's options exist, so an existing PATH outside the repository moves the rootdir
    above it, where the repository's configuration (its gates, its profile) is not read."""
    repository(pytester)
    outside = pytester.path.parent / f"{pytester.path.name}-out"
    outside.mkdir()
    value = str(bundle) if option == "--evidence-dir" else str(outside / "certificate.json")
    (outside / "certificate.json").write_text("{}")
    args = [option, value]
    if option != "--evidence-dir":
        args.insert(0, f"--evidence-dir={bundle}")
    result = pytester.runpytest("-p", "no:cacheprovider", *mode, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = result.stderr.str()
    assert "but the repository's configuration is" in error and "tox.ini" in error
    assert "write options with '='" in error


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param((), id="serial"),
        pytest.param(MODES["xdist"], id="xdist", marks=pytest.mark.slow),
    ],
)
def test_the_same_command_run_again_is_refused_once_its_html_report_moved_the_rootdir(
    pytester: pytest.Pytester, bundle: Path, mode: tuple[str, ...]
) -> None:
    """``--html ../out/r.html`` (pytest-html's option, written with a space): the first run is
    judged; the identical second run finds ../out/r.html on disk, pytest takes it for a test
    path and picks a rootdir with no configuration. It is refused, never judged with the
    built-in profile and no team gates."""
    repository(pytester)
    report = pytester.path.parent / f"{pytester.path.name}-out" / "r.html"
    args = ("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *mode, "--junitxml=out/c.xml")
    args += ("--html", str(report))
    # In a subprocess: pytest-html draws its chart with matplotlib, whose classes an
    # in-process rerun would import twice.
    first = pytester.runpytest_subprocess(*args)
    assert first.ret == 1 and report.is_file()  # the failing team gate, judged
    again = pytester.runpytest_subprocess(*args)
    assert again.ret == pytest.ExitCode.USAGE_ERROR
    assert "but the repository's configuration is" in again.stderr.str()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("-c", "other.ini"), "-c other.ini (on the command line) is refused"),
        (("-o", "loadcert_evidence_dir="), "-o loadcert_evidence_dir= (on the command line) is"),
    ],
    ids=["config-file", "override"],
)
def test_turning_off_the_certification_the_committed_ini_asks_for_is_refused(
    pytester: pytest.Pytester,
    bundle: Path,
    mode: tuple[str, ...],
    args: tuple[str, ...],
    needle: str,
) -> None:
    """The repository's ini names the bundle (loadcert_evidence_dir): ``-c other.ini``, which
    names none, or ``-o loadcert_evidence_dir=``, would have made the run an ordinary pytest
    run that judged nothing and exited 0."""
    repository(pytester, ini=f"loadcert_evidence_dir = {bundle}\n")
    pytester.path.joinpath("other.ini").write_text("[pytest]\n")
    result = pytester.runpytest("-p", "no:cacheprovider", *mode, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in result.stderr.str()


def test_each_subject_of_a_gate_function_is_judged_at_every_stage() -> None:
    """The rule itself: a function's gate reports per subject must cover the profile's
    stages; a gate with no stage parameter needs one report."""
    from pytest_loadcert.plugin.scope import GateFunction, unjudged_functions

    f = GateFunction(Path("/r/certification/test_team.py"), "test_team_rule")
    g = GateFunction(Path("/r/certification/test_team.py"), "TestRun::test_once")
    stages = ("smoke", "1k")

    def check(judged: dict[GateFunction, set[tuple[str | None, str | None]]]) -> list[str]:
        return unjudged_functions((f, g), judged, stages, lambda p: p.name)

    whole = {(s, st) for s in ("eu", "us") for st in stages}
    assert check({f: whole, g: {(None, None)}}) == []
    assert check({f: whole - {("eu", "1k")}, g: {(None, None)}}) == [
        "gate function test_team.py::test_team_rule was not judged at stage(s) 1k for eu: a "
        "gate is judged at every stage of the profile"
    ]
    assert check({f: whole}) == [
        "gate function test_team.py::TestRun::test_once was not judged: the declared gate "
        "file defines it, and no report of it reached the certificate (an option, a node id, "
        "a hook or a conftest left it out of the run)"
    ]
