"""The one exception the core raises for unusable evidence, and how any text from the
bundle is printed (:func:`printable`).

An environment name, a run id, a stage directory or a value quoted in a message comes from
evidence the run did not write. Printed as it is, a newline forges a line of its own
(``VERDICT: CERTIFIED``), an escape sequence moves the cursor and repaints a terminal, a
bidirectional override reorders what a reviewer reads. Every message and summary line is
passed through :func:`printable` before anyone sees it.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories never printed: controls (C0, C1: newline, ESC), format characters
#: (bidirectional overrides, zero-width joiners), line and paragraph separators.
HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def printable(text: str) -> str:
    """``text`` on one line: each run of control or format characters one space; the rest
    (spacing included) as it was."""
    if text.isprintable():  # the usual case: nothing to replace
        return text
    out: list[str] = []
    for char in text:
        if unicodedata.category(char) not in HIDDEN:
            out.append(char)
        elif not out or out[-1] != "\0":
            out.append("\0")  # a run of hidden characters, one space below
    return "".join(" " if c == "\0" else c for c in out)


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
        """One printable line (:func:`printable`): the file, field and
        problem may quote the bundle."""
        where = f"{self.file}: {self.field}" if self.field else self.file
        return printable(f"{where} {self.problem}" if self.field else f"{where}: {self.problem}")
