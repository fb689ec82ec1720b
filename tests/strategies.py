"""Hypothesis strategies, bundle mutations and a core verdict harness for the property tests.

* :func:`bundle_configs` draws a valid bundle for the built-in profile: each stage's k6
  summary in either real format, optionally one stage split into shards, a Grafana
  dashboard or snapshot export. :func:`base_files` builds it with ``tests/bundlefactory.py``.
* :data:`MUTATIONS` breaks one gate's input each: a measured violation, invalid or missing
  evidence, a broken binding. Each draws its own details (stage, metric, value) and names
  the gates that must then not pass, and the verdict it must give.
* :func:`core_outcomes` runs every built-in gate the way ``builtin_gates.py`` does, on the
  pytest-free core (``gates``, ``runtime_gates``, a :class:`Bundle`), so properties can run
  thousands of examples; ``verdict.decide`` turns the outcomes into the verdict. Tests
  check it against the real plugin on every named variant and on random mutations.
* :func:`json_values` and :func:`mutate_json` are the fuzzers' inputs.

Example counts are per property, in :data:`EXAMPLES`: the ``ci`` hypothesis profile
(``tests/conftest.py``; ``.ci/run`` selects it) runs them as they are, the default ``quick``
profile a twentieth of them (the inner loop), ``HYPOTHESIS_PROFILE=long`` twenty times over.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bundlefactory as bf
from hypothesis import note, reject
from hypothesis import strategies as st

import pytest_loadcert.gates as gates
import pytest_loadcert.gates as runtime_gates
from pytest_loadcert.certify.verdict import FAILED, GATE_BLOCKED, PASSED, Outcome, Verdict, decide
from pytest_loadcert.config.load import profile_from_mapping
from pytest_loadcert.config.profile import BUILTIN_SOURCE, Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.gates.catalogue import GATES, GateKey, expected_builtin, subjects

Files = dict[str, Any]

#: Examples per property in the ``ci`` profile (``quick``: a twentieth, ``long``: twenty times).
EXAMPLES = {
    "decide_never_certifies_an_incomplete_matrix": 2000,
    "decide_dominance": 2000,
    "decide_order_invariant": 1000,
    "core_mutation_never_certified": 1000,
    "core_order_invariant": 400,
    "core_seal_round_trip": 250,
    "core_cluster_relation_never_certified": 100,
    "e2e_mutation_never_certified": 40,
    "e2e_deletion_blocked": 40,
    "e2e_order_invariant": 30,
    "e2e_seal_round_trip": 20,
    "e2e_xdist_invariant": 4,
    "fuzz_bytes_parse_json": 1500,
    "fuzz_json_documents": 600,
    "fuzz_mutated_k6": 800,
    "fuzz_mutated_prometheus": 600,
    "fuzz_mutated_cluster": 400,
    "fuzz_mutated_observability": 500,
    "fuzz_profile": 500,
}
#: How the active hypothesis profile (tests/conftest.py) scales :data:`EXAMPLES`: ``quick``
#: (the default, the inner loop) a twentieth, ``ci`` (what ``.ci/run`` runs) as they are,
#: ``long`` twenty times over.
SCALES = {"quick": 0.05, "ci": 1, "long": 20}
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "quick")


def examples(name: str) -> int:
    """The number of examples property ``name`` runs under the active profile."""
    return max(1, round(EXAMPLES[name] * SCALES[PROFILE_NAME]))


PROFILE: Profile = profile_from_mapping({}, BUILTIN_SOURCE)
STAGE_NAMES: tuple[str, ...] = tuple(name for name, _ in bf.STAGES)
MIN_VUS = dict(bf.STAGES)
METRIC_BOUNDS = {name: (kind, bound) for name, _t, kind, bound in bf.METRICS}
SUCCESS_TREND = "http_req_duration{expected_response:true}"
EXIT = {"certified": 0, "not_certified": 1, "blocked": 2}

# --------------------------------------------------------------------------- valid bundles


@dataclass(frozen=True)
class Config:
    """Which valid bundle to build: formats per stage, one sharded stage, Grafana kind."""

    formats: tuple[str, ...]  # one per stage, in STAGE_NAMES order
    sharded: tuple[str, int] | None
    grafana: str

    def describe(self) -> str:
        formats = ",".join("hs" if f == bf.HANDLESUMMARY else "ex" for f in self.formats)
        return f"formats={formats} shards={self.sharded} grafana={self.grafana}"


DEFAULT_CONFIG = Config(tuple(bf.DEFAULT_FORMATS[s] for s in STAGE_NAMES), None, "dashboard")


@st.composite
def bundle_configs(draw: st.DrawFn) -> Config:
    """A valid bundle configuration: both k6 formats, shards, both Grafana exports."""
    formats = tuple(
        draw(st.sampled_from((bf.HANDLESUMMARY, bf.EXPORT)), label=f"format[{s}]")
        for s in STAGE_NAMES
    )
    sharded = draw(
        st.none() | st.tuples(st.sampled_from(STAGE_NAMES), st.sampled_from((2, 4, 5))),
        label="sharded",
    )
    grafana = draw(st.sampled_from(("dashboard", "snapshot")), label="grafana")
    return Config(formats, sharded, grafana)


@functools.cache
def _build(
    fmt: str, sharded: tuple[str, int] | None, grafana: str
) -> tuple[Files, dict[str, bytes]]:
    """One factory bundle with every stage in ``fmt`` (and its encoding)."""
    files = bf.bundle_files(
        formats=dict.fromkeys(STAGE_NAMES, fmt),
        shards=dict([sharded]) if sharded else None,
        grafana=grafana,
    )
    # k6 writes a rate as the float64 passes / (passes + fails); the factory rounds it to six
    # decimals, which the parser rightly rejects for some shard splits (624688 / 625000).
    for stage in STAGE_NAMES:
        for summary in bf.stage_summaries(files, stage):
            for name, entry in summary["metrics"].items():
                values = entry.get("values", entry)
                if "passes" in values:
                    set_rate(summary, name, values["passes"], values["fails"])
    return files, {rel: bf.encode(value) for rel, value in files.items() if rel != bf.LOADCERT}


@functools.cache
def _base(config: Config) -> tuple[str, Files, dict[str, bytes]]:
    """The ``config`` bundle, assembled from factory bundles: each stage's files come from
    the bundle built in that stage's format (and shards); stages are independent there."""
    files: Files = {}
    data: dict[str, bytes] = {}
    for stage, fmt in zip(STAGE_NAMES, config.formats, strict=True):
        sharded = config.sharded if config.sharded and config.sharded[0] == stage else None
        part, part_bytes = _build(fmt, sharded, "dashboard")
        for rel in part:
            if rel.startswith(f"stages/{stage}/"):
                files[rel], data[rel] = part[rel], part_bytes[rel]
    common, common_bytes = _build(bf.HANDLESUMMARY, None, config.grafana)
    for rel in common:
        if not rel.startswith("stages/") and rel != bf.LOADCERT:
            files[rel], data[rel] = common[rel], common_bytes[rel]
    manifest = copy.deepcopy(common[bf.LOADCERT])
    manifest["files"] = {rel: bf.digest(data[rel]) for rel in sorted(data)}
    files[bf.LOADCERT] = manifest
    text = json.dumps({p: v.decode() if isinstance(v, bytes) else v for p, v in files.items()})
    return text, files, data


def base_files(config: Config) -> Files:
    """A fresh, sealed, valid files dict for ``config`` (built once, copied per call)."""
    files: Files = json.loads(_base(config)[0])  # a deep copy, fast
    for path in (bf.SCRIPT_PATH, bf.MANIFEST_PATH):
        files[path] = files[path].encode()
    return files


def encoded(files: Files, config: Config | None = None) -> dict[str, bytes]:
    """Every file as bytes, sealed as ``bundlefactory.seal_files`` seals (the manifest lists
    every other file's digest, and the artifacts' digests); ``files`` is left as it is.
    Files still equal to the ``config`` bundle's reuse its encoding: encoding is most of
    the cost of an example."""
    _, base, base_bytes = _base(config) if config is not None else ("", {}, {})
    data = {
        rel: base_bytes[rel] if rel in base and base[rel] == value else bf.encode(value)
        for rel, value in files.items()
        if rel != bf.LOADCERT
    }
    if bf.LOADCERT in files:
        manifest = copy.deepcopy(files[bf.LOADCERT])
        if isinstance(manifest, dict):
            for key in ("k6_script", "k8s_manifest"):
                entry = manifest["artifacts"][key]
                if entry["path"] in data:
                    entry["sha256"] = bf.digest(data[entry["path"]])
            manifest["files"] = {rel: bf.digest(data[rel]) for rel in sorted(data)}
        data[bf.LOADCERT] = bf.encode(manifest)
    return data


