"""The pytest plugin: thin hooks over the pytest-free core.

Without an evidence directory the plugin is inert. With one (``--evidence-dir``), pytest
collects the built-in gates plus the repository's own gate tests (``loadcert_gates``), runs
only gates, maps every outcome to ``passed`` / ``failed`` (not_certified) / ``blocked`` /
``waived``, and writes the certificate: junit suite properties, ``certificate.json`` and a
terminal summary. The exit status is the verdict's (0 certified, 1 not_certified, 2 blocked).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_loadcert.plugin.fixtures import (  # noqa: F401  (pytest finds fixtures on the plugin module)
    loadcert_bindings,
    loadcert_bundle,
    loadcert_cluster,
    loadcert_git_sha,
    loadcert_judge,
    loadcert_k6,
    loadcert_profile,
    loadcert_prometheus,
    loadcert_stage,
    loadcert_stage_run,
    loadcert_subject,
)
from pytest_loadcert.plugin.state import (
    COMPARISONS,
    GATE_KEY,
    STATE_KEY,
    WAIVER_KEY,
    WORKER_OUTPUT,
    RunState,
    key_to_json,
    record_comparison,
    report_message,
)
from pytest_loadcert.status import FAILED, GATE_BLOCKED, PASSED, WAIVED

if TYPE_CHECKING:
    from pytest_loadcert.gates.catalogue import GateKey

BUILTIN_GATES = Path(__file__).with_name("builtin_gates.py")
BUILTIN_NODEID = "loadcert/builtin_gates.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("loadcert", "load-test certification (pytest-loadcert)")
    group.addoption(
        "--evidence-dir",
        dest="loadcert_evidence_dir",
        metavar="DIR",
        default=None,
        help="certify the evidence bundle in DIR: run only certification gates "
        "(env LOADCERT_EVIDENCE_DIR, ini loadcert_evidence_dir)",
    )
    group.addoption(
        "--loadcert-profile",
        dest="loadcert_profile",
        metavar="TOML",
        default=None,
        help="profile file with thresholds and queries (env LOADCERT_PROFILE, ini "
        "loadcert_profile; default: [tool.loadcert] in pyproject.toml, else built-in)",
    )
    group.addoption(
        "--loadcert-git-sha",
        dest="loadcert_git_sha",
        metavar="SHA",
        default=None,
        help="the git SHA under test; the bundle must be bound to it (env LOADCERT_GIT_SHA)",
    )
    group.addoption(
        "--loadcert-certificate",
        dest="loadcert_certificate",
        metavar="PATH",
        default=None,
        help="where to write certificate.json "
        "(default: beside --junitxml, else ./certificate.json)",
    )
    group.addoption(
        "--loadcert-intoto",
        dest="loadcert_intoto",
        metavar="PATH",
        default=None,
        help="where to write the run's in-toto Statement (env LOADCERT_INTOTO, ini "
        "loadcert_intoto; default: certificate.intoto.json beside certificate.json)",
    )
    parser.addini("loadcert_evidence_dir", "evidence bundle to certify", type="string", default="")
    parser.addini(
        "loadcert_profile", "profile TOML, relative to the ini file", type="string", default=""
    )
    parser.addini("loadcert_certificate", "certificate.json path", type="string", default="")
    parser.addini("loadcert_intoto", "in-toto Statement path", type="string", default="")
    parser.addini(
        "loadcert_gates", "paths of the repository's own gate tests", type="paths", default=[]
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "loadcert: a certification gate (applied automatically)")
    config.addinivalue_line(
        "markers",
        "loadcert_gate(name, subjects=None): names a certification gate; subjects names a "
        "profile list the gate is parametrized over (metrics, stability, artifacts, "
        "workloads, hpas, pdbs, services)",
    )
    from pytest_loadcert.plugin.settings import resolve

    settings = resolve(config)
    if not settings.active:
        return
    from pytest_loadcert.config.load import load_profile
    from pytest_loadcert.config.profile import ProfileError
    from pytest_loadcert.evidence.bundle import Bundle
    from pytest_loadcert.gates.catalogue import expected_builtin

    assert settings.evidence_dir is not None
    _check_rootdir(config)
    if not settings.evidence_dir.is_dir():
        raise pytest.UsageError(f"--evidence-dir {settings.evidence_dir}: no such directory")
    _check_judge_outside_bundle(config, settings.evidence_dir)
    _check_output("--loadcert-certificate", settings.certificate_path)
    _check_output("--loadcert-intoto", settings.intoto_path)
    if settings.intoto_path == settings.certificate_path:
        raise pytest.UsageError(
            f"--loadcert-intoto {settings.intoto_path}: is the certificate's own path; the "
            "in-toto Statement would replace certificate.json"
        )
    try:
        profile = load_profile(settings.profile_path, settings.pyproject)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    bundle = Bundle(settings.evidence_dir)
    state = RunState(settings, profile, bundle, expected_builtin(profile))
    config.stash[STATE_KEY] = state
    # Collect the built-in gates and the repository's gate tests, never its unit tests.
    explicit = list(config.args) if config.args_source == pytest.Config.ArgsSource.ARGS else []
    config.args[:] = gate_args(explicit, settings.gate_paths)
    _check_gate_paths_outside_bundle(config, settings.evidence_dir)
    if not hasattr(config, "workerinput"):
        from pytest_loadcert.plugin.controller import CertificationRun

        state.problems.extend(bundle.shape_problems(profile.stage_names, profile.source))

        config.pluginmanager.register(CertificationRun(config), "loadcert-controller")
        if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):
            from pytest_loadcert.plugin.html import LoadcertHtml

            config.pluginmanager.register(LoadcertHtml(config), "loadcert-html")


def gate_args(explicit: list[str], gate_paths: tuple[Path, ...]) -> list[str]:
    """What a certification run collects: the built-in gates, then the paths given on the
    command line or else the repository's gate paths (``loadcert_gates``), never its unit
    tests. A node id as the run printed it (``loadcert/builtin_gates.py::...``) names the
    built-in gates wherever the package is installed."""
    given = [_builtin_path(arg) for arg in explicit]
    # A node id inside the built-in gates asks for that gate alone (the rest are then not
    # run, so the verdict is blocked: a rerun of one gate diagnoses, it does not certify).
    builtin = (
        [] if any(arg.startswith(f"{BUILTIN_GATES}::") for arg in given) else [str(BUILTIN_GATES)]
    )
    paths = [*builtin, *given, *(str(p) for p in gate_paths if not explicit)]
    return list(dict.fromkeys(paths))


def _builtin_path(arg: str) -> str:
    path, sep, rest = arg.partition("::")
    if Path(path).as_posix() == BUILTIN_NODEID:
        return f"{BUILTIN_GATES}{sep}{rest}"
    return arg


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Load only the gate paths' conftest files in a certification run.

    pytest imports the conftest files of its test paths (``testpaths`` when none is given)
    before ``pytest_configure``; a repository's ``tests/conftest.py`` that imports a test-only
    package would stop the certification before it began. pytest reads the initial paths
    from the early parse of the command line, so that is where the gate paths go.
    """
    from pytest_loadcert.plugin.settings import evidence_requested, gate_paths

    early = early_config.known_args_namespace
    if not evidence_requested(early_config, early.loadcert_evidence_dir):
        return
    early.file_or_dir = gate_args(list(early.file_or_dir), gate_paths(early_config))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    """Give the built-in gates a stable node id wherever the package is installed."""
    if module_path != BUILTIN_GATES or _state(parent.config) is None:
        return None
    return pytest.Module.from_parent(parent, path=module_path, nodeid=BUILTIN_NODEID)


