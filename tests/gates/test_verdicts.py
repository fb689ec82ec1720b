"""Acceptance: every bundle variant (each founding lesson and trap) gets its verdict.

Each variant is a bundle written to DESIGN.md's contract by tests/bundlefactory.py; the
plugin certifies it in a real pytest run and the test reads what a user reads: the exit
status, certificate.json and the junit XML.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import bundlefactory as bf
import pytest

EXIT = {"certified": 0, "not_certified": 1, "blocked": 2}


def certify(
    pytester: pytest.Pytester, bundle: Path, *args: str
) -> tuple[pytest.RunResult, dict, ET.Element]:
    xml = pytester.path / "certificate.xml"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "--junitxml", str(xml), *args
    )
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    return result, certificate, ET.parse(xml).getroot()


def suite_properties(root: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in root.find("testsuite").find("properties")}


#: Variants the inner loop (``-m "not slow"``) certifies through the plugin, one of each
#: verdict and shape; every other variant runs in .ci/run. The core harness judges every
#: variant in-process in the inner loop too (test_properties.py), and the properties hold
#: the plugin to the core gate by gate.
INNER_LOOP = {"valid", "valid_sharded_100k", "p95_high", "missing_metric_entry", "tampered_file"}


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(v, id=v.name, marks=() if v.name in INNER_LOOP else pytest.mark.slow)
        for v in bf.VARIANTS
    ],
)
def test_variant_verdict(pytester: pytest.Pytester, tmp_path: Path, variant: bf.Variant) -> None:
    bundle = bf.build_variant(variant.name, tmp_path / "bundle")
    result, certificate, root = certify(pytester, bundle)
    output = result.stdout.str()
    assert certificate["verdict"] == variant.expected, output[-3000:]
    assert result.ret == EXIT[variant.expected]
    assert suite_properties(root)["loadcert.verdict"] == variant.expected
    assert f"loadcert verdict: {variant.expected}" in output
    assert "Traceback" not in output
    statuses = {g["status"] for g in certificate["gates"]}
    if variant.expected == "certified":
        assert statuses == {"passed"}
        assert certificate["highest_certified_stage"] == "100k"
    elif variant.expected == "not_certified":
        assert "failed" in statuses
        assert root.iter("failure") is not None and any(True for _ in root.iter("failure"))
        assert certificate["highest_certified_stage"] != "100k"
    else:
        assert "failed" not in statuses and "blocked" in statuses
        assert any(True for _ in root.iter("error"))
        assert not any(True for _ in root.iter("skipped"))


def test_failure_message_names_observed_required_samples_source(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = bf.build_variant("p95_high", tmp_path / "bundle")
    _, certificate, root = certify(pytester, bundle)
    failed = [g for g in certificate["gates"] if g["status"] == "failed"]
    assert [g["id"] for g in failed] == ["p95_latency[100k]"]
    gate = failed[0]
    assert gate["observed"].startswith("p(95) 450")
    assert gate["required"] == "<= 300 ms"
    assert "successful requests" in gate["samples"]
    assert "stages/100k/k6-summary.json" in gate["source"]
    case = next(c for c in root.iter("testcase") if c.get("name") == "test_p95_latency[100k]")
    message = case.find("failure").get("message")
    for part in (
        "observed p(95) 450",
        "required <= 300 ms",
        "samples",
        "stages/100k/k6-summary.json",
    ):
        assert part in message
    stages = {s["name"]: s["verdict"] for s in certificate["stages"]}
    assert stages["100k"] == "not_certified" and stages["50k"] == "certified"
    assert certificate["highest_certified_stage"] == "50k"


def test_blocked_message_names_file_and_field(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("wrong_type", tmp_path / "bundle")
    result, certificate, root = certify(pytester, bundle)
    gate = next(g for g in certificate["gates"] if g["id"] == "observed_concurrency[100k]")
    assert gate["status"] == "blocked"
    assert "stages/100k/k6-summary.json: metrics.vus" in gate["message"]
    error = next(
        c for c in root.iter("testcase") if c.get("name") == "test_observed_concurrency[100k]"
    ).find("error")
    assert "stages/100k/k6-summary.json" in error.get("message")
    assert "Traceback" not in result.stdout.str()


def test_certified_certificate_carries_every_binding(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    manifest = json.loads((bundle / "loadcert.json").read_text())
    result, certificate, root = certify(pytester, bundle)
    props = suite_properties(root)
    assert list(props) == sorted(props)
    assert props["loadcert.git_sha"] == manifest["git"]["sha"]
    assert props["loadcert.k6_script_sha256"] == manifest["artifacts"]["k6_script"]["sha256"]
    assert props["loadcert.k8s_manifest_sha256"] == manifest["artifacts"]["k8s_manifest"]["sha256"]
    for image in manifest["artifacts"]["images"]:
        assert props[f"loadcert.image.{image['name']}"] == image["digest"]
    import hashlib

    digest = "sha256:" + hashlib.sha256((bundle / "loadcert.json").read_bytes()).hexdigest()
    assert props["loadcert.bundle_sha256"] == digest == certificate["bindings"]["bundle_sha256"]
    assert props["loadcert.profile_sha256"].startswith("sha256:")
    assert props["loadcert.highest_certified_stage"] == "100k"
    assert props["loadcert.not_run"] == ""
    for stage in ("smoke", "1k", "10k", "25k", "50k", "100k"):
        assert props[f"loadcert.stage.{stage}.verdict"] == "certified"
    output = result.stdout.str()
    assert "VERDICT: CERTIFIED" in output
    assert "highest certified stage: 100k" in output
    row = next(line for line in output.splitlines() if line.startswith("100k "))
    assert "100000" in row and "certified" in row


@pytest.mark.parametrize(
    "args",
    [
        ("-k", "not p99"),
        ("--deselect", "loadcert/builtin_gates.py::test_p95_latency[1k]"),
        ("-x",),
        ("--maxfail", "1"),
    ],
    ids=["-k", "--deselect", "-x", "--maxfail"],
)
def test_incomplete_matrix_is_blocked(
    pytester: pytest.Pytester, tmp_path: Path, args: tuple[str, ...]
) -> None:
    variant = "valid" if args[0] in ("-k", "--deselect") else "missing_grafana"
    bundle = bf.build_variant(variant, tmp_path / "bundle")
    result, certificate, root = certify(pytester, bundle, *args)
    assert certificate["verdict"] == "blocked"
    assert result.ret == 2
    assert certificate["not_run"], "the certificate names what did not run"
    assert suite_properties(root)["loadcert.not_run"]
    if args[0] == "-k":
        assert "p99_latency[smoke]" in certificate["not_run"]
    if args[0] == "--deselect":
        assert certificate["not_run"] == ["p95_latency[1k]"]


@pytest.mark.parametrize("variant", ["valid", "metric_violated", "missing_otel"])
def test_xdist_gives_identical_certificate(
    pytester: pytest.Pytester, tmp_path: Path, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    monkeypatch.setenv("LOADCERT_SESSION", "ci-verdicts")  # one session id for both runs
    bundle = bf.build_variant(variant, tmp_path / variant)
    runs = []
    for extra in ((), ("-n", "2")):
        xml = tmp_path / f"{variant}{len(extra)}.xml"
        cert = tmp_path / f"{variant}{len(extra)}.json"
        result = pytester.runpytest_subprocess(
            "-p",
            "no:cacheprovider",
            f"--evidence-dir={bundle}",
            "--junitxml",
            str(xml),
            "--loadcert-certificate",
            str(cert),
            *extra,
        )
        props = [
            (p.get("name"), p.get("value"))
            for p in ET.parse(xml).getroot().find("testsuite").find("properties")
        ]
        gates = {g["id"]: g["status"] for g in json.loads(cert.read_text())["gates"]}
        runs.append((result.ret, props, gates))
    assert runs[0] == runs[1], variant
    assert runs[0][1] == sorted(runs[0][1])
    assert dict(runs[0][1])["loadcert.verdict"] == bf.variant(variant).expected


def test_snapshot_of_other_namespace_blocks_every_cluster_gate(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = bf.build_variant("snapshot_stale", tmp_path / "bundle")
    _, certificate, _ = certify(pytester, bundle)
    cluster = [
        g
        for g in certificate["gates"]
        if g["gate"]
        in (
            "cluster_snapshot",
            "workload_ready",
            "pod_readiness",
            "image_binding",
            "service_endpoints",
        )
    ]
    assert cluster and {g["status"] for g in cluster} == {"blocked"}
    assert all("max_snapshot_age_s" in g["message"] for g in cluster)


def test_shard_rates_that_overflow_leave_the_figure_unknown(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Two finite per-shard rates whose sum is inf: the certificate (strict JSON, no inf) must
    still be written, with the figure null. Before, the run crashed at the end and left an
    earlier run's certificate.json in place. (Such a rate also contradicts its own count over
    the run's duration, so the stage is blocked.)"""
    files = bf.variant_files("valid_sharded_100k")
    for summary in bf.stage_summaries(files, "100k"):
        bf.metric(summary, "http_reqs")["rate"] = 1e308
    bf.seal_files(files)
    bundle = bf.write_bundle(tmp_path / "bundle", files)
    (pytester.path / "certificate.json").write_text('{"verdict": "certified"}')  # an earlier run's
    result, certificate, _ = certify(pytester, bundle)
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output and "Traceback" not in output
    stage = next(s for s in certificate["stages"] if s["name"] == "100k")
    assert stage["rps"] is None
    assert certificate["verdict"] == "blocked" and result.ret == EXIT["blocked"]
    assert "stages/100k/k6-summary." in output and "the rate and the run's duration" in output


def test_a_run_that_writes_no_certificate_leaves_no_earlier_one(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever ends a run before it writes its certificate (a crash, a kill), an earlier run's
    certificate.json and in-toto Statement at the same paths must not pass for this run's."""
    import pytest_loadcert.certify.certificate as certificate_module

    def crash(**kwargs: object) -> dict[str, object]:
        raise RuntimeError("the certificate could not be built")

    bundle = bf.build_variant("valid", tmp_path / "bundle")
    certify(pytester, bundle)
    earlier = [pytester.path / "certificate.json", pytester.path / "certificate.intoto.json"]
    assert all(path.is_file() for path in earlier)
    monkeypatch.setattr(certificate_module, "build", crash)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}",
                                "--junitxml", str(pytester.path / "certificate.xml"))  # fmt: skip
    assert result.ret != 0
    assert not any(path.exists() for path in earlier)
