"""One comparison of a bundle with the files it was bound in: the integrity gate and
``loadcert verify`` name the same differences, each in its own words."""

from __future__ import annotations

import json
import os
from pathlib import Path

import bundlefactory as bf

from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.integrity import Kind, compare_files
from pytest_loadcert.evidence.layout import MANIFEST
from pytest_loadcert.run.verify import compare


def _tampered(root: Path) -> tuple[Path, dict[str, str]]:
    bundle = bf.build_bundle(root)
    bound = json.loads((bundle / MANIFEST).read_text())["files"]
    (bundle / "stages/smoke/k6-summary.json").write_text("{}")  # changed
    (bundle / "stages/1k/prometheus.json").unlink()  # missing
    (bundle / "stages/1k/extra.json").write_text("{}")  # added
    os.symlink("stage.json", bundle / "stages/10k/link.json")  # unsafe
    (bundle / "stages/25k/STAGE.json").write_text("{}")  # differs only in case
    return bundle, bound


def test_differences_are_structured(tmp_path: Path) -> None:
    bundle, bound = _tampered(tmp_path / "b")
    found = {(d.kind, d.path) for d in compare_files(bundle, bound)}
    assert found == {
        (Kind.UNSAFE, "stages/10k/link.json"),
        (Kind.CASE, "stages/25k/stage.json"),
        (Kind.MISSING, "stages/1k/prometheus.json"),
        (Kind.CHANGED, "stages/smoke/k6-summary.json"),
        (Kind.ADDED, "stages/1k/extra.json"),
        (Kind.ADDED, "stages/25k/STAGE.json"),
    }


def test_the_gate_and_verify_name_the_same_files(tmp_path: Path) -> None:
    bundle, bound = _tampered(tmp_path / "b")
    manifest_digest = bf.digest((bundle / MANIFEST).read_bytes())
    certificate = {"evidence_files": bound, "bindings": {"bundle_sha256": manifest_digest}}
    gate = Bundle(bundle).integrity_problems()
    verify = [d.line() for d in compare(certificate, bundle)]  # type: ignore[arg-type]
    assert [p.split(": ", 1)[0] for p in gate] == [v.split(": ")[1] for v in verify]
    assert (
        "stages/1k/prometheus.json: listed in loadcert.json files but not a regular file "
        "in the bundle" in gate
    )
    assert (
        f"missing: stages/1k/prometheus.json: certified with {bound['stages/1k/prometheus.json']}"
        ", not in the bundle"
    ) in verify
    assert "unsafe: stages/10k/link.json: is a symbolic link" in verify
    assert "stages/1k/extra.json: in the bundle but not in loadcert.json files" in gate
    assert "added: stages/1k/extra.json: in the bundle, but not certified" in verify
