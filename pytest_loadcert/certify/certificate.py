"""The certificate: ``certificate.json``, the junit suite properties and the terminal summary.

Everything here is pytest-free. The stage table's figures are computed from the bundle by
the functions the gates judge (:mod:`pytest_loadcert.evidence.load`), so the certificate
states the numbers the gates judged and never depends on test internals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_loadcert.certify.model import Bindings, Certificate, GateEntry, Invocation
from pytest_loadcert.certify.verdict import EXIT_STATUS, Outcome, Verdict
from pytest_loadcert.config.profile import Profile
from pytest_loadcert.errors import EvidenceError, printable
from pytest_loadcert.evidence.bundle import Bundle, Manifest
from pytest_loadcert.evidence.jsonio import write_json_atomic
from pytest_loadcert.evidence.load import (
    LoadSummary,
    check_counts,
    failed_requests,
    peak_active_vus,
    request_count,
    summed_rate,
    worst_percentile,
)
from pytest_loadcert.evidence.timeutil import format_utc, now_utc
from pytest_loadcert.gates.catalogue import GateKey, not_required
from pytest_loadcert.gates.prometheus import metric_sample
from pytest_loadcert.status import CERTIFIED
from pytest_loadcert.version import __version__

SCHEMA = "loadcert-certificate/v1"


@dataclass(frozen=True)
class MetricFacts:
    """A critical Prometheus metric for one stage window; ``value`` None when unreadable."""

    name: str
    value: float | None
    min: float | None
    max: float | None
    promql: str | None


@dataclass(frozen=True)
class StageFacts:
    """One row of the stage table; ``None`` where the evidence could not say."""

    name: str
    required_vus: int
    start: str | None
    end: str | None
    duration_s: float | None
    peak_active_vus: int | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    checks_rate: float | None
    requests: int | None
    rps: float | None
    data_received_bytes_per_s: float | None
    metrics: tuple[MetricFacts, ...]
    shards: dict[str, str] | None  # shard name -> who measured its window; None: one k6


def _try(func: Any) -> Any:
    try:
        return func()
    except EvidenceError:
        return None


def _checks_rate(summaries: tuple[LoadSummary, ...]) -> float | None:
    passed, total, _ = check_counts(summaries)
    return passed / total if total else None


def _error_rate(summaries: tuple[LoadSummary, ...]) -> float | None:
    failed, total, _ = failed_requests(summaries)
    return failed / total if total else None


def _metric_facts(bundle: Bundle, profile: Profile, stage: str) -> tuple[MetricFacts, ...]:
    rows = []
    for spec in profile.metrics:
        sample = _try(lambda n=spec.name: metric_sample(bundle, profile, stage, n))
        rows.append(
            MetricFacts(
                name=spec.name,
                value=sample.value if sample is not None else None,
                min=spec.min,
                max=spec.max,
                promql=sample.promql if sample is not None else None,
            )
        )
    return tuple(rows)


def _shard_facts(bundle: Bundle, stage: str) -> dict[str, str] | None:
    """For a distributed stage, who measured each instance's window (declared or measured)."""
    run = bundle.stage_run(stage)
    if not run.shards:
        return None
    records = bundle.shard_records(stage)
    return {
        name: records[name].measured_by if name in records else "no record" for name in run.shards
    }


def stage_facts(bundle: Bundle, profile: Profile) -> list[StageFacts]:
    """Observed facts per stage, for people; the gates are what judge them."""
    rows = []
    for spec in profile.stages:
        name = spec.name

        def figure(compute: Callable[[tuple[LoadSummary, ...]], Any], stage: str = name) -> Any:
            """A figure of the stage's summaries, computed as the gates compute it; None
            where the evidence cannot say."""
            return _try(lambda: compute(bundle.summaries(stage)))

        run = _try(lambda n=name: bundle.stage_run(n))
        rows.append(
            StageFacts(
                name=name,
                required_vus=spec.min_active_vus,
                start=run.start_text if run is not None else None,
                end=run.end_text if run is not None else None,
                duration_s=(run.end - run.start).total_seconds() if run is not None else None,
                peak_active_vus=figure(lambda s: peak_active_vus(s)[0]),
                p50_ms=figure(lambda s: worst_percentile(s, "med")[0]),
                p95_ms=figure(lambda s: worst_percentile(s, "p(95)")[0]),
                p99_ms=figure(lambda s: worst_percentile(s, "p(99)")[0]),
                error_rate=figure(_error_rate),
                checks_rate=figure(_checks_rate),
                requests=figure(lambda s: request_count(s)[0]),
                rps=figure(lambda s: summed_rate(s, "http_reqs")),
                data_received_bytes_per_s=figure(lambda s: summed_rate(s, "data_received")),
                metrics=_metric_facts(bundle, profile, name),
                shards=_try(lambda n=name: _shard_facts(bundle, n)),
            )
        )
    return rows


