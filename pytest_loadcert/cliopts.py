"""What every ``loadcert`` subcommand shares: exit statuses, common options, error printing.

A subcommand lives in its own module exposing ``HELP`` (one line), ``configure(parser)`` and
``run(ns, extra) -> int``; :mod:`pytest_loadcert.cli` lists the modules. Such a module must
stay cheap to import (``loadcert --help`` imports them all): ``requests``, ``kubernetes``,
``pytest`` and the like are imported inside ``run``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_loadcert.profile import Profile

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def error(ns: argparse.Namespace, message: str, status: int) -> int:
    """Print ``<prog>: error: message`` to stderr and return ``status``."""
    print(f"{getattr(ns, 'prog', 'loadcert')}: error: {message}", file=sys.stderr, flush=True)
    return status


def log(ns: argparse.Namespace, message: str) -> None:
    """Progress and warnings: one line to stderr, prefixed with the command's name."""
    print(f"{getattr(ns, 'prog', 'loadcert')}: {message}", file=sys.stderr, flush=True)


def os_error(ns: argparse.Namespace, exc: OSError) -> int:
    """An I/O error as one line naming the file (exit 1)."""
    return error(ns, f"{exc.filename or ''}: {exc.strerror or exc}", EXIT_FAILED)


def add_evidence_dir(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--evidence-dir",
        type=Path,
        required=required,
        metavar="DIR",
        help="the evidence bundle directory",
    )


def add_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loadcert-profile",
        type=Path,
        metavar="TOML",
        help="profile file (keys at top level); default: [tool.loadcert] in ./pyproject.toml, "
        "else the built-in profile",
    )


def load_profile(ns: argparse.Namespace) -> Profile:
    """The profile: --loadcert-profile, else [tool.loadcert] in ./pyproject.toml, else built-in."""
    from pytest_loadcert.profile import load_profile as load

    return load(ns.loadcert_profile, Path("pyproject.toml"))


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value
