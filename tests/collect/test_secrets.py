"""No credential is ever written or printed: one whole pipeline with every kind of
credential in play, then every failure path a credential could leak through.

The pipeline runs the real ``loadcert`` command in subprocesses, as CI would: ``collect
prometheus`` (bearer token, then basic auth), ``collect k8s`` over TLS (a kubeconfig with a
bearer token and a real client key and certificate), ``collect grafana`` (a service account
token, and a snapshot whose delete key is a credential too), ``collect otel``, ``collect
git``, ``seal``, ``certify`` with the junit certificate and the self-contained HTML report,
``loadcert report`` in Markdown, HTML and in-toto. The servers stand in on 127.0.0.1 for
Prometheus, Kubernetes and Grafana, each checking the credential it was given; the cluster
objects they serve carry secret values in container env, in last-applied-configuration
annotations and in a Secret. Afterwards every byte written (the bundle, the certificate, the
reports, the temporary directory of every process) and every line printed is searched for
each secret in plain, base64 and JSON-escaped form.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest

# Imported before any test: the pytester fixture drops the modules first imported during a
# test, and a requests imported anew next to a half-dropped one breaks the next session.
import requests  # noqa: F401
from k8sapi import KubeAPI
from promserver import FakeHttpServer, Reply, Seen, free_port

from pytest_loadcert import cli
from pytest_loadcert.collect.k8s import RESOURCES
from pytest_loadcert.collect.redact import LAST_APPLIED, REDACTED

REPO = Path(__file__).resolve().parents[2]

PROM_TOKEN = "promtok-SECRET-7c41e09a2b"
PROM_USER = "reader"
PROM_PASSWORD = "prompw-SECRET-3f9d2e81c6"
GRAFANA_TOKEN = "glsa_SECRET_b6a05d9e47"
DELETE_KEY = "delkey-SECRET-58e1c2f0d3"
KUBE_TOKEN = "kubetok-SECRET-0a9b8c7d6e"
ENV_VALUE = "envval-SECRET-DB-Pa55w0rd-41"
APPLIED_VALUE = "applied-SECRET-api-key-93"
SECRET_DATA = "secretdata-SECRET-6d2c1b"
UID = "loadcert-checkout"


def forms(secret: str) -> set[str]:
    """A secret as it could travel: plain, base64 (standard and URL-safe), JSON-escaped."""
    raw = secret.encode()
    return {
        secret,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        json.dumps(secret)[1:-1],
    }


def leaks(secrets: dict[str, str], places: dict[str, bytes]) -> list[str]:
    """``"<secret name> in <place>"`` for every form of every secret found anywhere."""
    found = []
    for name, secret in secrets.items():
        for form in forms(secret):
            for place, data in places.items():
                if form.encode() in data:
                    found.append(f"{name} in {place}")
    return sorted(set(found))


def tree(root: Path, label: str) -> dict[str, bytes]:
    """Every regular file under ``root`` (hidden ones included), by ``label/relative path``."""
    return {
        f"{label}/{p.relative_to(root).as_posix()}": p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


# ----------------------------------------------------------------------------- TLS material


@dataclass(frozen=True)
class Tls:
    """A server certificate for 127.0.0.1 and a client certificate with its private key."""

    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    @property
    def key_pem(self) -> str:
        return self.client_key.read_text()

    @property
    def key_body(self) -> str:
        """The key's first base64 line: distinctive, and in no other file."""
        return next(line for line in self.key_pem.splitlines() if not line.startswith("-----"))


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    files = Tls(*(folder / n for n in ("server.pem", "server.key", "client.pem", "client.key")))
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1")
    _openssl("req", "-x509", *ec, "-subj", "/CN=127.0.0.1", "-addext",
             "subjectAltName=IP:127.0.0.1", "-keyout", str(files.server_key),
             "-out", str(files.server_cert))  # fmt: skip
    _openssl("req", "-x509", *ec, "-subj", "/CN=loadcert-ci/O=system:masters",
             "-keyout", str(files.client_key), "-out", str(files.client_cert))  # fmt: skip
    return files


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def kubeconfig(path: Path, server: str, tls: Tls, token: str | None = KUBE_TOKEN) -> Path:
    """A kubeconfig as a cloud provider hands it out: CA, client certificate and key, token."""
    user: dict[str, str] = {
        "client-certificate-data": b64(tls.client_cert.read_bytes()),
        "client-key-data": b64(tls.client_key.read_bytes()),
    }
    if token is not None:
        user["token"] = token
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "staging", "cluster": {
            "server": server, "certificate-authority-data": b64(tls.server_cert.read_bytes())}}],
        "users": [{"name": "ci", "user": user}],
        "contexts": [{"name": "staging", "context": {"cluster": "staging", "user": "ci"}}],
        "current-context": "staging",
    }  # fmt: skip
    path.write_text(json.dumps(document, indent=2))
    return path


