"""Collectors under faults, at the level of the process: killed mid-request and mid-write,
run twice, run again after a failure; and the faults the per-collector tests leave out.

The real ``loadcert`` command runs in a subprocess against servers on 127.0.0.1 that answer
several MB, passed through a link that dribbles them out (:class:`SlowLink`). To kill a
collector while it writes, its disk is made slow: ``os.fsync`` sleeps (:data:`SLOW_DISK`),
and the test waits for the temporary file to appear. Whatever the moment of the SIGKILL,
every evidence file is either absent or byte-identical to the last complete collection; a
killed write leaves at most its temporary file (``.<name>.<random>.tmp``), which ``seal``
refuses and the ``bundle_integrity`` gate blocks.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Imported before any test: the pytester fixture drops the modules first imported during a
# test, and a requests imported anew next to a half-dropped one breaks the next session.
import requests  # noqa: F401
from k8sapi import KubeAPI, load
from promserver import FakeHttpServer, Reply, Seen

from pytest_loadcert import cli
from pytest_loadcert.collect import k8s_list
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.cluster import read_record as read_collection_record
from pytest_loadcert.evidence.jsonio import is_partial_write
from pytest_loadcert.evidence.layout import CLUSTER as SNAPSHOT
from pytest_loadcert.evidence.layout import COLLECTION
from pytest_loadcert.gates.bindings import bundle_integrity
from pytest_loadcert.run.seal import SealError, seal

#: The real CLI with a slow disk: the n-th ``os.fsync`` of the process (n in argv[1], a
#: comma-separated list) sleeps a minute first, so a test can kill it while it writes.
SLOW_DISK = """\
import os, sys, time
slow = {int(n) for n in sys.argv[1].split(",")}
real, calls = os.fsync, [0]
def fsync(fd):
    calls[0] += 1
    if calls[0] in slow:
        time.sleep(60)
    real(fd)
