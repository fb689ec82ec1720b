"""Coverage-guided fuzzing of the evidence parsers with atheris (libFuzzer), for long local runs.

    .venv/bin/pip install atheris
    .venv/bin/python bench/fuzz_parsers.py [--target NAME] [libFuzzer options] [CORPUS_DIR ...]

    .venv/bin/python bench/fuzz_parsers.py --target k6 -max_total_time=600 /tmp/corpus-k6
    .venv/bin/python bench/fuzz_parsers.py -runs=200000      # every target, in turn by input

Targets: ``json`` (bytes into jsonio.parse_json), ``k6`` (k6 summaries and the k6 gates),
``prometheus`` (prometheus.json and the metric lookup), ``cluster`` (Kubernetes Lists and the
readiness gates), ``grafana``, ``otel`` (one document or NDJSON), ``profile`` (TOML text
into the profile loader), or ``all`` (the default; the first input byte picks the target).
The input is parsed as JSON first, so JSON-shaped seeds matter: the real recordings in
fixtures/k6, the files of evidence/example and its profile are written into the first
corpus directory given (a temporary one when none is).

The contract is the one tests/evidence/test_fuzz_parsers.py checks with hypothesis in CI: the only
outcomes are a value, EvidenceError (ProfileError for the profile). Any other exception is
a crash: libFuzzer stops, prints the traceback and writes the input to ``crash-<sha1>``.
Reproduce it with ``.venv/bin/python bench/fuzz_parsers.py crash-<sha1>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

try:
    import atheris
except ImportError:  # pragma: no cover - an optional tool
    sys.exit("atheris is not installed: .venv/bin/pip install atheris")

ROOT = Path(__file__).resolve().parent.parent

with atheris.instrument_imports(include=["pytest_loadcert"]):
    import pytest_loadcert.gates as gates
    import pytest_loadcert.gates as runtime_gates
    from pytest_loadcert.config.load import load_profile, profile_from_mapping
    from pytest_loadcert.config.profile import BUILTIN_SOURCE, ProfileError
    from pytest_loadcert.errors import EvidenceError
    from pytest_loadcert.evidence.cluster import ClusterSnapshot, parse_cluster
    from pytest_loadcert.evidence.jsonio import parse_json
    from pytest_loadcert.evidence.k6 import parse_summary
    from pytest_loadcert.evidence.observability import grafana_range, otel_spans
    from pytest_loadcert.evidence.prometheus import check_window, lookup, parse_prometheus
    from pytest_loadcert.evidence.stage import StageRun
    from pytest_loadcert.gates.catalogue import subjects

PROFILE = profile_from_mapping({}, BUILTIN_SOURCE)
START = datetime(2026, 5, 1, tzinfo=UTC)
RUN = StageRun(
    "stages/1k/stage.json",
    "1k",
    START,
    START + timedelta(seconds=300),
    0,
    "k6 v1.1.0",
    None,
    "2026-05-01T00:00:00Z",
    "2026-05-01T00:05:00Z",
    {},
)
PROFILE_FILE = Path(tempfile.mkdtemp(prefix="loadcert-fuzz-")) / "profile.toml"


def _quietly(call: Callable[[], object]) -> object:
    try:
        return call()
    except EvidenceError as exc:
        str(exc).encode("utf-8")  # every message must be printable as UTF-8
        return None


def fuzz_json(data: bytes) -> None:
    _quietly(lambda: parse_json(data, "f.json"))


def _document(data: bytes) -> object:
    return _quietly(lambda: parse_json(data, "f.json"))


def fuzz_k6(data: bytes) -> None:
    document = _document(data)
    summary = _quietly(lambda: parse_summary(document, "k.json"))
    if summary is None:
        return
    summaries = (summary,)
    for gate in (
        lambda: gates.observed_concurrency(summaries, PROFILE, 1000),
        lambda: gates.requests_sent(summaries, PROFILE),
        lambda: gates.latency_percentile(summaries, PROFILE, "p(95)", 300),
        lambda: gates.error_rate(summaries, PROFILE),
        lambda: gates.checks_rate(summaries, PROFILE),
        lambda: gates.k6_thresholds(summaries, PROFILE, RUN),
    ):
        _quietly(gate)


def fuzz_prometheus(data: bytes) -> None:
    document = _document(data)
    evidence = _quietly(lambda: parse_prometheus(document, "p.json"))
    if evidence is None:
        return
    _quietly(lambda: check_window(evidence, RUN.start, RUN.end))
    for spec in PROFILE.metrics:
        _quietly(lambda spec=spec: lookup(evidence, spec, "1k", RUN.start, RUN.end, 30))


def fuzz_cluster(data: bytes) -> None:
    document = _document(data)
    snapshot = _quietly(lambda: parse_cluster(document, "c.json"))
    if not isinstance(snapshot, ClusterSnapshot):
        return
    for kind, gate in (
        ("workloads", runtime_gates.workload_ready),
        ("hpas", runtime_gates.hpa),
        ("pdbs", runtime_gates.pdb),
        ("services", runtime_gates.service),
    ):
        for subject in subjects(PROFILE, kind):
            _quietly(lambda gate=gate, subject=subject: gate(snapshot, subject))
    _quietly(lambda: runtime_gates.pod_readiness(snapshot, PROFILE))


def fuzz_grafana(data: bytes) -> None:
    document = _document(data)
    _quietly(lambda: grafana_range(document, "g.json"))


def fuzz_otel(data: bytes) -> None:
    _quietly(lambda: otel_spans(data, "o.json"))


def fuzz_profile(data: bytes) -> None:
    PROFILE_FILE.write_bytes(data)
    try:
        load_profile(PROFILE_FILE)
    except ProfileError:
        pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "json": fuzz_json,
    "k6": fuzz_k6,
    "prometheus": fuzz_prometheus,
    "cluster": fuzz_cluster,
    "grafana": fuzz_grafana,
    "otel": fuzz_otel,
    "profile": fuzz_profile,
}
ORDER = list(TARGETS)


def seeds() -> list[bytes]:
    """Real inputs to start from: k6 recordings, the example bundle, the example profile."""
    paths = sorted((ROOT / "fixtures" / "k6").glob("*.json"))
    paths += sorted((ROOT / "evidence" / "example").rglob("*.json"))
    paths += [ROOT / "evidence" / "example.toml"]
    return [path.read_bytes() for path in paths if path.is_file()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    parser.add_argument("--target", choices=["all", *TARGETS], default="all")
    ns, rest = parser.parse_known_args()
    if ns.target == "all":

        def one_input(data: bytes) -> None:
            if data:
                TARGETS[ORDER[data[0] % len(ORDER)]](data[1:])
    else:
        one_input = TARGETS[ns.target]
    corpus = [arg for arg in rest if not arg.startswith("-") and Path(arg).is_dir()]
    if not corpus:
        corpus = [tempfile.mkdtemp(prefix="loadcert-corpus-")]
        rest.append(corpus[0])
    prefixes = [bytes([ORDER.index(name)]) for name in ORDER] if ns.target == "all" else [b""]
    for number, seed in enumerate(seeds()):
        for prefix in prefixes:
            (Path(corpus[0]) / f"seed-{number}-{prefix.hex()}").write_bytes(prefix + seed)
    atheris.Setup([sys.argv[0], *rest], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