@contextmanager
def kube_api_over_tls(tls: Tls) -> Iterator[tuple[KubeAPI, str]]:
    """The Kubernetes API stand-in behind TLS: yields it and its https URL."""
    api = KubeAPI()
    api.start()
    server: Any = api._server  # the stand-in speaks plain HTTP; TLS goes on its socket
    server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    try:
        yield api, f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        api.stop()


# ----------------------------------------------------------------------------- the servers


def serve_cluster(api: KubeAPI, files: bf.Files) -> None:
    """The bundle factory's cluster as the API server lists it, with secrets planted: env
    values (plain and from a Secret), last-applied-configuration annotations quoting them,
    and a Secret in the namespace (which the collector must never list)."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in bf.k8s_items(files):
        raw = {k: v for k, v in json.loads(json.dumps(item)).items()
               if k not in ("apiVersion", "kind")}  # fmt: skip
        by_kind.setdefault(item["kind"], []).append(raw)
    env = [
        {"name": "DATABASE_PASSWORD", "value": ENV_VALUE},
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "gateway", "key": "api"}}},
        {"name": "API_KEY_B64", "value": b64(ENV_VALUE)},
    ]
    for resource in RESOURCES:
        items = sorted(by_kind.pop(resource.kind, []), key=lambda i: i["metadata"]["name"])
        for raw in items:
            spec = raw.get("spec", {})
            pod_spec = spec if resource.kind == "Pod" else spec.get("template", {}).get("spec")
            if isinstance(pod_spec, dict):
                for container in pod_spec.get("containers", []):
                    container["env"] = json.loads(json.dumps(env))
            if resource.kind in ("Deployment", "StatefulSet", "Service"):
                applied = {"kind": resource.kind, "metadata": raw["metadata"]["name"],
                           "env": [{"name": "API_KEY", "value": APPLIED_VALUE}]}  # fmt: skip
                raw["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(applied)
        api.set_list(resource.plural, {
            "kind": f"{resource.kind}List", "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": "48213577"}, "items": items,
        })  # fmt: skip
    assert not by_kind
    api.set_list("secrets", {
        "kind": "SecretList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
        "items": [{"metadata": {"name": "gateway", "namespace": "shop"}, "type": "Opaque",
                   "data": {"api": b64(SECRET_DATA)}}],
    })  # fmt: skip


class FakePrometheus:
    """Answers the profile's queries with the factory's recorded answers, to a request that
    carries one of ``accepted`` (Authorization headers); anything else gets a 401 page that
    echoes the header it was sent, as a careless proxy does."""

    def __init__(self, files: bf.Files, accepted: set[str]) -> None:
        self.accepted = accepted
        self.answers: dict[tuple[str, datetime], Any] = {}
        for path, document in files.items():
            if path.endswith("/prometheus.json"):
                for query in document["queries"]:
                    self.answers[(query["promql"], when(query["time"]))] = query["response"]
                    for entry in query.get("coverage", ()):
                        self.answers[(entry["promql"], when(query["time"]))] = entry["response"]

    def __call__(self, seen: Seen, attempt: int) -> Reply:
        auth = seen.headers.get("Authorization", "")
        if auth not in self.accepted:
            return Reply(401, f"<html><body>401: refused {auth}</body></html>".encode())
        answer = self.answers.get((seen.params.get("query", ""), when(seen.params["time"])))
        if answer is None:
            return Reply(400, {"status": "error", "errorType": "bad_data", "error": "unknown"})
        return Reply(200, answer)


def when(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


class FakeGrafana:
    """Grafana's dashboard and snapshot API (documented shapes); 401 echoes the header."""

    def __init__(self, export: dict[str, Any], auth: str) -> None:
        self.export = export
        self.auth = auth
        self.snapshots: dict[str, Any] = {}

    def __call__(self, seen: Seen, attempt: int) -> Reply:
        if seen.headers.get("Authorization") != self.auth:
            return Reply(401, {"message": f"invalid API key: {seen.headers.get('Authorization')}"})
        if seen.method == "GET" and seen.path == f"/api/dashboards/uid/{UID}":
            return Reply(200, self.export)
        if seen.method == "POST" and seen.path == "/api/snapshots":
            self.snapshots["snapKey01"] = json.loads(seen.body)["dashboard"]
            return Reply(200, {"deleteKey": DELETE_KEY, "key": "snapKey01", "id": 1,
                               "deleteUrl": f"http://127.0.0.1/api/snapshots-delete/{DELETE_KEY}",
                               "url": "http://127.0.0.1/dashboard/snapshot/snapKey01"})  # fmt: skip
        if seen.method == "GET" and seen.path == "/api/snapshots/snapKey01":
            meta = {"isSnapshot": True, "type": "snapshot", "canSave": False,
                    "created": "2026-11-27T10:00:00Z",
                    "expires": "2027-11-27T10:00:00Z"}  # fmt: skip
            return Reply(200, {"meta": meta, "dashboard": self.snapshots["snapKey01"]})
        return Reply(404, {"message": "Not found"})