def _check_output(option: str, path: Path) -> None:
    """Refuse, before any gate runs, a path the run could not write its result to.

    Found only at the end, it would crash the run after every gate had been judged.
    """
    if path.is_dir():
        raise pytest.UsageError(f"{option} {path}: is a directory; name the file to write")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise pytest.UsageError(f"{option} {path}: {parent} is not a directory")


CONFIG_FILES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)


def _check_rootdir(config: pytest.Config) -> None:
    """Refuse a run whose rootdir moved because pytest took the evidence path for a test path.

    pytest chooses its rootdir before plugins add options, so in ``--evidence-dir PATH``
    the PATH counts as a test path; a bundle outside the repository then moves the rootdir
    above it and the repository's configuration (and profile) would silently be missed.
    """
    if "--evidence-dir" not in config.invocation_params.args:
        return
    invocation = config.invocation_params.dir
    for folder in (invocation, *invocation.parents):
        if any((folder / name).is_file() for name in CONFIG_FILES):
            if folder != config.rootpath:
                raise pytest.UsageError(
                    f"pytest chose rootdir {config.rootpath} because it read the --evidence-dir "
                    f"value as a test path, so the configuration in {folder} would be ignored; "
                    "write --evidence-dir=PATH (with '=') or set LOADCERT_EVIDENCE_DIR"
                )
            return


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_judge_outside_bundle(config: pytest.Config, evidence_dir: Path) -> None:
    """Refuse a run that reads configuration or code from the bundle it judges.

    Started in (or with its rootdir in) the bundle, pytest reads ini files and imports
    ``conftest.py`` from there: code that arrived with the evidence would take part in
    judging it. The integrity gate refuses such files too; this stops the run before any
    gate, naming what was loaded.
    """
    bundle = evidence_dir.resolve()
    where = {
        "pytest was started": config.invocation_params.dir.resolve(),
        "the rootdir": config.rootpath.resolve(),
    }
    if config.inipath is not None:
        where["the ini file"] = config.inipath.resolve()
    for plugin in config.pluginmanager.get_plugins():
        module_file = getattr(plugin, "__file__", None)
        if isinstance(module_file, str):
            where[f"the plugin module {module_file}"] = Path(module_file).resolve()
    for what, path in where.items():
        if _inside(path, bundle):
            raise pytest.UsageError(
                f"--evidence-dir {evidence_dir}: {what} ({path}) is inside the bundle, so "
                "configuration or code carried by the evidence would take part in judging it; "
                "run pytest from the repository that holds the profile"
            )


