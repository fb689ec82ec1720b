"""k6 options that bend judgment or replace the bound script's schedule.

Recorded from real k6 1.1.0 (``k6 run --help``, the option sources and observed runs; the
list with each reason is docs/cli.md "k6 options run-stage refuses"). Options merge per
option, lowest first: config file < script < ``K6_*`` environment < command line, and a
higher layer *replaces* a map such as ``thresholds`` or ``scenarios``. So:

- ``--no-thresholds``/``K6_NO_THRESHOLDS`` skip the thresholds, exit 0; ``K6_THRESHOLDS``
  set to anything, even empty, wipes the script's thresholds, exit 0, no warning;
- ``--no-summary`` writes no summary; ``--summary-trend-stats`` chooses which statistics
  exist; ``--system-tags`` removes the tags (``expected_response``, ``status``, ``scenario``,
  ``group``) that submetrics and thresholds select on;
- ``--config``/``K6_CONFIG`` (and, silently, ``~/.config/k6/config.json``) is an options
  layer nothing binds;
- ``--vus``, ``--duration``, ``--iterations``, ``--stage`` (and their ``K6_*`` forms) replace
  the script's ``scenarios`` with one named ``default``; ``--rps`` caps the request rate;
  ``--min-iteration-duration`` pads iterations; ``--paused`` waits for a resume that the
  window then includes; ``--linger`` keeps k6 from exiting.

``loadcert run-stage`` refuses each of them before k6 starts (it sets the summary options
itself and hands k6 an empty configuration file), and the ``k6_thresholds`` gate blocks a
stage whose recorded command or environment carries one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_loadcert.errors import EvidenceError

#: The ``--config`` value run-stage records: the empty options file (``{}``) it hands k6.
K6_EMPTY_CONFIG = "loadcert-empty-k6-config.json"


@dataclass(frozen=True)
class Bending:
    """One k6 option: its command-line forms, its environment variable, and why it bends."""

    long: str | None  # "--vus"; None for an environment-only option
    short: str | None  # "u"
    env: str | None  # "K6_VUS"
    why: str


_SCHEDULE = "replaces the bound script's schedule (its scenarios) with one named default"
BENDING: tuple[Bending, ...] = (
    Bending("--no-thresholds", None, "K6_NO_THRESHOLDS", "k6 evaluates no threshold, exit 0"),
    Bending(None, None, "K6_THRESHOLDS", "replaces the script's thresholds (even when empty)"),
    Bending("--no-summary", None, "K6_NO_SUMMARY", "k6 writes no summary"),
    Bending(
        "--summary-trend-stats",
        None,
        "K6_SUMMARY_TREND_STATS",
        "chooses which statistics the summary holds (run-stage sets them)",
    ),
    Bending(
        "--system-tags",
        None,
        "K6_SYSTEM_TAGS",
        "removes the tags (expected_response, status, scenario) submetrics select on",
    ),
    Bending(
        "--config",
        "c",
        "K6_CONFIG",
        "an options file nothing binds (thresholds, schedule); run-stage passes an empty one",
    ),
    Bending("--summary-export", None, "K6_SUMMARY_EXPORT", "run-stage sets it itself"),
    Bending(
        "--execution-segment",
        None,
        "K6_EXECUTION_SEGMENT",
        "runs a part of the stage (run-stage sets it with --shard I/N)",
    ),
    Bending(
        "--execution-segment-sequence",
        None,
        "K6_EXECUTION_SEGMENT_SEQUENCE",
        "runs a part of the stage (run-stage sets it with --shard I/N)",
    ),
    Bending("--vus", "u", "K6_VUS", _SCHEDULE),
    Bending("--duration", "d", "K6_DURATION", _SCHEDULE),
    Bending("--iterations", "i", "K6_ITERATIONS", _SCHEDULE),
    Bending("--stage", "s", "K6_STAGES", _SCHEDULE),
    Bending("--rps", None, "K6_RPS", "caps the request rate below the script's schedule"),
    Bending(
        "--min-iteration-duration",
        None,
        "K6_MIN_ITERATION_DURATION",
        "pads every iteration, slowing the script's schedule",
    ),
    Bending("--paused", "p", "K6_PAUSED", "waits for a resume, inside the stage's window"),
    Bending("--linger", "l", "K6_LINGER", "keeps k6 from exiting after the test"),
)

#: k6 1.1.0 ``run`` options that take no value (every other option takes one).
_FLAGS_WITHOUT_VALUE = frozenset(
    {
        "--no-setup",
        "--no-teardown",
        "--paused",
        "--insecure-skip-tls-verify",
        "--no-connection-reuse",
        "--no-vu-connection-reuse",
        "--throw",
        "--discard-response-bodies",
        "--include-system-env-vars",
        "--no-thresholds",
        "--no-summary",
        "--linger",
        "--no-usage-report",
        "--help",
        "--no-color",
        "--profiling-enabled",
        "--quiet",
        "--verbose",
        "--http-debug",  # its value is optional and only given as --http-debug=full
    }
)
_SHORT_WITHOUT_VALUE = frozenset("pwlqvh")
_BY_LONG = {b.long: b for b in BENDING if b.long}
_BY_SHORT = {b.short: b for b in BENDING if b.short}
_BY_ENV = {b.env: b for b in BENDING if b.env}


@dataclass(frozen=True)
class Found:
    """A bending option as a command line writes it."""

    written: str  # "-u", "--vus=3"
    value: str | None  # "3"; None for a flag without one
    option: Bending


def bending_options(args: Sequence[str]) -> list[Found]:
    """The options of a k6 ``run`` command line (``args`` without the script) that bend
    judgment or the schedule, in order.

    Parsed as k6's flag library does: ``--name value`` or ``--name=value``; short flags may
    be grouped (``-qu 3``, ``-u3``), a value-taking short flag ending the group.
    """
    found: list[Found] = []
    index = 0

    def value_at(position: int) -> str | None:
        return args[position] if position < len(args) else None

    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            break
        if arg.startswith("--"):
            name, equals, inline = arg.partition("=")
            takes_value = name not in _FLAGS_WITHOUT_VALUE
            value = inline if equals else (value_at(index) if takes_value else None)
            if name in _BY_LONG:
                found.append(Found(arg, value, _BY_LONG[name]))
            if not equals and takes_value:
                index += 1  # the option's value
        elif arg.startswith("-") and len(arg) > 1:
            for position, letter in enumerate(arg[1:], start=1):
                takes_value = letter not in _SHORT_WITHOUT_VALUE
                rest = arg[position + 1 :]
                value = (rest or value_at(index)) if takes_value else None
                if letter in _BY_SHORT:
                    found.append(Found(f"-{letter}", value, _BY_SHORT[letter]))
                if takes_value:
                    if not rest:
                        index += 1  # the value is the next argument
                    break  # the rest of the group is the value
    return found


def bending_environment(names: Iterable[str]) -> list[tuple[str, Bending]]:
    """The ``K6_*`` variables among ``names`` that bend judgment or the schedule (set at
    all: ``K6_THRESHOLDS=""`` already wipes the script's thresholds)."""
    return [(name, _BY_ENV[name]) for name in sorted(set(names)) if name in _BY_ENV]


#: Statistics the gates read: a recorded --summary-trend-stats must name them.
REQUIRED_TREND_STATS = ("p(95)", "p(99)", "count")


def check_recorded(
    command: Sequence[str], environment: Iterable[str] | None, rel: str, sharded: bool
) -> None:
    """A stage's recorded k6 command (``k6 run <options> <script>``) and ``K6_*`` variable
    names bend neither judgment nor the schedule; raises EvidenceError naming the option.

    run-stage's own options pass: ``--summary-export``, ``--summary-trend-stats`` naming
    every statistic the gates read, ``--config`` of its empty options file, and an execution
    segment in a sharded stage.
    """
    args = list(command[2:-1]) if list(command[1:2]) == ["run"] else []
    for found in bending_options(args):
        long = found.option.long
        if long == "--summary-export":
            continue
        if long == "--config" and found.value == K6_EMPTY_CONFIG:
            continue
        if long == "--summary-trend-stats" and found.value is not None:
            stats = found.value.split(",")
            if all(stat in stats for stat in REQUIRED_TREND_STATS):
                continue
        if long in ("--execution-segment", "--execution-segment-sequence") and sharded:
            continue
        raise EvidenceError(
            rel,
            "command",
            f"holds {found.written}"
            + (f" {found.value}" if found.value is not None and "=" not in found.written else "")
            + f": it {found.option.why}",
        )
    if environment is None:
        raise EvidenceError(
            rel,
            "k6_environment",
            "is not recorded: whether K6_* variables (K6_THRESHOLDS, K6_VUS, ...) bent the run "
            "cannot be told; run k6 through loadcert run-stage, which records their names",
        )
    for name, option in bending_environment(environment):
        raise EvidenceError(rel, "k6_environment", f"holds {name}: k6 read it, and it {option.why}")
