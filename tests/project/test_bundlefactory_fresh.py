"""The committed golden bundles are exactly what the bundle factory writes today, and every
variant the factory builds is internally consistent.

If a test here fails after a change to ``tests/bundlefactory.py``, regenerate with
``.venv/bin/python fixtures/build.py`` and commit ``fixtures/bundles/``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
BUNDLES = REPO / "fixtures" / "bundles"
K6_RECORDINGS = REPO / "fixtures" / "k6"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _load_build() -> ModuleType:
    path = REPO / "fixtures" / "build.py"
    spec = importlib.util.spec_from_file_location("loadcert_fixtures_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts tests/ on sys.path for bundlefactory
    return module


build = _load_build()
bundlefactory: Any = sys.modules["bundlefactory"]
RESEALED = [v.name for v in bundlefactory.VARIANTS if v.reseal]
CERTIFIED = [v.name for v in bundlefactory.VARIANTS if v.expected == "certified"]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every variant, built once for this module."""
    return build.build(tmp_path_factory.mktemp("variants") / "bundles")


def test_committed_bundles_are_byte_identical_to_a_fresh_build(tmp_path: Path) -> None:
    fresh = _tree(build.build(tmp_path / "bundles", build.GOLDEN))
    committed = _tree(BUNDLES)
    hint = "fixtures/bundles is stale: run `.venv/bin/python fixtures/build.py` and commit"
    assert sorted(committed) == sorted(fresh), (
        f"{hint} (file sets differ: "
        f"missing {sorted(set(fresh) - set(committed))[:5]}, "
        f"extra {sorted(set(committed) - set(fresh))[:5]})"
    )
    changed = [path for path in fresh if fresh[path] != committed[path]]
    assert not changed, f"{hint} (changed: {changed[:10]})"


def test_index_lists_every_variant_with_its_verdict(variants: Path) -> None:
    index = json.loads((variants / "INDEX.json").read_text())
    names = [v.name for v in bundlefactory.VARIANTS]
    assert len(names) == len(set(names))
    assert list(index) == sorted(names) == sorted(p.name for p in variants.iterdir() if p.is_dir())
    for v in bundlefactory.VARIANTS:
        assert v.expected in {"certified", "not_certified", "blocked"}
        assert index[v.name] == {"expected": v.expected, "description": v.description}


def test_golden_bundles_show_every_verdict_and_the_seal() -> None:
    expected = {v.name: v for v in bundlefactory.VARIANTS}
    assert set(build.GOLDEN) <= set(expected)
    verdicts = {expected[name].expected for name in build.GOLDEN}
    assert verdicts == {"certified", "not_certified", "blocked"}
    assert any(not expected[name].reseal for name in build.GOLDEN)
    committed = json.loads((BUNDLES / "INDEX.json").read_text())
    assert list(committed) == sorted(build.GOLDEN)


@pytest.mark.parametrize("name", RESEALED)
def test_recorded_hashes_recompute(name: str, variants: Path) -> None:
    root = variants / name
    manifest = json.loads((root / "loadcert.json").read_text())
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"loadcert.json"}
    for rel, recorded in manifest["files"].items():
        assert DIGEST.fullmatch(recorded), rel
        assert _sha((root / rel).read_bytes()) == recorded, rel
    for key in ("k6_script", "k8s_manifest"):
        entry = manifest["artifacts"][key]
        assert entry["sha256"] == _sha((root / entry["path"]).read_bytes()), key


