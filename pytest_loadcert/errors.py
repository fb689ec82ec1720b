"""The one exception the core raises for unusable evidence."""

from __future__ import annotations


class EvidenceError(Exception):
    """Evidence is missing, unreadable, invalid or inconsistent: the gate is blocked.

    ``file`` is the bundle-relative path, ``field`` the JSON path inside it (may be empty),
    ``problem`` what is wrong. ``str()`` gives the one-line message a reviewer reads, e.g.
    ``stages/100k/k6-summary.json: metrics.vus.values.max is missing``.
    """

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where} {self.problem}" if self.field else f"{where}: {self.problem}"
