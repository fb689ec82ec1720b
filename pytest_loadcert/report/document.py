"""The certification report as a document: what it says, built from ``certificate.json``.

:func:`build` turns a checked certificate into a
:class:`~pytest_loadcert.report.blocks.Document`, which
:mod:`pytest_loadcert.report.render` renders as Markdown, as the ``loadcert report`` HTML
page, or as the summary of pytest-html's page (one document, every rendering). The wording
rule lives here: only a ``certified`` certificate produces the "certified for N concurrent
users" sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_loadcert.gates.catalogue import CLUSTER_GATES
from pytest_loadcert.report.blocks import (
    Block,
    Bullets,
    Chart,
    Code,
    Document,
    Over,
    Para,
    Section,
    Status,
    Table,
    Text,
    ident,
    with_code,
)
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
    from pytest_loadcert.certify.model import Certificate, GateEntry, StageEntry, StageMetric
    from pytest_loadcert.report.playbook import Rule

#: Order of gate statuses in lists: what needs attention first.
STATUS_ORDER = {FAILED: 0, GATE_BLOCKED: 1, NOT_RUN: 2, WAIVED: 3, PASSED: 4}
STATUS_MARK = {
    PASSED: "✅",
    FAILED: "❌",
    GATE_BLOCKED: "⛔",
    NOT_RUN: "⚪",
    WAIVED: "\u2796",  # heavy minus sign
    CERTIFIED: "✅",
    NOT_CERTIFIED: "❌",
    BLOCKED: "⛔",
}


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


def _bound(metric: StageMetric) -> str:
    low, high = metric["min"], metric["max"]
    if low is not None and high is not None:
        return f"{_general(low)} .. {_general(high)}"
    if low is not None:
        return f">= {_general(low)}"
    if high is not None:
        return f"<= {_general(high)}"
    return "none"


def _judged(value: object, text: str, bound: object, *, below: bool = False) -> Text:
    """A figure's cell, marked :class:`Over` when it is on the wrong side of its bound."""
    number = (int, float)
    if not isinstance(value, number) or isinstance(value, bool):
        return (text,)
    if not isinstance(bound, number) or isinstance(bound, bool):
        return (text,)
    over = value < bound if below else value > bound
    return (Over(text),) if over else (text,)


def _more(total: int, shown: int, what: str) -> str | None:
    return f"and {total - shown} more {what} (all in certificate.json)" if total > shown else None


# ----------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Limits:
    """How much of each list a rendering shows, and the longest cell."""

    rows: int
    cell: int


def _gate_text(gate: GateEntry) -> Text:
    return (ident(gate["id"]),)


def _stage_times(cert: Certificate) -> str:
    starts = [s["start"] for s in cert["stages"] if s["start"]]
    ends = [s["end"] for s in cert["stages"] if s["end"]]
    if not starts or not ends:
        return "unknown"
    from pytest_loadcert.evidence.timeutil import parse_utc

    first, last = min(starts), max(ends)
    begin, finish = parse_utc(first), parse_utc(last)
    span = ""
    if begin is not None and finish is not None:
        span = f" ({(finish - begin).total_seconds():.0f} s)"
    return f"{first} .. {last}{span}"


