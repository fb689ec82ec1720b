"""The evidence bundle on disk (contract ``loadcert/v1``), loaded lazily and once.

Each file is read, parsed and validated the first time a gate asks for it; the parsed value
(or the :class:`EvidenceError` explaining why it is unusable) is cached, so a broken file
blocks exactly the gates that need it and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from pytest_loadcert.config.profile import ClusterSpec, MetricSpec
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.cluster import ClusterSnapshot, parse_cluster
from pytest_loadcert.evidence.cluster_relations import check_relations
from pytest_loadcert.evidence.hashing import sha256_bytes
from pytest_loadcert.evidence.integrity import compare_files, shown, unsafe_path_reason
from pytest_loadcert.evidence.jsonio import (
    parse_json,
    read_bytes,
    read_json,
)
from pytest_loadcert.evidence.k6 import K6Summary, parse_summary
from pytest_loadcert.evidence.layout import (
    CLUSTER,
    GRAFANA,
    MANIFEST,
    OTEL,
    PROMETHEUS_JSON,
    STAGE_JSON,
    STAGES,
    SUMMARY,
    SUMMARY_PREFIX,
    SUMMARY_SUFFIX,
    stage_dir,
    stage_file,
)
from pytest_loadcert.evidence.observability import GrafanaExport, Span, grafana_range, otel_spans
from pytest_loadcert.evidence.prometheus import PrometheusEvidence, parse_prometheus
from pytest_loadcert.evidence.prometheus_coverage import Coverage, check_coverage
from pytest_loadcert.evidence.schema import validate
from pytest_loadcert.evidence.shards import (
    ShardRecord,
    check_distinct_summaries,
    measurements,
    read_shard_records,
)
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.evidence.timeutil import parse_utc

T = TypeVar("T")


@dataclass(frozen=True)
class Manifest:
    """``loadcert.json``, validated."""

    rel: str
    raw: dict[str, Any]
    digest: str  # sha256 of the manifest's bytes: the bundle digest
    created_at: datetime
    cluster_collected_at: datetime | None  # None: the bundle records no cluster

    def __repr__(self) -> str:
        return f"<Manifest {self.rel} ({self.digest})>"

    @property
    def run_id(self) -> str:
        return str(self.raw["run_id"])

    @property
    def environment(self) -> str:
        return str(self.raw["environment"])

    @property
    def git(self) -> dict[str, Any]:
        return dict(self.raw["git"])

    @property
    def files(self) -> dict[str, str]:
        return dict(self.raw["files"])

    @property
    def images(self) -> list[dict[str, str]]:
        return list(self.raw["artifacts"]["images"])

    def artifact(self, key: str) -> dict[str, str]:
        """``artifacts.<key>`` (``k6_script`` or ``k8s_manifest``)."""
        return dict(self.raw["artifacts"][key])


def _segment_point(text: str) -> Fraction:
    if text.endswith("%"):
        return Fraction(text[:-1]) / 100
    return Fraction(text)


def check_shards(run: StageRun, files: list[str]) -> None:
    """Shard summaries count only as the disjoint execution segments of one run.

    Without this, one run stored twice (say, in both k6 formats) would add up to double
    the VUs and requests. ``stage.json`` must name every shard file with its
    ``--execution-segment``, and the segments must cover 0..1 exactly once.
    """
    if len(files) == 1 and files[0].endswith(f"/{SUMMARY}"):
        if run.shards:
            raise EvidenceError(run.rel, "shards", f"names shards, but the stage has one {SUMMARY}")
        return
    names = {rel.rsplit(f"/{SUMMARY_PREFIX}", 1)[1].removesuffix(SUMMARY_SUFFIX) for rel in files}
    if set(run.shards) != names:
        raise EvidenceError(
            run.rel,
            "shards",
            f"must name every shard summary with its execution segment; files: {sorted(names)}, "
            f"shards: {sorted(run.shards)}",
        )
    segments = []
    for name, text in sorted(run.shards.items()):
        start_text, _, end_text = text.partition(":")
        try:
            segments.append((_segment_point(start_text), _segment_point(end_text), name))
        except (ValueError, ZeroDivisionError):
            raise EvidenceError(
                run.rel, f"shards.{name}", f"is {text!r}, not an execution segment"
            ) from None
    position = Fraction(0)
    for start, end, name in sorted(segments):
        if start != position or end <= start:
            raise EvidenceError(
                run.rel,
                f"shards.{name}",
                "overlaps or leaves a gap: the segments must cover 0..1 exactly once",
            )
        position = end
    if position != 1:
        raise EvidenceError(run.rel, "shards", f"cover 0..{position}, not the whole run 0..1")


class Bundle:
    """An evidence directory; every accessor raises :class:`EvidenceError` when unusable."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"<Bundle {self.root}>"

    # ------------------------------------------------------------------ plumbing
    def _once(self, key: str, load: Callable[[], T]) -> T:
        if key not in self._cache:
            try:
                self._cache[key] = load()
            except EvidenceError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, EvidenceError):
            # A fresh exception each time: re-raising one instance would grow its traceback.
            raise EvidenceError(value.file, value.field, value.problem)
        return value  # type: ignore[return-value]

    def path(self, rel: str) -> Path:
        """The on-disk path of ``rel``; refuses a path that leaves the bundle."""
        reason = unsafe_path_reason(rel)
        if reason is not None:
            raise EvidenceError(rel, "", reason)
        target = self.root / rel
        root = self.root.resolve()
        try:
            resolved = target.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
            raise EvidenceError(rel, "", f"cannot be resolved ({exc})") from None
        if root != resolved and root not in resolved.parents:
            raise EvidenceError(rel, "", "resolves outside the bundle (symbolic link)")
        return target

    def read_json(self, rel: str) -> Any:
        return read_json(self.path(rel), rel)

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self.root / rel)

    # ------------------------------------------------------------------ files
    def manifest(self) -> Manifest:
        return self._once(MANIFEST, self._load_manifest)

    def _load_manifest(self) -> Manifest:
        if not self.root.is_dir():
            raise EvidenceError(str(self.root), "", "is not a directory")
        data = read_bytes(self.path(MANIFEST), MANIFEST)
        document = parse_json(data, MANIFEST)
        validate("loadcert", document, MANIFEST)
        created = parse_utc(document["created_at"])
        cluster = document["cluster"]
        collected = parse_utc(cluster["collected_at"]) if cluster is not None else None
        if created is None:
            raise EvidenceError(MANIFEST, "created_at", "is not a valid RFC 3339 UTC time")
        if cluster is not None and collected is None:
            raise EvidenceError(
                MANIFEST, "cluster.collected_at", "is not a valid RFC 3339 UTC time"
            )
        for rel in document["files"]:
            reason = unsafe_path_reason(rel)
            if reason is not None:
                raise EvidenceError(MANIFEST, f"files[{rel!r}]", reason)
        return Manifest(MANIFEST, document, sha256_bytes(data), created, collected)

    def stage_run(self, stage: str) -> StageRun:
        return self._once(f"run:{stage}", lambda: self._load_stage_run(stage))

    def _load_stage_run(self, stage: str) -> StageRun:
        rel = stage_file(stage, STAGE_JSON)
        if not self.exists(stage_dir(stage)):
            raise EvidenceError(stage_dir(stage), "", "is missing: the stage has no evidence")
        document = self.read_json(rel)
        validate("stage", document, rel)
        if document["stage"] != stage:
            raise EvidenceError(rel, "stage", f"is {document['stage']!r}, not {stage!r}")
        start = parse_utc(document["start_time"])
        end = parse_utc(document["end_time"])
        if start is None:
            raise EvidenceError(rel, "start_time", "is not a valid RFC 3339 UTC time")
        if end is None:
            raise EvidenceError(rel, "end_time", "is not a valid RFC 3339 UTC time")
        return StageRun(
            rel,
            stage,
            start,
            end,
            document["k6_exit_code"],
            document["k6_version"],
            document.get("target_vus"),
            document["start_time"],
            document["end_time"],
            dict(document.get("shards", {})),
            tuple(document["command"]),
            None if "k6_environment" not in document else tuple(document["k6_environment"]),
        )

    def summary_files(self, stage: str) -> list[str]:
        """``k6-summary.json``, or the shards ``k6-summary.<shard>.json`` (never both)."""
        directory = self.root / stage_dir(stage)
        if not directory.is_dir():
            raise EvidenceError(stage_dir(stage), "", "is missing: the stage has no evidence")
        names = sorted(
            entry.name
            for entry in os.scandir(directory)
            if entry.name.startswith(SUMMARY_PREFIX) and entry.name.endswith(SUMMARY_SUFFIX)
        )
        for name in names:
            if shown(name) != name:
                raise EvidenceError(
                    f"{stage_dir(stage)}/{shown(name)}", "", "has a file name that is not UTF-8"
                )
        single = SUMMARY in names
        if single and len(names) > 1:
            raise EvidenceError(stage_dir(stage), "", f"holds both {SUMMARY} and shard summaries")
        if not names:
            raise EvidenceError(stage_file(stage, SUMMARY), "", "is missing")
        return [f"{stage_dir(stage)}/{name}" for name in names]

    def summaries(self, stage: str) -> tuple[K6Summary, ...]:
        def load() -> tuple[K6Summary, ...]:
            files = self.summary_files(stage)
            check_shards(self.stage_run(stage), files)
            summaries = tuple(parse_summary(self.read_json(rel), rel) for rel in files)
            check_distinct_summaries(summaries)
            return summaries

        return self._once(f"k6:{stage}", load)

    def measured(self, stage: str) -> dict[str, str]:
        """What each summary of ``stage`` measured (:func:`measurements`) -> its file."""
        return self._once(
            f"measured:{stage}",
            lambda: {measurements(s): s.rel for s in self.summaries(stage)},
        )

    def shard_records(self, stage: str) -> dict[str, ShardRecord]:
        """``stages/<stage>/shard-<name>.json`` by shard name (empty when there are none)."""
        return self._once(
            f"shards:{stage}",
            lambda: read_shard_records(
                self.root / stage_dir(stage), stage_dir(stage), self.read_json
            ),
        )

    def coverage(self, stage: str, spec: MetricSpec, max_gap_s: float) -> Coverage | None:
        """:func:`check_coverage` of the stage's answer to ``spec``, once per bundle (the
        metric's gate, a stability ratio and the certificate all read it)."""

        def load() -> Coverage | None:
            evidence = self.prometheus(stage)
            record = evidence.queries.get(spec.name)
            if record is None:
                raise EvidenceError(
                    evidence.rel,
                    "queries",
                    f"has no query named {spec.name!r}: the metric is missing",
                )
            run = self.stage_run(stage)
            return check_coverage(record, spec, stage, run.start, run.end, max_gap_s, evidence.rel)

        return self._once(f"coverage:{stage}:{spec.name}:{spec.promql}:{max_gap_s!r}", load)

    def prometheus(self, stage: str) -> PrometheusEvidence:
        def load() -> PrometheusEvidence:
            rel = stage_file(stage, PROMETHEUS_JSON)
            evidence = parse_prometheus(self.read_json(rel), rel)
            if evidence.stage != stage:
                raise EvidenceError(rel, "stage", f"is {evidence.stage!r}, not {stage!r}")
            return evidence

        return self._once(f"prom:{stage}", load)

    def cluster(self) -> ClusterSnapshot:
        return self._once(CLUSTER, lambda: parse_cluster(self.read_json(CLUSTER), CLUSTER))

    def consistent_cluster(self, collected_at: datetime, spec: ClusterSpec) -> ClusterSnapshot:
        """:meth:`cluster`, checked against itself (:func:`check_relations`) for a collection
        at ``collected_at`` and the profile's certification objects, once per bundle (every
        cluster gate reads it; a contradiction blocks each of them with the same message)."""

        def load() -> ClusterSnapshot:
            snapshot = self.cluster()
            check_relations(
                snapshot,
                collected_at,
                spec.max_clock_skew_s,
                spec.deployments,
                spec.statefulsets,
                spec.services,
            )
            return snapshot

        return self._once(f"{CLUSTER}#consistent:{collected_at.isoformat()}:{spec!r}", load)

    def grafana(self) -> GrafanaExport:
        return self._once(GRAFANA, lambda: grafana_range(self.read_json(GRAFANA), GRAFANA))

    def otel(self) -> list[Span]:
        return self._once(OTEL, lambda: otel_spans(read_bytes(self.path(OTEL), OTEL), OTEL))

    # ------------------------------------------------------------------ shape
    def shape_problems(self, stage_names: tuple[str, ...], profile_source: str) -> list[str]:
        """What makes the whole run unjudgeable, said once before any gate: a directory that
        is not a sealed bundle, or stages the profile does not name (a bundle judged against
        the wrong profile)."""
        if not self.exists(MANIFEST):
            return [
                f"{self.root}: no {MANIFEST}; this is not a sealed evidence bundle "
                "(`loadcert seal` writes it)"
            ]
        stages = self.root / STAGES
        found = sorted(p.name for p in stages.iterdir() if p.is_dir()) if stages.is_dir() else []
        unnamed = [name for name in found if name not in stage_names]
        if not unnamed:
            return []
        return [
            f"{self.root}/stages: {', '.join(unnamed)} "
            f"{'is not a stage' if len(unnamed) == 1 else 'are not stages'} of the profile "
            f"{profile_source} ({', '.join(stage_names)}); judge the bundle with the profile "
            "it was run for (--loadcert-profile)"
        ]

    # ------------------------------------------------------------------ integrity
    def integrity_problems(self) -> list[str]:
        """Every difference between the manifest's ``files`` and the bundle on disk."""
        return [
            difference.problem() for difference in compare_files(self.root, self.manifest().files)
        ]
