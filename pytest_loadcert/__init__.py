"""pytest-loadcert: load-test certification as pytest tests.

The plugin (:mod:`pytest_loadcert.plugin.hooks`) turns an evidence bundle into a verdict;
the subpackages beside it hold the pytest-free core (``evidence``, ``gates``, ``certify``)
and the ``loadcert`` command line (``collect``, ``run``, ``report``, ``demo``). README
"Repository layout" draws them and the direction of their imports.

What a team writing its own gates imports is here, and only here (docs/writing-gates.md)::

    from pytest_loadcert import EvidenceError, GateResult, peak_active_vus

Each name is loaded when first used, so ``import pytest_loadcert`` (and the ``loadcert``
command's ``--help``) imports nothing else of the package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The gate author's names, and the module each one lives in.
_PUBLIC = {
    "__version__": "pytest_loadcert.version",
    "EvidenceError": "pytest_loadcert.errors",
    "GateResult": "pytest_loadcert.gates.result",
    "Bundle": "pytest_loadcert.evidence.bundle",
    "StageRun": "pytest_loadcert.evidence.stage",
    "K6Summary": "pytest_loadcert.evidence.k6",
    "LoadSummary": "pytest_loadcert.evidence.load",
    "MetricSample": "pytest_loadcert.evidence.prometheus",
    "ClusterSnapshot": "pytest_loadcert.evidence.cluster",
    "Profile": "pytest_loadcert.config.profile",
    "StageSpec": "pytest_loadcert.config.profile",
    "PrometheusLookup": "pytest_loadcert.gates.prometheus",
    "peak_active_vus": "pytest_loadcert.evidence.load",
    "request_count": "pytest_loadcert.evidence.load",
    "failed_requests": "pytest_loadcert.evidence.load",
}
__all__ = [
    "Bundle",
    "ClusterSnapshot",
    "EvidenceError",
    "GateResult",
    "K6Summary",
    "LoadSummary",
    "MetricSample",
    "Profile",
    "PrometheusLookup",
    "StageRun",
    "StageSpec",
    "__version__",
    "failed_requests",
    "peak_active_vus",
    "request_count",
]

if TYPE_CHECKING:  # for type checkers only; at run time __getattr__ loads each name
    from pytest_loadcert.config.profile import Profile, StageSpec
    from pytest_loadcert.errors import EvidenceError
    from pytest_loadcert.evidence.bundle import Bundle
    from pytest_loadcert.evidence.cluster import ClusterSnapshot
    from pytest_loadcert.evidence.k6 import K6Summary
    from pytest_loadcert.evidence.load import (
        LoadSummary,
        failed_requests,
        peak_active_vus,
        request_count,
    )
    from pytest_loadcert.evidence.prometheus import MetricSample
    from pytest_loadcert.evidence.stage import StageRun
    from pytest_loadcert.gates.prometheus import PrometheusLookup
    from pytest_loadcert.gates.result import GateResult
    from pytest_loadcert.version import __version__


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_loadcert' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