# ----------------------------------------------------------------------------- running


@dataclass
class Loadcert:
    """Runs the real ``loadcert`` command in a subprocess and keeps all it printed."""

    cwd: Path
    env: dict[str, str]
    printed: dict[str, bytes] = field(default_factory=dict)

    def __call__(self, *args: str, expect: int = 0) -> str:
        label = " ".join(args[:2])
        process = subprocess.run(
            [sys.executable, "-m", "pytest_loadcert.cli", *args],
            cwd=self.cwd, env=self.env, capture_output=True, timeout=180, check=False,
        )  # fmt: skip
        self.printed[f"stdout of {label} #{len(self.printed)}"] = process.stdout
        self.printed[f"stderr of {label} #{len(self.printed)}"] = process.stderr
        text = (process.stdout + process.stderr).decode(errors="replace")
        assert process.returncode == expect, f"loadcert {label}: {text[-4000:]}"
        assert "Traceback" not in text
        return text


def clean_env(tmpdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a CI job: ours, minus proxies and pytest's own settings, plus the
    credentials (as CI secrets are: in the environment of every step) and a TMPDIR of its
    own, so whatever a process leaves in its temporary directory is searched too."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "LOADCERT_")) and k.lower() not in (
               "http_proxy", "https_proxy", "all_proxy", "kubeconfig")}  # fmt: skip
    env.update(NO_PROXY="127.0.0.1", TMPDIR=str(tmpdir), **extra)
    return env


SECRETS_ENV = {"PROM_TOKEN": PROM_TOKEN, "PROM_PASSWORD": PROM_PASSWORD,
               "GRAFANA_TOKEN": GRAFANA_TOKEN}  # fmt: skip


def all_secrets(tls: Tls) -> dict[str, str]:
    return {
        "prometheus token": PROM_TOKEN, "prometheus password": PROM_PASSWORD,
        "prometheus basic credentials": f"{PROM_USER}:{PROM_PASSWORD}",
        "grafana token": GRAFANA_TOKEN, "grafana snapshot delete key": DELETE_KEY,
        "kubernetes token": KUBE_TOKEN, "container env value": ENV_VALUE,
        "last-applied value": APPLIED_VALUE, "Secret data": SECRET_DATA,
        "client key": tls.key_pem, "client key body": tls.key_body,
    }  # fmt: skip


