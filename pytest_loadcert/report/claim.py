"""What the report may claim, and the one rule of its wording: only a ``certified``
certificate produces the "certified for N concurrent users" sentence; any other verdict is
said as pending, with what holds it back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_loadcert.report.blocks import Block, Bullets, Para, Section, Status, Table, Text, ident
from pytest_loadcert.report.cells import Limits, gate_text, more
from pytest_loadcert.status import (
    CERTIFIED,
    FAILED,
    GATE_BLOCKED,
    NOT_CERTIFIED,
    NOT_RUN,
    STATUS_ORDER,
    WAIVED,
)

if TYPE_CHECKING:
    from pytest_loadcert.certify.model import Certificate


def stage_times(cert: Certificate) -> str:
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


def claim(cert: Certificate) -> list[Block]:
    bindings = cert["bindings"]
    gates = cert["gates"]
    stages = cert["stages"]
    if cert["verdict"] == CERTIFIED:
        waived = [g for g in gates if g["status"] == WAIVED]
        # read_certificate refuses a certified certificate without a measured peak, so
        # there is one; a stage without one is never the top, and never read as 0.
        measured = [
            (peak, index)
            for index, stage in enumerate(stages)
            if (peak := stage["peak_active_vus"]) is not None
        ]
        top = stages[max(measured, key=lambda m: m[0])[1]]  # the first stage at the peak
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


def pending(cert: Certificate, limits: Limits) -> Section | None:
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
                        gate_text(g),
                        (Status(g["status"]),),
                        (g["observed"] or "n/a",),
                        (g["required"] or "n/a",),
                        (g["message"],),
                    )
                    for g in shown
                ],
                more(len(open_gates), len(shown), "gates that failed, were blocked or did not run"),
            )
        )
    if cert["problems"]:
        problems = cert["problems"][: limits.rows]
        section.blocks.append(Para(("Run problems:",)))
        section.blocks.append(
            Bullets(
                [(p,) for p in problems],
                more(len(cert["problems"]), len(problems), "problems"),
            )
        )
    return section
