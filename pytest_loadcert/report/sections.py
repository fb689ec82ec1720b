"""The report's sections beside the claim: the summary, the stage table (and which gates
decided each stage), dependency health, bottleneck hints, every gate and the waivers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pytest_loadcert.gates.catalogue import CLUSTER_GATES
from pytest_loadcert.report.blocks import (
    Block,
    Bullets,
    Chart,
    Code,
    Para,
    Section,
    Status,
    Table,
    Text,
    ident,
    with_code,
)
from pytest_loadcert.report.cells import (
    Limits,
    bound_text,
    gate_text,
    general,
    judged,
    more,
    num,
    throughput,
)
from pytest_loadcert.report.claim import stage_times
from pytest_loadcert.status import (
    CERTIFIED,
    FAILED,
    GATE_BLOCKED,
    NOT_RUN,
    STATUS_ORDER,
    WAIVED,
)

if TYPE_CHECKING:
    from pytest_loadcert.certify.model import Certificate, StageEntry
    from pytest_loadcert.report.playbook import Rule


def summary(cert: Certificate, limits: Limits) -> Section:
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
        (("stage times",), (stage_times(cert),)),
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


def stages(cert: Certificate, limits: Limits) -> Section:
    stages = cert["stages"]
    shown = stages[: limits.rows]
    t = cert["thresholds"]
    rows: list[tuple[Text, ...]] = [
        (
            (ident(s["name"]),),
            (s["start"] or "n/a",),
            (s["end"] or "n/a",),
            (num(s["required_active_vus"], "d"),),
            judged(
                s["peak_active_vus"],
                num(s["peak_active_vus"], "d"),
                s["required_active_vus"],
                below=True,
            ),
            (num(s["rps"], ".1f"),),
            (num(s["p50_ms"], ".1f"),),
            judged(s["p95_ms"], num(s["p95_ms"], ".1f"), t["p95_ms_max"]),
            judged(s["p99_ms"], num(s["p99_ms"], ".1f"), t["p99_ms_max"]),
            judged(s["error_rate"], num(s["error_rate"], ".4%"), t["http_req_failed_max"]),
            (throughput(s["data_received_bytes_per_s"]),),
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
            f"{general(t['p95_ms_max'])} ms, p99 <= {general(t['p99_ms_max'])} ms, error "
            f"rate <= {num(t['http_req_failed_max'], '.4%')}, checks >= "
            f"{num(t['checks_min'], '.4%')}, at least {t['min_requests']} requests per "
            "stage. Throughput is data received. n/a: the evidence could not say. Decided by: "
            "for a stage that is not certified, the gates that made it so. A figure on the wrong "
            "side of its bound is marked.",
        )
    )
    blocks: list[Block] = [
        Table(
            headers,
            rows,
            more(len(stages), len(shown), "stages"),
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


def dependency_health(cert: Certificate, limits: Limits) -> Section:
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
                    ("missing" if metric["value"] is None else general(metric["value"]),),
                    (bound_text(metric),),
                    (Status(gate_status),),
                )
            )
    section.blocks.append(Para(("Critical metrics from Prometheus, per stage window:",)))
    if rows:
        section.blocks.append(
            Table(
                ("stage", "metric", "value", "bound", "gate"),
                rows,
                more(total, len(rows), "metric rows"),
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
                    gate_text(g),
                    (Status(g["status"]),),
                    (g["observed"] or "n/a",),
                    (g["required"] or "n/a",),
                )
                for g in shown
            ],
            more(len(cluster), len(shown), "cluster gates"),
        )
    )
    return section


def hints(cert: Certificate, rules: Sequence[Rule], limits: Limits) -> Section | None:
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


def gate_results(cert: Certificate, limits: Limits) -> Section:
    gates = sorted(cert["gates"], key=lambda g: STATUS_ORDER[g["status"]])
    shown = gates[: limits.rows]
    return Section(
        "Gate results",
        [
            Table(
                ("gate", "status", "target", "actual", "samples"),
                [
                    (
                        gate_text(g),
                        (Status(g["status"]),),
                        (g["required"] or "n/a",),
                        (g["observed"] or "n/a",),
                        (g["samples"] or "n/a",),
                    )
                    for g in shown
                ],
                more(len(gates), len(shown), "gates"),
            )
        ],
    )


def waivers(cert: Certificate, limits: Limits) -> Section | None:
    waived = [g for g in cert["gates"] if g["status"] == WAIVED]
    if not waived:
        return None
    shown = waived[: limits.rows]
    return Section(
        "Waivers",
        [
            Bullets(
                [(ident(g["id"]), f": {g['message']}") for g in shown],
                more(len(waived), len(shown), "waived gates"),
            )
        ],
    )


def profile_settings(cert: Certificate, limits: Limits) -> Section:
    """Every value of the profile the gates judged by, defaults included: a lax knob (an
    evaluation delay of a day, a snapshot age of a month) is on the page, not only in the
    hash."""
    rows = list(_flatten(cert["profile"], ""))
    shown = rows[: limits.rows]
    return Section(
        "Profile",
        [
            Para(
                (
                    "Every value the gates judged by, defaults included; their canonical JSON "
                    "is the profile digest under Summary.",
                )
            ),
            Table(
                ("setting", "value"),
                [((Code(key),), (value,)) for key, value in shown],
                more(len(rows), len(shown), "settings"),
            ),
        ],
    )


def _flatten(value: object, key: str) -> Iterator[tuple[str, str]]:
    """``k6.p95_ms_max`` = ``300``, ``stages[0].name`` = ``smoke``: one row per value."""
    import json

    if isinstance(value, dict):
        for name in sorted(value):
            yield from _flatten(value[name], f"{key}.{name}" if key else str(name))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _flatten(item, f"{key}[{index}]")
    else:
        yield key, value if isinstance(value, str) else json.dumps(value)