def git_repo(path: Path) -> Path:
    path.mkdir()
    for args in (["init", "-q", "-b", "main"], ["add", "."],
                 ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid",
                  "commit", "-q", "-m", "checkout service"]):  # fmt: skip
        if args[0] == "add":
            (path / "service.py").write_text("print('checkout')\n")
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)
    return path


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_whole_pipeline_writes_and_prints_no_credential(tmp_path: Path, tls: Tls) -> None:
    windows = bf.stage_windows(bf.START, bf.STAGES)
    span = windows[-1].end - bf.START
    start = (datetime.now(UTC) - span - timedelta(seconds=150)).replace(microsecond=0)
    files = bf.bundle_files(start=start, run_id="checkout-secrets")
    run, tmpdir, inputs = tmp_path / "run", tmp_path / "tmp", tmp_path / "inputs"
    for folder in (run, tmpdir, inputs):
        folder.mkdir()
    evidence, out = run / "evidence", run / "out"
    for path, content in files.items():
        if path == bf.SCRIPT_PATH or (
            path.startswith("stages/") and not path.endswith("prometheus.json")
        ):
            target = evidence / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bf.encode(content))
    (inputs / "traces.json").write_bytes(bf.encode(files[bf.OTEL_PATH]))
    (inputs / "manifest.yaml").write_bytes(bf.encode(files[bf.MANIFEST_PATH]))
    repo = git_repo(inputs / "repo")
    loadcert = Loadcert(run, clean_env(tmpdir, **SECRETS_ENV))
    basic = "Basic " + b64(f"{PROM_USER}:{PROM_PASSWORD}")
    prometheus = FakePrometheus(files, {f"Bearer {PROM_TOKEN}", basic})
    grafana = FakeGrafana(files[bf.GRAFANA_PATH], f"Bearer {GRAFANA_TOKEN}")

    with FakeHttpServer(prometheus) as prom, FakeHttpServer(grafana) as graf, \
            kube_api_over_tls(tls) as (api, kube_url):  # fmt: skip
        serve_cluster(api, files)
        config = kubeconfig(inputs / "kubeconfig", kube_url, tls)
        common = ("--evidence-dir", str(evidence))
        loadcert("collect", "prometheus", "--url", prom.url, *common, "--delay-s", "5",
                 "--bearer-token-env", "PROM_TOKEN")  # fmt: skip
        first = {p: p.read_bytes() for p in evidence.rglob("prometheus.json")}
        loadcert(
            "collect",
            "prometheus",
            "--url",
            prom.url,
            *common,
            "--delay-s",
            "5",
            "--basic-auth-user",
            PROM_USER,
            "--basic-auth-password-env",
            "PROM_PASSWORD",
        )
        loadcert("collect", "k8s", "--namespace", "shop", "--kubeconfig", str(config), *common)
        loadcert("collect", "grafana", "--url", graf.url, "--dashboard-uid", UID, *common,
                 "--token-env", "GRAFANA_TOKEN", "--snapshot")  # fmt: skip
    loadcert("collect", "otel", "--from", str(inputs / "traces.json"), *common)
    loadcert("collect", "git", "--repo", str(repo), *common)
    bound = bf.loadcert(files)["artifacts"]["images"]
    images = [f"--image={image['name']}={image['digest']}" for image in bound]
    loadcert(
        "seal",
        *common,
        "--run-id",
        "checkout-secrets",
        "--environment",
        "staging",
        *images,
        "--k8s-manifest",
        str(inputs / "manifest.yaml"),
        "--git-repo",
        str(repo),
    )
    loadcert(
        "certify",
        *common,
        "--",
        f"--junitxml={out}/certificate.xml",
        f"--html={out}/report.html",
        "--self-contained-html",
        "-p",
        "no:cacheprovider",
    )
    for fmt, name in (("md", "report.md"), ("html", "report-page.html"),
                      ("intoto", "statement.json")):  # fmt: skip
        loadcert("report", "--certificate", str(out / "certificate.json"), "--format", fmt,
                 "--output", str(out / name))  # fmt: skip
    loadcert("verify", "--certificate", str(out / "certificate.json"), *common)

    # The credentials were really in play: every server was sent the one it checks.
    auths = {s.headers.get("Authorization") for s in prom.seen}
    assert auths == {f"Bearer {PROM_TOKEN}", basic}
    assert {s.headers.get("Authorization") for s in graf.seen} == {f"Bearer {GRAFANA_TOKEN}"}
    assert {s.headers.get("authorization") for s in api.requests} == {f"Bearer {KUBE_TOKEN}"}
    assert not api.requests_for("secrets")
    # ...and the pipeline produced real evidence, certified, with both logins alike.
    assert {p: p.read_bytes() for p in evidence.rglob("prometheus.json")}.keys() == first.keys()
    certificate = json.loads((out / "certificate.json").read_text())
    assert certificate["verdict"] == "certified", certificate["problems"]
    record = json.loads((evidence / "cluster/collection.json").read_text())
    assert record["redaction"]["env_values"] >= 3 and record["redaction"]["annotations"] >= 3
    snapshot = json.loads((evidence / "cluster/kubernetes.json").read_text())
    pod = next(i for i in snapshot["items"] if i["kind"] == "Pod")
    assert pod["spec"]["containers"][0]["env"][0] == {
        "name": "DATABASE_PASSWORD", "value": REDACTED}  # fmt: skip
    assert json.loads((evidence / bf.GRAFANA_PATH).read_text())["meta"]["isSnapshot"] is True
    written = {**tree(run, "run"), **tree(tmpdir, "TMPDIR")}
    for name in ("certificate.xml", "certificate.json", "certificate.intoto.json",
                 "report.html", "report.md", "report-page.html", "statement.json"):  # fmt: skip
        assert f"run/out/{name}" in written
    assert len(written) > 30
    assert leaks(all_secrets(tls), {**written, **loadcert.printed}) == []
    # The search does find them where they are meant to be: the inputs the user gave.
    found = leaks(all_secrets(tls), tree(inputs, "inputs"))
    assert {"kubernetes token in inputs/kubeconfig", "client key in inputs/kubeconfig"} <= {*found}


