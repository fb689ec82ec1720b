"""``loadcert verify``: is this evidence bundle the one a certificate was issued for?

It recomputes the bundle digest (the sha256 of ``loadcert.json``'s bytes) and the sha256 of
every file, and compares them with what ``certificate.json`` recorded when the bundle was
certified (``bindings.bundle_sha256`` and ``evidence_files``). Every differing file is named:

- ``changed``: the file's sha256 is not the certified one (for ``loadcert.json``, also every
  entry whose binding in the replaced manifest differs from the certified one);
- ``missing``: certified, but not a regular file in the bundle any more;
- ``added``: in the bundle, but not certified;
- ``unsafe``: a symbolic link, special file or unreadable entry, which no bundle may hold,
  or a path that differs from another only in case.

The comparison is :func:`pytest_loadcert.evidence.integrity.compare_files`, the one the
integrity gate makes against the manifest; this command words its differences against the
certificate. Exit status: 0 the same bundle, 1 a different one, 4 a usage error or a
certificate that cannot be read or identifies no bundle.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.certify.model import Certificate
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.integrity import FileDifference, Kind
from pytest_loadcert.evidence.layout import MANIFEST

HELP = "check that an evidence bundle is the one a certificate.json was issued for"


@dataclass(frozen=True)
class ManifestDifference:
    """``loadcert.json`` itself: unreadable (``missing`` or ``changed``), or replaced by one
    that binds an entry otherwise than the certificate. Says what a FileDifference says."""

    label: str
    detail: str
    path: str = MANIFEST

    def line(self) -> str:
        return f"{self.label}: {MANIFEST}: {self.detail}"


Difference = FileDifference | ManifestDifference


def _manifest(root: Path, certified: str) -> tuple[list[Difference], dict[str, Any] | None]:
    """``loadcert.json`` against the certified bundle digest; its ``files`` when readable."""
    from pytest_loadcert.evidence.hashing import sha256_bytes
    from pytest_loadcert.evidence.jsonio import parse_json, read_bytes

    try:
        data = read_bytes(root / MANIFEST, MANIFEST)
    except EvidenceError as exc:
        label = "missing" if exc.problem == "is missing" else "changed"
        return [ManifestDifference(label, f"{exc.problem}; certified {certified}")], None
    actual = sha256_bytes(data)
    if actual == certified:
        return [], None
    difference = FileDifference(Kind.CHANGED, MANIFEST, actual=actual, bound=certified)
    try:
        document = parse_json(data, MANIFEST)
    except EvidenceError:
        return [difference], None
    files = document.get("files") if isinstance(document, dict) else None
    return [difference], files if isinstance(files, dict) else None


def compare(certificate: Certificate, root: Path) -> list[Difference]:
    """Every difference between the bundle at ``root`` and the certified one."""
    from pytest_loadcert.evidence.integrity import compare_files

    certified: dict[str, str] = certificate["evidence_files"]
    bound = certificate["bindings"]["bundle_sha256"]
    if bound is None:  # run() refuses such a certificate first
        raise EvidenceError("certificate.json", "bindings.bundle_sha256", "is null")
    differences, rebound = _manifest(root, bound)
    differences.extend(compare_files(root, certified))
    if rebound is not None:
        # A replaced manifest that re-binds files: say what it claims, beside what is true.
        for rel in sorted(set(rebound) | set(certified)):
            now, then = rebound.get(rel), certified.get(rel)
            if now != then:
                what = f"files[{rel!r}] is {now or 'absent'}, certified {then or 'absent'}"
                differences.append(ManifestDifference("changed", what))
    return differences


def configure(parser: argparse.ArgumentParser) -> None:
    cliopts.add_certificate(parser)
    cliopts.add_evidence_dir(parser)


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    from pytest_loadcert.certify.session import read_run_certificate

    try:
        certificate = read_run_certificate(ns.certificate, ns.session, ns.not_before)
    except EvidenceError as exc:
        return cliopts.error(ns, str(exc), cliopts.EXIT_USAGE)
    rel = str(ns.certificate)
    digest = certificate["bindings"]["bundle_sha256"]
    if digest is None:
        return cliopts.error(
            ns,
            f"{rel}: bindings.bundle_sha256 is null: the certified run could not read "
            "loadcert.json, so no bundle can be verified against it",
            cliopts.EXIT_USAGE,
        )
    if not certificate["evidence_files"]:
        return cliopts.error(
            ns, f"{rel}: evidence_files is empty: it binds no file", cliopts.EXIT_USAGE
        )
    root: Path = ns.evidence_dir
    if not root.is_dir():
        return cliopts.error(ns, f"--evidence-dir {root}: no such directory", cliopts.EXIT_USAGE)
    try:
        differences = compare(certificate, root)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    if not differences:
        print(
            f"same: {root} is the bundle certified in {rel} (verdict {certificate['verdict']}, "
            f"bundle {digest}, {len(certificate['evidence_files'])} files and loadcert.json)"
        )
        return cliopts.EXIT_OK
    for difference in differences:
        print(difference.line())
    # One count per differing file and kind (a file can be named twice, e.g. by the manifest).
    counts = Counter(kind for kind, _ in dict.fromkeys((d.label, d.path) for d in differences))
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return cliopts.error(
        ns, f"{root} is not the bundle certified in {rel}: {summary}", cliopts.EXIT_FAILED
    )
