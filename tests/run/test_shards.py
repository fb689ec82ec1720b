"""Distributed stages: ``run-stage --shard I/N``, ``merge-shards``, and the shard window rule.

The real-k6 tests run four k6 workers at once against the example service on 127.0.0.1
(1 VU each, 2 s): two halves of one run, a half whose threshold is crossed (exit 99), and a
half running another script. They are merged, sealed and certified with a one-stage profile
that needs 2 active VUs, which only the sum of both halves reaches.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_loadcert import cli
from pytest_loadcert.demo.exampleservice import start_service
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.hashing import sha256_file
from pytest_loadcert.evidence.shards import (
    ShardRecord,
    check_shard_records,
    check_shard_windows,
    equal_segment,
    merged_exit_code,
    parse_shard_record,
    segment_sequence,
)
from pytest_loadcert.evidence.stage import StageRun
from pytest_loadcert.evidence.timeutil import format_utc, parse_utc
from pytest_loadcert.run.k6bin import K6NotFound, find_k6
from pytest_loadcert.run.stage import parse_shard

PROFILE = """\
target_concurrency = 2
stability = []
metrics = []

[[stages]]
name = "dist"
min_active_vus = 2

[k6]
min_requests = 10
duration_tolerance_s = 5

[cluster]
required = false

[observability]
grafana = false
otel = false
"""

# A constant 2-VU scenario: k6 gives each half (execution segment) 1 VU. STRICT=1 makes the
# threshold fail (k6 exits 99); HS_OUT=<file> writes the handleSummary data there, as a
# k6-operator runner would write it to a volume.
SCRIPT = """\
import http from "k6/http";
import { check, sleep } from "k6";

export const options = {
  scenarios: {
    constant: { executor: "constant-vus", vus: 2, duration: "2s", gracefulStop: "1s" },
  },
  thresholds: { http_reqs: [__ENV.STRICT ? "count>1000000" : "count>0"] },
};

export default function () {
  const response = http.get(`${__ENV.BASE_URL}/api/items`);
  check(response, { "status is 200": (r) => r.status === 200 });
  sleep(0.05);
}

export function handleSummary(data) {
  return __ENV.HS_OUT ? { [__ENV.HS_OUT]: JSON.stringify(data) } : {};
}
"""

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
VERSION = "k6 v1.1.0 (test)"
SCRIPT_SHA = "sha256:" + "c" * 64


# ----------------------------------------------------------------------------- pure rules


def _record(shard: str, start_s: float, end_s: float, **changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "stage": "100k",
        "shard": shard,
        "execution_segment": equal_segment(int(shard), 2) if shard in "12" else "0:1",
        "start_time": format_utc(T0 + timedelta(seconds=start_s)),
        "end_time": format_utc(T0 + timedelta(seconds=end_s)),
        "measured_by": "loadcert run-stage",
        "k6_exit_code": 0,
        "k6_version": VERSION,
        "k6_script_sha256": SCRIPT_SHA,
    }
    document.update(changes)
    return document


def _records(*documents: dict[str, object]) -> dict[str, ShardRecord]:
    parsed = [parse_shard_record(d, f"stages/100k/shard-{d['shard']}.json") for d in documents]
    return {r.shard: r for r in parsed}


def _run(start_s: float, end_s: float, exit_code: int = 0) -> StageRun:
    start, end = T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s)
    return StageRun(
        "stages/100k/stage.json",
        "100k",
        start,
        end,
        exit_code,
        VERSION,
        100000,
        format_utc(start),
        format_utc(end),
        {"1": "0:1/2", "2": "1/2:1"},
    )


def test_equal_segments_are_k6_operators() -> None:
    """Runner I of N runs ((I-1)/N : I/N) with the sequence 0,1/N,..,1 (k6-operator's
    pkg/segmentation): the names merge-shards and the docs use for its runners."""
    assert [equal_segment(i, 4) for i in (1, 2, 3, 4)] == ["0:1/4", "1/4:2/4", "2/4:3/4", "3/4:1"]
    assert segment_sequence(4) == "0,1/4,2/4,3/4,1"
    assert equal_segment(1, 1) == "0:1" and segment_sequence(1) == "0,1"
    shard = parse_shard("2/4")
    assert (shard.segment, shard.sequence) == ("1/4:2/4", "0,1/4,2/4,3/4,1")
    for bad in ("0/4", "5/4", "2", "a/b", "2/0", "1/1001", "-1/2", "²/4"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_shards_started_a_few_hundred_ms_apart_agree() -> None:
    records = _records(_record("1", 0.0, 300.2), _record("2", 0.4, 300.9))
    check_shard_records(_run(0.0, 300.9), records, tolerance_s=5)  # does not raise


def test_shards_an_hour_apart_did_not_run_together() -> None:
    records = _records(_record("1", 0, 300), _record("2", 3600, 3900))
    with pytest.raises(EvidenceError) as raised:
        check_shard_records(_run(0, 3900), records, tolerance_s=5)
    assert raised.value.file == "stages/100k/shard-1.json"
    assert "did not run together" in str(raised.value)


def test_short_shards_within_tolerance_that_never_overlapped_are_refused() -> None:
    """2 s shards 3 s apart: each within 5 s of the window's ends, but never running at once."""
    records = _records(_record("1", 0, 2), _record("2", 3, 5))
    with pytest.raises(EvidenceError, match="never ran at the same time") as raised:
        check_shard_windows(
            "stages/100k/stage.json", T0, T0 + timedelta(seconds=5), records.values(), 5
        )
    assert raised.value.file == "stages/100k/shard-2.json"