def _check_gate_paths_outside_bundle(config: pytest.Config, evidence_dir: Path) -> None:
    """Refuse gate tests collected from inside the bundle: code that arrived with the evidence."""
    bundle = evidence_dir.resolve()
    for arg in config.args:
        path = config.invocation_params.dir / arg.split("::", 1)[0]
        if _inside(path.resolve(), bundle):
            raise pytest.UsageError(
                f"--evidence-dir {evidence_dir}: the gate path {arg} is inside the bundle, so "
                "code carried by the evidence would take part in judging it"
            )


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Never collect the bundle being judged (kept under the gate tests, say): collecting a
    directory imports its conftest.py, code that arrived with the evidence."""
    state = _state(config)
    if state is None:
        return None
    return True if _inside(collection_path.resolve(), state.bundle.root.resolve()) else None


def _state(config: pytest.Config) -> RunState | None:
    return config.stash.get(STATE_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """Say first what is being judged, against which profile, and what already blocks it."""
    state = _state(config)
    if state is None:
        return None
    lines = [
        f"loadcert: certifying {state.settings.evidence_dir}",
        f"loadcert: profile {state.profile.source}",
    ]
    lines += [f"loadcert: BLOCKED: {problem}" for problem in state.problems]
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = _state(metafunc.config)
    if state is None:
        return
    if "loadcert_stage" in metafunc.fixturenames:
        names = list(state.profile.stage_names)
        metafunc.parametrize("loadcert_stage", names, ids=names, indirect=True)
    if "loadcert_subject" in metafunc.fixturenames:
        from pytest_loadcert.gates.catalogue import SUBJECT_KINDS, subjects

        marker = metafunc.definition.get_closest_marker("loadcert_gate")
        kind = marker.kwargs.get("subjects") if marker else None
        if kind not in SUBJECT_KINDS:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: loadcert_subject needs "
                "@pytest.mark.loadcert_gate(name, subjects=...) with one of "
                f"{', '.join(SUBJECT_KINDS)}"
            )
        values = subjects(state.profile, kind)
        metafunc.parametrize("loadcert_subject", values, ids=values, indirect=True)


def _gate_key(item: pytest.Item) -> GateKey | None:
    from pytest_loadcert.gates.catalogue import GateKey

    marker = item.get_closest_marker("loadcert_gate")
    fixturenames = getattr(item, "fixturenames", ())
    if marker is None and not any(name.startswith("loadcert_") for name in fixturenames):
        return None
    name = marker.args[0] if marker and marker.args else getattr(item, "originalname", item.name)
    name = name.removeprefix("test_")
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    stage = params.get("loadcert_stage")
    subject = params.get("loadcert_subject")
    if callspec is not None and subject is None:
        # A gate's own parametrization (beyond the stage) identifies its subject.
        rest = [part for part in callspec.id.split("-") if part != stage]
        subject = "-".join(rest) or None
    return GateKey(name, stage, subject)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = _state(config)
    if state is None:
        skip = pytest.mark.skip(reason="a certification gate: run pytest with --evidence-dir DIR")
        for item in items:
            if _gate_key(item) is not None:
                item.add_marker(skip)
        return
    gates: list[pytest.Item] = []
    others: list[pytest.Item] = []
    seen: dict[GateKey, str] = {}
    required = set(state.expected)
    for item in items:
        key = _gate_key(item)
        builtin = item.path == BUILTIN_GATES
        if key is None or (builtin and key not in required):
            others.append(item)  # not a gate, or a built-in gate the profile does not require
            continue
        if key in seen:
            state.problems.append(f"{item.nodeid} and {seen[key]} are both gate {key.id}")
        seen[key] = item.nodeid
        item.stash[GATE_KEY] = key
        item.add_marker(pytest.mark.loadcert)
        item.user_properties.append(("loadcert.gate", key.id))
        state.collected[item.nodeid] = key
        _apply_waiver(state, item, key)
        gates.append(item)
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = gates
    if hasattr(config, "workeroutput"):
        config.workeroutput[WORKER_OUTPUT] = json.dumps(
            {
                "keys": sorted(key_to_json(k) for k in state.collected.values()),
                "problems": state.problems,
            }
        )


def _apply_waiver(state: RunState, item: pytest.Item, key: GateKey) -> None:
    from pytest_loadcert.evidence.timeutil import now_utc

    for waiver in state.profile.waivers:
        if waiver.matches(key.gate, key.stage, key.subject):
            if waiver.expired(now_utc().date()):
                item.stash[WAIVER_KEY] = (
                    f"expired: the waiver by {waiver.owner} for {key.id} "
                    f"expired on {waiver.expires}"
                )
            else:
                item.stash[WAIVER_KEY] = (
                    f"waived by {waiver.owner} until {waiver.expires}: {waiver.reason}"
                )
            return


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = item.stash.get(WAIVER_KEY, None)
    if reason is None:
        return
    if reason.startswith("expired:"):
        from pytest_loadcert.errors import EvidenceError

        state = _state(item.config)
        raise EvidenceError(state.profile.source if state else "profile", "waivers", reason)
    pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Unusable evidence is reported by its one-line message: no traceback is rendered."""
    from pytest_loadcert.errors import EvidenceError

    if item.stash.get(GATE_KEY, None) is None or call.excinfo is None:
        return None
    if not call.excinfo.errisinstance(EvidenceError) or call.when == "collect":
        return None
    return pytest.TestReport(
        nodeid=item.nodeid,
        location=item.location,
        keywords=dict.fromkeys(item.keywords, 1),
        outcome="failed",
        longrepr=str(call.excinfo.value),
        when=call.when,
        sections=[],
        duration=call.duration,
        start=call.start,
        stop=call.stop,
        user_properties=item.user_properties,
    )


