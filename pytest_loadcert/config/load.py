"""Loading the profile: a TOML file, else ``[tool.loadcert]`` in ``pyproject.toml``, else
the built-in one, validated over the built-in defaults.

Validation is strict: an unknown key, a wrong type or a negative bound raises
:class:`~pytest_loadcert.config.profile.ProfileError` naming the key and the file.
"""

from __future__ import annotations

import copy
import math
import re
import sys
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pytest_loadcert.config.defaults import DEFAULT_PROFILE
from pytest_loadcert.config.profile import (
    BUILTIN_SOURCE,
    GATE_NAME_RE,
    STAGE_NAME_RE,
    UNWAIVABLE_GATES,
    WINDOW_RANGE_RE,
    WINDOW_SELECTOR_RE,
    ClusterSpec,
    K6Bounds,
    MetricSpec,
    ObservabilitySpec,
    Profile,
    ProfileError,
    PrometheusBounds,
    StabilitySpec,
    StageSpec,
    Waiver,
    canonical_json,
)


def load_profile(path: Path | None, pyproject: Path | None = None) -> Profile:
    """Resolve the profile: an explicit TOML file, else ``[tool.loadcert]``, else built-in.

    ``path`` holds the keys at top level; ``pyproject`` is read only when it has a
    ``[tool.loadcert]`` table.
    """
    if path is not None:
        raw = _read_toml(path)
        return profile_from_mapping(raw, str(path))
    if pyproject is not None and pyproject.is_file():
        data = _read_toml(pyproject)
        tool = data.get("tool")
        if isinstance(tool, dict) and "loadcert" in tool:
            section = tool["loadcert"]
            if not isinstance(section, dict):
                raise ProfileError(f"{pyproject}: tool.loadcert must be a table")
            return profile_from_mapping(section, f"{pyproject} [tool.loadcert]")
        if isinstance(tool, dict):
            _refuse_misspelt_table(pyproject, tool)
    return profile_from_mapping({}, BUILTIN_SOURCE)


def _refuse_misspelt_table(pyproject: Path, tool: dict[str, Any]) -> None:
    """A ``[tool.X]`` table whose name looks like ``loadcert`` misspelt (``loadcrt``,
    ``load-cert``, ``LoadCert``, ``loadcerts``): the profile the team wrote would be ignored
    for the built-in one, silently. Refused, naming the table."""
    for name in tool:
        folded = name.lower().replace("-", "").replace("_", "")
        if _edits(folded, "loadcert") <= 1:
            raise ProfileError(
                f"{pyproject}: [tool.{name}] looks like [tool.loadcert] misspelt; the profile "
                "is read from [tool.loadcert] only, so this table would be ignored for the "
                "built-in profile. Rename it to [tool.loadcert]"
            )


