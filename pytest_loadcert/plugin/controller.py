"""The controller's side of a certification run (the only process under xdist that decides).

Workers run gates; their reports (with ``loadcert_status`` and ``loadcert_gate``) reach the
controller, which aggregates them, adds the gates each worker collected before deselection,
decides the verdict, writes the certificate and sets the exit status.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest

from pytest_loadcert.certify.model import Invocation
from pytest_loadcert.certify.verdict import Outcome
from pytest_loadcert.plugin.state import (
    RESULT_PROPERTIES,
    STATE_KEY,
    WORKER_OUTPUT,
    RunState,
    blocked_in_call,
    gate_report_key,
    gate_report_status,
    key_from_json,
    loaded_conftests,
    report_message,
)
from pytest_loadcert.status import (
    BLOCKED,
    CERTIFIED,
    NOT_CERTIFIED,
    PASSED,
    STATUS_ORDER,
)

if TYPE_CHECKING:
    from pytest_loadcert.plugin.scope import GateFunction

_COLOUR = {CERTIFIED: "green", NOT_CERTIFIED: "red", BLOCKED: "yellow"}


class CertificationRun:
    """Registered as a plugin on the controller (or the only process) of a run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.intoto_line = ""
        self.started_at: str | None = None
        self.session_id = ""

    @property
    def state(self) -> RunState:
        return self.config.stash[STATE_KEY]

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from pytest_loadcert.certify.session import current_session
        from pytest_loadcert.evidence.timeutil import format_utc, now_utc

        self.started_at = format_utc(now_utc())
        self.session_id = current_session()
        # A run that ends before writing its certificate (a crash, a kill) must not leave an
        # earlier run's certificate or statement at these paths to be read as its own.
        settings = self.state.settings
        for path in (settings.certificate_path, settings.intoto_path):
            if path.is_symlink() or path.is_file():
                path.unlink()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = gate_report_key(report)
        status = gate_report_status(report)
        if key is None or status is None:
            return
        previous = self.state.outcomes.get(key)
        if previous is not None and STATUS_ORDER[previous.status] <= STATUS_ORDER[status]:
            return
        props = dict(report.user_properties)
        self.state.outcomes[key] = Outcome(
            key=key,
            status=status,
            message=report_message(report) if status != PASSED else "",
            nodeid=report.nodeid,
            **{name: str(props.get(f"loadcert.{name}", "")) for name in RESULT_PROPERTIES},
        )

    @pytest.hookimpl(trylast=True, specname="pytest_runtest_logreport")
    def pytest_runtest_logreport_junit(self, report: pytest.TestReport) -> None:
        """After junit has written a gate that blocked in its body: say so, not "failed on
        setup"."""
        if not blocked_in_call(report):
            return
        import pytest_loadcert.plugin.junit as junit

        message = report_message(report)
        if not message.startswith("blocked: "):
            message = f"blocked: {message}"
        junit.name_blocked_error(self.config, report, message)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.state.problems.append(f"collection error in {report.nodeid or 'the session'}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        if WORKER_OUTPUT in output:
            collected = json.loads(output[WORKER_OUTPUT])
            for text in collected["keys"]:
                key = key_from_json(text)
                self.state.collected[key.id] = key
            for problem in collected["problems"]:
                if problem not in self.state.problems:
                    self.state.problems.append(problem)
        if error:
            self.state.problems.append(f"xdist worker {getattr(node.gateway, 'id', '?')} crashed")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # Import the modules themselves: ``from pytest_loadcert import certificate`` would take
        # a stale package attribute when pytest runs in-process more than once (pytester).
        import pytest_loadcert.certify.certificate as certificate
        import pytest_loadcert.plugin.junit as junit
        from pytest_loadcert.certify.verdict import EXIT_STATUS, decide

        state = self.state
        if exitstatus == pytest.ExitCode.USAGE_ERROR:
            # pytest ends with its own usage error (a test path or node id that does not
            # exist): nothing was judged, so no certificate claims a verdict or a status.
            return
        self._check_waivers()
        self._check_judged()
        if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
            state.problems.append("pytest hit an internal error")
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            state.problems.append("the run was interrupted before every gate ran")
        stopped = session.shouldfail or session.shouldstop
        if stopped:
            state.problems.append(f"the run stopped early: {stopped}")
        expected = list(dict.fromkeys([*state.expected, *sorted(set(state.collected.values()))]))
        verdict = decide(state.profile, expected, state.outcomes, state.problems)
        cert = certificate.build(
            bundle=state.bundle,
            profile=state.profile,
            verdict=verdict,
            expected=expected,
            outcomes=state.outcomes,
            expected_sha=state.settings.git_sha,
            gate_files=self._gate_files(),
            invocation=self._invocation(),
        )
        state.certificate = cert
        certificate.write_json(state.settings.certificate_path, cert)
        self._append_receipt()
        import pytest_loadcert.certify.intoto as intoto

        self.intoto_line = intoto.write(state.settings.intoto_path, cert)
        junit.add_suite_properties(self.config, certificate.suite_properties(cert))
        session.exitstatus = EXIT_STATUS[verdict.verdict]

    def _invocation(self) -> Invocation | None:
        """What pytest was told, where, and when this session started."""
        if self.started_at is None:
            return None
        params = self.config.invocation_params
        return {
            "args": [str(arg) for arg in params.args],
            "pytest_addopts": os.environ.get("PYTEST_ADDOPTS"),
            "dir": str(params.dir),
            "started_at": self.started_at,
            "session": self.session_id,
        }

    def _append_receipt(self) -> None:
        """One line in ``$LOADCERT_RECEIPT`` for the certificate just written."""
        import os
        from pathlib import Path

        import pytest_loadcert.envvars as envvars

        receipt_file = os.environ.get(envvars.RECEIPT)
        if not receipt_file or self.started_at is None:
            return
        from pytest_loadcert.certify.session import Receipt, append_receipt
        from pytest_loadcert.evidence.hashing import sha256_file

        path = self.state.settings.certificate_path
        receipt = Receipt(self.session_id, path, sha256_file(path))
        append_receipt(Path(self.config.invocation_params.dir, receipt_file), receipt)

    def _gate_files(self) -> dict[str, str]:

        from pytest_loadcert.plugin.scope import gate_file_digests

        conftests = [*loaded_conftests(self.config), *self.state.gate_conftests]
        return gate_file_digests(self.state.gate_files, conftests, self.config.rootpath)

    def _check_judged(self) -> None:
        """Every gate function the declared files define was judged, at every stage."""
        from pathlib import Path

        from pytest_loadcert.plugin.scope import function_of, unjudged_functions

        state = self.state
        rootdir = Path(self.config.rootpath)
        judged: dict[GateFunction, set[tuple[str | None, str | None]]] = {}
        for outcome in state.outcomes.values():
            function = function_of(outcome.nodeid, rootdir)
            judged.setdefault(function, set()).add((outcome.key.subject, outcome.key.stage))
        for problem in unjudged_functions(
            state.gate_functions,
            judged,
            state.profile.stage_names,
            lambda path: os.path.relpath(path, rootdir),
        ):
            if problem not in state.problems:
                state.problems.append(problem)

    def _check_waivers(self) -> None:
        state = self.state
        keys = set(state.collected.values()) | set(state.expected)
        for waiver in state.profile.waivers:
            if not any(waiver.matches(k.gate, k.stage, k.subject) for k in keys):
                state.problems.append(
                    f"{state.profile.source}: waiver for gate {waiver.gate!r} stage "
                    f"{waiver.stage!r} matches no gate"
                )

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        cert = self.state.certificate
        if cert is None:
            return
        from pytest_loadcert.certify.certificate import summary_lines

        colour = {_COLOUR[cert["verdict"]]: True, "bold": True}
        terminalreporter.section("loadcert certificate", sep="=", **colour)
        for number, line in enumerate(summary_lines(cert)):
            terminalreporter.write_line(line, **(colour if number == 0 else {}))
        terminalreporter.write_line(f"certificate: {self.state.settings.certificate_path}")
        terminalreporter.write_line(self.intoto_line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        cert = self.state.certificate
        if cert is None:
            return
        run_level = cert.get("run_level")
        reason = run_level["reason"] if run_level is not None else None
        from pytest_loadcert.errors import printable

        config.get_terminal_writer().line(
            printable(
                f"loadcert verdict: {cert['verdict']} (exit {cert['exit_status']}); highest "
                f"certified stage: {cert['highest_certified_stage'] or 'none'}"
                + (f"; run {cert['run_level']['verdict']}: {reason}" if reason else "")
            ),
            bold=True,
        )