os.fsync = fsync
from pytest_loadcert.cli import main
sys.exit(main(sys.argv[2:]))
"""


class SlowLink:
    """A TCP relay on 127.0.0.1 in front of ``port``: requests pass at once, answers at
    ``chunk`` bytes per ``pause`` seconds. :attr:`relayed` counts answer bytes sent on."""

    def __init__(self, port: int, chunk: int = 32768, pause: float = 0.01) -> None:
        self.port, self.chunk, self.pause = port, chunk, pause
        self.relayed = 0
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def __enter__(self) -> SlowLink:
        self._start(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.port))
            self._start(self._pump, client, upstream, False)
            self._start(self._pump, upstream, client, True)

    def _pump(self, source: socket.socket, target: socket.socket, slow: bool) -> None:
        source.settimeout(0.1)
        try:
            while not self.stopping.is_set():
                try:
                    data = source.recv(self.chunk if slow else 65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                target.sendall(data)
                if slow:
                    self.relayed += len(data)
                    self.stopping.wait(self.pause)
        except OSError:
            pass  # the collector was killed: its end of the link is gone
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def files_of(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root``, hidden ones included."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def partial_writes(root: Path) -> list[str]:
    """Names only: a temporary file can be renamed away between listing and reading it."""
    return [p.relative_to(root).as_posix() for p in sorted(root.rglob("*"))
            if is_partial_write(p.name)]  # fmt: skip


def env() -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "LOADCERT_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "kubeconfig")
    }
    return {**clean, "NO_PROXY": "127.0.0.1"}  # fmt: skip


def start(args: list[str], cwd: Path, slow_fsync: str = "") -> subprocess.Popen[bytes]:
    """The real ``loadcert`` in a subprocess (its disk slow at the given fsync calls)."""
    if slow_fsync:
        command = [sys.executable, "-c", SLOW_DISK, slow_fsync, *args]
    else:
        command = [sys.executable, "-m", "pytest_loadcert.cli", *args]
    return subprocess.Popen(command, cwd=cwd, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    try:
        while not condition():
            if process.poll() is not None:
                _, err = process.communicate(timeout=30)
                raise AssertionError(f"{what}: the collector ended first: {err[-2000:]!r}")
            assert time.monotonic() < deadline, f"{what}: timed out"
            time.sleep(0.005)
    except BaseException:
        if process.poll() is None:  # never leave the collector running behind a failure
            process.kill()
        process.communicate(timeout=30)
        raise


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def run(args: list[str], cwd: Path, expect: int = 0) -> str:
    done = subprocess.run([sys.executable, "-m", "pytest_loadcert.cli", *args], cwd=cwd,
                          env=env(), capture_output=True, timeout=120, check=False)  # fmt: skip
    text = (done.stdout + done.stderr).decode()
    assert done.returncode == expect, text[-3000:]
    return text


# ----------------------------------------------------------------------------- Kubernetes


def many_pods(count: int, extra: str = "") -> list[dict[str, Any]]:
    """``count`` copies of the recorded gateway pod, each named apart (about 5 kB each)."""
    template = load("lists/pods.json")["items"][0]
    pods = []
    for index in range(count):
        pod = copy.deepcopy(template)
        pod["metadata"]["name"] = f"gateway-7c9d8f6b5d-{index:05d}{extra}"
        pod["metadata"]["uid"] = f"00000000-0000-4000-8000-{index:012d}"
        pods.append(pod)
    return pods


@pytest.fixture
def big_api() -> Iterator[KubeAPI]:
    """The API stand-in serving 700 pods (about 4 MB in one page)."""
    with KubeAPI() as api:
        api.set_items("pods", many_pods(700))
        yield api


def k8s_args(url: str, evidence: Path) -> list[str]:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }  # fmt: skip
    path = evidence.parent / f"kubeconfig-{url.rsplit(':', 1)[1]}"
    path.write_text(json.dumps(config))
    return ["collect", "k8s", "--namespace", "shop", f"--evidence-dir={evidence}",
            "--kubeconfig", str(path), "--page-size", "5000"]  # fmt: skip


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    path = tmp_path / "evidence"
    path.mkdir()
    return path


@pytest.mark.slow
def test_sigkill_mid_answer_and_mid_write_leaves_the_last_complete_collection(
    big_api: KubeAPI, evidence: Path
) -> None:
    cwd = evidence.parent
    run(k8s_args(big_api.url, evidence), cwd)
    complete = files_of(evidence)
    assert sorted(complete) == [COLLECTION, SNAPSHOT] and len(complete[SNAPSHOT]) > 3_000_000
    big_api.set_items("pods", many_pods(700, extra="b"))  # the cluster moved on

    # 1. Killed while the answer is still arriving (a third of it relayed).
    with SlowLink(int(big_api.url.rsplit(":", 1)[1])) as link:
        process = start(k8s_args(link.url, evidence), cwd)
        wait_for(lambda: link.relayed > 1_500_000, process, "mid-answer")
        kill(process)
    assert files_of(evidence) == complete

    # 2. Killed while writing the List (its temporary file complete, not yet renamed).
    process = start(k8s_args(big_api.url, evidence), cwd, slow_fsync="1")
    wait_for(lambda: bool(partial_writes(evidence)), process, "mid-write")
    kill(process)
    left = partial_writes(evidence)
    assert [rel.rsplit(".", 2)[0] for rel in left] == ["cluster/.kubernetes.json"]
    assert {k: v for k, v in files_of(evidence).items() if k not in left} == complete
    check_seal_and_gate_refuse(evidence, left[0])

    # 3. Killed between the List and its record: the new List lies beside the old record,
    #    which no longer describes it, so seal refuses the pair.
    process = start(k8s_args(big_api.url, evidence), cwd, slow_fsync="2")
    wait_for(lambda: any(".collection.json." in rel for rel in partial_writes(evidence)),
             process, "between the two files")  # fmt: skip
    kill(process)
    now = files_of(evidence)
    assert [rel.rsplit(".", 2)[0] for rel in partial_writes(evidence)] == [
        "cluster/.collection.json"
    ]
    assert now[COLLECTION] == complete[COLLECTION] and now[SNAPSHOT] != complete[SNAPSHOT]
    assert json.loads(now[SNAPSHOT])["items"][0]["metadata"]["name"].endswith("b")
    with pytest.raises(EvidenceError, match="the List is not the one this collection wrote"):
        read_collection_record(evidence)

    # 4. Run again: the bundle is as a clean collection leaves it, once the leftover goes.
    run(k8s_args(big_api.url, evidence), cwd)
    for rel in partial_writes(evidence):
        (evidence / rel).unlink()
    assert read_collection_record(evidence)["namespace"] == "shop"


def sealable(evidence: Path) -> dict[str, Any]:
    """What seal needs beside the evidence: the k6 script, a manifest and a git repository."""
    (evidence / "artifacts").mkdir(exist_ok=True)
    (evidence / "artifacts/k6-script.js").write_text("export default function () {}\n")
    repo = evidence.parent / "repo"
    if not repo.exists():
        repo.mkdir()
        for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "x"]):
            subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                            "user.email=t@example.invalid", *args], check=True,
                           capture_output=True)  # fmt: skip
    manifest = evidence.parent / "manifest.yaml"
    manifest.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    return {"run_id": "r", "environment": "e", "k8s_manifest": manifest, "git_repo": repo}


def check_seal_and_gate_refuse(evidence: Path, leftover: str) -> None:
    """seal refuses a bundle holding a leftover temporary file, naming it; once it is gone,
    seal works; and a manifest that lists one anyway (sealed by hand, or by an older
    loadcert) is blocked by the bundle_integrity gate."""
    options = sealable(evidence)
    with pytest.raises(SealError) as refused:
        seal(evidence, **options)
    assert f"{leftover}: a temporary file of a write that never finished" in str(refused.value)
    assert not (evidence / "loadcert.json").exists()
    data = (evidence / leftover).read_bytes()
    (evidence / leftover).unlink()
    seal(evidence, **options)
    assert bundle_integrity(Bundle(evidence)).passed
    (evidence / leftover).write_bytes(data)
    manifest = json.loads((evidence / "loadcert.json").read_text())
    manifest["files"][leftover] = "sha256:" + hashlib.sha256(data).hexdigest()
    (evidence / "loadcert.json").write_text(json.dumps(manifest))
    with pytest.raises(EvidenceError, match="a temporary file of a write that never finished"):
        bundle_integrity(Bundle(evidence))
    (evidence / leftover).unlink()
    (evidence / "loadcert.json").unlink()
    shutil.rmtree(evidence / "artifacts")


# ----------------------------------------------------------------------------- Prometheus

PROFILE = """\
target_concurrency = 2
stability = []
[[stages]]
name = "smoke"
min_active_vus = 2
[[stages]]
name = "5vu"
min_active_vus = 5
[[metrics]]
name = "in_flight"
promql = 'max(http_requests_in_flight{stage="{stage}"})'
min = 0
[[metrics]]
name = "errors"
promql = "sum(increase(http_errors_total[{window}]))"
min = 0
[cluster]
required = false
[observability]
grafana = false
otel = false
"""
STAGES = {"smoke": ("2026-01-01T00:00:00Z", "2026-01-01T00:00:08Z"),
          "5vu": ("2026-01-01T00:00:20Z", "2026-01-01T00:00:28Z")}  # fmt: skip


@pytest.fixture
def stages(evidence: Path) -> Path:
    """Two stage.json files (long past: the collector does not wait) and the profile."""
    for stage, (begin, end) in STAGES.items():
        path = evidence / "stages" / stage / "stage.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({
            "stage": stage, "start_time": begin, "end_time": end, "k6_exit_code": 0,
            "k6_version": "k6 v1.1.0", "command": ["k6", "run", "artifacts/k6-script.js"],
        }))  # fmt: skip
    (evidence.parent / "profile.toml").write_text(PROFILE)
    return evidence


def vector(series: int, value: str = "3") -> dict[str, Any]:
    """A Prometheus answer of ``series`` series (about 120 bytes each)."""
    result = [{"metric": {"__name__": "http_requests_in_flight", "pod": f"gateway-{i:06d}",
                          "instance": f"10.0.{i // 250}.{i % 250}:8080", "job": "gateway"},
               "value": [1767225608, value]} for i in range(series)]  # fmt: skip
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def prom_args(url: str, evidence: Path, *extra: str) -> list[str]:
    return ["collect", "prometheus", "--url", url, "--evidence-dir", str(evidence),
            "--loadcert-profile", str(evidence.parent / "profile.toml"),
            "--retry-backoff-s", "0.01", *extra]  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_answer_and_mid_write_leaves_prometheus_evidence_whole(stages: Path) -> None:
    cwd = stages.parent
    big = vector(12000)

    with FakeHttpServer(lambda seen, attempt: Reply(200, big)) as server:
        run(prom_args(server.url, stages), cwd)
        complete = files_of(stages)
        assert len(complete["stages/smoke/prometheus.json"]) > 2_000_000

        with SlowLink(server.server.server_address[1]) as link:
            process = start(prom_args(link.url, stages, "--concurrency", "1"), cwd)
            wait_for(lambda: link.relayed > 1_000_000, process, "mid-answer")
            kill(process)
        assert files_of(stages) == complete

        # Killed writing smoke's file; then writing 5vu's, smoke's new one renamed in place.
        for slow, stage in (("1", "smoke"), ("2", "5vu")):
            process = start(prom_args(server.url, stages), cwd, slow_fsync=slow)
            prefix = f"stages/{stage}/.prometheus.json."
            wait_for(lambda p=prefix: any(r.startswith(p) for r in partial_writes(stages)),
                     process, "mid-write")  # fmt: skip
            kill(process)
            left = partial_writes(stages)
            assert len(left) == 1 and left[0].startswith(f"stages/{stage}/.prometheus.json.")
            now = files_of(stages)
            for rel, data in complete.items():
                if rel.endswith("prometheus.json"):  # the earlier one, or a complete new one
                    assert (
                        data == now[rel]
                        or json.loads(now[rel])["queries"] == json.loads(data)["queries"]
                    )
            (stages / left[0]).unlink()


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_only_whole_files(stages: Path) -> None:
    """Killed at moments spread over a whole collection, without any help: each evidence
    file is the earlier one or a complete new one, and a leftover is only ever a temporary
    file of the recognised name."""
    cwd = stages.parent
    big = vector(8000)
    with FakeHttpServer(lambda seen, attempt: Reply(200, big)) as server:
        run(prom_args(server.url, stages), cwd)
        complete = files_of(stages)
        started = time.monotonic()
        run(prom_args(server.url, stages), cwd)
        whole_run = time.monotonic() - started
        for fraction in (0.3, 0.6, 0.85, 0.95):
            process = start(prom_args(server.url, stages), cwd)
            time.sleep(whole_run * fraction)
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
            now = files_of(stages)
            for rel in now:
                if rel.endswith("/prometheus.json"):  # the earlier one or a whole new one
                    assert json.loads(now[rel])["queries"] == json.loads(complete[rel])["queries"]
                elif rel in complete:
                    assert now[rel] == complete[rel]
                else:
                    assert is_partial_write(rel.rsplit("/", 1)[-1]), rel
                    (stages / rel).unlink()


# ----------------------------------------------------------------------------- idempotence


def without(data: bytes, *keys: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(data)
    return {k: v for k, v in document.items() if k not in keys}


def traces(path: Path) -> Path:
    """The Collector's file-exporter NDJSON: one span in each stage window."""
    lines = []
    for index, second in enumerate((1767225601, 1767225621), start=1):
        span = {"traceId": f"{index:032x}", "spanId": f"{index:016x}", "name": "GET /",
                "kind": 2, "startTimeUnixNano": f"{second}000000000",
                "endTimeUnixNano": f"{second}500000000", "status": {}}  # fmt: skip
        lines.append(json.dumps({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name",
                                         "value": {"stringValue": "checkout"}}]},
            "scopeSpans": [{"scope": {"name": "app"}, "spans": [span]}]}]}))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_collecting_twice_gives_the_same_evidence_but_the_collection_time(
    stages: Path, tmp_path: Path
) -> None:
    """Against unchanged sources, a second collection writes the same bytes, except the
    fields that record when it ran: ``collected_at`` of prometheus.json and git.json,
    ``started_at`` and ``collected_at`` of cluster/collection.json. The List, grafana.json
    and otel-traces.json are byte-identical."""
    cwd = stages.parent
    repo = sealable(stages)["git_repo"]
    grafana_export = {"dashboard": {"uid": "d1", "title": "t", "time": {"from": "now-6h",
                      "to": "now"}, "panels": []}, "meta": {"slug": "t"}}  # fmt: skip
    answers = {"/api/dashboards/uid/d1": grafana_export}

    def respond(seen: Seen, attempt: int) -> Reply:
        if seen.path == "/api/v1/query":
            return Reply(200, vector(3, value=str(len(seen.params["query"]))))
        return Reply(200, answers[seen.path]) if seen.path in answers else Reply(404, {})

    with FakeHttpServer(respond) as server, KubeAPI() as api:
        commands = [
            ["collect", "otel", "--from", str(traces(cwd / "traces.jsonl")), "--evidence-dir",
             str(stages), "--loadcert-profile", str(cwd / "profile.toml")],
            prom_args(server.url, stages),
            k8s_args(api.url, stages)[:-2],
            ["collect", "grafana", "--url", server.url, "--dashboard-uid", "d1",
             "--evidence-dir", str(stages), "--loadcert-profile", str(cwd / "profile.toml")],
            ["collect", "git", "--repo", str(repo), "--evidence-dir", str(stages)],
        ]  # fmt: skip
        for command in commands:
            run(command, cwd)
        first = files_of(stages)
        time.sleep(1.1)  # the collection times differ by at least a second
        for command in commands:
            run(command, cwd)
        second = files_of(stages)
    assert sorted(first) == sorted(second)
    assert {"observability/otel-traces.json", "observability/grafana.json", SNAPSHOT} <= {*first}
    times = {"collected_at", "started_at"}
    differ = sorted(rel for rel in first if first[rel] != second[rel])
    assert differ == ["artifacts/git.json", COLLECTION, "stages/5vu/prometheus.json",
                      "stages/smoke/prometheus.json"]  # fmt: skip
    for rel in differ:
        assert without(first[rel], *times) == without(second[rel], *times), rel
        changed = {k for k in json.loads(first[rel]) if json.loads(first[rel])[k] !=
                   json.loads(second[rel])[k]}  # fmt: skip
        assert changed <= times and changed, rel