@pytest.mark.parametrize(
    ("change", "file", "needle"),
    [
        ({"k6_version": "k6 v1.0.0"}, "stages/100k/shard-2.json", "one k6"),
        ({"k6_script_sha256": "sha256:" + "d" * 64}, "stages/100k/shard-2.json", "one script"),
        ({"execution_segment": "1/3:1"}, "stages/100k/shard-2.json", "shards.2 is '1/2:1'"),
        ({"k6_exit_code": 99}, "stages/100k/stage.json", "shard records say 99"),
        ({"stage": "50k"}, "stages/100k/shard-2.json", "not '100k'"),
    ],
)
def test_shard_records_must_agree_with_each_other_and_stage_json(
    change: dict[str, object], file: str, needle: str
) -> None:
    records = _records(_record("1", 0, 300), _record("2", 0, 300, **change))
    with pytest.raises(EvidenceError) as raised:
        check_shard_records(_run(0, 300), records, tolerance_s=5)
    assert (raised.value.file, needle in str(raised.value)) == (file, True)


def test_a_shard_record_missing_for_a_named_shard_blocks() -> None:
    records = _records(_record("1", 0, 300))
    with pytest.raises(EvidenceError, match=r"names shards \['1', '2'\], but the stage's shard"):
        check_shard_records(_run(0, 300), records, tolerance_s=5)


def test_stage_exit_code_is_the_first_failed_shard_in_shard_order() -> None:
    records = _records(
        *(_record(str(i), 0, 1, k6_exit_code=code) for i, code in ((1, 0), (10, 99), (2, 107)))
    )
    assert merged_exit_code(records.values()) == 107
    assert merged_exit_code(_records(_record("1", 0, 1)).values()) == 0


@pytest.mark.parametrize(
    ("change", "field", "needle"),
    [
        ({"k6_exit_code": None}, "k6_exit_code", "must be an integer"),
        ({"k6_exit_code": True}, "k6_exit_code", "must be an integer"),
        ({"k6_exit_code": 256}, "k6_exit_code", "0..255"),
        ({"start_time": "2026-05-01 12:00:00"}, "start_time", "RFC 3339"),
        ({"k6_script_sha256": "sha256:ABC"}, "k6_script_sha256", "64 lowercase hex"),
        ({"shard": "../1"}, "shard", "not a shard name"),
        ({"execution_segment": "half"}, "execution_segment", "not a segment"),
        ({"vus": 4}, "vus", "not a field"),
        ({"command": []}, "command", "non-empty"),
    ],
)
def test_bad_shard_record_names_the_field(
    change: dict[str, object], field: str, needle: str
) -> None:
    document = _record("1", 0, 1)
    document.update(change)
    with pytest.raises(EvidenceError) as raised:
        parse_shard_record(document, "w/stages/100k/shard-1.json")
    assert (raised.value.file, raised.value.field) == ("w/stages/100k/shard-1.json", field)
    assert needle in str(raised.value)
    missing = _record("1", 0, 1)
    del missing["end_time"]
    with pytest.raises(EvidenceError, match="end_time is missing"):
        parse_shard_record(missing, "shard-1.json")


