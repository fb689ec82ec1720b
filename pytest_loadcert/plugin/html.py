"""The reviewer-facing HTML report, through pytest-html's hooks.

Registered by the plugin only on the controller of a certification run, and only when
pytest-html is active (``--html``); pytest-html itself is never imported here. The
certificate is decided in the controller's ``pytest_sessionfinish`` (``tryfirst``);
pytest-html renders in its own ``pytest_sessionfinish`` (``trylast``), and calls
``pytest_html_results_summary`` just before it writes the file, so the summary is drawn
from the final certificate.

What the report adds to pytest-html's page:

- a summary: the verdict (word and colour), run id and environment, gate counts, every
  gate that did not run, run problems, waivers, the stage table, the stage-ladder chart
  (inline SVG), every binding, and the evidence kinds the profile does not require;
- results-table columns: the gate's status (``BLOCKED`` spelled out where pytest-html says
  "Error"), observed, required, samples and source.

The rendering functions are plain functions of the certificate dict.
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
.loadcert h3 { font-size: 15px; margin: 18px 0 6px; color: #1f2328; }
.loadcert p { margin: 4px 0; }
.loadcert-verdict { display: flex; align-items: baseline; flex-wrap: wrap; gap: 8px 24px;
  padding: 14px 20px; border-radius: 6px; margin: 8px 0 12px; }
.loadcert-verdict-word { font-size: 40px; font-weight: 800; letter-spacing: 1px; }
.loadcert-verdict-detail { font-size: 15px; font-weight: 600; }
.loadcert table { border-collapse: collapse; margin: 4px 0 8px; }
.loadcert th, .loadcert td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left;
  vertical-align: top; }
.loadcert th { background: #f6f8fa; }
.loadcert td.num { text-align: right; font-variant-numeric: tabular-nums; }
.loadcert code { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12px;
  word-break: break-all; }
.loadcert-unknown { color: #6e7781; font-style: italic; }
.loadcert-over { color: #cf222e; font-weight: 700; }
.loadcert-list { margin: 4px 0; padding-left: 22px; }
.loadcert-box { border-left: 4px solid #d4a72c; background: #fff8c5; padding: 6px 12px;
  margin: 8px 0; }
.loadcert-box.loadcert-info { border-left-color: #0969da; background: #ddf4ff; }
.loadcert-stage-certified { color: #1a7f37; font-weight: 700; }
.loadcert-stage-not_certified { color: #cf222e; font-weight: 700; }
.loadcert-stage-blocked { color: #9a6700; font-weight: 700; }
#loadcert-chart { margin: 8px 0; }
#loadcert-chart svg { max-width: 100%; height: auto; }
#loadcert-chart figcaption { color: #57606a; font-size: 12px; }
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


def _code(value: Any) -> str:
    return UNKNOWN if value is None or value == "" else f"<code>{escape(str(value))}</code>"


def _num(value: Any, fmt: str) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return UNKNOWN
    return escape(format(value, fmt))


def _bounded(value: Any, bound: Any, fmt: str, *, below: bool = False) -> str:
    """A number, marked when it is on the wrong side of its bound (the gates judge; this shows)."""
    text = _num(value, fmt)
    if text == UNKNOWN or not isinstance(bound, int | float) or isinstance(bound, bool):
        return text
    over = value < bound if below else value > bound
    return f'<span class="loadcert-over">{text}</span>' if over else text


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


def _rows(rows: list[tuple[str, str]], table_id: str) -> str:
    body = "".join(f"<tr><th>{escape(name)}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table id="{table_id}">{body}</table>'


def _run_table(cert: Certificate) -> str:
    return _rows(
        [
            ("run id", _text(cert.get("run_id"))),
            ("environment", _text(cert.get("environment"))),
            ("evidence", _code(cert.get("evidence_dir"))),
            ("profile", _code(cert.get("profile_source"))),
            ("generated at", _text(cert.get("generated_at"))),
            ("pytest-loadcert", _text(cert.get("loadcert_version"))),
        ],
        "loadcert-run",
    )


def _gate_counts(cert: Certificate) -> str:
    gates = cert.get("gates") or []
    counts = {status: 0 for status in STATUS_WORDS}
    for gate in gates:
        counts[gate.get("status", NOT_RUN)] = counts.get(gate.get("status", NOT_RUN), 0) + 1
    parts = ", ".join(f"{counts[s]} {word.lower()}" for s, word in STATUS_WORDS.items())
    return (
        f'<p id="loadcert-gate-counts">{len(gates)} expected gates: {escape(parts)}.</p>'
        '<p class="loadcert-box loadcert-info">A <b>failed</b> gate was measured on sufficient '
        "evidence and violated its bound (pytest-html: <i>Failed</i>). A <b>blocked</b> gate "
        "could not be decided: its evidence was missing, invalid, inconsistent or "
        "under-sampled (pytest-html counts it under <i>Errors</i>; the Gate status column says "
        "BLOCKED). A gate that did <b>not run</b> has no row below and blocks the "
        "certificate.</p>"
    )


def _listing(title: str, box_id: str, items: list[str], empty: str | None) -> str:
    if not items:
        if empty is None:
            return ""
        return f'<h3>{escape(title)}</h3><p id="{box_id}">{escape(empty)}</p>'
    body = "".join(f"<li>{item}</li>" for item in items)
    return (
        f"<h3>{escape(title)} ({len(items)})</h3>"
        f'<div id="{box_id}" class="loadcert-box"><ul class="loadcert-list">{body}</ul></div>'
    )


def _not_run(cert: Certificate) -> str:
    items = [
        f"<code>{escape(str(g))}</code> &mdash; blocked: did not run"
        for g in cert.get("not_run") or []
    ]
    return _listing("Gates that did not run", "loadcert-not-run", items, "Every expected gate ran.")


def _problems(cert: Certificate) -> str:
    items = [escape(str(p)) for p in cert.get("problems") or []]
    return _listing("Run problems", "loadcert-problems", items, None)


def _waived(cert: Certificate) -> str:
    items = [
        f"<code>{escape(str(g.get('id')))}</code>: "
        f"{escape(str(g.get('message')).removeprefix('Skipped: '))}"
        for g in cert.get("gates") or []
        if g.get("status") == WAIVED
    ]
    return _listing("Waived gates (not passed)", "loadcert-waived", items, None)


def _stage_table(cert: Certificate) -> str:
    thresholds = cert.get("thresholds") or {}
    p95_max = thresholds.get("p95_ms_max")
    p99_max = thresholds.get("p99_ms_max")
    failed_max = thresholds.get("http_req_failed_max")

    def bound(value: Any, fmt: str) -> str:
        return "unknown" if value is None else format(value, fmt)

    header = (
        "stage",
        "verdict",
        "required active VUs",
        "peak active VUs",
        "requests",
        "RPS",
        "p50 ms",
        f"p95 ms (&le; {bound(p95_max, 'g')})",
        f"p99 ms (&le; {bound(p99_max, 'g')})",
        f"error rate (&le; {bound(failed_max, '.3%') if failed_max is not None else 'unknown'})",
        "window (UTC)",
    )
    rows = []
    for stage in cert.get("stages") or []:
        verdict = str(stage.get("verdict"))
        peak, required = stage.get("peak_active_vus"), stage.get("required_active_vus")
        word = verdict_style(verdict)[0].lower()
        window = (
            f"{_text(stage.get('start'))} &ndash; {_text(stage.get('end'))}"
            if stage.get("start") or stage.get("end")
            else UNKNOWN
        )
        cells = (
            f"<td><b>{escape(str(stage.get('name')))}</b></td>",
            f'<td class="loadcert-stage-{escape(verdict)}">{escape(word)}</td>',
            f'<td class="num">{_num(stage.get("required_active_vus"), ",d")}</td>',
            f'<td class="num">{_bounded(peak, required, ",d", below=True)}</td>',
            f'<td class="num">{_num(stage.get("requests"), ",d")}</td>',
            f'<td class="num">{_num(stage.get("rps"), ",.1f")}</td>',
            f'<td class="num">{_num(stage.get("p50_ms"), ",.1f")}</td>',
            f'<td class="num">{_bounded(stage.get("p95_ms"), p95_max, ",.1f")}</td>',
            f'<td class="num">{_bounded(stage.get("p99_ms"), p99_max, ",.1f")}</td>',
            f'<td class="num">{_bounded(stage.get("error_rate"), failed_max, ".3%")}</td>',
            f"<td>{window}</td>",
        )
        rows.append(f'<tr data-stage="{escape(str(stage.get("name")))}">{"".join(cells)}</tr>')
    head = "".join(f"<th>{h}</th>" for h in header)
    return (
        '<table id="loadcert-stages"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "<p>Figures are recomputed from the bundle for people to read; the gates judge them. "
        "<i>unknown</i> means the evidence could not say (never 0).</p>"
    )


def _chart(cert: Certificate) -> str:
    try:
        from pytest_loadcert.report.chart import ChartError, stage_ladder_svg
    except ImportError as exc:  # pragma: no cover - chart.py has no module-level dependency
        return (
            f'<p id="loadcert-chart-missing">stage-ladder chart unavailable: {escape(str(exc))}</p>'
        )
    try:
        svg = stage_ladder_svg(cert)
    except ModuleNotFoundError as exc:
        return (
            '<p id="loadcert-chart-missing" class="loadcert-box">stage-ladder chart unavailable: '
            f"{escape(str(exc))}; install the html extra (pip install "
            "'pytest-loadcert[html]')</p>"
        )
    except ChartError as exc:
        return (
            '<p id="loadcert-chart-missing" class="loadcert-box">stage-ladder chart unavailable: '
            f"{escape(str(exc))}</p>"
        )
    return (
        f'<figure id="loadcert-chart">{svg}<figcaption>Per stage: required vs observed peak '
        "active VUs (k6 <code>vus</code> max), and http_req_duration p95/p99 of successful "
        "requests against the profile's bounds (dashed). Log scales; a missing value is a gap "
        "marked <i>unknown</i>.</figcaption></figure>"
    )


def _bindings(cert: Certificate) -> str:
    bindings = cert.get("bindings") or {}
    git = _code(bindings.get("git_sha"))
    extras = []
    if bindings.get("git_ref"):
        extras.append(f"ref {_text(bindings.get('git_ref'))}")
    if bindings.get("git_dirty") is not None:
        extras.append(f"dirty {_text(bindings.get('git_dirty'))}")
    if extras:
        git += " (" + ", ".join(extras) + ")"
    rows = [
        ("git SHA", git),
        (
            "expected git SHA",
            _code(bindings.get("expected_git_sha"))
            if bindings.get("expected_git_sha")
            else "not given (--loadcert-git-sha)",
        ),
        ("k6 script sha256", _code(bindings.get("k6_script_sha256"))),
        ("k8s manifest sha256", _code(bindings.get("k8s_manifest_sha256"))),
    ]
    images = bindings.get("images") or []
    if not images:
        rows.append(("images", UNKNOWN))
    for image in images:
        rows.append((f"image {image.get('name')}", _code(image.get("digest"))))
    rows += [
        ("bundle sha256 (loadcert.json)", _code(bindings.get("bundle_sha256"))),
        ("profile sha256", _code(bindings.get("profile_sha256"))),
    ]
    return _rows(rows, "loadcert-bindings")


def _not_required(cert: Certificate) -> str:
    kinds = cert.get("not_required") or []
    if not kinds:
        return (
            '<h3>Evidence not required by the profile</h3><p id="loadcert-not-required">'
            "none: the profile requires every evidence kind.</p>"
        )
    items = "".join(f"<li><b>{escape(str(k))}</b>: not checked</li>" for k in kinds)
    return (
        f"<h3>Evidence not required by the profile ({len(kinds)})</h3>"
        f'<div id="loadcert-not-required" class="loadcert-box"><ul class="loadcert-list">'
        f"{items}</ul><p>This certificate says nothing about these kinds of evidence.</p></div>"
    )


def summary_html(cert: Certificate | None) -> str:
    """The certificate section of the report as one HTML fragment (with its own style)."""
    verdict = cert.get("verdict") if cert else None
    colour = TITLE_COLOURS.get(str(verdict), PENDING_STYLE[1])
    style = f"<style>{CSS}#title {{ color: {colour}; }}</style>"
    parts = [_verdict_banner(cert)]
    if cert is not None:
        parts += [
            _run_table(cert),
            "<h3>Gates</h3>",
            _gate_counts(cert),
            _not_run(cert),
            _problems(cert),
            _waived(cert),
            "<h3>Stages</h3>",
            _stage_table(cert),
            "<h3>Stage ladder</h3>",
            _chart(cert),
            "<h3>Bindings</h3>",
            _bindings(cert),
            _not_required(cert),
        ]
    return f'{style}<section id="loadcert-summary" class="loadcert">{"".join(parts)}</section>'


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
    status = getattr(report, "loadcert_status", None)
    if status is not None:
        return str(status)
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
