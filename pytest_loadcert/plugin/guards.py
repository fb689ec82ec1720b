"""What a certification run refuses before any gate runs (each a ``pytest.UsageError``).

A result path it could not write, a rootdir pytest moved because it read the evidence path
as a test path, and configuration, code or gate tests that arrived with the bundle being
judged.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pytest_loadcert.envvars as envvars


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


def check_rootdir(config: pytest.Config) -> None:
    """Refuse a run whose rootdir moved because pytest took the evidence path for a test path.

    pytest chooses its rootdir before plugins add options, so in ``--evidence-dir PATH``
    the PATH counts as a test path; a bundle outside the repository then moves the rootdir
    above it and the repository's configuration (and profile) would silently be missed.
    """
    if "--evidence-dir" not in config.invocation_params.args:
        return
    from pytest_loadcert.evidence.layout import PYTEST_CONFIG_NAMES  # not at plugin import

    invocation = config.invocation_params.dir
    for folder in (invocation, *invocation.parents):
        if any((folder / name).is_file() for name in PYTEST_CONFIG_NAMES):
            if folder != config.rootpath:
                raise pytest.UsageError(
                    f"pytest chose rootdir {config.rootpath} because it read the --evidence-dir "
                    f"value as a test path, so the configuration in {folder} would be ignored; "
                    "write --evidence-dir=PATH (with '=') or set LOADCERT_EVIDENCE_DIR"
                )
            return


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
