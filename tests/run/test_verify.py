"""``loadcert verify``: is this bundle the one the certificate was issued for?

The certificate comes from a real certification run on a copy of the example bundle; the
copy is then tampered with the way a bundle gets tampered with, and the real command line
must name every differing file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import bundlefactory as bf
import pytest

from pytest_loadcert import cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "evidence" / "example"
EXAMPLE_PROFILE = REPO / "evidence" / "example.toml"
SUMMARY = "stages/smoke/k6-summary.json"


@pytest.fixture
def certified(pytester: pytest.Pytester, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the example bundle and the certificate.json of its certification."""
    bundle = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, bundle)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={bundle}",
        f"--loadcert-profile={EXAMPLE_PROFILE}",
        "--loadcert-certificate=certificate.json",
    )
    assert result.ret == 0
    return bundle, pytester.path / "certificate.json"


def verify(
    capfd: pytest.CaptureFixture[str], certificate: Path, bundle: Path
) -> tuple[int, list[str], str]:
    status = cli.main(["verify", "--certificate", str(certificate), "--evidence-dir", str(bundle)])
    out, err = capfd.readouterr()
    return status, out.splitlines(), err


def test_untouched_bundle_is_the_certified_one(
    certified: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    bundle, certificate = certified
    status, out, err = verify(capfd, certificate, bundle)
    digest = "sha256:" + hashlib.sha256((bundle / "loadcert.json").read_bytes()).hexdigest()
    assert (status, err) == (0, "")
    assert out == [
        f"same: {bundle} is the bundle certified in {certificate} (verdict certified, "
        f"bundle {digest}, 11 files and loadcert.json)"
    ]


def test_one_byte_changed(certified: tuple[Path, Path], capfd: pytest.CaptureFixture[str]) -> None:
    bundle, certificate = certified
    recorded = json.loads(certificate.read_text())["evidence_files"][SUMMARY]
    data = bytearray((bundle / SUMMARY).read_bytes())
    data[10] ^= 0x01
    (bundle / SUMMARY).write_bytes(bytes(data))
    status, out, err = verify(capfd, certificate, bundle)
    actual = "sha256:" + hashlib.sha256(bytes(data)).hexdigest()
    assert status == 1
    assert out == [f"changed: {SUMMARY}: sha256 is {actual}, certified {recorded}"]
    assert (
        err == f"loadcert verify: error: {bundle} is not the bundle certified in {certificate}: "
        "1 changed\n"
    )


def test_added_removed_and_replaced_manifest_are_all_named(
    certified: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    bundle, certificate = certified
    (bundle / "stages" / "5vu" / "notes.txt").write_text("added after certification\n")
    (bundle / "stages" / "10vu" / "prometheus.json").unlink()
    # Tamper with a summary and re-seal the manifest over it: the bundle is consistent with
    # its own new manifest, and still not the bundle that was certified.
    summary = bundle / SUMMARY
    summary.write_text(summary.read_text().replace('"max": 2', '"max": 20', 1))
    manifest = json.loads((bundle / "loadcert.json").read_text())
    new_hash = "sha256:" + hashlib.sha256(summary.read_bytes()).hexdigest()
    manifest["files"][SUMMARY] = new_hash
    (bundle / "loadcert.json").write_text(json.dumps(manifest, indent=2))
    status, out, err = verify(capfd, certificate, bundle)
    assert status == 1
    kinds = {(line.split(": ")[0], line.split(": ")[1]) for line in out}
    assert kinds == {
        ("changed", "loadcert.json"),
        ("changed", SUMMARY),
        ("missing", "stages/10vu/prometheus.json"),
        ("added", "stages/5vu/notes.txt"),
    }
    assert any(f"files['{SUMMARY}'] is {new_hash}" in line for line in out)
    assert err.endswith("2 changed, 1 missing, 1 added\n")


def test_removed_manifest_and_symlink(
    certified: tuple[Path, Path], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bundle, certificate = certified
    (bundle / "loadcert.json").unlink()
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    os.symlink(outside, bundle / "stages" / "smoke" / "extra.json")
    status, out, _ = verify(capfd, certificate, bundle)
    assert status == 1
    assert out[0].startswith("missing: loadcert.json: is missing; certified sha256:")
    assert "unsafe: stages/smoke/extra.json: is a symbolic link" in out


def test_unusable_certificate_or_directory_is_a_usage_error(
    certified: tuple[Path, Path],
    capfd: pytest.CaptureFixture[str],
    pytester: pytest.Pytester,
    tmp_path: Path,
) -> None:
    bundle, certificate = certified
    status, out, err = verify(capfd, tmp_path / "nope.json", bundle)
    assert (status, out) == (4, [])
    assert err == f"loadcert verify: error: {tmp_path / 'nope.json'}: is missing\n"
    status, _, err = verify(capfd, certificate, tmp_path / "no-such-dir")
    assert status == 4 and "no such directory" in err
    # A run that could not read loadcert.json identifies no bundle to verify against.
    broken = bf.build_variant("valid", tmp_path / "broken")
    (broken / "loadcert.json").write_text("{")
    pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={broken}", "--loadcert-certificate=blocked.json"
    )
    status, _, err = verify(capfd, pytester.path / "blocked.json", broken)
    assert status == 4
    assert "bindings.bundle_sha256 is null" in err and err.count("\n") == 1


def test_sparse_giant_in_place_of_a_file_is_reported_not_read(
    certified: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """A sparse 100 GiB file would take minutes to hash: over the cap, it is named, not read."""
    bundle, certificate = certified
    path = bundle / SUMMARY
    path.unlink()
    with path.open("wb") as handle:
        handle.truncate(100 << 30)
    status, out, _ = verify(capfd, certificate, bundle)
    assert status == 1
    assert out == [
        f"changed: {SUMMARY}: is {100 << 30} bytes, over the {64 << 20}-byte cap; not hashed"
    ]
