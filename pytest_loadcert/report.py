"""``loadcert report``: the certification report, generated from ``certificate.json``.

Formats:

- ``md`` (default): GitHub-flavoured Markdown for a job summary (``>> $GITHUB_STEP_SUMMARY``)
  or a pull-request comment. Every value from the certificate is escaped; no raw HTML. The
  output is kept under ``--max-bytes`` (default 1 MiB, GitHub's step-summary limit; use
  65536 for a PR comment) by listing fewer rows, each list saying how many it left out.
- ``html``: one self-contained page (inline CSS, no script, a Content-Security-Policy that
  forbids scripts), with the stage-ladder chart of :mod:`pytest_loadcert.chart` as an image.
- ``intoto``: the run's in-toto Statement (:mod:`pytest_loadcert.intoto`), byte for byte what
  the certification run wrote beside the certificate.

The certificate is untrusted input. It is read strictly (:mod:`pytest_loadcert.jsonio`),
validated against ``schemas/certificate.schema.json`` and checked for consistency (a
``certified`` verdict with a failed gate is refused); any problem is one line naming the file
and the field, and exit status 2.

The wording rule: only a ``certified`` certificate produces the sentence "certified for N
concurrent users at <git SHA> in <environment>", with N the profile's
``target_concurrency``, which a certified run has reached (the ``achieved_concurrency`` gate)
with every gate of every stage passing. Any other verdict gives "certification pending" and
the failed and blocked gates, observed against required.
"""

from __future__ import annotations

import argparse
import base64
import html
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_loadcert import cliopts
from pytest_loadcert.errors import EvidenceError

if TYPE_CHECKING:
    from pytest_loadcert.playbook import Rule

HELP = "render the certification report from certificate.json (Markdown, HTML or in-toto)"
FORMATS = ("md", "html", "intoto")

#: GitHub's limit for one step's job summary ($GITHUB_STEP_SUMMARY).
STEP_SUMMARY_BYTES = 1024 * 1024
#: A smaller --max-bytes could not hold the verdict, the summary and the stage table.
MIN_BYTES = 8192

CERTIFIED, NOT_CERTIFIED, BLOCKED = "certified", "not_certified", "blocked"
EXIT_STATUS = {CERTIFIED: 0, NOT_CERTIFIED: 1, BLOCKED: 2}
#: Gates of the live cluster shown under dependency health.
CLUSTER_GATES = (
    "cluster_snapshot",
    "workload_ready",
    "hpa_active",
    "pdb_healthy",
    "service_endpoints",
    "pod_readiness",
    "image_binding",
)
#: Order of gate statuses in lists: what needs attention first.
STATUS_ORDER = {"failed": 0, "blocked": 1, "not_run": 2, "waived": 3, "passed": 4}
_STATUS_MARK = {
    "passed": "✅",
    "failed": "❌",
    "blocked": "⛔",
    "not_run": "⚪",
    "waived": "\u2796",  # heavy minus sign
    CERTIFIED: "✅",
    NOT_CERTIFIED: "❌",
    BLOCKED: "⛔",
}


# ----------------------------------------------------------------------------- reading


def read_certificate(path: Path) -> dict[str, Any]:
    """Read, validate and consistency-check ``certificate.json``.

    Raises :class:`EvidenceError` naming ``path`` (as given) and the field.
    """
    from pytest_loadcert.jsonio import read_json
    from pytest_loadcert.schema import validate

    rel = str(path)
    document = read_json(path, rel)
    validate("certificate", document, rel)
    _check_consistent(document, rel)
    return dict(document)