@pytest.mark.slow
def test_a_run_after_a_failed_one_equals_a_clean_run(stages: Path, tmp_path: Path) -> None:
    """A collection that failed (Prometheus answering 500 for one query, the API server 500
    on one list) and is then run again leaves what a clean first run leaves."""
    cwd = stages.parent
    clean = tmp_path / "clean"
    shutil.copytree(stages, clean)
    broken = {"on": True}

    def respond(seen: Seen, attempt: int) -> Reply:
        if broken["on"] and "increase" in seen.params["query"]:
            return Reply(500, {"status": "error", "errorType": "internal", "error": "oom"})
        return Reply(200, vector(3))

    with FakeHttpServer(respond) as server, KubeAPI() as api:
        api.fail("services", 500, on_request=1)
        run(prom_args(server.url, stages, "--retries", "0"), cwd, expect=1)
        run(k8s_args(api.url, stages), cwd, expect=1)
        assert not (stages / "cluster").exists()
        broken["on"] = False
        for evidence in (stages, clean):
            run(prom_args(server.url, evidence), cwd)
            run(k8s_args(api.url, evidence), cwd)
    again, fresh = files_of(stages), files_of(clean)
    assert sorted(again) == sorted(fresh)
    for rel in again:
        assert without(again[rel], "collected_at", "started_at") == without(
            fresh[rel], "collected_at", "started_at"
        ), rel


