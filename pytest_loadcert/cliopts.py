"""What every ``loadcert`` subcommand shares: exit statuses, common options, error printing.

A subcommand lives in its own module exposing ``HELP`` (one line), ``configure(parser)`` and
``run(ns, extra) -> int``; :mod:`pytest_loadcert.cli` lists the modules. Such a module must
stay cheap to import (``loadcert --help`` imports them all): ``requests``, ``kubernetes``,
``pytest`` and the like are imported inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# The one exit-status table (pytest_loadcert.status), re-exported for the commands.
import pytest_loadcert.envvars as envvars
from pytest_loadcert.status import EXIT_FAILED as EXIT_FAILED
from pytest_loadcert.status import EXIT_INTERNAL as EXIT_INTERNAL
from pytest_loadcert.status import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from pytest_loadcert.status import EXIT_OK as EXIT_OK
from pytest_loadcert.status import EXIT_USAGE as EXIT_USAGE

if TYPE_CHECKING:
    from pytest_loadcert.config.profile import Profile


class CommandError(Exception):
    """A command cannot do what was asked: one line for stderr, and its exit status.

    ``loadcert``'s ``main`` prints it and returns the status, so a command raises it (or a
    subclass naming its own default status) instead of mapping it itself.
    """

    default_status = EXIT_FAILED

    def __init__(self, message: str, exit_status: int | None = None) -> None:
        super().__init__(message)
        self.exit_status = self.default_status if exit_status is None else exit_status


class MissingExtra(CommandError):
    """A module of an optional extra is not installed: which one, and how to install it."""

    default_status = EXIT_USAGE


#: The optional extras (``pip install 'pytest-loadcert[<extra>]'``) and the top-level modules
#: the commands import from them.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "collect": ("requests", "urllib3", "kubernetes", "yaml"),
    "demo": ("requests", "urllib3", "opentelemetry", "google", "prometheus_client"),
    "html": ("pytest_html", "matplotlib"),
}


def missing_extra_message(modules: Sequence[str], extra: str) -> str:
    """One line: the modules that are not installed and the extra that brings them."""
    names = ", ".join(repr(module) for module in modules)
    noun, verb, them = ("module", "is", "it") if len(modules) == 1 else ("modules", "are", "them")
    return (
        f"the Python {noun} {names} {verb} not installed; the {extra} extra installs {them}: "
        f"pip install 'pytest-loadcert[{extra}]'"
    )


def require(extra: str, *modules: str) -> None:
    """Import ``modules`` of ``extra`` now; :class:`MissingExtra` (exit 2) naming every one
    that is not installed (or the dependency of it that is not), before anything is done."""
    missing: list[str] = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            name = exc.name or module
            if name not in missing:
                missing.append(name)
    if missing:
        raise MissingExtra(missing_extra_message(missing, extra))


def extra_of(exc: ModuleNotFoundError, command: str | None = None) -> str | None:
    """The extra that installs the module ``exc`` says is missing (``command``'s own extra
    first, as for ``demo``), or None when no extra does: then it is a bug."""
    top = (exc.name or "").partition(".")[0]
    extras = [extra for extra, modules in EXTRA_MODULES.items() if top in modules]
    if not extras:
        return None
    return command if command in extras else extras[0]


def debug_enabled(ns: argparse.Namespace | None = None) -> bool:
    """``--debug`` or ``LOADCERT_DEBUG`` set to anything but empty, ``0``, ``false``, ``no``,
    ``off``."""
    if ns is not None and getattr(ns, "debug", False):
        return True
    value = os.environ.get(envvars.DEBUG, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def error(ns: argparse.Namespace, message: str, status: int) -> int:
    """Print ``<prog>: error: message`` to stderr and return ``status``."""
    print(f"{getattr(ns, 'prog', 'loadcert')}: error: {message}", file=sys.stderr, flush=True)
    return status


def log(ns: argparse.Namespace, message: str) -> None:
    """Progress and warnings: one line to stderr, prefixed with the command's name."""
    print(f"{getattr(ns, 'prog', 'loadcert')}: {message}", file=sys.stderr, flush=True)


def os_error(ns: argparse.Namespace, exc: OSError) -> int:
    """An I/O error as one line naming the file (exit 1).

    A failed rename names its target: for ``os.replace(tmp, path)`` in an atomic write,
    ``filename`` is the temporary file (already removed) and ``filename2`` the file asked for.
    """
    return error(ns, f"{exc.filename2 or exc.filename or ''}: {exc.strerror or exc}", EXIT_FAILED)


def add_evidence_dir(parser: argparse.ArgumentParser, required: bool = True) -> None:
    flag, metavar, text = envvars.EVIDENCE_DIR_OPTION
    parser.add_argument(flag, type=Path, required=required, metavar=metavar, help=text)


def add_certificate(parser: argparse.ArgumentParser) -> None:
    """``--certificate FILE``, and which run it must come from (``--session``,
    ``--not-before``)."""
    parser.add_argument(
        "--certificate",
        required=True,
        type=Path,
        metavar="FILE",
        help="certificate.json of the certification run",
    )
    parser.add_argument(
        "--session",
        metavar="ID",
        help="refuse a certificate that another certification session wrote (default: "
        f"${envvars.SESSION} when set, the session id the plugin writes on the certificate)",
    )
    parser.add_argument(
        "--not-before",
        metavar="TIME",
        help="refuse a certificate whose pytest session started before TIME (RFC 3339 UTC, "
        "for example the time the CI job started)",
    )


def add_profile(parser: argparse.ArgumentParser) -> None:
    flag, metavar, text = envvars.PROFILE_OPTION
    parser.add_argument(flag, type=Path, metavar=metavar, help=text)


def load_profile(ns: argparse.Namespace) -> Profile:
    """The profile, resolved as the pytest plugin resolves it from the current directory
    (:func:`pytest_loadcert.config.committed.profile_file`): ``--loadcert-profile``, else
    ``$LOADCERT_PROFILE``, else the ini key ``loadcert_profile`` of the configuration file
    pytest finds from here (walking up: ``pytest.ini``, ``tox.ini``, ``setup.cfg``,
    ``pyproject.toml``, ...), else ``[tool.loadcert]`` in the ``pyproject.toml`` beside it,
    else the built-in profile.
    """
    from pytest_loadcert.config.committed import (
        CommittedConfigError,
        locate,
        profile_file,
        pyproject_of,
    )
    from pytest_loadcert.config.load import load_profile as load
    from pytest_loadcert.config.profile import ProfileError

    start = Path.cwd()
    try:
        committed = locate(start)
    except CommittedConfigError as exc:
        raise ProfileError(str(exc)) from None
    path = profile_file(committed, ns.loadcert_profile, start)
    return load(path, pyproject_of(committed, start))


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
