"""The certificate as a typed object: what ``certificate.json`` holds, field by field.

:func:`pytest_loadcert.certify.certificate.build` makes a :class:`Certificate`,
:func:`pytest_loadcert.certify.read.read_certificate` reads one back (schema-valid and
consistent), and every reader of a certificate (the reports, the in-toto Statement, the
pytest-html summary, ``loadcert verify``) takes one, so a type checker holds each of them
to these fields. The JSON Schema ``evidence/schemas/certificate.schema.json`` is the same
contract for other tools; a test keeps the two in step. Imports only ``status``.
"""

# No ``from __future__ import annotations``: TypedDict reads NotRequired from real
# annotations only, and the required keys must match the schema's.
from typing import Any, NotRequired, TypedDict

from pytest_loadcert.status import GateStatus, VerdictWord


class Thresholds(TypedDict):
    """The profile's k6 bounds the run was judged by."""

    p95_ms_max: float
    p99_ms_max: float
    http_req_failed_max: float
    checks_min: float
    min_requests: int


class Image(TypedDict):
    name: str
    digest: str


class Bindings(TypedDict):
    """What the certificate is bound to: the commit, the artifacts, the bundle, the profile."""

    git_sha: str | None
    git_ref: str | None
    git_dirty: bool | None
    expected_git_sha: str | None
    k6_script_sha256: str | None
    k8s_manifest_sha256: str | None
    images: list[Image]
    bundle_sha256: str | None
    profile_sha256: str


class Invocation(TypedDict):
    """The pytest run that wrote the certificate."""

    args: list[str]
    pytest_addopts: str | None
    dir: str
    started_at: str
    session: str


class RunLevel(TypedDict):
    """The run-level gates' verdict, which can hold every stage back."""

    verdict: VerdictWord
    reason: str | None


class StageMetric(TypedDict):
    """One critical Prometheus metric of a stage, as observed, with its bounds."""

    name: str
    value: float | None
    min: float | None
    max: float | None
    promql: str | None


class StageEntry(TypedDict):
    """One stage's verdict and the figures a reviewer reads (null: not measured)."""

    name: str
    verdict: VerdictWord
    stage_gates_verdict: NotRequired[VerdictWord]
    required_active_vus: int
    start: str | None
    end: str | None
    duration_s: float | None
    peak_active_vus: int | None
    requests: int | None
    rps: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    checks_rate: float | None
    data_received_bytes_per_s: float | None
    shards: NotRequired[dict[str, str] | None]
    metrics: list[StageMetric]


class GateEntry(TypedDict):
    """One gate's outcome, as the junit testcase carries it."""

    id: str
    gate: str
    stage: str | None
    subject: str | None
    status: GateStatus
    message: str
    observed: str
    required: str
    samples: str
    source: str
    nodeid: str


class Certificate(TypedDict):
    """``certificate.json``."""

    schema: str
    verdict: VerdictWord
    exit_status: int
    loadcert_version: str
    generated_at: str
    run_id: str | None
    environment: str | None
    evidence_dir: str
    profile_source: str
    #: Every profile value the gates judged by (defaults filled in); hashes to
    #: ``bindings.profile_sha256``.
    profile: dict[str, Any]
    target_concurrency: int
    thresholds: Thresholds
    bindings: Bindings
    not_required: list[str]
    invocation: NotRequired[Invocation]
    run_level: NotRequired[RunLevel]
    highest_certified_stage: str | None
    stages: list[StageEntry]
    not_run: list[str]
    problems: list[str]
    gates: list[GateEntry]
    #: Team gate files and loaded conftest.py files -> digest (absent in older certificates).
    gate_files: NotRequired[dict[str, str]]
    evidence_files: dict[str, str]