def _check_consistent(cert: dict[str, Any], rel: str) -> None:
    verdict = cert["verdict"]
    if cert["exit_status"] != EXIT_STATUS[verdict]:
        raise EvidenceError(
            rel,
            "exit_status",
            f"is {cert['exit_status']}, but a {verdict} verdict exits {EXIT_STATUS[verdict]}",
        )
    names = [stage["name"] for stage in cert["stages"]]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise EvidenceError(rel, f"stages[{index}].name", f"{name!r} appears twice")
    highest = cert["highest_certified_stage"]
    if highest is not None and highest not in names:
        raise EvidenceError(rel, "highest_certified_stage", f"{highest!r} is not a stage")
    statuses = [gate["status"] for gate in cert["gates"]]
    if verdict == CERTIFIED:
        _check_certified(cert, rel)
    elif verdict == NOT_CERTIFIED:
        if "failed" not in statuses:
            raise EvidenceError(rel, "verdict", "is not_certified, but no gate failed")
    else:
        if "failed" in statuses:
            index = statuses.index("failed")
            raise EvidenceError(
                rel, f"gates[{index}].status", "is failed, but the verdict is blocked"
            )
        if not ({"blocked", "not_run"} & set(statuses) or cert["problems"] or cert["not_run"]):
            raise EvidenceError(
                rel,
                "verdict",
                "is blocked, but no gate is blocked or not run and no problem is recorded",
            )


def _check_certified(cert: dict[str, Any], rel: str) -> None:
    """A certified certificate must carry everything its claim rests on."""

    def refuse(where: str, problem: str) -> EvidenceError:
        return EvidenceError(rel, where, f"{problem}, but the verdict is certified")

    if not cert["gates"]:
        raise refuse("gates", "is empty")
    if not cert["stages"]:
        raise refuse("stages", "is empty")
    for index, gate in enumerate(cert["gates"]):
        if gate["status"] not in ("passed", "waived"):
            raise refuse(f"gates[{index}].status", f"is {gate['status']}")
    if cert["not_run"]:
        raise refuse("not_run", "is not empty")
    if cert["problems"]:
        raise refuse("problems", "is not empty")
    for index, stage in enumerate(cert["stages"]):
        if stage["verdict"] != CERTIFIED:
            raise refuse(f"stages[{index}].verdict", f"is {stage['verdict']}")
    last = cert["stages"][-1]["name"]
    if cert["highest_certified_stage"] != last:
        raise refuse(
            "highest_certified_stage",
            f"is {cert['highest_certified_stage']!r}, not the last stage {last!r}",
        )
    peaks = [s["peak_active_vus"] for s in cert["stages"] if s["peak_active_vus"] is not None]
    if not peaks or max(peaks) < cert["target_concurrency"]:
        observed = max(peaks) if peaks else "unknown"
        raise refuse(
            "stages",
            f"record a highest peak of {observed} active VUs, under target_concurrency "
            f"{cert['target_concurrency']}",
        )
    bindings = cert["bindings"]
    for key in ("git_sha", "bundle_sha256"):
        if bindings[key] is None:
            raise refuse(f"bindings.{key}", "is null")
    if bindings["git_dirty"] is not False:
        raise refuse("bindings.git_dirty", f"is {bindings['git_dirty']}")
    expected = bindings["expected_git_sha"]
    if expected is not None and expected.lower() != bindings["git_sha"]:  # as git_binding
        raise refuse("bindings.expected_git_sha", f"is {expected!r}, not the bound git_sha")


# ----------------------------------------------------------------------------- document model


@dataclass(frozen=True)
class Code:
    """Inline code: identifiers, digests, commands."""

    text: str


@dataclass(frozen=True)
class Status:
    """A verdict or gate status word, marked in both formats."""

    text: str


Inline = str | Code | Status
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


# ----------------------------------------------------------------------------- formatting


def _num(value: object, fmt: str, suffix: str = "") -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return format(value, fmt) + suffix


def _general(value: object) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return format(value, "g") if isinstance(value, float) else str(value)


def _throughput(value: object) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    for unit, size in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B/s"


def _bound(metric: dict[str, Any]) -> str:
    low, high = metric["min"], metric["max"]
    if low is not None and high is not None:
        return f"{_general(low)} .. {_general(high)}"
    if low is not None:
        return f">= {_general(low)}"
    if high is not None:
        return f"<= {_general(high)}"
    return "none"


