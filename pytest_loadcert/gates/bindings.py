"""Gates on the bindings to the build: the sealed manifest's integrity, each bound artifact
(k6 script, K8s manifest) and the git commit.
"""

from __future__ import annotations

from typing import Any

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.hashing import sha256_file
from pytest_loadcert.evidence.jsonio import read_bytes
from pytest_loadcert.evidence.layout import MANIFEST
from pytest_loadcert.gates.result import GateResult


def bundle_integrity(bundle: Bundle) -> GateResult:
    """Every file matches the manifest's hash; nothing outside the manifest; no escapes."""
    problems = bundle.integrity_problems()
    count = len(bundle.manifest().files)
    if problems:
        raise EvidenceError(
            MANIFEST,
            "files",
            f"does not match the bundle ({len(problems)} problem(s)): " + "; ".join(problems[:5]),
        )
    return GateResult(
        True,
        f"{count} files match",
        "every file hashed and listed",
        str(count),
        f"{MANIFEST} files",
    )


def artifact_binding(bundle: Bundle, key: str) -> GateResult:
    """``artifacts.<key>``: the recorded hash recomputes and the file is in the manifest."""
    manifest = bundle.manifest()
    artifact = manifest.artifact(key)
    rel = artifact["path"]
    field = f"artifacts.{key}"
    path = bundle.path(rel)
    if rel not in manifest.files:
        raise EvidenceError(manifest.rel, f"{field}.path", f"names {rel}, which is not in files")
    if not read_bytes(path, rel).strip():  # regular file, not a link, readable
        # The hash of an empty file binds nothing: no script or manifest ran from it.
        raise EvidenceError(rel, "", f"is empty: {field} binds no content")
    actual = sha256_file(path)
    if actual != artifact["sha256"]:
        raise EvidenceError(
            manifest.rel,
            f"{field}.sha256",
            f"is {artifact['sha256']}, but {rel} hashes to {actual}",
        )
    if manifest.files[rel] != actual:
        raise EvidenceError(manifest.rel, f"files[{rel!r}]", f"disagrees with {field}.sha256")
    return GateResult(True, actual, "recorded hash recomputes", "1 file", f"{manifest.rel} {field}")


def _check_git_record(bundle: Bundle, rel: str, git: dict[str, Any]) -> None:
    """When ``loadcert collect git`` recorded the commit, the manifest must say the same."""
    import os

    from pytest_loadcert.evidence.git import read_record
    from pytest_loadcert.evidence.layout import GIT_JSON

    if not os.path.lexists(bundle.root / GIT_JSON):
        return
    recorded = read_record(bundle.root)
    for key in ("sha", "ref", "dirty"):
        if recorded[key] != git.get(key):
            raise EvidenceError(
                rel,
                f"git.{key}",
                f"is {git.get(key)!r}, but {GIT_JSON} recorded {recorded[key]!r}",
            )


def git_binding(bundle: Bundle, expected_sha: str | None) -> GateResult:
    """A full 40-hex SHA of a clean tree, equal to the SHA under test when one is given."""
    manifest = bundle.manifest()
    git = manifest.git
    sha = git["sha"]
    _check_git_record(bundle, manifest.rel, git)
    if git["dirty"]:
        raise EvidenceError(
            manifest.rel, "git.dirty", "is true: the SHA does not identify the code tested"
        )
    if expected_sha is not None and sha != expected_sha.lower():
        raise EvidenceError(
            manifest.rel, "git.sha", f"is {sha}, not the SHA under test {expected_sha}"
        )
    return GateResult(
        True,
        sha,
        expected_sha or "a full 40-hex SHA of a clean tree",
        "1",
        f"{manifest.rel} git.sha",
    )
