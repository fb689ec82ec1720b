"""Real k6 1.1.0 output (fixtures/k6, tools/record_k6.py) judged inside a bundle.

Each recording takes the place of the smoke stage's summary of the valid bundle (re-sealed);
the plugin certifies the bundle in a real pytest run, serial and under ``-n 2``, and the
test reads what a user reads: the verdict, the gate statuses and the message.
"""

from __future__ import annotations

import json
from pathlib import Path

import bundlefactory as bf
import pytest

K6 = Path(__file__).parents[2] / "fixtures" / "k6"

#: recording -> the two figures of it that contradict each other, as the message names them
INJECTED = {
    "failed-diluted": "metrics.http_req_failed counts 460 requests",
    "checks-diluted": "metrics.checks counts 450 passes and 10 fails, but the check() calls",
    "latency-diluted": "metrics.http_req_duration.count is 460, but metrics.http_reqs.count",
    "vus-injected": "metrics.vus.max is 999, over metrics.vus_max.max 2",
}


def judge(
    pytester: pytest.Pytester, tmp_path: Path, recording: str, *args: str
) -> tuple[dict, str]:
    files = bf.variant_files("valid")
    files["stages/smoke/k6-summary.json"] = json.loads(
        (K6 / f"{recording}.summary-export.json").read_text()
    )
    bundle = bf.write_bundle(tmp_path / "bundle", bf.seal_files(files))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *args)
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    return certificate, result.stdout.str()


@pytest.mark.parametrize("recording", sorted(INJECTED))
def test_a_real_script_writing_into_a_builtin_metric_blocks_its_stage(
    pytester: pytest.Pytester, tmp_path: Path, recording: str
) -> None:
    certificate, output = judge(pytester, tmp_path, recording)
    assert certificate["verdict"] == "blocked"
    smoke = {g["id"]: g["status"] for g in certificate["gates"] if g["id"].endswith("[smoke]")}
    for gate in ("observed_concurrency", "error_rate", "checks_rate", "p95_latency"):
        assert smoke[f"{gate}[smoke]"] == "blocked"
    assert INJECTED[recording] in output, output[-3000:]
    assert "Traceback" not in output


@pytest.mark.slow
def test_the_same_under_xdist(pytester: pytest.Pytester, tmp_path: Path) -> None:
    certificate, output = judge(pytester, tmp_path, "failed-diluted", "-n", "2")
    assert certificate["verdict"] == "blocked"
    assert INJECTED["failed-diluted"] in output


@pytest.mark.parametrize(
    ("edit", "needle", "args"),
    [
        (
            {"command_extra": ["--vus", "10", "--duration", "3s"]},
            "stages/smoke/stage.json: command holds --vus 10: it replaces the bound script's",
            (),
        ),
        (
            {"k6_environment": ["K6_THRESHOLDS"]},
            "stages/smoke/stage.json: k6_environment holds K6_THRESHOLDS: k6 read it",
            (),
        ),
        pytest.param(
            {"k6_environment": ["K6_DURATION"]},
            "stages/smoke/stage.json: k6_environment holds K6_DURATION: k6 read it",
            ("-n", "2"),
            marks=pytest.mark.slow,
        ),
        (
            {"k6_environment": None},
            "stages/smoke/stage.json: k6_environment is not recorded: whether K6_* variables",
            (),
        ),
    ],
    ids=["command", "environment", "environment-xdist", "environment-not-recorded"],
)
def test_a_stage_whose_recorded_run_bent_judgment_is_blocked(
    pytester: pytest.Pytester, tmp_path: Path, edit: dict, needle: str, args: tuple[str, ...]
) -> None:
    """A bundle made by hand or by an older run-stage: ``-- --vus 10 --duration 3s``
    replaced the script's ramp; ``K6_THRESHOLDS=`` wiped its thresholds, exit 0."""
    files = bf.variant_files("valid")
    stage = files["stages/smoke/stage.json"]
    stage["command"][2:2] = edit.get("command_extra", [])
    if edit.get("k6_environment", ()) is None:
        del stage["k6_environment"]  # missing: never read as "none set"
    elif "k6_environment" in edit:
        stage["k6_environment"] = edit["k6_environment"]
    bundle = bf.write_bundle(tmp_path / "bundle", bf.seal_files(files))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", *args)
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    statuses = {g["id"]: g["status"] for g in certificate["gates"]}
    assert certificate["verdict"] == "blocked"
    assert statuses["k6_thresholds[smoke]"] == "blocked"
    assert needle in result.stdout.str()


@pytest.mark.parametrize(
    ("recording", "args"),
    [
        ("setup-only", ()),
        ("setup-only-split", ()),
        pytest.param("setup-only-split", ("-n", "2"), marks=pytest.mark.slow),
    ],
    ids=["setup-only", "split", "split-xdist"],
)
def test_a_stage_whose_only_requests_came_from_setup_is_blocked(
    pytester: pytest.Pytester, tmp_path: Path, recording: str, args: tuple[str, ...]
) -> None:
    """Real k6: 2 VUs whose iterations threw before any request, 20 checked requests from
    setup() and one from teardown(): "2 users" would certify nothing the VUs did. Its checks
    are setup()'s (root_group says so); with the script's split thresholds its requests are
    too. The 2 s run also stands for a 60 s window, which the export's own counters show."""
    certificate, output = judge(pytester, tmp_path, recording, *args)
    statuses = {g["id"]: g["status"] for g in certificate["gates"]}
    # without the split its 21 requests count, so its 2 VUs are judged (and fall short)
    assert certificate["verdict"] == ("blocked" if recording.endswith("split") else "not_certified")
    assert statuses["checks_rate[smoke]"] == "blocked"
    if recording == "setup-only-split":
        assert statuses["requests_sent[smoke]"] == "blocked"
        assert "is 0, under k6.min_requests = 1" in output
    else:
        assert "metrics.checks counts no check" in output
    assert statuses["stage_window[smoke]"] == "blocked"
    assert "metrics.http_reqs.count / metrics.http_reqs.rate is 2.0" in output
    assert "s but stages/smoke/stage.json spans 60s" in output
