"""Rendering a report :class:`~pytest_loadcert.report.blocks.Document`: Markdown, HTML page,
HTML fragment.

Every value is escaped for its format; Markdown stays under a byte budget by listing fewer
rows. HTML is one self-contained page with no script (``loadcert report --format html``), or
the same sections as a fragment that the pytest-html summary embeds: one document model and
one block renderer for both, so the two pages never say different things.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_loadcert.certify.model import Certificate
    from pytest_loadcert.report.playbook import Rule

from pytest_loadcert.errors import printable
from pytest_loadcert.report.blocks import (
    Bullets,
    Chart,
    Code,
    Document,
    Inline,
    Over,
    Para,
    Status,
    Table,
    Text,
)
from pytest_loadcert.report.cells import STATUS_MARK, Limits
from pytest_loadcert.report.document import build

# ----------------------------------------------------------------------------- Markdown

_SPACES = re.compile(r"\s+")

#: Backslash-escaped: emphasis, code, links and images (``[``), raw HTML and entities
#: (``<`` ``&``), table cells (``|``), strikethrough, math (``$``), mentions and references.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#@$])")
_MD_BLOCK_START = re.compile(r"^([-+=]|\d+(?=[.)]))")


def clean(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, without control or format characters."""
    text = _SPACES.sub(" ", printable(text))
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def md_text(text: str, limit: int) -> str:
    """Escape ``text`` for Markdown: nothing in it can become markup, a link or a mention."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text, limit))


def md_line(text: str) -> str:
    """A rendered line that must not start a list, heading underline or numbered item."""
    match = _MD_BLOCK_START.match(text)
    if match is None:
        return text
    if match.group(1)[0].isdigit():  # "1. x": escape the "." that makes it a list
        end = match.end(1)
        return text[:end] + "\\" + text[end:]
    return "\\" + text


def _md_inline(part: Inline, limit: int, in_table: bool) -> str:
    if isinstance(part, Code):
        code = clean(part.text, limit).replace("`", "'")
        if in_table:
            code = code.replace("|", "\\|")
        return f"`{code}`" if code else ""
    if isinstance(part, Status):
        mark = STATUS_MARK.get(part.text)
        word = md_text(part.text, limit)
        return f"{mark} {word}" if mark else word
    if isinstance(part, Over):
        return f"**{md_text(part.text, limit)}**"
    return md_text(part, limit)


def _md(text: Text, limit: int, in_table: bool = False) -> str:
    return "".join(_md_inline(part, limit, in_table) for part in text).strip()


def render_markdown(document: Document, limits: Limits) -> str:
    """GitHub-flavoured Markdown."""
    lines = [f"# {_md(document.title, limits.cell)}", ""]
    for section in document.sections:
        lines += [f"## {md_text(section.title, limits.cell)}", ""]
        for block in section.blocks:
            if isinstance(block, Para):
                body = md_line(_md(block.text, limits.cell * 4))
                lines += [f"**{body}**" if block.strong else body, ""]
            elif isinstance(block, Table):
                lines.append("| " + " | ".join(md_text(h, 80) for h in block.headers) + " |")
                lines.append("|" + "---|" * len(block.headers))
                for row in block.rows:
                    cells = [_md(cell, limits.cell, in_table=True) or " " for cell in row]
                    lines.append("| " + " | ".join(cells) + " |")
                lines.append("")
                if block.omitted:
                    lines += [f"_{md_text(block.omitted, 200)}_", ""]
            elif isinstance(block, Bullets):
                lines += [f"- {md_line(_md(item, limits.cell * 2))}" for item in block.items]
                lines.append("")
                if block.omitted:
                    lines += [f"_{md_text(block.omitted, 200)}_", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


#: Caps tried in turn until the Markdown fits the byte budget.
MARKDOWN_LIMITS = (
    Limits(rows=250, cell=300),
    Limits(rows=100, cell=200),
    Limits(rows=40, cell=120),
    Limits(rows=15, cell=80),
    Limits(rows=5, cell=60),
)


def markdown_report(cert: Certificate, rules: Sequence[Rule], max_bytes: int) -> str:
    """The Markdown report, at most ``max_bytes`` bytes of UTF-8."""
    text = ""
    for limits in MARKDOWN_LIMITS:
        text = render_markdown(build(cert, rules, limits), limits)
        if len(text.encode("utf-8")) <= max_bytes:
            return text
    # Still too large (a certificate with a vast number of stages or metrics): cut at a line.
    note = (
        "\n_The report was cut here to stay within "
        f"{max_bytes} bytes; certificate.json holds everything._\n"
    )
    budget = max_bytes - len(note.encode("utf-8"))
    cut = text.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return cut[: cut.rfind("\n") + 1] + note


# ----------------------------------------------------------------------------- HTML

#: The page around the document (``loadcert report`` only).
_PAGE_CSS = """
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0;
background:#fff}main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:24px;border-bottom:4px solid #d0d7de;padding-bottom:8px}
h1.certified{border-color:#1a7f37}h1.not_certified{border-color:#cf222e}
h1.blocked{border-color:#9a6700}
"""
#: The document's blocks, scoped to ``.loadcert`` so that they style the same inside
#: pytest-html's page as on the report's own.
BLOCK_CSS = """
.loadcert h2{font-size:18px;margin-top:32px}
.loadcert table{border-collapse:collapse;margin:8px 0;font-size:13px}
.loadcert th,.loadcert td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;
vertical-align:top}
.loadcert th{background:#f6f8fa}.loadcert code{font:12px ui-monospace,SFMono-Regular,Menlo,
monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}
.loadcert .status{font-weight:600;white-space:nowrap}
.loadcert .status.passed,.loadcert .status.certified{color:#1a7f37}
.loadcert .status.failed,.loadcert .status.not_certified{color:#cf222e}
.loadcert .status.blocked{color:#9a6700}
.loadcert .status.not_run,.loadcert .status.waived{color:#6e7781}
.loadcert .over{color:#cf222e;font-weight:700}
.loadcert .strong{font-weight:600;font-size:16px}
.loadcert .omitted{color:#6e7781;font-style:italic}.loadcert figure{margin:16px 0}
.loadcert figure img{max-width:100%}
.loadcert td.keep,.loadcert td.keep code{white-space:nowrap;overflow-wrap:normal;
word-break:keep-all}
"""


KEEP_TD = '<td class="keep">'
_SLUG = re.compile(r"[^a-z0-9]+")


def _h(text: str, limit: int) -> str:
    return html.escape(clean(text, limit), quote=True)


def _html_inline(part: Inline, limit: int) -> str:
    if isinstance(part, Code):
        return f"<code>{_h(part.text, limit)}</code>"
    if isinstance(part, Status):
        css = part.text if part.text in STATUS_MARK else "other"
        return f'<span class="status {css}">{_h(part.text, limit)}</span>'
    if isinstance(part, Over):
        return f'<span class="over">{_h(part.text, limit)}</span>'
    return _h(part, limit)


def _html(text: Text, limit: int) -> str:
    return "".join(_html_inline(part, limit) for part in text)


def _no_chart(exc: ImportError) -> str:
    return (
        '<p id="loadcert-chart-missing" class="omitted">No chart: '
        f"{_h(str(exc), 200)} (pip install pytest-loadcert[html])</p>"
    )


def _chart_html(cert: Certificate) -> str:
    try:
        from pytest_loadcert.report.chart import ChartError, stage_ladder_svg
    except ImportError as exc:  # the chart needs matplotlib (the html extra)
        return _no_chart(exc)
    try:
        svg = stage_ladder_svg(cert)
    except ImportError as exc:
        return _no_chart(exc)
    except ChartError as exc:
        return f'<p id="loadcert-chart-missing" class="omitted">No chart: {_h(str(exc), 300)}</p>'
    # As an image: an SVG loaded through <img> can never run script or reach the page.
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        '<figure id="loadcert-chart"><img alt="Stage ladder: required and observed peak VUs, '
        f'p95 and p99 latency per stage" src="data:image/svg+xml;base64,{data}"></figure>'
    )


def _table(block: Table, limit: int) -> list[str]:
    anchor = f' id="{_h(block.anchor, 80)}"' if block.anchor else ""
    out = [f"<table{anchor}><thead><tr>"]
    out += [f"<th>{_h(h, 80)}</th>" for h in block.headers]
    out.append("</tr></thead><tbody>")
    for number, row in enumerate(block.rows):
        key = block.keys[number] if number < len(block.keys) else None
        attribute = f' data-key="{_h(key, limit)}"' if key is not None else ""
        cells = "".join(
            (KEEP_TD if i in block.keep else "<td>") + f"{_html(c, limit)}</td>"
            for i, c in enumerate(row)
        )
        out.append(f"<tr{attribute}>{cells}</tr>")
    out.append("</tbody></table>")
    if block.omitted:
        out.append(f'<p class="omitted">{_h(block.omitted, 200)}</p>')
    return out


def render_sections(document: Document, cert: Certificate, limits: Limits) -> list[str]:
    """The document's sections as HTML: one ``<section id="loadcert-<title>">`` each."""
    out = []
    for section in document.sections:
        slug = _SLUG.sub("-", section.title.lower()).strip("-")
        out.append(f'<section id="loadcert-{slug}"><h2>{_h(section.title, limits.cell)}</h2>')
        for block in section.blocks:
            if isinstance(block, Para):
                css = ' class="strong"' if block.strong else ""
                out.append(f"<p{css}>{_html(block.text, limits.cell * 4)}</p>")
            elif isinstance(block, Table):
                out += _table(block, limits.cell)
            elif isinstance(block, Bullets):
                out.append("<ul>")
                out += [f"<li>{_html(item, limits.cell * 2)}</li>" for item in block.items]
                out.append("</ul>")
                if block.omitted:
                    out.append(f'<p class="omitted">{_h(block.omitted, 200)}</p>')
            elif isinstance(block, Chart):
                out.append(_chart_html(cert))
        out.append("</section>")
    return out


def render_html(document: Document, cert: Certificate, limits: Limits) -> str:
    """A self-contained HTML page."""
    title_text = "".join(p if isinstance(p, str) else p.text for p in document.title)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title_text, 200)} ({_h(str(cert['run_id'] or 'unknown run'), 200)})</title>",
        f"<style>{_PAGE_CSS}{BLOCK_CSS}</style>",
        "</head>",
        "<body>",
        '<main class="loadcert">',
        f'<h1 class="{_h(document.verdict, 40)}">{_html(document.title, limits.cell)}</h1>',
        *render_sections(document, cert, limits),
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


HTML_LIMITS = Limits(rows=5000, cell=2000)


def html_report(cert: Certificate, rules: Sequence[Rule]) -> str:
    """The HTML report."""
    return render_html(build(cert, rules, HTML_LIMITS), cert, HTML_LIMITS)


def html_fragment(cert: Certificate, rules: Sequence[Rule]) -> str:
    """The report's sections as one fragment for another page (pytest-html's summary), with
    its own scoped style and without the table of every gate (that page has one)."""
    document = build(cert, rules, HTML_LIMITS, gate_results=False)
    body = "\n".join(render_sections(document, cert, HTML_LIMITS))
    return f'<style>{BLOCK_CSS}</style><div id="loadcert-report" class="loadcert">{body}</div>'