def _more(total: int, shown: int, what: str) -> str | None:
    return f"and {total - shown} more {what} (all in certificate.json)" if total > shown else None


# ----------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Limits:
    """How much of each list a rendering shows, and the longest cell."""

    rows: int
    cell: int


def _gate_text(gate: dict[str, Any]) -> Text:
    return (ident(gate["id"]),)


def _stage_times(cert: dict[str, Any]) -> str:
    starts = [s["start"] for s in cert["stages"] if s["start"]]
    ends = [s["end"] for s in cert["stages"] if s["end"]]
    if not starts or not ends:
        return "unknown"
    from pytest_loadcert.timeutil import parse_utc

    first, last = min(starts), max(ends)
    begin, finish = parse_utc(first), parse_utc(last)
    span = ""
    if begin is not None and finish is not None:
        span = f" ({(finish - begin).total_seconds():.0f} s)"
    return f"{first} .. {last}{span}"


def _claim(cert: dict[str, Any]) -> list[Block]:
    bindings = cert["bindings"]
    gates = cert["gates"]
    stages = cert["stages"]
    if cert["verdict"] == CERTIFIED:
        waived = [g for g in gates if g["status"] == "waived"]
        top = max(
            (s for s in stages if s["peak_active_vus"] is not None),
            key=lambda s: s["peak_active_vus"],
        )
        last = stages[-1]
        sentence: Text = (
            f"Certified for {cert['target_concurrency']} concurrent users at ",
            ident(bindings["git_sha"]),
            f" in {cert['environment'] or 'an unnamed environment'}",
            f", with {len(waived)} waived gate{'s' if len(waived) != 1 else ''}."
            if waived
            else ".",
        )
        proven = (
            f"What was proven: all {len(gates)} expected gates over {len(stages)} stages ran "
            "on complete evidence and passed"
            + (f" ({len(waived)} waived by a valid waiver, listed under Waivers)" if waived else "")
            + f". The highest observed peak was {top['peak_active_vus']} active VUs (k6 vus "
            f"max) in stage {top['name']}, against a target of {cert['target_concurrency']}; "
            f"the last stage, {last['name']}, required {last['required_active_vus']}."
        )
        return [Para(sentence, strong=True), Para((proven,))]
    counts = {s: sum(1 for g in gates if g["status"] == s) for s in STATUS_ORDER}
    why = (
        "At least one gate was measured on sufficient evidence and missed its bound."
        if cert["verdict"] == NOT_CERTIFIED
        else "No gate failed, but evidence was missing, invalid, inconsistent or under-sampled, "
        "or some expected gate did not run."
    )
    blocks: list[Block] = [
        Para(
            (
                "Certification pending: the verdict is ",
                Status(cert["verdict"]),
                ". Nothing is claimed for git ",
                ident(bindings["git_sha"]),
                f" in {cert['environment'] or 'an unnamed environment'}.",
            ),
            strong=True,
        ),
        Para(
            (
                f"{why} Gates: {counts['failed']} failed, {counts['blocked']} blocked, "
                f"{counts['not_run']} not run, {counts['passed']} passed, "
                f"{counts['waived']} waived; run problems: {len(cert['problems'])}.",
            )
        ),
    ]
    highest = cert["highest_certified_stage"]
    if highest is not None:
        required = next(s["required_active_vus"] for s in stages if s["name"] == highest)
        names = [s["name"] for s in stages]
        upto = set(names[: names.index(highest) + 1])
        # A stage counts as certified with waived gates in it, but a waived gate never passed.
        skipped = sum(1 for g in gates if g["status"] == "waived" and g["stage"] in upto)
        blocks.append(
            Para(
                (
                    f"Every gate of the stages up to {highest} ({required} required VUs) "
                    + (f"passed or was waived ({skipped} waived)" if skipped else "passed")
                    + "; that is no certification while the run's verdict is "
                    f"{cert['verdict']}.",
                )
            )
        )
    return blocks