# ----------------------------------------------------------------------------- CLI refusals


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    "extra",
    [
        ["--execution-segment", "0:1/2"],
        ["--execution-segment=0:1/2"],
        ["--execution-segment-sequence", "0,1/2,1"],
        ["--execution-segment-sequence=0,1/2,1"],
    ],
)
@pytest.mark.parametrize("shard", [[], ["--shard", "1/2"]])
def test_run_stage_refuses_a_segment_after_double_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], shard: list[str]
) -> None:
    (tmp_path / "p.toml").write_text(PROFILE)
    (tmp_path / "s.js").write_text(SCRIPT)
    status, _, err = _cli(
        [
            "run-stage",
            "--evidence-dir",
            str(tmp_path / "ev"),
            "--stage",
            "dist",
            "--script",
            str(tmp_path / "s.js"),
            "--loadcert-profile",
            str(tmp_path / "p.toml"),
            *shard,
            "--",
            *extra,
        ],
        capsys,
    )
    assert status == 4
    assert err.count("\n") == 1 and extra[0].split("=")[0] + " after `--`" in err
    assert "--shard I/N" in err
    assert not (tmp_path / "ev").exists()


def test_run_stage_refuses_a_segment_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p.toml").write_text(PROFILE)
    (tmp_path / "s.js").write_text(SCRIPT)
    monkeypatch.setenv("K6_EXECUTION_SEGMENT", "0:1/2")
    status, _, err = _cli(
        [
            "run-stage",
            "--evidence-dir",
            str(tmp_path / "ev"),
            "--stage",
            "dist",
            "--script",
            str(tmp_path / "s.js"),
            "--loadcert-profile",
            str(tmp_path / "p.toml"),
        ],
        capsys,
    )
    assert status == 4 and "$K6_EXECUTION_SEGMENT is set" in err


@pytest.mark.parametrize(("value", "needle"), [("3/2", "I must be 1..2"), ("x", "is not I/N")])
def test_run_stage_shard_must_be_i_of_n(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, needle: str
) -> None:
    status, _, err = _cli(
        [
            "run-stage",
            "--evidence-dir",
            str(tmp_path),
            "--stage",
            "dist",
            "--script",
            "s.js",
            "--shard",
            value,
        ],
        capsys,
    )
    assert status == 4 and needle in err


def test_merge_shards_declared_options_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.toml").write_text(PROFILE)
    base = [
        "merge-shards",
        "--evidence-dir",
        str(tmp_path / "b"),
        "--stage",
        "dist",
        "--loadcert-profile",
        str(tmp_path / "p.toml"),
    ]
    status, _, err = _cli(base, capsys)
    assert status == 4 and "nothing to merge" in err
    status, _, err = _cli([*base, "--summary", "1=s.json", "--segment", "1=0:1"], capsys)
    assert (
        status == 4
        and "declared shard 1: --start, --end, --exit-code, --k6-environment 1=... missing" in err
    )
    declared = [
        "--summary",
        "1=s.json",
        "--segment",
        "1=0:1",
        "--start",
        "1=yesterday",
        "--end",
        "1=2026-05-01T00:00:01Z",
        "--exit-code",
        "1=0",
        "--k6-environment",
        "1=K6_VUS,VUS",
    ]
    status, _, err = _cli([*base, *declared, "--script", "x.js", "--k6-version", "k6"], capsys)
    assert status == 4 and "--start 1=yesterday: not an RFC 3339 UTC time" in err
    declared[5] = "1=2026-05-01T00:00:00Z"
    status, _, err = _cli([*base, *declared, "--script", "x.js", "--k6-version", "k6"], capsys)
    assert status == 4 and "--k6-environment 1=K6_VUS,VUS: 'VUS' is not a K6_* variable" in err
    declared[11] = "1="
    status, _, err = _cli([*base, *declared], capsys)
    assert status == 4 and "need --script FILE and --k6-version TEXT" in err
    status, _, err = _cli([*base, "--stage", "nope", "--from", str(tmp_path)], capsys)
    assert status == 4 and "'nope' is not in the profile" in err
    assert not (tmp_path / "b").exists()