def _claim(cert: Certificate) -> list[Block]:
    bindings = cert["bindings"]
    gates = cert["gates"]
    stages = cert["stages"]
    if cert["verdict"] == CERTIFIED:
        waived = [g for g in gates if g["status"] == WAIVED]
        top = max(
            (s for s in stages if s["peak_active_vus"] is not None),
            key=lambda s: s["peak_active_vus"] or 0,
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
        skipped = sum(1 for g in gates if g["status"] == WAIVED and g["stage"] in upto)
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


def _pending(cert: Certificate, limits: Limits) -> Section | None:
    if cert["verdict"] == CERTIFIED:
        return None
    open_gates = sorted(
        (g for g in cert["gates"] if g["status"] in (FAILED, GATE_BLOCKED, NOT_RUN)),
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


def _summary(cert: Certificate, limits: Limits) -> Section:
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
        (("evidence",), (ident(cert["evidence_dir"]),)),
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
        kinds = ", ".join(cert["not_required"])
        rows.append(
            (
                ("not required by the profile",),
                (f"{kinds}: not checked; this certificate says nothing about them",),
            )
        )
    else:
        rows.append((("not required by the profile",), ("none: every evidence kind checked",)))
    invocation = cert.get("invocation")
    if invocation is not None:
        command = " ".join(["pytest", *invocation["args"]])
        if invocation["pytest_addopts"]:
            command += f" (PYTEST_ADDOPTS: {invocation['pytest_addopts']})"
        rows.append((("pytest invocation",), (Code(command),)))
        rows.append((("session started",), (f"{invocation['started_at']} in {invocation['dir']}",)))
    rows.append(
        (
            ("generated",),
            (f"{cert['generated_at']} by loadcert {cert['loadcert_version']}",),
        )
    )
    return Section("Summary", [Table(("field", "value"), rows, anchor="loadcert-bindings")])


#: Gates named per stage in the "decided by" column; the rest are counted.
DECIDING_GATES = 3


def decided_by(cert: Certificate, stage: StageEntry) -> Text:
    """Why a stage is not certified: its own gates that failed, were blocked or did not run
    (worst first), else what holds the run back (a run-level gate, a run problem)."""
    if stage["verdict"] == CERTIFIED:
        return ()
    own = sorted(
        (
            g
            for g in cert["gates"]
            if g["stage"] == stage["name"] and g["status"] in (FAILED, GATE_BLOCKED, NOT_RUN)
        ),
        key=lambda g: STATUS_ORDER[g["status"]],
    )
    if not own:
        run_level = cert.get("run_level")
        reason = run_level["reason"] if run_level is not None else None
        return (f"run level: {reason}" if reason else "run level (see the run's problems)",)
    text: Text = ()
    for number, gate in enumerate(own[:DECIDING_GATES]):
        text += ("; " if number else "", Status(gate["status"]), " ", ident(gate["id"]))
    if len(own) > DECIDING_GATES:
        text += (f"; and {len(own) - DECIDING_GATES} more",)
    return text


def _stages(cert: Certificate, limits: Limits) -> Section:
    stages = cert["stages"]
    shown = stages[: limits.rows]
    t = cert["thresholds"]
    rows: list[tuple[Text, ...]] = [
        (
            (ident(s["name"]),),
            (s["start"] or "n/a",),
            (s["end"] or "n/a",),
            (_num(s["required_active_vus"], "d"),),
            _judged(
                s["peak_active_vus"],
                _num(s["peak_active_vus"], "d"),
                s["required_active_vus"],
                below=True,
            ),
            (_num(s["rps"], ".1f"),),
            (_num(s["p50_ms"], ".1f"),),
            _judged(s["p95_ms"], _num(s["p95_ms"], ".1f"), t["p95_ms_max"]),
            _judged(s["p99_ms"], _num(s["p99_ms"], ".1f"), t["p99_ms_max"]),
            _judged(s["error_rate"], _num(s["error_rate"], ".4%"), t["http_req_failed_max"]),
            (_throughput(s["data_received_bytes_per_s"]),),
            (Status(s["verdict"]),),
            decided_by(cert, s),
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
        "decided by",
    )
    note = Para(
        (
            "Peak VUs are k6's observed peak of active VUs (vus max). Bounds: p95 <= "
            f"{_general(t['p95_ms_max'])} ms, p99 <= {_general(t['p99_ms_max'])} ms, error "
            f"rate <= {_num(t['http_req_failed_max'], '.4%')}, checks >= "
            f"{_num(t['checks_min'], '.4%')}, at least {t['min_requests']} requests per "
            "stage. Throughput is data received. n/a: the evidence could not say. Decided by: "
            "for a stage that is not certified, the gates that made it so. A figure on the wrong "
            "side of its bound is marked.",
        )
    )
    blocks: list[Block] = [
        Table(
            headers,
            rows,
            _more(len(stages), len(shown), "stages"),
            keep=(0,),
            anchor="loadcert-stages",
            keys=tuple(s["name"] for s in shown),
        ),
        note,
    ]
    for stage in shown:
        shards = stage.get("shards")
        if isinstance(shards, dict) and shards:
            by_whom: dict[str, list[str]] = {}
            for shard, measured_by in shards.items():
                by_whom.setdefault(str(measured_by), []).append(str(shard))
            parts = "; ".join(
                f"shard {', '.join(names)}: window "
                + (who if who.startswith("declared") else f"measured by {who}")
                for who, names in by_whom.items()
            )
            blocks.append(
                Para(
                    (ident(stage["name"]), f" ran as {len(shards)} k6 instances ({parts})."),
                )
            )
    blocks.append(Chart())
    return Section("Stage results", blocks)


def _dependency_health(cert: Certificate, limits: Limits) -> Section:
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
            gate_status = status.get((stage["name"], metric["name"]), NOT_RUN)
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
                keep=(0,),
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


def _hints(cert: Certificate, rules: Sequence[Rule], limits: Limits) -> Section | None:
    from pytest_loadcert.report.playbook import hints

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


def _gate_results(cert: Certificate, limits: Limits) -> Section:
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


def _waivers(cert: Certificate, limits: Limits) -> Section | None:
    waived = [g for g in cert["gates"] if g["status"] == WAIVED]
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
    ]
    if gate_results:
        sections.append(_gate_results(cert, limits))
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