def _pending(cert: dict[str, Any], limits: Limits) -> Section | None:
    if cert["verdict"] == CERTIFIED:
        return None
    open_gates = sorted(
        (g for g in cert["gates"] if g["status"] in ("failed", "blocked", "not_run")),
        key=lambda g: STATUS_ORDER[g["status"]],
    )
    shown = open_gates[: limits.rows]
    section = Section("Why certification is pending")
    if open_gates:
        section.blocks.append(
            Table(
                ("gate", "status", "observed", "required", "message"),
                [
                    (
                        _gate_text(g),
                        (Status(g["status"]),),
                        (g["observed"] or "n/a",),
                        (g["required"] or "n/a",),
                        (g["message"],),
                    )
                    for g in shown
                ],
                _more(
                    len(open_gates), len(shown), "gates that failed, were blocked or did not run"
                ),
            )
        )
    if cert["problems"]:
        problems = cert["problems"][: limits.rows]
        section.blocks.append(Para(("Run problems:",)))
        section.blocks.append(
            Bullets(
                [(p,) for p in problems],
                _more(len(cert["problems"]), len(problems), "problems"),
            )
        )
    return section


def _summary(cert: dict[str, Any], limits: Limits) -> Section:
    b = cert["bindings"]
    git: Text = (ident(b["git_sha"]),)
    if b["git_ref"]:
        git += (f" ({b['git_ref']})",)
    if b["git_dirty"]:
        git += (" dirty working tree",)
    rows: list[tuple[Text, ...]] = [
        (("verdict",), (Status(cert["verdict"]),)),
        (("run id",), (cert["run_id"] or "unknown",)),
        (("environment",), (cert["environment"] or "unknown",)),
        (("git commit",), git),
    ]
    if b["expected_git_sha"]:
        rows.append((("commit under test",), (ident(b["expected_git_sha"]),)))
    images = b["images"][: limits.rows]
    for image in images:
        rows.append(((f"image {image['name']}",), (ident(image["digest"]),)))
    if len(b["images"]) > len(images):
        rows.append((("images",), (f"and {len(b['images']) - len(images)} more",)))
    if not b["images"]:
        rows.append((("images",), ("none bound",)))
    rows += [
        (("k6 script",), (ident(b["k6_script_sha256"]),)),
        (("k8s manifest",), (ident(b["k8s_manifest_sha256"]),)),
        (("bundle (loadcert.json)",), (ident(b["bundle_sha256"]),)),
        (("profile",), (ident(b["profile_sha256"]), f" ({cert['profile_source']})")),
        (("stage times",), (_stage_times(cert),)),
        (("target concurrency",), (f"{cert['target_concurrency']} concurrent users",)),
        (("highest certified stage",), (ident(cert["highest_certified_stage"] or "none"),)),
    ]
    if cert["not_required"]:
        rows.append((("not required by the profile",), (", ".join(cert["not_required"]),)))
    rows.append(
        (
            ("generated",),
            (f"{cert['generated_at']} by loadcert {cert['loadcert_version']}",),
        )
    )
    return Section("Summary", [Table(("field", "value"), rows)])


def _stages(cert: dict[str, Any], limits: Limits) -> Section:
    stages = cert["stages"]
    shown = stages[: limits.rows]
    rows: list[tuple[Text, ...]] = [
        (
            (ident(s["name"]),),
            (s["start"] or "n/a",),
            (s["end"] or "n/a",),
            (_num(s["required_active_vus"], "d"),),
            (_num(s["peak_active_vus"], "d"),),
            (_num(s["rps"], ".1f"),),
            (_num(s["p50_ms"], ".1f"),),
            (_num(s["p95_ms"], ".1f"),),
            (_num(s["p99_ms"], ".1f"),),
            (_num(s["error_rate"], ".4%"),),
            (_throughput(s["data_received_bytes_per_s"]),),
            (Status(s["verdict"]),),
        )
        for s in shown
    ]
    headers = (
        "stage",
        "start",
        "end",
        "VUs required",
        "VUs peak",
        "RPS",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "error rate",
        "throughput",
        "verdict",
    )
    t = cert["thresholds"]
    note = Para(
        (
            "Peak VUs are k6's observed peak of active VUs (vus max). Bounds: p95 <= "
            f"{_general(t['p95_ms_max'])} ms, p99 <= {_general(t['p99_ms_max'])} ms, error "
            f"rate <= {_num(t['http_req_failed_max'], '.4%')}, checks >= "
            f"{_num(t['checks_min'], '.4%')}, at least {t['min_requests']} requests per "
            "stage. Throughput is data received. n/a: the evidence could not say.",
        )
    )
    return Section(
        "Stage results",
        [Table(headers, rows, _more(len(stages), len(shown), "stages")), note, Chart()],
    )


