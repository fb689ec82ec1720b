"""The HTML report (pytest-html) and its stage-ladder chart.

Three tiers: the chart and the summary fragment as plain functions of a certificate dict;
real pytest runs with ``--html`` (serial and ``-n 2``) whose report file is read back; and the
report opened in a real headless chromium, for the certified example bundle and a
not_certified and a blocked bundle. The browser tests save a screenshot of each report to
the test's tmp_path and, when ``LOADCERT_ARTIFACTS_DIR`` is set, copy it there.
"""

from __future__ import annotations

import base64
import copy
import html
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest

from pytest_loadcert.plugin import html as htmlreport
from pytest_loadcert.report import chart, playbook, render

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "evidence" / "example"
EXAMPLE_PROFILE = REPO / "evidence" / "example.toml"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True, scope="module")
def _matplotlib_loaded_outside_pytester() -> None:
    """Load matplotlib (and numpy) in this process before any in-process pytester run.

    pytester restores ``sys.modules`` after each in-process run; numpy's C extension cannot
    be imported twice in one process, so the first import must not happen inside a run.
    """
    chart.stage_ladder_svg(ladder())
    chart.stage_ladder_png_base64(ladder())


def _stage(name: str, required: int, peak: Any, p95: Any, p99: Any, verdict: str) -> dict[str, Any]:
    return {
        "name": name,
        "verdict": verdict,
        "required_active_vus": required,
        "peak_active_vus": peak,
        "requests": 1000,
        "rps": 10.0,
        "p50_ms": 5.0,
        "p95_ms": p95,
        "p99_ms": p99,
        "error_rate": 0.0,
        "start": "2026-05-01T00:00:00Z",
        "end": "2026-05-01T00:05:00Z",
    }


def ladder() -> dict[str, Any]:
    """A certificate's chart-relevant part: 1k misses its peak, 10k has no k6 evidence."""
    return {
        "verdict": "not_certified",
        "thresholds": {"p95_ms_max": 300, "p99_ms_max": 800},
        "stages": [
            _stage("smoke", 20, 20, 110.0, 390.0, "certified"),
            _stage("1k", 1000, 700, 450.5, 950.0, "not_certified"),
            _stage("10k", 10000, None, None, None, "blocked"),
        ],
    }


# --------------------------------------------------------------------------- the chart


def test_svg_is_one_standalone_element_and_deterministic() -> None:
    svg = chart.stage_ladder_svg(ladder())
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    root = ET.fromstring(svg)  # one well-formed element
    assert root.tag == f"{SVG_NS}svg"
    assert float(root.get("width", "0").removesuffix("pt")) > 0
    text = " ".join(t.text or "" for t in root.iter(f"{SVG_NS}text"))
    for word in ("smoke", "1k", "10k", "p95 bound 300 ms", "p99 bound 800 ms", "700"):
        assert word in text
    assert "<dc:date>" not in svg  # no timestamp metadata
    assert chart.stage_ladder_svg(ladder()) == svg


def test_unknown_values_are_gaps_never_zero() -> None:
    fig = chart._figure(ladder())
    vus, latency = fig.axes
    # Bars: smoke required+peak, 1k required+peak, 10k required only: no bar for the unknown.
    heights = sorted(p.get_height() for p in vus.patches)
    assert heights == [20, 20, 700, 1000, 10000]
    p95 = latency.get_lines()[0].get_ydata()
    assert list(p95[:2]) == [110.0, 450.5] and math.isnan(p95[2])
    svg = chart.stage_ladder_svg(ladder())
    assert "peak unknown" in svg and "p95 p99 unknown" in svg

    zero = copy.deepcopy(ladder())
    zero["stages"][2].update(peak_active_vus=0, p95_ms=0.0, p99_ms=0.0)
    zero_svg = chart.stage_ladder_svg(zero)
    assert "unknown" not in zero_svg  # a measured 0 is drawn as 0, an unknown is not
    assert zero_svg != svg


def test_bounds_are_drawn_and_violations_marked() -> None:
    fig = chart._figure(ladder())
    latency = fig.axes[1]
    flat = {line.get_ydata()[0] for line in latency.get_lines() if len(set(line.get_ydata())) == 1}
    assert {300, 800} <= flat
    svg = chart.stage_ladder_svg(ladder())
    legend = " ".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG_NS}text"))
    assert "observed peak below required" in legend  # 1k: 700 of 1000

    unbounded = ladder()
    unbounded["thresholds"] = {"p95_ms_max": None, "p99_ms_max": 800}
    assert "p95 bound unknown" in chart.stage_ladder_svg(unbounded)


