"""The run's in-toto Statement v1 with the test-result predicate (pytest-free).

Written beside ``certificate.json`` by every certification run (``certificate.intoto.json``
by default) and printed by ``loadcert report --format intoto``. It is unsigned: sign it with
cosign (docs/signing.md); this project does not make signatures of its own.

Subjects, each a ResourceDescriptor with a digest set:

- ``loadcert.json``: the bundle manifest, ``{"sha256": <hex>}`` (the bundle digest), with
  annotations ``runId``, ``environment`` and ``verdict``;
- ``git``: the commit under test, ``{"gitCommit": <40 hex>}``;
- every bound image, by its name, ``{"sha256": <hex>}`` (a name that repeats gets
  ``@sha256:<hex>`` appended, so names stay unique).

Predicate (``https://in-toto.io/attestation/test-result/v0.1``):

- ``result``: ``PASSED`` for ``certified`` with no waived gate, ``WARNED`` for ``certified``
  with waived gates, ``FAILED`` for ``not_certified`` and for ``blocked``;
- ``configuration``: the profile, the k6 script and the rendered manifest, with digests;
- ``passedTests``: gates that passed; ``warnedTests``: waived gates; ``failedTests``: gates
  that failed, were blocked or did not run. Tests are named by gate id (``p95_latency[100k]``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from pytest_loadcert.certify.model import Certificate
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import json_bytes, write_atomic
from pytest_loadcert.evidence.layout import MANIFEST

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
GIT_SUBJECT = "git"

PASSED, WARNED, FAILED = "PASSED", "WARNED", "FAILED"


def default_path(certificate_path: Path) -> Path:
    """``certificate.json`` -> ``certificate.intoto.json``, in the same directory."""
    return certificate_path.with_name(f"{certificate_path.stem}.intoto.json")


def _hex(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64:
        raise ValueError(f"not a sha256:<hex> digest: {digest!r}")
    return value


def result(certificate: Certificate) -> str:
    """The predicate's ``result`` for the certificate's verdict (see the module docstring)."""
    if certificate["verdict"] != "certified":
        return FAILED
    if any(gate["status"] == "waived" for gate in certificate["gates"]):
        return WARNED
    return PASSED


def subjects(certificate: Certificate) -> list[dict[str, Any]]:
    """The statement's subjects; empty when the run could not read the bundle manifest."""
    bindings = certificate["bindings"]
    found: list[dict[str, Any]] = []
    if bindings["bundle_sha256"] is not None:
        found.append(
            {
                "name": MANIFEST,
                "digest": {"sha256": _hex(bindings["bundle_sha256"])},
                "annotations": {
                    "runId": certificate["run_id"],
                    "environment": certificate["environment"],
                    "verdict": certificate["verdict"],
                },
            }
        )
    sha = bindings["git_sha"]
    if isinstance(sha, str) and len(sha) in (40, 64):
        found.append({"name": GIT_SUBJECT, "digest": {"gitCommit": sha}})
    names = {subject["name"] for subject in found}
    for image in bindings["images"]:
        name = image["name"]
        if name in names:
            name = f"{name}@{image['digest']}"
        names.add(name)
        found.append({"name": name, "digest": {"sha256": _hex(image["digest"])}})
    return found


def configuration(certificate: Certificate) -> list[dict[str, Any]]:
    """ResourceDescriptors of what configured the run: profile, k6 script, manifest."""
    bindings = certificate["bindings"]
    found: list[dict[str, Any]] = [
        {
            "name": "profile",
            "digest": {"sha256": _hex(bindings["profile_sha256"])},
            "annotations": {
                "source": certificate["profile_source"],
                "digestOf": "the resolved profile as canonical JSON (sorted keys, no spaces)",
            },
        }
    ]
    for key, digest, media_type in (
        ("k6_script", bindings["k6_script_sha256"], "text/javascript"),
        ("k8s_manifest", bindings["k8s_manifest_sha256"], "application/yaml"),
    ):
        if digest is not None:
            found.append({"name": key, "digest": {"sha256": _hex(digest)}, "mediaType": media_type})
    return found


def statement(certificate: Certificate, *, rel: str = "certificate.json") -> dict[str, Any]:
    """The in-toto Statement of a certificate dict (as :func:`certificate.build` makes it).

    Raises :class:`EvidenceError` when the certificate binds no subject: without a readable
    bundle manifest there is nothing the statement could be about.
    """
    found = subjects(certificate)
    if not found:
        raise EvidenceError(
            rel,
            "bindings",
            "binds no subject (no bundle digest, git SHA or image): the run could not read "
            "loadcert.json, so there is nothing to attest",
        )
    gates = certificate["gates"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": found,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "result": result(certificate),
            "configuration": configuration(certificate),
            "passedTests": [g["id"] for g in gates if g["status"] == "passed"],
            "warnedTests": [g["id"] for g in gates if g["status"] == "waived"],
            "failedTests": [
                g["id"] for g in gates if g["status"] in ("failed", "blocked", "not_run")
            ],
        },
    }


def statement_bytes(certificate: Certificate, *, rel: str = "certificate.json") -> bytes:
    """The statement as the run writes it (UTF-8 JSON, 2-space indent, newline)."""
    return json_bytes(statement(certificate, rel=rel))


def write(path: Path, certificate: Certificate) -> str:
    """Write the statement atomically to ``path``; returns the line the run prints.

    When there is nothing to attest, a statement left at ``path`` by an earlier run is
    removed, so it cannot be mistaken for this run's.
    """
    try:
        data = statement_bytes(certificate)
    except EvidenceError as exc:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return f"in-toto statement: not written ({exc.problem})"
    write_atomic(path, data)
    return f"in-toto statement: {path}"
