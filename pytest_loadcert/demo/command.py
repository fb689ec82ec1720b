"""``loadcert demo`` on the command line: its options, the check that the ``demo`` extra is
installed, and the exit status (the certification's, see :mod:`.pipeline`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.demo.pipeline import DEFAULT_STAGE_SECONDS, run_demo
from pytest_loadcert.demo.processes import PipelineError

HELP = "run the whole pipeline on this machine: local service, k6, Prometheus, OTel, certify"

#: The longest stage ``--stage-seconds`` accepts.
MAX_STAGE_SECONDS = 60


def _stage_seconds(text: str) -> int:
    value = cliopts.positive_int(text)
    if value > MAX_STAGE_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_STAGE_SECONDS}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadcert demo``."""
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="a new (or empty) directory for the bundle, certificate and logs "
        "(default: a new loadcert-demo-* directory in the system's temp dir)",
    )
    parser.add_argument(
        "--stage-seconds",
        type=_stage_seconds,
        default=DEFAULT_STAGE_SECONDS,
        metavar="N",
        help=f"how long each of the three stages runs (default {DEFAULT_STAGE_SECONDS}, "
        f"at most {MAX_STAGE_SECONDS})",
    )


#: What the demo imports from the ``demo`` extra: the HTTP client of ``collect prometheus``,
#: the service's OpenTelemetry SDK and OTLP/JSON encoder, and its metrics library.
DEMO_MODULES = (
    "requests",
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.common.trace_encoder",
    "prometheus_client",
)


def check_requirements() -> None:
    """:class:`cliopts.MissingExtra` (exit 2) unless the ``demo`` extra is installed: every
    module it imports, and a k6 binary (the extra's ``k6`` package ships one). Called before
    anything is created, so a missing extra leaves nothing behind."""
    from pytest_loadcert.run.k6bin import K6NotFound, find_k6

    cliopts.require("demo", *DEMO_MODULES)
    try:
        find_k6()
    except K6NotFound as exc:
        raise cliopts.MissingExtra(
            f"{exc}; the demo extra ships it: pip install 'pytest-loadcert[demo]'"
        ) from None


def run(ns: argparse.Namespace, extra: list[str]) -> int:
    """``loadcert demo``: the certification's exit status (0, 1, 2), or 1 when a step failed."""
    from pytest_loadcert.config.profile import ProfileError

    check_requirements()
    try:
        result = run_demo(ns.out, stage_seconds=ns.stage_seconds)
    except PipelineError as exc:
        return cliopts.error(ns, str(exc), exc.exit_status)
    except ProfileError as exc:
        return cliopts.error(ns, str(exc), cliopts.EXIT_FAILED)
    except OSError as exc:
        return cliopts.os_error(ns, exc)
    return result.exit_status