def _as_error(report: pytest.TestReport) -> None:
    # junit writes <error> only for a non-call phase; a blocked gate is an error, not a
    # failure. The phase it really blocked in rides along, so junit's message can say so.
    if report.when == "call":
        report.when = "setup"
        report.loadcert_phase = "call"  # type: ignore[attr-defined]


def _block(report: pytest.TestReport, message: str) -> None:
    report.outcome = "failed"
    _as_error(report)
    report.longrepr = f"blocked: {message}"
    report.loadcert_status = GATE_BLOCKED  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_classify(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    key = item.stash.get(GATE_KEY, None)
    if key is None:
        return report
    from pytest_loadcert.errors import EvidenceError

    excinfo = call.excinfo
    waiver = item.stash.get(WAIVER_KEY, None)
    if hasattr(report, "wasxfail"):
        del report.wasxfail
        _block(report, f"gate {key.id} is marked xfail; an expected failure proves nothing")
    elif report.skipped:
        if waiver is not None and not waiver.startswith("expired:"):
            report.loadcert_status = WAIVED  # type: ignore[attr-defined]
        else:
            reason = excinfo.exconly() if excinfo else "skipped"
            _block(report, f"gate {key.id} was skipped ({reason}); a skipped gate is not evidence")
    elif report.failed:
        if excinfo is not None and excinfo.errisinstance(EvidenceError):
            _block(report, str(excinfo.value))
        elif (
            report.when == "call"
            and excinfo is not None
            and excinfo.errisinstance((AssertionError, pytest.fail.Exception))
        ):
            report.loadcert_status = FAILED  # type: ignore[attr-defined]
        else:
            report.loadcert_status = GATE_BLOCKED  # type: ignore[attr-defined]
            _as_error(report)
    elif report.when == "call":
        report.loadcert_status = PASSED  # type: ignore[attr-defined]
    status = getattr(report, "loadcert_status", None)
    if status is not None:
        report.loadcert_gate = key_to_json(key)  # type: ignore[attr-defined]
        item.user_properties.append(("loadcert.status", status))
        if status != PASSED:
            item.user_properties.append(("loadcert.message", report_message(report)))
    return report


CURRENT_GATE = pytest.StashKey[pytest.Item]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Remember which gate is running, for :func:`pytest_assertrepr_compare`."""
    if item.stash.get(GATE_KEY, None) is None:
        return (yield)
    item.config.stash[CURRENT_GATE] = item
    try:
        return (yield)
    finally:
        del item.config.stash[CURRENT_GATE]


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> None:
    """A team gate's failed ``assert observed >= required`` reports both values."""
    item = config.stash.get(CURRENT_GATE, None)
    if item is not None and op in COMPARISONS:
        record_comparison(item, op, left, right)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    status = getattr(report, "loadcert_status", None)
    if status == GATE_BLOCKED:
        return "error", "B", ("BLOCKED", {"red": True})
    if status == WAIVED:
        return "waived", "w", ("WAIVED", {"yellow": True})
    return None
