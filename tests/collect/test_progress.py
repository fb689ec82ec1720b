"""Progress of long collections: a status line rewritten in place on a terminal (as pip and
k6 show theirs), nothing of it anywhere else; a Prometheus that cannot be reached said once.

The terminal is a real pseudo-terminal (:mod:`pty`) for the command's stderr; the same
command with stderr on a pipe is the CI log, which must stay one line per step.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Imported before any test: the pytester fixture drops the modules first imported during a
# test, and a requests imported anew next to a half-dropped one breaks the next session.
import requests  # noqa: F401
from k8sapi import KubeAPI
from promserver import FakeHttpServer, Reply, Seen, free_port

from pytest_loadcert import cli
from pytest_loadcert.collect.progress import StatusLine, is_terminal

ERASE = "\r\x1b[K"
STAGES = {
    "smoke": ("2026-01-01T00:00:00Z", "2026-01-01T00:00:08Z"),
    "5vu": ("2026-01-01T00:00:20Z", "2026-01-01T00:00:28Z"),
    "10vu": ("2026-01-01T00:00:40Z", "2026-01-01T00:00:48Z"),
}
PROFILE = """\
target_concurrency = 2
stability = []
[[stages]]
name = "smoke"
min_active_vus = 2
[[stages]]
name = "5vu"
min_active_vus = 5
[[stages]]
name = "10vu"
min_active_vus = 10
[[metrics]]
name = "a"
promql = 'max(a[{window}])'
min = 0
[[metrics]]
name = "b"
promql = 'max(b[{window}])'
min = 0
[cluster]
required = false
[observability]
grafana = false
otel = false
"""
VECTOR = {"status": "success", "data": {"resultType": "vector",
          "result": [{"metric": {}, "value": [1767225608, "2"]}]}}  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ----------------------------------------------------------------------------- the status line


def test_status_line_on_a_terminal_rewrites_one_line_at_most_ten_times_a_second() -> None:
    out, clock = io.StringIO(), FakeClock()
    status = StatusLine("loadcert collect x", out, enabled=True, clock=clock)
    status.update("1/3 done")
    status.update("2/3 done")  # 0 s later: dropped
    clock.now = 0.2
    status.update("3/3 done")
    status.log("a line of its own")
    status.update("after", force=True)
    status.clear()
    assert out.getvalue() == (
        f"{ERASE}loadcert collect x: 1/3 done{ERASE}loadcert collect x: 3/3 done"
        f"{ERASE}loadcert collect x: a line of its own\n{ERASE}loadcert collect x: after{ERASE}"
    )


def test_status_line_elsewhere_writes_only_the_lines() -> None:
    out = io.StringIO()
    status = StatusLine("loadcert collect x", out)
    assert not status.enabled and not is_terminal(out)
    with status:
        status.update("1/3 done", force=True)
        status.log("a line of its own")
    assert out.getvalue() == "loadcert collect x: a line of its own\n"


def test_status_line_fits_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()
    StatusLine("loadcert collect x", out, enabled=True).update("y" * 100)
    line = out.getvalue().removeprefix(ERASE)
    assert len(line) == 39 and line.endswith("...")


# ----------------------------------------------------------------------------- real commands


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    evidence = tmp_path / "ev"
    for stage, (start, end) in STAGES.items():
        path = evidence / "stages" / stage / "stage.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({
            "stage": stage, "start_time": start, "end_time": end, "k6_exit_code": 0,
            "k6_version": "k6 v1.1.0", "command": ["k6", "run", "artifacts/k6-script.js"],
        }))  # fmt: skip
    (tmp_path / "profile.toml").write_text(PROFILE)
    return evidence


def loadcert(args: list[str], cwd: Path, *, terminal: bool) -> tuple[int, str, str]:
    """Run ``loadcert args`` with stderr on a pseudo-terminal (``terminal``) or a pipe;
    (status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADCERT_")}
    env.update(TERM="xterm", COLUMNS="200")
    argv = [sys.executable, "-m", "pytest_loadcert.cli", *args]
    if not terminal:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=follower)  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    stdout = process.stdout.read() if process.stdout is not None else b""
    if process.stdout is not None:
        process.stdout.close()
    status = process.wait(timeout=30)
    # A terminal turns "\n" into "\r\n"; undo it to compare with what was written.
    return status, stdout.decode(), b"".join(chunks).decode().replace("\r\n", "\n")


def screen(output: str) -> list[str]:
    """The lines a terminal keeps: each line as its last rewrite left it."""
    return [line.rpartition(ERASE)[2] for line in output.split("\n") if line.rpartition(ERASE)[2]]


