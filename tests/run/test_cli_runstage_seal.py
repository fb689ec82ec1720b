"""The ``loadcert`` CLI: run-stage, seal, collect prometheus, certify, and the example service.

Fast tests: k6 is replaced by a small fake binary (``--k6``) that writes a summary file the
way k6 does, Prometheus by a local HTTP server answering in Prometheus's format. The real
tools run in tests/run/test_real_k6.py (marked slow).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from pytest_loadcert import cli
from pytest_loadcert.collect.prometheus import collect, evaluation_time
from pytest_loadcert.config.load import load_profile
from pytest_loadcert.demo.exampleservice import start_service, stop_service
from pytest_loadcert.evidence.prometheus import query_window

REPO = Path(__file__).resolve().parents[2]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64

PROFILE_TOML = """\
target_concurrency = 5
stability = []

[[stages]]
name = "smoke"
min_active_vus = 2

[[stages]]
name = "5vu"
min_active_vus = 5

[[stages]]
name = "huge"
min_active_vus = 100000

[[metrics]]
name = "peak_vus"
promql = 'max(max_over_time(k6_vus{stage="{stage}"}[{window}]))'
min = 2

[[metrics]]
name = "broken"
promql = 'sum(rate(x[{window}])'
max = 0
"""

# A stand-in for the k6 binary: answers `version`, writes a summary where --summary-export
# says (unless FAKE_K6_MODE=no-summary), records its argv, exits as FAKE_K6_MODE asks.
FAKE_K6 = """\
import json, os, sys
args = sys.argv[1:]
if args == ["version"]:
    print("k6 v1.1.0-fake (test double)")
    sys.exit(0)
record = os.environ.get("FAKE_K6_ARGV")
if record:
    with open(record, "w") as handle:
        json.dump(args, handle)
mode = os.environ.get("FAKE_K6_MODE", "pass")
if mode != "no-summary":
    path = args[args.index("--summary-export") + 1]
    summary = {"metrics": {"vus": {"value": 0, "min": 0, "max": 2},
                           "http_reqs": {"count": 10, "rate": 5.0}},
               "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e",
                              "groups": {}, "checks": {}}}
    with open(path, "w") as handle:
        json.dump(summary, handle, indent=4)
print("fake k6 ran")
sys.exit({"pass": 0, "thresholds": 99, "no-summary": 0}[mode])
"""


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def fake_k6(tmp_path: Path) -> Path:
    """An executable fake k6 (a Python script with this interpreter in its shebang)."""
    path = tmp_path / "bin" / "k6"
    path.parent.mkdir()
    path.write_text(f"#!{sys.executable}\n{FAKE_K6}")
    path.chmod(0o755)
    return path


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE_TOML)
    return path


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "script.js"
    path.write_text("export default function () {}\n")
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``loadcert`` in-process; (exit status, stdout, stderr)."""
    status = cli.main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def run_stage_args(
    evidence: Path, stage: str, script: Path, profile: Path, k6: Path, *extra: str
) -> list[str]:
    args = [
        "run-stage",
        "--evidence-dir",
        str(evidence),
        "--stage",
        stage,
        "--script",
        str(script),
        "--loadcert-profile",
        str(profile),
        "--k6",
        str(k6),
    ]
    return [*args, "--", *extra] if extra else args


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit; the bundle lives inside it (evidence/run)."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "app.py").write_text("print('under test')\n")
    git(path, "add", "app.py")
    git(path, "commit", "-q", "-m", "init")
    return path


@pytest.fixture
def bundle(repo: Path) -> Path:
    """An unsealed bundle, written by hand the way run-stage leaves it."""
    root = repo / "evidence" / "run"
    (root / "stages" / "smoke").mkdir(parents=True)
    (root / "artifacts").mkdir()
    (root / "artifacts" / "k6-script.js").write_text("export default function () {}\n")
    (root / "stages" / "smoke" / "stage.json").write_text('{"stage": "smoke"}\n')
    (root / "stages" / "smoke" / "k6-summary.json").write_text('{"metrics": {}}\n')
    (root / "stages" / "smoke" / "prometheus.json").write_text('{"queries": []}\n')
    return root


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "rendered.yaml"
    path.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    return path


