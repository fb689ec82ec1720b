"""``loadcert demo`` end to end: real k6, a real Prometheus, the OTel SDK, seal and certify.

Each test runs the command as a user would (a subprocess, started from a clean git
repository) with short stages (2 and 3 s), then checks the verdict, the files a new user is
pointed at, and that nothing the demo started is left running or listening.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_loadcert import cli
from pytest_loadcert.run.k6bin import K6NotFound, find_k6

pytestmark = pytest.mark.slow

STAGES = ("smoke", "5vu", "10vu")
PROGRESS_RE = re.compile(r"^\[\s*\d+\.\ds\] \S", re.MULTILINE)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clean one-commit repository to start the demo from (never what gets bound)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             *args],
            check=True, capture_output=True,
        )  # fmt: skip
    return repo


def run_demo(
    cwd: Path, out: Path, stage_seconds: int, path: str | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    try:
        find_k6()
    except K6NotFound as exc:
        pytest.skip(str(exc))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "LOADCERT_"))
    }
    if path is not None:
        env["PATH"] = path
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest_loadcert.cli", "demo", "--out", str(out),
         "--stage-seconds", str(stage_seconds)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=170, check=False,
    )  # fmt: skip
    return done, time.monotonic() - started


def assert_nothing_left(output: str, out: Path) -> None:
    """Every process the demo started has exited, and none of its ports is still bound."""
    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", output)]
    ports = [int(port) for port in re.findall(r"http://127\.0\.0\.1:(\d+)", output)]
    assert pids and ports, output
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists():  # the pid may have been reused since, by something else
            assert str(out).encode() not in cmdline.read_bytes(), f"pid {pid} still runs"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                text = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            assert str(out).encode() not in text, f"left running: {text!r}"
    for port in ports:
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still bound"
        with socket.socket() as sock:
            # SO_REUSEADDR lets connections in TIME_WAIT pass, never a socket still listening.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))


def certificate(out: Path) -> dict[str, object]:
    document = json.loads((out / "certificate.json").read_text())
    assert isinstance(document, dict)
    return document


def junit_verdict(out: Path) -> str | None:
    suite = ET.parse(out / "certificate.xml").getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    return properties.get("loadcert.verdict")


def gate_statuses(document: dict[str, object]) -> dict[str, str]:
    gates = document["gates"]
    assert isinstance(gates, list)
    return {gate["id"]: gate["status"] for gate in gates}


def test_demo_certifies_with_real_k6_and_prometheus(tmp_path: Path, repo: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    out = tmp_path / "demo-out"
    done, seconds = run_demo(repo, out, stage_seconds=3)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    print(f"loadcert demo with Prometheus: {seconds:.1f} s wall clock")

    assert len(PROGRESS_RE.findall(done.stdout)) >= 10, done.stdout
    assert "VERDICT: CERTIFIED" in done.stdout
    assert "not required by the profile: cluster, grafana" in done.stdout
    assert f"certificate.json: {out / 'certificate.json'}" in done.stdout
    assert f"bundle:           {out / 'bundle'}" in done.stdout

    document = certificate(out)
    assert document["verdict"] == "certified"
    assert document["not_required"] == ["cluster", "grafana"]
    assert junit_verdict(out) == "certified"
    statuses = gate_statuses(document)
    assert statuses["otel_coverage"] == "passed"
    assert statuses["git_binding"] == "passed"
    metric_gates = [gate for gate in statuses if gate.startswith("critical_metric")]
    assert len(metric_gates) == 5 * len(STAGES)
    assert {statuses[gate] for gate in metric_gates} == {"passed"}

    bundle = out / "bundle"
    manifest = json.loads((bundle / "loadcert.json").read_text())
    head = subprocess.run(["git", "-C", str(out / "source"), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    # What ran (the snapshot), not the repository the demo was started from.
    assert manifest["git"] == {"sha": head, "ref": "refs/heads/loadcert-demo", "dirty": False}
    for stage in STAGES:
        answers = json.loads((bundle / "stages" / stage / "prometheus.json").read_text())
        assert all(q["response"]["data"]["result"] for q in answers["queries"]), stage
    assert "observability/otel-traces.json" in manifest["files"]
    assert "artifacts/git.json" in manifest["files"]
    assert_nothing_left(output, out)


def test_demo_without_prometheus_is_blocked(tmp_path: Path, repo: Path) -> None:
    git = shutil.which("git")
    assert git is not None
    only_git = tmp_path / "bin"
    only_git.mkdir()
    (only_git / "git").symlink_to(git)
    out = tmp_path / "demo-out"
    done, seconds = run_demo(repo, out, stage_seconds=2, path=str(only_git))
    output = done.stdout + done.stderr
    print(f"loadcert demo without Prometheus: {seconds:.1f} s wall clock")

    assert done.returncode == 2, output  # the exit status of `blocked`
    assert "prometheus: not found on PATH (Debian/Ubuntu: apt-get install prometheus)" in output
    assert "the certificate will be blocked (nothing is faked)" in output
    assert "VERDICT: BLOCKED" in done.stdout
    assert (
        "blocked: critical_metric[smoke-k6_peak_vus]: stages/smoke/prometheus.json: is missing"
        in done.stdout
    )
    document = certificate(out)
    assert document["verdict"] == "blocked"
    assert junit_verdict(out) == "blocked"
    statuses = gate_statuses(document)
    metric_gates = [gate for gate in statuses if gate.startswith("critical_metric")]
    assert metric_gates and {statuses[gate] for gate in metric_gates} == {"blocked"}
    # Everything else was real and passed: k6 ran, the traces were imported, the bundle sealed.
    assert statuses["otel_coverage"] == "passed"
    assert statuses["bundle_integrity"] == "passed"
    assert statuses["observed_concurrency[10vu]"] == "passed"
    assert not list((out / "bundle").glob("stages/*/prometheus.json"))
    assert_nothing_left(output, out)


def test_demo_stops_everything_when_terminated(tmp_path: Path, repo: Path) -> None:
    """SIGTERM to the demo alone, mid-stage: it stops the service, Prometheus, run-stage and
    the k6 that run-stage started (which never saw the signal), then exits as interrupted."""
    try:
        find_k6()
    except K6NotFound as exc:
        pytest.skip(str(exc))
    out = tmp_path / "demo-out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LOADCERT_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_loadcert.cli", "demo", "--out", str(out),
         "--stage-seconds", "20"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if "k6: stage smoke" in line:
                break
        k6_summary = str(out / "bundle" / "stages" / "smoke").encode()
        deadline = time.monotonic() + 15
        while not any(
            k6_summary in cmdline and b"k6" in cmdline.split(b"\0")[0] for cmdline in _cmdlines()
        ):
            assert time.monotonic() < deadline, "k6 never started: " + "".join(seen)
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        seen.append(process.stdout.read())
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    output = "".join(seen)
    assert code == 130, output
    assert output.rstrip().endswith("loadcert demo: error: interrupted"), output
    assert_nothing_left(output, out)
    for storage in re.findall(r"storage (\S+)/tsdb", output):
        assert not Path(storage).exists()  # the temporary Prometheus storage is removed


def _cmdlines() -> list[bytes]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found.append((proc / "cmdline").read_bytes())
            except OSError:
                continue
    return found


@pytest.mark.parametrize("where", ["clean-repository", "no-repository"])
def test_the_demo_binds_a_snapshot_of_what_ran_never_the_current_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: Path, where: str
) -> None:
    """A clean repository around the demo is not what the demo tests: its HEAD is never bound."""
    from pytest_loadcert.demo import exampleservice, otlpjson
    from pytest_loadcert.demo import service as demoservice
    from pytest_loadcert.demo.processes import Deadline, Progress
    from pytest_loadcert.demo.snapshot import record_git
    from pytest_loadcert.evidence.git import read_record

    out, plain = tmp_path / "out", tmp_path / "plain"
    (out / "bundle").mkdir(parents=True)
    plain.mkdir()
    (out / "script.js").write_text("// the script\n")
    (out / "profile.toml").write_text("target_concurrency = 1\n")
    monkeypatch.chdir(repo if where == "clean-repository" else plain)
    lines = io.StringIO()
    assert record_git(out, out / "bundle", Progress(Deadline(60), lines))

    record = read_record(out / "bundle")
    source = out / "source"
    head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    repo_head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert record == {"sha": head, "ref": "refs/heads/loadcert-demo", "dirty": False}
    assert record["sha"] != repo_head
    tree = subprocess.run(["git", "-C", str(source), "ls-files"], capture_output=True,
                          text=True, check=True).stdout.split()  # fmt: skip
    assert tree == ["exampleservice.py", "otlpjson.py", "profile.toml", "script.js", "service.py"]
    for module in (demoservice, exampleservice, otlpjson):
        name = Path(str(module.__file__)).name
        assert (source / name).read_bytes() == Path(str(module.__file__)).read_bytes()
    assert f"binding what runs: {source}" in lines.getvalue()


def test_demo_refuses_a_used_output_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "used"
    out.mkdir()
    (out / "certificate.json").write_text("{}")
    assert cli.main(["demo", "--out", str(out)]) == 4
    err = capsys.readouterr().err
    assert err == (
        f"loadcert demo: error: --out {out}: exists and is not an empty directory; evidence is "
        "never overwritten (choose a new directory)\n"
    )
    assert cli.main(["demo", "--stage-seconds", "0"]) == 4
    assert "must be at least 1" in capsys.readouterr().err
