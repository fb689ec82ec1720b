"""``loadcert report``: the certification report from certificate.json.

The certificates come from real certification runs (pytest with the plugin, in a subprocess)
on the example bundle and on bundlefactory variants: certified, not_certified and blocked.
The report is then produced by the real ``loadcert`` command line and read as a user reads
it: the Markdown text, the HTML page's text, the exit status and stderr.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest

from pytest_loadcert import cli
from pytest_loadcert.report import command as report_module
from pytest_loadcert.report import playbook

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "evidence" / "example"
EXAMPLE_PROFILE = REPO / "evidence" / "example.toml"
HOSTILE = 'evil | run\n<script>alert("x")</script> @octocat #1 [click](http://127.0.0.1/) **b** `c`'


def certify(bundle: Path, workdir: Path, *args: str) -> dict[str, Any]:
    """Certify ``bundle`` in a real pytest run; the certificate.json it wrote."""
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            f"--evidence-dir={bundle}",
            "--junitxml=certificate.xml",
            *args,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1, 2), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((workdir / "certificate.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """certificate.json of real runs: name -> path."""
    base = tmp_path_factory.mktemp("runs")
    out = {}
    certify(EXAMPLE, base / "example", f"--loadcert-profile={EXAMPLE_PROFILE}")
    out["example"] = base / "example" / "certificate.json"
    for name in ("valid", "p95_high", "metric_violated", "snapshot_stale", "missing_stage_dir"):
        bundle = bf.build_variant(name, base / name / "bundle")
        certify(bundle, base / name)
        out[name] = base / name / "certificate.json"
    # p95 over its bound while the DB pool runs hot (0.75, within its 0.8 bound).
    files = bf.variant_files("p95_high")
    bf.set_sample(files, "100k", "db_pool_saturation", "0.75")
    certify(bf.write_bundle(base / "p95_db" / "bundle", files), base / "p95_db")
    out["p95_db"] = base / "p95_db" / "certificate.json"
    return out


def report(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["report", *args])
    out, err = capfd.readouterr()
    return status, out, err


class _Text(HTMLParser):
    """The text a browser shows, and every tag and attribute seen."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def page(text: str) -> _Text:
    parser = _Text()
    parser.feed(text)
    parser.close()
    return parser


def md_plain(markdown: str) -> str:
    """Markdown as rendered text: escapes resolved, code backticks dropped."""
    return re.sub(r"\\(.)|`", lambda m: m.group(1) or "", markdown)


def section(markdown: str, title: str) -> str:
    """The body of the ``## title`` section."""
    return markdown.split(f"\n## {title}\n")[1].split("\n## ")[0]


