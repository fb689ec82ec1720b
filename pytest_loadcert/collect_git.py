"""``loadcert collect git``: record which commit was under test, when the run happened.

Writes ``artifacts/git.json``::

    {"sha": "<40 hex: git rev-parse HEAD>",
     "ref": "<git symbolic-ref -q HEAD, e.g. refs/heads/main; HEAD when detached>",
     "dirty": <git status --porcelain --untracked-files=all lists anything>,
     "collected_at": "<RFC 3339 Z>"}

The rules are :func:`pytest_loadcert.seal.git_state`'s, so both commands agree: untracked
files make the tree dirty (a new file can be part of what ran; ignored files do not count),
and the evidence directory itself is left out when it lies inside the work tree.

``loadcert seal`` binds this record into ``loadcert.json`` ``git`` instead of asking git
again, so the bundle names the tree as it was when the run happened even when sealing comes
later or elsewhere; with ``--git-repo`` too, seal refuses a repository that has changed
since. The ``git_binding`` gate reads ``loadcert.json`` ``git``; ``artifacts/git.json`` is
bound by hash like every file of the bundle.
"""

from __future__ import annotations

import argparse
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_loadcert import cliopts
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.jsonio import read_json, write_json_atomic
from pytest_loadcert.timeutil import format_utc, now_utc, parse_utc

HELP = "record the commit under test: SHA, ref, dirty (artifacts/git.json)"

GIT_JSON = "artifacts/git.json"
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_KEYS = ("sha", "ref", "dirty", "collected_at")


class GitError(cliopts.CommandError):
    """The state cannot be recorded; ``exit_status`` 2 = not a repository, 1 = git failed."""

    default_status = cliopts.EXIT_FAILED


def git_record(
    repo: Path, exclude: Path | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The ``artifacts/git.json`` document for ``repo`` (``exclude``: a path inside the
    work tree that does not count as a change, normally the evidence directory)."""
    from pytest_loadcert.seal import SealError, git_state

    if shutil.which("git") is None:
        raise GitError("git is not installed or not on PATH (needed to read the commit under test)")
    try:
        state = git_state(repo, exclude, option="--repo")
    except SealError as exc:
        raise GitError(str(exc), exc.exit_status) from None
    return {**state, "collected_at": format_utc(now if now is not None else now_utc())}


def collect(repo: Path, evidence_dir: Path, *, exclude: Path | None = None) -> dict[str, Any]:
    """Write ``<evidence_dir>/artifacts/git.json`` for ``repo``; returns the document."""
    if evidence_dir.exists() and not evidence_dir.is_dir():
        raise GitError(
            f"--evidence-dir {evidence_dir}: not a directory", exit_status=cliopts.EXIT_USAGE
        )
    document = git_record(repo, exclude if exclude is not None else evidence_dir)
    write_json_atomic(evidence_dir / GIT_JSON, document)
    return document


def read_record(evidence_dir: Path) -> dict[str, Any]:
    """``{"sha", "ref", "dirty"}`` from the bundle's ``artifacts/git.json``, checked strictly.

    Raises :class:`~pytest_loadcert.errors.EvidenceError` naming the field.
    """
    document = read_json(evidence_dir / GIT_JSON, GIT_JSON)
    if not isinstance(document, dict):
        raise EvidenceError(GIT_JSON, "", "is not a JSON object")
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise EvidenceError(GIT_JSON, unknown[0], "is not a known key")
    for key in _KEYS:
        if key not in document:
            raise EvidenceError(GIT_JSON, key, "is missing")
    if not isinstance(document["sha"], str) or not _SHA_RE.fullmatch(document["sha"]):
        raise EvidenceError(GIT_JSON, "sha", "must be a full 40-hex commit SHA")
    if not isinstance(document["ref"], str) or not document["ref"].strip():
        raise EvidenceError(GIT_JSON, "ref", "must be a non-empty string")
    if not isinstance(document["dirty"], bool):
        raise EvidenceError(GIT_JSON, "dirty", "must be true or false")
    if parse_utc(document["collected_at"]) is None:
        raise EvidenceError(GIT_JSON, "collected_at", "is not an RFC 3339 UTC time")
    return {"sha": document["sha"], "ref": document["ref"], "dirty": document["dirty"]}


# ----------------------------------------------------------------------------- command line


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert collect git``."""
    parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        metavar="PATH",
        help="the repository under test (default: the current directory)",
    )
    cliopts.add_evidence_dir(parser)


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert collect git``: 0 recorded, 1 git failed or missing, 2 not a repository."""
    try:
        document = collect(ns.repo, ns.evidence_dir)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    print(
        f"{ns.evidence_dir / GIT_JSON}: written; {document['sha']} {document['ref']}"
        f"{' (dirty)' if document['dirty'] else ''}"
    )
    if document["dirty"]:
        cliopts.log(
            ns,
            f"warning: {ns.repo} has uncommitted or untracked changes (git status --porcelain); "
            "the git_binding gate blocks a dirty tree",
        )
    return cliopts.EXIT_OK