# ----------------------------------------------------------------------------- failures


STAGE = {"stage": "smoke", "start_time": "2026-01-01T00:00:00Z",
         "end_time": "2026-01-01T00:00:08Z", "k6_exit_code": 0, "k6_version": "k6 v1.1.0",
         "command": ["k6", "run", "s.js"]}  # fmt: skip
PROFILE = """\
target_concurrency = 2
stability = []
[[stages]]
name = "smoke"
min_active_vus = 2
[[metrics]]
name = "up"
promql = "up"
min = 0
[cluster]
required = false
[observability]
grafana = false
otel = false
"""


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundle with one stage.json, a profile beside it, the credentials in the
    environment and no proxy; returns the evidence directory."""
    evidence = tmp_path / "evidence"
    (evidence / "stages/smoke").mkdir(parents=True)
    (evidence / "stages/smoke/stage.json").write_text(json.dumps(STAGE))
    (tmp_path / "profile.toml").write_text(PROFILE)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name, value in SECRETS_ENV.items():
        monkeypatch.setenv(name, value)
    return evidence


def http_args(kind: str, url: str, evidence: Path, login: str) -> list[str]:
    """``loadcert collect prometheus|grafana`` against ``url`` with the login ``bearer`` or
    ``basic``; no retries to wait for."""
    args = ["collect", kind, "--url", url, "--evidence-dir", str(evidence),
            "--loadcert-profile", str(evidence.parent / "profile.toml"), "--retries", "0",
            "--connect-timeout-s", "2", "--read-timeout-s", "2"]  # fmt: skip
    if kind == "grafana":
        args += ["--dashboard-uid", UID]
    if login == "basic":
        return [*args, "--basic-auth-user", PROM_USER, "--basic-auth-password-env", "PROM_PASSWORD"]
    return [*args, "--bearer-token-env" if kind == "prometheus" else "--token-env",
            "PROM_TOKEN" if kind == "prometheus" else "GRAFANA_TOKEN"]  # fmt: skip


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out + err


def http_secrets() -> dict[str, str]:
    return {
        "prometheus token": PROM_TOKEN,
        "password": PROM_PASSWORD,
        "basic credentials": f"{PROM_USER}:{PROM_PASSWORD}",
        "grafana token": GRAFANA_TOKEN,
    }


def echo_everything(status: int, content: str) -> Any:
    """A server that answers ``status`` and quotes the request's Authorization header, its
    decoded basic-auth pair and every header, as ``content`` (html, prometheus, grafana)."""

    def responder(seen: Seen, attempt: int) -> Reply:
        auth = seen.headers.get("Authorization", "")
        decoded = ""
        if auth.startswith("Basic "):
            decoded = base64.b64decode(auth[6:]).decode()
        text = f"refused {auth} ({decoded}); headers {json.dumps(seen.headers)}"
        if content == "html":
            return Reply(status, f"<html><pre>{text}</pre></html>".encode())
        if content == "prometheus":
            return Reply(status, {"status": "error", "errorType": "internal", "error": text})
        return Reply(status, {"message": text})

    return responder


@pytest.mark.parametrize(
    ("kind", "login", "status", "content"),
    [
        ("prometheus", "bearer", 401, "html"),
        ("prometheus", "basic", 401, "html"),
        ("prometheus", "bearer", 500, "prometheus"),
        ("prometheus", "basic", 422, "prometheus"),
        ("grafana", "bearer", 401, "grafana"),
        ("grafana", "basic", 403, "grafana"),
        ("grafana", "bearer", 500, "html"),
    ],
)  # fmt: skip
def test_error_answers_quoting_the_credential_are_neither_printed_nor_written(
    small: Path, capsys: pytest.CaptureFixture[str], kind: str, login: str, status: int,
    content: str,
) -> None:  # fmt: skip
    with FakeHttpServer(echo_everything(status, content)) as server:
        code, printed = run_cli(http_args(kind, server.url, small, login), capsys)
    assert server.seen and "Authorization" in server.seen[0].headers  # the secret was sent
    assert code == 1
    written = tree(small, "evidence")
    assert leaks(http_secrets(), {**written, "output": printed.encode()}) == []
    assert sorted(written) == ["evidence/stages/smoke/stage.json"]  # nothing recorded


@pytest.mark.parametrize("kind", ["prometheus", "grafana"])
def test_unreachable_and_untrusted_servers_print_no_credential(
    small: Path, capsys: pytest.CaptureFixture[str], kind: str, tls: Tls
) -> None:
    code, printed = run_cli(http_args(kind, f"http://127.0.0.1:{free_port()}", small, "bearer"),
                            capsys)  # fmt: skip
    assert code == 1 and "could not connect" in printed
    with FakeHttpServer(echo_everything(200, "html"), tls=tls.server_context()) as server:
        code, tls_printed = run_cli(http_args(kind, server.url, small, "basic"), capsys)
    assert code == 1 and "TLS failed" in tls_printed
    assert server.seen == []  # the handshake failed: no request, no header left the client
    everything = {"output": (printed + tls_printed).encode(), **tree(small, "evidence")}
    assert leaks(http_secrets(), everything) == []


KUBE_PASSWORD = "kubepw-SECRET-4e3d2c1b0a"


def kube_secrets(tls: Tls) -> dict[str, str]:
    return {"kubernetes token": KUBE_TOKEN, "kubernetes password": KUBE_PASSWORD,
            "basic credentials": f"admin:{KUBE_PASSWORD}", "client key": tls.key_pem,
            "client key body": tls.key_body}  # fmt: skip


def status_echo(code: int, reason: str, login: str) -> dict[str, Any]:
    """The Status an API server (or an authenticating proxy before it) could answer with,
    quoting the credential it refused: the header, and the token or password in it."""
    if login == "basic":
        pair = f"admin:{KUBE_PASSWORD}"
        quoted = f"'Basic {b64(pair)}' ({pair}, password {KUBE_PASSWORD})"
    else:
        quoted = f"'Bearer {KUBE_TOKEN}' (token {KUBE_TOKEN})"
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"credential {quoted} refused",
        "reason": reason,
        "code": code,
    }


def with_basic_auth(config: Path) -> Path:
    document = json.loads(config.read_text())
    user = document["users"][0]["user"]
    del user["token"]
    user.update(username="admin", password=KUBE_PASSWORD)
    config.write_text(json.dumps(document))
    return config


@pytest.mark.parametrize(
    ("plural", "code", "reason", "login"),
    [("pods", 401, "Unauthorized", "token"), ("deployments", 403, "Forbidden", "token"),
     ("services", 500, "InternalError", "token"), ("pods", 401, "Unauthorized", "basic")],
)  # fmt: skip
def test_kubernetes_errors_quoting_the_credential_are_redacted(
    small: Path, capsys: pytest.CaptureFixture[str], tls: Tls, plural: str, code: int,
    reason: str, login: str,
) -> None:  # fmt: skip
    with kube_api_over_tls(tls) as (api, url):
        api.fail(plural, code, body=status_echo(code, reason, login))
        config = kubeconfig(small.parent / "kubeconfig", url, tls)
        if login == "basic":
            config = with_basic_auth(config)
        status, printed = run_cli(["collect", "k8s", "--namespace", "shop",
                                   f"--evidence-dir={small}", "--kubeconfig", str(config)],
                                  capsys)  # fmt: skip
    assert status == 1
    assert f"HTTP {code}" in printed and "[REDACTED]" in printed
    assert (
        api.requests_for(plural)[0]
        .headers["authorization"]
        .startswith("Basic " if login == "basic" else "Bearer ")
    )
    assert leaks(kube_secrets(tls), {"output": printed.encode(), **tree(small, "evidence")}) == []
    assert not (small / "cluster").exists()


def test_kubernetes_unreachable_and_untrusted_print_no_credential(
    small: Path, capsys: pytest.CaptureFixture[str], tls: Tls, tmp_path: Path
) -> None:
    args = ["collect", "k8s", "--namespace", "shop", f"--evidence-dir={small}", "--kubeconfig"]
    down = kubeconfig(tmp_path / "down", f"https://127.0.0.1:{free_port()}", tls)
    status, printed = run_cli([*args, str(down)], capsys)
    assert status == 1 and "answer from the API server listing pods" in printed
    with kube_api_over_tls(tls) as (api, url):
        untrusted = kubeconfig(tmp_path / "untrusted", url, tls)
        document = json.loads(untrusted.read_text())  # the CA of another cluster
        document["clusters"][0]["cluster"]["certificate-authority-data"] = b64(
            tls.client_cert.read_bytes()
        )
        untrusted.write_text(json.dumps(document))
        status, tls_printed = run_cli([*args, str(untrusted)], capsys)
    assert status == 1 and "CERTIFICATE_VERIFY_FAILED" in tls_printed
    assert api.requests == []
    everything = {"output": (printed + tls_printed).encode(), **tree(small, "evidence")}
    assert leaks(kube_secrets(tls), everything) == []


# ----------------------------------------------------------------------------- regressions


@pytest.mark.parametrize("value", ["\n", "\r\nX-Injected: 1", "\u20ac", "\x7f"])
@pytest.mark.parametrize("kind", ["prometheus", "grafana", "k8s"])
def test_a_credential_no_header_can_carry_is_refused_without_echo(
    small: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tls: Tls, kind: str, value: str,
) -> None:  # fmt: skip
    """A token read from a file often ends in a newline; http.client refused it with an
    exception quoting the whole Authorization header, printed as a traceback."""
    token = f"{KUBE_TOKEN}{value}"
    with FakeHttpServer(echo_everything(200, "html")) as server:
        if kind == "k8s":
            config = kubeconfig(small.parent / "kubeconfig", "https://127.0.0.1:9", tls, token)
            args = ["collect", "k8s", "--namespace", "shop", f"--evidence-dir={small}",
                    "--kubeconfig", str(config)]  # fmt: skip
        else:
            monkeypatch.setenv("PROM_TOKEN", token)
            monkeypatch.setenv("GRAFANA_TOKEN", token)
            args = http_args(kind, server.url, small, "bearer")
        status, printed = run_cli(args, capsys)
    assert status == 4
    assert "which an HTTP header cannot carry" in printed and "not shown" in printed
    assert len(printed.strip().splitlines()) == 1
    assert KUBE_TOKEN not in printed and server.seen == []


WRAPPER = """\
import os, sys
import urllib3.connectionpool

