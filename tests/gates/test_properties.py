"""Properties of the verdict: the certificate cannot say ``certified`` on broken evidence.

Two levels (strategies and example counts: tests/strategies.py; profiles: tests/conftest.py):

* the pytest-free core the gates are built from, over thousands of examples: every
  built-in gate computed on a :class:`Bundle` (``strategies.core_outcomes``), and
  ``verdict.decide`` over arbitrary outcome sets;
* the real plugin (pytester, in process; ``-n 2`` in a subprocess) over a bounded number of
  bundles, which also checks that the core harness and the plugin agree gate by gate.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_loadcert.certify.verdict import (
    BLOCKED,
    CERTIFIED,
    FAILED,
    GATE_BLOCKED,
    NOT_CERTIFIED,
    NOT_RUN,
    PASSED,
    WAIVED,
    Outcome,
    decide,
)
from pytest_loadcert.config.load import profile_from_mapping
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.gates.catalogue import GateKey, expected_builtin
from pytest_loadcert.run import seal as seal_module

RANK = {CERTIFIED: 0, BLOCKED: 1, NOT_CERTIFIED: 2}
PYTESTER = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

# --------------------------------------------------------------------------- the harness


def test_the_catalogue_names_every_built_in_gate_once() -> None:
    """gates/catalogue.py is the one list: the plugin's built-in tests, the report and the
    core harness (which asserts it itself) all read it."""
    import ast

    from pytest_loadcert.gates.catalogue import GATES
    from pytest_loadcert.plugin import builtin_gates

    source = Path(builtin_gates.__file__).read_text()
    tests = [
        node.name.removeprefix("test_")
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]
    assert tuple(tests) == GATES
    assert len(set(GATES)) == len(GATES)
    everything = {key.gate for key in expected_builtin(S.PROFILE)}
    assert everything == set(GATES)


def test_core_harness_computes_exactly_the_expected_matrix(tmp_path: Path) -> None:
    bundle = bf.build_bundle(tmp_path / "b")
    statuses = S.core_outcomes(Bundle(bundle))
    assert list(statuses) == expected_builtin(S.PROFILE)
    assert set(statuses.values()) == {PASSED}


@pytest.mark.parametrize("variant", bf.VARIANTS, ids=[v.name for v in bf.VARIANTS])
def test_core_harness_agrees_with_every_named_variant(variant: bf.Variant) -> None:
    # tests/gates/test_verdicts.py runs the same variants through the plugin.
    with S.scratch_dir() as root:
        bf.build_variant(variant.name, root / "b")
        _, verdict = S.judge_bundle(root / "b")
    assert verdict == variant.expected


# --------------------------------------------------------------------------- decide()

STAGES_PROFILE = profile_from_mapping(
    {
        "stages": [{"name": n, "min_active_vus": 1} for n in ("s1", "s2", "s3")],
        "metrics": [{"name": "m", "promql": "up", "min": 1}],
        "stability": [],
        "cluster": {"deployments": ["d"], "statefulsets": [], "hpas": [], "pdbs": []},
    },
    "test profile",
)
EXPECTED = expected_builtin(STAGES_PROFILE)
USER_GATES = [GateKey("team_gate", "s2"), GateKey("team_gate"), GateKey("slo", None, "api")]
STATUS = st.sampled_from((PASSED, FAILED, GATE_BLOCKED, WAIVED, NOT_RUN))


@st.composite
def outcome_sets(draw: st.DrawFn) -> tuple[dict[GateKey, Outcome], list[str]]:
    """Outcomes for the expected matrix (NOT_RUN: no outcome) plus user gates, and problems.

    Either a few gates differ from ``passed`` (one bad gate among many, well shrunk), or
    every status is drawn at random from a seed (dense mixes)."""
    keys = [*EXPECTED, *draw(st.lists(st.sampled_from(USER_GATES), unique=True))]
    if draw(st.booleans()):
        odd = draw(st.dictionaries(st.sampled_from(keys), STATUS, max_size=6))
        statuses = {key: odd.get(key, PASSED) for key in keys}
    else:
        rng = random.Random(draw(st.integers(0, 2**32)))
        pool = (PASSED, FAILED, GATE_BLOCKED, WAIVED, NOT_RUN)
        weights = [draw(st.integers(0, 5)) for _ in pool]
        if not any(weights):
            weights[0] = 1
        statuses = {key: rng.choices(pool, weights)[0] for key in keys}
    outcomes = {key: Outcome(key, s) for key, s in statuses.items() if s != NOT_RUN}
    problems = draw(st.lists(st.sampled_from(("worker crashed", "duplicate gate id")), max_size=1))
    return outcomes, problems


@settings(max_examples=S.examples("decide_never_certifies_an_incomplete_matrix"))
@given(outcome_sets())
def test_decide_certifies_only_a_complete_passing_matrix(
    case: tuple[dict[GateKey, Outcome], list[str]],
) -> None:
    outcomes, problems = case
    verdict = decide(STAGES_PROFILE, EXPECTED, outcomes, problems)
    complete = all(key in outcomes for key in EXPECTED)
    clean = all(o.status in (PASSED, WAIVED) for o in outcomes.values())
    assert (verdict.verdict == CERTIFIED) == (complete and clean and not problems)
    assert verdict.not_run == [key.id for key in EXPECTED if key not in outcomes]


@settings(max_examples=S.examples("decide_dominance"))
@given(outcome_sets())
def test_decide_not_certified_dominates_blocked_dominates_certified(
    case: tuple[dict[GateKey, Outcome], list[str]],
) -> None:
    outcomes, problems = case
    verdict = decide(STAGES_PROFILE, EXPECTED, outcomes, problems)
    statuses = [outcomes[k].status if k in outcomes else NOT_RUN for k in EXPECTED]
    statuses += [o.status for k, o in outcomes.items() if k not in EXPECTED]
    if FAILED in statuses:
        assert verdict.verdict == NOT_CERTIFIED
    elif GATE_BLOCKED in statuses or NOT_RUN in statuses or problems:
        assert verdict.verdict == BLOCKED
    else:
        assert verdict.verdict == CERTIFIED
    # Per stage, the same rule over that stage's gates.
    for stage in STAGES_PROFILE.stage_names:
        mine = [
            outcomes[k].status if k in outcomes else NOT_RUN for k in EXPECTED if k.stage == stage
        ]
        mine += [o.status for k, o in outcomes.items() if k.stage == stage and k not in EXPECTED]
        worst = (
            NOT_CERTIFIED
            if FAILED in mine
            else BLOCKED
            if {GATE_BLOCKED, NOT_RUN} & set(mine)
            else CERTIFIED
        )
        assert verdict.stage_gates[stage] == worst
        # A stage's standing never reads certified while the run level does not.
        standing = verdict.run_level if worst == CERTIFIED else worst
        assert verdict.stages[stage] == standing
        if verdict.run_level != CERTIFIED:
            assert verdict.stages[stage] != CERTIFIED
    run_gates = [
        outcomes[k].status if k in outcomes else NOT_RUN
        for k in EXPECTED
        if k.stage is None and k.gate != "achieved_concurrency"
    ] + [
        o.status
        for k, o in outcomes.items()
        if k.stage is None and k.gate != "achieved_concurrency" and k not in EXPECTED
    ]
    sound = all(s in (PASSED, WAIVED) for s in run_gates) and not problems
    assert (verdict.run_level == CERTIFIED) == sound
    # The highest certified stage: a certified prefix of the ramp, only on sound run gates.
    names = STAGES_PROFILE.stage_names
    if verdict.highest_certified_stage is not None:
        top = names.index(verdict.highest_certified_stage)
        assert all(verdict.stages[s] == CERTIFIED for s in names[: top + 1])
        assert top + 1 == len(names) or verdict.stages[names[top + 1]] != CERTIFIED
        assert not problems
        assert all(
            outcomes[k].status in (PASSED, WAIVED)
            for k in EXPECTED
            if k.stage is None and k.gate != "achieved_concurrency"
        )


@settings(max_examples=S.examples("decide_order_invariant"))
@given(outcome_sets(), st.randoms(use_true_random=False), st.sampled_from(sorted(EXPECTED)))
def test_decide_is_order_free_and_monotone(
    case: tuple[dict[GateKey, Outcome], list[str]], rng: random.Random, worsened: GateKey
) -> None:
    outcomes, problems = case
    verdict = decide(STAGES_PROFILE, EXPECTED, outcomes, problems)
    keys = list(outcomes)
    rng.shuffle(keys)
    expected = list(EXPECTED)
    rng.shuffle(expected)
    again = decide(STAGES_PROFILE, expected, {k: outcomes[k] for k in keys}, problems)
    assert (again.verdict, again.stages, again.highest_certified_stage) == (
        verdict.verdict,
        verdict.stages,
        verdict.highest_certified_stage,
    )
    assert sorted(again.not_run) == sorted(verdict.not_run)
    # One more failed gate never makes anything better.
    worse = decide(
        STAGES_PROFILE, EXPECTED, {**outcomes, worsened: Outcome(worsened, FAILED)}, problems
    )
    assert worse.verdict == NOT_CERTIFIED
    for stage, stage_verdict in verdict.stages.items():
        assert RANK[worse.stages[stage]] >= RANK[stage_verdict]


# --------------------------------------------------------------------------- core bundles


@settings(
    max_examples=S.examples("core_mutation_never_certified"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(S.mutated_bundles())
def test_core_no_gate_breaking_mutation_is_certified(case: S.Case) -> None:
    assert case.mutation is not None
    with S.scratch_dir() as root:
        S.write_files(root / "b", case.files, seal=case.reseal, config=case.config)
        statuses, verdict = S.judge_bundle(root / "b")
    assert verdict != CERTIFIED
    if case.mutation.expect is not None:
        assert verdict == case.mutation.expect, _not_passed(statuses)
    for key in case.targets:
        assert statuses[key] != PASSED, key


@settings(
    max_examples=S.examples("core_cluster_relation_never_certified"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(S.mutated_bundles(only=S.CLUSTER_RELATIONS))
def test_core_breaking_one_relation_of_the_cluster_snapshot_never_certifies(case: S.Case) -> None:
    """A valid snapshot with one relation broken: a pod that did not hold, an HPA without
    headroom, a cluster not in its steady state, or a List that contradicts itself."""
    assert case.mutation is not None
    with S.scratch_dir() as root:
        S.write_files(root / "b", case.files, seal=case.reseal, config=case.config)
        statuses, verdict = S.judge_bundle(root / "b")
    assert verdict != CERTIFIED
    assert verdict == case.mutation.expect, _not_passed(statuses)
    for key in case.targets:
        assert statuses[key] != PASSED, key


def _not_passed(statuses: dict[GateKey, str]) -> dict[str, str]:
    return {k.id: v for k, v in statuses.items() if v != PASSED}


DIRECTORIES = ("stages/1k", "stages/100k", "cluster", "observability", "artifacts")
OPERATIONS = ("delete", "empty", "whitespace")


def _break(root: Path, rel: str, operation: str) -> None:
    target = root / rel
    if target.is_dir():
        for child in sorted(target.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
        target.rmdir()
    elif operation == "delete":
        target.unlink()
    else:
        target.write_bytes(b"" if operation == "empty" else b" \n\t\n")


def _reseal(root: Path) -> None:
    """Record the broken bundle in the manifest as it now is (as a re-seal would)."""
    manifest = json.loads((root / bf.LOADCERT).read_bytes())
    manifest["files"] = {
        p.relative_to(root).as_posix(): bf.digest(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != bf.LOADCERT
    }
    for key in ("k6_script", "k8s_manifest"):
        path = root / manifest["artifacts"][key]["path"]
        if path.is_file():
            manifest["artifacts"][key]["sha256"] = bf.digest(path.read_bytes())
    (root / bf.LOADCERT).write_bytes(bf.encode(manifest))


DELETION_CONFIGS = (
    S.DEFAULT_CONFIG,
    S.Config((bf.EXPORT,) * 6, ("100k", 4), "snapshot"),
)
DELETION_TARGETS = sorted(S.base_files(S.DEFAULT_CONFIG)) + list(DIRECTORIES)


@pytest.mark.parametrize("rel", DELETION_TARGETS)
def test_core_deleting_or_emptying_any_required_file_blocks(rel: str) -> None:
    """Every file and stage/evidence directory x delete/empty/whitespace x (re)sealed or not
    x two bundle shapes: always ``blocked``, never ``not_certified`` or ``certified``."""
    outcomes: dict[tuple[str, str, bool], tuple[str, dict[str, str]]] = {}
    for number, config in enumerate(DELETION_CONFIGS):
        files = S.base_files(config)
        target = rel
        if rel.startswith("stages/100k/k6-summary") and config.sharded:
            target = "stages/100k/k6-summary.2.json"
        for operation in OPERATIONS if rel not in DIRECTORIES else ("delete",):
            for resealed in (False, True) if rel != bf.LOADCERT else (False,):
                with S.scratch_dir() as root:
                    S.write_files(root / "b", files, config=config)
                    _break(root / "b", target, operation)
                    if resealed:
                        _reseal(root / "b")
                    statuses, verdict = S.judge_bundle(root / "b")
                outcomes[(f"{number}:{target}", operation, resealed)] = (
                    verdict,
                    _not_passed(statuses),
                )
    wrong = {case: result for case, result in outcomes.items() if result[0] != BLOCKED}
    assert not wrong
    for _, not_passed in outcomes.values():
        assert FAILED not in not_passed.values()


@settings(
    max_examples=S.examples("core_order_invariant"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(S.mutated_bundles(reseal_only=True) | S.valid_bundles(), st.integers(0, 2**32))
def test_core_verdict_is_invariant_to_key_order_layout_and_directory_order(
    case: S.Case, seed: int
) -> None:
    rng = random.Random(seed)  # a seed, not st.randoms(): shuffling draws too much to shrink
    with S.scratch_dir() as root:
        S.write_files(root / "plain", case.files, config=case.config)
        plain = S.judge_bundle(root / "plain")
        S.write_files(root / "shuffled", case.files, config=case.config, rng=rng)
        with S.shuffled_directory_order(rng):
            shuffled = S.judge_bundle(root / "shuffled")
    assert shuffled == plain


# --------------------------------------------------------------------------- seal round trip


@pytest.fixture(scope="session")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean repository with one commit: the code under test, for ``loadcert seal``."""
    repo = tmp_path_factory.mktemp("repo")
    (repo / "service.py").write_text("print('under test')\n")
    for args in (
        ["init", "-q"],
        ["add", "service.py"],
        ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "commit", "-qm", "v1"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return repo


def seal_arguments(bundle: Path, repo: Path) -> list[str]:
    """``loadcert seal`` arguments that bind what the factory bundle ran."""
    manifest = json.loads((bundle / bf.LOADCERT).read_bytes())
    images = [f"{i['name']}={i['digest']}" for i in manifest["artifacts"]["images"]]
    return [
        "seal",
        f"--evidence-dir={bundle}",
        f"--run-id={manifest['run_id']}",
        f"--environment={manifest['environment']}",
        *(f"--image={image}" for image in images),
        f"--git-repo={repo}",
        f"--namespace={manifest['cluster']['namespace']}",
        f"--cluster-collected-at={manifest['cluster']['collected_at']}",
    ]


@settings(max_examples=S.examples("core_seal_round_trip"))
@given(S.valid_bundles(), st.integers(0, 2**32))
def test_core_certified_bundle_stays_certified_when_sealed_again(
    git_repo: Path, case: S.Case, seed: int
) -> None:
    with S.scratch_dir() as root:
        bundle = S.write_files(root / "b", case.files, config=case.config, rng=random.Random(seed))
        before, verdict = S.judge_bundle(bundle)
        assert verdict == CERTIFIED
        manifest = json.loads((bundle / bf.LOADCERT).read_bytes())
        options: dict[str, Any] = {
            "run_id": manifest["run_id"],
            "environment": manifest["environment"],
            "images": [(i["name"], i["digest"]) for i in manifest["artifacts"]["images"]],
            "git_repo": git_repo,
            "namespace": manifest["cluster"]["namespace"],
            "cluster_collected_at": manifest["cluster"]["collected_at"],
        }
        first = seal_module.seal(bundle, **options)
        assert first.changed  # now bound to the repository's real commit
        sealed = (bundle / bf.LOADCERT).read_bytes()
        assert S.judge_bundle(bundle) == (before, CERTIFIED)
        second = seal_module.seal(bundle, **options)
        assert not second.changed
        assert (bundle / bf.LOADCERT).read_bytes() == sealed
        assert S.judge_bundle(bundle) == (before, CERTIFIED)


# --------------------------------------------------------------------------- the plugin


def certify(pytester: pytest.Pytester, bundle: Path, *args: str) -> tuple[dict[str, Any], str]:
    """Certify ``bundle`` with the real plugin; the certificate and the output."""
    cert = bundle.parent / f"certificate-{len(list(bundle.parent.glob('certificate-*')))}.json"
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={bundle}",
        f"--loadcert-certificate={cert}",
        *args,
    )
    output = result.stdout.str() + result.stderr.str()
    assert_no_traceback(output)
    certificate: dict[str, Any] = json.loads(cert.read_text())
    assert result.ret == S.EXIT[certificate["verdict"]]
    assert f"loadcert verdict: {certificate['verdict']} (exit {result.ret})" in output
    return certificate, output


