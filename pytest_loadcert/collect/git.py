"""``loadcert collect git``: record which commit was under test, when the run happened.

Writes ``artifacts/git.json``::

    {"sha": "<40 hex: git rev-parse HEAD>",
     "ref": "<git symbolic-ref -q HEAD, e.g. refs/heads/main; HEAD when detached>",
     "dirty": <git status --porcelain --untracked-files=all lists anything>,
     "collected_at": "<RFC 3339 Z>"}

The rules are :func:`pytest_loadcert.collect.git.git_state`'s, so both commands agree: untracked
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
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.evidence.jsonio import write_json_atomic
from pytest_loadcert.evidence.layout import GIT_JSON
from pytest_loadcert.evidence.timeutil import format_utc, now_utc

HELP = "record the commit under test: SHA, ref, dirty (artifacts/git.json)"


#: How long one git command may take.
GIT_TIMEOUT_S = 60.0


class GitError(cliopts.CommandError):
    """The state cannot be recorded; ``exit_status`` 2 = not a repository, 1 = git failed."""

    default_status = cliopts.EXIT_FAILED


class GitStateError(GitError):
    """The repository's state cannot be read: not a repository, no HEAD (a usage error)."""

    default_status = cliopts.EXIT_USAGE


def git_record(
    repo: Path, exclude: Path | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The ``artifacts/git.json`` document for ``repo`` (``exclude``: a path inside the
    work tree that does not count as a change, normally the evidence directory)."""
    if shutil.which("git") is None:
        raise GitError("git is not installed or not on PATH (needed to read the commit under test)")
    state = git_state(repo, exclude, option="--repo")
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


_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # Read-only: `git status` would otherwise refresh the index, racing other writers.
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["LC_ALL"] = "C"
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise GitStateError(
            "git is not installed (needed to record the commit under test)"
        ) from None
    except subprocess.TimeoutExpired:
        raise GitStateError(f"git {' '.join(args)} in {repo} timed out", exit_status=1) from None


def git_state(
    repo: Path, evidence_dir: Path | None = None, *, option: str = "--git-repo"
) -> dict[str, Any]:
    """``{"sha", "ref", "dirty"}`` of the repository at ``repo``.

    ``ref`` is the symbolic ref of HEAD, or ``"HEAD"`` when detached. ``dirty`` is whether
    ``git status --porcelain`` lists anything; the evidence directory itself is left out
    when it lies inside the work tree, since writing evidence must not make the code
    under test look modified. ``option`` names ``repo`` in error messages.
    """
    head = _git(repo, "rev-parse", "--verify", "HEAD")
    if head.returncode != 0:
        raise GitStateError(
            f"{option} {repo}: cannot read HEAD ({head.stderr.strip() or 'not a git repository'})"
        )
    sha = head.stdout.strip()
    if not _SHA1_RE.fullmatch(sha):
        raise GitStateError(
            f"{option} {repo}: HEAD is {sha!r}; loadcert/v1 records a 40-hex SHA-1 commit"
        )
    symbolic = _git(repo, "symbolic-ref", "-q", "HEAD")
    if symbolic.returncode == 0:
        ref = symbolic.stdout.strip()
    elif symbolic.returncode == 1:
        ref = "HEAD"  # detached HEAD, as in most CI checkouts
    else:
        raise GitStateError(f"{option} {repo}: git symbolic-ref failed: {symbolic.stderr.strip()}")
    pathspec: list[str] = []
    if evidence_dir is not None:
        top = _git(repo, "rev-parse", "--show-toplevel")
        if top.returncode == 0 and top.stdout.strip():
            try:
                rel = evidence_dir.resolve().relative_to(Path(top.stdout.strip()).resolve())
            except ValueError:
                rel = None
            if rel is not None and rel.parts:
                pathspec = ["--", ":/", f":(top,exclude){rel.as_posix()}"]
    status = _git(repo, "status", "--porcelain", "--untracked-files=all", *pathspec)
    if status.returncode != 0:
        raise GitStateError(f"{option} {repo}: git status failed: {status.stderr.strip()}")
    return {"sha": sha, "ref": ref, "dirty": bool(status.stdout.strip())}
