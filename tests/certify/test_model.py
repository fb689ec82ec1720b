"""The typed certificate and the JSON Schema are one contract: same fields, same required."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from pytest_loadcert.certify import model

SCHEMA = json.loads(
    (
        Path(model.__file__).parents[1] / "evidence" / "schemas" / "certificate.schema.json"
    ).read_text()
)


def _stage_metric_schema() -> dict[str, Any]:
    items: dict[str, Any] = SCHEMA["$defs"]["stage"]["properties"]["metrics"]["items"]
    return items


CASES = [
    (model.Certificate, SCHEMA),
    (model.Thresholds, SCHEMA["properties"]["thresholds"]),
    (model.Bindings, SCHEMA["properties"]["bindings"]),
    (model.Image, SCHEMA["properties"]["bindings"]["properties"]["images"]["items"]),
    (model.RunLevel, SCHEMA["properties"]["run_level"]),
    (model.Invocation, SCHEMA["properties"]["invocation"]),
    (model.StageEntry, SCHEMA["$defs"]["stage"]),
    (model.StageMetric, _stage_metric_schema()),
    (model.GateEntry, SCHEMA["$defs"]["gate"]),
]


@pytest.mark.parametrize("typed, schema", CASES, ids=[c[0].__name__ for c in CASES])
def test_typed_fields_are_the_schemas(typed: Any, schema: dict[str, Any]) -> None:
    assert set(get_type_hints(typed)) == set(schema["properties"])
    assert set(typed.__required_keys__) == set(schema.get("required", []))


def test_a_written_certificate_is_read_back_as_the_typed_object(tmp_path: Path) -> None:
    """What the plugin writes is what read_certificate returns, key for key."""
    import subprocess
    import sys

    import bundlefactory as bf

    from pytest_loadcert.certify.read import read_certificate

    bundle = bf.build_variant("valid", tmp_path / "bundle")
    path = tmp_path / "certificate.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--evidence-dir={bundle}", f"--loadcert-certificate={path}"],
        cwd=tmp_path, capture_output=True, check=False, timeout=300,
    )  # fmt: skip
    certificate = read_certificate(path)
    assert certificate["verdict"] == "certified"
    assert set(certificate) <= set(get_type_hints(model.Certificate))
    for stage in certificate["stages"]:
        assert set(stage) <= set(get_type_hints(model.StageEntry))