def _edits(a: str, b: str) -> int:
    """The fewest insertions, deletions, substitutions and swaps of two neighbours from a to
    b (optimal string alignment distance)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: profile file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None


def profile_from_mapping(raw: dict[str, Any], source: str) -> Profile:
    """Validate ``raw`` (keys as in the TOML) over the built-in defaults."""
    checker = _Checker(source)
    checker.keys(raw, "", DEFAULT_PROFILE.keys())
    merged = copy.deepcopy(DEFAULT_PROFILE)
    for key, value in raw.items():
        if key in ("k6", "prometheus", "cluster", "observability") and isinstance(value, dict):
            checker.keys(value, key, DEFAULT_PROFILE[key].keys())
            merged[key].update(value)
        else:
            merged[key] = value

    target = checker.positive_int(merged["target_concurrency"], "target_concurrency")
    stages = checker.stages(merged["stages"])
    k6 = checker.k6(merged["k6"])
    metrics = checker.metrics(merged["metrics"])
    stability = checker.stability(merged["stability"], {m.name for m in metrics})
    cluster = checker.cluster(merged["cluster"])
    observability = checker.table(merged["observability"], "observability")
    grafana = checker.boolean(observability["grafana"], "observability.grafana")
    otel = checker.boolean(observability["otel"], "observability.otel")
    observed = ObservabilitySpec(
        grafana_dashboard_uid=checker.string(
            observability["grafana_dashboard_uid"], "observability.grafana_dashboard_uid"
        ),
        otel_services=checker.str_list(
            observability["otel_services"], "observability.otel_services"
        ),
        otel_namespace=checker.string(
            observability["otel_namespace"], "observability.otel_namespace"
        ),
        otel_environment=checker.string(
            observability["otel_environment"], "observability.otel_environment"
        ),
    )
    if otel and not observed.otel_services:
        raise checker.fail("observability.otel_services", "must name at least one service")
    waivers = checker.waivers(merged["waivers"], {s.name for s in stages})
    prometheus = checker.table(merged["prometheus"], "prometheus")
    max_gap_s = checker.non_negative(prometheus["max_gap_s"], "prometheus.max_gap_s")
    if max_gap_s <= 0:
        raise checker.fail("prometheus.max_gap_s", "must be greater than 0")
    return Profile(
        source=source,
        target_concurrency=target,
        stages=stages,
        k6=k6,
        metrics=metrics,
        stability=stability,
        cluster=cluster,
        grafana=grafana,
        otel=otel,
        waivers=waivers,
        prometheus=PrometheusBounds(max_gap_s),
        observability=observed,
        canonical=canonical_json(merged),
    )


class _Checker:
    """Type checks that raise ProfileError naming the source and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(f"{self.source}: {key}: {problem}")

    def keys(self, table: object, prefix: str, allowed: Any) -> None:
        if not isinstance(table, dict):
            raise self.fail(prefix or "profile", "must be a table")
        allowed_set = set(allowed)
        for key in table:
            if key not in allowed_set:
                where = f"{prefix}.{key}" if prefix else key
                raise self.fail(where, f"unknown key (allowed: {', '.join(sorted(allowed_set))})")

    def table(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def boolean(self, value: object, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def string(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def number(self, value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, got {value!r}")
        if isinstance(value, int) and abs(value) > sys.float_info.max:
            raise self.fail(key, "must be finite, got an integer beyond the float range")
        if not math.isfinite(value):
            raise self.fail(key, f"must be finite, got {value!r}")
        return float(value)

    def non_negative(self, value: object, key: str) -> float:
        number = self.number(value, key)
        if number < 0:
            raise self.fail(key, f"must not be negative, got {value!r}")
        return number

    def ratio(self, value: object, key: str) -> float:
        number = self.non_negative(value, key)
        if number > 1:
            raise self.fail(key, f"is a ratio and must be between 0 and 1, got {value!r}")
        return number

    def positive_int(self, value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, f"must be a positive integer, got {value!r}")
        return value

    def str_list(self, value: object, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of strings")
        items = tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))
        if len(set(items)) != len(items):
            raise self.fail(key, "lists a name twice")
        return items

    def array_of_tables(self, value: object, key: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "must be an array of tables ([[...]])")
        return value

    def stages(self, value: object) -> tuple[StageSpec, ...]:
        tables = self.array_of_tables(value, "stages")
        if not tables:
            raise self.fail("stages", "must list at least one stage")
        result: list[StageSpec] = []
        for i, table in enumerate(tables):
            where = f"stages[{i}]"
            self.keys(table, where, ("name", "min_active_vus"))
            for required in ("name", "min_active_vus"):
                if required not in table:
                    raise self.fail(f"{where}.{required}", "is required")
            name = self.string(table["name"], f"{where}.name")
            if not STAGE_NAME_RE.fullmatch(name):
                raise self.fail(
                    f"{where}.name", f"{name!r} must be letters, digits, '.', '_' or '-'"
                )
            vus = self.positive_int(table["min_active_vus"], f"{where}.min_active_vus")
            result.append(StageSpec(name, vus))
        names = [s.name for s in result]
        if len(set(names)) != len(names):
            raise self.fail("stages", "lists a stage name twice")
        return tuple(result)

    def k6(self, value: object) -> K6Bounds:
        table = self.table(value, "k6")
        min_requests = table["min_requests"]
        return K6Bounds(
            p95_ms_max=self.non_negative(table["p95_ms_max"], "k6.p95_ms_max"),
            p99_ms_max=self.non_negative(table["p99_ms_max"], "k6.p99_ms_max"),
            http_req_failed_max=self.ratio(table["http_req_failed_max"], "k6.http_req_failed_max"),
            checks_min=self.ratio(table["checks_min"], "k6.checks_min"),
            dropped_iterations_max=self.ratio(
                table["dropped_iterations_max"], "k6.dropped_iterations_max"
            ),
            min_requests=self.positive_int(min_requests, "k6.min_requests"),
            duration_tolerance_s=self.non_negative(
                table["duration_tolerance_s"], "k6.duration_tolerance_s"
            ),
            eval_delay_max_s=self.non_negative(table["eval_delay_max_s"], "k6.eval_delay_max_s"),
        )

    def metrics(self, value: object) -> tuple[MetricSpec, ...]:
        result: list[MetricSpec] = []
        for i, table in enumerate(self.array_of_tables(value, "metrics")):
            where = f"metrics[{i}]"
            self.keys(table, where, ("name", "promql", "min", "max"))
            for required in ("name", "promql"):
                if required not in table:
                    raise self.fail(f"{where}.{required}", "is required")
            name = self.string(table["name"], f"{where}.name")
            if not GATE_NAME_RE.fullmatch(name):
                raise self.fail(f"{where}.name", f"{name!r} must match [a-z][a-z0-9_]*")
            low = self.number(table["min"], f"{where}.min") if "min" in table else None
            high = self.number(table["max"], f"{where}.max") if "max" in table else None
            if low is None and high is None:
                raise self.fail(where, "needs a bound: min, max or both")
            if low is not None and high is not None and low > high:
                raise self.fail(where, "min is greater than max")
            promql = self.promql(table["promql"], f"{where}.promql")
            result.append(MetricSpec(name, promql, low, high))
        names = [m.name for m in result]
        if len(set(names)) != len(names):
            raise self.fail("metrics", "lists a metric name twice")
        return tuple(result)

    def promql(self, value: object, where: str) -> str:
        """A metric's PromQL: ``{window}`` only as a range ``[{window}]`` after a series
        selector, with no ``offset`` or ``@`` of its own (the range must be the stage window,
        and its samples checkable for gaps)."""
        promql = self.string(value, where)
        if "{window}" in WINDOW_RANGE_RE.sub("", promql):
            raise self.fail(
                where,
                "uses {window} outside a range: write it as [{window}] after a series "
                "selector, which is asked as the stage window",
            )
        for match in WINDOW_RANGE_RE.finditer(promql):
            if match.group(1):
                raise self.fail(
                    where,
                    f"reads the stage window through a subquery ({match.group(0)}): its "
                    "samples cannot be checked for gaps; put [{window}] on a series selector",
                )
            rest = promql[match.end() :].lstrip()
            if rest.startswith("@") or re.match(r"offset\b", rest):
                raise self.fail(
                    where,
                    f"moves {match.group(0)} with {rest.split()[0]!r}: the range must be the "
                    "stage window, which loadcert asks with @ <stage end>",
                )
        bare = promql.count("[{window}]")
        if bare != len(WINDOW_SELECTOR_RE.findall(promql)):
            raise self.fail(
                where,
                "has a [{window}] range that does not follow a series selector; its samples "
                "could not be checked for gaps",
            )
        return promql

    def stability(self, value: object, metric_names: set[str]) -> tuple[StabilitySpec, ...]:
        result: list[StabilitySpec] = []
        for i, table in enumerate(self.array_of_tables(value, "stability")):
            where = f"stability[{i}]"
            self.keys(table, where, ("name", "total", "dropped", "min"))
            for required in ("name", "total", "dropped", "min"):
                if required not in table:
                    raise self.fail(f"{where}.{required}", "is required")
            name = self.string(table["name"], f"{where}.name")
            refs = []
            for ref_key in ("total", "dropped"):
                ref = self.string(table[ref_key], f"{where}.{ref_key}")
                if ref not in metric_names:
                    raise self.fail(
                        f"{where}.{ref_key}", f"names no metric of the profile: {ref!r}"
                    )
                refs.append(ref)
            result.append(
                StabilitySpec(name, refs[0], refs[1], self.ratio(table["min"], f"{where}.min"))
            )
        return tuple(result)

    def cluster(self, value: object) -> ClusterSpec:
        table = self.table(value, "cluster")
        return ClusterSpec(
            required=self.boolean(table["required"], "cluster.required"),
            namespace=self.string(table["namespace"], "cluster.namespace"),
            deployments=self.str_list(table["deployments"], "cluster.deployments"),
            statefulsets=self.str_list(table["statefulsets"], "cluster.statefulsets"),
            hpas=self.str_list(table["hpas"], "cluster.hpas"),
            pdbs=self.str_list(table["pdbs"], "cluster.pdbs"),
            services=self.str_list(table["services"], "cluster.services"),
            max_snapshot_age_s=self.non_negative(
                table["max_snapshot_age_s"], "cluster.max_snapshot_age_s"
            ),
            max_clock_skew_s=self.non_negative(
                table["max_clock_skew_s"], "cluster.max_clock_skew_s"
            ),
        )

    def waivers(self, value: object, stage_names: set[str]) -> tuple[Waiver, ...]:
        result: list[Waiver] = []
        for i, table in enumerate(self.array_of_tables(value, "waivers")):
            where = f"waivers[{i}]"
            self.keys(table, where, ("gate", "stage", "subject", "owner", "reason", "expires"))
            for required in ("gate", "owner", "reason", "expires"):
                if required not in table:
                    raise self.fail(f"{where}.{required}", "is required")
            stage = None
            if "stage" in table:
                stage = self.string(table["stage"], f"{where}.stage")
                if stage not in stage_names:
                    raise self.fail(f"{where}.stage", f"names no stage of the profile: {stage!r}")
            subject = (
                self.string(table["subject"], f"{where}.subject") if "subject" in table else None
            )
            expires = table["expires"]
            if isinstance(expires, str):
                try:
                    expires = date.fromisoformat(expires)
                except ValueError:
                    raise self.fail(f"{where}.expires", "must be a date YYYY-MM-DD") from None
            if not isinstance(expires, date) or hasattr(expires, "hour"):
                raise self.fail(f"{where}.expires", "must be a date YYYY-MM-DD")
            gate = self.string(table["gate"], f"{where}.gate")
            if gate in UNWAIVABLE_GATES:
                raise self.fail(
                    f"{where}.gate", f"{gate} cannot be waived: {UNWAIVABLE_GATES[gate]}"
                )
            result.append(
                Waiver(
                    gate=gate,
                    stage=stage,
                    subject=subject,
                    owner=self.string(table["owner"], f"{where}.owner"),
                    reason=self.string(table["reason"], f"{where}.reason"),
                    expires=expires,
                )
            )
        return tuple(result)