# ----------------------------------------------------------------------------- real k6


@dataclass(frozen=True)
class Workers:
    """Worker directories from real `loadcert run-stage --shard` runs, and their inputs."""

    root: Path
    profile: Path
    script: Path

    def worker(self, name: str) -> Path:
        return self.root / name


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """Four real k6 workers at once: halves 1/2 and 2/2 of one run ("w1", "w2"), half 2/2
    with its threshold crossed ("strict"), half 2/2 of another script ("other")."""
    try:
        find_k6()
    except K6NotFound as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("shards")
    profile, script, other = root / "profile.toml", root / "script.js", root / "other.js"
    profile.write_text(PROFILE)
    script.write_text(SCRIPT)
    other.write_text(SCRIPT + "// another script\n")
    runs = {
        "w1": ("1/2", script, []),
        "w2": ("2/2", script, []),
        "strict": ("2/2", script, ["-e", "STRICT=1"]),
        "other": ("2/2", other, []),
    }
    with start_service(0) as service:
        processes = {
            name: subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pytest_loadcert.cli",
                    "run-stage",
                    "--evidence-dir",
                    str(root / name),
                    "--stage",
                    "dist",
                    "--script",
                    str(path),
                    "--loadcert-profile",
                    str(profile),
                    "--shard",
                    shard,
                    "--",
                    "--address",
                    "127.0.0.1:0",  # k6's REST API: no clash between the four
                    "-e",
                    f"BASE_URL={service.url}",
                    "-e",
                    f"HS_OUT={root / name / 'hs.json'}",
                    *extra,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name, (shard, path, extra) in runs.items()
        }
        outputs = {name: process.communicate(timeout=60) for name, process in processes.items()}
    codes = {name: process.returncode for name, process in processes.items()}
    assert codes == {"w1": 0, "w2": 0, "strict": 1, "other": 0}, outputs
    yield Workers(root, profile, script)


def _merge(workers: Workers, bundle: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_loadcert.cli",
            "merge-shards",
            "--evidence-dir",
            str(bundle),
            "--stage",
            "dist",
            "--loadcert-profile",
            str(workers.profile),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _seal_and_certify(
    pytester: pytest.Pytester, workers: Workers, bundle: Path
) -> dict[str, object]:
    status, _, err = _cli_subprocess(
        [
            "collect",
            "prometheus",
            "--url",
            "http://127.0.0.1:9",
            "--evidence-dir",
            str(bundle),
            "--loadcert-profile",
            str(workers.profile),
        ]
    )  # no metrics: nothing is asked
    assert status == 0, err
    repo = bundle.parent / f"{bundle.name}-repo"
    repo.mkdir()
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "under test"]):
        subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                *args,
            ],
            check=True,
            capture_output=True,
        )
    manifest = bundle.parent / f"{bundle.name}-manifest.yaml"
    manifest.write_text("kind: List\n")
    status, _, err = _cli_subprocess(
        [
            "seal",
            "--evidence-dir",
            str(bundle),
            "--run-id",
            "shards",
            "--environment",
            "test",
            "--image",
            f"example-service=sha256:{'a' * 64}",
            "--k8s-manifest",
            str(manifest),
            "--git-repo",
            str(repo),
        ]
    )
    assert status == 0, err
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={bundle}",
        f"--loadcert-profile={workers.profile}",
    )
    certificate: dict[str, object] = json.loads((pytester.path / "certificate.json").read_text())
    assert result.ret == certificate["exit_status"]
    return certificate


