"""``loadcert report``: the certification report, generated from ``certificate.json``.

Formats:

- ``md`` (default): GitHub-flavoured Markdown for a job summary (``>> $GITHUB_STEP_SUMMARY``)
  or a pull-request comment. Every value from the certificate is escaped; no raw HTML. The
  output is kept under ``--max-bytes`` (default 1 MiB, GitHub's step-summary limit; use
  65536 for a PR comment) by listing fewer rows, each list saying how many it left out.
- ``html``: one self-contained page (inline CSS, no script, a Content-Security-Policy that
  forbids scripts), with the stage-ladder chart of :mod:`pytest_loadcert.chart` as an image.
- ``intoto``: the run's in-toto Statement (:mod:`pytest_loadcert.intoto`), byte for byte what
  the certification run wrote beside the certificate.

The certificate is untrusted input. It is read strictly (:mod:`pytest_loadcert.jsonio`),
validated against ``schemas/certificate.schema.json`` and checked for consistency (a
``certified`` verdict with a failed gate is refused); any problem is one line naming the file
and the field, and exit status 2.

The wording rule: only a ``certified`` certificate produces the sentence "certified for N
concurrent users at <git SHA> in <environment>", with N the profile's
``target_concurrency``, which a certified run has reached (the ``achieved_concurrency`` gate)
with every gate of every stage passing. Any other verdict gives "certification pending" and
the failed and blocked gates, observed against required.

This module reads and checks the certificate and runs the command; the report's content is
built in :mod:`pytest_loadcert.reportdoc` and rendered in :mod:`pytest_loadcert.reportrender`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_loadcert import cliopts
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.reportdoc import CERTIFIED, EXIT_STATUS, NOT_CERTIFIED
from pytest_loadcert.reportrender import html_report, markdown_report

if TYPE_CHECKING:
    pass

HELP = "render the certification report from certificate.json (Markdown, HTML or in-toto)"
FORMATS = ("md", "html", "intoto")

#: GitHub's limit for one step's job summary ($GITHUB_STEP_SUMMARY).
STEP_SUMMARY_BYTES = 1024 * 1024
#: A smaller --max-bytes could not hold the verdict, the summary and the stage table.
MIN_BYTES = 8192

# ----------------------------------------------------------------------------- reading


def read_certificate(path: Path) -> dict[str, Any]:
    """Read, validate and consistency-check ``certificate.json``.

    Raises :class:`EvidenceError` naming ``path`` (as given) and the field.
    """
    from pytest_loadcert.jsonio import read_json
    from pytest_loadcert.schema import validate

    rel = str(path)
    document = read_json(path, rel)
    validate("certificate", document, rel)
    _check_consistent(document, rel)
    return dict(document)


def _check_consistent(cert: dict[str, Any], rel: str) -> None:
    verdict = cert["verdict"]
    if cert["exit_status"] != EXIT_STATUS[verdict]:
        raise EvidenceError(
            rel,
            "exit_status",
            f"is {cert['exit_status']}, but a {verdict} verdict exits {EXIT_STATUS[verdict]}",
        )
    names = [stage["name"] for stage in cert["stages"]]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise EvidenceError(rel, f"stages[{index}].name", f"{name!r} appears twice")
    highest = cert["highest_certified_stage"]
    if highest is not None and highest not in names:
        raise EvidenceError(rel, "highest_certified_stage", f"{highest!r} is not a stage")
    run_level = cert.get("run_level")
    if run_level is not None and run_level["verdict"] != CERTIFIED:
        # A stage never reads certified while the run level holds the run back.
        for index, stage in enumerate(cert["stages"]):
            if stage["verdict"] == CERTIFIED:
                raise EvidenceError(
                    rel,
                    f"stages[{index}].verdict",
                    f"is certified, but run_level.verdict is {run_level['verdict']}",
                )
        if highest is not None:
            raise EvidenceError(
                rel,
                "highest_certified_stage",
                f"is {highest!r}, but run_level.verdict is {run_level['verdict']}",
            )
    statuses = [gate["status"] for gate in cert["gates"]]
    if verdict == CERTIFIED:
        _check_certified(cert, rel)
    elif verdict == NOT_CERTIFIED:
        if "failed" not in statuses:
            raise EvidenceError(rel, "verdict", "is not_certified, but no gate failed")
    else:
        if "failed" in statuses:
            index = statuses.index("failed")
            raise EvidenceError(
                rel, f"gates[{index}].status", "is failed, but the verdict is blocked"
            )
        if not ({"blocked", "not_run"} & set(statuses) or cert["problems"] or cert["not_run"]):
            raise EvidenceError(
                rel,
                "verdict",
                "is blocked, but no gate is blocked or not run and no problem is recorded",
            )


def _check_certified(cert: dict[str, Any], rel: str) -> None:
    """A certified certificate must carry everything its claim rests on."""

    def refuse(where: str, problem: str) -> EvidenceError:
        return EvidenceError(rel, where, f"{problem}, but the verdict is certified")

    if not cert["gates"]:
        raise refuse("gates", "is empty")
    if not cert["stages"]:
        raise refuse("stages", "is empty")
    for index, gate in enumerate(cert["gates"]):
        if gate["status"] not in ("passed", "waived"):
            raise refuse(f"gates[{index}].status", f"is {gate['status']}")
    if cert["not_run"]:
        raise refuse("not_run", "is not empty")
    if cert["problems"]:
        raise refuse("problems", "is not empty")
    for index, stage in enumerate(cert["stages"]):
        if stage["verdict"] != CERTIFIED:
            raise refuse(f"stages[{index}].verdict", f"is {stage['verdict']}")
    last = cert["stages"][-1]["name"]
    if cert["highest_certified_stage"] != last:
        raise refuse(
            "highest_certified_stage",
            f"is {cert['highest_certified_stage']!r}, not the last stage {last!r}",
        )
    peaks = [s["peak_active_vus"] for s in cert["stages"] if s["peak_active_vus"] is not None]
    if not peaks or max(peaks) < cert["target_concurrency"]:
        observed = max(peaks) if peaks else "unknown"
        raise refuse(
            "stages",
            f"record a highest peak of {observed} active VUs, under target_concurrency "
            f"{cert['target_concurrency']}",
        )
    bindings = cert["bindings"]
    for key in ("git_sha", "bundle_sha256"):
        if bindings[key] is None:
            raise refuse(f"bindings.{key}", "is null")
    if bindings["git_dirty"] is not False:
        raise refuse("bindings.git_dirty", f"is {bindings['git_dirty']}")
    expected = bindings["expected_git_sha"]
    if expected is not None and expected.lower() != bindings["git_sha"]:  # as git_binding
        raise refuse("bindings.expected_git_sha", f"is {expected!r}, not the bound git_sha")


# ----------------------------------------------------------------------------- command line


def _max_bytes(text: str) -> int:
    value = cliopts.positive_int(text)
    if value < MIN_BYTES:
        raise argparse.ArgumentTypeError(f"{text!r} is under the minimum of {MIN_BYTES} bytes")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    cliopts.add_certificate(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="md",
        help="md (default): GitHub-flavoured Markdown; html: a self-contained page; "
        "intoto: the run's in-toto Statement",
    )
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="write here (atomically); default stdout"
    )
    parser.add_argument(
        "--max-bytes",
        type=_max_bytes,
        metavar="N",
        help=f"md only: keep the report within N bytes (default {STEP_SUMMARY_BYTES}, "
        "GitHub's job summary limit; 65536 fits a pull-request comment)",
    )
    parser.add_argument(
        "--playbook",
        type=Path,
        metavar="JSON",
        help="md and html: your own bottleneck rules (loadcert-playbook/v1), tried before "
        "the built-in playbook",
    )


def _render(ns: argparse.Namespace) -> bytes:
    cert = read_certificate(ns.certificate)
    if ns.format == "intoto":
        from pytest_loadcert.intoto import statement_bytes

        return statement_bytes(cert, rel=str(ns.certificate))
    from pytest_loadcert.playbook import load

    rules = load(ns.playbook)
    if ns.format == "html":
        return html_report(cert, rules).encode("utf-8")
    return markdown_report(cert, rules, ns.max_bytes or STEP_SUMMARY_BYTES).encode("utf-8")


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    if ns.max_bytes is not None and ns.format != "md":
        return cliopts.error(ns, "--max-bytes applies to --format md only", cliopts.EXIT_USAGE)
    if ns.playbook is not None and ns.format == "intoto":
        return cliopts.error(ns, "--playbook does not apply to --format intoto", cliopts.EXIT_USAGE)
    try:
        data = _render(ns)
    except EvidenceError as exc:
        return cliopts.error(ns, str(exc), cliopts.EXIT_USAGE)
    if ns.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return cliopts.EXIT_OK
    from pytest_loadcert.jsonio import write_atomic

    try:
        write_atomic(ns.output, data)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    return cliopts.EXIT_OK
