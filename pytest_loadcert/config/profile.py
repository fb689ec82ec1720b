"""The certification profile as the gates read it: stages, bounds, metrics, cluster, waivers.

The typed, validated :class:`Profile` and its parts; :mod:`.load` builds one from TOML
over :data:`~pytest_loadcert.config.defaults.DEFAULT_PROFILE`. Thresholds and queries live
in the certifying repository, never in the bundle being judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

STAGE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
GATE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

BUILTIN_SOURCE = "<built-in profile>"


class ProfileError(Exception):
    """The profile is unusable; the message names the file and the key."""


@dataclass(frozen=True)
class StageSpec:
    """One stage of the ramp, in order."""

    name: str
    min_active_vus: int


@dataclass(frozen=True)
class K6Bounds:
    """Bounds judged on each stage's k6 summary."""

    p95_ms_max: float
    p99_ms_max: float
    http_req_failed_max: float
    checks_min: float
    min_requests: int
    duration_tolerance_s: float
    eval_delay_max_s: float
    #: The share of scheduled iterations k6 may drop (``dropped_iterations``); default 0.
    dropped_iterations_max: float = 0.0


#: A stage-window range in a metric's PromQL: ``[{window}]`` (or a subquery's
#: ``[{window}:<step>]``, which the profile refuses). Each is asked with ``@ <stage end>``
#: after its bracket, so the range covers the stage window exactly, whenever it is evaluated.
WINDOW_RANGE_RE = re.compile(r"\[\{window\}(:[^\[\]]*)?\]")
#: A selector in front of ``[{window}]``: the series whose samples cover the window.
WINDOW_SELECTOR_RE = re.compile(
    r"([A-Za-z_:][A-Za-z0-9_:]*\s*(?:\{(?:[^{}]|\{stage\})*\})?|\{(?:[^{}]|\{stage\})*\})"
    r"\s*\[\{window\}\]"
)


@dataclass(frozen=True)
class MetricSpec:
    """A critical Prometheus metric, queried per stage window."""

    name: str
    promql: str
    min: float | None
    max: float | None

    def query_for(self, stage: str, window: str, at: str) -> str:
        """The PromQL as it must have been asked for ``stage``: every ``[{window}]`` becomes
        ``[<window>] @ <at>`` (the stage's duration, ending at the stage's end)."""
        ranged = WINDOW_RANGE_RE.sub(lambda m: f"[{window}{m.group(1) or ''}] @ {at}", self.promql)
        return ranged.replace("{stage}", stage)

    def _window_selectors(self) -> dict[str, bool]:
        """Each series selector read over the stage window (``x{a="b"}`` of
        ``x{a="b"}[{window}]``), once, in order, and whether ``increase``, ``rate`` or
        ``irate`` reads it somewhere."""
        found: dict[str, bool] = {}
        for match in WINDOW_SELECTOR_RE.finditer(self.promql):
            selector = re.sub(r"\s+(?=\{)", "", match.group(1).strip())
            before = self.promql[: match.start()].rstrip()
            counter = re.search(r"\b(increase|rate|irate)\s*\($", before) is not None
            found[selector] = found.get(selector, False) or counter
        return found

    @property
    def selectors(self) -> tuple[str, ...]:
        """The series selectors read over the stage window, each once, in order: what the
        collector records the samples of, for coverage."""
        return tuple(self._window_selectors())

    @property
    def counter_selectors(self) -> tuple[str, ...]:
        """The selectors read by ``increase``, ``rate`` or ``irate`` over the window: counters,
        whose first value Prometheus does not count."""
        return tuple(s for s, counter in self._window_selectors().items() if counter)

    def coverage_query(self, selector: str, stage: str, window: str, at: str) -> str:
        """The instant query that returns ``selector``'s raw samples over the stage window."""
        return f"{selector}[{window}] @ {at}".replace("{stage}", stage)


@dataclass(frozen=True)
class ObservabilitySpec:
    """The system the Grafana and OpenTelemetry exports must be about."""

    #: The uid of the dashboard the Grafana export must be.
    grafana_dashboard_uid: str = ""
    #: ``service.name`` of the resources whose spans count; each must have a span per stage.
    otel_services: tuple[str, ...] = ()
    #: The resource's ``k8s.namespace.name`` (else ``service.namespace``).
    otel_namespace: str = ""
    #: The resource's ``deployment.environment.name`` (else ``deployment.environment``).
    otel_environment: str = ""


