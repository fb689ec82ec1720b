"""Connecting to the Kubernetes API as kubectl does, and keeping credentials out of messages.

Holds the client's configuration (kubeconfig, context or the pod's service account), every
credential value a message could echo, and the redaction of those values. Imports the
``kubernetes`` client only inside the functions that use it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.collect.base import CollectError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def api_client(
    kubeconfig: Path | None = None, context: str | None = None, in_cluster: bool = False
) -> ApiClient:
    """A client configured like kubectl: ``kubeconfig`` (default ``$KUBECONFIG``, else
    ``~/.kube/config``) and ``context`` (default its current context), or the pod's service
    account with ``in_cluster``. Proxies come from ``HTTPS_PROXY``/``NO_PROXY`` as for
    kubectl. Raises :class:`CollectError` (2) when no usable configuration is found."""
    import yaml
    from kubernetes import client

    # Loosely typed on purpose: typing differs between client versions (py.typed from 37 on).
    config: Any = importlib.import_module("kubernetes.config")
    configuration = client.Configuration()
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=str(kubeconfig) if kubeconfig is not None else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except config.ConfigException as exc:
        where = "in-cluster configuration" if in_cluster else f"kubeconfig {kubeconfig or ''}"
        raise CollectError(
            f"{where.strip()}: {one_line(str(exc))}", exit_status=cliopts.EXIT_USAGE
        ) from None
    except OSError as exc:
        raise CollectError(
            f"{exc.filename or kubeconfig}: {exc.strerror or exc}", exit_status=cliopts.EXIT_USAGE
        ) from None
    except yaml.YAMLError:
        raise CollectError(
            f"kubeconfig {kubeconfig or ''}: is not valid YAML", cliopts.EXIT_USAGE
        ) from None
    except UnicodeDecodeError:
        raise CollectError(
            f"kubeconfig {kubeconfig or ''}: is not UTF-8", cliopts.EXIT_USAGE
        ) from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # The client's loader assumes YAML maps and lists of the documented shape; any other
        # shape (a list at the top, `contexts: 5`, an unparsable server URL) fails inside it.
        # Only the exception's type is shown: its text could quote a value of the file.
        where = "in-cluster configuration" if in_cluster else f"kubeconfig {kubeconfig or ''}"
        raise CollectError(
            f"{where.strip()}: is not a valid kubeconfig: a field has the wrong type or value "
            f"({type(exc).__name__} in the kubernetes client's loader)",
            exit_status=cliopts.EXIT_USAGE,
        ) from None
    # The Authorization header, under "authorization" or (client 37) "BearerToken".
    headers = [v for v in configuration.api_key.values() if isinstance(v, str)]
    if any(ord(c) < 0x20 or ord(c) == 0x7F or ord(c) > 0xFF for h in headers for c in h):
        # http.client would refuse the header with an exception quoting the credential.
        where = "in-cluster token" if in_cluster else f"kubeconfig {kubeconfig or ''}".strip()
        raise CollectError(
            f"{where}: the user's credential holds a line break, a control character or a "
            "character outside Latin-1, which an HTTP header cannot carry; the value is not "
            "shown",
            exit_status=cliopts.EXIT_USAGE,
        )
    return client.ApiClient(configuration)


def credentials(configuration: Any) -> list[str]:
    """Every credential value of a client ``configuration`` that a message could echo: the
    ``Authorization`` header, its credential part and, for basic auth, the password."""
    import base64
    import binascii

    values: set[str] = set()
    for header in configuration.api_key.values():
        if not isinstance(header, str) or not header.strip():
            continue
        scheme, _, credential = header.partition(" ")
        values |= {header, credential.strip()}
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(credential.strip(), validate=True).decode("latin-1")
            except (binascii.Error, ValueError):
                pair = ""
            values.add(pair.partition(":")[2])
    return sorted((value for value in values if len(value) >= 4), key=len, reverse=True)


def redact_message(text: str, secrets: list[str]) -> str:
    """``text`` with every value of ``secrets`` (raw or JSON-escaped) replaced."""
    import json

    for secret in secrets:
        for form in (secret, json.dumps(secret)[1:-1]):
            text = text.replace(form, "[REDACTED]")
    return text


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def close(client: ApiClient) -> None:
    closer: Any = client.close
    closer()