def urlopen(self, method, url, *args, **kwargs):
    # A library bug that quotes the request's headers and the environment in its message.
    raise RuntimeError(f"cannot send {kwargs.get('headers')!r} with {dict(os.environ)!r}")

urllib3.connectionpool.HTTPConnectionPool.urlopen = urlopen
from pytest_loadcert.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("kind", ["prometheus", "grafana", "k8s"])
def test_an_unexpected_exception_is_one_line_without_its_message(
    small: Path, tls: Tls, kind: str
) -> None:
    """A bug inside a collector is reported as its type and place, never with its message
    or a traceback: either may quote an Authorization header or an environment value."""
    with kube_api_over_tls(tls) as (_api, url):
        if kind == "k8s":
            config = kubeconfig(small.parent / "kubeconfig", url, tls)
            args = ["collect", "k8s", "--namespace", "shop", f"--evidence-dir={small}",
                    "--kubeconfig", str(config)]  # fmt: skip
        else:
            args = http_args(kind, url, small, "bearer")
        tmpdir = small.parent / "tmp"
        tmpdir.mkdir(exist_ok=True)
        process = subprocess.run(
            [sys.executable, "-c", WRAPPER, *args], cwd=small.parent, capture_output=True,
            env=clean_env(tmpdir, **SECRETS_ENV, DEBUG_DUMP=ENV_VALUE), timeout=60, check=False,
        )  # fmt: skip
    err = process.stderr.decode()
    assert process.returncode == 3, err
    assert process.stdout == b""
    assert len(err.strip().splitlines()) == 1, err
    assert f"loadcert collect {kind}: error: internal error: RuntimeError raised at" in err
    assert "its message is not shown" in err and "Traceback" not in err
    secrets = {**http_secrets(), **kube_secrets(tls), "env value": ENV_VALUE}
    assert leaks(secrets, {"stderr": process.stderr, **tree(small, "evidence"),
                           **tree(tmpdir, "TMPDIR")}) == []  # fmt: skip


