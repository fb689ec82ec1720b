"""The pytest plugin: thin hooks over the pytest-free core (the ``pytest11`` entry point).

Without an evidence directory the plugin is inert. With one (``--evidence-dir``), pytest
collects the built-in gates plus the repository's own gate tests (``loadcert_gates``), runs
only gates, maps every outcome to ``passed`` / ``failed`` (not_certified) / ``blocked`` /
``waived``, and writes the certificate: junit suite properties, ``certificate.json`` and a
terminal summary. The exit status is the verdict's (0 certified, 1 not_certified, 2 blocked).

Each hook says when it runs and hands the work to the module that holds it: options,
guards (what the run refuses before any gate), collection (which tests are gates), outcomes
(a report in loadcert's words), controller (the verdict and the certificate), html.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_loadcert.plugin.collection import (
    BUILTIN_GATES,
    BUILTIN_NODEID,
    gate_args,
    gate_key,
    parametrize,
    select_gates,
)
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
from pytest_loadcert.plugin.guards import (
    check_configuration,
    check_gate_paths_exist,
    check_gate_paths_outside_bundle,
    check_git_sha_given,
    check_judge_outside_bundle,
    check_output,
    check_outputs_distinct,
    check_receipt_file,
    check_rules_of_collection,
    check_session_given,
    inside,
)
from pytest_loadcert.plugin.options import add_options
from pytest_loadcert.plugin.outcomes import (
    classify,
    evidence_report,
    process_kept_alive,
    terminal_status,
)
from pytest_loadcert.plugin.state import (
    COMMITTED_KEY,
    COMPARISONS,
    GATE_KEY,
    STATE_KEY,
    WAIVER_KEY,
    RunState,
    record_comparison,
)

if TYPE_CHECKING:
    from pytest_loadcert.config.committed import Committed


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "loadcert: a certification gate (applied automatically)")
    config.addinivalue_line(
        "markers",
        "loadcert_gate(name, subjects=None): names a certification gate; subjects names a "
        "profile list the gate is parametrized over (metrics, stability, artifacts, "
        "workloads, hpas, pdbs, services)",
    )
    if not _may_certify(config):
        return
    from pytest_loadcert.plugin.settings import resolve

    committed = committed_config(config)
    settings = resolve(config, committed)
    if not settings.active:
        return
    from pytest_loadcert.config.load import load_profile
    from pytest_loadcert.config.profile import ProfileError
    from pytest_loadcert.evidence.bundle import Bundle
    from pytest_loadcert.gates.catalogue import expected_builtin

    assert settings.evidence_dir is not None
    check_configuration(config, committed)
    if not settings.evidence_dir.is_dir():
        raise pytest.UsageError(f"--evidence-dir {settings.evidence_dir}: no such directory")
    check_judge_outside_bundle(config, settings.evidence_dir)
    check_gate_paths_exist(settings.gate_paths)
    check_output("--loadcert-certificate", settings.certificate_path)
    check_output("--loadcert-intoto", settings.intoto_path)
    check_git_sha_given(config)
    check_session_given()
    check_receipt_file(config)
    check_outputs_distinct(config, settings.certificate_path, settings.intoto_path)
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
    from pytest_loadcert.plugin.scope import (
        declared_gate_files,
        expected_functions,
        gate_conftests,
    )

    state.gate_files = declared_gate_files(
        settings.gate_paths,
        committed.args("python_files"),
        committed.args("norecursedirs"),
        bundle.root,
    )
    state.gate_functions = expected_functions(
        state.gate_files,
        committed.args("python_functions"),
        committed.args("python_classes"),
    )
    state.gate_conftests = gate_conftests(
        settings.gate_paths, committed.args("norecursedirs"), config.rootpath, bundle.root
    )
    config.stash[STATE_KEY] = state
    # Collect the built-in gates and the repository's gate tests, never its unit tests.
    explicit = list(config.args) if config.args_source == pytest.Config.ArgsSource.ARGS else []
    config.args[:] = gate_args(explicit, settings.gate_paths)
    check_gate_paths_outside_bundle(config, settings.evidence_dir)
    if not hasattr(config, "workerinput"):
        from pytest_loadcert.plugin.controller import CertificationRun

        state.problems.extend(bundle.shape_problems(profile.stage_names, profile.source))

        config.pluginmanager.register(CertificationRun(config), "loadcert-controller")
        if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):
            from pytest_loadcert.plugin.html import LoadcertHtml

            config.pluginmanager.register(LoadcertHtml(config), "loadcert-html")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Load only the gate paths' conftest files in a certification run.

    pytest imports the conftest files of its test paths (``testpaths`` when none is given)
    before ``pytest_configure``; a repository's ``tests/conftest.py`` that imports a test-only
    package would stop the certification before it began. pytest reads the initial paths
    from the early parse of the command line, so that is where the gate paths go.

    This is also the earliest hook a plugin gets, before any conftest is imported and before
    an informational mode prints: options that change the rules of collection are refused
    here (:func:`pytest_loadcert.plugin.guards.check_rules_of_collection`).
    """
    from pytest_loadcert.plugin.settings import evidence_requested

    early = early_config.known_args_namespace
    if not _may_certify(early_config):
        return  # every pytest run in the environment gets here: read no file for it
    committed = committed_config(early_config)
    if not evidence_requested(committed, early.loadcert_evidence_dir):
        return
    check_rules_of_collection(early_config, committed)
    early.file_or_dir = gate_args(list(early.file_or_dir), committed.paths("loadcert_gates"))