@pytest.mark.parametrize("name", CERTIFIED)
def test_certified_variants_are_internally_consistent(name: str, variants: Path) -> None:
    """Cheap cross-checks of the valid bundles against DESIGN's contract."""
    root = variants / name
    manifest = json.loads((root / "loadcert.json").read_text())
    assert set(manifest) == {
        "schema",
        "run_id",
        "environment",
        "created_at",
        "git",
        "artifacts",
        "cluster",
        "files",
    }
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["git"]["sha"])
    items = json.loads((root / "cluster" / "kubernetes.json").read_text())["items"]
    running = {
        s["imageID"].rsplit("@", 1)[1]
        for pod in items
        if pod["kind"] == "Pod"
        and any(
            o["kind"] in ("ReplicaSet", "StatefulSet")
            for o in pod["metadata"].get("ownerReferences", [])
        )
        and not pod["metadata"]["name"].startswith("legacy-reports")
        for s in pod["status"]["containerStatuses"]
    }
    assert running == {i["digest"] for i in manifest["artifacts"]["images"]}
    previous_end = None
    for stage, _vus in bundlefactory.STAGES:
        meta = json.loads((root / "stages" / stage / "stage.json").read_text())
        prom = json.loads((root / "stages" / stage / "prometheus.json").read_text())
        assert prom["window"] == {"start": meta["start_time"], "end": meta["end_time"]}
        assert previous_end is None or meta["start_time"] > previous_end
        previous_end = meta["end_time"]
        assert [q["name"] for q in prom["queries"]] == [m[0] for m in bundlefactory.METRICS]
    assert manifest["cluster"]["collected_at"] > previous_end
    assert manifest["created_at"] > manifest["cluster"]["collected_at"]


def test_disk_seal_agrees_with_dict_seal(tmp_path: Path) -> None:
    root = bundlefactory.build_bundle(tmp_path / "b")
    before = (root / "loadcert.json").read_bytes()
    bundlefactory.seal(root)
    assert (root / "loadcert.json").read_bytes() == before
    (root / "artifacts" / "k6-script.js").write_text("// edited\n")
    bundlefactory.seal(root)
    manifest = json.loads((root / "loadcert.json").read_text())
    assert manifest["artifacts"]["k6_script"]["sha256"] == _sha(b"// edited\n")
    assert manifest["files"]["artifacts/k6-script.js"] == _sha(b"// edited\n")


def _shape(summary: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Metric name -> (type, contains, value keys), thresholds left out."""
    shape = {}
    for name, entry in summary["metrics"].items():
        values = entry.get("values", entry)
        keys = tuple(sorted(k for k in values if k != "thresholds"))
        shape[name] = (entry.get("type"), entry.get("contains"), keys)
    return shape


@pytest.mark.parametrize("fmt", ["handlesummary", "summary-export"])
def test_generated_summaries_have_the_shape_of_real_k6(fmt: str) -> None:
    real = json.loads((K6_RECORDINGS / f"pass.{fmt}.json").read_text())
    stage = "smoke" if fmt == "handlesummary" else "1k"
    assert bundlefactory.DEFAULT_FORMATS[stage] == fmt
    generated = json.loads((BUNDLES / "valid" / "stages" / stage / "k6-summary.json").read_text())
    assert _shape(generated) == _shape(real)
    assert set(generated) == set(real)
    assert set(generated["root_group"]) == set(real["root_group"])
    assert type(generated["root_group"]["checks"]) is type(real["root_group"]["checks"])
    if fmt == "handlesummary":
        assert set(generated["state"]) == set(real["state"])
        assert set(generated["options"]) == set(real["options"])


def test_factory_reproduces_the_plugins_built_in_profile() -> None:
    """The fixtures are for the built-in profile: fail loudly when it drifts."""
    profile = pytest.importorskip("pytest_loadcert.config.defaults")
    default = profile.DEFAULT_PROFILE
    assert default["target_concurrency"] == bundlefactory.STAGES[-1][1]
    assert [(s["name"], s["min_active_vus"]) for s in default["stages"]] == list(
        bundlefactory.STAGES
    )
    metrics = [
        (m["name"], m["promql"], "max" if "max" in m else "min", m.get("max", m.get("min")))
        for m in default["metrics"]
    ]
    assert metrics == list(bundlefactory.METRICS)
    cluster = default["cluster"]
    assert cluster["namespace"] == bundlefactory.NAMESPACE
    assert cluster["deployments"] == list(bundlefactory.DEPLOYMENTS)
    assert cluster["statefulsets"] == list(bundlefactory.STATEFULSETS)
    assert cluster["hpas"] == list(bundlefactory.HPAS)
    assert cluster["pdbs"] == list(bundlefactory.PDBS)
    assert cluster["services"] == list(bundlefactory.SERVICE_PORTS)
