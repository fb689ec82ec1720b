"""Settings resolved once, in one place: command line > environment > ini > default.

The ini values are the repository's as committed (:mod:`pytest_loadcert.config.committed`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest_loadcert.envvars as envvars

if TYPE_CHECKING:
    from pytest_loadcert.config.committed import Committed


@dataclass(frozen=True)
class Settings:
    """What a certification run was asked to do."""

    evidence_dir: Path | None
    profile_path: Path | None
    pyproject: Path | None
    git_sha: str | None
    certificate_path: Path
    intoto_path: Path  # the in-toto Statement, beside the certificate by default
    gate_paths: tuple[Path, ...]

    @property
    def active(self) -> bool:
        return self.evidence_dir is not None


EVIDENCE_KEY = "loadcert_evidence_dir"


def evidence_requested(committed: Committed, option: str | None) -> bool:
    """Whether a certification run was asked for, before the command line is fully parsed
    (``option`` is ``--evidence-dir`` from pytest's early parse)."""
    return bool(option or os.environ.get(envvars.EVIDENCE_DIR) or committed.string(EVIDENCE_KEY))


def resolve(config: Any, committed: Committed) -> Settings:
    """Resolve from a ``pytest.Config`` (typed loosely to keep this module pytest-free) and
    the repository's configuration as committed (its ini values: never ``-o``'s)."""
    invocation: Path = config.invocation_params.dir

    def pick(option: str, env: str, ini: str | None) -> Path | None:
        cli = config.getoption(option)
        if cli:
            return Path(invocation / str(cli)).resolve()
        if os.environ.get(env):
            return Path(invocation / os.environ[env]).resolve()
        return committed.path(ini) if ini else None

    from pytest_loadcert.config.committed import profile_file, pyproject_of

    evidence = pick("loadcert_evidence_dir", envvars.EVIDENCE_DIR, EVIDENCE_KEY)
    profile = profile_file(committed, config.getoption("loadcert_profile"), invocation)
    sha = config.getoption("loadcert_git_sha") or os.environ.get(envvars.GIT_SHA) or None
    certificate = pick("loadcert_certificate", envvars.CERTIFICATE, "loadcert_certificate")
    if certificate is None:
        xml = config.getoption("xmlpath", None)
        folder = (invocation / xml).resolve().parent if xml else invocation
        certificate = folder / "certificate.json"
    intoto = pick("loadcert_intoto", envvars.INTOTO, "loadcert_intoto")
    if intoto is None:
        from pytest_loadcert.certify.intoto import default_path

        intoto = default_path(certificate)
    return Settings(
        evidence_dir=evidence,
        profile_path=profile,
        pyproject=pyproject_of(committed, config.rootpath),
        git_sha=sha,
        certificate_path=certificate,
        intoto_path=intoto,
        gate_paths=committed.paths("loadcert_gates"),
    )
