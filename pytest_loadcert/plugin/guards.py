"""What a certification run refuses before any gate runs (each a ``pytest.UsageError``,
exit 4).

Options and environment that change the rules of collection (which tests are the gates,
under which configuration, with which conftests) and modes that print instead of judging,
refused before any conftest is imported; a configuration file or rootdir that is not the
repository's; a result path it could not write; and configuration, code or gate tests that
arrived with the bundle being judged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import pytest_loadcert.envvars as envvars

if TYPE_CHECKING:
    from pytest_loadcert.config.committed import Committed


def check_output(option: str, path: Path) -> None:
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


def check_configuration(config: pytest.Config, committed: Committed) -> None:
    """Refuse a run whose configuration file or rootdir is not the repository's.

    pytest chooses both before plugins add options: in ``--evidence-dir PATH`` (or
    ``--html PATH``) the PATH counts as a test path, and a PATH outside the repository moves
    the rootdir above it, where the repository's configuration (its gates, its profile) is
    silently not read. ``PYTEST_ADDOPTS`` can carry ``-c`` and ``--rootdir`` too.
    """
    found = committed.inipath
    used = config.inipath
    same_file = (found is None and used is None) or (
        found is not None and used is not None and found.resolve() == used.resolve()
    )
    same_root = found is None or config.rootpath.resolve() == found.parent.resolve()
    if same_file and same_root:
        return
    hint = (
        "write options with '=' (--evidence-dir=PATH), as pytest takes a value after a space "
        "for a test path when it chooses its rootdir"
        if any(not a.startswith("-") for a in config.invocation_params.args)
        else "run pytest from the repository"
    )
    raise pytest.UsageError(
        f"pytest chose rootdir {config.rootpath} and configuration {used or 'none'}, but the "
        f"repository's configuration is {found or 'none'}: its declared gates and profile "
        f"would not be read; {hint}"
    )


def inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_judge_outside_bundle(config: pytest.Config, evidence_dir: Path) -> None:
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
        if inside(path, bundle):
            raise pytest.UsageError(
                f"--evidence-dir {evidence_dir}: {what} ({path}) is inside the bundle, so "
                "configuration or code carried by the evidence would take part in judging it; "
                "run pytest from the repository that holds the profile"
            )


def check_gate_paths_outside_bundle(config: pytest.Config, evidence_dir: Path) -> None:
    """Refuse gate tests collected from inside the bundle: code that arrived with the evidence."""
    bundle = evidence_dir.resolve()
    for arg in config.args:
        path = config.invocation_params.dir / arg.split("::", 1)[0]
        if inside(path.resolve(), bundle):
            raise pytest.UsageError(
                f"--evidence-dir {evidence_dir}: the gate path {arg} is inside the bundle, so "
                "code carried by the evidence would take part in judging it"
            )


def check_gate_paths_exist(gate_paths: tuple[Path, ...]) -> None:
    """Refuse a declared gate path that does not exist: the gates it declares cannot be
    judged, and under xdist pytest's own refusal would reach no one."""
    for path in gate_paths:
        if not path.exists():
            raise pytest.UsageError(
                f"loadcert_gates names {path}, which does not exist: the team's gates it "
                "declares cannot be judged"
            )


def check_outputs_distinct(config: pytest.Config, certificate: Path, intoto: Path) -> None:
    """Refuse a junit path that is the certificate's or the in-toto Statement's: junit is
    written after them and would replace one, leaving a run that exits 0 without it."""
    xml = config.getoption("xmlpath", None)
    if not xml:
        return
    junit = (config.invocation_params.dir / str(xml)).resolve()
    for what, path in (("certificate.json", certificate), ("in-toto Statement", intoto)):
        if junit == path.resolve():
            raise pytest.UsageError(
                f"--junitxml {xml}: is the {what}'s path ({path}); junit would replace it. "
                "Give the junit file its own name (certificate.xml)"
            )


def check_git_sha_given(config: pytest.Config) -> None:
    """Refuse an empty commit to check against: the option (or variable) was meant to turn
    the commit check on, and empty would silently turn it off."""
    option = config.getoption("loadcert_git_sha")
    if option is not None and not str(option).strip():
        raise pytest.UsageError(
            "--loadcert-git-sha is empty: name the commit under test, or leave the option out"
        )
    if option is None and envvars.GIT_SHA in os.environ and not os.environ[envvars.GIT_SHA].strip():
        raise pytest.UsageError(
            f"{envvars.GIT_SHA} is set but empty: name the commit under test, or unset it"
        )


#: Modes that print and exit without judging (or run the gates without calling them):
#: refused in a certification run, which must end in a verdict or a refusal, never in an
#: exit 0 that leaves no current certificate. ``--collect-only`` is not among them: it lists
#: the gates through a session, and its certificate is ``blocked`` (no gate was judged).
INFORMATIONAL_MODES = {
    "help": "--help",
    "version": "--version",
    "markers": "--markers",
    "showfixtures": "--fixtures",
    "show_fixtures_per_test": "--fixtures-per-test",
    "setuponly": "--setup-only",
    "setupplan": "--setup-plan",
    "cacheshow": "--cache-show",
}