def prometheus_args(url: str, evidence: Path) -> list[str]:
    return ["collect", "prometheus", "--url", url, f"--evidence-dir={evidence}",
            "--loadcert-profile", str(evidence.parent / "profile.toml"),
            "--concurrency", "1", "--retry-backoff-s", "0.05"]  # fmt: skip


def slow_answer(seen: Seen, attempt: int) -> Reply:
    return Reply(200, VECTOR, delay_s=0.08)


def test_collect_prometheus_shows_its_progress_on_a_terminal(bundle: Path) -> None:
    with FakeHttpServer(slow_answer) as server:
        status, out, err = loadcert(
            prometheus_args(server.url, bundle), bundle.parent, terminal=True
        )
    assert status == 0, err
    assert out.count(": written\n") == 3
    assert f"{ERASE}loadcert collect prometheus: 1/6 queries done" in err
    assert "/6 queries done" in err.split(f"{ERASE}loadcert collect prometheus: 1/6")[1]
    assert err.endswith(ERASE)  # the status is gone when the command ends


def test_collect_prometheus_is_quiet_in_a_log(bundle: Path) -> None:
    with FakeHttpServer(slow_answer) as server:
        status, out, err = loadcert(
            prometheus_args(server.url, bundle), bundle.parent, terminal=False
        )
    assert (status, err) == (0, "")
    assert out.count(": written\n") == 3


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "log"])
def test_an_unreachable_prometheus_is_said_once_with_its_retries(
    bundle: Path, terminal: bool
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    started = time.monotonic()
    status, out, err = loadcert(
        [*prometheus_args(url, bundle), "--retries", "2", "--concurrency", "4"],
        bundle.parent,
        terminal=terminal,
    )
    elapsed = time.monotonic() - started
    assert (status, out) == (1, "")
    retrying = (f"loadcert collect prometheus: no answer yet from {url} (could not connect: "
                "Connection refused); retrying, up to 2 times")  # fmt: skip
    failed = (f"loadcert collect prometheus: error: no answer from {url}: could not "
              "connect: Connection refused (gave up after 2 retries); 6 of 6 queries not "
              "recorded")  # fmt: skip
    if terminal:
        # Drawn right after the line that announced the retries (later redraws may be
        # dropped: at most ten a second).
        assert f"{retrying}\n{ERASE}loadcert collect prometheus: retry 1/2 in " in err
        assert [line for line in screen(err) if "no answer" in line] == [retrying, failed]
    else:
        assert err.splitlines() == [retrying, failed]
    assert elapsed < 20  # the queries not yet asked are not asked
    assert not list(bundle.rglob("prometheus.json"))


def test_collect_k8s_shows_each_resource_and_page_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    evidence = tmp_path / "ev"
    evidence.mkdir()
    config = tmp_path / "kubeconfig"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("TERM", "xterm")
    with KubeAPI() as api:
        config.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": api.url}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        }))  # fmt: skip
        args = ["collect", "k8s", "--namespace", "shop", f"--evidence-dir={evidence}",
                "--kubeconfig", str(config), "--page-size", "1"]  # fmt: skip
        assert cli.main(args) == 0
        log = capsys.readouterr().err
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert cli.main(args) == 0
    shown = terminal.getvalue()
    assert ERASE not in log and "listing" not in log  # a log: one line per resource
    assert "loadcert collect k8s: listing pods (1 of " in shown
    assert re.search(r"loadcert collect k8s: listing pods: page \d+, \d+ items", shown)
    assert shown.rpartition(ERASE)[2].endswith("\n")  # the status is gone: a line ends it
    # The lines of the log are there too, each on its own line.
    lines = [part for part in shown.replace(ERASE, "\n").splitlines() if part.endswith(")")]
    assert [line for line in log.splitlines() if "items (" in line] == [
        line for line in lines if "items (" in line
    ]


def test_collect_grafana_says_once_that_it_retries(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard = {"dashboard": {"uid": "d1", "panels": []}, "meta": {}}

    def recovering(seen: Seen, attempt: int) -> Reply:
        return Reply(503, b"busy") if attempt <= 2 else Reply(200, dashboard)

    with FakeHttpServer(recovering) as server:
        status = cli.main(["collect", "grafana", "--url", server.url, "--dashboard-uid", "d1",
                           f"--evidence-dir={bundle}", "--loadcert-profile",
                           str(bundle.parent / "profile.toml"), "--retries", "3",
                           "--retry-backoff-s", "0.01"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 0, err
    assert err.splitlines() == [
        f"loadcert collect grafana: no answer yet from {server.url} (HTTP 503); retrying, "
        "up to 3 times"
    ]