def _dependency_health(cert: dict[str, Any], limits: Limits) -> Section:
    section = Section("Dependency health")
    status = {
        (g["stage"], g["subject"]): g["status"]
        for g in cert["gates"]
        if g["gate"] == "critical_metric"
    }
    rows: list[tuple[Text, ...]] = []
    total = 0
    for stage in cert["stages"]:
        for metric in stage["metrics"]:
            total += 1
            if len(rows) >= limits.rows:
                continue
            gate_status = status.get((stage["name"], metric["name"]), "not_run")
            rows.append(
                (
                    (ident(stage["name"]),),
                    (ident(metric["name"]),),
                    ("missing" if metric["value"] is None else _general(metric["value"]),),
                    (_bound(metric),),
                    (Status(gate_status),),
                )
            )
    section.blocks.append(Para(("Critical metrics from Prometheus, per stage window:",)))
    if rows:
        section.blocks.append(
            Table(
                ("stage", "metric", "value", "bound", "gate"),
                rows,
                _more(total, len(rows), "metric rows"),
            )
        )
    else:
        section.blocks.append(Para(("The profile names no critical metric.",)))
    cluster = [g for g in cert["gates"] if g["gate"] in CLUSTER_GATES]
    if "cluster" in cert["not_required"] and not cluster:
        section.blocks.append(Para(("Cluster gates: not required by the profile.",)))
        return section
    cluster.sort(key=lambda g: STATUS_ORDER[g["status"]])
    shown = cluster[: limits.rows]
    section.blocks.append(Para(("Cluster gates (the live cluster snapshot):",)))
    section.blocks.append(
        Table(
            ("gate", "status", "observed", "required"),
            [
                (
                    _gate_text(g),
                    (Status(g["status"]),),
                    (g["observed"] or "n/a",),
                    (g["required"] or "n/a",),
                )
                for g in shown
            ],
            _more(len(cluster), len(shown), "cluster gates"),
        )
    )
    return section


def _hints(cert: dict[str, Any], rules: Sequence[Rule], limits: Limits) -> Section | None:
    from pytest_loadcert.playbook import hints

    found = hints(cert, rules)
    if not found:
        return None
    section = Section("Bottleneck hints")
    per_hint = max(3, min(10, limits.rows))
    shown = found[: limits.rows]
    for hint in shown:
        ids = hint.gates[:per_hint]
        gates: Text = ()
        for number, gate_id in enumerate(ids):
            gates += ((", " if number else ""), ident(gate_id))
        if len(hint.gates) > len(ids):
            gates += (f" and {len(hint.gates) - len(ids)} more",)
        section.blocks.append(Para((hint.rule.title,), strong=True))
        section.blocks.append(Para(("Gates: ", *gates)))
        section.blocks.append(Para(with_code(hint.rule.cause)))
        section.blocks.append(Bullets([with_code(item) for item in hint.rule.inspect]))
    if len(found) > len(shown):
        section.blocks.append(Para((f"And {len(found) - len(shown)} more hints.",)))
    return section