def table_rows(markdown: str) -> list[list[str]]:
    """Every table line split into cells on unescaped pipes."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            rows.append(cells[1:-1])
    return rows


# ----------------------------------------------------------------------------- wording rule


def test_certified_report_states_what_was_proven(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    cert = json.loads(runs["example"].read_text())
    assert cert["verdict"] == "certified"
    sha = cert["bindings"]["git_sha"]
    status, markdown, err = report(capfd, "--certificate", str(runs["example"]))
    assert (status, err) == (0, "")
    claim = f"Certified for 10 concurrent users at {sha} in local-example."
    assert claim in md_plain(markdown)
    assert "highest observed peak was 10 active VUs" in markdown
    assert "pending" not in markdown.lower()
    status, html_text, _ = report(capfd, "--certificate", str(runs["example"]), "--format", "html")
    assert status == 0
    assert claim in page(html_text).text
    # The built-in profile: the claim is the target, 100000, at the bundle's commit.
    valid = json.loads(runs["valid"].read_text())
    status, markdown, _ = report(capfd, "--certificate", str(runs["valid"]))
    assert status == 0
    assert (
        f"Certified for 100000 concurrent users at {valid['bindings']['git_sha']} in staging."
        in md_plain(markdown)
    )


@pytest.mark.parametrize("name", ["p95_high", "metric_violated", "snapshot_stale"])
def test_pending_report_never_claims_certification(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], name: str
) -> None:
    cert = json.loads(runs[name].read_text())
    assert cert["verdict"] in ("not_certified", "blocked")
    for fmt in ("md", "html"):
        status, out, err = report(capfd, "--certificate", str(runs[name]), "--format", fmt)
        assert (status, err) == (0, "")
        text = md_plain(out) if fmt == "md" else page(out).text
        assert "certified for" not in text.lower()
        assert f"Certification pending: the verdict is {cert['verdict']}" in text.replace(
            "❌ ", ""
        ).replace("⛔ ", "")
        for gate in cert["gates"]:
            if gate["status"] in ("failed", "blocked"):
                assert gate["id"] in text


def test_pending_report_shows_observed_against_required(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    _, markdown, _ = report(capfd, "--certificate", str(runs["p95_high"]))
    why = section(markdown, "Why certification is pending")
    row = next(r for r in table_rows(why) if "p95_latency[100k]" in r[0])
    assert "failed" in row[1]
    assert md_plain(row[2]).strip().startswith("p(95) 450")
    assert md_plain(row[3]).strip() == "<= 300 ms"
    assert "Every gate of the stages up to 50k" in markdown
    _, markdown, _ = report(capfd, "--certificate", str(runs["snapshot_stale"]))
    assert "max_snapshot_age_s" in md_plain(markdown)
    assert "0 failed, 20 blocked" in markdown


# ----------------------------------------------------------------------------- content


def test_report_sections_carry_the_certificate(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    cert = json.loads(runs["metric_violated"].read_text())
    _, markdown, _ = report(capfd, "--certificate", str(runs["metric_violated"]))
    text = md_plain(markdown)
    bindings = cert["bindings"]
    for value in (
        cert["run_id"],
        cert["environment"],
        bindings["git_sha"],
        bindings["k6_script_sha256"],
        bindings["k8s_manifest_sha256"],
        bindings["bundle_sha256"],
        bindings["profile_sha256"],
        *(i["digest"] for i in bindings["images"]),
    ):
        assert value in text
    stage_rows = {r[0].strip(" `"): r for r in table_rows(section(markdown, "Stage results"))}
    row = stage_rows["50k"]
    assert [c.strip() for c in row[3:5]] == ["50000", "50000"]
    assert "not" in row[-2] and "certified" in row[-2]  # verdict; then "decided by"
    assert "critical_metric[50k-db_pool_saturation]" in row[-1]
    assert stage_rows["25k"][-2].strip().endswith("certified")
    health = section(markdown, "Dependency health")
    db = next(r for r in table_rows(health) if "50k" in r[0] and "db_pool_saturation" in r[1])
    assert [md_plain(c).strip() for c in db[2:4]] == ["0.95", "<= 0.8"]
    assert "failed" in db[4]
    cluster = [r for r in table_rows(health) if "workload_ready" in r[0]]
    assert len(cluster) == 6 and all("passed" in r[1] for r in cluster)


def test_hints_come_from_the_playbook(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    _, markdown, _ = report(capfd, "--certificate", str(runs["metric_violated"]))
    hints = md_plain(section(markdown, "Bottleneck hints"))
    assert "DB pool saturation" in hints and "SHOW POOLS;" in hints
    # p95 over its bound with the pool at 0.75 of its size: the conditional rule wins.
    _, markdown, _ = report(capfd, "--certificate", str(runs["p95_db"]))
    hints = md_plain(section(markdown, "Bottleneck hints"))
    assert "Database connection pool saturated" in hints and "pgbouncer" in hints
    assert "Latency over the bound" not in hints
    _, markdown, _ = report(capfd, "--certificate", str(runs["p95_high"]))
    hints = md_plain(section(markdown, "Bottleneck hints"))
    assert "Latency over the bound" in hints and "Database connection" not in hints
    _, markdown, _ = report(capfd, "--certificate", str(runs["snapshot_stale"]))
    assert "Cluster snapshot unusable" in md_plain(markdown)
    _, markdown, _ = report(capfd, "--certificate", str(runs["example"]))
    assert "Bottleneck hints" not in markdown


def test_own_playbook_rules_come_first(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    own = tmp_path / "playbook.json"
    own.write_text(
        json.dumps(
            {
                "schema": "loadcert-playbook/v1",
                "rules": [
                    {
                        "id": "our-p95",
                        "gate": "p95_latency",
                        "status": ["failed"],
                        "when": [{"fact": "p95_ms", "above": 400}],
                        "title": "Checkout p95 regression",
                        "cause": "The checkout route is slow.",
                        "inspect": ["the checkout service's dashboard"],
                    }
                ],
            }
        )
    )
    _, markdown, _ = report(capfd, "--certificate", str(runs["p95_high"]), "--playbook", str(own))
    assert "Checkout p95 regression" in markdown
    own.write_text(json.dumps({"schema": "loadcert-playbook/v1", "rules": [{"id": "x"}]}))
    status, out, err = report(capfd, "--certificate", str(runs["p95_high"]), "--playbook", str(own))
    assert status == 4 and out == ""
    assert err == f"loadcert report: error: {own}: rules[0].gate is missing\n"


# ----------------------------------------------------------------------------- hostile input


def _hostile(path: Path, tmp_path: Path) -> Path:
    cert = json.loads(path.read_text())
    cert["run_id"] = HOSTILE
    cert["environment"] = HOSTILE
    for gate in cert["gates"]:
        if gate["status"] != "passed":
            gate["message"] = HOSTILE
            gate["observed"] = "| 1 |"
    target = tmp_path / f"hostile-{path.parent.name}.json"
    target.write_text(json.dumps(cert))
    return target


@pytest.mark.parametrize("name", ["example", "p95_high"])
def test_hostile_strings_are_escaped(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    hostile = _hostile(runs[name], tmp_path)
    status, markdown, _ = report(capfd, "--certificate", str(hostile))
    assert status == 0
    assert "<script>" not in markdown and "\\<script\\>" in markdown
    assert "@octocat" not in markdown.replace("\\@octocat", "")
    assert "[click]" not in markdown.replace("\\[click\\]", "")
    for line in markdown.splitlines():
        assert not line.startswith("<"), line
    # Every table row has as many cells as its header: no pipe or newline broke out.
    tables = markdown.split("\n\n")
    for block in tables:
        rows = table_rows(block)
        if rows:
            assert {len(r) for r in rows} == {len(rows[0])}, block
    flat = " ".join(HOSTILE.split())
    assert flat in md_plain(markdown)
    if name == "example":
        assert f"in {flat}." in md_plain(markdown)
    status, html_text, _ = report(capfd, "--certificate", str(hostile), "--format", "html")
    assert status == 0
    parsed = page(html_text)
    assert "script" not in {tag for tag, _ in parsed.tags}
    assert flat in parsed.text
    assert "&lt;script&gt;" in html_text


# ----------------------------------------------------------------------------- refusals


def _mutated(path: Path, tmp_path: Path, mutate: Any) -> Path:
    cert = json.loads(path.read_text())
    mutate(cert)
    target = tmp_path / "certificate.json"
    target.write_text(json.dumps(cert))
    return target


def _first_failed(cert: dict[str, Any]) -> None:
    cert["gates"][3]["status"] = "failed"


#: A whole certification process under -n 2: run in .ci/run, not in the inner loop.
SLOW = pytest.mark.slow


def _raised_target(cert: dict[str, Any]) -> None:
    """target_concurrency raised to 11 everywhere it is stated, the profile re-hashed: the
    recorded peaks (10) still say the claim is not met."""
    from pytest_loadcert.config.profile import canonical_json, profile_digest

    cert["target_concurrency"] = cert["profile"]["target_concurrency"] = 11
    cert["bindings"]["profile_sha256"] = profile_digest(canonical_json(cert["profile"]))


def _forged_certified(cert: dict[str, Any]) -> None:
    """The plugin's not_certified certificate (p95 450 ms at 100k against 300 ms), every
    status and verdict flipped to what a certified run says; its figures stay as measured."""
    for gate in cert["gates"]:
        gate.update(status="passed", message="")
    for stage in cert["stages"]:
        stage.update(verdict="certified", stage_gates_verdict="certified")
    cert.update(
        verdict="certified",
        exit_status=0,
        highest_certified_stage=cert["stages"][-1]["name"],
        problems=[],
        not_run=[],
    )
    if cert.get("run_level"):
        cert["run_level"].update(verdict="certified", reason=None)


def _figures_rewritten(cert: dict[str, Any]) -> None:
    """The forger also rewrites every gate's observed figure to one within its bound; the
    stage table still holds what was measured."""
    for gate in cert["gates"]:
        if gate["gate"] == "p95_latency":
            gate["observed"] = "p(95) 100 ms"


def _forged_index(runs: dict[str, Path]) -> int:
    gates = json.loads(runs["p95_high"].read_text())["gates"]
    return next(i for i, g in enumerate(gates) if g["id"] == "p95_latency[100k]")


REFUSALS = [
    (
        "figures contradict the flipped statuses",
        "p95_high",
        _forged_certified,
        "gates[{p95}].status is passed, but its observed 'p(95) 450.112 ms' does not meet its "
        "required '<= 300 ms'",
    ),
    (
        "unknown verdict",
        "example",
        lambda c: c.update(verdict="certified-ish"),
        "verdict is invalid",
    ),
    (
        "certified with a failed gate",
        "example",
        _first_failed,
        "gates[3].status is failed, but the verdict is certified",
    ),
    (
        "stage certified under a blocked run level",
        "snapshot_stale",
        lambda c: c["stages"][2].update(verdict="certified"),
        "stages[2].verdict is certified, but run_level.verdict is blocked",
    ),
    (
        "highest stage under a blocked run level",
        "snapshot_stale",
        lambda c: c.update(highest_certified_stage="1k"),
        "highest_certified_stage is '1k', but run_level.verdict is blocked",
    ),
    (
        "certified under target",
        "example",
        _raised_target,
        "stages record a highest peak of 10 active VUs, under target_concurrency 11",
    ),
    (
        "stage figures contradict the flipped statuses",
        "p95_high",
        lambda c: (_forged_certified(c), _figures_rewritten(c)),
        "stages[5].p95_ms is 450.112, beyond its bound 300.0, but p95_latency[100k] passed",
    ),
    (
        "target not the profile's",
        "example",
        lambda c: c.update(target_concurrency=11),
        "target_concurrency is 11, but the profile's is 10",
    ),
    (
        "a bound not the profile's",
        "example",
        lambda c: c["thresholds"].update(p95_ms_max=3000),
        "thresholds.p95_ms_max is 3000, but the profile's is 300",
    ),
    (
        "a hidden knob edited",
        "example",
        lambda c: c["profile"]["k6"].update(eval_delay_max_s=86400),
        "profile does not hash to bindings.profile_sha256",
    ),
    (
        "certified with wrong highest stage",
        "example",
        lambda c: c.update(highest_certified_stage="5vu"),
        "highest_certified_stage is '5vu', not the last stage '10vu'",
    ),
    (
        "exit status disagrees",
        "p95_high",
        lambda c: c.update(exit_status=0),
        "exit_status is 0, but a not_certified verdict exits 1",
    ),
    (
        "not_certified without a failure",
        "example",
        lambda c: c.update(verdict="not_certified", exit_status=1),
        "verdict is not_certified, but no gate failed",
    ),
    (
        "missing binding",
        "example",
        lambda c: c["bindings"].pop("git_sha"),
        "bindings.git_sha is missing",
    ),
    (
        "wrong type",
        "p95_high",
        lambda c: c["stages"][0].update(p95_ms="118"),
        "stages[0].p95_ms is invalid",
    ),
    (
        "bad digest",
        "p95_high",
        lambda c: c["bindings"].update(bundle_sha256="sha256:abc"),
        "bindings.bundle_sha256 is invalid",
    ),
]


@pytest.mark.parametrize(
    "source,mutate,message", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refuses_an_untrustworthy_certificate(
    runs: dict[str, Path],
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    source: str,
    mutate: Any,
    message: str,
) -> None:
    bad = _mutated(runs[source], tmp_path, mutate)
    message = message.replace("{p95}", str(_forged_index(runs)))
    for fmt in ("md", "html", "intoto"):
        status, out, err = report(capfd, "--certificate", str(bad), "--format", fmt)
        assert status == 4 and out == ""
        assert err.startswith(f"loadcert report: error: {bad}: {message}"), err
        assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "is missing"),
        (b'{"verdict": NaN}', "is not valid JSON: the literal NaN is not JSON"),
        (b'{"verdict": "certified", "verdict": "blocked"}', "duplicate key 'verdict'"),
        (b"[]", "is invalid: [] is not of type 'object'"),
    ],
    ids=["missing", "nan", "duplicate-key", "not-an-object"],
)
def test_refuses_an_unreadable_certificate(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "certificate.json"
    if content is not None:
        path.write_bytes(content)
    status, out, err = report(capfd, "--certificate", str(path))
    assert status == 4 and out == ""
    assert err.startswith(f"loadcert report: error: {path}") and message in err, err
    assert err.count("\n") == 1


# ----------------------------------------------------------------------------- size and files


def _blocked_with_many_gates(path: Path, tmp_path: Path, gates: int, stages: int = 0) -> Path:
    cert = json.loads(path.read_text())
    template = next(g for g in cert["gates"] if g["status"] == "blocked")
    cert["gates"] = [
        dict(template, id=f"custom_gate[{i}]", message="blocked: " + "x" * 400)
        for i in range(gates)
    ]
    stage = cert["stages"][0]
    for i in range(stages):
        extra = copy.deepcopy(stage)
        extra["name"] = f"s{i}"
        cert["stages"].append(extra)
    target = tmp_path / "big.json"
    target.write_text(json.dumps(cert))
    return target


def test_markdown_fits_githubs_limits(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    big = _blocked_with_many_gates(runs["snapshot_stale"], tmp_path, gates=2000)
    status, markdown, _ = report(capfd, "--certificate", str(big))
    assert status == 0
    assert len(markdown.encode()) <= 1024 * 1024
    assert "and 1750 more gates that failed, were blocked or did not run" in markdown
    status, markdown, _ = report(capfd, "--certificate", str(big), "--max-bytes", "65536")
    assert status == 0
    size = len(markdown.encode())
    assert 30000 < size <= 65536
    assert "Certification pending" in markdown and "## Summary" in markdown
    # Under the smallest rendering (below the command line's minimum): cut at a line, said so.
    cert = json.loads(runs["snapshot_stale"].read_text())
    markdown = report_module.markdown_report(cert, playbook.builtin_rules(), 3000)
    assert len(markdown.encode()) <= 3000
    assert markdown.startswith("# Load certification pending")
    assert markdown.endswith("certificate.json holds everything._\n")


def test_html_is_self_contained_with_the_chart(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "out" / "report.html"
    status, out, err = report(
        capfd, "--certificate", str(runs["p95_high"]), "--format", "html", "--output", str(output)
    )
    assert (status, out, err) == (0, "", "")
    text = output.read_text()
    parsed = page(text)
    csp = [
        a
        for t, a in parsed.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), (tag, attrs)
    images = [a["src"] for t, a in parsed.tags if t == "img"]
    assert len(images) == 1 and (images[0] or "").startswith("data:image/svg+xml;base64,")
    assert "p95_latency[100k]" in parsed.text


def test_intoto_format_is_the_statement_the_run_wrote(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    for name in ("example", "p95_high"):
        written = (runs[name].parent / "certificate.intoto.json").read_bytes()
        status = cli.main(["report", "--certificate", str(runs[name]), "--format", "intoto"])
        out, _ = capfd.readouterr()
        assert status == 0 and out.encode() == written


@pytest.mark.parametrize(
    "args,message",
    [
        (("--format", "html", "--max-bytes", "65536"), "--max-bytes applies to --format md only"),
        (("--max-bytes", "100"), "under the minimum of 8192 bytes"),
        (("--format", "pdf"), "invalid choice: 'pdf'"),
    ],
)
def test_usage_errors(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    status, out, err = report(capfd, "--certificate", str(runs["example"]), *args)
    assert status == 4 and out == ""
    assert message in err


def test_playbook_documentation_is_generated_from_the_data() -> None:
    doc = (REPO / "docs" / "bottleneck-playbook.md").read_text()
    _, marker, generated = doc.partition(playbook.DOC_MARKER)
    assert marker, "docs/bottleneck-playbook.md lost its marker line"
    assert generated == "\n\n" + playbook.markdown(playbook.builtin_rules()), (
        "docs/bottleneck-playbook.md is out of date: "
        "run `python -m pytest_loadcert.report.playbook docs/bottleneck-playbook.md`"
    )


def test_playbook_rules_name_real_gates_and_metrics() -> None:
    from pytest_loadcert.config.defaults import DEFAULT_PROFILE
    from pytest_loadcert.gates.catalogue import GATES

    known = {*GATES, "*"}
    metrics = {m["name"] for m in DEFAULT_PROFILE["metrics"]}
    rules = playbook.builtin_rules()
    for rule in rules:
        assert set(rule.gates) <= known, rule.id
        if rule.subject is not None:
            assert rule.subject in metrics, rule.id
        for condition in rule.when:
            if condition.fact.startswith("metric:"):
                assert condition.fact[7:] in metrics, rule.id
            if condition.fact.startswith("gate:"):
                assert condition.fact[5:] in known, rule.id
    # Every built-in gate that can fail or block has a rule of its own.
    assert known - {"*"} <= {g for r in rules for g in r.gates}


@pytest.mark.parametrize(
    "rule,message",
    [
        (
            {"gate": "p95_latency", "when": [{"fact": "p95", "above": 1}]},
            "rules[0].when[0].fact 'p95' is not",
        ),
        (
            {"gate": "p95_latency", "when": [{"fact": "p95_ms", "above": "1"}]},
            "rules[0].when[0].above must be a finite number",
        ),
        (
            {"gate": "p95_latency", "when": [{"fact": "p95_ms", "above": 1, "below": 2}]},
            "must have exactly one test",
        ),
        ({"gate": "P95"}, "rules[0].gate must be a gate name"),
        ({"gate": "p95_latency", "colour": "red"}, "rules[0].colour is not a rule key"),
    ],
)
def test_playbook_errors_name_the_field(rule: dict[str, Any], message: str) -> None:
    base = {"id": "r", "status": ["failed"], "title": "t", "cause": "c", "inspect": ["i"]}
    from pytest_loadcert.errors import EvidenceError

    with pytest.raises(EvidenceError) as caught:
        playbook.parse({"schema": playbook.SCHEMA, "rules": [dict(base, **rule)]}, "own.json")
    assert str(caught.value).startswith("own.json: ") and message in str(caught.value)


def test_missing_fact_never_matches(runs: dict[str, Path]) -> None:
    cert = json.loads(runs["p95_high"].read_text())
    stage = next(s for s in cert["stages"] if s["name"] == "100k")
    for metric in stage["metrics"]:
        if metric["name"] == "db_pool_saturation":
            metric["value"] = None  # missing is not zero, and not "high" either
    found = playbook.hints(cert, playbook.builtin_rules())
    assert [h.rule.id for h in found] == ["latency"]


def test_stage_without_a_successful_request_has_no_latency_figures(tmp_path: Path) -> None:
    """k6 with a threshold on the successful-request submetric and the target down writes
    that submetric with count 0 and every percentile 0 (recorded with k6 v1.1.0). The
    certificate, and so every report, must say n/a there, never 0 ms."""
    from pytest_loadcert.certify.certificate import stage_facts
    from pytest_loadcert.config.load import load_profile
    from pytest_loadcert.evidence.bundle import Bundle

    files = bf.variant_files("vacuous_target_down")
    summary = bf.stage_summaries(files, "1k")[0]
    name = "http_req_duration{expected_response:true}"
    summary["metrics"][name] = copy.deepcopy(summary["metrics"]["http_req_duration"])
    bf.metric(summary, name)["count"] = 0  # every stat is already 0, as k6 writes it
    bf.set_threshold(summary, name, "p(95)<300", True)
    bundle = Bundle(bf.write_bundle(tmp_path / "bundle", files))
    facts = {row.name: row for row in stage_facts(bundle, load_profile(None))}
    assert bf.metric(summary, name)["p(95)"] == 0
    assert (facts["1k"].p50_ms, facts["1k"].p95_ms, facts["1k"].p99_ms) == (None, None, None)
    assert facts["1k"].error_rate == 1.0 and facts["1k"].requests
    assert all(facts[s].p95_ms for s in ("smoke", "10k", "100k"))  # measured stages keep theirs


def test_pending_report_does_not_call_a_waived_gate_passed(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def waive(cert: dict[str, Any]) -> None:
        gate = next(g for g in cert["gates"] if g["id"] == "p99_latency[smoke]")
        gate.update(status="waived", message="Skipped: waived by sre-oncall until 2099-01-01")

    waived = _mutated(runs["p95_high"], tmp_path, waive)
    for fmt in ("md", "html"):
        status, out, err = report(capfd, "--certificate", str(waived), "--format", fmt)
        assert (status, err) == (0, "")
        text = md_plain(out) if fmt == "md" else page(out).text
        sentence = next(line for line in text.splitlines() if "stages up to 50k" in line)
        assert "1 waived" in sentence, sentence


def test_output_that_is_a_directory_is_named_in_the_error(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "report.md"
    target.mkdir()
    status, out, err = report(capfd, "--certificate", str(runs["example"]), "--output", str(target))
    assert (status, out) == (1, "")
    assert err == f"loadcert report: error: {target}: Is a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temporary file left


def test_refuses_a_certified_certificate_for_another_commit(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The claim names bindings.git_sha; a run told to test another commit cannot make it."""
    other = "0" * 39 + "1"
    bad = _mutated(
        runs["example"], tmp_path, lambda c: c["bindings"].update(expected_git_sha=other)
    )
    for fmt in ("md", "html", "intoto"):
        status, out, err = report(capfd, "--certificate", str(bad), "--format", fmt)
        assert (status, out) == (4, "")
        assert err.startswith(
            f"loadcert report: error: {bad}: bindings.expected_git_sha is {other!r}, not the "
            "bound git_sha"
        ), err
    same = _mutated(
        runs["example"], tmp_path,
        lambda c: c["bindings"].update(expected_git_sha=c["bindings"]["git_sha"].upper()),
    )  # fmt: skip
    assert report(capfd, "--certificate", str(same))[0] == 0


