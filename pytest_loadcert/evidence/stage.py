"""A stage's run as ``stage.json`` records it (:class:`StageRun`): name, start and end, target
VUs, k6's exit code and version, and its shards. Below the bundle and the shard records,
which both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StageRun:
    """``stages/<stage>/stage.json``: what ran and when."""

    rel: str
    name: str
    start: datetime
    end: datetime
    exit_code: int
    k6_version: str
    target_vus: int | None
    start_text: str  # the times exactly as stage.json wrote them
    end_text: str
    shards: dict[str, str]  # shard name -> k6 execution segment; empty for a single k6
    command: tuple[str, ...] = ()
    #: The K6_* variables set when k6 ran (names only); None when not recorded.
    k6_environment: tuple[str, ...] | None = None

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()
