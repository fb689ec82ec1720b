"""A parsed k6 summary (:class:`K6Summary`), the same for both of k6's JSON formats.

:mod:`pytest_loadcert.evidence.k6` reads the files; :mod:`pytest_loadcert.evidence.k6_agreement`
checks its figures against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytest_loadcert.errors import EvidenceError

Format = Literal["handlesummary", "summary-export"]


@dataclass(frozen=True)
class Metric:
    """One metric of a summary, normalised across the two formats."""

    name: str
    kind: str | None  # counter/gauge/rate/trend; None when the format does not say
    values: dict[str, float]
    thresholds: dict[str, bool]  # expression -> passed


@dataclass(frozen=True)
class CheckCount:
    """One ``check()`` of the summary's group tree: ``path`` is ``::group::name``."""

    field: str  # its place in the file, e.g. root_group.groups.setup.checks.setup ok
    path: str
    passes: int
    fails: int


@dataclass(frozen=True)
class K6Summary:
    """A parsed k6 summary file; a :class:`~pytest_loadcert.evidence.load.LoadSummary`."""

    rel: str
    format: Format
    metrics: dict[str, Metric]
    duration_ms: float | None  # state.testRunDurationMs, or an export's counters' count / rate
    trend_stats: tuple[str, ...] | None
    #: Every ``check()`` of ``root_group``'s tree as (path, passes, fails); None without one.
    check_tree: tuple[CheckCount, ...] | None = None
    #: Where ``duration_ms`` comes from, as this file spells it.
    duration_field: str = "state.testRunDurationMs"

    @property
    def setup_checks(self) -> tuple[int, int]:
        """(passes, fails) of the ``check()`` calls made in ``setup()``/``teardown()`` (k6
        files them under the groups ``::setup`` and ``::teardown``): not load."""
        outside = [
            check
            for check in self.check_tree or ()
            if check.path.startswith(("::setup::", "::teardown::"))
        ]
        return sum(c.passes for c in outside), sum(c.fails for c in outside)

    def __repr__(self) -> str:
        # Shown in a failed assertion of a team gate: the file, not every parsed metric.
        return f"<K6Summary {self.rel} ({self.format}, {len(self.metrics)} metrics)>"

    def field(self, metric: str, key: str | None = None) -> str:
        """The JSON path of ``metric`` (and a value ``key``) as this file spells it."""
        base = f"metrics.{metric}"
        if key is None:
            return base
        if self.format == "handlesummary":
            return f"{base}.values.{key}"
        entry = self.metrics.get(metric)
        if key == "rate" and entry is not None and entry.kind == "rate":
            return f"{base}.value"  # --summary-export calls a rate's ratio "value"
        return f"{base}.{key}"

    def has(self, metric: str) -> bool:
        """True when the summary holds ``metric``."""
        return metric in self.metrics

    def has_value(self, metric: str, key: str) -> bool:
        """True when the summary holds ``key`` of ``metric``."""
        entry = self.metrics.get(metric)
        return entry is not None and key in entry.values

    def value(self, metric: str, key: str) -> float:
        """A measured value; missing is an :class:`EvidenceError`, never zero."""
        entry = self.metrics.get(metric)
        if entry is None:
            raise EvidenceError(self.rel, self.field(metric), "is missing")
        if key not in entry.values:
            raise EvidenceError(self.rel, self.field(metric, key), "is missing")
        return entry.values[key]

    def count(self, metric: str, key: str) -> int:
        """A measured count (``count``, ``passes``, ``fails``) as an int."""
        return int(self.value(metric, key))

    def thresholds(self) -> list[tuple[str, str, bool]]:
        """Every threshold as (metric, expression, passed), sorted."""
        result = [
            (name, expr, ok)
            for name, metric in self.metrics.items()
            for expr, ok in metric.thresholds.items()
        ]
        return sorted(result)