def test_own_rule_with_a_built_in_id_is_refused(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Hints are keyed by rule id: a team rule named like a built-in one made the built-in
    hint (here: the database pool) appear as the explanation of the team rule's gates."""
    own = tmp_path / "playbook.json"
    own.write_text(json.dumps({"schema": "loadcert-playbook/v1", "rules": [{
        "id": "latency-db-pool", "gate": "checks_rate", "status": ["failed", "blocked"],
        "title": "Our checks rule", "cause": "Our script's checks.", "inspect": ["our script"],
    }]}))  # fmt: skip
    status, out, err = report(capfd, "--certificate", str(runs["p95_high"]), "--playbook", str(own))
    assert (status, out) == (4, "")
    assert err == (
        f"loadcert report: error: {own}: rules[0].id 'latency-db-pool' is the id of a built-in "
        "rule; choose another\n"
    )


def test_a_distributed_stage_says_who_measured_each_instance_window(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A reviewer sees that 100k ran as 4 k6 instances, and whose clock its windows are."""
    bundle = bf.build_variant("valid_sharded_100k", tmp_path / "bundle")
    cert = certify(bundle, tmp_path / "run")
    assert cert["verdict"] == "certified"
    stages = {s["name"]: s for s in cert["stages"]}
    assert stages["100k"]["shards"] == {str(i): "loadcert run-stage" for i in range(1, 5)}
    assert stages["50k"]["shards"] is None
    status, out, _ = report(capfd, "--certificate", str(tmp_path / "run" / "certificate.json"))
    assert status == 0
    text = md_plain(section(out, "Stage results"))
    assert (
        "100k ran as 4 k6 instances (shard 1, 2, 3, 4: window measured by loadcert run-stage)."
        in text
    )


def _stage_table(markdown: str) -> dict[str, dict[str, str]]:
    rows = table_rows(section(markdown, "Stage results"))
    headers = [h.strip() for h in rows[0]]
    return {
        md_plain(cells[0]).strip(): dict(
            zip(headers, (md_plain(c).strip() for c in cells), strict=True)
        )
        for cells in rows[2:]
    }


@pytest.mark.parametrize(
    ("run", "stage", "decided"),
    [
        ("p95_high", "100k", "❌ failed p95_latency[100k]"),
        ("missing_stage_dir", "50k", "⛔ blocked stage_evidence[50k]; ⛔ blocked "),
        ("snapshot_stale", "smoke", "run level: run-level gate cluster_snapshot"),
    ],
    ids=["failed", "blocked", "run-level"],
)
def test_a_stage_that_is_not_certified_says_which_gates_made_it_so(
    runs: dict[str, Path],
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    run: str,
    stage: str,
    decided: str,
) -> None:
    status, markdown, _ = report(capfd, "--certificate", str(runs[run]))
    assert status == 0
    table = _stage_table(markdown)
    assert table[stage]["decided by"].startswith(decided), table[stage]
    certified = [name for name, row in table.items() if row["verdict"] == "✅ certified"]
    assert all(table[name]["decided by"] == "" for name in certified)
    if run == "missing_stage_dir":
        assert table["50k"]["decided by"].endswith(" more")  # at most three gates named
    output = tmp_path / "report.html"
    assert report(capfd, "--certificate", str(runs[run]), "--format", "html",
                  "--output", str(output))[0] == 0  # fmt: skip
    text = re.sub(r" ;", ";", page(output.read_text()).text)  # the text of <td>s, joined
    stages = text.split("Stage results")[1].split("Dependency health")[0]
    unmarked = decided.replace("❌ ", "").replace("⛔ ", "")  # HTML marks status by colour
    assert "decided by" in stages and unmarked in stages


def test_verify_refuses_a_certificate_whose_figures_contradict_its_statuses(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The forged certificate above named "same" by ``loadcert verify``: its evidence files
    are the bundle's, untouched; its statuses are not what its figures say."""
    forged = _mutated(runs["p95_high"], tmp_path, _forged_certified)
    bundle = runs["p95_high"].parent / "bundle"
    status = cli.main(["verify", "--certificate", str(forged), "--evidence-dir", str(bundle)])
    err = capfd.readouterr().err
    assert status == 4
    assert "is passed, but its observed 'p(95) 450.112 ms' does not meet its required" in err


@pytest.mark.parametrize(
    "mode", [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="xdist", marks=SLOW)]
)
def test_every_profile_value_is_on_the_certificate_and_in_the_report(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """The same five visible k6 bounds, with an evaluation delay of a day and a snapshot age
    of a month: the knobs that let stale evidence pass are stated, not only hashed."""
    lax = tmp_path / "lax.toml"
    lax.write_text(
        EXAMPLE_PROFILE.read_text()
        .replace("eval_delay_max_s = 30\n", "eval_delay_max_s = 86400\n", 1)
        .replace("[cluster]\n", "[cluster]\nmax_snapshot_age_s = 3000000\n", 1)
    )
    certificate = certify(EXAMPLE, tmp_path / "run", f"--loadcert-profile={lax}", *mode)
    assert certificate["profile"]["k6"]["eval_delay_max_s"] == 86400
    assert certificate["profile"]["cluster"]["max_snapshot_age_s"] == 3000000
    path = tmp_path / "run" / "certificate.json"
    status, markdown, _ = report(capfd, "--certificate", str(path))
    assert status == 0
    assert "| `k6.eval_delay_max_s` | 86400 |" in markdown
    assert "| `cluster.max_snapshot_age_s` | 3000000 |" in markdown
    status, html_text, _ = report(capfd, "--certificate", str(path), "--format", "html")
    assert status == 0 and "k6.eval_delay_max_s" in html_text and "86400" in html_text


def test_a_waived_gate_may_stand_beside_its_figure_beyond_the_bound(
    runs: dict[str, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """What a waiver accepts: p95 450 ms at 100k, its gate waived. Read, not refused."""

    def waived(cert: dict[str, Any]) -> None:
        _forged_certified(cert)
        gate = cert["gates"][_forged_index(runs)]
        gate.update(status="waived", message="waived by sre until 2999-01-01: known")

    path = _mutated(runs["p95_high"], tmp_path, waived)
    status, markdown, err = report(capfd, "--certificate", str(path))
    assert (status, err) == (0, "")
    assert "p95\\_latency\\[100k\\]" in markdown or "p95_latency[100k]" in markdown
