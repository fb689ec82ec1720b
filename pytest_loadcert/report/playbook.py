"""Bottleneck hints: for each failed or blocked gate, likely causes and what to inspect next.

The rules are data (``playbook.json`` in this package, contract ``loadcert-playbook/v1``),
keyed by gate name, optionally by subject (a critical metric's name), and optionally guarded
by conditions on other facts of the same stage of the certificate:

- ``{"fact": "p95_ms", "at_least": 250}``: a column of the stage table (see
  :data:`STAGE_FACTS`), compared with ``at_least``, ``at_most``, ``above`` or ``below``;
- ``{"fact": "metric:db_pool_saturation", "at_least": 0.7}``: a critical metric's value in
  the stage window, compared the same way, or ``{"fact": "metric:nats_lag",
  "outside_bound": true}``: the value breaks the profile's bound;
- ``{"fact": "gate:error_rate", "status_in": ["failed"]}``: another gate of the same stage
  ended with one of these statuses.

A fact the certificate does not have (``null``, a metric that was missing) never satisfies a
condition: missing is not zero. A run-level gate has no stage, so only rules without
conditions apply to it. For each gate, the matching rules written for it with a subject or
with conditions apply; when none matches, its plain rules do; when there are none, the first
matching catch-all rule (``"gate": "*"``).

``python -m pytest_loadcert.report.playbook docs/bottleneck-playbook.md`` regenerates the generated
part of the playbook's documentation from the data.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_loadcert.certify.model import Certificate, GateEntry, StageEntry
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.jsonio import parse_json, read_json
from pytest_loadcert.status import FAILED, GATE_BLOCKED, NOT_RUN, PASSED, WAIVED

SCHEMA = "loadcert-playbook/v1"
BUILTIN = "pytest_loadcert/report/playbook.json"
#: Gate statuses a rule may address.
STATUSES = (FAILED, GATE_BLOCKED, NOT_RUN)
#: Stage-table columns a condition may name (``peak_vus_ratio`` = peak / required VUs).
STAGE_FACTS = (
    "peak_active_vus",
    "peak_vus_ratio",
    "requests",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "error_rate",
    "checks_rate",
    "data_received_bytes_per_s",
    "duration_s",
)
COMPARISONS = {
    "at_least": ">=",
    "at_most": "<=",
    "above": ">",
    "below": "<",
}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_GATE_RE = re.compile(r"^([a-z][a-z0-9_]{0,63}|\*)$")
_RULE_KEYS = {"id", "gate", "subject", "status", "when", "title", "cause", "inspect"}
_MAX_TEXT = 600

#: The documentation's generated part starts after this line.
DOC_MARKER = (
    "<!-- generated from pytest_loadcert/report/playbook.json by "
    "`python -m pytest_loadcert.report.playbook docs/bottleneck-playbook.md`; do not edit below -->"
)


@dataclass(frozen=True)
class Condition:
    """One guard of a rule; see the module docstring for the forms."""

    fact: str
    op: str  # a key of COMPARISONS, "outside_bound" or "status_in"
    value: float | tuple[str, ...] | None = None

    def holds(self, stage: Mapping[str, Any] | None, statuses: dict[str, set[str]]) -> bool:
        """Whether the condition holds for a gate of ``stage`` (None: a run-level gate)."""
        if stage is None:
            return False
        if self.fact.startswith("gate:"):
            assert isinstance(self.value, tuple)
            return bool(statuses.get(self.fact[5:], set()) & set(self.value))
        if self.fact.startswith("metric:"):
            metric = _metric(stage, self.fact[7:])
            value = _number(metric.get("value")) if metric is not None else None
            if metric is None or value is None:
                return False
            if self.op == "outside_bound":
                low, high = _number(metric.get("min")), _number(metric.get("max"))
                return (low is not None and value < low) or (high is not None and value > high)
            return _compare(value, self.op, self.value)
        fact = _stage_fact(stage, self.fact)
        return fact is not None and _compare(fact, self.op, self.value)

    def describe(self) -> str:
        """The condition in words, for the documentation and the report."""
        name = self.fact.split(":", 1)[1] if ":" in self.fact else self.fact
        if self.op == "status_in":
            assert isinstance(self.value, tuple)
            return f"gate {name} of the same stage is {' or '.join(self.value)}"
        if self.op == "outside_bound":
            return f"{name} is outside its bound"
        return f"{name} {COMPARISONS[self.op]} {_number_text(self.value)}"


@dataclass(frozen=True)
class Rule:
    """One entry of a playbook."""

    id: str
    gates: tuple[str, ...]  # gate names, or ("*",)
    subject: str | None
    statuses: tuple[str, ...]
    when: tuple[Condition, ...]
    title: str
    cause: str
    inspect: tuple[str, ...]
    source: str  # the playbook file the rule came from

    @property
    def catch_all(self) -> bool:
        return self.gates == ("*",)

    def applies(
        self,
        gate: Mapping[str, Any],
        stage: Mapping[str, Any] | None,
        statuses: dict[str, set[str]],
    ) -> bool:
        if gate["status"] not in self.statuses:
            return False
        if not self.catch_all and gate["gate"] not in self.gates:
            return False
        if self.subject is not None and gate.get("subject") != self.subject:
            return False
        return all(condition.holds(stage, statuses) for condition in self.when)


@dataclass(frozen=True)
class Hint:
    """A rule and the gates (ids) it explains."""

    rule: Rule
    gates: tuple[str, ...]


def _number(value: object) -> float | None:
    """A JSON number as float; None for null, booleans and anything else."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _compare(value: float, op: str, bound: object) -> bool:
    assert isinstance(bound, int | float)
    if op == "at_least":
        return value >= bound
    if op == "at_most":
        return value <= bound
    if op == "above":
        return value > bound
    return value < bound


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _metric(stage: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for metric in stage.get("metrics", []):
        if isinstance(metric, dict) and metric.get("name") == name:
            return metric
    return None


def _stage_fact(stage: Mapping[str, Any], fact: str) -> float | None:
    if fact == "peak_vus_ratio":
        peak = _number(stage.get("peak_active_vus"))
        required = _number(stage.get("required_active_vus"))
        if peak is not None and required is not None and required > 0:
            return peak / required
        return None
    return _number(stage.get(fact))


# ----------------------------------------------------------------------------- parsing


def _text(value: object, rel: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EvidenceError(rel, field, "must be a non-empty string")
    if len(value) > _MAX_TEXT:
        raise EvidenceError(rel, field, f"is longer than {_MAX_TEXT} characters")
    if any(ord(ch) < 32 for ch in value):
        raise EvidenceError(rel, field, "must not contain control characters (newlines)")
    return value


def _condition(raw: object, rel: str, field: str) -> Condition:
    if not isinstance(raw, dict):
        raise EvidenceError(rel, field, "must be an object")
    fact = raw.get("fact")
    if not isinstance(fact, str):
        raise EvidenceError(rel, f"{field}.fact", "must be a string")
    ops = sorted(set(raw) - {"fact"})
    if len(ops) != 1:
        raise EvidenceError(
            rel, field, f"must have exactly one test besides fact (has {', '.join(ops) or 'none'})"
        )
    op = ops[0]
    value = raw[op]
    if fact.startswith("gate:"):
        if op != "status_in":
            raise EvidenceError(rel, f"{field}.{op}", "a gate: fact takes status_in")
        if not _GATE_RE.fullmatch(fact[5:]) or fact[5:] == "*":
            raise EvidenceError(rel, f"{field}.fact", f"{fact!r} does not name a gate")
        allowed = (PASSED, FAILED, GATE_BLOCKED, WAIVED, NOT_RUN)
        if (
            not isinstance(value, list)
            or not value
            or any(v not in allowed for v in value)
            or len(set(value)) != len(value)
        ):
            raise EvidenceError(
                rel, f"{field}.status_in", f"must be a list of distinct {', '.join(allowed)}"
            )
        return Condition(fact, op, tuple(value))
    if fact.startswith("metric:"):
        if not fact[7:]:
            raise EvidenceError(rel, f"{field}.fact", "names no metric")
        if op == "outside_bound":
            if value is not True:
                raise EvidenceError(rel, f"{field}.outside_bound", "must be true")
            return Condition(fact, op, None)
    elif fact not in STAGE_FACTS:
        raise EvidenceError(
            rel,
            f"{field}.fact",
            f"{fact!r} is not metric:<name>, gate:<gate> or one of {', '.join(STAGE_FACTS)}",
        )
    if op not in COMPARISONS:
        raise EvidenceError(
            rel, f"{field}.{op}", f"is not one of {', '.join(COMPARISONS)} for this fact"
        )
    number = _number(value)
    if number is None or not math.isfinite(number):
        raise EvidenceError(rel, f"{field}.{op}", "must be a finite number")
    return Condition(fact, op, number)


def _rule(raw: object, rel: str, index: int) -> Rule:
    field = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise EvidenceError(rel, field, "must be an object")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise EvidenceError(rel, f"{field}.{unknown[0]}", "is not a rule key")
    for key in ("id", "gate", "status", "title", "cause", "inspect"):
        if key not in raw:
            raise EvidenceError(rel, f"{field}.{key}", "is missing")
    rule_id = raw["id"]
    if not isinstance(rule_id, str) or not _ID_RE.fullmatch(rule_id):
        raise EvidenceError(rel, f"{field}.id", "must match [a-z0-9][a-z0-9-]*")
    gates = raw["gate"] if isinstance(raw["gate"], list) else [raw["gate"]]
    if not gates or any(not isinstance(g, str) or not _GATE_RE.fullmatch(g) for g in gates):
        raise EvidenceError(rel, f"{field}.gate", "must be a gate name, a list of them, or '*'")
    if "*" in gates and len(gates) > 1:
        raise EvidenceError(rel, f"{field}.gate", "'*' stands alone")
    subject = raw.get("subject")
    if subject is not None:
        subject = _text(subject, rel, f"{field}.subject")
    statuses = raw["status"]
    if (
        not isinstance(statuses, list)
        or not statuses
        or any(s not in STATUSES for s in statuses)
        or len(set(statuses)) != len(statuses)
    ):
        raise EvidenceError(rel, f"{field}.status", f"must be a list of distinct {STATUSES}")
    when_raw = raw.get("when", [])
    if not isinstance(when_raw, list):
        raise EvidenceError(rel, f"{field}.when", "must be a list of conditions")
    when = tuple(_condition(c, rel, f"{field}.when[{i}]") for i, c in enumerate(when_raw))
    inspect = raw["inspect"]
    if not isinstance(inspect, list) or not inspect:
        raise EvidenceError(rel, f"{field}.inspect", "must be a non-empty list of strings")
    return Rule(
        id=rule_id,
        gates=tuple(gates),
        subject=subject,
        statuses=tuple(statuses),
        when=when,
        title=_text(raw["title"], rel, f"{field}.title"),
        cause=_text(raw["cause"], rel, f"{field}.cause"),
        inspect=tuple(_text(s, rel, f"{field}.inspect[{i}]") for i, s in enumerate(inspect)),
        source=rel,
    )


def parse(document: object, rel: str) -> list[Rule]:
    """Validate a playbook document; errors name ``rel`` and the field."""
    if not isinstance(document, dict):
        raise EvidenceError(rel, "", "must be a JSON object")
    unknown = sorted(set(document) - {"schema", "rules"})
    if unknown:
        raise EvidenceError(rel, unknown[0], "is not a playbook key")
    if document.get("schema") != SCHEMA:
        raise EvidenceError(rel, "schema", f"must be {SCHEMA!r}")
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list):
        raise EvidenceError(rel, "rules", "must be a list")
    rules = [_rule(raw, rel, i) for i, raw in enumerate(raw_rules)]
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.id in seen:
            raise EvidenceError(rel, f"rules[{index}].id", f"{rule.id!r} is used twice")
        seen.add(rule.id)
    return rules


def builtin_rules() -> list[Rule]:
    """The playbook that ships with the package."""
    data = resources.files("pytest_loadcert.report").joinpath("playbook.json").read_bytes()
    return parse(parse_json(data, BUILTIN), BUILTIN)


def load(extra: Path | None = None) -> list[Rule]:
    """The built-in rules, preceded by a team's own playbook file when given."""
    rules = builtin_rules()
    if extra is None:
        return rules
    rel = str(extra)
    own = parse(read_json(extra, rel), rel)
    builtin = {rule.id for rule in rules}
    for index, rule in enumerate(own):
        if rule.id in builtin:  # hints are keyed by id: the two rules would merge
            raise EvidenceError(
                rel,
                f"rules[{index}].id",
                f"{rule.id!r} is the id of a built-in rule; choose another",
            )
    return own + rules


# ----------------------------------------------------------------------------- matching


def _statuses_by_stage(certificate: Certificate) -> dict[str | None, dict[str, set[str]]]:
    result: dict[str | None, dict[str, set[str]]] = {}
    for gate in certificate["gates"]:
        result.setdefault(gate["stage"], {}).setdefault(gate["gate"], set()).add(gate["status"])
    return result


def select(
    rules: Sequence[Rule],
    gate: GateEntry,
    stage: StageEntry | None,
    statuses: dict[str, set[str]],
) -> list[Rule]:
    """The rules that explain ``gate``, most specific first.

    Rules for the gate with a subject or conditions that hold win; else the gate's plain
    rules; else the first catch-all.
    """
    matching = [rule for rule in rules if rule.applies(gate, stage, statuses)]
    targeted = [r for r in matching if not r.catch_all and (r.subject is not None or r.when)]
    if targeted:
        return targeted
    plain = [rule for rule in matching if not rule.catch_all]
    if plain:
        return plain
    return [rule for rule in matching if rule.catch_all][:1]


def hints(
    certificate: Certificate, rules: Sequence[Rule], statuses: Iterable[str] = STATUSES
) -> list[Hint]:
    """One hint per rule that explains some failed, blocked or not-run gate, in rule order."""
    wanted = set(statuses)
    stages = {stage["name"]: stage for stage in certificate["stages"]}
    by_stage = _statuses_by_stage(certificate)
    explained: dict[str, list[str]] = {}
    for gate in certificate["gates"]:
        if gate["status"] not in wanted:
            continue
        stage = stages.get(gate["stage"]) if gate["stage"] is not None else None
        for rule in select(rules, gate, stage, by_stage.get(gate["stage"], {})):
            explained.setdefault(rule.id, []).append(gate["id"])
    return [Hint(rule, tuple(explained[rule.id])) for rule in rules if rule.id in explained]


# ----------------------------------------------------------------------------- documentation


def _applies_to(rule: Rule) -> str:
    gates = "any gate" if rule.catch_all else ", ".join(f"`{g}`" for g in rule.gates)
    subject = f" for `{rule.subject}`" if rule.subject else ""
    when = "".join(f", when {c.describe()}" for c in rule.when)
    return f"{gates}{subject}: {' or '.join(rule.statuses)}{when}"


def markdown(rules: Sequence[Rule]) -> str:
    """The playbook as Markdown, grouped by gate in the order the gates first appear."""
    order: list[str] = []
    for rule in rules:
        for gate in rule.gates:
            if gate not in order:
                order.append(gate)
    lines: list[str] = []
    for gate in order:
        lines += ["", f"### {'Any other gate' if gate == '*' else gate}", ""]
        for rule in rules:
            if rule.gates[0] != gate:
                continue
            lines += [f"#### {rule.title}", "", f"`{rule.id}`: {_applies_to(rule)}.", ""]
            lines += [rule.cause, "", "Inspect next:", ""]
            lines += [f"- {item}" for item in rule.inspect]
            lines.append("")
        for rule in rules:
            if gate in rule.gates[1:]:
                lines += [f"See also: {rule.title} (`{rule.id}`, under {rule.gates[0]}).", ""]
    return "\n".join(lines).strip("\n") + "\n"


def write_doc(path: Path) -> bool:
    """Rewrite the generated part of ``path`` (after :data:`DOC_MARKER`); True if it changed."""
    text = path.read_text(encoding="utf-8")
    head, marker, _ = text.partition(DOC_MARKER)
    if not marker:
        raise SystemExit(f"{path}: the marker line is missing:\n{DOC_MARKER}")
    new = head + DOC_MARKER + "\n\n" + markdown(builtin_rules())
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["docs/bottleneck-playbook.md"]:
        print(f"{arg}: {'rewritten' if write_doc(Path(arg)) else 'up to date'}")