def _manifest(bundle: Bundle) -> Manifest | None:
    try:
        return bundle.manifest()
    except EvidenceError:
        return None


def build(
    *,
    bundle: Bundle,
    profile: Profile,
    verdict: Verdict,
    expected: list[GateKey],
    outcomes: dict[GateKey, Outcome],
    expected_sha: str | None,
    gate_files: dict[str, str] | None = None,
    invocation: Invocation | None = None,
) -> Certificate:
    """The certificate (JSON-able as it is). ``gate_files``: the digest of each team gate
    file and conftest.py that took part in the judgement."""
    manifest = _manifest(bundle)
    raw = manifest.raw if manifest else {}
    artifacts = raw.get("artifacts", {})
    bindings: Bindings = {
        "git_sha": raw.get("git", {}).get("sha"),
        "git_ref": raw.get("git", {}).get("ref"),
        "git_dirty": raw.get("git", {}).get("dirty"),
        "expected_git_sha": expected_sha,
        "k6_script_sha256": artifacts.get("k6_script", {}).get("sha256"),
        "k8s_manifest_sha256": artifacts.get("k8s_manifest", {}).get("sha256"),
        "images": [{"name": i["name"], "digest": i["digest"]} for i in artifacts.get("images", [])],
        "bundle_sha256": manifest.digest if manifest else None,
        "profile_sha256": profile.digest,
    }
    # Every file the manifest bound, so `loadcert verify` can name what changed even when
    # loadcert.json itself was replaced.
    files = raw.get("files", {}) if isinstance(raw.get("files"), dict) else {}
    facts = stage_facts(bundle, profile)
    gates: list[GateEntry] = []
    ordered = list(expected) + sorted(k for k in outcomes if k not in set(expected))
    for key in ordered:
        outcome = outcomes.get(key)
        gates.append(
            {
                "id": key.id,
                "gate": key.gate,
                "stage": key.stage,
                "subject": key.subject,
                "status": outcome.status if outcome else "not_run",
                "message": outcome.message if outcome else "did not run",
                "observed": outcome.observed if outcome else "",
                "required": outcome.required if outcome else "",
                "samples": outcome.samples if outcome else "",
                "source": outcome.source if outcome else "",
                "nodeid": outcome.nodeid if outcome else "",
            }
        )
    cert: Certificate = {
        "schema": SCHEMA,
        "verdict": verdict.verdict,
        "exit_status": EXIT_STATUS[verdict.verdict],
        "loadcert_version": __version__,
        "generated_at": format_utc(now_utc()),
        "run_id": raw.get("run_id"),
        "environment": raw.get("environment"),
        "evidence_dir": str(bundle.root),
        "profile_source": profile.source,
        "profile": json.loads(profile.canonical),
        "target_concurrency": profile.target_concurrency,
        "thresholds": {
            "p95_ms_max": profile.k6.p95_ms_max,
            "p99_ms_max": profile.k6.p99_ms_max,
            "http_req_failed_max": profile.k6.http_req_failed_max,
            "checks_min": profile.k6.checks_min,
            "min_requests": profile.k6.min_requests,
        },
        "bindings": bindings,
        "not_required": not_required(profile),
        "highest_certified_stage": verdict.highest_certified_stage,
        "run_level": {"verdict": verdict.run_level, "reason": verdict.run_level_reason},
        "stages": [
            {
                "name": row.name,
                "verdict": verdict.stages[row.name],
                "stage_gates_verdict": verdict.stage_gates[row.name],
                "required_active_vus": row.required_vus,
                "start": row.start,
                "end": row.end,
                "duration_s": row.duration_s,
                "peak_active_vus": row.peak_active_vus,
                "requests": row.requests,
                "rps": row.rps,
                "p50_ms": row.p50_ms,
                "p95_ms": row.p95_ms,
                "p99_ms": row.p99_ms,
                "error_rate": row.error_rate,
                "checks_rate": row.checks_rate,
                "data_received_bytes_per_s": row.data_received_bytes_per_s,
                "shards": row.shards,
                "metrics": [
                    {
                        "name": m.name,
                        "value": m.value,
                        "min": m.min,
                        "max": m.max,
                        "promql": m.promql,
                    }
                    for m in row.metrics
                ],
            }
            for row in facts
        ],
        "not_run": verdict.not_run,
        "problems": verdict.problems,
        "gates": gates,
        "gate_files": dict(sorted((gate_files or {}).items())),
        "evidence_files": dict(sorted(files.items())),
    }
    if invocation is not None:
        cert["invocation"] = invocation
    return cert


