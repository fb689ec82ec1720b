"""``loadcert seal``: write the bundle manifest ``loadcert.json`` (contract ``loadcert/v1``).

The manifest binds the evidence to what was tested: the git commit, the k6 script, the
rendered Kubernetes manifest, the image digests, and the digest of every other file of the
bundle. Sealing never follows a symbolic link (a link could smuggle in a file from outside
the bundle, or change after sealing); it refuses the bundle and names the links instead.

Sealing is idempotent: when nothing but ``created_at`` would change, ``loadcert.json`` is
left exactly as it is.

This module also holds the atomic file writers the other ``loadcert`` commands use.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.collect.git import GitError, git_state
from pytest_loadcert.evidence.hashing import is_digest, sha256_bytes, sha256_file
from pytest_loadcert.evidence.integrity import walk_bundle
from pytest_loadcert.evidence.jsonio import write_atomic, write_json_atomic
from pytest_loadcert.evidence.layout import CLUSTER, K6_SCRIPT, K8S_MANIFEST, MANIFEST
from pytest_loadcert.evidence.timeutil import format_utc, now_utc, parse_utc

SCHEMA = "loadcert/v1"

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: The manifest schema caps run_id and environment at this length.
MAX_NAME_LEN = 200


class SealError(cliopts.CommandError):
    """The bundle cannot be sealed as asked; ``exit_status`` is 2 for bad input, 1 else."""

    default_status = cliopts.EXIT_USAGE


# ----------------------------------------------------------------------------- writing


# ----------------------------------------------------------------------------- inputs


def parse_image(text: str) -> tuple[str, str]:
    """Parse ``name=sha256:<64 lowercase hex>``; raises ValueError with the reason."""
    name, sep, digest = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{text!r} is not name=sha256:<64 hex>")
    if not is_digest(digest):
        raise ValueError(
            f"{text!r}: the digest must be sha256: followed by 64 lowercase hex digits "
            "(the image's repo digest, e.g. from `docker inspect --format '{{.RepoDigests}}'`)"
        )
    return name.strip(), digest


def _check_name(value: str, option: str) -> str:
    if not value.strip():
        raise SealError(f"{option} must not be empty")
    if len(value) > MAX_NAME_LEN:
        raise SealError(f"{option} is longer than {MAX_NAME_LEN} characters")
    if _CONTROL_RE.search(value):
        raise SealError(f"{option} must not contain control characters")
    return value


# ----------------------------------------------------------------------------- git


def _git_state(repo: Path, root: Path) -> dict[str, Any]:
    """:func:`~pytest_loadcert.collect.git.git_state` of ``repo``, its refusal as seal's."""
    try:
        return git_state(repo, root)
    except GitError as exc:
        raise SealError(str(exc), exc.exit_status) from None


def _git_binding(root: Path, git_repo: Path | None) -> dict[str, Any]:
    """The manifest's ``git``: ``artifacts/git.json`` when `loadcert collect git` wrote one
    (checked against ``git_repo`` when that is given too), else ``git_repo`` (default: .)."""
    from pytest_loadcert.errors import EvidenceError
    from pytest_loadcert.evidence.git import read_record
    from pytest_loadcert.evidence.layout import GIT_JSON

    if not _lexists(root / GIT_JSON):
        return _git_state(git_repo if git_repo is not None else Path.cwd(), root)
    try:
        recorded = read_record(root)
    except EvidenceError as exc:
        raise SealError(f"{exc} (written by `loadcert collect git`)") from None
    if git_repo is not None:
        live = _git_state(git_repo, root)
        if live != recorded:
            raise SealError(
                f"{GIT_JSON} records {recorded['sha']} {recorded['ref']} dirty={recorded['dirty']}"
                f", but --git-repo {git_repo} is now {live['sha']} {live['ref']} "
                f"dirty={live['dirty']}: the repository changed since `loadcert collect git`"
            )
    return recorded


# ----------------------------------------------------------------------------- files


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _require_regular(root: Path, rel: str, hint: str) -> None:
    path = root / rel
    if not _lexists(path):
        raise SealError(f"{rel} is missing from {root}: {hint}")
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise SealError(f"{rel} is a symbolic link; the bundle must hold the file itself")
    if not stat.S_ISREG(mode):
        raise SealError(f"{rel} is not a regular file")


