"""The words and numbers a certification answers with, in one place (imports nothing).

The verdict words, the gate statuses the certificate records, and the exit statuses shared
by ``pytest --evidence-dir`` and every ``loadcert`` command (docs/cli.md, "Exit statuses"):

===  ======================================================================================
0    certified, or a command that did what it was asked
1    not certified, or a run or collection that failed
2    blocked (a verdict only: no command refuses with it)
3    a bug (pytest's own internal error is 3 as well)
4    a usage error or a refusal (pytest's usage error is 4 as well)
5    no tests ran (pytest's own)
130  interrupted
===  ======================================================================================
"""

from __future__ import annotations

from typing import Final, Literal

#: A verdict word, as a type.
VerdictWord = Literal["certified", "not_certified", "blocked"]
#: A gate status, as a type.
GateStatus = Literal["passed", "failed", "blocked", "waived", "not_run"]

#: The three verdicts; ``not_certified`` dominates ``blocked``, which dominates ``certified``.
CERTIFIED: Final = "certified"
NOT_CERTIFIED: Final = "not_certified"
BLOCKED: Final = "blocked"

#: Gate statuses as the certificate records them.
PASSED: Final = "passed"
FAILED: Final = "failed"
GATE_BLOCKED: Final = "blocked"
WAIVED: Final = "waived"
NOT_RUN: Final = "not_run"

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_BLOCKED: Final = 2
EXIT_INTERNAL: Final = 3
EXIT_USAGE: Final = 4
EXIT_INTERRUPTED: Final = 130

#: The exit status of each verdict.
EXIT_STATUS: Final = {CERTIFIED: EXIT_OK, NOT_CERTIFIED: EXIT_FAILED, BLOCKED: EXIT_BLOCKED}


#: Gate statuses by how much they need attention, worst first: the order of every list of
#: gates, and which of two reports of one gate (a rerun, xdist) the certificate keeps.
STATUS_ORDER: Final = {FAILED: 0, GATE_BLOCKED: 1, NOT_RUN: 2, WAIVED: 3, PASSED: 4}