def test_sigterm_mid_collection_leaves_no_copy_of_the_client_key(small: Path, tls: Tls) -> None:
    """The kubernetes client copies client-key-data into a file in the temporary directory
    and removes it at exit; SIGTERM (a cancelled CI job) used to end the process without
    running exit handlers, leaving the private key behind."""
    tmpdir = small.parent / "tmp"
    tmpdir.mkdir()

    def stall(seen: Seen, attempt: int) -> Reply:
        return Reply(200, b"{}", delay_s=30)  # until the server stops

    with FakeHttpServer(stall, tls=tls.server_context()) as server:
        config = kubeconfig(small.parent / "kubeconfig", server.url, tls)
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest_loadcert.cli", "collect", "k8s", "--namespace",
             "shop", f"--evidence-dir={small}", "--kubeconfig", str(config)],
            cwd=small.parent, env=clean_env(tmpdir), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not server.seen and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.seen, "the collector never asked"
            copies = [p for p in tmpdir.rglob("*") if p.is_file()]
            assert any(tls.key_body.encode() in p.read_bytes() for p in copies)  # the client's
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130, err
    assert err.decode().strip() == "loadcert collect k8s: error: interrupted"
    left = [p for p in tmpdir.rglob("*") if p.is_file()]
    assert leaks({"client key": tls.key_pem, "client key body": tls.key_body},
                 {p.name: p.read_bytes() for p in left}) == []  # fmt: skip
    assert not (small / "cluster").exists()
