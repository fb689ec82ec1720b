"""The load generator's summary as the load gates read it: :class:`LoadSummary`.

The gates of :mod:`pytest_loadcert.gates.k6` and :mod:`pytest_loadcert.gates.window` read
one stage's summaries (one per load-generator instance) only through this protocol, never
through a reader's own fields. :class:`pytest_loadcert.evidence.k6.K6Summary` implements
it; a second load tool's reader is one new module that maps the tool's output onto the
metric names below, not a change to every gate.

Metric names and value keys are k6's, the vocabulary of the evidence contract: ``vus``
(``max``: peak active virtual users), ``vus_max`` (``max``: allocated), ``http_reqs``
(``count``), ``http_req_failed`` (``passes``, ``fails``, ``rate``), ``checks`` (``passes``,
``fails``, ``rate``) and the success trend ``http_req_duration{expected_response:true}``
(``p(95)``, ``p(99)``, ...). A missing figure is an
:class:`~pytest_loadcert.errors.EvidenceError` naming the file and the field, never zero.
"""

from __future__ import annotations

from typing import Protocol


class LoadSummary(Protocol):
    """One load-generator instance's summary of one stage."""

    @property
    def rel(self) -> str:
        """The file's path inside the bundle, as messages name it."""
        ...

    @property
    def duration_ms(self) -> float | None:
        """The run's own measured duration, or None when the file does not record one."""
        ...

    def field(self, metric: str, key: str | None = None) -> str:
        """The path of ``metric`` (and a value ``key``) as the file spells it."""
        ...

    def has(self, metric: str) -> bool:
        """True when the summary holds ``metric``."""
        ...

    def has_value(self, metric: str, key: str) -> bool:
        """True when the summary holds ``key`` of ``metric``."""
        ...

    def value(self, metric: str, key: str) -> float:
        """A measured value; missing raises EvidenceError, never returns zero."""
        ...

    def count(self, metric: str, key: str) -> int:
        """A measured count (``count``, ``passes``, ``fails``)."""
        ...

    def thresholds(self) -> list[tuple[str, str, bool]]:
        """The tool's own threshold results as (metric, expression, passed), sorted."""
        ...
