"""What every gate returns: :class:`GateResult` (observed, required, samples, source), and
how a number is shown in it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateResult:
    """What a gate measured and how it judged it."""

    passed: bool
    observed: str
    required: str
    samples: str
    source: str
    explanation: str = ""

    def message(self) -> str:
        """The one-line reviewer message: verdict, observed, required, samples, source."""
        head = "passed" if self.passed else "not certified"
        text = (
            f"{head}: observed {self.observed}; required {self.required}; "
            f"samples {self.samples}; source {self.source}"
        )
        if self.explanation:
            text += f" -- {self.explanation}"
        return text


def fmt(value: float) -> str:
    return f"{value:.6g}"