#: Examples write thousands of small bundles: in memory (tmpfs) when the machine has one.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A fresh directory for one example's bundle, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="loadcert-prop-", dir=SCRATCH))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_files(
    root: Path,
    files: Files,
    *,
    seal: bool = True,
    config: Config | None = None,
    rng: random.Random | None = None,
) -> Path:
    """Write ``files`` under ``root``, sealed unless ``seal`` is False. With ``rng``, every
    JSON object has its keys in random order and a random layout (the manifest records
    those bytes), and the files are created in random order."""
    if rng is not None:
        files = {
            rel: value
            if isinstance(value, bytes) or rel == bf.LOADCERT
            else shuffled_json(value, rng)
            for rel, value in files.items()
        }
    if seal:
        data = encoded(files, config)
    else:
        data = {
            rel: value if isinstance(value, bytes) else bf.encode(value)
            for rel, value in files.items()
        }
    if rng is not None and bf.LOADCERT in data:
        data[bf.LOADCERT] = shuffled_json(json.loads(data[bf.LOADCERT]), rng)
    root.mkdir(parents=True, exist_ok=True)
    paths = sorted(data)
    if rng is not None:
        rng.shuffle(paths)
    for rel in paths:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[rel])
    return root


def _shuffle_keys(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffle_keys(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffle_keys(item, rng) for item in value]
    return value


def shuffled_json(value: Any, rng: random.Random) -> bytes:
    """``value`` as JSON with every object's keys in random order and a random layout."""
    indent = rng.choice((None, 0, 1, 2, 4, "\t"))
    separators = rng.choice(((",", ":"), (", ", ": "), (",", ": ")))
    text = json.dumps(_shuffle_keys(value, rng), indent=indent, separators=separators)
    return (text + rng.choice(("", "\n", "\r\n", "  \n"))).encode()


class _Entries:
    """What ``os.scandir`` returns (an iterator and context manager), in a chosen order."""

    def __init__(self, entries: list[os.DirEntry[str]]) -> None:
        self._iterator = iter(entries)

    def __iter__(self) -> _Entries:
        return self

    def __next__(self) -> os.DirEntry[str]:
        return next(self._iterator)

    def __enter__(self) -> _Entries:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


@contextmanager
def shuffled_directory_order(rng: random.Random) -> Iterator[None]:
    """Make ``os.scandir`` and ``os.listdir`` (and so ``os.walk``) list entries at random."""
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path: Any = ".") -> _Entries:
        with real_scandir(path) as iterator:
            entries = list(iterator)
        rng.shuffle(entries)
        return _Entries(entries)

    def listdir(path: Any = ".") -> list[Any]:
        names = real_listdir(path)
        rng.shuffle(names)
        return names

    os.scandir, os.listdir = scandir, listdir  # type: ignore[assignment]
    try:
        yield
    finally:
        os.scandir, os.listdir = real_scandir, real_listdir  # type: ignore[assignment]


# --------------------------------------------------------------------------- core harness


def core_outcomes(bundle: Bundle, profile: Profile = PROFILE) -> dict[GateKey, str]:
    """Every built-in gate's status, computed as ``builtin_gates.py`` computes it.

    ``passed`` / ``failed`` from the gate's result, ``blocked`` when evidence raised
    :class:`EvidenceError`. Any other exception propagates: it is a bug.
    """
    return {key: status for key, (status, _) in core_results(bundle, profile).items()}


def core_results(bundle: Bundle, profile: Profile = PROFILE) -> dict[GateKey, tuple[str, str]]:
    """Every built-in gate's (status, text): the result's message, or the evidence error."""
    out: dict[GateKey, tuple[str, str]] = {}

    def judge(key: GateKey, gate: Callable[[], gates.GateResult]) -> None:
        try:
            result = gate()
            out[key] = (PASSED if result.passed else FAILED, result.message())
        except EvidenceError as error:
            out[key] = (GATE_BLOCKED, str(error))

    def stage_evidence(stage: str) -> gates.GateResult:
        bundle.stage_run(stage)
        bundle.summaries(stage)
        bundle.prometheus(stage)
        return gates.GateResult(True, "", "", "", "")

    def critical(stage: str, name: str) -> gates.GateResult:
        bundle.stage_run(stage)
        sample = gates.metric_sample(bundle, profile, stage, name)
        return gates.critical_metric(sample, profile.metric(name), "window")

    def stability(stage: str, name: str) -> gates.GateResult:
        spec = next(s for s in profile.stability if s.name == name)
        total = gates.metric_sample(bundle, profile, stage, spec.total)
        dropped = gates.metric_sample(bundle, profile, stage, spec.dropped)
        return gates.stability(total, dropped, spec)

    k6 = bundle.summaries
    k6_bounds = profile.k6

    def snapshot() -> Any:
        return runtime_gates.fresh_snapshot(bundle, profile)

    def stage(key: GateKey) -> str:
        assert key.stage is not None
        return key.stage

    def subject(key: GateKey) -> str:
        assert key.subject is not None
        return key.subject

    # How each built-in gate is computed; which gates run, and over which stages and
    # subjects, is the catalogue's (expected_builtin).
    compute: dict[str, Callable[[GateKey], gates.GateResult]] = {
        "stage_evidence": lambda k: stage_evidence(stage(k)),
        "observed_concurrency": lambda k: gates.observed_concurrency(
            k6(stage(k)), profile, profile.stage(stage(k)).min_active_vus
        ),
        "dropped_iterations": lambda k: gates.scheduled_iterations(k6(stage(k)), profile),
        "requests_sent": lambda k: gates.requests_sent(k6(stage(k)), profile),
        "p95_latency": lambda k: gates.latency_percentile(
            k6(stage(k)), profile, "p(95)", k6_bounds.p95_ms_max
        ),
        "p99_latency": lambda k: gates.latency_percentile(
            k6(stage(k)), profile, "p(99)", k6_bounds.p99_ms_max
        ),
        "error_rate": lambda k: gates.error_rate(k6(stage(k)), profile),
        "checks_rate": lambda k: gates.checks_rate(k6(stage(k)), profile),
        "k6_thresholds": lambda k: gates.k6_thresholds(
            k6(stage(k)), profile, bundle.stage_run(stage(k))
        ),
        "stage_window": lambda k: gates.stage_window(bundle, profile, stage(k), k6(stage(k))),
        "critical_metric": lambda k: critical(stage(k), subject(k)),
        "stability": lambda k: stability(stage(k), subject(k)),
        "achieved_concurrency": lambda k: gates.achieved_concurrency(bundle, profile),
        "bundle_integrity": lambda k: gates.bundle_integrity(bundle),
        "artifact_binding": lambda k: gates.artifact_binding(bundle, subject(k)),
        "git_binding": lambda k: gates.git_binding(bundle, None),
        "cluster_snapshot": lambda k: runtime_gates.cluster_snapshot(bundle, profile),
        "workload_ready": lambda k: runtime_gates.workload_ready(snapshot(), subject(k)),
        "hpa_active": lambda k: runtime_gates.hpa(snapshot(), subject(k)),
        "pdb_healthy": lambda k: runtime_gates.pdb(snapshot(), subject(k)),
        "service_endpoints": lambda k: runtime_gates.service(snapshot(), subject(k)),
        "pod_readiness": lambda k: runtime_gates.pod_readiness(snapshot(), profile),
        "pod_continuity": lambda k: runtime_gates.pod_continuity(bundle, snapshot(), profile),
        "image_binding": lambda k: runtime_gates.image_binding(bundle, snapshot(), profile),
        "grafana_coverage": lambda k: runtime_gates.grafana_coverage(bundle, profile),
        "otel_coverage": lambda k: runtime_gates.otel_coverage(bundle, profile),
    }
    assert tuple(compute) == GATES, "the harness computes every catalogue gate, in its order"
    for key in expected_builtin(profile):
        judge(key, lambda k=key: compute[k.gate](k))
    return out


def core_verdict(
    statuses: dict[GateKey, str], profile: Profile = PROFILE, problems: list[str] | None = None
) -> Verdict:
    """``verdict.decide`` over the built-in matrix and these statuses."""
    outcomes = {key: Outcome(key, status) for key, status in statuses.items()}
    return decide(profile, expected_builtin(profile), outcomes, list(problems or []))


def judge_bundle(root: Path) -> tuple[dict[GateKey, str], str]:
    """Core statuses and the verdict of the bundle at ``root``."""
    statuses = core_outcomes(Bundle(root))
    return statuses, core_verdict(statuses).verdict


def certificate_statuses(certificate: dict[str, Any]) -> dict[GateKey, str]:
    """The built-in gates' statuses as a certificate.json records them."""
    return {GateKey(g["gate"], g["stage"], g["subject"]): g["status"] for g in certificate["gates"]}


# --------------------------------------------------------------------------- editing helpers


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def stage_doc(files: Files, stage: str) -> dict[str, Any]:
    value: dict[str, Any] = files[f"stages/{stage}/stage.json"]
    return value


def window(files: Files, stage: str) -> tuple[datetime, datetime]:
    doc = stage_doc(files, stage)
    return parse_time(doc["start_time"]), parse_time(doc["end_time"])


