"""Which certification session a certificate belongs to.

Every certification run has a session id: ``$LOADCERT_SESSION`` when set (a CI job sets it
to its own run id, so every step of the job agrees on it), else a fresh random one. The id
is on the certificate (``invocation.session``), on the junit ``<testsuite>``
(``loadcert.session``) and in the receipt line the plugin appends to ``$LOADCERT_RECEIPT``.

A certificate left by an earlier run (a job re-run in a workspace that kept ``out/``, or a
run with ``-p no:loadcert`` that judged nothing and wrote nothing) looks current on disk.
:func:`check_from_run` is how ``loadcert report``, ``loadcert verify`` and ``loadcert
certify`` refuse it: the session must be the one asked for, and the session must have
started no earlier than asked.

pytest-free; imports ``envvars``, ``errors`` and ``evidence``.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest_loadcert.envvars as envvars
from pytest_loadcert.certify.model import Certificate
from pytest_loadcert.errors import EvidenceError

#: What a session id may hold: a CI run id, attempt and job name fit; nothing to escape.
SESSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$"
_SESSION = re.compile(SESSION_PATTERN)


def session_problem(value: str) -> str | None:
    """Why ``value`` is not a session id; None when it is one."""
    if _SESSION.fullmatch(value):
        return None
    return (
        f"{value!r} is not a session id: 1 to 128 characters, letters, digits and . _ : @ + -, "
        "starting with a letter or a digit"
    )


def current_session() -> str:
    """``$LOADCERT_SESSION`` (checked by the caller), else a fresh random id."""
    return os.environ.get(envvars.SESSION) or uuid.uuid4().hex


def check_from_run(
    certificate: Certificate,
    rel: str,
    *,
    session: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Refuse ``certificate`` unless it was written by the session asked for.

    Raises :class:`EvidenceError` naming ``rel`` and the field. A certificate that names no
    session (written without a pytest session) is refused whenever either is asked for.
    """
    from pytest_loadcert.evidence.timeutil import format_utc, parse_utc

    if session is None and not_before is None:
        return
    invocation = certificate.get("invocation")
    if invocation is None:
        raise EvidenceError(rel, "invocation", "is missing: the certificate names no session")
    if session is not None and invocation["session"] != session:
        raise EvidenceError(
            rel,
            "invocation.session",
            f"is {invocation['session']!r}, not {session!r}: this certificate was written "
            "by another certification run (a stale file, or pytest ran without the plugin)",
        )
    if not_before is not None:
        started = parse_utc(invocation["started_at"])
        if started is None or started < not_before:
            raise EvidenceError(
                rel,
                "invocation.started_at",
                f"is {invocation['started_at']}, before {format_utc(not_before)}: this "
                "certificate was written by an earlier certification run",
            )


def read_run_certificate(
    path: Path, session: str | None = None, not_before: str | None = None
) -> Certificate:
    """``path`` read and checked (:func:`pytest_loadcert.certify.read.read_certificate`), and
    from the run ``session`` (default ``$LOADCERT_SESSION``) and ``not_before`` (RFC 3339
    UTC) name: ``loadcert report`` and ``loadcert verify``'s ``--session``/``--not-before``.

    Raises :class:`EvidenceError` naming the file and the field, or the option.
    """
    from pytest_loadcert.certify.read import read_certificate
    from pytest_loadcert.evidence.timeutil import parse_utc

    source = "--session"
    if session is None and os.environ.get(envvars.SESSION):
        session, source = os.environ[envvars.SESSION], envvars.SESSION
    if session is not None:
        problem = session_problem(session)
        if problem is not None:
            raise EvidenceError(source, "", problem)
    moment = None
    if not_before is not None:
        moment = parse_utc(not_before)
        if moment is None:
            raise EvidenceError(
                "--not-before",
                "",
                f"{not_before!r} is not an RFC 3339 UTC time such as 2026-12-06T10:00:00Z "
                "(date -u +%Y-%m-%dT%H:%M:%SZ)",
            )
    certificate = read_certificate(path)
    check_from_run(certificate, str(path), session=session, not_before=moment)
    return certificate


# ----------------------------------------------------------------------------- receipts


@dataclass(frozen=True)
class Receipt:
    """One certificate a plugin wrote: its session, where, and the sha256 of its bytes."""

    session: str
    certificate: Path
    sha256: str


def append_receipt(receipt_file: Path, receipt: Receipt) -> None:
    """Append ``receipt`` as one JSON line (one ``write`` in append mode: lines from
    parallel runs do not interleave)."""
    line = json.dumps(
        {
            "session": receipt.session,
            "certificate": str(receipt.certificate),
            "sha256": receipt.sha256,
        },
        sort_keys=True,
    )
    fd = os.open(receipt_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def read_receipts(receipt_file: Path) -> list[Receipt]:
    """Every receipt in ``receipt_file`` (none when it does not exist).

    Raises :class:`EvidenceError` naming the file and the line that is not a receipt.
    """
    try:
        text = receipt_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(str(receipt_file), "", f"cannot be read: {exc}") from None
    receipts = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            raw = json.loads(line)
            receipts.append(
                Receipt(str(raw["session"]), Path(raw["certificate"]), str(raw["sha256"]))
            )
        except (ValueError, KeyError, TypeError):
            raise EvidenceError(str(receipt_file), f"line {number}", "is not a receipt") from None
    return receipts