@dataclass(frozen=True)
class PrometheusBounds:
    """How completely the Prometheus answers must cover each stage window."""

    #: The longest stretch of a stage window without a sample of a critical metric's series
    #: (between two samples, or at either end of the window).
    max_gap_s: float = 30.0


@dataclass(frozen=True)
class StabilitySpec:
    """A derived ratio ``(total - dropped) / total`` over two metrics, per stage."""

    name: str
    total: str
    dropped: str
    min: float


@dataclass(frozen=True)
class ClusterSpec:
    """The certification workloads in the live cluster snapshot."""

    required: bool
    namespace: str
    deployments: tuple[str, ...]
    statefulsets: tuple[str, ...]
    hpas: tuple[str, ...]
    pdbs: tuple[str, ...]
    services: tuple[str, ...]
    max_snapshot_age_s: float
    #: How far the cluster's clocks (API server, kubelets) may run ahead of the collector's:
    #: no time an object of the snapshot carries may pass its collection by more.
    max_clock_skew_s: float = 5.0


_CONCURRENCY = (
    "it is the concurrency the certificate claims, and a waiver would let it claim a load "
    "that was not measured"
)
_SCHEDULE = (
    "it says the schedule's load was generated; the share k6 may drop is "
    "k6.dropped_iterations_max, stated in the profile"
)
_BINDING = (
    "it binds the certificate to what was measured and built, and a waiver would let it "
    "certify evidence or a build it does not match"
)

#: Gates no waiver may name, and why: the concurrency gates are what the certificate's
#: sentence says ("certified for N concurrent users"); the binding gates are what the sentence
#: is about (this bundle, this commit, this script and manifest, these images).
UNWAIVABLE_GATES: dict[str, str] = {
    "observed_concurrency": _CONCURRENCY,
    "achieved_concurrency": _CONCURRENCY,
    "dropped_iterations": _SCHEDULE,
    "bundle_integrity": _BINDING,
    "artifact_binding": _BINDING,
    "git_binding": _BINDING,
    "image_binding": _BINDING,
}


@dataclass(frozen=True)
class Waiver:
    """An accepted exception for one gate (and stage); never reported as passed."""

    gate: str
    stage: str | None
    subject: str | None
    owner: str
    reason: str
    expires: date

    def matches(self, gate: str, stage: str | None, subject: str | None) -> bool:
        """True when this waiver names ``gate`` for ``stage`` (and ``subject`` if given)."""
        if self.gate != gate or self.stage != stage:
            return False
        return self.subject is None or self.subject == subject

    def expired(self, today: date) -> bool:
        """A waiver is valid up to the day before ``expires``."""
        return today >= self.expires


def canonical_json(values: object) -> str:
    """``values`` as the canonical JSON :func:`profile_digest` hashes (sorted keys, no
    spaces; TOML dates as their text)."""
    import json

    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)


def profile_digest(canonical: str) -> str:
    """The profile's digest: sha256 of its canonical JSON."""
    import hashlib

    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Profile:
    """The resolved, validated profile."""

    source: str
    target_concurrency: int
    stages: tuple[StageSpec, ...]
    k6: K6Bounds
    metrics: tuple[MetricSpec, ...]
    stability: tuple[StabilitySpec, ...]
    cluster: ClusterSpec
    grafana: bool
    otel: bool
    waivers: tuple[Waiver, ...]
    prometheus: PrometheusBounds = PrometheusBounds()
    observability: ObservabilitySpec = ObservabilitySpec()
    #: Every value the gates judge by, defaults filled in, as canonical JSON: what ``digest``
    #: hashes, and what the certificate carries (``profile``) so a reviewer sees each one.
    canonical: str = field(compare=False, default="{}")

    @property
    def digest(self) -> str:
        """The profile's binding: :func:`profile_digest` of :attr:`canonical`."""
        return profile_digest(self.canonical)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Stage names in ramp order."""
        return tuple(stage.name for stage in self.stages)

    def stage(self, name: str) -> StageSpec:
        """The stage called ``name``."""
        for spec in self.stages:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def metric(self, name: str) -> MetricSpec:
        """The metric called ``name``."""
        for spec in self.metrics:
            if spec.name == name:
                return spec
        raise KeyError(name)