def _may_certify(config: pytest.Config) -> bool:
    """Whether this run can be a certification run, asked without reading any file: the
    bundle is named (option, environment, the run's ini), or the run's configuration may not
    be the committed one (``-c``, ``--rootdir``, ``-o``), in which case the committed one is
    read to find out."""
    import os

    import pytest_loadcert.envvars as envvars

    early = config.known_args_namespace
    return bool(
        early.loadcert_evidence_dir
        or os.environ.get(envvars.EVIDENCE_DIR)
        or config.getini("loadcert_evidence_dir")
        or getattr(early, "inifilename", None)
        or getattr(early, "rootdir", None)
        or getattr(early, "override_ini", None)
    )


def committed_config(config: pytest.Config) -> Committed:
    """The repository's configuration as committed (:mod:`pytest_loadcert.config.committed`),
    read once per process."""
    committed = config.stash.get(COMMITTED_KEY, None)
    if committed is None:
        from pytest_loadcert.config.committed import CommittedConfigError, locate

        try:
            committed = locate(config.invocation_params.dir)
        except CommittedConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.stash[COMMITTED_KEY] = committed
    return committed


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    """Give the built-in gates a stable node id wherever the package is installed."""
    if module_path != BUILTIN_GATES or _state(parent.config) is None:
        return None
    return pytest.Module.from_parent(parent, path=module_path, nodeid=BUILTIN_NODEID)


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Never collect the bundle being judged (kept under the gate tests, say): collecting a
    directory imports its conftest.py, code that arrived with the evidence."""
    state = _state(config)
    if state is None:
        return None
    return True if inside(collection_path.resolve(), state.bundle.root.resolve()) else None


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
    from pytest_loadcert.errors import printable

    return [printable(line) for line in lines]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = _state(metafunc.config)
    if state is not None:
        parametrize(metafunc, state)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Record each item as pytest collects it, before any collection hook can remove it."""
    state = _state(item.config)
    if state is not None:
        from pytest_loadcert.plugin.scope import Discovered

        state.discovered.append(Discovered(item.nodeid, item.path, gate_key(item)))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = _state(config)
    if state is not None:
        select_gates(config, state, items)
        return
    skip = pytest.mark.skip(reason="a certification gate: run pytest with --evidence-dir DIR")
    for item in items:
        if gate_key(item) is not None:
            item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    waiver = item.stash.get(WAIVER_KEY, None)
    if waiver is None:
        return
    if waiver.expired:
        from pytest_loadcert.errors import EvidenceError

        state = _state(item.config)
        source = state.profile.source if state else "profile"
        raise EvidenceError(source, "waivers", f"expired: {waiver.message}")
    pytest.skip(waiver.message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A gate's setup, call and teardown run with ``os._exit`` refused (see outcomes)."""
    if item.stash.get(GATE_KEY, None) is None:
        return (yield)
    with process_kept_alive():
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Unusable evidence is reported by its one-line message: no traceback is rendered."""
    return evidence_report(item, call)


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_classify(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    classify(item, call, report)
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
    return terminal_status(report)
