"""The in-toto Statement a certification run writes beside certificate.json.

Its shape is checked against a JSON Schema written here from the in-toto specs (Statement
v1, ResourceDescriptor, DigestSet, and the test-result predicate v0.1), and it is parsed
with the in-toto project's own protobuf bindings (the PyPI package in-toto-attestation).
Its digests are recomputed from the bundle here, independently of the plugin.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.test_result.v0 import test_result_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "evidence" / "example"
EXAMPLE_PROFILE = REPO / "evidence" / "example.toml"

HEX64 = "^[0-9a-f]{64}$"
# DigestSet (spec/v1/digest_set.md): algorithm -> lowercase hex; sha256 is 64 hex, gitCommit
# 40 (SHA-1) or 64 (SHA-256) hex.
DIGEST_SET = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"},
    "properties": {
        "sha256": {"pattern": HEX64},
        "gitCommit": {"pattern": "^([0-9a-f]{40}|[0-9a-f]{64})$"},
    },
}
# ResourceDescriptor (spec/v1/resource_descriptor.md): one of uri, digest, content at least.
RESOURCE_DESCRIPTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "uri": {"type": "string", "minLength": 1},
        "digest": DIGEST_SET,
        "content": {"type": "string"},
        "downloadLocation": {"type": "string", "minLength": 1},
        "mediaType": {"type": "string", "minLength": 1},
        "annotations": {"type": "object"},
    },
    "anyOf": [{"required": ["uri"]}, {"required": ["digest"]}, {"required": ["content"]}],
}
# Statement v1 (spec/v1/statement.md) with the test-result predicate
# (spec/predicates/test-result.md): result and configuration required.
STATEMENT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["_type", "subject", "predicateType", "predicate"],
    "properties": {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": {
            "type": "array",
            "minItems": 1,
            "items": {"allOf": [RESOURCE_DESCRIPTOR, {"required": ["digest"]}]},
        },
        "predicateType": {"const": "https://in-toto.io/attestation/test-result/v0.1"},
        "predicate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["result", "configuration"],
            "properties": {
                "result": {"enum": ["PASSED", "WARNED", "FAILED"]},
                "configuration": {"type": "array", "items": RESOURCE_DESCRIPTOR},
                "url": {"type": "string", "minLength": 1},
                "passedTests": {"type": "array", "items": {"type": "string"}},
                "warnedTests": {"type": "array", "items": {"type": "string"}},
                "failedTests": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def sha256_hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def certify(pytester: pytest.Pytester, bundle: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "--junitxml=certificate.xml", *args
    )


def check_shape(statement: dict[str, Any]) -> None:
    """The spec's shape, and the in-toto project's own parser and validator."""
    validator = Draft202012Validator(STATEMENT_SCHEMA)
    errors = [e.message for e in validator.iter_errors(statement)]
    assert errors == []
    names = [s["name"] for s in statement["subject"]]
    assert len(names) == len(set(names)), "subject names SHOULD be unique"
    parsed = json_format.Parse(json.dumps(statement), statement_pb2.Statement())
    Statement.copy_from_pb(parsed).validate()
    predicate = json_format.ParseDict(statement["predicate"], test_result_pb2.TestResult())
    assert predicate.result == statement["predicate"]["result"]


def test_certified_statement_binds_what_was_tested(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    result = certify(pytester, bundle)
    assert result.ret == 0
    path = pytester.path / "certificate.intoto.json"
    result.stdout.fnmatch_lines([f"in-toto statement: {path}"])
    statement = json.loads(path.read_text())
    check_shape(statement)
    manifest = json.loads((bundle / "loadcert.json").read_text())
    subjects = {s["name"]: s for s in statement["subject"]}
    assert subjects["loadcert.json"]["digest"] == {"sha256": sha256_hex(bundle / "loadcert.json")}
    assert subjects["loadcert.json"]["annotations"] == {
        "runId": manifest["run_id"],
        "environment": manifest["environment"],
        "verdict": "certified",
    }
    assert subjects["git"]["digest"] == {"gitCommit": manifest["git"]["sha"]}
    images = manifest["artifacts"]["images"]
    assert len(subjects) == 2 + len(images)
    for image in images:
        assert subjects[image["name"]]["digest"] == {
            "sha256": image["digest"].removeprefix("sha256:")
        }
    predicate = statement["predicate"]
    configuration = {c["name"]: c for c in predicate["configuration"]}
    for key in ("k6_script", "k8s_manifest"):
        artifact = bundle / manifest["artifacts"][key]["path"]
        assert configuration[key]["digest"] == {"sha256": sha256_hex(artifact)}
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    profile = certificate["bindings"]["profile_sha256"].removeprefix("sha256:")
    assert configuration["profile"]["digest"] == {"sha256": profile}
    assert predicate["result"] == "PASSED"
    assert predicate["passedTests"] == [g["id"] for g in certificate["gates"]]
    assert predicate["warnedTests"] == predicate["failedTests"] == []
    assert "p95_latency[100k]" in predicate["passedTests"]


def test_waived_gate_is_a_warning(pytester: pytest.Pytester, tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(
        EXAMPLE_PROFILE.read_text()
        + '\n[[waivers]]\ngate = "p99_latency"\nstage = "smoke"\nowner = "sre-oncall"\n'
        'reason = "smoke sends too few requests for a p99"\nexpires = "2099-01-01"\n'
    )
    result = certify(pytester, EXAMPLE, f"--loadcert-profile={profile}")
    assert result.ret == 0
    statement = json.loads((pytester.path / "certificate.intoto.json").read_text())
    check_shape(statement)
    predicate = statement["predicate"]
    assert predicate["result"] == "WARNED"
    assert predicate["warnedTests"] == ["p99_latency[smoke]"]
    assert predicate["failedTests"] == []
    assert "p99_latency[smoke]" not in predicate["passedTests"]
    # The example binds no image by name twice and no cluster: bundle, git and its one image.
    assert [s["name"] for s in statement["subject"]] == ["loadcert.json", "git", "example-service"]


@pytest.mark.parametrize(
    "variant,verdict,failed",
    [
        ("p95_high", "not_certified", ["p95_latency[100k]"]),
        ("missing_otel", "blocked", ["otel_coverage"]),
    ],
)
def test_not_certified_and_blocked_are_failed(
    pytester: pytest.Pytester, tmp_path: Path, variant: str, verdict: str, failed: list[str]
) -> None:
    bundle = bf.build_variant(variant, tmp_path / "bundle")
    result = certify(pytester, bundle)
    assert result.ret == {"not_certified": 1, "blocked": 2}[verdict]
    statement = json.loads((pytester.path / "certificate.intoto.json").read_text())
    check_shape(statement)
    predicate = statement["predicate"]
    assert predicate["result"] == "FAILED"
    assert predicate["failedTests"] == failed
    assert statement["subject"][0]["annotations"]["verdict"] == verdict
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert len(predicate["passedTests"]) + len(failed) == len(certificate["gates"])


def test_intoto_path_option_and_environment(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    chosen = tmp_path / "attest" / "run.intoto.json"
    result = certify(pytester, bundle, f"--loadcert-intoto={chosen}")
    assert result.ret == 0 and chosen.is_file()
    assert not (pytester.path / "certificate.intoto.json").exists()
    monkeypatch.setenv("LOADCERT_INTOTO", str(tmp_path / "env.intoto.json"))
    result = certify(pytester, bundle, "--loadcert-certificate=out/cert.json")
    assert result.ret == 0 and (tmp_path / "env.intoto.json").is_file()
    monkeypatch.delenv("LOADCERT_INTOTO")
    result = certify(pytester, bundle, "--loadcert-certificate=out/cert.json")
    assert (pytester.path / "out" / "cert.intoto.json").is_file()


def test_nothing_to_attest_removes_a_stale_statement(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    stale = pytester.path / "certificate.intoto.json"
    stale.write_text('{"_type": "https://in-toto.io/Statement/v1"}')
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    (bundle / "loadcert.json").unlink()
    result = certify(pytester, bundle)
    assert result.ret == 2
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert certificate["bindings"]["bundle_sha256"] is None
    assert not stale.exists()
    result.stdout.fnmatch_lines(["in-toto statement: not written (binds no subject*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loadcert-intoto={dir}"], "--loadcert-intoto {dir}: is a directory"),
        (["--loadcert-certificate={dir}"], "--loadcert-certificate {dir}: is a directory"),
        (["--loadcert-intoto={file}/run.intoto.json"],
         "--loadcert-intoto {file}/run.intoto.json: {file} is not a directory"),
        (["--loadcert-certificate=out/c.json", "--loadcert-intoto=out/c.json"],
         "--loadcert-intoto {cwd}/out/c.json: is the certificate's own path"),
    ],
    ids=["intoto-dir", "certificate-dir", "intoto-under-a-file", "intoto-is-the-certificate"],
)  # fmt: skip
def test_output_path_that_cannot_be_written_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path, args: list[str], message: str
) -> None:
    folder = tmp_path / "a-directory"
    folder.mkdir()
    plain = tmp_path / "a-file"
    plain.write_text("x")
    names = {"dir": str(folder), "file": str(plain), "cwd": str(pytester.path)}
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    result = certify(pytester, bundle, *(a.format(**names) for a in args))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: {message.format(**names)}*"])
    assert plain.read_text() == "x" and not any(folder.iterdir())
