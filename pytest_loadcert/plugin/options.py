"""The plugin's command-line options and ini keys (registered by ``pytest_addoption``).

How they combine with the ``LOADCERT_*`` variables is :mod:`pytest_loadcert.plugin.settings`.
"""

from __future__ import annotations

import pytest

import pytest_loadcert.envvars as envvars


def add_options(parser: pytest.Parser) -> None:
    """The command-line options and ini keys of a certification run."""
    group = parser.getgroup("loadcert", "load-test certification (pytest-loadcert)")
    flag, metavar, text = envvars.EVIDENCE_DIR_OPTION
    group.addoption(
        flag,
        dest="loadcert_evidence_dir",
        metavar=metavar,
        default=None,
        help=f"certify {text} {metavar}: run only certification gates "
        "(env LOADCERT_EVIDENCE_DIR, ini loadcert_evidence_dir)",
    )
    flag, metavar, text = envvars.PROFILE_OPTION
    group.addoption(flag, dest="loadcert_profile", metavar=metavar, default=None, help=text)
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