def test_png_is_a_decodable_image() -> None:
    from PIL import Image

    data = base64.b64decode(chart.stage_ladder_png_base64(ladder()), validate=True)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.width > 300 and image.height > 100


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("peak_active_vus", "100000", "certificate: stages[1].peak_active_vus is '100000'"),
        ("p95_ms", float("nan"), "certificate: stages[1].p95_ms is nan"),
        ("p99_ms", True, "certificate: stages[1].p99_ms is True"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: Any, message: str) -> None:
    cert = ladder()
    cert["stages"][1][field] = value
    with pytest.raises(chart.ChartError) as excinfo:
        chart.stage_ladder_svg(cert)
    assert str(excinfo.value).startswith(message)


def test_chart_import_has_no_side_effects() -> None:
    code = "import sys, pytest_loadcert.report.chart\nprint('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------- the summary fragment


@pytest.fixture(scope="module")
def example_certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The certificate of the example bundle, from a real pytest run."""
    out = tmp_path_factory.mktemp("example")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--evidence-dir={EXAMPLE}",
            f"--loadcert-profile={EXAMPLE_PROFILE}",
            f"--loadcert-certificate={out / 'certificate.json'}",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    certificate: dict[str, Any] = json.loads((out / "certificate.json").read_text())
    return certificate


def _cells(fragment: str, stage: str) -> list[str]:
    row = re.search(rf'<tr data-key="{re.escape(stage)}">(.*?)</tr>', fragment)
    assert row is not None, stage
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))


def test_summary_prints_na_never_zero_and_marks_what_is_over(
    example_certificate: dict[str, Any],
) -> None:
    cert = copy.deepcopy(example_certificate)
    first, second = cert["stages"][0], cert["stages"][1]
    second.update(peak_active_vus=None, p95_ms=None, p99_ms=None)
    first["p95_ms"] = 450.5
    cert["verdict"] = "not_certified"
    gate = next(g for g in cert["gates"] if g["gate"] == "p99_latency")
    gate.update(status="not_run", message="blocked: did not run")
    fragment = htmlreport.summary_html(cert)
    cells = _cells(fragment, second["name"])
    assert cells[4] == cells[7] == cells[8] == "n/a"  # peak VUs, p95, p99
    assert ">0<" not in "".join(cells)
    assert _cells(fragment, first["name"])[7] == '<span class="over">450.5</span>'
    assert 'data-verdict="not_certified"' in fragment and "NOT CERTIFIED" in fragment
    pending = fragment.split('id="loadcert-why-certification-is-pending"')[1]
    assert f"<code>{gate['id']}</code>" in pending.split("</section>")[0]
    assert '<span class="status not_run">not_run</span>' in pending
    assert "cluster, grafana, otel: not checked" in fragment


def test_summary_is_the_report_document(example_certificate: dict[str, Any]) -> None:
    """pytest-html's summary and ``loadcert report --format html`` render one document: the
    same sections in the same words; only the table of every gate is left to pytest-html's
    own results table."""
    cert = example_certificate
    fragment = htmlreport.summary_html(cert)
    page = render.html_report(cert, playbook.load())
    sections = re.findall(r'<section id="(loadcert-[a-z-]+)"', fragment)
    assert sections and "loadcert-gate-results" not in sections
    in_page = re.findall(r'<section id="(loadcert-[a-z-]+)"', page)
    assert [name for name in in_page if name != "loadcert-gate-results"] == sections
    after = in_page.index("loadcert-gate-results") - 1
    assert in_page[after] == "loadcert-dependency-health"
    for name in sections:
        body = fragment.split(f'<section id="{name}">')[1].split("</section>")[0]
        assert body in page, name


def test_summary_without_a_certificate_is_no_verdict() -> None:
    fragment = htmlreport.summary_html(None)
    assert "NO VERDICT" in fragment and "CERTIFIED" not in fragment.replace("NO VERDICT", "")


# ------------------------------------------------------------------ real pytest-html runs


class _ReportParser(HTMLParser):
    """Collects the ids, the title and pytest-html's JSON blob from a report file."""

    def __init__(self) -> None:
        super().__init__()
        self.blob: dict[str, Any] = {}
        self.ids: set[str] = set()
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if values.get("data-jsonblob"):
            self.blob = json.loads(str(values["data-jsonblob"]))
        self._in_title = values.get("id") == "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


