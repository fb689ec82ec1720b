"""The reviewer-facing HTML report, through pytest-html's hooks.

Registered by the plugin only on the controller of a certification run, and only when
pytest-html is active (``--html``); pytest-html itself is never imported here. The
certificate is decided in the controller's ``pytest_sessionfinish`` (``tryfirst``);
pytest-html renders in its own ``pytest_sessionfinish`` (``trylast``), and calls
``pytest_html_results_summary`` just before it writes the file, so the summary is drawn
from the final certificate.

What the report adds to pytest-html's page:

- a summary: the verdict banner (word and colour, also in the page title), then the
  sections of ``loadcert report``'s own document (the claim, why certification is pending,
  bottleneck hints, bindings, the stage table and stage-ladder chart, dependency health,
  waivers), rendered by :mod:`pytest_loadcert.report.render`: one document model, one
  renderer, for both pages;
- results-table columns: the gate's status (``BLOCKED`` spelled out where pytest-html says
  "Error"), observed, required, samples and source.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from pytest_loadcert.status import (
    BLOCKED,
    CERTIFIED,
    FAILED,
    GATE_BLOCKED,
    NOT_CERTIFIED,
    NOT_RUN,
    PASSED,
    WAIVED,
)

if TYPE_CHECKING:
    import pytest

    from pytest_loadcert.certify.model import Certificate
    from pytest_loadcert.plugin.state import RunState

#: Verdict words and colours (background, text). Blocked is amber, so it never reads as red.
VERDICT_STYLE = {
    CERTIFIED: ("CERTIFIED", "#1a7f37", "#ffffff"),
    NOT_CERTIFIED: ("NOT CERTIFIED", "#cf222e", "#ffffff"),
    BLOCKED: ("BLOCKED", "#d4a72c", "#1f2328"),
}
PENDING_STYLE = ("NO VERDICT", "#6e7781", "#ffffff")
#: The verdict's colour as text on the white page (the page title): amber darkened to read.
TITLE_COLOURS = {CERTIFIED: "#1a7f37", NOT_CERTIFIED: "#cf222e", BLOCKED: "#9a6700"}

#: Gate statuses as the results table spells them.
STATUS_WORDS = {
    PASSED: "PASSED",
    FAILED: "FAILED",
    GATE_BLOCKED: "BLOCKED",
    WAIVED: "WAIVED",
    NOT_RUN: "NOT RUN",
}

UNKNOWN = '<span class="loadcert-unknown">unknown</span>'

CSS = """
.loadcert { color: #1f2328; font-size: 13px; margin-bottom: 16px; }
.loadcert p { margin: 4px 0; }
.loadcert-verdict { display: flex; align-items: baseline; flex-wrap: wrap; gap: 8px 24px;
  padding: 14px 20px; border-radius: 6px; margin: 8px 0 12px; }
.loadcert-verdict-word { font-size: 40px; font-weight: 800; letter-spacing: 1px; }
.loadcert-verdict-detail { font-size: 15px; font-weight: 600; }
.loadcert-unknown { color: #6e7781; font-style: italic; }
.col-gateStatus { font-weight: 700; white-space: nowrap; }
.loadcert-status-passed { color: #1a7f37; }
.loadcert-status-failed { color: #cf222e; }
.loadcert-status-blocked { color: #1f2328; background: #fff1c2; }
.loadcert-status-waived { color: #9a6700; }
#results-table { table-layout: fixed; }
#results-table td { overflow-wrap: anywhere; }
#results-table th[data-column-type="testId"] { width: 26%; }
#results-table th.loadcert-col-observed { width: 17%; }
#results-table th.loadcert-col-required { width: 8%; }
#results-table th.loadcert-col-samples { width: 8%; }
#results-table th.loadcert-col-source { width: 19%; }
#results-table th[data-column-type="result"] { width: 70px; }
#results-table th[data-column-type="gateStatus"] { width: 80px; }
#results-table th[data-column-type="duration"] { width: 80px; }
"""


def _text(value: Any) -> str:
    """Escaped text; None is "unknown" (never 0, never blank)."""
    if value is None or value == "":
        return UNKNOWN
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def verdict_style(verdict: str | None) -> tuple[str, str, str]:
    """(word, background, text colour) of a verdict; an unknown verdict is grey, never green."""
    return VERDICT_STYLE.get(verdict or "", PENDING_STYLE)


def _verdict_banner(cert: Certificate | None) -> str:
    if cert is None:
        word, background, colour = PENDING_STYLE
        detail = "the certification run ended before a certificate was written"
        verdict = "none"
    else:
        verdict = str(cert.get("verdict"))
        word, background, colour = verdict_style(verdict)
        highest = cert.get("highest_certified_stage") or "none"
        detail = (
            f"highest certified stage: {escape(str(highest))} (target "
            f"{escape(str(cert.get('target_concurrency')))} concurrent users)"
            f" &middot; exit status {escape(str(cert.get('exit_status')))}"
        )
    return (
        f'<div id="loadcert-verdict" class="loadcert-verdict" data-verdict="{escape(verdict)}" '
        f'style="background-color: {background}; color: {colour};">'
        f'<span class="loadcert-verdict-word">{word}</span>'
        f'<span class="loadcert-verdict-detail">{detail}</span></div>'
    )


def summary_html(cert: Certificate | None) -> str:
    """The certificate on pytest-html's page: the verdict banner, then the report's own
    document (:func:`pytest_loadcert.report.render.html_fragment`), so that this page and
    ``loadcert report --format html`` say the same thing in the same words."""
    verdict = cert.get("verdict") if cert else None
    colour = TITLE_COLOURS.get(str(verdict), PENDING_STYLE[1])
    style = f"<style>{CSS}#title {{ color: {colour}; }}</style>"
    body = ""
    if cert is not None:
        from pytest_loadcert.report.playbook import load
        from pytest_loadcert.report.render import html_fragment

        body = html_fragment(cert, load())
    return (
        f'{style}<div id="loadcert-certificate" class="loadcert">'
        f"{_verdict_banner(cert)}{body}</div>"
    )


def title(cert: Certificate | None, current: str) -> str:
    """The page title: the verdict first, then the run id, then pytest-html's own title."""
    if cert is None:
        return f"{PENDING_STYLE[0]} - {current}"
    word = verdict_style(cert.get("verdict"))[0]
    run = cert.get("run_id") or "unknown run"
    return f"{word} - load-test certificate {run} - {current}"


# ----------------------------------------------------------------------- results table


def gate_status(report: Any) -> str | None:
    """The loadcert status of a report, or None for a report that is not a gate's."""
    from pytest_loadcert.plugin.state import gate_report_status

    status = gate_report_status(report)
    if status is not None:
        return status
    if getattr(report, "when", None) == "collect" and getattr(report, "failed", False):
        return GATE_BLOCKED  # a collection error blocks the run
    return None


def _property(report: Any, name: str) -> str | None:
    for item in getattr(report, "user_properties", ()) or ():
        key, value = item[0], item[1]
        if key == f"loadcert.{name}":
            return str(value)
    return None


HEADER_STATUS = '<th class="sortable" data-column-type="gateStatus">Gate status</th>'
HEADER_RESULT = [
    '<th class="loadcert-col-observed">Observed</th>',
    '<th class="loadcert-col-required">Required</th>',
    '<th class="loadcert-col-samples">Samples</th>',
    '<th class="loadcert-col-source">Source</th>',
]


def row_cells(report: Any) -> tuple[str, list[str]]:
    """The status cell and the observed/required/samples/source cells of one report."""
    status = gate_status(report)
    if status is None:
        status_cell = '<td class="col-gateStatus">not a gate</td>'
    else:
        word = STATUS_WORDS.get(status, status.upper())
        status_cell = (
            f'<td class="col-gateStatus loadcert-status-{escape(status)}">{escape(word)}</td>'
        )
    cells = []
    for name in ("observed", "required", "samples", "source"):
        value = _property(report, name)
        css = "col-gateSource" if name == "source" else f"col-gate-{name}"
        cells.append(f'<td class="{css}">{_text(value) if status is not None else ""}</td>')
    return status_cell, cells


class LoadcertHtml:
    """pytest-html hooks for a certification run (registered on the controller only)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._report_data: Any = None

    def _state(self) -> RunState | None:
        from pytest_loadcert.plugin.state import STATE_KEY

        return self.config.stash.get(STATE_KEY, None)

    def pytest_html_report_title(self, report: Any) -> None:
        # The title is rendered with the page; it gets the verdict once there is one.
        self._report_data = report

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, HEADER_STATUS)
        cells[3:3] = HEADER_RESULT

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        if not cells:
            return  # another plugin removed the row
        status_cell, result_cells = row_cells(report)
        cells.insert(1, status_cell)
        cells[3:3] = result_cells

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        state = self._state()
        cert = state.certificate if state is not None else None
        prefix.append(summary_html(cert))
        if self._report_data is not None:
            self._report_data.title = title(cert, str(self._report_data.title))