def assert_no_traceback(output: str) -> None:
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    raised = [
        line for line in output.splitlines() if re.match(r"E\s{3}\w*(Error|Exception)\b", line)
    ]
    assert not raised


@settings(PYTESTER, max_examples=S.examples("e2e_mutation_never_certified"))
@given(S.mutated_bundles())
def test_plugin_no_gate_breaking_mutation_is_certified(
    pytester: pytest.Pytester, case: S.Case
) -> None:
    assert case.mutation is not None
    with S.scratch_dir() as root:
        bundle = S.write_files(root / "b", case.files, seal=case.reseal, config=case.config)
        core = S.core_outcomes(Bundle(bundle))
        certificate, _ = certify(pytester, bundle)
    assert certificate["verdict"] != CERTIFIED
    if case.mutation.expect is not None:
        assert certificate["verdict"] == case.mutation.expect
    assert S.certificate_statuses(certificate) == core  # the core harness is the plugin


@settings(PYTESTER, max_examples=S.examples("e2e_deletion_blocked"))
@given(
    st.sampled_from(DELETION_CONFIGS),
    st.sampled_from(DELETION_TARGETS),
    st.sampled_from(OPERATIONS),
    st.booleans(),
)
def test_plugin_deleting_or_emptying_any_required_file_blocks(
    pytester: pytest.Pytester, config: S.Config, rel: str, operation: str, resealed: bool
) -> None:
    with S.scratch_dir() as root:
        bundle = S.write_files(root / "b", S.base_files(config), config=config)
        if rel.startswith("stages/100k/k6-summary") and config.sharded:
            rel = "stages/100k/k6-summary.2.json"
        _break(bundle, rel, operation)
        if resealed and rel != bf.LOADCERT:
            _reseal(bundle)
        certificate, _ = certify(pytester, bundle)
    assert certificate["verdict"] == BLOCKED
    assert "failed" not in {g["status"] for g in certificate["gates"]}


