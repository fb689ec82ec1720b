"""Rendering a report :class:`~pytest_loadcert.report.document.Document` as Markdown or HTML.

Every value is escaped for its format; Markdown stays under a byte budget by listing fewer
rows; HTML is one self-contained page with no script.
"""

from __future__ import annotations

import base64
import html
import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_loadcert.certify.model import Certificate
    from pytest_loadcert.report.playbook import Rule

from pytest_loadcert.report.document import (
    STATUS_MARK,
    Bullets,
    Chart,
    Code,
    Document,
    Inline,
    Limits,
    Para,
    Status,
    Table,
    Text,
    build,
)

# ----------------------------------------------------------------------------- Markdown

#: Backslash-escaped: emphasis, code, links and images (``[``), raw HTML and entities
#: (``<`` ``&``), table cells (``|``), strikethrough, math (``$``), mentions and references.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#@$])")
_MD_BLOCK_START = re.compile(r"^([-+=]|\d+(?=[.)]))")


_SPACES = re.compile(r"\s+")


def clean(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, without control or format characters."""
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    text = _SPACES.sub(" ", text)
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

_CSS = """
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0;
background:#fff}main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:24px;border-bottom:4px solid #d0d7de;padding-bottom:8px}
h1.certified{border-color:#1a7f37}h1.not_certified{border-color:#cf222e}
h1.blocked{border-color:#9a6700}h2{font-size:18px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;
background:#f6f8fa;padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}
.status{font-weight:600;white-space:nowrap}.status.passed,.status.certified{color:#1a7f37}
.status.failed,.status.not_certified{color:#cf222e}.status.blocked{color:#9a6700}
.status.not_run,.status.waived{color:#6e7781}.strong{font-weight:600;font-size:16px}
.omitted{color:#6e7781;font-style:italic}figure{margin:16px 0}figure img{max-width:100%}
td.keep,td.keep code{white-space:nowrap;overflow-wrap:normal;word-break:keep-all}
"""


KEEP_TD = '<td class="keep">'


def _h(text: str, limit: int) -> str:
    return html.escape(clean(text, limit), quote=True)


def _html_inline(part: Inline, limit: int) -> str:
    if isinstance(part, Code):
        return f"<code>{_h(part.text, limit)}</code>"
    if isinstance(part, Status):
        css = part.text if part.text in STATUS_MARK else "other"
        return f'<span class="status {css}">{_h(part.text, limit)}</span>'
    return _h(part, limit)


def _html(text: Text, limit: int) -> str:
    return "".join(_html_inline(part, limit) for part in text)


def _no_chart(exc: ImportError) -> str:
    return (
        f'<p class="omitted">No chart: {_h(str(exc), 200)} (pip install pytest-loadcert[html])</p>'
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
        return f'<p class="omitted">No chart: {_h(str(exc), 300)}</p>'
    # As an image: an SVG loaded through <img> can never run script or reach the page.
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        '<figure><img alt="Stage ladder: required and observed peak VUs, p95 and p99 '
        f'latency per stage" src="data:image/svg+xml;base64,{data}"></figure>'
    )


def render_html(document: Document, cert: Certificate, limits: Limits) -> str:
    """A self-contained HTML page."""
    title_text = "".join(p.text if isinstance(p, Code | Status) else p for p in document.title)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title_text, 200)} ({_h(str(cert['run_id'] or 'unknown run'), 200)})</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f'<h1 class="{_h(document.verdict, 40)}">{_html(document.title, limits.cell)}</h1>',
    ]
    for section in document.sections:
        out.append(f"<section><h2>{_h(section.title, limits.cell)}</h2>")
        for block in section.blocks:
            if isinstance(block, Para):
                css = ' class="strong"' if block.strong else ""
                out.append(f"<p{css}>{_html(block.text, limits.cell * 4)}</p>")
            elif isinstance(block, Table):
                out.append("<table><thead><tr>")
                out += [f"<th>{_h(h, 80)}</th>" for h in block.headers]
                out.append("</tr></thead><tbody>")
                for row in block.rows:
                    cells = "".join(
                        (KEEP_TD if i in block.keep else "<td>") + f"{_html(c, limits.cell)}</td>"
                        for i, c in enumerate(row)
                    )
                    out.append(f"<tr>{cells}</tr>")
                out.append("</tbody></table>")
                if block.omitted:
                    out.append(f'<p class="omitted">{_h(block.omitted, 200)}</p>')
            elif isinstance(block, Bullets):
                out.append("<ul>")
                out += [f"<li>{_html(item, limits.cell * 2)}</li>" for item in block.items]
                out.append("</ul>")
                if block.omitted:
                    out.append(f'<p class="omitted">{_h(block.omitted, 200)}</p>')
            elif isinstance(block, Chart):
                out.append(_chart_html(cert))
        out.append("</section>")
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


HTML_LIMITS = Limits(rows=5000, cell=2000)


def html_report(cert: Certificate, rules: Sequence[Rule]) -> str:
    """The HTML report."""
    return render_html(build(cert, rules, HTML_LIMITS), cert, HTML_LIMITS)