def _gate_results(cert: dict[str, Any], limits: Limits) -> Section:
    gates = sorted(cert["gates"], key=lambda g: STATUS_ORDER[g["status"]])
    shown = gates[: limits.rows]
    return Section(
        "Gate results",
        [
            Table(
                ("gate", "status", "target", "actual", "samples"),
                [
                    (
                        _gate_text(g),
                        (Status(g["status"]),),
                        (g["required"] or "n/a",),
                        (g["observed"] or "n/a",),
                        (g["samples"] or "n/a",),
                    )
                    for g in shown
                ],
                _more(len(gates), len(shown), "gates"),
            )
        ],
    )


def _waivers(cert: dict[str, Any], limits: Limits) -> Section | None:
    waived = [g for g in cert["gates"] if g["status"] == "waived"]
    if not waived:
        return None
    shown = waived[: limits.rows]
    return Section(
        "Waivers",
        [
            Bullets(
                [(ident(g["id"]), f": {g['message']}") for g in shown],
                _more(len(waived), len(shown), "waived gates"),
            )
        ],
    )


def build(cert: dict[str, Any], rules: Sequence[Rule], limits: Limits) -> Document:
    """The report as a format-neutral document."""
    verdict = cert["verdict"]
    title: Text = (
        ("Load certification: ", Status(CERTIFIED))
        if verdict == CERTIFIED
        else ("Load certification pending: ", Status(verdict))
    )
    sections = [Section("Verdict", _claim(cert))]
    for optional in (
        _pending(cert, limits),
        _hints(cert, rules, limits),
    ):
        if optional is not None:
            sections.append(optional)
    sections += [
        _summary(cert, limits),
        _stages(cert, limits),
        _dependency_health(cert, limits),
        _gate_results(cert, limits),
    ]
    waivers = _waivers(cert, limits)
    if waivers is not None:
        sections.append(waivers)
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
        mark = _STATUS_MARK.get(part.text)
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


def markdown_report(cert: dict[str, Any], rules: Sequence[Rule], max_bytes: int) -> str:
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
"""


def _h(text: str, limit: int) -> str:
    return html.escape(clean(text, limit), quote=True)


def _html_inline(part: Inline, limit: int) -> str:
    if isinstance(part, Code):
        return f"<code>{_h(part.text, limit)}</code>"
    if isinstance(part, Status):
        css = part.text if part.text in _STATUS_MARK else "other"
        return f'<span class="status {css}">{_h(part.text, limit)}</span>'
    return _h(part, limit)


def _html(text: Text, limit: int) -> str:
    return "".join(_html_inline(part, limit) for part in text)


def _no_chart(exc: ImportError) -> str:
    return (
        f'<p class="omitted">No chart: {_h(str(exc), 200)} (pip install pytest-loadcert[html])</p>'
    )


def _chart_html(cert: dict[str, Any]) -> str:
    try:
        from pytest_loadcert.chart import ChartError, stage_ladder_svg
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


def render_html(document: Document, cert: dict[str, Any], limits: Limits) -> str:
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
                    cells = "".join(f"<td>{_html(c, limits.cell)}</td>" for c in row)
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


def html_report(cert: dict[str, Any], rules: Sequence[Rule]) -> str:
    """The HTML report."""
    return render_html(build(cert, rules, HTML_LIMITS), cert, HTML_LIMITS)


# ----------------------------------------------------------------------------- command line


def _max_bytes(text: str) -> int:
    value = cliopts.positive_int(text)
    if value < MIN_BYTES:
        raise argparse.ArgumentTypeError(f"{text!r} is under the minimum of {MIN_BYTES} bytes")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--certificate",
        required=True,
        type=Path,
        metavar="FILE",
        help="certificate.json of a certification run",
    )
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
    cert = read_certificate(ns.certificate)
    if ns.format == "intoto":
        from pytest_loadcert.intoto import statement_bytes

        return statement_bytes(cert, rel=str(ns.certificate))
    from pytest_loadcert.playbook import load

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
    from pytest_loadcert.jsonio import write_atomic

    try:
        write_atomic(ns.output, data)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    return cliopts.EXIT_OK