def run_html(
    pytester: pytest.Pytester, bundle: Path, out: Path, *args: str
) -> tuple[pytest.RunResult, dict[str, Any], str, _ReportParser]:
    report = out / "report.html"
    cert_path = out / "certificate.json"
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={bundle}",
        f"--html={report}",
        "--self-contained-html",
        f"--loadcert-certificate={cert_path}",
        *args,
    )
    assert report.is_file(), result.stdout.str()[-3000:] + result.stderr.str()[-2000:]
    text = report.read_text(encoding="utf-8")
    parser = _ReportParser()
    parser.feed(text)
    return result, json.loads(cert_path.read_text()), text, parser


def rows(parser: _ReportParser) -> dict[str, list[str]]:
    """Each gate row's cells as text, by test id."""
    table: dict[str, list[str]] = {}
    for entries in parser.blob["tests"].values():
        for entry in entries:
            cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in entry["resultsTableRow"]]
            table[cells[2]] = cells
    return table


def test_example_report_is_rendered_after_the_verdict(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result, cert, text, parser = run_html(
        pytester, EXAMPLE, tmp_path, f"--loadcert-profile={EXAMPLE_PROFILE}"
    )
    assert result.ret == 0 and cert["verdict"] == "certified"
    # pytest-html writes in its trylast sessionfinish; the controller decided in its tryfirst
    # one, so the page carries the final verdict, not "NO VERDICT".
    assert 'data-verdict="certified"' in text and "NO VERDICT" not in text
    assert parser.title.startswith(f"CERTIFIED - load-test certificate {cert['run_id']}")
    assert {
        "loadcert-verdict",
        "loadcert-bindings",
        "loadcert-stages",
        "loadcert-chart",
    } <= parser.ids
    assert text.count('src="data:image/svg+xml;base64,') == 1
    bindings = cert["bindings"]
    for value in (
        bindings["git_sha"],
        bindings["bundle_sha256"],
        bindings["profile_sha256"],
        bindings["k6_script_sha256"],
        bindings["k8s_manifest_sha256"],
        bindings["images"][0]["digest"],
    ):
        assert value in text
    for column in ("Gate status", "Observed", "Required", "Samples", "Source"):
        assert re.search(rf"<th[^>]*>{column}</th>", text)
    table = rows(parser)
    row = table["loadcert/builtin_gates.py::test_observed_concurrency[10vu]"]
    assert row[:2] == ["Passed", "PASSED"]
    assert row[3:7] == [
        "peak active VUs 10",
        ">= 10",
        "1 summary file(s)",
        "stages/10vu/k6-summary.json metrics.vus.max",
    ]
    assert len(table) == len(cert["gates"])


def test_blocked_and_not_run_gates_are_spelled_out(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = bf.build_variant("missing_stage_dir", tmp_path / "bundle")
    result, cert, text, parser = run_html(pytester, bundle, tmp_path, "-k", "not p99_latency")
    assert result.ret == 2 and cert["verdict"] == "blocked"
    assert 'data-verdict="blocked"' in text
    table = rows(parser)
    blocked = table["loadcert/builtin_gates.py::test_requests_sent[50k]::setup"]
    assert blocked[:2] == ["Error", "BLOCKED"]  # pytest-html's word, and ours
    assert blocked[3] == "unknown"
    assert cert["not_run"] and all(gate.startswith("p99_latency[") for gate in cert["not_run"])
    pending = text.split('id="loadcert-why-certification-is-pending"')[1].split("</section>")[0]
    for gate in cert["not_run"]:
        assert f'<code>{gate}</code></td><td><span class="status not_run">' in pending
    assert not any("p99_latency" in test_id for test_id in table)


def test_waived_gate_is_not_shown_as_passed(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    profile = tmp_path / "profile.toml"
    profile.write_text(
        "[[waivers]]\ngate = 'p99_latency'\nstage = 'smoke'\nowner = 'sre-oncall'\n"
        "reason = 'smoke sends too few requests for a p99'\nexpires = 2999-01-01\n"
    )
    _, cert, text, parser = run_html(pytester, bundle, tmp_path, f"--loadcert-profile={profile}")
    assert cert["verdict"] == "certified"
    waived = rows(parser)["loadcert/builtin_gates.py::test_p99_latency[smoke]::setup"]
    assert waived[:2] == ["Skipped", "WAIVED"]
    waivers = text.split('id="loadcert-waivers"')[1].split("</section>")[0]
    assert "<code>p99_latency[smoke]</code>: " in waivers
    assert "waived by sre-oncall until 2999-01-01" in waivers
    assert (
        "all 135 expected gates over 6 stages ran on complete evidence and passed (1 waived" in text
    )


def test_report_under_xdist_carries_gate_data(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("p95_high", tmp_path / "bundle")
    result, cert, text, parser = run_html(pytester, bundle, tmp_path, "-n", "2")
    assert result.ret == 1 and cert["verdict"] == "not_certified"
    assert 'data-verdict="not_certified"' in text
    failed = rows(parser)["loadcert/builtin_gates.py::test_p95_latency[100k]"]
    assert failed[:2] == ["Failed", "FAILED"]
    assert failed[3].startswith("p(95) 450") and failed[4] == "<= 300 ms"
    assert "stages/100k/k6-summary.json" in failed[6]


def test_no_html_option_loads_no_matplotlib(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # A certification run loads the conftest files of its gate paths only.
    pytester.makeini("[pytest]\nloadcert_gates = certification\n")
    pytester.mkdir("certification")
    (pytester.path / "certification" / "conftest.py").write_text(
        "import sys\n"
        "def pytest_unconfigure(config):\n"
        "    print('MATPLOTLIB', 'matplotlib' in sys.modules)\n"
        "    print('LOADCERT_HTML', config.pluginmanager.has_plugin('loadcert-html'))\n"
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={EXAMPLE}",
        f"--loadcert-profile={EXAMPLE_PROFILE}",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["MATPLOTLIB False", "LOADCERT_HTML False"])


# ------------------------------------------------------------------- a real headless browser

BROWSER_CASES = [
    # name, verdict, word, banner background, title colour (text on the white page)
    ("example", "certified", "CERTIFIED", "rgba(26, 127, 55, 1)", "rgba(26, 127, 55, 1)"),
    ("p95_high", "not_certified", "NOT CERTIFIED", "rgba(207, 34, 46, 1)", "rgba(207, 34, 46, 1)"),
    ("missing_stage_dir", "blocked", "BLOCKED", "rgba(212, 167, 44, 1)", "rgba(154, 103, 0, 1)"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    # An explicit chromedriver: Selenium Manager never runs, nothing is downloaded.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: Any, path: Path) -> None:
    """A full-page PNG: the window grows to the page (bounded), then shrinks back."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1400, min(height + 40, 8000))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(1400, 1000)
    artifacts = os.environ.get("LOADCERT_ARTIFACTS_DIR")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(artifacts) / path.name)


CHART_DECODES = """
const image = document.querySelector('#loadcert-chart img');
const done = arguments[arguments.length - 1];
const decoded = () => done([image.naturalWidth, image.naturalHeight]);
if (image.complete) { decoded(); }
else { image.onload = decoded; image.onerror = () => done(null); }
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "verdict", "word", "colour", "title_colour"),
    BROWSER_CASES,
    ids=[case[0] for case in BROWSER_CASES],
)
def test_report_in_a_headless_browser(
    pytester: pytest.Pytester,
    tmp_path: Path,
    browser: Any,
    name: str,
    verdict: str,
    word: str,
    colour: str,
    title_colour: str,
) -> None:
    from selenium.webdriver.common.by import By

    if name == "example":
        bundle, args = EXAMPLE, (f"--loadcert-profile={EXAMPLE_PROFILE}",)
    else:
        bundle, args = bf.build_variant(name, tmp_path / "bundle"), ()
    _, cert, _, _ = run_html(pytester, bundle, tmp_path, *args)
    assert cert["verdict"] == verdict

    browser.get((tmp_path / "report.html").as_uri())
    banner = browser.find_element(By.ID, "loadcert-verdict")
    assert banner.is_displayed()
    assert banner.find_element(By.CLASS_NAME, "loadcert-verdict-word").text == word
    assert banner.value_of_css_property("background-color") == colour
    title = browser.find_element(By.ID, "title")
    assert title.text.startswith(f"{word} - load-test certificate {cert['run_id']}")
    assert title.value_of_css_property("color") == title_colour
    size = float(
        browser.find_element(By.CLASS_NAME, "loadcert-verdict-word")
        .value_of_css_property("font-size")
        .removesuffix("px")
    )
    assert size >= 32  # large

    image = browser.find_element(By.CSS_SELECTOR, "#loadcert-chart img")
    assert image.size["width"] > 400 and image.size["height"] > 150
    decoded = browser.execute_async_script(CHART_DECODES)
    assert decoded is not None and decoded[0] > 0 and decoded[1] > 0
    source = str(image.get_attribute("src")).removeprefix("data:image/svg+xml;base64,")
    chart_text = " ".join(
        t.text or "" for t in ET.fromstring(base64.b64decode(source)).iter(f"{SVG_NS}text")
    )
    for stage in cert["stages"]:
        assert stage["name"] in chart_text

    bindings = browser.find_element(By.ID, "loadcert-bindings").text
    for value in (
        cert["bindings"]["git_sha"],
        cert["bindings"]["bundle_sha256"],
        cert["bindings"]["profile_sha256"],
        cert["bindings"]["k6_script_sha256"],
    ):
        assert value in bindings
    stages = browser.find_element(By.ID, "loadcert-stages").text
    not_required = bindings
    statuses = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "td.col-gateStatus")}
    if verdict == "certified":
        assert "cluster, grafana, otel: not checked" in not_required
        assert statuses == {"PASSED"}
    elif verdict == "not_certified":
        assert "450.1" in stages
        assert "FAILED" in statuses
        assert browser.find_element(By.CSS_SELECTOR, "#loadcert-stages .over").text == "450.1"
    else:
        row = browser.find_element(By.CSS_SELECTOR, '#loadcert-stages tr[data-key="50k"]').text
        assert row.count("n/a") >= 6
        assert "BLOCKED" in statuses and "FAILED" not in statuses
        assert "unknown" in chart_text
    _screenshot(browser, tmp_path / f"html-report-{name}.png")
    assert (tmp_path / f"html-report-{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        (("stages", 1, "p95_ms"), 1e308, "stages[1].p95_ms"),
        (("stages", 1, "peak_active_vus"), 10**308, "stages[1].peak_active_vus"),
        (("thresholds", "p99_ms_max"), 1e308, "thresholds.p99_ms_max"),
    ],
    ids=["p95", "peak", "bound"],
)
def test_values_too_large_to_draw_are_refused_naming_the_field(
    where: tuple[Any, ...], value: Any, field: str, example_certificate: dict[str, Any]
) -> None:
    cert = copy.deepcopy(example_certificate)
    node: Any = cert
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(chart.ChartError) as excinfo:
        chart.stage_ladder_svg(cert)
    assert str(excinfo.value).startswith(f"certificate: {field} is ")
    summary = htmlreport.summary_html(cert)
    assert 'id="loadcert-chart-missing"' in summary and field in summary


STAGE_CELL_LINES = """
const out = [];
for (const table of document.querySelectorAll('table')) {
  const column = [...table.querySelectorAll('thead th')].findIndex(t => t.textContent === 'stage');
  if (column < 0) continue;
  for (const row of table.querySelectorAll('tbody tr')) {
    const cell = row.children[column];
    const name = cell.querySelector('code') || cell;
    out.push([cell.textContent, name.getClientRects().length]);
  }
}
return out;
"""


@pytest.mark.slow
def test_loadcert_report_html_never_wraps_a_stage_name(
    pytester: pytest.Pytester, tmp_path: Path, browser: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """In ``loadcert report --format html``, a stage name is one line however narrow the
    window: the stage table's 13 columns used to squeeze "smoke" into "smok" / "e"."""
    from pytest_loadcert import cli

    bundle = bf.build_variant("p95_high", tmp_path / "bundle")
    run_html(pytester, bundle, tmp_path)
    output = tmp_path / "loadcert-report.html"
    assert cli.main(["report", "--certificate", str(tmp_path / "certificate.json"),
                     "--format", "html", "--output", str(output)]) == 0  # fmt: skip
    capsys.readouterr()
    browser.get(output.as_uri())
    try:
        for width in (1400, 1000, 800, 600):
            browser.set_window_size(width, 1000)
            cells = browser.execute_script(STAGE_CELL_LINES)
            assert {name for name, _ in cells} >= {"smoke", "1k", "100k"}
            assert [cell for cell in cells if cell[1] != 1] == [], width
        _screenshot(browser, tmp_path / "loadcert-report.png")
    finally:
        browser.set_window_size(1400, 1000)