def summary_paths(files: Files, stage: str) -> list[str]:
    prefix = f"stages/{stage}/k6-summary."
    return sorted(p for p in files if p.startswith(prefix) and p.endswith(".json"))


def is_handlesummary(summary: dict[str, Any]) -> bool:
    return bf.summary_format(summary) == bf.HANDLESUMMARY


def set_rate(summary: dict[str, Any], name: str, passes: int, fails: int) -> None:
    """A Rate metric with k6's full-precision ratio (``passes`` counts non-zero samples)."""
    values = bf.metric(summary, name)
    total = passes + fails
    values["passes"], values["fails"] = passes, fails
    values["rate" if is_handlesummary(summary) else "value"] = passes / total if total else 0


def set_failed_requests(summary: dict[str, Any], failed: int, succeeded: int) -> None:
    """``http_req_failed`` and the success trend's count, as one set of requests gives them."""
    set_rate(summary, "http_req_failed", failed, succeeded)
    if SUCCESS_TREND in summary["metrics"]:
        trend = bf.metric(summary, SUCCESS_TREND)
        if "count" in trend:
            trend["count"] = succeeded
            if succeeded == 0:  # a trend of no samples is all zeros, as k6 writes it
                for key in trend:
                    trend[key] = 0


def set_checks(summary: dict[str, Any], passes: int, fails: int) -> None:
    """The ``checks`` rate and root_group's one check, as one set of check() calls gives them."""
    set_rate(summary, "checks", passes, fails)
    checks = summary["root_group"]["checks"]
    (only,) = checks if isinstance(checks, list) else checks.values()
    only.update(passes=passes, fails=fails)


def count(summary: dict[str, Any], name: str, key: str) -> int:
    value: int = bf.metric(summary, name)[key]
    return value


def certification_pods(files: Files) -> list[dict[str, Any]]:
    """Pods owned by a required Deployment (via its ReplicaSet) or StatefulSet."""
    cluster = PROFILE.cluster
    replica_sets = {
        rs["metadata"]["name"]
        for rs in bf.find_items(files, "ReplicaSet")
        for ref in rs["metadata"].get("ownerReferences", [])
        if ref["kind"] == "Deployment" and ref["name"] in cluster.deployments
    }
    return [
        pod
        for pod in bf.find_items(files, "Pod")
        for ref in pod["metadata"].get("ownerReferences", [])
        if (ref["kind"] == "ReplicaSet" and ref["name"] in replica_sets)
        or (ref["kind"] == "StatefulSet" and ref["name"] in cluster.statefulsets)
    ]


def _drop_items(files: Files, predicate: Callable[[dict[str, Any]], bool]) -> None:
    items = files[bf.CLUSTER_PATH]["items"]
    items[:] = [item for item in items if not predicate(item)]


# --------------------------------------------------------------------------- mutations


class Drawer:
    """``draw`` with the ``label`` keyword of ``st.data()``, for use inside ``@composite``."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def draw(self, strategy: st.SearchStrategy[Any], label: str | None = None) -> Any:
        value = self._draw(strategy)
        text = repr(value)
        if label is not None or len(text) <= 120:  # pods and summaries are too large to show
            note(f"{label or 'drew'}: {text[:200]}")
        return value


Apply = Callable[[Files, Drawer], tuple[GateKey, ...]]


@dataclass(frozen=True)
class Mutation:
    """A change that breaks a gate's input.

    ``apply`` edits a sealed files dict and returns the gates that must then not pass.
    ``expect`` is the verdict the bundle must get, or None for "anything but certified".
    ``reseal``: whether the manifest is rewritten afterwards (False for seal-breaking ones).
    """

    name: str
    expect: str | None
    apply: Apply
    reseal: bool = True


MUTATIONS: list[Mutation] = []


def mutation(name: str, expect: str | None, *, reseal: bool = True) -> Callable[[Apply], Apply]:
    def register(apply: Apply) -> Apply:
        MUTATIONS.append(Mutation(name, expect, apply, reseal))
        return apply

    return register


def _stage(data: Drawer) -> str:
    return data.draw(st.sampled_from(STAGE_NAMES), label="stage")


def _summary(files: Files, stage: str, data: Drawer) -> dict[str, Any]:
    summary: dict[str, Any] = files[data.draw(st.sampled_from(summary_paths(files, stage)))]
    return summary


def _metric_name(data: Drawer) -> str:
    return data.draw(st.sampled_from(sorted(METRIC_BOUNDS)), label="metric")


INVALID_NUMBERS = st.one_of(
    st.text(max_size=5),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


# -- k6: measured violations


@mutation("vus_below_requirement", "not_certified")
def _vus_below(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summaries = bf.stage_summaries(files, stage)
    index = data.draw(st.integers(0, len(summaries) - 1))
    others = sum(count(s, "vus", "max") for i, s in enumerate(summaries) if i != index)
    peak = data.draw(st.integers(0, MIN_VUS[stage] - others - 1), label="vus.max")
    bf.metric(summaries[index], "vus").update(max=peak, value=min(peak, 0))
    return (GateKey("observed_concurrency", stage),)


@mutation("latency_above_bound", "not_certified")
def _latency_high(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    stat, gate, bound = data.draw(
        st.sampled_from((("p(95)", "p95_latency", 300.0), ("p(99)", "p99_latency", 800.0)))
    )
    value = data.draw(
        st.floats(bound, 1e7, exclude_min=True, allow_nan=False) | st.integers(int(bound) + 1),
        label=stat,
    )
    trend = bf.metric(_summary(files, stage, data), SUCCESS_TREND)
    trend[stat] = value
    # One sample set: the statistics above it rise with it (p(95) <= p(99) <= max).
    for above in ("p(99)", "max")[(0 if stat == "p(95)" else 1) :]:
        trend[above] = max(trend[above], value)
    return (GateKey(gate, stage),)


@mutation("error_rate_above_bound", "not_certified")
def _error_rate_high(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summaries = bf.stage_summaries(files, stage)
    index = data.draw(st.integers(0, len(summaries) - 1))
    total_all = sum(
        count(s, "http_req_failed", "passes") + count(s, "http_req_failed", "fails")
        for s in summaries
    )
    failed_others = sum(
        count(s, "http_req_failed", "passes") for i, s in enumerate(summaries) if i != index
    )
    mine = summaries[index]
    total = count(mine, "http_req_failed", "passes") + count(mine, "http_req_failed", "fails")
    least = math.floor(PROFILE.k6.http_req_failed_max * total_all) - failed_others + 1
    failed = data.draw(st.integers(max(least, 1), total), label="failed requests")
    set_failed_requests(mine, failed, total - failed)
    return (GateKey("error_rate", stage),)


@mutation("checks_below_bound", "not_certified")
def _checks_low(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summaries = bf.stage_summaries(files, stage)
    total_all = sum(count(s, "checks", "passes") + count(s, "checks", "fails") for s in summaries)
    failed_others = sum(count(s, "checks", "fails") for s in summaries[1:])
    mine = summaries[0]
    total = count(mine, "checks", "passes") + count(mine, "checks", "fails")
    least = math.floor((1 - PROFILE.k6.checks_min) * total_all) - failed_others + 1
    failed = data.draw(st.integers(max(least, 1), total), label="failed checks")
    set_checks(mine, total - failed, failed)
    return (GateKey("checks_rate", stage),)


@mutation("iterations_dropped", "not_certified")
def _iterations_dropped(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """k6 dropped scheduled iterations (an arrival-rate executor without a free VU): the
    counter appears, its rate its count over the run's duration as k6 writes it."""
    stage = _stage(data)
    summary = _summary(files, stage, data)
    dropped = data.draw(st.integers(1, 10**9), label="dropped")
    if is_handlesummary(summary):
        seconds = summary["state"]["testRunDurationMs"] / 1000
    else:  # an export's run duration is what its requests counter gives
        requests = bf.metric(summary, "http_reqs")
        seconds = requests["count"] / requests["rate"]
    entry: dict[str, Any] = {"count": dropped, "rate": dropped / seconds}
    if is_handlesummary(summary):
        entry = {"type": "counter", "contains": "default", "values": entry}
    summary["metrics"]["dropped_iterations"] = entry
    return (GateKey("dropped_iterations", stage),)


