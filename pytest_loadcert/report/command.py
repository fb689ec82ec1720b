"""``loadcert report``: the certification report, generated from ``certificate.json``.

Formats:

- ``md`` (default): GitHub-flavoured Markdown for a job summary (``>> $GITHUB_STEP_SUMMARY``)
  or a pull-request comment. Every value from the certificate is escaped; no raw HTML. The
  output is kept under ``--max-bytes`` (default 1 MiB, GitHub's step-summary limit; use
  65536 for a PR comment) by listing fewer rows, each list saying how many it left out.
- ``html``: one self-contained page (inline CSS, no script, a Content-Security-Policy that
  forbids scripts), with the stage-ladder chart of :mod:`pytest_loadcert.report.chart` as an image.
- ``intoto``: the run's in-toto Statement (:mod:`pytest_loadcert.certify.intoto`), byte for byte
  what
  the certification run wrote beside the certificate.

The certificate is untrusted input. It is read strictly (:mod:`pytest_loadcert.evidence.jsonio`),
validated against ``schemas/certificate.schema.json`` and checked for consistency (a
``certified`` verdict with a failed gate is refused); any problem is one line naming the file
and the field, and exit status 2.

The wording rule: only a ``certified`` certificate produces the sentence "certified for N
concurrent users at <git SHA> in <environment>", with N the profile's
``target_concurrency``, which a certified run has reached (the ``achieved_concurrency`` gate)
with every gate of every stage passing. Any other verdict gives "certification pending" and
the failed and blocked gates, observed against required.

This module reads and checks the certificate and runs the command; the report's content is
built in :mod:`pytest_loadcert.report.document` and rendered in
:mod:`pytest_loadcert.report.render`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.report.render import html_report, markdown_report

HELP = "render the certification report from certificate.json (Markdown, HTML or in-toto)"
FORMATS = ("md", "html", "intoto")

#: GitHub's limit for one step's job summary ($GITHUB_STEP_SUMMARY).
STEP_SUMMARY_BYTES = 1024 * 1024
#: A smaller --max-bytes could not hold the verdict, the summary and the stage table.
MIN_BYTES = 8192

# ----------------------------------------------------------------------------- reading


# ----------------------------------------------------------------------------- command line


def _max_bytes(text: str) -> int:
    value = cliopts.positive_int(text)
    if value < MIN_BYTES:
        raise argparse.ArgumentTypeError(f"{text!r} is under the minimum of {MIN_BYTES} bytes")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    cliopts.add_certificate(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="md",
        help="md (default): GitHub-flavoured Markdown; html: a self-contained page; "
        "intoto: the run's in-toto Statement",
    )
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="write here (atomically); default stdout"
    )
    parser.add_argument(
        "--max-bytes",
        type=_max_bytes,
        metavar="N",
        help=f"md only: keep the report within N bytes (default {STEP_SUMMARY_BYTES}, "
        "GitHub's job summary limit; 65536 fits a pull-request comment)",
    )
    parser.add_argument(
        "--playbook",
        type=Path,
        metavar="JSON",
        help="md and html: your own bottleneck rules (loadcert-playbook/v1), tried before "
        "the built-in playbook",
    )


def _render(ns: argparse.Namespace) -> bytes:
    from pytest_loadcert.certify.session import read_run_certificate

    cert = read_run_certificate(ns.certificate, ns.session, ns.not_before)
    if ns.format == "intoto":
        from pytest_loadcert.certify.intoto import statement_bytes

        return statement_bytes(cert, rel=str(ns.certificate))
    from pytest_loadcert.report.playbook import load

    rules = load(ns.playbook)
    if ns.format == "html":
        return html_report(cert, rules).encode("utf-8")
    return markdown_report(cert, rules, ns.max_bytes or STEP_SUMMARY_BYTES).encode("utf-8")


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    if ns.max_bytes is not None and ns.format != "md":
        return cliopts.error(ns, "--max-bytes applies to --format md only", cliopts.EXIT_USAGE)
    if ns.playbook is not None and ns.format == "intoto":
        return cliopts.error(ns, "--playbook does not apply to --format intoto", cliopts.EXIT_USAGE)
    try:
        data = _render(ns)
    except EvidenceError as exc:
        return cliopts.error(ns, str(exc), cliopts.EXIT_USAGE)
    if ns.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return cliopts.EXIT_OK
    from pytest_loadcert.evidence.jsonio import write_atomic

    try:
        write_atomic(ns.output, data)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    return cliopts.EXIT_OK