def _text(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def suite_properties(certificate: Certificate) -> list[tuple[str, str]]:
    """The junit ``<testsuite>`` properties, sorted by name."""
    bindings = certificate["bindings"]
    invocation = certificate.get("invocation")
    props = {
        "loadcert.verdict": certificate["verdict"],
        "loadcert.version": certificate["loadcert_version"],
        "loadcert.run_id": _text(certificate["run_id"]),
        "loadcert.session": _text(invocation["session"] if invocation else None),
        "loadcert.environment": _text(certificate["environment"]),
        "loadcert.git_sha": _text(bindings["git_sha"]),
        "loadcert.k6_script_sha256": _text(bindings["k6_script_sha256"]),
        "loadcert.k8s_manifest_sha256": _text(bindings["k8s_manifest_sha256"]),
        "loadcert.bundle_sha256": _text(bindings["bundle_sha256"]),
        "loadcert.profile_sha256": bindings["profile_sha256"],
        "loadcert.highest_certified_stage": certificate["highest_certified_stage"] or "none",
        "loadcert.not_run": ",".join(certificate["not_run"]),
        "loadcert.not_required": ",".join(certificate["not_required"]),
        "loadcert.target_concurrency": str(certificate["target_concurrency"]),
    }
    digests: dict[str, list[str]] = {}
    for image in bindings["images"]:
        digests.setdefault(image["name"], []).append(image["digest"])
    for name, values in digests.items():
        # Names are labels for people; two digests under one name are both listed.
        props[f"loadcert.image.{name}"] = ",".join(sorted(values))
    for stage in certificate["stages"]:
        props[f"loadcert.stage.{stage['name']}.verdict"] = stage["verdict"]
    return sorted(props.items())


def write_json(path: Path, certificate: Certificate) -> None:
    """Write atomically: a reader never sees half a certificate."""
    write_json_atomic(path, certificate)


def _num(value: float | int | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def summary_lines(certificate: Certificate) -> list[str]:
    """The terminal summary: verdict, stage table, highest certified stage, bindings; each
    line printable (:func:`pytest_loadcert.errors.printable`), whatever the bundle holds."""
    lines = [
        f"VERDICT: {certificate['verdict'].upper()}  (run {_text(certificate['run_id'])}, "
        f"environment {_text(certificate['environment'])})"
    ]
    header = (
        "stage",
        "peak VUs",
        "required",
        "p95 ms",
        "p99 ms",
        "error rate",
        "requests",
        "verdict",
    )
    lines.append(f"profile: {_text(certificate['profile_source'])}")
    rows = [header]
    for stage in certificate["stages"]:
        standing: str = stage["verdict"]
        if stage.get("stage_gates_verdict") == CERTIFIED and standing != CERTIFIED:
            standing = f"{standing} (stage gates passed)"
        rows.append(
            (
                stage["name"],
                _num(stage["peak_active_vus"], "d"),
                str(stage["required_active_vus"]),
                _num(stage["p95_ms"], ".1f"),
                _num(stage["p99_ms"], ".1f"),
                _num(stage["error_rate"], ".4%"),
                _num(stage["requests"], "d"),
                standing,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    for problem in certificate["problems"][:10]:
        lines.append(f"problem: {problem}")
    run_level = certificate.get("run_level")
    if run_level is not None and run_level["verdict"] != CERTIFIED and not certificate["problems"]:
        lines.append(f"run level {run_level['verdict']}: {_text(run_level['reason'])}")
    lines.append(
        f"highest certified stage: {certificate['highest_certified_stage'] or 'none'}"
        f" (target {certificate['target_concurrency']} concurrent users)"
    )
    bindings = certificate["bindings"]
    lines.append(f"git {_text(bindings['git_sha'])}  bundle {_text(bindings['bundle_sha256'])}")
    if certificate["not_required"]:
        lines.append("not required by the profile: " + ", ".join(certificate["not_required"]))
    waived = [g for g in certificate["gates"] if g["status"] == "waived"]
    for gate in waived:
        lines.append(f"waived: {gate['id']} ({gate['message']})")
    if certificate["not_run"]:
        shown = certificate["not_run"][:10]
        more = len(certificate["not_run"]) - len(shown)
        lines.append("did not run: " + ", ".join(shown) + (f" and {more} more" if more else ""))
    return [printable(line) for line in lines]