@mutation("k6_threshold_failed", "not_certified")
def _threshold_failed(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summary = _summary(files, stage, data)
    name = data.draw(st.sampled_from(("http_req_duration", "http_req_failed", "checks", "vus")))
    expr = data.draw(st.sampled_from(("p(95)<300", "rate<0.001", "value<=1", "rate>0.999")))
    bf.set_threshold(summary, name, expr, ok=False)
    stage_doc(files, stage)["k6_exit_code"] = data.draw(st.sampled_from((99, 0)))
    return (GateKey("k6_thresholds", stage),)


# -- k6: invalid or missing evidence


@mutation("vus_invalid", "blocked")
def _vus_invalid(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summary = _summary(files, stage, data)
    how = data.draw(st.sampled_from(("negative", "fraction", "type", "no max", "no vus")))
    values = bf.metric(summary, "vus")
    if how == "negative":
        values["max"] = data.draw(st.integers(max_value=-1))
    elif how == "fraction":
        values["max"] = data.draw(st.floats(0, 1e9).filter(lambda v: v != int(v)))
    elif how == "type":
        values["max"] = data.draw(INVALID_NUMBERS)
    elif how == "no max":
        del values["max"]
    else:
        del summary["metrics"]["vus"]
    return (GateKey("observed_concurrency", stage),)


@mutation("no_requests", "blocked")
def _no_requests(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    drop = data.draw(st.booleans(), label="drop http_reqs")
    summaries = bf.stage_summaries(files, stage)
    if drop:
        del _summary(files, stage, data)["metrics"]["http_reqs"]
    else:
        for summary in summaries:
            bf.metric(summary, "http_reqs").update(count=0, rate=0)
    return (GateKey("requests_sent", stage), GateKey("p95_latency", stage))


@mutation("latency_invalid", "blocked")
def _latency_invalid(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summary = _summary(files, stage, data)
    stat, gate = data.draw(st.sampled_from((("p(95)", "p95_latency"), ("p(99)", "p99_latency"))))
    how = data.draw(st.sampled_from(("negative", "type", "no stat", "no trend")))
    values = bf.metric(summary, SUCCESS_TREND)
    if how == "negative":
        values[stat] = data.draw(st.floats(max_value=-1e-6, allow_infinity=False))
    elif how == "type":
        values[stat] = data.draw(INVALID_NUMBERS)
    elif how == "no stat":
        del values[stat]
    else:
        del summary["metrics"][SUCCESS_TREND]
    return (GateKey(gate, stage),)


@mutation("rate_inconsistent", "blocked")
def _rate_inconsistent(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summary = _summary(files, stage, data)
    name, gate = data.draw(
        st.sampled_from((("http_req_failed", "error_rate"), ("checks", "checks_rate")))
    )
    values = bf.metric(summary, name)
    key = "rate" if is_handlesummary(summary) else "value"
    passes, fails = values["passes"], values["fails"]
    how = data.draw(st.sampled_from(("ratio", "negative", "fraction", "missing")))
    if how == "ratio":
        expected = passes / (passes + fails)
        values[key] = data.draw(
            st.floats(0, 1).filter(lambda r: abs(r - expected) > 1e-6), label="ratio"
        )
    elif how == "negative":
        values["passes"] = data.draw(st.integers(max_value=-1))
    elif how == "fraction":
        values["fails"] = fails + 0.5
    else:
        del values[data.draw(st.sampled_from(("passes", "fails", key)))]
    return (GateKey(gate, stage),)


@mutation("checks_missing", "blocked")
def _checks_missing(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    del _summary(files, stage, data)["metrics"]["checks"]
    return (GateKey("checks_rate", stage),)


@mutation("k6_judgment_bent", "blocked")
def _judgment_bent(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """The recorded k6 command or environment carries an option that bends judgment or
    replaces the script's schedule (a bundle made by hand or by an older run-stage)."""
    stage = _stage(data)
    document = stage_doc(files, stage)
    where = data.draw(st.sampled_from(("command", "environment")))
    if where == "command":
        extra = data.draw(
            st.sampled_from(
                (
                    ["--no-thresholds"],
                    ["--vus", "10", "--duration", "3s"],
                    ["-qi3"],
                    ["--summary-trend-stats=avg,p(90)"],
                    ["--config", "mine.json"],
                    ["--system-tags", "status"],
                )
            ),
            label="options",
        )
        document["command"][2:2] = extra
    else:
        name = data.draw(
            st.sampled_from(("K6_THRESHOLDS", "K6_NO_THRESHOLDS", "K6_DURATION", "K6_CONFIG"))
        )
        document["k6_environment"] = sorted({*document.get("k6_environment", []), name})
    return (GateKey("k6_thresholds", stage),)


@mutation("stage_summary_copied", "blocked")
def _stage_summary_copied(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """A later stage's summary stands for an earlier stage of the same length (a copy): every
    figure of the earlier stage passes, and yet it never ran."""
    target, source = sorted(
        data.draw(
            st.lists(st.sampled_from(STAGE_NAMES[1:]), min_size=2, max_size=2, unique=True),
            label="stages",
        ),
        key=STAGE_NAMES.index,
    )
    copied = summary_paths(files, source)
    if len(copied) != 1 or len(summary_paths(files, target)) != 1:
        reject()  # sharded stages: the shard copies are the shards' own check
    files[summary_paths(files, target)[0]] = copy.deepcopy(files[copied[0]])
    return (GateKey("stage_window", target), GateKey("stage_window", source))


@mutation("k6_exit_code_nonzero", "blocked")
def _exit_code(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    stage_doc(files, stage)["k6_exit_code"] = data.draw(st.integers(1, 255), label="exit")
    return (GateKey("k6_thresholds", stage),)


@mutation("k6_duration_disagrees", "blocked")
def _duration(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """k6's own duration of the run (handleSummary's testRunDurationMs, an export's counters'
    count / rate) disagrees with the stage window; the summary stays one run's (every counter's
    rate is its count over the new duration), so only the window can catch it."""
    stage = _stage(data)
    path = data.draw(st.sampled_from(summary_paths(files, stage)))
    start, end = window(files, stage)
    seconds = (end - start).total_seconds()
    off = data.draw(st.floats(PROFILE.k6.duration_tolerance_s + 0.01, 1e6), label="off by s")
    sign = data.draw(st.sampled_from((1, -1))) if off < seconds else 1
    run_s = seconds + sign * off
    summary = files[path]
    if is_handlesummary(summary):
        summary["state"]["testRunDurationMs"] = run_s * 1000
    for entry in summary["metrics"].values():
        values = entry.get("values", entry)
        if set(values) - {"thresholds"} == {"count", "rate"}:
            values["rate"] = values["count"] / run_s
    return (GateKey("stage_window", stage),)


@mutation("figures_contradict", "blocked")
def _figures_contradict(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """One of two figures of one summary that count the same events changes alone (a script
    writing into a built-in metric, or an edit): the stage's k6 gates are blocked."""
    stage = _stage(data)
    summary = _summary(files, stage, data)
    extra = data.draw(st.integers(1, 10**6), label="extra samples")
    pair = data.draw(
        st.sampled_from(
            (
                "http_req_failed",
                "checks",
                "success_trend",
                "request_trend",
                "vus",
                "counter_rate",
            )
        ),
        label="pair",
    )
    if pair == "http_req_failed":  # vs http_reqs.count
        values = bf.metric(summary, "http_req_failed")
        key = data.draw(st.sampled_from(("passes", "fails")))
        set_rate(
            summary,
            "http_req_failed",
            values["passes"] + extra * (key == "passes"),
            values["fails"] + extra * (key == "fails"),
        )
    elif pair == "checks":  # vs root_group's check() calls
        values = bf.metric(summary, "checks")
        set_rate(summary, "checks", values["passes"] + extra, values["fails"])
    elif pair == "success_trend":  # vs http_req_failed.fails
        bf.metric(summary, SUCCESS_TREND)["count"] += extra
    elif pair == "request_trend":  # vs http_reqs.count
        name = data.draw(st.sampled_from(("http_req_duration", "http_req_waiting")))
        bf.metric(summary, name)["count"] += extra
    elif pair == "vus":  # vs vus_max.max
        values = bf.metric(summary, "vus")
        values["max"] = bf.metric(summary, "vus_max")["max"] + extra
    else:  # one counter's rate vs its count over the run's duration
        name = data.draw(st.sampled_from(("http_reqs", "iterations", "data_sent")))
        values = bf.metric(summary, name)
        values["rate"] = values["rate"] * data.draw(
            st.sampled_from((0.5, 2.0, 30.0, 1 / 30)), label="rate factor"
        )
    return (GateKey("error_rate", stage), GateKey("checks_rate", stage))


@mutation("summary_not_k6", "blocked")
def _summary_shape(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    summary = _summary(files, stage, data)
    how = data.draw(st.sampled_from(("extra top key", "metric type", "mixed shape", "no metrics")))
    if how == "extra top key":
        summary[data.draw(st.sampled_from(("thresholds", "data", "vus")))] = {}
    elif how == "metric type":
        if not is_handlesummary(summary):
            reject()
        summary["metrics"]["vus"]["type"] = data.draw(st.sampled_from(("Gauge", "", "histogram")))
    elif how == "mixed shape":
        if is_handlesummary(summary):
            summary["metrics"]["vus"]["thresholds"] = {"value>1": True}
        else:
            summary["metrics"]["vus"]["type"] = "gauge"
    else:
        summary["metrics"] = data.draw(st.sampled_from(({}, [], None)))
    return (GateKey("stage_evidence", stage),)


# -- stage windows


@mutation("window_inverted", "blocked")
def _window_inverted(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    start, end = window(files, stage)
    bf.set_stage_window(files, stage, end, start)
    return (GateKey("stage_window", stage),)


@mutation("window_overlaps_previous", "blocked")
def _window_overlap(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = data.draw(st.sampled_from(STAGE_NAMES[1:]))
    previous = STAGE_NAMES[STAGE_NAMES.index(stage) - 1]
    prev_start, prev_end = window(files, previous)
    start, end = window(files, stage)
    back = data.draw(st.integers(1, int((prev_end - prev_start).total_seconds())), label="s")
    new_start = prev_end - timedelta(seconds=back)
    bf.set_stage_window(files, stage, new_start, new_start + (end - start))
    return (GateKey("stage_window", stage),)


@mutation("stage_json_invalid", "blocked")
def _stage_json(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    doc = stage_doc(files, stage)
    how = data.draw(st.sampled_from(("time format", "stage name", "exit type", "unknown key")))
    if how == "time format":
        field = data.draw(st.sampled_from(("start_time", "end_time")))
        doc[field] = data.draw(
            st.sampled_from(
                (doc[field].replace("Z", "+00:00"), doc[field].replace("T", " "), "", 1777593600)
            )
        )
    elif how == "stage name":
        doc["stage"] = data.draw(st.sampled_from([s for s in STAGE_NAMES if s != stage]))
    elif how == "exit type":
        doc["k6_exit_code"] = data.draw(st.sampled_from(("0", None, -1, 256, 0.5)))
    else:
        doc["thresholds"] = {"p95_ms_max": 10**6}
    return (GateKey("stage_evidence", stage), GateKey("stage_window", stage))


# -- Prometheus


def _query(files: Files, data: Drawer) -> tuple[str, str, dict[str, Any]]:
    stage, name = _stage(data), _metric_name(data)
    return stage, name, bf.prometheus_query(files, stage, name)


@mutation("metric_outside_bound", "not_certified")
def _metric_violated(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage, name, _ = _query(files, data)
    kind, bound = METRIC_BOUNDS[name]
    if kind == "max":
        value = data.draw(st.floats(bound, bound + 1e9, exclude_min=True), label="value")
    else:
        value = data.draw(st.floats(bound - 1e9, bound, exclude_max=True), label="value")
    text = str(int(value)) if value == int(value) else repr(value)
    bf.set_sample(files, stage, name, text)  # the value, and series samples that give it
    return (GateKey("critical_metric", stage, name),)


@mutation("metric_sample_invalid", "blocked")
def _metric_invalid(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage, name, query = _query(files, data)
    sample = query["response"]["data"]["result"][0]["value"]
    sample[1] = data.draw(
        st.sampled_from(("NaN", "+Inf", "-Inf", "Inf", "nan", "-inf", "", "n/a", "1,5", "0x"))
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.none(),
        label="sample value",
    )
    return (GateKey("critical_metric", stage, name),)


@mutation("metric_answer_invalid", "blocked")
def _metric_answer(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage, name, query = _query(files, data)
    response = query["response"]
    how = data.draw(
        st.sampled_from(
            ("empty vector", "two series", "matrix", "error", "histogram", "no data", "string")
        )
    )
    result = response["data"]["result"]
    at = result[0]["value"][0]
    if how == "empty vector":
        result.clear()
    elif how == "two series":
        result.append({"metric": {"pod": "gateway-2"}, "value": [at, "0"]})
    elif how == "matrix":
        response["data"] = {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[at, result[0]["value"][1]]]}],
        }
    elif how == "error":
        query["response"] = {"status": "error", "errorType": "timeout", "error": "query timed out"}
    elif how == "histogram":
        result[0] = {"metric": {}, "histogram": [at, {"count": "1", "sum": "1", "buckets": []}]}
    elif how == "no data":
        del response["data"]
    else:
        response["data"] = {"resultType": "string", "result": [at, "0"]}
    return (GateKey("critical_metric", stage, name),)


@mutation("metric_query_not_the_profiles", "blocked")
def _metric_query(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage, name, query = _query(files, data)
    document = files[f"stages/{stage}/prometheus.json"]
    how = data.draw(st.sampled_from(("missing", "or vector(0)", "window", "whitespace")))
    if how == "missing":
        document["queries"].remove(query)
    elif how == "or vector(0)":
        query["promql"] += " or vector(0)"
    elif how == "window":
        seconds = data.draw(st.integers(1, 10**6), label="window s")
        start, end = window(files, stage)
        if abs(seconds - (end - start).total_seconds()) <= 1:
            reject()
        template = next(t for n, t, _k, _b in bf.METRICS if n == name)
        query["promql"] = template.replace("{window}", f"{seconds}s")
    else:
        query["promql"] = " " + query["promql"]
    return (GateKey("critical_metric", stage, name),)


@mutation("metric_evaluated_outside_window", "blocked")
def _metric_time(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage, name, query = _query(files, data)
    _, end = window(files, stage)
    if data.draw(st.booleans(), label="early"):
        at = end - timedelta(milliseconds=data.draw(st.integers(1, 86_400_000)))
    else:
        late = PROFILE.k6.eval_delay_max_s * 1000
        at = end + timedelta(milliseconds=data.draw(st.integers(int(late) + 1, 86_400_000)))
    query["time"] = bf.fmt_time(at)
    return (GateKey("critical_metric", stage, name),)


@mutation("prometheus_document_invalid", "blocked")
def _prometheus_doc(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    document = files[f"stages/{stage}/prometheus.json"]
    how = data.draw(st.sampled_from(("stage", "window", "duplicate", "unknown key", "collected")))
    if how == "stage":
        document["stage"] = data.draw(st.sampled_from([s for s in STAGE_NAMES if s != stage]))
    elif how == "window":
        field = data.draw(st.sampled_from(("start", "end")))
        shift = data.draw(st.integers(2, 10**6) | st.integers(-(10**6), -2), label="shift s")
        moment = parse_time(document["window"][field]) + timedelta(seconds=shift)
        document["window"][field] = bf.fmt_time(moment)
    elif how == "duplicate":
        document["queries"].append(copy.deepcopy(document["queries"][0]))
    elif how == "unknown key":
        document["thresholds"] = {"db_pool_saturation": 1.0}
    else:
        document["collected_at"] = document["window"]["end"]
    return tuple(GateKey("critical_metric", stage, m) for m in subjects(PROFILE, "metrics"))[:1]


@mutation("metric_series_not_covered", "blocked")
def _coverage_gap(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """A stretch of at least three scrapes (45 s, over max_gap_s = 30 s) of the window has no
    sample of one selector: a scrape gap, at the start, inside or at the end."""
    stage, name, query = _query(files, data)
    start, end = window(files, stage)
    inside = [
        t
        for t, _ in query["coverage"][0]["response"]["data"]["result"][0]["values"]
        if start.timestamp() <= t <= end.timestamp()
    ]
    length = data.draw(st.integers(3, len(inside)), label="samples removed")
    first = data.draw(st.integers(0, len(inside) - length), label="from")
    gone = set(inside[first : first + length])
    for series in query["coverage"][0]["response"]["data"]["result"]:
        series["values"] = [v for v in series["values"] if v[0] not in gone]
    return (GateKey("critical_metric", stage, name),)


@mutation("metric_counter_born_inside_window", "blocked")
def _counter_born(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """A labelled counter appears inside the window already above 0: increase() reads it as
    0, whatever it was born with."""
    stage = _stage(data)
    counters = sorted(n for n, t, _k, _b in bf.METRICS if "increase(" in t)
    name = data.draw(st.sampled_from(counters), label="counter")
    query = bf.prometheus_query(files, stage, name)
    start, end = window(files, stage)
    born = data.draw(st.integers(1, int((end - start).total_seconds())), label="born at +s")
    value = data.draw(st.integers(1, 10**6), label="born with")
    series = query["coverage"][0]["response"]["data"]["result"]
    stamps = [t for t in range(int(start.timestamp()) + born, int(end.timestamp()) + 1, 5)]
    labels = {**series[0]["metric"], "code": "500"}
    series.append({"metric": labels, "values": [[t, str(value)] for t in stamps]})
    return (GateKey("critical_metric", stage, name),)


@mutation("metric_answer_partial", "blocked")
def _metric_partial(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """Prometheus said the answer (or its coverage) is partial: success with warnings."""
    stage, name, query = _query(files, data)
    warning = data.draw(st.text(min_size=1, max_size=40), label="warning")
    target = query["response"]
    if data.draw(st.booleans(), label="in the coverage"):
        target = query["coverage"][0]["response"]
    target["warnings"] = [warning]
    return (GateKey("critical_metric", stage, name),)


@mutation("metric_answer_of_another_time", "blocked")
def _metric_restamped(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """The answer is stamped with another time than the record's (pasted from another
    query), or its coverage holds a sample outside the range it asked for."""
    stage, name, query = _query(files, data)
    shift = data.draw(st.integers(2, 10**9) | st.integers(-(10**9), -2), label="shift ms")
    if data.draw(st.booleans(), label="in the coverage"):
        values = query["coverage"][0]["response"]["data"]["result"][0]["values"]
        values.append([values[-1][0] + abs(shift) / 1000, "0"])
    else:
        sample = query["response"]["data"]["result"][0]["value"]
        sample[0] = sample[0] + shift / 1000
    return (GateKey("critical_metric", stage, name),)


@mutation("observability_of_another_system", "blocked")
def _other_system(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    """The Grafana export is another dashboard, or the spans' resource another service,
    namespace or environment than the profile names."""
    other = data.draw(st.text(min_size=1, max_size=20), label="other")
    if data.draw(st.booleans(), label="grafana"):
        dashboard = files[bf.GRAFANA_PATH]["dashboard"]
        if other == dashboard["uid"]:
            reject()
        dashboard["uid"] = other
        return (GateKey("grafana_coverage"),)
    key = data.draw(
        st.sampled_from(("service.name", "k8s.namespace.name", "deployment.environment")),
        label="attribute",
    )
    for resource in files[bf.OTEL_PATH]["resourceSpans"]:
        for attribute in resource["resource"]["attributes"]:
            if attribute["key"] == key:
                if attribute["value"]["stringValue"] == other:
                    reject()
                attribute["value"]["stringValue"] = other
    return (GateKey("otel_coverage"),)


# -- cluster


@mutation("workload_not_ready", "not_certified")
def _workload_not_ready(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    kind = data.draw(st.sampled_from(("Deployment", "StatefulSet")))
    names = PROFILE.cluster.deployments if kind == "Deployment" else PROFILE.cluster.statefulsets
    name = data.draw(st.sampled_from(names))
    item = bf.find_items(files, kind, name)[0]
    how = data.draw(st.sampled_from(("ready", "absent", "scaled to 0", "generation")))
    if how == "ready":
        # a pod of it stops being ready, and the controllers say so in every count
        pods = [p for p in certification_pods(files) if bf.owner_workload(files, p) == name]
        pod = data.draw(st.sampled_from(pods), label="pod")
        bf.make_container_not_ready(pod, pod["status"]["containerStatuses"][0]["name"])
        bf.reconcile(bf.k8s_items(files))
    elif how == "absent":
        # deleted with its ReplicaSets and pods, as a cascading delete leaves the namespace
        doomed = {id(item)} | {id(p) for p in bf._pods_of(files, name)}
        doomed |= {
            id(rs)
            for rs in bf.find_items(files, "ReplicaSet")
            if any(o["name"] == name for o in rs["metadata"].get("ownerReferences", []))
        }
        _drop_items(files, lambda i: id(i) in doomed)
        bf.reconcile(bf.k8s_items(files))
    elif how == "scaled to 0":
        item["spec"]["replicas"] = 0
    else:
        item["metadata"]["generation"] = item["status"].get("observedGeneration", 1) + 1
    return (GateKey("workload_ready", None, f"{kind.lower()}/{name}"),)


@mutation("pod_not_ready", "not_certified")
def _pod_not_ready(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
    how = data.draw(st.sampled_from(("phase", "condition", "container")))
    if how == "phase":
        pod["status"]["phase"] = data.draw(
            st.sampled_from(("Pending", "Failed", "Succeeded", "Unknown"))
        )
    elif how == "condition":
        for condition in pod["status"]["conditions"]:
            if condition["type"] == "Ready":
                condition["status"] = data.draw(st.sampled_from(("False", "Unknown")))
    else:
        status = data.draw(st.sampled_from(pod["status"]["containerStatuses"]))
        bf.make_container_not_ready(pod, status["name"])
    bf.reconcile(bf.k8s_items(files))
    return (GateKey("pod_readiness"),)


@mutation("cluster_object_missing", "not_certified")
def _object_missing(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    kind, gate, names = data.draw(
        st.sampled_from(
            (
                ("HorizontalPodAutoscaler", "hpa_active", PROFILE.cluster.hpas),
                ("PodDisruptionBudget", "pdb_healthy", PROFILE.cluster.pdbs),
                ("Service", "service_endpoints", PROFILE.cluster.services),
            )
        )
    )
    name = data.draw(st.sampled_from(names))
    _drop_items(files, lambda i: i["kind"] == kind and i["metadata"]["name"] == name)
    return (GateKey(gate, None, name),)


@mutation("cluster_object_unhealthy", "not_certified")
def _object_unhealthy(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    how = data.draw(st.sampled_from(("hpa", "pdb", "endpoints")), label="object")
    if how == "hpa":
        name = data.draw(st.sampled_from(PROFILE.cluster.hpas))
        item = bf.find_items(files, "HorizontalPodAutoscaler", name)[0]
        condition = data.draw(st.sampled_from(("AbleToScale", "ScalingActive")))
        for entry in item["status"]["conditions"]:
            if entry["type"] == condition:
                entry["status"] = "False"
        return (GateKey("hpa_active", None, name),)
    if how == "pdb":
        name = data.draw(st.sampled_from(PROFILE.cluster.pdbs))
        status = bf.find_items(files, "PodDisruptionBudget", name)[0]["status"]
        status["currentHealthy"] = data.draw(st.integers(0, status["desiredHealthy"] - 1))
        status["disruptionsAllowed"] = 0
        return (GateKey("pdb_healthy", None, name),)
    name = data.draw(st.sampled_from(PROFILE.cluster.services))
    for endpoints in bf.find_items(files, "Endpoints", name):
        for subset in endpoints.get("subsets", []):
            subset["notReadyAddresses"] = subset.pop("addresses", [])
    for slice_ in bf.find_items(files, "EndpointSlice"):
        if slice_["metadata"]["labels"].get("kubernetes.io/service-name") == name:
            # (an absent "ready" means ready to Kubernetes; only false is not ready)
            if data.draw(st.booleans(), label="no endpoints"):
                slice_["endpoints"] = []
            for endpoint in slice_["endpoints"]:
                endpoint["conditions"]["ready"] = False
    return (GateKey("service_endpoints", None, name),)


@mutation("image_not_bound", "blocked")
def _image(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
    status = data.draw(st.sampled_from(pod["status"]["containerStatuses"]))
    how = data.draw(st.sampled_from(("other digest", "no digest", "extra bound")))
    if how == "other digest":
        digest = "sha256:" + data.draw(st.text("0123456789abcdef", min_size=64, max_size=64))
        bound = {i["digest"] for i in bf.loadcert(files)["artifacts"]["images"]}
        if digest in bound:
            reject()
        status["imageID"] = status["imageID"].rsplit("@", 1)[0] + "@" + digest
    elif how == "no digest":
        status["imageID"] = data.draw(st.sampled_from(("", status["image"], "sha256:abc")))
    else:
        bf.loadcert(files)["artifacts"]["images"].append(
            {"name": "canary", "digest": "sha256:" + "ab" * 32}
        )
    return (GateKey("image_binding"),)


@mutation("snapshot_not_fresh_or_foreign", "blocked")
def _snapshot(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    manifest = bf.loadcert(files)
    last_end = max(window(files, s)[1] for s in STAGE_NAMES)
    how = data.draw(st.sampled_from(("stale", "early", "namespace", "item namespace", "no pods")))
    if how == "stale":
        late = PROFILE.cluster.max_snapshot_age_s + data.draw(st.integers(1, 10**6))
        manifest["cluster"]["collected_at"] = bf.fmt_time(last_end + timedelta(seconds=late))
    elif how == "early":
        early = data.draw(st.integers(1, 10**6))
        manifest["cluster"]["collected_at"] = bf.fmt_time(last_end - timedelta(seconds=early))
    elif how == "namespace":
        manifest["cluster"]["namespace"] = data.draw(st.sampled_from(("default", "shop-canary")))
    elif how == "item namespace":
        item = data.draw(st.sampled_from(bf.k8s_items(files)))
        if "namespace" not in item["metadata"]:
            reject()
        item["metadata"]["namespace"] = "kube-system"
    else:
        _drop_items(files, lambda i: i["kind"] == "Pod")
        return (GateKey("pod_readiness"), GateKey("image_binding"))
    return (GateKey("cluster_snapshot"),)


def _run_start(files: Files) -> datetime:
    return min(window(files, s)[0] for s in STAGE_NAMES)


def _moment(files: Files, data: Drawer, *, before_s: int = 20) -> datetime:
    """A moment from the first stage's start to shortly before the snapshot's collection."""
    start, end = _run_start(files), bf.collected_at(files) - timedelta(seconds=before_s)
    offset = data.draw(st.integers(0, int((end - start).total_seconds())), label="seconds in")
    return start + timedelta(seconds=offset)


@mutation("pod_did_not_hold", "not_certified")
def _pod_did_not_hold(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    how = data.draw(st.sampled_from(("restart", "late start", "readiness", "replaced")))
    if how == "replaced":
        # of any workload: an HPA's Deployment too, as its HPA scaled long before (or never)
        pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
        created = bf._parse_time(pod["metadata"]["creationTimestamp"])
        at = _moment(files, data, before_s=60)
        bf.shift_times(pod, at - created)
        workload = bf.owner_workload(files, pod)
        for hpa in bf.find_items(files, "HorizontalPodAutoscaler"):
            if hpa["spec"]["scaleTargetRef"]["name"] == workload and data.draw(
                st.booleans(), label="its HPA scaled before"
            ):
                early = data.draw(st.integers(61, 10**5), label="seconds before")
                hpa["status"]["lastScaleTime"] = bf.fmt_time(at - timedelta(seconds=early))
        return (GateKey("pod_continuity"),)
    pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
    status = data.draw(st.sampled_from(pod["status"]["containerStatuses"]))
    at = _moment(files, data)
    if how == "restart":
        reason, code = data.draw(
            st.sampled_from((("OOMKilled", 137), ("Error", 1), ("Error", 2), ("Completed", 0)))
        )
        count = data.draw(st.integers(1, 40), label="restarts")
        bf.restart_container(pod, status["name"], at, count=count, reason=reason, exit_code=code)
    elif how == "late start":
        status["state"] = {"running": {"startedAt": bf.fmt_time(at)}}
    else:
        bf.lose_readiness(pod, at)
    return (GateKey("pod_continuity"),)


@mutation("hpa_without_headroom", "not_certified")
def _hpa_without_headroom(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    name = data.draw(st.sampled_from(PROFILE.cluster.hpas), label="hpa")
    item = bf.find_items(files, "HorizontalPodAutoscaler", name)[0]
    if data.draw(st.booleans(), label="at its maximum"):
        bf.hpa_at_max(item)
    else:
        reason = data.draw(st.sampled_from(("TooManyReplicas", "ScaleUpLimit", "?")))
        bf.set_condition(item, "ScalingLimited", status="True", reason=reason)
    return (GateKey("hpa_active", None, name),)


@mutation("cluster_not_steady", "blocked")
def _cluster_not_steady(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    how = data.draw(
        st.sampled_from(
            (
                "half rolled out",
                "progressing",
                "rolled out in run",
                "revisions apart",
                "terminating",
                "debug",
                "restart not placed",
            )
        )
    )
    if how == "progressing":
        name = data.draw(st.sampled_from(PROFILE.cluster.deployments), label="deployment")
        status, reason = data.draw(
            st.sampled_from(
                (
                    ("True", "ReplicaSetUpdated"),
                    ("True", "NewReplicaSetCreated"),
                    ("False", "ProgressDeadlineExceeded"),
                    ("Unknown", "?"),
                )
            )
        )
        deployment = bf.find_items(files, "Deployment", name)[0]
        bf.set_condition(deployment, "Progressing", status=status, reason=reason)
        return (GateKey("workload_ready", None, f"deployment/{name}"),)
    if how == "restart not placed":
        pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
        status = data.draw(st.sampled_from(pod["status"]["containerStatuses"]))
        status["restartCount"] = data.draw(st.integers(1, 10**6))
        if data.draw(st.booleans(), label="termination without finishedAt"):
            status["lastState"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
        return (GateKey("pod_continuity"),)
    if how in ("half rolled out", "rolled out in run"):
        name = data.draw(st.sampled_from(PROFILE.cluster.hpas), label="deployment")
        if how == "half rolled out":
            bf.half_rolled_out(files, name)
            return (GateKey("workload_ready", None, f"deployment/{name}"),)
        bf.rolled_out_at(files, name, _moment(files, data, before_s=60))
        return (GateKey("pod_continuity"),)
    if how == "revisions apart":
        name = data.draw(st.sampled_from(PROFILE.cluster.statefulsets), label="statefulset")
        status = bf.find_items(files, "StatefulSet", name)[0]["status"]
        status["updateRevision"] = f"{name}-" + data.draw(
            st.text("bcdfghjklmnpqrstvwxz2456789", min_size=10, max_size=10)
        )
        if status["updateRevision"] == status["currentRevision"]:
            reject()
        return (GateKey("workload_ready", None, f"statefulset/{name}"),)
    pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
    if how == "debug":
        bf.debug_container(pod, _moment(files, data))
        return (GateKey("image_binding"),)
    if (
        len(
            [
                p
                for p in certification_pods(files)
                if bf.owner_workload(files, p) == bf.owner_workload(files, pod)
            ]
        )
        < 2
    ):
        reject()  # scaled down to 0 it would be not ready rather than in motion
    requested = bf.collected_at(files) - timedelta(seconds=data.draw(st.integers(0, 600)))
    bf.scale_down(files, pod, requested, data.draw(st.integers(0, 3600), label="grace"))
    return (GateKey("pod_readiness"),)


@mutation("cluster_list_contradicts_itself", "blocked")
def _cluster_contradiction(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    items = bf.k8s_items(files)
    how = data.draw(
        st.sampled_from(
            (
                "copy",
                "uid",
                "owner uid",
                "two controllers",
                "owner not listed",
                "owner selector",
                "time after collection",
                "ready count",
                "endpoint pod",
                "endpoint address",
                "pdb",
                "beyond spec",
            )
        )
    )
    if how == "copy":
        items.append(copy.deepcopy(data.draw(st.sampled_from(items))))
    elif how == "uid":
        first, second = data.draw(st.permutations(items))[:2]
        second["metadata"]["uid"] = first["metadata"]["uid"]
    elif how == "owner not listed":
        pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
        reference = pod["metadata"]["ownerReferences"][0]
        reference["name"] += "-" + data.draw(st.text("bcdfghjklmnpqrstvwxz2456789", min_size=1))
    elif how == "owner selector":
        pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
        labels = pod["metadata"]["labels"]
        key = data.draw(st.sampled_from(sorted(set(labels) & {"app", "pod-template-hash"})))
        labels[key] = labels[key] + data.draw(st.text("abcdef0123456789-", min_size=1, max_size=6))
    elif how in ("owner uid", "two controllers"):
        owned = [i for i in items if i["metadata"].get("ownerReferences")]
        item = data.draw(st.sampled_from(owned))
        reference = item["metadata"]["ownerReferences"][0]
        if how == "owner uid":
            reference["uid"] = bf._uid(data.draw(st.text(min_size=1, max_size=8)) + "/other")
        else:
            item["metadata"]["ownerReferences"].append(
                {**reference, "kind": "ReplicaSet", "name": "another", "uid": bf._uid("another")}
            )
    elif how == "time after collection":
        item = data.draw(st.sampled_from(items))
        fields = list(bf._time_keys({"metadata": item["metadata"], "status": item.get("status")}))
        node, key = data.draw(st.sampled_from(fields))
        late = PROFILE.cluster.max_clock_skew_s + data.draw(st.integers(1, 10**7), label="late s")
        node[key] = bf.fmt_time(bf.collected_at(files) + timedelta(seconds=late))
    elif how == "ready count":
        pod = data.draw(st.sampled_from(certification_pods(files)), label="pod")
        items.remove(pod)
    elif how in ("endpoint pod", "endpoint address"):
        slices = [
            i
            for i in bf.find_items(files, "EndpointSlice")
            if i["metadata"]["labels"]["kubernetes.io/service-name"] in PROFILE.cluster.services
        ]
        endpoint = data.draw(st.sampled_from(data.draw(st.sampled_from(slices))["endpoints"]))
        if how == "endpoint pod":
            endpoint["targetRef"]["uid"] = bf._uid(data.draw(st.text(min_size=1, max_size=8)))
        else:
            endpoint["addresses"] = [f"10.99.{data.draw(st.integers(0, 255))}.7"]
    elif how == "pdb":
        status = bf.find_items(
            files, "PodDisruptionBudget", data.draw(st.sampled_from(PROFILE.cluster.pdbs))
        )[0]["status"]
        if data.draw(st.booleans(), label="healthy beyond expected"):
            status["currentHealthy"] = status["expectedPods"] + data.draw(st.integers(1, 50))
        else:
            status["disruptionsAllowed"] = max(
                0, status["currentHealthy"] - status["desiredHealthy"]
            ) + data.draw(st.integers(1, 50))
    else:
        kind = data.draw(st.sampled_from(("Deployment", "StatefulSet", "ReplicaSet")))
        item = data.draw(st.sampled_from(bf.find_items(files, kind)))
        field = data.draw(
            st.sampled_from(
                ("readyReplicas", "availableReplicas", "updatedReplicas", "observedGeneration")
            )
        )
        status = item["status"]
        if field == "observedGeneration":
            status[field] = item["metadata"].get("generation", 1) + data.draw(st.integers(1, 9))
        elif field == "availableReplicas":
            status[field] = status.get("readyReplicas", 0) + data.draw(st.integers(1, 9))
        else:
            status[field] = status.get("replicas", 0) + data.draw(st.integers(1, 9))
    return (GateKey("cluster_snapshot"),)


#: The mutations that break one relation of the cluster snapshot (its history, its steady
#: state, or the List against itself).
CLUSTER_RELATIONS = (
    "pod_did_not_hold",
    "hpa_without_headroom",
    "cluster_not_steady",
    "cluster_list_contradicts_itself",
)


@mutation("cluster_list_invalid", "blocked")
def _cluster_list(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    document = files[bf.CLUSTER_PATH]
    how = data.draw(st.sampled_from(("kind", "items", "item name", "status type")))
    if how == "kind":
        document["kind"] = data.draw(st.sampled_from(("PodList", "list", None)))
    elif how == "items":
        document["items"] = data.draw(st.sampled_from(({}, None, "[]")))
    elif how == "item name":
        del data.draw(st.sampled_from(bf.k8s_items(files)))["metadata"]["name"]
    else:
        data.draw(st.sampled_from(bf.k8s_items(files)))["status"] = "Running"
    return (GateKey("cluster_snapshot"),)


# -- bindings and the seal


@mutation("git_not_bound", "blocked")
def _git(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    git = bf.loadcert(files)["git"]
    how = data.draw(st.sampled_from(("dirty", "short", "upper", "not hex")))
    if how == "dirty":
        git["dirty"] = True
        return (GateKey("git_binding"),)
    git["sha"] = {"short": git["sha"][:7], "upper": git["sha"].upper(), "not hex": "g" * 40}[how]
    return (GateKey("git_binding"), GateKey("bundle_integrity"))


@mutation("manifest_carries_thresholds", "blocked")
def _manifest_key(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    key = data.draw(st.sampled_from(("thresholds", "queries", "profile", "k6")))
    bf.loadcert(files)[key] = {"p95_ms_max": 10**6}
    return (GateKey("bundle_integrity"),)


@mutation("artifact_hash_wrong", "blocked", reseal=False)
def _artifact_hash(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    key = data.draw(st.sampled_from(("k6_script", "k8s_manifest")))
    digest = "sha256:" + data.draw(st.text("0123456789abcdef", min_size=64, max_size=64))
    entry = bf.loadcert(files)["artifacts"][key]
    if digest == entry["sha256"]:
        reject()
    entry["sha256"] = digest
    return (GateKey("artifact_binding", None, key),)


@mutation("artifact_path_escapes", "blocked", reseal=False)
def _artifact_path(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    key = data.draw(st.sampled_from(("k6_script", "k8s_manifest")))
    entry = bf.loadcert(files)["artifacts"][key]
    entry["path"] = data.draw(
        st.sampled_from(
            (
                "../" + entry["path"],
                "/" + entry["path"],
                "artifacts/../../" + entry["path"],
                entry["path"].replace("/", "\\"),
                "./" + entry["path"],
                "artifacts//" + entry["path"].split("/")[1],
                "/etc/passwd",
                "C:/" + entry["path"],
            )
        )
    )
    return (GateKey("artifact_binding", None, key),)


@mutation("tampered_after_seal", None, reseal=False)
def _tampered(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    rel = data.draw(st.sampled_from(sorted(p for p in files if p != bf.LOADCERT)), label="file")
    raw = bf.encode(files[rel])
    how = data.draw(st.sampled_from(("append", "flip", "truncate")))
    if how == "append":
        raw += data.draw(st.sampled_from((b" ", b"\n", b"\t", b"//")))
    elif how == "flip":
        at = data.draw(st.integers(0, len(raw) - 1), label="byte")
        raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
    else:
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="length")]
    files[rel] = raw
    return (GateKey("bundle_integrity"),)


@mutation("file_outside_manifest", "blocked", reseal=False)
def _extra(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    folder = data.draw(st.sampled_from(("", "stages/", "stages/1k/", "artifacts/", "cluster/")))
    name = data.draw(st.sampled_from(("notes.txt", "k6-stdout.log", ".hidden", "x.json")))
    if f"{folder}{name}" in files:
        reject()
    files[f"{folder}{name}"] = b"{}\n"
    return (GateKey("bundle_integrity"),)


@mutation("manifest_files_wrong", "blocked", reseal=False)
def _manifest_files(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    listed = bf.loadcert(files)["files"]
    how = data.draw(st.sampled_from(("unlisted", "missing file", "escape", "wrong hash")))
    if how == "unlisted":
        del listed[data.draw(st.sampled_from(sorted(listed)))]
    elif how == "missing file":
        listed["stages/1k/extra.json"] = "sha256:" + "0" * 64
    elif how == "escape":
        rel = data.draw(
            st.sampled_from(("../outside.json", "/etc/passwd", "stages/../../x", "a//b", "./x"))
        )
        listed[rel] = "sha256:" + "0" * 64
    else:
        rel = data.draw(st.sampled_from(sorted(listed)))
        listed[rel] = "sha256:" + ("1" if listed[rel][-1] == "0" else "0") * 64
    return (GateKey("bundle_integrity"),)


# -- observability


@mutation("grafana_not_covering", "blocked")
def _grafana(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    time = files[bf.GRAFANA_PATH]["dashboard"]["time"]
    first_start = min(window(files, s)[0] for s in STAGE_NAMES)
    last_end = max(window(files, s)[1] for s in STAGE_NAMES)
    how = data.draw(st.sampled_from(("relative", "late start", "early end", "inverted")))
    shift = timedelta(milliseconds=data.draw(st.integers(1, 10**8)))
    if how == "relative":
        time.update({"from": "now-6h", "to": "now"})
    elif how == "late start":
        time["from"] = bf.fmt_time(first_start + shift)
    elif how == "early end":
        time["to"] = bf.fmt_time(last_end - shift)
    else:
        time["from"], time["to"] = time["to"], time["from"]
    return (GateKey("grafana_coverage"),)


@mutation("otel_stage_without_spans", "blocked")
def _otel(files: Files, data: Drawer) -> tuple[GateKey, ...]:
    stage = _stage(data)
    start, end = window(files, stage)
    low, high = int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9
    for resource in files[bf.OTEL_PATH]["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            scope["spans"] = [
                s for s in scope["spans"] if not low <= int(s["startTimeUnixNano"]) <= high
            ]
    return (GateKey("otel_coverage"),)


class Case:
    """A bundle to judge: a valid ``config`` bundle, optionally with one ``mutation``.

    Not a dataclass: hypothesis would print every field, and the files are large."""

    def __init__(
        self,
        config: Config,
        mutation: Mutation | None,
        files: Files,
        targets: tuple[GateKey, ...] = (),
    ) -> None:
        self.config = config
        self.mutation = mutation
        self.files = files
        self.targets = targets

    @property
    def reseal(self) -> bool:
        return self.mutation is None or self.mutation.reseal

    def __repr__(self) -> str:  # the files are too large to print; say how they were made
        name = self.mutation.name if self.mutation else "none"
        targets = ", ".join(key.id for key in self.targets)
        return f"Case({self.config.describe()}, mutation={name}, targets=[{targets}])"


@st.composite
def mutated_bundles(
    draw: st.DrawFn, *, reseal_only: bool = False, only: tuple[str, ...] | None = None
) -> Case:
    """A valid bundle with one mutation applied (the mutation's own draws are shown when
    hypothesis reports a failing example); ``only``: the names of the mutations to draw."""
    config = draw(bundle_configs())
    pool = [
        m for m in MUTATIONS if (m.reseal or not reseal_only) and (only is None or m.name in only)
    ]
    chosen = draw(st.sampled_from(pool), label="mutation")
    files = base_files(config)
    targets = chosen.apply(files, Drawer(draw))
    return Case(config, chosen, files, targets)


def valid_bundles() -> st.SearchStrategy[Case]:
    """A valid bundle, unmutated."""
    return bundle_configs().map(lambda config: Case(config, None, base_files(config)))


# --------------------------------------------------------------------------- fuzz inputs


def json_values(max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (no NaN: JSON has none), including huge and odd numbers."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=10**300, max_value=10**400)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=12)
        | st.sampled_from(("NaN", "+Inf", "-Inf", "now-6h", "2026-05-01T00:00:00Z", "\u00b2"))
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _containers(item, (*path, index))


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutate_json(draw: st.DrawFn, document: Any, edits: int = 3) -> Any:
    """``document`` (deep-copied) with a few random edits at random places: a value
    replaced by arbitrary JSON, a key deleted or added, a list item dropped or repeated."""
    result = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, edits))):
        paths = list(_containers(result))
        path = draw(st.sampled_from(paths), label="path")
        if not path:
            if draw(st.integers(0, 20)) == 0:
                result = draw(json_values())
            continue
        parent = _at(result, path[:-1])
        key = path[-1]
        how = draw(st.sampled_from(("replace", "delete", "add", "repeat")), label="edit")
        if how == "replace":
            parent[key] = draw(json_values(8))
        elif how == "delete":
            del parent[key]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values(4))
        elif how == "repeat" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        else:
            parent[key] = draw(json_values(2))
    return result
