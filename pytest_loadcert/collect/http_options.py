"""The HTTP options every HTTP collector shares (URL, credentials from the environment,
TLS, timeouts, retries), and :class:`~pytest_loadcert.collect.http.HttpSettings` built from
them. Credentials are named by environment variable, never given on the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.collect.http import (
    ENV_NAME_RE,
    HttpSettings,
    HttpUsageError,
    secret_from_env,
)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def env_name(text: str) -> str:
    """argparse type: an environment variable's name. The error never echoes the value."""
    if not ENV_NAME_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "expects the NAME of an environment variable (A-Z, 0-9, _), not a secret; "
            "the value given is not shown"
        )
    return text


def add_http_options(
    parser: argparse.ArgumentParser, *, token_option: str, token_help: str, retries: int = 3
) -> None:
    """Credentials, TLS, timeouts and retries, shared by the HTTP collectors."""
    group = parser.add_argument_group("HTTP: credentials, TLS, timeouts, retries")
    group.add_argument(
        token_option,
        dest="token_env",
        type=env_name,
        metavar="NAME",
        help=f"send `Authorization: Bearer <token>`, the token read from environment variable "
        f"NAME ({token_help}); never stored",
    )
    group.add_argument("--basic-auth-user", metavar="USER", help="HTTP basic auth user")
    group.add_argument(
        "--basic-auth-password-env",
        type=env_name,
        metavar="NAME",
        help="environment variable holding the basic-auth password; never stored",
    )
    group.add_argument(
        "--ca-cert",
        type=Path,
        metavar="FILE",
        help="PEM file of the CA(s) that signed the server's certificate",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the server's TLS certificate (warned about; prefer --ca-cert)",
    )
    group.add_argument(
        "--connect-timeout-s",
        type=cliopts.positive_float,
        default=5.0,
        metavar="S",
        help="seconds to wait for a connection (default 5)",
    )
    group.add_argument(
        "--read-timeout-s",
        type=cliopts.positive_float,
        default=30.0,
        metavar="S",
        help="seconds to wait for an answer (default 30)",
    )
    group.add_argument(
        "--retries",
        type=cliopts.non_negative_int,
        default=retries,
        metavar="N",
        help=f"retries on connection errors, timeouts, 429 and 5xx (default {retries})",
    )
    group.add_argument(
        "--retry-backoff-s",
        type=_non_negative_float,
        default=0.5,
        metavar="S",
        help="exponential backoff factor between retries (default 0.5: 0, 1, 2, 4 s ...); "
        "a Retry-After header is honoured instead, up to 30 s",
    )


def settings_from_args(
    ns: argparse.Namespace, *, token_option: str, pool_size: int = 10
) -> HttpSettings:
    """:class:`HttpSettings` from the options of :func:`add_http_options`.

    Raises :class:`HttpUsageError` for a credential variable that is unset or empty,
    conflicting options, or a missing CA file.
    """
    if ns.insecure and ns.ca_cert is not None:
        raise HttpUsageError("--insecure and --ca-cert contradict each other; choose one")
    if ns.ca_cert is not None and not ns.ca_cert.is_file():
        raise HttpUsageError(f"--ca-cert {ns.ca_cert}: not a file")
    if (ns.basic_auth_user is None) != (ns.basic_auth_password_env is None):
        raise HttpUsageError("--basic-auth-user and --basic-auth-password-env go together")
    if ns.token_env is not None and ns.basic_auth_user is not None:
        raise HttpUsageError(f"{token_option} and --basic-auth-user: choose one way to log in")
    token = secret_from_env(ns.token_env, token_option) if ns.token_env else None
    password = (
        secret_from_env(ns.basic_auth_password_env, "--basic-auth-password-env")
        if ns.basic_auth_password_env
        else None
    )
    return HttpSettings(
        connect_timeout_s=ns.connect_timeout_s,
        read_timeout_s=ns.read_timeout_s,
        retries=ns.retries,
        backoff_s=ns.retry_backoff_s,
        pool_size=pool_size,
        ca_cert=ns.ca_cert,
        insecure=ns.insecure,
        bearer_token=token,
        basic_user=ns.basic_auth_user,
        basic_password=password,
    )