def _cli_subprocess(args: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_loadcert.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _gate(certificate: dict[str, object], gate_id: str) -> dict[str, str]:
    gates = certificate["gates"]
    assert isinstance(gates, list)
    return next(g for g in gates if g["id"] == gate_id)


def _edit(path: Path, **changes: object) -> None:
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


def _when(text: str) -> datetime:
    moment = parse_utc(text)
    assert moment is not None
    return moment


def _shift(text: str, seconds: float) -> str:
    return format_utc(_when(text) + timedelta(seconds=seconds))


@pytest.mark.slow
def test_each_worker_ran_its_segment_and_recorded_it(workers: Workers) -> None:
    for name, shard, segment in (("w1", "1", "0:1/2"), ("w2", "2", "1/2:1")):
        stage_dir = workers.worker(name) / "stages/dist"
        assert sorted(p.name for p in stage_dir.iterdir()) == [
            f"k6-summary.{shard}.json",
            f"shard-{shard}.json",
        ]
        summary = json.loads((stage_dir / f"k6-summary.{shard}.json").read_text())
        assert summary["metrics"]["vus"]["max"] == 1  # k6 gave this segment 1 of the 2 VUs
        record = json.loads((stage_dir / f"shard-{shard}.json").read_text())
        assert record["execution_segment"] == segment
        assert record["execution_segment_sequence"] == "0,1/2,1"
        assert record["measured_by"] == "loadcert run-stage"
        assert record["k6_exit_code"] == 0 and record["k6_version"].startswith("k6 v")
        assert record["k6_script_sha256"] == sha256_file(workers.script)
        command = record["command"]
        assert command[command.index("--execution-segment") + 1] == segment
        assert command[-1] == "artifacts/k6-script.js"
        start, end = parse_utc(record["start_time"]), parse_utc(record["end_time"])
        assert start is not None and end is not None
        assert 2.0 <= (end - start).total_seconds() < 10  # the 2 s scenario, start-up, stop
        script = workers.worker(name) / "artifacts/k6-script.js"
        assert script.read_bytes() == workers.script.read_bytes()
    strict = json.loads((workers.worker("strict") / "stages/dist/shard-2.json").read_text())
    assert strict["k6_exit_code"] == 99


@pytest.mark.slow
def test_two_shards_merge_seal_and_certify(
    workers: Workers, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    status, out, err = _merge(
        workers, bundle, "--from", str(workers.worker("w1")), str(workers.worker("w2"))
    )
    assert status == 0, err
    assert "stages/dist/stage.json: 2 shards, k6 exit 0" in out
    stage = json.loads((bundle / "stages/dist/stage.json").read_text())
    records = [
        json.loads((workers.worker(w) / f"stages/dist/shard-{i}.json").read_text())
        for w, i in (("w1", 1), ("w2", 2))
    ]
    assert stage["shards"] == {"1": "0:1/2", "2": "1/2:1"}
    assert stage["start_time"] == min((r["start_time"] for r in records), key=_when)
    assert stage["end_time"] == max((r["end_time"] for r in records), key=_when)
    assert stage["k6_exit_code"] == 0 and stage["k6_version"] == records[0]["k6_version"]
    for name, shard in (("w1", "1"), ("w2", "2")):  # copied byte for byte
        for file in (f"k6-summary.{shard}.json", f"shard-{shard}.json"):
            assert (bundle / "stages/dist" / file).read_bytes() == (
                workers.worker(name) / "stages/dist" / file
            ).read_bytes()
    assert (bundle / "artifacts/k6-script.js").read_bytes() == workers.script.read_bytes()

    certificate = _seal_and_certify(pytester, workers, bundle)
    assert certificate["verdict"] == "certified"
    stages = certificate["stages"]
    assert isinstance(stages, list)
    assert stages[0]["peak_active_vus"] == 2  # 1 + 1: only the sum reaches min_active_vus
    window = _gate(certificate, "stage_window[dist]")
    assert window["status"] == "passed"


@pytest.mark.slow
def test_a_shard_whose_thresholds_failed_does_not_certify(
    workers: Workers, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    status, _, err = _merge(
        workers, bundle, "--from", str(workers.worker("w1")), str(workers.worker("strict"))
    )
    assert status == 1 and "a shard's k6 exited 99; evidence written" in err
    assert json.loads((bundle / "stages/dist/stage.json").read_text())["k6_exit_code"] == 99
    certificate = _seal_and_certify(pytester, workers, bundle)
    assert certificate["verdict"] == "not_certified"
    assert _gate(certificate, "k6_thresholds[dist]")["status"] == "failed"


def _copy(workers: Workers, name: str, new: str, tmp_path: Path) -> Path:
    target = tmp_path / new
    shutil.copytree(workers.worker(name), target)
    return target


@pytest.mark.slow
def test_merge_refuses_what_is_not_one_run(workers: Workers, tmp_path: Path) -> None:
    w1, w2 = str(workers.worker("w1")), str(workers.worker("w2"))
    bundle = tmp_path / "bundle"
    cases: list[tuple[list[str], str]] = [
        (["--from", w1], "shards cover 0..1/2, not the whole run 0..1"),
        (["--from", w1, w1], "shard 1 comes from both"),
        (["--from", w1, str(workers.worker("other"))], "the shards of one run run one script"),
    ]
    overlap = _copy(workers, "w2", "overlap", tmp_path)  # a third shard over half 1's segment
    (overlap / "stages/dist/k6-summary.2.json").rename(overlap / "stages/dist/k6-summary.3.json")
    (overlap / "stages/dist/shard-2.json").rename(overlap / "stages/dist/shard-3.json")
    _edit(overlap / "stages/dist/shard-3.json", shard="3", execution_segment="0:1/2")
    cases.append((["--from", w1, w2, str(overlap)], "overlaps or leaves a gap"))
    version = _copy(workers, "w2", "version", tmp_path)
    _edit(version / "stages/dist/shard-2.json", k6_version="k6 v0.99.0 (another build)")
    cases.append((["--from", w1, str(version)], "the shards of one run use one k6"))
    late = _copy(workers, "w2", "late", tmp_path)
    record = json.loads((late / "stages/dist/shard-2.json").read_text())
    _edit(
        late / "stages/dist/shard-2.json",
        start_time=_shift(record["start_time"], 3600),
        end_time=_shift(record["end_time"], 3600),
    )
    cases.append((["--from", w1, str(late)], "the shards did not run together"))
    cases.append((["--from", w1, str(bundle.parent)], "no shard of stage 'dist'"))
    for args, needle in cases:
        status, _, err = _merge(workers, bundle, *args)
        assert (status, needle in err, err.count("\n")) == (4, True, 1), (args, err)
        assert not bundle.exists()


@pytest.mark.slow
def test_hand_assembled_shards_that_did_not_run_together_are_blocked(
    workers: Workers, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """The same rule in the gate: a bundle whose shard 2 record says it ran an hour earlier
    (stage.json widened to cover it, as someone assembling by hand would) is blocked."""
    bundle = tmp_path / "bundle"
    assert (
        _merge(workers, bundle, "--from", str(workers.worker("w1")), str(workers.worker("w2")))[0]
        == 0
    )
    record_path = bundle / "stages/dist/shard-2.json"
    record = json.loads(record_path.read_text())
    early_start = _shift(record["start_time"], -3600)
    _edit(record_path, start_time=early_start, end_time=_shift(record["end_time"], -3600))
    _edit(bundle / "stages/dist/stage.json", start_time=early_start)
    certificate = _seal_and_certify(pytester, workers, bundle)
    assert certificate["verdict"] == "blocked"
    window = _gate(certificate, "stage_window[dist]")
    assert window["status"] == "blocked"
    message = window["message"]
    assert re.search(r"stages/dist/shard-1.json: start_time is \+3[56]\d\d\.\d+s off", message)
    assert "did not run together" in window["message"]


@pytest.mark.slow
def test_declared_shards_of_runners_loadcert_did_not_run(
    workers: Workers, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """The k6-operator route: each runner's handleSummary JSON, its segment, its times and
    exit code, given on the command line; k6's own run duration is checked against them."""
    declared: list[str] = []
    for name, shard in (("w1", "1"), ("w2", "2")):
        record = json.loads((workers.worker(name) / f"stages/dist/shard-{shard}.json").read_text())
        declared += [
            "--summary",
            f"{shard}={workers.worker(name) / 'hs.json'}",
            "--segment",
            f"{shard}={record['execution_segment']}",
            "--start",
            f"{shard}={record['start_time']}",
            "--end",
            f"{shard}={record['end_time']}",
            "--exit-code",
            f"{shard}=0",
            "--k6-environment",
            f"{shard}=K6_NO_USAGE_REPORT" if shard == "1" else f"{shard}=",
        ]
    version = ["--k6-version", record["k6_version"], "--script", str(workers.script)]

    # Both "ended" 30 s later (say, the runner pods' finishedAt after lingering): the shards
    # agree with each other, but not with what k6 measured.
    wrong = [
        f"{value[:2]}{_shift(value[2:], 30)}" if flag == "--end" else value
        for flag, value in zip(["", *declared[:-1]], declared, strict=True)
    ]
    status, _, err = _merge(workers, tmp_path / "refused", *wrong, *version)
    assert status == 4 and "state.testRunDurationMs" in err and "hs.json" in err

    bundle = tmp_path / "bundle"
    status, _, err = _merge(workers, bundle, *declared, *version)
    assert status == 0, err
    record = json.loads((bundle / "stages/dist/shard-2.json").read_text())
    assert record["measured_by"] == "declared to loadcert merge-shards"
    assert "host" not in record and "command" not in record
    assert record["k6_environment"] == []  # declared as none
    merged = json.loads((bundle / "stages/dist/stage.json").read_text())
    assert merged["k6_environment"] == ["K6_NO_USAGE_REPORT"]  # the union, as declared
    summary = json.loads((bundle / "stages/dist/k6-summary.2.json").read_text())
    assert "testRunDurationMs" in summary["state"]  # the handleSummary format
    certificate = _seal_and_certify(pytester, workers, bundle)
    assert certificate["verdict"] == "certified"
    assert _gate(certificate, "stage_window[dist]")["samples"] == "2 duration(s) checked"
    # The certificate says whose clock the windows are: declared, not measured by loadcert.
    stage = next(s for s in certificate["stages"] if s["name"] == "dist")
    assert stage["shards"] == {"1": "declared to loadcert merge-shards",
                               "2": "declared to loadcert merge-shards"}  # fmt: skip


# ------------------------------------------------------------------------ one summary, two shards

SHARDED = Path(__file__).parents[2] / "fixtures" / "bundles" / "valid_sharded_100k"


def test_one_summary_stored_as_two_shards_blocks(tmp_path: Path) -> None:
    """The same measurements under two shard names would add one instance's VUs twice."""
    from pytest_loadcert.evidence.bundle import Bundle

    bundle = tmp_path / "bundle"
    shutil.copytree(SHARDED, bundle)
    assert len(Bundle(bundle).summaries("100k")) == 4
    stage = bundle / "stages" / "100k"
    shutil.copyfile(stage / "k6-summary.1.json", stage / "k6-summary.3.json")
    with pytest.raises(EvidenceError) as raised:
        Bundle(bundle).summaries("100k")
    assert raised.value.file == "stages/100k/k6-summary.3.json"
    assert "k6-summary.1.json" in raised.value.problem


def test_merge_refuses_one_summary_declared_for_two_shards(tmp_path: Path) -> None:
    from pytest_loadcert.config.load import load_profile
    from pytest_loadcert.run.merge import Declared, MergeError, merge

    record = json.loads((SHARDED / "stages/100k/shard-1.json").read_text())
    summary = SHARDED / "stages/100k/k6-summary.1.json"
    declared = [
        Declared(str(i), summary, equal_segment(i, 4), record["start_time"], record["end_time"], 0)
        for i in (1, 2, 3, 4)
    ]
    with pytest.raises(MergeError) as raised:
        merge(
            tmp_path / "b",
            "100k",
            load_profile(None),
            workers=[],
            declared=declared,
            script=SHARDED / "artifacts/k6-script.js",
            k6_version=record["k6_version"],
        )
    assert "the same measurements" in str(raised.value)
    assert not (tmp_path / "b").exists()


def test_shard_records_of_another_script_than_the_bound_one_block(tmp_path: Path) -> None:
    """Records that agree with each other but name a script other than the bundle's
    artifacts.k6_script ran something the certificate does not bind."""
    from pytest_loadcert.config.load import load_profile
    from pytest_loadcert.evidence.bundle import Bundle
    from pytest_loadcert.gates.window import stage_window

    bundle = tmp_path / "bundle"
    shutil.copytree(SHARDED, bundle)
    profile = load_profile(None)
    loaded = Bundle(bundle)
    assert stage_window(loaded, profile, "100k", loaded.summaries("100k")).passed
    for shard in "1234":
        _edit(bundle / f"stages/100k/shard-{shard}.json", k6_script_sha256="sha256:" + "d" * 64)
    loaded = Bundle(bundle)
    with pytest.raises(EvidenceError) as raised:
        stage_window(loaded, profile, "100k", loaded.summaries("100k"))
    assert raised.value.field == "k6_script_sha256"
    assert "artifacts.k6_script" in raised.value.problem