# ----------------------------------------------------------------------------- faults left


def test_kubernetes_api_slower_than_the_read_timeout_fails_and_writes_nothing(
    evidence: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(k8s_list, "REQUEST_TIMEOUT_S", (2.0, 0.3))  # 60 s in real life
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeHttpServer(lambda seen, attempt: Reply(200, b"{}", delay_s=5)) as server:
        status = cli.main(k8s_args(server.url, evidence))
    err = capsys.readouterr().err
    assert status == 1, err
    assert "no complete answer from the API server listing pods (v1) in namespace shop" in err
    assert "timed out" in err and "Traceback" not in err
    assert len(server.seen) == 4  # the client's own three retries
    assert files_of(evidence) == {}


def test_kubernetes_api_rate_limiting_fails_and_writes_nothing(
    evidence: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with KubeAPI() as api:
        api.fail("deployments", 429, body={
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 429,
            "reason": "TooManyRequests", "message": "storage is (re)initializing"})  # fmt: skip
        status = cli.main(k8s_args(api.url, evidence))
    err = capsys.readouterr().err
    assert status == 1
    assert "HTTP 429 listing deployments (apps/v1) in namespace shop: storage is" in err
    assert files_of(evidence) == {}


@pytest.mark.parametrize(
    ("reply", "message"),
    [(Reply(502, b"<html>bad gateway</html>"), "HTTP 502"),
     (Reply(200, {"dashboard": {"uid": "d1", "panels": []}, "meta": {}}, delay_s=3),
      "no answer within the read timeout of 0.3 s (gave up after 1 retries)"),
     (Reply(200, {"dashboard": {"uid": "d1", "panels": []}, "meta": {}}, truncate_to=20),
      "the answer was cut short")],
)  # fmt: skip
def test_grafana_5xx_slow_and_truncated_fail_and_write_nothing(
    stages: Path, capsys: pytest.CaptureFixture[str], reply: Reply, message: str
) -> None:
    with FakeHttpServer(lambda seen, attempt: reply) as server:
        status = cli.main(["collect", "grafana", "--url", server.url, "--dashboard-uid", "d1",
                           "--evidence-dir", str(stages), "--loadcert-profile",
                           str(stages.parent / "profile.toml"), "--retries", "1",
                           "--retry-backoff-s", "0", "--read-timeout-s", "0.3"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1, err
    assert message in err and "Traceback" not in err
    assert not (stages / "observability").exists()