@settings(PYTESTER, max_examples=S.examples("e2e_order_invariant"))
@given(S.mutated_bundles(reseal_only=True) | S.valid_bundles(), st.integers(0, 2**32))
def test_plugin_verdict_is_invariant_to_key_order_and_layout(
    pytester: pytest.Pytester, case: S.Case, seed: int
) -> None:
    with S.scratch_dir() as root:
        plain = S.core_outcomes(
            Bundle(S.write_files(root / "plain", case.files, config=case.config))
        )
        bundle = S.write_files(root / "b", case.files, config=case.config, rng=random.Random(seed))
        certificate, _ = certify(pytester, bundle)
    assert S.certificate_statuses(certificate) == plain


@settings(PYTESTER, max_examples=S.examples("e2e_seal_round_trip"))
@given(S.valid_bundles(), st.integers(0, 2**32))
def test_plugin_certified_bundle_survives_seal_and_verify(
    pytester: pytest.Pytester, git_repo: Path, case: S.Case, seed: int
) -> None:
    from pytest_loadcert.cli import main

    rng = random.Random(seed)
    with S.scratch_dir() as root:
        bundle = S.write_files(root / "b", case.files, config=case.config, rng=rng)
        assert main(seal_arguments(bundle, git_repo)) == 0
        certificate, _ = certify(pytester, bundle)
        assert certificate["verdict"] == CERTIFIED
        digest = "sha256:" + hashlib.sha256((bundle / bf.LOADCERT).read_bytes()).hexdigest()
        assert certificate["bindings"]["bundle_sha256"] == digest
        cert = bundle.parent / "certificate-0.json"
        verify = ["verify", f"--certificate={cert}", f"--evidence-dir={bundle}"]
        assert main(verify) == 0
        # Sealing again changes nothing; the same bundle certifies and verifies again.
        assert main(seal_arguments(bundle, git_repo)) == 0
        assert "sha256:" + hashlib.sha256((bundle / bf.LOADCERT).read_bytes()).hexdigest() == digest
        again, _ = certify(pytester, bundle)
        assert (again["verdict"], again["bindings"]["bundle_sha256"]) == (CERTIFIED, digest)
        assert main(verify) == 0
        # A file swapped after certification: verify names it, the plugin blocks.
        swapped = rng.choice(sorted(p for p in case.files if p != bf.LOADCERT))
        with open(bundle / swapped, "ab") as handle:
            handle.write(b"\n")
        assert main(verify) == 1
        third, _ = certify(pytester, bundle)
        assert third["verdict"] == BLOCKED