def seal_args(bundle: Path, repo: Path, *extra: str) -> list[str]:
    return [
        "seal",
        "--evidence-dir",
        str(bundle),
        "--run-id",
        "run-1",
        "--environment",
        "staging",
        "--git-repo",
        str(repo),
        *extra,
    ]


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "required"),
        (["nope"], "invalid choice"),
        (["run-stage"], "required"),
        (["run-stage", "--evidence-dir", "x", "--stage", "smoke"], "--script"),
        (["seal", "--evidence-dir", "x"], "--run-id"),
        (
            [
                "seal",
                "--evidence-dir",
                "x",
                "--run-id",
                "r",
                "--environment",
                "e",
                "--image",
                "gw=sha256:ABC",
            ],
            "64 lowercase hex",
        ),
        (
            ["seal", "--evidence-dir", "x", "--run-id", "r", "--environment", "e", "--image", "gw"],
            "name=sha256",
        ),
        (["collect"], "required"),
        (["collect", "prometheus", "--url", "http://127.0.0.1:9"], "--evidence-dir"),
        (
            [
                "collect",
                "prometheus",
                "--url",
                "http://127.0.0.1:9",
                "--evidence-dir",
                "x",
                "--delay-s",
                "-1",
            ],
            "negative",
        ),
        (
            ["seal", "--evidence-dir", "x", "--run-id", "r", "--environment", "e", "--", "y"],
            "no arguments after",
        ),
    ],
)
def test_usage_errors_exit_4_with_a_message(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(args, capsys)
    assert status == 4
    assert "error" in err
    assert expected in err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"], capsys)[0] == 0
    status, out, _ = run(["--version"], capsys)
    assert status == 0
    assert out.startswith("loadcert ")
    status, out, _ = run(["run-stage", "--help"], capsys)
    assert status == 0
    assert "--dedicated-load-worker" in out


def test_cli_import_is_cheap() -> None:
    """Building the parser imports neither requests nor pytest (a subprocess proves it)."""
    code = (
        "import sys; from pytest_loadcert import cli; cli.build_parser(); "
        "print(sorted(m for m in ('requests', 'pytest', 'jsonschema') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"


def test_unknown_stage_names_the_profile_stages(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = run_stage_args(tmp_path / "ev", "1k", script, profile_file, fake_k6)
    status, _, err = run(args, capsys)
    assert status == 4
    assert "'1k' is not in the profile" in err
    assert "smoke, 5vu, huge" in err
    assert not (tmp_path / "ev").exists()


def test_bad_profile_is_a_usage_error(
    tmp_path: Path, script: Path, fake_k6: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("target_concurency = 5\n")
    status, _, err = run(run_stage_args(tmp_path / "ev", "smoke", script, bad, fake_k6), capsys)
    assert status == 4
    assert "bad.toml" in err
    assert "target_concurency" in err


def test_missing_script_and_missing_k6_are_usage_errors(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nope.js"
    status, _, err = run(
        run_stage_args(tmp_path / "ev", "smoke", missing, profile_file, fake_k6), capsys
    )
    assert (status, "nope.js: not a file" in err) == (4, True)
    status, _, err = run(
        run_stage_args(tmp_path / "ev", "smoke", script, profile_file, tmp_path / "no-k6"), capsys
    )
    assert (status, "not an executable file" in err) == (4, True)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--no-thresholds"], "--no-thresholds after `--`: k6 evaluates no threshold"),
        (["--no-summary"], "--no-summary after `--`"),
        (["--summary-trend-stats", "avg"], "--summary-trend-stats after `--`"),
        (["--system-tags=status"], "--system-tags after `--`"),
        (["-c", "mine.json"], "-c after `--`: an options file nothing binds"),
        (["--vus", "10", "--duration", "3s"], "--vus after `--`: replaces the bound script's"),
        (["-qu10"], "-u after `--`: replaces the bound script's schedule"),
        (["-i", "3"], "-i after `--`"),
        (["-s", "1s:2"], "-s after `--`"),
        (["--rps=5"], "--rps after `--`: caps the request rate"),
        (["--paused"], "--paused after `--`"),
        (["-l"], "-l after `--`: keeps k6 from exiting"),
        (["--summary-export=x.json"], "--summary-export after `--`: run-stage sets it"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 12 else None,
)
def test_run_stage_refuses_options_that_bend_judgment_or_the_schedule(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    needle: str,
) -> None:
    """``run-stage -- --vus 10 --duration 3s`` replaced the script's 8-minute ramp and a
    3-second stage certified; ``--no-thresholds`` judged nothing with exit 0."""
    args = run_stage_args(tmp_path / "ev", "smoke", script, profile_file, fake_k6, *extra)
    status, _, err = run(args, capsys)
    assert status == 4 and needle in err, err
    assert err.count("\n") == 1 and not (tmp_path / "ev").exists()


def test_run_stage_passes_values_that_look_like_options(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``-e --vus`` sets a variable named ``--vus``: a value is not an option (k6's flag
    parsing), nor is the value of ``--tag=x=-d``."""
    args = run_stage_args(
        tmp_path / "ev", "smoke", script, profile_file, fake_k6, "-e", "--vus", "--tag=x=-d"
    )
    status, _, err = run(args, capsys)
    assert status == 0, err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("K6_THRESHOLDS", ""),  # even empty, it wipes the script's thresholds
        ("K6_NO_THRESHOLDS", "true"),
        ("K6_VUS", "1"),
        ("K6_DURATION", "3s"),
        ("K6_STAGES", "1s:2"),
        ("K6_CONFIG", "mine.json"),
        ("K6_SUMMARY_TREND_STATS", "avg"),
    ],
)
def test_run_stage_refuses_environment_that_bends_judgment_or_the_schedule(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)
    status, _, err = run(
        run_stage_args(tmp_path / "ev", "smoke", script, profile_file, fake_k6), capsys
    )
    assert status == 4 and f"${name} is set: k6 reads it" in err, err
    assert not (tmp_path / "ev").exists()


# ----------------------------------------------------------------------------- run-stage


def test_100k_is_refused_without_dedicated_load_worker(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = tmp_path / "ev"
    status, _, err = run(run_stage_args(evidence, "huge", script, profile_file, fake_k6), capsys)
    assert status == 4
    assert "100000" in err
    assert "--dedicated-load-worker" in err
    assert "k6-operator" in err
    assert not evidence.exists()

    args = run_stage_args(evidence, "huge", script, profile_file, fake_k6)
    status, _, _ = run([*args, "--dedicated-load-worker"], capsys)
    assert status == 0
    assert json.loads((evidence / "stages/huge/stage.json").read_text())["target_vus"] == 100000


def test_builtin_profile_applies_without_pyproject(
    tmp_path: Path,
    script: Path,
    fake_k6: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No --loadcert-profile and no ./pyproject.toml: the built-in ramp (100k refused)."""
    monkeypatch.chdir(tmp_path)
    args = [
        "run-stage",
        "--evidence-dir",
        "ev",
        "--stage",
        "100k",
        "--script",
        str(script),
        "--k6",
        str(fake_k6),
    ]
    status, _, err = run(args, capsys)
    assert status == 4
    assert "--dedicated-load-worker" in err


def test_run_stage_writes_stage_json_summary_and_script(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    argv_file = tmp_path / "argv.json"
    monkeypatch.setenv("FAKE_K6_ARGV", str(argv_file))
    evidence = tmp_path / "ev"
    before = datetime.now(UTC)
    args = run_stage_args(evidence, "smoke", script, profile_file, fake_k6, "-e", "A=1")
    status, out, _ = run(args, capfd)
    after = datetime.now(UTC)
    assert status == 0
    assert "fake k6 ran" in out  # k6's own output is streamed through

    stage = json.loads((evidence / "stages/smoke/stage.json").read_text())
    assert list(stage) == [
        "stage",
        "start_time",
        "end_time",
        "k6_exit_code",
        "k6_version",
        "target_vus",
        "command",
        "k6_environment",
    ]
    assert stage["k6_environment"] == sorted(n for n in os.environ if n.startswith("K6_"))
    assert stage["stage"] == "smoke"
    assert stage["k6_exit_code"] == 0
    assert stage["k6_version"] == "k6 v1.1.0-fake (test double)"
    assert stage["target_vus"] == 2
    start = datetime.fromisoformat(stage["start_time"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(stage["end_time"].replace("Z", "+00:00"))
    assert stage["start_time"].endswith("Z") and stage["end_time"].endswith("Z")
    # format_utc keeps milliseconds: allow the truncation.
    assert before - timedelta(milliseconds=1) <= start <= end <= after
    assert stage["command"] == [
        "k6",
        "run",
        "--no-usage-report",
        "--quiet",
        "--config",  # an empty options file: no ~/.config/k6/config.json under the script
        "loadcert-empty-k6-config.json",
        "--summary-export",
        "stages/smoke/k6-summary.json",
        "--summary-trend-stats",
        "avg,min,med,max,p(90),p(95),p(99),count",
        "--tag",
        "stage=smoke",
        "-e",
        "A=1",
        "artifacts/k6-script.js",
    ]
    ran = json.loads(argv_file.read_text())
    assert ran[-1] == str(script)  # the real argv runs the real script ...
    assert ran[-3:-1] == ["-e", "A=1"]  # ... with the extra arguments just before it
    assert "--no-usage-report" in ran

    assert (evidence / "artifacts/k6-script.js").read_bytes() == script.read_bytes()
    summary = json.loads((evidence / "stages/smoke/k6-summary.json").read_text())
    assert summary["metrics"]["vus"]["max"] == 2
    leftovers = [p.name for p in (evidence / "stages/smoke").iterdir()]
    assert sorted(leftovers) == ["k6-summary.json", "stage.json"]


def test_threshold_failure_is_recorded_and_exits_1(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAKE_K6_MODE", "thresholds")
    evidence = tmp_path / "ev"
    status, _, err = run(run_stage_args(evidence, "smoke", script, profile_file, fake_k6), capsys)
    assert status == 1
    assert "exited 99" in err and "thresholds" in err
    assert json.loads((evidence / "stages/smoke/stage.json").read_text())["k6_exit_code"] == 99
    assert (evidence / "stages/smoke/k6-summary.json").is_file()


def test_missing_summary_is_an_error_naming_it(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAKE_K6_MODE", "no-summary")
    evidence = tmp_path / "ev"
    args = run_stage_args(evidence, "smoke", script, profile_file, fake_k6)
    status, _, err = run(args, capsys)
    assert status == 1
    assert "stages/smoke/k6-summary.json is missing" in err
    assert not (evidence / "stages/smoke/k6-summary.json").exists()
    assert json.loads((evidence / "stages/smoke/stage.json").read_text())["k6_exit_code"] == 0


def test_a_different_script_is_refused(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = tmp_path / "ev"
    assert run(run_stage_args(evidence, "smoke", script, profile_file, fake_k6), capsys)[0] == 0
    # The same script for the next stage is fine ...
    assert run(run_stage_args(evidence, "5vu", script, profile_file, fake_k6), capsys)[0] == 0
    # ... another one is not, and nothing is written for that stage.
    other = tmp_path / "other.js"
    other.write_text("export default function () { /* different */ }\n")
    args = run_stage_args(evidence, "huge", other, profile_file, fake_k6)
    status, _, err = run([*args, "--dedicated-load-worker"], capsys)
    assert status == 4
    assert "different script" in err
    assert not (evidence / "stages/huge").exists()
    assert (evidence / "artifacts/k6-script.js").read_bytes() == script.read_bytes()


def test_a_stage_is_not_run_twice_into_one_bundle(
    tmp_path: Path,
    script: Path,
    profile_file: Path,
    fake_k6: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = tmp_path / "ev"
    assert run(run_stage_args(evidence, "smoke", script, profile_file, fake_k6), capsys)[0] == 0
    before = (evidence / "stages/smoke/stage.json").read_bytes()
    status, _, err = run(run_stage_args(evidence, "smoke", script, profile_file, fake_k6), capsys)
    assert status == 4
    assert "already run" in err
    assert (evidence / "stages/smoke/stage.json").read_bytes() == before


# ----------------------------------------------------------------------------- seal


def test_seal_writes_the_manifest_with_recomputable_hashes(
    bundle: Path, repo: Path, manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = seal_args(
        bundle,
        repo,
        "--k8s-manifest",
        str(manifest_file),
        "--image",
        f"gateway={DIGEST_A}",
        "--image",
        f"worker={DIGEST_B}",
    )
    status, out, _ = run(args, capsys)
    assert status == 0, out
    document = json.loads((bundle / "loadcert.json").read_text())
    assert list(document) == [
        "schema",
        "run_id",
        "environment",
        "created_at",
        "git",
        "artifacts",
        "cluster",
        "files",
    ]
    assert document["schema"] == "loadcert/v1"
    assert (document["run_id"], document["environment"]) == ("run-1", "staging")
    assert document["created_at"].endswith("Z")
    assert document["git"] == {
        "sha": git(repo, "rev-parse", "HEAD"),
        "ref": "refs/heads/main",
        "dirty": False,
    }
    assert (bundle / "artifacts/k8s-manifest.yaml").read_bytes() == manifest_file.read_bytes()
    artifacts = document["artifacts"]
    assert artifacts["k6_script"] == {
        "path": "artifacts/k6-script.js",
        "sha256": sha256(bundle / "artifacts/k6-script.js"),
    }
    assert artifacts["k8s_manifest"] == {
        "path": "artifacts/k8s-manifest.yaml",
        "sha256": sha256(manifest_file),
    }
    assert artifacts["images"] == [
        {"name": "gateway", "digest": DIGEST_A},
        {"name": "worker", "digest": DIGEST_B},
    ]
    assert document["cluster"] is None

    files = document["files"]
    on_disk = sorted(
        p.relative_to(bundle).as_posix()
        for p in bundle.rglob("*")
        if p.is_file() and p.name != "loadcert.json"
    )
    assert list(files) == on_disk  # every file, sorted, the manifest itself left out
    for rel, digest in files.items():
        assert digest == sha256(bundle / rel)


def test_seal_is_idempotent(
    bundle: Path, repo: Path, manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = seal_args(
        bundle, repo, "--k8s-manifest", str(manifest_file), "--image", f"gateway={DIGEST_A}"
    )
    assert run(args, capsys)[0] == 0
    first = (bundle / "loadcert.json").read_bytes()
    status, out, _ = run(args, capsys)
    assert status == 0
    assert "unchanged" in out
    assert (bundle / "loadcert.json").read_bytes() == first
    # Without --k8s-manifest the copy already in the bundle is used.
    assert run(seal_args(bundle, repo, "--image", f"gateway={DIGEST_A}"), capsys)[0] == 0
    assert (bundle / "loadcert.json").read_bytes() == first
    # A changed file is a changed manifest.
    (bundle / "stages/smoke/k6-summary.json").write_text('{"metrics": {"x": 1}}\n')
    status, out, _ = run(args, capsys)
    assert status == 0 and "written" in out
    files = json.loads((bundle / "loadcert.json").read_text())["files"]
    assert files["stages/smoke/k6-summary.json"] == sha256(bundle / "stages/smoke/k6-summary.json")


@pytest.mark.parametrize(
    "name", ["conftest.py", "stages/smoke/helper.py", "pytest.ini", "stages/smoke/x.pth"]
)
def test_seal_refuses_code_and_pytest_configuration(
    name: str,
    bundle: Path,
    repo: Path,
    manifest_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Evidence never needs code; pytest could load it while judging the bundle."""
    (bundle / name).write_text("import os\n")
    status, _, err = run(seal_args(bundle, repo, "--k8s-manifest", str(manifest_file)), capsys)
    assert status == 4
    assert f"{name}: is Python code or pytest configuration" in err
    assert not (bundle / "loadcert.json").exists()


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_seal_refuses_symbolic_links(
    kind: str,
    bundle: Path,
    repo: Path,
    manifest_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text("{}\n")
    if kind == "file":
        (bundle / "stages/smoke/extra.json").symlink_to(outside / "secret.json")
        name = "stages/smoke/extra.json"
    else:
        (bundle / "stages/linked").symlink_to(outside, target_is_directory=True)
        name = "stages/linked"
    status, _, err = run(seal_args(bundle, repo, "--k8s-manifest", str(manifest_file)), capsys)
    assert status == 4
    assert f"{name}: is a symbolic link" in err
    assert not (bundle / "loadcert.json").exists()
    assert not (bundle / "artifacts/k8s-manifest.yaml").exists()  # refused before writing


def test_seal_requires_the_script_and_a_manifest(
    bundle: Path,
    repo: Path,
    manifest_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = run(seal_args(bundle, repo), capsys)
    assert status == 4
    assert "artifacts/k8s-manifest.yaml is missing" in err and "--k8s-manifest" in err
    assert run(seal_args(bundle, repo, "--k8s-manifest", str(manifest_file)), capsys)[0] == 0
    other = tmp_path / "other.yaml"
    other.write_text("kind: Other\n")
    status, _, err = run(seal_args(bundle, repo, "--k8s-manifest", str(other)), capsys)
    assert status == 4 and "different manifest" in err
    (bundle / "artifacts/k6-script.js").unlink()
    status, _, err = run(seal_args(bundle, repo), capsys)
    assert status == 4 and "artifacts/k6-script.js is missing" in err


def test_seal_cluster_binding(
    bundle: Path, repo: Path, manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = seal_args(bundle, repo, "--k8s-manifest", str(manifest_file))
    status, _, err = run([*base, "--namespace", "shop"], capsys)
    assert status == 4 and "give both or neither" in err
    status, _, err = run(
        [*base, "--namespace", "shop", "--cluster-collected-at", "2026-05-01 02:05"], capsys
    )
    assert status == 4 and "RFC 3339" in err
    (bundle / "cluster").mkdir()
    (bundle / "cluster/kubernetes.json").write_text('{"apiVersion": "v1", "kind": "List"}\n')
    status, _, err = run(base, capsys)
    assert status == 4 and "cluster/kubernetes.json exists" in err
    status, _, _ = run(
        [*base, "--namespace", "shop", "--cluster-collected-at", "2026-05-01T02:05:00Z"], capsys
    )
    assert status == 0
    document = json.loads((bundle / "loadcert.json").read_text())
    assert document["cluster"] == {"namespace": "shop", "collected_at": "2026-05-01T02:05:00Z"}
    assert "cluster/kubernetes.json" in document["files"]


def test_seal_manifest_matches_the_contract_schema(
    bundle: Path, repo: Path, manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a cluster binding, the manifest validates against the shipped loadcert schema."""
    schema_module = pytest.importorskip("pytest_loadcert.evidence.schema")
    args = seal_args(
        bundle,
        repo,
        "--k8s-manifest",
        str(manifest_file),
        "--image",
        f"gw={DIGEST_A}",
        "--namespace",
        "shop",
        "--cluster-collected-at",
        "2026-05-01T02:05:00Z",
    )
    assert run(args, capsys)[0] == 0
    document = json.loads((bundle / "loadcert.json").read_text())
    schema_module.validate("loadcert", document, "loadcert.json")


def test_seal_git_dirty_detached_and_not_a_repo(
    bundle: Path,
    repo: Path,
    manifest_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = seal_args(bundle, repo, "--k8s-manifest", str(manifest_file))
    assert run(base, capsys)[0] == 0
    git_doc = json.loads((bundle / "loadcert.json").read_text())["git"]
    assert git_doc["dirty"] is False  # the bundle inside the work tree does not count
    (repo / "app.py").write_text("print('changed after the commit')\n")
    assert run(base, capsys)[0] == 0
    assert json.loads((bundle / "loadcert.json").read_text())["git"]["dirty"] is True
    git(repo, "checkout", "-q", "--", "app.py")
    git(repo, "checkout", "-q", "--detach")
    assert run(base, capsys)[0] == 0
    assert json.loads((bundle / "loadcert.json").read_text())["git"]["ref"] == "HEAD"

    nowhere = tmp_path / "not-a-repo"
    nowhere.mkdir()
    args = seal_args(bundle, nowhere)
    status, _, err = run(args, capsys)
    assert status == 4 and "--git-repo" in err


def test_seal_rejects_duplicate_images_and_bad_names(
    bundle: Path, repo: Path, manifest_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = seal_args(bundle, repo, "--k8s-manifest", str(manifest_file))
    status, _, err = run([*base, "--image", f"gw={DIGEST_A}", "--image", f"gw={DIGEST_B}"], capsys)
    assert status == 4 and "gw more than once" in err
    args = ["seal", "--evidence-dir", str(bundle), "--run-id", " ", "--environment", "e"]
    status, _, err = run(args, capsys)
    assert status == 4 and "--run-id must not be empty" in err
    status, _, err = run(seal_args(bundle.parent / "missing", repo), capsys)
    assert status == 4 and "not a directory" in err


# ----------------------------------------------------------------------------- collect


class _FakePrometheus(BaseHTTPRequestHandler):
    """Answers /api/v1/query like Prometheus: a vector, or a 400 for unparseable PromQL."""

    seen: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        type(self).seen.append(params)
        query = params["query"][0]
        if parts.path != "/api/v1/query":
            code, body = 404, {"status": "error", "errorType": "not_found", "error": "no"}
        elif query.count("(") != query.count(")"):
            code, body = (
                400,
                {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": 'invalid parameter "query": 1:20: parse error: '
                    "unclosed left parenthesis",
                },
            )
        else:
            code, body = (
                200,
                {
                    "status": "success",
                    "data": {
                        "resultType": "vector",
                        "result": [{"metric": {}, "value": [1767225600, "2"]}],
                    },
                },
            )
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_prometheus() -> Iterator[str]:
    _FakePrometheus.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def write_stage(evidence: Path, stage: str, start: str, end: str) -> None:
    path = evidence / "stages" / stage / "stage.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "stage": stage,
                "start_time": start,
                "end_time": end,
                "k6_exit_code": 0,
                "k6_version": "k6 v1.1.0",
                "command": ["k6", "run", "artifacts/k6-script.js"],
            }
        )
    )


def test_window_and_evaluation_time_rounding() -> None:
    start = datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    # The range covers the stage to the millisecond: start rounded down, end rounded up.
    assert query_window(start, start + timedelta(seconds=8)) == ("8s", "1767225608.500")
    assert query_window(start, start + timedelta(seconds=8, microseconds=1)) == (
        "8001ms",
        "1767225608.501",
    )
    late = start + timedelta(microseconds=999)  # rounded down: 0.500; the end rounded up
    assert query_window(late, late + timedelta(seconds=8)) == ("8001ms", "1767225608.501")
    end = datetime(2026, 1, 1, 0, 0, 8, 1_000, tzinfo=UTC)
    assert evaluation_time(end, 0) == datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC)
    assert evaluation_time(end.replace(microsecond=0), 3) == datetime(
        2026, 1, 1, 0, 0, 11, tzinfo=UTC
    )


def test_collect_prometheus_records_answers_untouched(
    tmp_path: Path,
    profile_file: Path,
    fake_prometheus: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = tmp_path / "ev"
    write_stage(evidence, "5vu", "2026-01-01T00:00:20.000Z", "2026-01-01T00:00:28.250Z")
    write_stage(evidence, "smoke", "2026-01-01T00:00:00.100Z", "2026-01-01T00:00:08.300Z")
    args = [
        "collect",
        "prometheus",
        "--url",
        fake_prometheus + "/",
        "--evidence-dir",
        str(evidence),
        "--loadcert-profile",
        str(profile_file),
        "--delay-s",
        "2",
    ]
    status, out, err = run(args, capsys)

    # One query is broken PromQL: the command fails, naming it and Prometheus's error ...
    assert status == 1
    assert "query 'broken' failed: HTTP 400, bad_data" in err
    assert "unclosed left parenthesis" in err
    # ... and still writes what it got, for both stages (profile order: smoke, then 5vu).
    assert out.index("smoke/prometheus.json") < out.index("5vu/prometheus.json")
    document = json.loads((evidence / "stages/smoke/prometheus.json").read_text())
    assert document["stage"] == "smoke"
    assert document["window"] == {
        "start": "2026-01-01T00:00:00.100Z",
        "end": "2026-01-01T00:00:08.300Z",
    }
    assert document["collected_at"].endswith("Z")
    peak, broken = document["queries"]
    assert peak == {
        "name": "peak_vus",
        "promql": 'max(max_over_time(k6_vus{stage="smoke"}[8200ms] @ 1767225608.300))',
        "time": "2026-01-01T00:00:11Z",  # ceil(end) = :09, plus --delay-s 2
        "response": {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": {}, "value": [1767225600, "2"]}],
            },
        },
        # The series' samples over the window and max_gap_s (30 s) before it, asked alike.
        "coverage": [
            {
                "promql": 'k6_vus{stage="smoke"}[38200ms] @ 1767225608.300',
                "response": peak["coverage"][0]["response"],
            }
        ],
    }
    assert broken["response"]["status"] == "error"
    assert broken["response"]["errorType"] == "bad_data"
    assert {
        "query": ['max(max_over_time(k6_vus{stage="5vu"}[8250ms] @ 1767225628.250))'],
        "time": ["2026-01-01T00:00:31Z"],
    } in _FakePrometheus.seen


def test_collect_prometheus_success_exits_0_and_validates_against_schema(
    tmp_path: Path, fake_prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "ok.toml"
    profile.write_text(PROFILE_TOML.split('[[metrics]]\nname = "broken"')[0])
    evidence = tmp_path / "ev"
    write_stage(evidence, "smoke", "2026-01-01T00:00:00Z", "2026-01-01T00:00:08Z")
    args = [
        "collect",
        "prometheus",
        "--url",
        fake_prometheus,
        "--evidence-dir",
        str(evidence),
        "--loadcert-profile",
        str(profile),
    ]
    status, _, err = run(args, capsys)
    assert status == 0, err
    document = json.loads((evidence / "stages/smoke/prometheus.json").read_text())
    assert document["queries"][0]["promql"].endswith("[8s] @ 1767225608))")
    assert document["queries"][0]["time"] == "2026-01-01T00:00:08Z"
    schema_module = pytest.importorskip("pytest_loadcert.evidence.schema")
    schema_module.validate("prometheus", document, "stages/smoke/prometheus.json")


def test_collect_prometheus_refusals(
    tmp_path: Path,
    profile_file: Path,
    fake_prometheus: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    base = [
        "collect",
        "prometheus",
        "--url",
        fake_prometheus,
        "--evidence-dir",
        str(evidence),
        "--loadcert-profile",
        str(profile_file),
    ]
    status, _, err = run(base, capsys)
    assert status == 4 and "run `loadcert run-stage` first" in err
    write_stage(evidence, "smoke", "2026-01-01T00:00:00Z", "2026-01-01T00:00:08Z")
    status, _, err = run([*base, "--delay-s", "31"], capsys)
    assert status == 4 and "eval_delay_max_s" in err
    status, _, err = run([*base[:3], "ftp://127.0.0.1", *base[4:]], capsys)
    assert status == 4 and "--url" in err
    write_stage(evidence, "5vu", "2026-01-01T00:00:20Z", "2026-01-01T00:00:10Z")
    status, _, err = run(base, capsys)
    assert status == 1 and "is not after start_time" in err
    assert _FakePrometheus.seen == []  # nothing was asked before the bundle was usable


def test_collect_prometheus_unreachable_writes_nothing(
    tmp_path: Path, profile_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "ev"
    write_stage(evidence, "smoke", "2026-01-01T00:00:00Z", "2026-01-01T00:00:08Z")
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [
        "collect",
        "prometheus",
        "--url",
        f"http://127.0.0.1:{port}",
        "--evidence-dir",
        str(evidence),
        "--loadcert-profile",
        str(profile_file),
    ]
    status, _, err = run(args, capsys)
    assert status == 1 and "no answer from" in err
    assert not (evidence / "stages/smoke/prometheus.json").exists()


def test_collect_waits_until_late_samples_have_landed(
    tmp_path: Path, profile_file: Path, fake_prometheus: str
) -> None:
    """Evaluated at ceil(end); asked only once ceil(end) + 5 s has passed on the wall clock."""
    evidence = tmp_path / "ev"
    write_stage(evidence, "smoke", "2026-01-01T00:00:00Z", "2026-01-01T00:00:08.400Z")
    now = datetime(2026, 1, 1, 0, 0, 8, 500_000, tzinfo=UTC)
    slept: list[float] = []
    result = collect(
        fake_prometheus, evidence, load_profile(profile_file), clock=lambda: now, sleep=slept.append
    )
    assert slept == [pytest.approx(5.5)]  # until :09 + 5 s
    assert result.written == [evidence / "stages/smoke/prometheus.json"]


# ----------------------------------------------------------------------------- certify


def test_certify_runs_pytest_in_a_child_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh interpreter (the package is not imported before pytest sees it), options
    written with `=`, pytest's exit status returned as it is."""
    calls: list[list[str]] = []

    def fake_run(command: list[str], env: dict[str, str] | None = None) -> int:
        calls.append(command)
        return 3

    monkeypatch.setattr(cli, "run_passing_signals", fake_run)
    profile = tmp_path / "p.toml"
    status, _, _ = run(
        [
            "certify",
            "--evidence-dir",
            str(tmp_path),
            "--loadcert-profile",
            str(profile),
            "--",
            "--junitxml=c.xml",
            "-q",
        ],
        capsys,
    )
    assert status == 3
    assert calls == [
        [
            sys.executable,
            "-P",
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--evidence-dir={tmp_path}",
            f"--loadcert-profile={profile}",
            "--junitxml=c.xml",
            "-q",
        ]
    ]


def _example_project(tmp_path: Path) -> tuple[Path, Path]:
    """A project directory whose ini names the example's profile and turns warnings into
    errors, and a copy of the example bundle outside it."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "example.toml").write_text((REPO / "evidence/example.toml").read_text())
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\nloadcert_profile = "example.toml"\n'
    )
    bundle = tmp_path / "elsewhere" / "bundle"
    import shutil

    shutil.copytree(REPO / "evidence/example", bundle)
    return project, bundle


def test_certify_a_bundle_outside_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """`loadcert certify --evidence-dir PATH` with PATH outside the project: the project's
    configuration (its profile) applies, not a rootdir moved to above the bundle."""
    project, bundle = _example_project(tmp_path)
    monkeypatch.chdir(project)
    status = cli.main(["certify", "--evidence-dir", str(bundle)])
    out, err = capfd.readouterr()
    assert "rootdir" not in err and "Traceback" not in err
    assert f"rootdir: {project}" in out
    certificate = json.loads((project / "certificate.json").read_text())
    assert certificate["verdict"] == "certified"
    assert certificate["profile_source"] == str(project / "example.toml")
    assert status == 0


#: A plugin the repository loads (``-p``) that ends or edits the run behind the plugin's back.
_ENDINGS = {
    # pytest exits 0 before any session: no certificate at all.
    "exit-before-session": "import os\ndef pytest_configure(config):\n    os._exit(0)\n",
    "exit-at-session-start": "import os\ndef pytest_sessionstart(session):\n    os._exit(0)\n",
    # The certificate is written, then edited (its environment renamed, say).
    "replaced-after": (
        "import pathlib, pytest\n@pytest.hookimpl(trylast=True)\n"
        "def pytest_unconfigure(config):\n"
        "    path = pathlib.Path('certificate.json')\n"
        "    path.write_text(path.read_text().replace('local-example', 'production'))\n"
    ),
}


#: The certify tests run whole processes; their -n 2 variants run in .ci/run (slow).
CERTIFY_MODES = [
    pytest.param((), id="serial"),
    pytest.param(("-n", "2"), id="xdist", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("ending", sorted(_ENDINGS))
@pytest.mark.parametrize("mode", CERTIFY_MODES)
def test_certify_fails_closed_when_pytest_wrote_no_fresh_certificate(
    tmp_path: Path, ending: str, mode: tuple[str, ...]
) -> None:
    """pytest exited 0, but not with this session's certificate: `loadcert certify` exits 2
    (nothing is certified), whatever an earlier run left at certificate.json."""
    project, bundle = _example_project(tmp_path)
    (project / "certificate.json").write_text('{"verdict": "certified"}')  # an earlier run's
    (project / "endings.py").write_text(_ENDINGS[ending])
    command = [sys.executable, "-m", "pytest_loadcert", "certify", "--evidence-dir", str(bundle)]
    child = subprocess.run(
        [*command, "--", "-p", "endings", *mode],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project), "LOADCERT_SESSION": "ci-run-7"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 2, child.stdout + child.stderr
    assert "Traceback" not in child.stderr
    assert "nothing is certified" in child.stderr
    if ending == "replaced-after":
        assert "certificate.json: changed after the plugin wrote it" in child.stderr
    else:
        assert "pytest exited 0 but wrote no certificate for session ci-run-7" in child.stderr


def test_certify_fails_closed_when_pytest_answered_version_before_any_plugin(
    tmp_path: Path,
) -> None:
    """``--version`` (once) is answered before any plugin loads, so no plugin can refuse it:
    pytest exits 0 beside an earlier run's certified certificate.json, and certify exits 2."""
    project, bundle = _example_project(tmp_path)
    (project / "certificate.json").write_text('{"verdict": "certified"}')  # an earlier run's
    command = [sys.executable, "-m", "pytest_loadcert", "certify", "--evidence-dir", str(bundle)]
    child = subprocess.run(
        [*command, "--", "--version"],
        cwd=project,
        env={**os.environ, "LOADCERT_SESSION": "ci-run-9"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 2, child.stdout + child.stderr
    assert "pytest exited 0 but wrote no certificate for session ci-run-9" in child.stderr


@pytest.mark.parametrize("mode", CERTIFY_MODES)
def test_certify_checks_the_certificate_of_its_own_session(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """The control: the session id reaches the certificate and the junit XML, and certify
    returns the certified status."""
    project, bundle = _example_project(tmp_path)
    child = subprocess.run(
        [sys.executable, "-m", "pytest_loadcert", "certify", "--evidence-dir", str(bundle),
         "--", "--junitxml=out/certificate.xml", *mode],
        cwd=project,
        env={**os.environ, "LOADCERT_SESSION": "ci-run-8"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert child.returncode == 0, child.stdout + child.stderr
    certificate = json.loads((project / "out/certificate.json").read_text())
    assert certificate["invocation"]["session"] == "ci-run-8"
    assert (
        '<property name="loadcert.session" value="ci-run-8" />'
        in (project / "out/certificate.xml").read_text()
    )


def test_run_passing_signals_returns_the_childs_status() -> None:
    assert cli.run_passing_signals([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert cli.run_passing_signals([sys.executable, "-c", killed]) == 128 + 9


def test_sigterm_to_certify_interrupts_pytest_which_still_writes_its_certificate(
    tmp_path: Path,
) -> None:
    """A cancelled CI job: SIGTERM reaches `loadcert certify`, pytest ends the run as
    interrupted, the certificate says blocked, and the status is pytest's (2)."""
    project, bundle = _example_project(tmp_path)
    started = tmp_path / "started"
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('loadcert_gates = ["gates"]\n')
    (project / "gates").mkdir()
    (project / "gates" / "test_slow_gate.py").write_text(
        "import pathlib, time\n\n"
        "def test_waits(loadcert_k6):\n"
        f"    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest_loadcert", "certify", "--evidence-dir", str(bundle)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # not in the test run's process group
    )
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not started.exists():
            assert child.poll() is None, child.communicate()
            assert datetime.now(UTC) < deadline, "the gate never started"
            threading.Event().wait(0.05)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert "Traceback" not in err
    certificate = json.loads((project / "certificate.json").read_text())
    assert certificate["verdict"] == "blocked"
    assert "the run was interrupted before every gate ran" in certificate["problems"]
    assert child.returncode == 2, out + err


def test_ctrl_c_at_a_terminal_interrupts_pytest_once(tmp_path: Path) -> None:
    """Ctrl-C at a terminal goes to the whole foreground process group: pytest gets it
    directly, `loadcert certify` does not pass on a second one, and the run ends as an
    interrupted run does (certificate blocked, status 2)."""
    import fcntl
    import pty
    import termios

    project, bundle = _example_project(tmp_path)
    started = tmp_path / "started"
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('loadcert_gates = ["gates"]\n')
    (project / "gates").mkdir()
    received = tmp_path / "received"
    # The gate counts the SIGINTs it receives for a second after the first, then ends the
    # run as Ctrl-C does.
    (project / "gates" / "test_slow_gate.py").write_text(
        "import pathlib, signal, time\n\n"
        "def test_waits(loadcert_k6):\n"
        "    got = []\n"
        "    signal.signal(signal.SIGINT, lambda *_: got.append(time.monotonic()))\n"
        f"    pathlib.Path({str(started)!r}).touch()\n"
        "    end = time.monotonic() + 30\n"
        "    while time.monotonic() < (got[0] + 1 if got else end):\n"
        "        time.sleep(0.01)\n"
        f"    pathlib.Path({str(received)!r}).write_text(str(len(got)))\n"
        "    raise KeyboardInterrupt\n"
    )
    master, slave = pty.openpty()

    def controlling_terminal() -> None:  # in the child, a session leader after setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = subprocess.Popen(
        [sys.executable, "-m", "pytest_loadcert", "certify", "--evidence-dir", str(bundle)],
        cwd=project,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    output = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not started.exists():
            assert child.poll() is None, bytes(output).decode(errors="replace")
            assert datetime.now(UTC) < deadline, "the gate never started"
            threading.Event().wait(0.05)
        os.write(master, b"\x03")  # Ctrl-C
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        reader.join(timeout=5)
        os.close(master)
    text = bytes(output).decode(errors="replace")
    assert "Traceback" not in text
    assert "KeyboardInterrupt" in text
    assert received.read_text() == "1"  # one Ctrl-C, one SIGINT
    certificate = json.loads((project / "certificate.json").read_text())
    assert certificate["verdict"] == "blocked"
    assert child.returncode == 2, text


# ----------------------------------------------------------------------------- example service


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_example_service_endpoints_and_metrics() -> None:
    service = start_service(0)
    try:
        assert service.url.startswith("http://127.0.0.1:")
        status, kind, body = _get(service.url + "/")
        assert (status, kind) == (200, "application/json")
        assert json.loads(body)["status"] == "ok"
        status, _, body = _get(service.url + "/api/items")
        assert status == 200 and len(json.loads(body)["items"]) == 3
        assert _get(service.url + "/nope")[0] == 404
        status, kind, body = _get(service.url + "/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        text = body.decode()
        assert 'example_http_requests_total{code="200",path="/"} 1' in text
        assert 'example_http_requests_total{code="200",path="/api/items"} 1' in text
        assert 'example_http_requests_total{code="404",path="other"} 1' in text
        # A status not answered yet is exported at 0, never born with its first count.
        assert 'example_http_requests_total{code="500",path="/"} 0' in text
        assert "example_http_requests_in_flight 1" in text  # this very request
        assert "example_http_errors_total 0" in text
        assert "# TYPE example_http_requests_total counter" in text
    finally:
        stop_service(service)
    stop_service(service)  # idempotent


def test_example_service_as_a_module() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with subprocess.Popen(
        [sys.executable, "-m", "pytest_loadcert.demo.exampleservice", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("listening on http://127.0.0.1:")
            assert _get(line.removeprefix("listening on ") + "/")[0] == 200
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0  # SIGTERM is a clean shutdown


PROFILE_WITHOUT_100K = """
target_concurrency = 5
[[stages]]
name = "tiny"
min_active_vus = 5
"""


@pytest.mark.parametrize(
    ("layout", "env"),
    [
        ({"pyproject.toml": '[tool.pytest.ini_options]\nloadcert_profile = "conf/p.toml"\n'}, None),
        ({"pytest.ini": "[pytest]\nloadcert_profile = conf/p.toml\n"}, None),
        ({}, "conf/p.toml"),
    ],
    ids=["pyproject-ini", "pytest-ini", "env"],
)
def test_cli_resolves_the_profile_as_the_plugin_does(
    tmp_path: Path,
    script: Path,
    fake_k6: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    layout: dict[str, str],
    env: str | None,
) -> None:
    """The ini key loadcert_profile (or $LOADCERT_PROFILE) names the profile for the CLI too."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf/p.toml").write_text(PROFILE_WITHOUT_100K)
    for name, text in layout.items():
        (tmp_path / name).write_text(text)
    if env is None:
        monkeypatch.delenv("LOADCERT_PROFILE", raising=False)
    else:
        monkeypatch.setenv("LOADCERT_PROFILE", env)
    monkeypatch.chdir(tmp_path)
    args = [
        "run-stage",
        "--evidence-dir",
        "ev",
        "--stage",
        "100k",
        "--script",
        str(script),
        "--k6",
        str(fake_k6),
    ]
    status, _, err = run(args, capsys)
    assert status == 4
    assert "'100k' is not in the profile" in err
    assert str(tmp_path / "conf/p.toml") in err


def test_cli_reports_an_unreadable_ini_profile_key(
    tmp_path: Path,
    script: Path,
    fake_k6: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\nloadcert_profile = 3\n")
    monkeypatch.delenv("LOADCERT_PROFILE", raising=False)
    monkeypatch.chdir(tmp_path)
    args = [
        "run-stage",
        "--evidence-dir",
        "ev",
        "--stage",
        "smoke",
        "--script",
        str(script),
        "--k6",
        str(fake_k6),
    ]
    status, _, err = run(args, capsys)
    # pytest reads an ini_options scalar as its text, so the plugin looks for a file "3";
    # the command resolves it the same way and says the file is not there.
    assert status == 4
    assert f"{tmp_path / '3'}: profile file not found" in err
    assert "Traceback" not in err
