"""Reading ``certificate.json`` back, for ``loadcert report`` and ``loadcert verify``: schema
valid and consistent (the verdict follows from the gates, the exit status from the verdict,
no stage certified under a run level that is not), or refused naming the field.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_loadcert.certify.model import Certificate
from pytest_loadcert.certify.verdict import CERTIFIED, EXIT_STATUS, NOT_CERTIFIED
from pytest_loadcert.errors import EvidenceError


def read_certificate(path: Path) -> Certificate:
    """Read, validate and consistency-check ``certificate.json``.

    Raises :class:`EvidenceError` naming ``path`` (as given) and the field.
    """
    from pytest_loadcert.evidence.jsonio import read_json
    from pytest_loadcert.evidence.schema import validate

    rel = str(path)
    document = read_json(path, rel)
    validate("certificate", document, rel)
    _check_consistent(document, rel)
    certificate: Certificate = document  # the schema and the checks above vouch for it
    return certificate


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
    run_level = cert.get("run_level")
    if run_level is not None and run_level["verdict"] != CERTIFIED:
        # A stage never reads certified while the run level holds the run back.
        for index, stage in enumerate(cert["stages"]):
            if stage["verdict"] == CERTIFIED:
                raise EvidenceError(
                    rel,
                    f"stages[{index}].verdict",
                    f"is certified, but run_level.verdict is {run_level['verdict']}",
                )
        if highest is not None:
            raise EvidenceError(
                rel,
                "highest_certified_stage",
                f"is {highest!r}, but run_level.verdict is {run_level['verdict']}",
            )
    _check_profile(cert, rel)
    for index, gate in enumerate(cert["gates"]):
        if gate["status"] == "passed" and not _meets(gate["observed"], gate["required"]):
            raise EvidenceError(
                rel,
                f"gates[{index}].status",
                f"is passed, but its observed {gate['observed']!r} does not meet its required "
                f"{gate['required']!r}",
            )
    _check_stage_figures(cert, rel)
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


def _check_profile(cert: dict[str, Any], rel: str) -> None:
    """The profile the certificate carries is the one it is bound to (its canonical JSON
    hashes to ``bindings.profile_sha256``), and the bounds it states are that profile's."""
    from pytest_loadcert.config.profile import canonical_json, profile_digest

    profile = cert["profile"]
    bound = cert["bindings"]["profile_sha256"]
    if profile_digest(canonical_json(profile)) != bound:
        raise EvidenceError(rel, "profile", f"does not hash to bindings.profile_sha256 ({bound})")
    if profile.get("target_concurrency") != cert["target_concurrency"]:
        raise EvidenceError(
            rel,
            "target_concurrency",
            f"is {cert['target_concurrency']}, but the profile's is "
            f"{profile.get('target_concurrency')!r}",
        )
    k6 = profile.get("k6") if isinstance(profile.get("k6"), dict) else {}
    for key, value in cert["thresholds"].items():
        if k6.get(key) != value:
            raise EvidenceError(
                rel, f"thresholds.{key}", f"is {value!r}, but the profile's is {k6.get(key)!r}"
            )


def _check_stage_figures(cert: dict[str, Any], rel: str) -> None:
    """A stage figure whose gate reads passed is within the bound the certificate states: the
    stage table cannot say p95 450 ms beside a passed p95_latency and a 300 ms bound. (A
    waived gate's figure may be beyond it: that is what the waiver accepted.)"""
    bounds = cert["thresholds"]
    status = {(gate["gate"], gate["stage"]): gate["status"] for gate in cert["gates"]}
    for index, stage in enumerate(cert["stages"]):
        checks = (
            ("p95_ms", "p95_latency", operator.le, bounds["p95_ms_max"]),
            ("p99_ms", "p99_latency", operator.le, bounds["p99_ms_max"]),
            ("error_rate", "error_rate", operator.le, bounds["http_req_failed_max"]),
            ("requests", "requests_sent", operator.ge, bounds["min_requests"]),
            ("peak_active_vus", "observed_concurrency", operator.ge, stage["required_active_vus"]),
        )
        for key, gate, within, bound in checks:
            value = stage.get(key)
            if status.get((gate, stage["name"])) != "passed" or value is None:
                continue
            if not within(value, bound):
                raise EvidenceError(
                    rel,
                    f"stages[{index}].{key}",
                    f"is {value}, beyond its bound {bound}, but {gate}[{stage['name']}] passed",
                )


_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
#: A bound the certificate states as a comparison: ``<= 300 ms``, ``>= 0.999``, ``< 1%``.
_BOUND = re.compile(rf"^(<=|>=|<|>|==)\s*({_NUMBER})\s*(ms|s|%)?$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq,
}  # fmt: skip


def _meets(observed: str, required: str) -> bool:
    """Whether ``observed`` meets ``required`` where both are figures the certificate states
    (``p(95) 450.0 ms`` against ``<= 300 ms``); True where ``required`` is not such a bound
    or ``observed`` holds no figure in the same unit (the gate's own words then stand).

    The figure is the last number outside parentheses (``error rate 0 (0/200 failed)`` is
    0), followed by the bound's unit when it names one."""
    bound = _BOUND.match(required.strip())
    if bound is None:
        return True
    op, limit, unit = bound.groups()
    text = re.sub(r"\([^)]*\)", " ", observed)
    figures = re.findall(rf"({_NUMBER})\s*(ms|s|%)?(?![\w.])", text)
    if not figures:
        return True
    value, found_unit = figures[-1]
    if (unit or "") != (found_unit or ""):
        return True
    return _OPS[op](float(value), float(limit))


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