@settings(PYTESTER, max_examples=S.examples("e2e_xdist_invariant"))
@given(S.mutated_bundles() | S.valid_bundles())
def test_plugin_verdict_is_the_same_with_two_xdist_workers(
    pytester: pytest.Pytester, case: S.Case
) -> None:
    pytest.importorskip("xdist")
    runs = []
    with S.scratch_dir() as root:
        bundle = S.write_files(root / "b", case.files, seal=case.reseal, config=case.config)
        for extra in ((), ("-n", "2")):
            cert = root / f"certificate{len(extra)}.json"
            result = pytester.runpytest_subprocess(
                "-p",
                "no:cacheprovider",
                f"--evidence-dir={bundle}",
                f"--loadcert-certificate={cert}",
                *extra,
                timeout=120,
            )
            assert_no_traceback(result.stdout.str() + result.stderr.str())
            certificate = json.loads(cert.read_text())
            runs.append((result.ret, certificate["verdict"], S.certificate_statuses(certificate)))
    assert runs[0] == runs[1]


# --------------------------------------------------------------------------- the document

PROPERTIES = [  # (property, level, test or hypothesis count key)
    (
        "decide certifies only a complete, passing matrix",
        "decide()",
        "decide_never_certifies_an_incomplete_matrix",
    ),
    (
        "not_certified dominates blocked dominates certified (run, stages, highest stage)",
        "decide()",
        "decide_dominance",
    ),
    (
        "decide is free of key order; one more failed gate never improves a verdict",
        "decide()",
        "decide_order_invariant",
    ),
    (
        "no gate-breaking mutation certifies; the expected verdict; the broken gate does not pass",
        "core",
        "core_mutation_never_certified",
    ),
    (
        "breaking one relation of a valid cluster snapshot never certifies; the expected verdict",
        "core",
        "core_cluster_relation_never_certified",
    ),
    (
        "verdict and every gate invariant to JSON key order, layout and directory order",
        "core",
        "core_order_invariant",
    ),
    (
        "a certified bundle stays certified after loadcert seal, twice (idempotent)",
        "core",
        "core_seal_round_trip",
    ),
    (
        "no gate-breaking mutation certifies; plugin == core gate by gate",
        "plugin",
        "e2e_mutation_never_certified",
    ),
    ("deleting or emptying any required file blocks", "plugin", "e2e_deletion_blocked"),
    (
        "verdict and every gate invariant to JSON key order and layout",
        "plugin",
        "e2e_order_invariant",
    ),
    (
        "certified survives loadcert seal + loadcert verify; a swapped file is named and blocks",
        "plugin",
        "e2e_seal_round_trip",
    ),
    (
        "same exit, verdict and gates with -n 2 as serially",
        "plugin, subprocess",
        "e2e_xdist_invariant",
    ),
]
FUZZERS = [  # tests/evidence/test_fuzz_parsers.py: only a value or EvidenceError/ProfileError
    ("bytes into jsonio.parse_json", "fuzz_bytes_parse_json"),
    ("arbitrary JSON into every parser and schema", "fuzz_json_documents"),
    ("mutated k6 summaries (real recordings, both formats) and the k6 gates", "fuzz_mutated_k6"),
    (
        "mutated prometheus.json in every recorded answer shape, and the lookup",
        "fuzz_mutated_prometheus",
    ),
    ("mutated Kubernetes Lists and the readiness gates", "fuzz_mutated_cluster"),
    ("mutated Grafana and OTLP exports (also NDJSON)", "fuzz_mutated_observability"),
    ("profile mappings (and a fifth as many TOML texts)", "fuzz_profile"),
]
EXHAUSTIVE = [
    ("the core harness gives every named factory variant its verdict", "core", len(bf.VARIANTS)),
    (
        "deleting or emptying any required file or directory blocks (never a failed gate)",
        "core",
        sum(
            len(OPERATIONS if rel not in DIRECTORIES else ("delete",))
            * (1 if rel == bf.LOADCERT else 2)
            for rel in DELETION_TARGETS
        )
        * len(DELETION_CONFIGS),
    ),
]
DOC = Path(__file__).parents[2] / "docs" / "security.md"
COUNTS_START = "<!-- property-counts: generated by tests/gates/test_properties.py -->"
COUNTS_END = "<!-- end of property-counts -->"


def counts_table() -> str:
    rows = [COUNTS_START, "| property | level | examples in CI |", "| --- | --- | --- |"]
    for what, level, key in PROPERTIES:
        rows.append(f"| {what} | {level} | {S.EXAMPLES[key]} (hypothesis, `{key}`) |")
    for what, key in FUZZERS:
        rows.append(f"| {what} | fuzzing | {S.EXAMPLES[key]} (hypothesis, `{key}`) |")
    for what, level, number in EXHAUSTIVE:
        rows.append(f"| {what} | {level} | {number} (every case) |")
    rows.append(COUNTS_END)
    return "\n".join(rows)


def test_security_doc_lists_every_property_with_its_example_count() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert COUNTS_START in text and COUNTS_END in text
    documented = text[text.index(COUNTS_START) : text.index(COUNTS_END) + len(COUNTS_END)]
    assert documented == counts_table(), "regenerate with: python tests/gates/test_properties.py"
    keys = [key for _, _, key in PROPERTIES] + [key for _, key in FUZZERS]
    assert sorted(keys) == sorted(S.EXAMPLES)


if __name__ == "__main__":
    print(counts_table())
