"""The certification report as a document: what it says, built from ``certificate.json``.

:func:`build` turns a checked certificate into a
:class:`~pytest_loadcert.report.blocks.Document`, which
:mod:`pytest_loadcert.report.render` renders as Markdown, as the ``loadcert report`` HTML
page, or as the summary of pytest-html's page (one document, every rendering). Its parts:
:mod:`~pytest_loadcert.report.claim` (what may be claimed: the wording rule),
:mod:`~pytest_loadcert.report.sections` (the sections beside it) and
:mod:`~pytest_loadcert.report.cells` (how a figure, a bound and a status look).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest_loadcert.report.claim as claim
import pytest_loadcert.report.sections as part
from pytest_loadcert.report.blocks import Code, Document, Para, Section, Status, Text
from pytest_loadcert.report.cells import Limits
from pytest_loadcert.status import CERTIFIED

if TYPE_CHECKING:
    from pytest_loadcert.certify.model import Certificate
    from pytest_loadcert.report.playbook import Rule


def build(
    cert: Certificate, rules: Sequence[Rule], limits: Limits, *, gate_results: bool = True
) -> Document:
    """The report as a format-neutral document.

    ``gate_results=False`` leaves out the table of every gate: pytest-html's page has its own
    results table, one row per gate, beside this document's summary.
    """
    verdict = cert["verdict"]
    title: Text = (
        ("Load certification: ", Status(CERTIFIED))
        if verdict == CERTIFIED
        else ("Load certification pending: ", Status(verdict))
    )
    sections = [Section("Verdict", claim.claim(cert))]
    for optional in (
        claim.pending(cert, limits),
        part.hints(cert, rules, limits),
    ):
        if optional is not None:
            sections.append(optional)
    sections += [
        part.summary(cert, limits),
        part.stages(cert, limits),
        part.dependency_health(cert, limits),
    ]
    if gate_results:
        sections.append(part.gate_results(cert, limits))
    waivers = part.waivers(cert, limits)
    if waivers is not None:
        sections.append(waivers)
    sections.append(part.profile_settings(cert, limits))
    sections.append(
        Section(
            "Check the bundle",
            [
                Para(
                    (
                        "To check that an evidence bundle is the one this certificate was "
                        "issued for: ",
                        Code("loadcert verify --certificate certificate.json --evidence-dir DIR"),
                    )
                )
            ],
        )
    )
    return Document(title, verdict, sections)
