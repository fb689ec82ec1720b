"""The report's document model: sections of paragraphs, tables, lists and the chart.

A format-neutral tree whose text keeps values apart from wording. Built by
:mod:`pytest_loadcert.report.document` from a certificate, rendered by
:mod:`pytest_loadcert.report.render` as Markdown, as an HTML page (``loadcert report``) or as
the HTML fragment of the pytest-html summary. Imports nothing of the package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Code:
    """Inline code: identifiers, digests, commands."""

    text: str


@dataclass(frozen=True)
class Status:
    """A verdict or gate status word, marked in both formats."""

    text: str


@dataclass(frozen=True)
class Over:
    """A figure on the wrong side of its bound (the gates judge; the report only shows it)."""

    text: str


Inline = str | Code | Status | Over
Text = tuple[Inline, ...]


@dataclass
class Para:
    text: Text
    strong: bool = False


@dataclass
class Table:
    headers: tuple[str, ...]
    rows: list[tuple[Text, ...]]
    omitted: str | None = None
    #: Columns whose cells never wrap (stage names: "smoke" must not break into "smok/e").
    keep: tuple[int, ...] = ()
    #: The table's id in HTML (a reviewer's browser, or a test, finds it by that).
    anchor: str | None = None
    #: Per row, the name it stands for (HTML ``data-key``), e.g. the stage of a stage row.
    keys: tuple[str, ...] = ()


@dataclass
class Bullets:
    items: list[Text]
    omitted: str | None = None


@dataclass
class Chart:
    """The stage-ladder chart (HTML only)."""


Block = Para | Table | Bullets | Chart


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: Text
    verdict: str
    sections: list[Section]


_SAFE_IDENT = re.compile(r"^[A-Za-z0-9_.:/@\[\]+=,-]{1,200}$")


def ident(value: object) -> Inline:
    """An identifier, digest or name: code when it is plainly one, else escaped text."""
    text = "unknown" if value is None else str(value)
    return Code(text) if _SAFE_IDENT.fullmatch(text) else text


def with_code(text: str) -> Text:
    """Playbook prose: `backticked` parts become code, the rest text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # unbalanced: keep it all as text
        return (text,)
    return tuple(Code(p) if i % 2 else p for i, p in enumerate(parts) if p)