#: ``-o`` keys that change how a run reports, never which tests exist or how they judge.
HARMLESS_OVERRIDES = ("junit_", "log_", "cache_dir", "console_output_style", "verbosity_",
                      "truncation_", "faulthandler_")  # fmt: skip


def _where(flags: tuple[str, ...]) -> str:
    import shlex

    try:
        tokens = shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    except ValueError:
        tokens = []
    from_env = any(token.startswith(flag) for token in tokens for flag in flags)
    return "in PYTEST_ADDOPTS" if from_env else "on the command line"


def _refuse(option: str, why: str, *flags: str) -> None:
    where = _where(flags or (option.split(" ", 1)[0],))
    raise pytest.UsageError(f"{option} ({where}) is refused in a certification run: {why}")


def check_rules_of_collection(config: pytest.Config, committed: Committed) -> None:
    """Refuse options that change which tests the repository's gates are, before any
    conftest is imported (pytest's early parse, ``known_args_namespace``).

    A certification run judges the gates the repository declares under the configuration it
    commits; an option that replaces that configuration, skips conftests, changes pytest's
    collection keys, or prints instead of judging is a usage error naming the option. A
    ``-o`` that the committed ``addopts`` itself carries is part of the committed rules.
    """
    namespace = config.known_args_namespace
    for dest, option in INFORMATIONAL_MODES.items():
        if getattr(namespace, dest, None):
            _refuse(
                option,
                "it prints and exits without judging, so no verdict is written",
                option,
                *(("-h",) if dest == "help" else ()),
            )
    inifile = getattr(namespace, "inifilename", None)
    if inifile:
        if committed.inipath is None or Path(inifile).resolve() != committed.inipath.resolve():
            _refuse(
                f"-c {inifile}",
                "the repository's configuration "
                f"({committed.inipath or 'none found'}) declares the gates and the profile",
                "-c",
                "--config-file",
                "--inifile",
            )
    rootdir = getattr(namespace, "rootdir", None)
    if rootdir and (committed.rootdir is None or Path(rootdir).resolve() != committed.rootdir):
        _refuse(f"--rootdir {rootdir}", "the rootdir is the repository's configuration's folder")
    check_configuration(config, committed)
    if getattr(namespace, "noconftest", False):
        _refuse("--noconftest", "the conftest.py files under the gate paths are part of the gates")
    confcutdir = getattr(namespace, "confcutdir", None)
    root = committed.rootdir or config.rootpath  # pytest's default confcutdir
    if confcutdir and Path(confcutdir).resolve() != root.resolve():
        _refuse(f"--confcutdir {confcutdir}", "it decides which conftest.py files take part")
    if getattr(namespace, "pyargs", False):
        _refuse("--pyargs", "the gates are the files the repository declares, not modules")
    for plugin in getattr(namespace, "plugins", None) or []:
        if plugin.replace(" ", "") == "no:python":
            _refuse(f"-p {plugin}", "it removes the collection of gate tests")
    committed_entries = list(committed.addopts_overrides)
    for entry in getattr(namespace, "override_ini", None) or []:
        if entry in committed_entries:
            committed_entries.remove(entry)  # the committed addopts' own -o
            continue
        key, _, value = entry.partition("=")
        key = key.strip()
        if key.startswith(HARMLESS_OVERRIDES):
            continue
        if key.startswith("strict") and value.strip().lower() in ("true", "1"):
            continue  # stricter only (--strict-markers, --strict-config)
        _refuse(
            f"-o {entry}",
            f"{key} is part of the repository's committed rules (which tests are gates, "
            "which profile, how they judge)",
            "-o",
            "--override-ini",
        )


def check_session_given() -> None:
    """Refuse a ``$LOADCERT_SESSION`` that is empty or not a session id: the certificate,
    junit and receipt carry it, and ``loadcert report --session`` compares with it."""
    from pytest_loadcert.certify.session import session_problem

    value = os.environ.get(envvars.SESSION)
    if value is None:
        return
    if not value.strip():
        raise pytest.UsageError(
            f"{envvars.SESSION} is set but empty: name the session, or unset it"
        )
    problem = session_problem(value)
    if problem is not None:
        raise pytest.UsageError(f"{envvars.SESSION}: {problem}")


def check_receipt_file(config: pytest.Config) -> None:
    """A ``$LOADCERT_RECEIPT`` the run could not append to is refused before any gate runs."""
    receipt = os.environ.get(envvars.RECEIPT)
    if receipt:
        check_output(envvars.RECEIPT, (config.invocation_params.dir / receipt).resolve())