def bundle_files(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every regular file under ``root`` but the manifest.

    Sorted by path. Raises :class:`SealError` naming every symbolic link (never followed)
    and every special file found: the same walk the integrity gate makes.
    """
    files, refused = walk_bundle(root)
    if refused:
        raise SealError(
            "refusing to seal: the bundle may hold only complete regular files; found "
            + ", ".join(sorted(str(r) for r in refused))
        )
    return {rel: sha256_file(root / rel) for rel in sorted(files)}


# ----------------------------------------------------------------------------- sealing


@dataclass(frozen=True)
class SealResult:
    """What :func:`seal` did: the manifest (as written or kept) and whether it changed."""

    path: Path
    manifest: dict[str, Any]
    changed: bool


def seal(
    evidence_dir: Path,
    *,
    run_id: str,
    environment: str,
    images: Sequence[tuple[str, str]] = (),
    k8s_manifest: Path | None = None,
    git_repo: Path | None = None,
    namespace: str | None = None,
    cluster_collected_at: str | None = None,
    now: datetime | None = None,
) -> SealResult:
    """Write ``<evidence_dir>/loadcert.json``; see docs/cli.md for every rule.

    Everything is validated before anything is written, so a refused seal leaves the
    bundle as it was.
    """
    root = evidence_dir
    if not root.is_dir():
        raise SealError(f"--evidence-dir {root}: not a directory")
    _check_name(run_id, "--run-id")
    _check_name(environment, "--environment")

    names = [name for name, _ in images]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SealError(f"--image names {', '.join(duplicates)} more than once")
    for name, digest in images:
        if not is_digest(digest):
            raise SealError(f"--image {name}={digest}: not sha256:<64 lowercase hex>")

    cluster = _cluster(root, namespace, cluster_collected_at)

    _require_regular(root, K6_SCRIPT, "run `loadcert run-stage` first (it copies the script)")
    manifest_source: bytes | None = None
    if k8s_manifest is not None:
        try:
            manifest_source = k8s_manifest.read_bytes()
        except OSError as exc:
            raise SealError(f"--k8s-manifest {k8s_manifest}: {exc.strerror}") from None
        target = root / K8S_MANIFEST
        if _lexists(target):
            _require_regular(root, K8S_MANIFEST, "")
            if sha256_file(target) != sha256_bytes(manifest_source):
                raise SealError(
                    f"{K8S_MANIFEST} already holds a different manifest than {k8s_manifest}; "
                    "a bundle binds one manifest (use a new evidence directory)"
                )
            manifest_source = None  # identical: nothing to write
    else:
        _require_regular(root, K8S_MANIFEST, "pass --k8s-manifest FILE (the rendered manifest)")

    git = _git_binding(root, git_repo)

    files = bundle_files(root)
    # Every check is done: from here on the bundle is modified.
    if manifest_source is not None:
        write_atomic(root / K8S_MANIFEST, manifest_source)
        files[K8S_MANIFEST] = sha256_bytes(manifest_source)
        files = dict(sorted(files.items()))

    document: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run_id,
        "environment": environment,
        "created_at": format_utc(now if now is not None else now_utc()),
        "git": git,
        "artifacts": {
            "k6_script": {"path": K6_SCRIPT, "sha256": files[K6_SCRIPT]},
            "k8s_manifest": {"path": K8S_MANIFEST, "sha256": files[K8S_MANIFEST]},
            "images": [{"name": name, "digest": digest} for name, digest in images],
        },
        "cluster": cluster,
        "files": files,
    }

    path = root / MANIFEST
    previous = _previous_manifest(path)
    if previous is not None and _same_but_time(previous, document):
        return SealResult(path, previous, changed=False)
    write_json_atomic(path, document)
    return SealResult(path, document, changed=True)


def _cluster(root: Path, namespace: str | None, collected_at: str | None) -> dict[str, str] | None:
    """The manifest's ``cluster`` binding, or None when the bundle has no cluster evidence.

    ``cluster/collection.json`` (written by ``loadcert collect k8s``) supplies the namespace
    and the collection time; ``--namespace``/``--cluster-collected-at``, when given as well,
    must agree with it.
    """
    if (namespace is None) != (collected_at is None):
        raise SealError("--namespace and --cluster-collected-at go together: give both or neither")
    recorded = _recorded_cluster(root)
    if namespace is None or collected_at is None:
        if recorded is not None:
            return recorded
        if _lexists(root / CLUSTER):
            raise SealError(
                f"{CLUSTER} exists but --namespace and --cluster-collected-at are "
                "missing: say which namespace was collected, and when (`loadcert collect k8s` "
                "records both in cluster/collection.json)"
            )
        # No cluster evidence at all (e.g. a single-machine run, `[cluster] required = false`):
        # recorded as an explicit null rather than an invented namespace or time.
        return None
    _check_name(namespace, "--namespace")
    if parse_utc(collected_at) is None:
        raise SealError(
            f"--cluster-collected-at {collected_at!r}: not an RFC 3339 UTC time such as "
            "2026-05-01T02:05:00Z"
        )
    given = {"namespace": namespace, "collected_at": collected_at}
    if recorded is not None and recorded != given:
        raise SealError(
            f"--namespace {namespace} --cluster-collected-at {collected_at} disagree with "
            f"cluster/collection.json (namespace {recorded['namespace']}, collected at "
            f"{recorded['collected_at']}); leave them out to use the recorded values"
        )
    return given


def _recorded_cluster(root: Path) -> dict[str, str] | None:
    """What ``loadcert collect k8s`` recorded in ``cluster/collection.json``, if it ran."""
    from pytest_loadcert.errors import EvidenceError
    from pytest_loadcert.evidence.cluster import read_record
    from pytest_loadcert.evidence.layout import COLLECTION

    if not _lexists(root / COLLECTION):
        return None
    try:
        return read_record(root)
    except EvidenceError as exc:
        raise SealError(f"{exc} (written by `loadcert collect k8s`)") from None


def _previous_manifest(path: Path) -> dict[str, Any] | None:
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _same_but_time(previous: dict[str, Any], current: dict[str, Any]) -> bool:
    def strip(document: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in document.items() if key != "created_at"}

    return strip(previous) == strip(current) and parse_utc(previous.get("created_at")) is not None
