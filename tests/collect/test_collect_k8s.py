"""``loadcert collect k8s``: the official client against a local API server stand-in.

tests/k8sapi.py replays response bodies shaped like kube-apiserver's (fixtures/k8s-api) on
127.0.0.1, with real pagination, 410 Gone, RBAC and server errors. kubectl, pointed at the
same server, is the reference for what the List must look like. The EndpointSlice rules of
the service gate and the redaction are checked here too.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest
from k8sapi import KubeAPI, free_port, load

from pytest_loadcert import cli
from pytest_loadcert.collect.k8s import RESOURCES
from pytest_loadcert.collect.redact import LAST_APPLIED, REDACTED, redact_items
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.cluster import parse_cluster, service_endpoints
from pytest_loadcert.evidence.hashing import sha256_file
from pytest_loadcert.evidence.layout import CLUSTER as SNAPSHOT
from pytest_loadcert.evidence.layout import COLLECTION
from pytest_loadcert.evidence.timeutil import parse_utc
from pytest_loadcert.run.seal import SealError, seal

KUBECTL = "/usr/bin/kubectl"
TOKEN = "kube-bearer-Fixture-T0ken-7f3a9c"
# Values in fixtures/k8s-api that must never reach a written file or the terminal.
FIXTURE_SECRETS = ("Fixture-DB-Pa55word", "Fixture-Init-Pa55word", "gateway-secrets")
CLIENT_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFixtureClientKeyMaterial0000000000000000\n"
    "-----END PRIVATE KEY-----\n"
)
KINDS = {r.plural: r.kind for r in RESOURCES}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls must reach 127.0.0.1, not a proxy, and never a user's own kubeconfig."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def api() -> Any:
    with KubeAPI() as server:
        yield server


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    path = tmp_path / "evidence"
    path.mkdir()
    return path


def collect(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path, *extra: str
) -> tuple[int, str, str]:
    kubeconfig = api.kubeconfig(evidence.parent / "kubeconfig", token=TOKEN)
    status = cli.main(
        [
            "collect",
            "k8s",
            "--namespace",
            "shop",
            f"--evidence-dir={evidence}",
            "--kubeconfig",
            str(kubeconfig),
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return status, out, err


def snapshot(evidence: Path) -> dict[str, Any]:
    return json.loads((evidence / SNAPSHOT).read_text())


def served(plural: str) -> list[dict[str, Any]]:
    """The fixture's items for ``plural`` as kubectl prints them (apiVersion/kind added)."""
    body = load(f"lists/{plural}.json")
    return [
        {"apiVersion": body["apiVersion"], "kind": KINDS[plural], **item} for item in body["items"]
    ]


def without_managed_fields(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for item in items:
        meta = {k: v for k, v in item["metadata"].items() if k != "managedFields"}
        result.append({**item, "metadata": meta})
    return result


def expected_items() -> list[dict[str, Any]]:
    items = [item for r in RESOURCES for item in served(r.plural)]
    return redact_items(without_managed_fields(items))[0]


def assert_nothing_written(evidence: Path) -> None:
    assert not (evidence / "cluster").exists()


# ----------------------------------------------------------------------------- collecting


def test_collects_every_resource_as_the_list_kubectl_prints(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    status, out, err = collect(capsys, api, evidence)
    assert status == 0, err
    document = snapshot(evidence)
    assert document["apiVersion"] == "v1" and document["kind"] == "List"
    assert document["metadata"] == {"resourceVersion": ""}
    assert document["items"] == expected_items()
    assert f"{evidence / SNAPSHOT}: written; 17 objects in shop" in out
    # The traps survive untouched: the server's own JSON, not the client's typed objects.
    by_name = {(i["kind"], i["metadata"]["name"]): i for i in document["items"]}
    pending = by_name[("Pod", "gateway-7c9d8f6b5d-zr5tn")]
    assert pending["status"]["phase"] == "Pending" and "containerStatuses" not in pending["status"]
    assert "readyReplicas" not in by_name[("Deployment", "pgbouncer")]["status"]
    job_pod = by_name[("Pod", "gateway-migrate-29622450-7xk2c")]
    assert job_pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert job_pod["status"]["conditions"][0]["lastProbeTime"] is None  # nulls are kept
    assert pending["metadata"]["creationTimestamp"] == "2026-05-01T00:29:40Z"  # not +00:00
    assert by_name[("HorizontalPodAutoscaler", "gateway")]["apiVersion"] == "autoscaling/v2"
    assert by_name[("PodDisruptionBudget", "gateway")]["apiVersion"] == "policy/v1"
    assert by_name[("EndpointSlice", "gateway-8kq2w")]["apiVersion"] == "discovery.k8s.io/v1"
    assert not any("managedFields" in item["metadata"] for item in document["items"])
    # Every list was asked for as kubectl asks, with the kubeconfig's credentials.
    lists = [seen for seen in api.requests if "/namespaces/" in seen.path]
    assert sorted(seen.path.rsplit("/", 1)[1] for seen in lists) == sorted(KINDS)
    assert all(seen.query == {"limit": "500"} for seen in lists)
    assert all(seen.headers["authorization"] == f"Bearer {TOKEN}" for seen in lists)
    assert not any("secrets" in seen.path for seen in api.requests)
    parse_cluster(document, SNAPSHOT)  # the gates can read it


def test_collection_record_binds_namespace_time_and_list(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    status, _, err = collect(capsys, api, evidence)
    assert status == 0, err
    record = json.loads((evidence / COLLECTION).read_text())
    assert record["namespace"] == "shop"
    started, collected = parse_utc(record["started_at"]), parse_utc(record["collected_at"])
    assert started is not None and collected is not None and started <= collected
    assert record["snapshot"] == {"path": SNAPSHOT, "sha256": sha256_file(evidence / SNAPSHOT)}
    counts = {entry["resource"]: entry["items"] for entry in record["resources"]}
    assert counts == {plural: len(served(plural)) for plural in KINDS}
    assert record["redaction"]["env_values"] > 0 and record["redaction"]["annotations"] == 1


def test_pages_are_followed_to_the_end(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    status, _, err = collect(capsys, api, evidence, "--page-size", "2")
    assert status == 0, err
    assert snapshot(evidence)["items"] == expected_items()
    pods = api.requests_for("pods")
    assert len(pods) == 3  # 5 pods: 2 + 2 + 1
    assert "continue" not in pods[0].query
    assert pods[1].query["continue"] and pods[2].query["continue"] != pods[1].query["continue"]
    record = json.loads((evidence / COLLECTION).read_text())
    assert {e["resource"]: e["pages"] for e in record["resources"]}["pods"] == 3


def test_gone_mid_pagination_restarts_the_whole_list(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    before = api.items("pods")
    # After page 1 is served the cluster changes: the first pod goes, a new one comes.
    # Page 1 of the old state joined with the rest of the new one would hold both.
    gone = before[0]["metadata"]["name"]
    newcomer = json.loads(json.dumps(before[1]))
    newcomer["metadata"]["name"] = "valkey-1"
    newcomer["metadata"]["uid"] = "0f0e0d0c-0000-4000-8000-000000000001"
    after = [*before[1:], newcomer]
    api.change_after("pods", 1, after)
    status, _, err = collect(capsys, api, evidence, "--page-size", "2")
    assert status == 0, err
    pods = [i["metadata"]["name"] for i in snapshot(evidence)["items"] if i["kind"] == "Pod"]
    assert pods == [item["metadata"]["name"] for item in after]
    assert gone not in pods
    requests = api.requests_for("pods")
    assert "continue" in requests[1].query and "continue" not in requests[2].query  # restarted
    assert "continue token expired after page 1 (HTTP 410); restarting the list (1/3)" in err
    record = json.loads((evidence / COLLECTION).read_text())
    entry = next(e for e in record["resources"] if e["resource"] == "pods")
    assert entry["restarts"] == 1 and entry["items"] == len(after)


def _replica_sets_of_another_uid(api: KubeAPI) -> list[dict[str, Any]]:
    """The ReplicaSets as they would be after a delete and re-create: another uid, which
    the pods listed before still name as their owner."""
    moved = api.items("replicasets")
    for item in moved:
        item["metadata"]["uid"] = item["metadata"]["uid"][:-4] + "beef"
    return moved


def test_a_list_read_while_the_namespace_moved_is_listed_again(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    settled = api.items("replicasets")
    api.set_items("replicasets", _replica_sets_of_another_uid(api))
    api.change_after("replicasets", 1, settled)
    status, _, err = collect(capsys, api, evidence)
    assert status == 0, err
    assert "the List contradicts itself (cluster/kubernetes.json: items[" in err
    assert "the owner named is another object); listing again (1/3)" in err
    assert len(api.requests_for("pods")) == 2  # the whole namespace, not one resource
    listed = [i for i in snapshot(evidence)["items"] if i["kind"] == "ReplicaSet"]
    assert [i["metadata"]["uid"] for i in listed] == [i["metadata"]["uid"] for i in settled]


def test_a_list_that_contradicts_itself_every_time_writes_nothing(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    api.set_items("replicasets", _replica_sets_of_another_uid(api))
    status, _, err = collect(capsys, api, evidence)
    assert status == 1
    assert "the namespace changed while it was listed, 3 times: cluster/kubernetes.json" in err
    assert "Collect again once the cluster is at rest" in err
    assert len(api.requests_for("pods")) == 3
    assert "Traceback" not in err
    assert_nothing_written(evidence)


def test_gone_every_time_gives_up_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    for request in (2, 4, 6, 8):  # every continued page of every attempt
        api.fail("pods", 410, on_request=request)
    status, out, err = collect(capsys, api, evidence, "--page-size", "2")
    assert status == 1
    assert "listing pods (v1) in namespace shop: the list changed under every attempt" in err
    assert "nothing written" in err and out == ""
    assert len(api.requests_for("pods")) == 8
    assert_nothing_written(evidence)


@pytest.mark.parametrize("plural", ["pods", "endpointslices"])
def test_forbidden_names_the_resource_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path, plural: str
) -> None:
    api.fail(plural, 403)
    status, out, err = collect(capsys, api, evidence)
    assert status == 1 and out == ""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1
    assert f"forbidden (HTTP 403) listing {plural} (" in lines[0]
    assert f"RBAC `list` on {plural} in shop" in lines[0]
    assert 'cannot list resource "pods"' in lines[0]  # the API server's own words
    assert "Traceback" not in err
    assert_nothing_written(evidence)


@pytest.mark.parametrize("code", [500, 503])
def test_server_error_fails_naming_the_resource(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path, code: int
) -> None:
    api.fail("horizontalpodautoscalers", code)
    status, _, err = collect(capsys, api, evidence)
    assert status == 1
    assert (
        f"the API server failed (HTTP {code}) listing horizontalpodautoscalers "
        "(autoscaling/v2) in namespace shop" in err
    )
    assert_nothing_written(evidence)


def test_server_error_on_a_later_page_writes_nothing(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    api.fail("pods", 500, on_request=3)
    status, _, err = collect(capsys, api, evidence, "--page-size", "2")
    assert status == 1 and "HTTP 500" in err and "etcdserver: request timed out" in err
    assert_nothing_written(evidence)


def test_a_failed_collection_leaves_an_earlier_one_as_it_was(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path
) -> None:
    assert collect(capsys, api, evidence)[0] == 0
    before = {p: (evidence / p).read_bytes() for p in (SNAPSHOT, COLLECTION)}
    api.fail("services", 403)
    assert collect(capsys, api, evidence)[0] == 1
    assert {p: (evidence / p).read_bytes() for p in (SNAPSHOT, COLLECTION)} == before


@pytest.mark.parametrize("how", ["short-read", "cut-json"])
def test_truncated_body_fails(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path, how: str
) -> None:
    api.truncate("deployments", how)
    status, _, err = collect(capsys, api, evidence)
    assert status == 1
    assert "listing deployments (apps/v1) in namespace shop" in err
    assert ("no complete answer" if how == "short-read" else "is not valid JSON") in err
    assert "Traceback" not in err
    assert_nothing_written(evidence)


def test_server_down_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, evidence: Path
) -> None:
    api = KubeAPI()
    api.start()
    port = free_port()
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", token=TOKEN)
    api.stop()
    text = kubeconfig.read_text().replace(api.url, f"http://127.0.0.1:{port}")
    kubeconfig.write_text(text)
    status = cli.main(
        [
            "collect",
            "k8s",
            "--namespace",
            "shop",
            f"--evidence-dir={evidence}",
            "--kubeconfig",
            str(kubeconfig),
        ]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert "no answer from the API server listing pods (v1) in namespace shop" in err or (
        "no complete answer from the API server listing pods (v1)" in err
    )
    assert "Traceback" not in err
    assert_nothing_written(evidence)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "Shop_1"], "--namespace 'Shop_1': not a Kubernetes namespace name"),
        (["--in-cluster", "--context", "x"], "--in-cluster excludes --kubeconfig and --context"),
        (["--in-cluster"], "in-cluster configuration:"),
        (["--kubeconfig", "{tmp}/missing"], "missing"),
        (["--context", "nope"], "kubeconfig"),
    ],
)
def test_usage_errors(
    capsys: pytest.CaptureFixture[str],
    api: KubeAPI,
    evidence: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    kubeconfig = api.kubeconfig(evidence.parent / "kubeconfig", token=TOKEN)
    args = [a.replace("{tmp}", str(evidence.parent)) for a in args]
    base = ["collect", "k8s", f"--evidence-dir={evidence}"]
    if "--namespace" not in args:
        base += ["--namespace", "shop"]
    if "--kubeconfig" not in args and "--in-cluster" not in args:
        base += ["--kubeconfig", str(kubeconfig)]
    status = cli.main([*base, *args])
    err = capsys.readouterr().err
    assert status == 4
    assert message in err and len(err.strip().splitlines()) == 1
    assert not api.requests_for("pods")
    assert_nothing_written(evidence)


# ----------------------------------------------------------------------------- secrets


def test_no_secret_reaches_a_file_or_the_terminal(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, tmp_path: Path, evidence: Path
) -> None:
    key_data = base64.b64encode(CLIENT_KEY.encode()).decode()
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", token=TOKEN, client_key_data=key_data)
    args = [
        "collect",
        "k8s",
        "--namespace",
        "shop",
        f"--evidence-dir={evidence}",
        "--kubeconfig",
        str(kubeconfig),
    ]
    assert cli.main(args) == 0
    first = capsys.readouterr()
    api.fail("endpoints", 403)
    assert cli.main([*args, "--page-size", "1"]) == 1
    second = capsys.readouterr()
    assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    written = b"".join(p.read_bytes() for p in sorted(evidence.rglob("*")) if p.is_file())
    terminal = first.out + first.err + second.out + second.err
    for secret in (TOKEN, CLIENT_KEY, key_data, "FixtureClientKeyMaterial", *FIXTURE_SECRETS):
        assert secret.encode() not in written, secret
        assert secret not in terminal, secret
    # Names stay, values go: a reviewer still sees which variables were set.
    pods = [i for i in snapshot(evidence)["items"] if i["kind"] == "Pod"]
    env = {e["name"]: e for e in pods[0]["spec"]["containers"][0]["env"]}
    assert set(env) == {"LOG_LEVEL", "DATABASE_URL", "PAYMENT_API_KEY", "POD_IP"}
    assert all(entry == {"name": name, "value": REDACTED} for name, entry in env.items())
    assert pods[0]["spec"]["initContainers"][0]["env"] == [
        {"name": "PGPASSWORD", "value": REDACTED}
    ]
    deployment = next(i for i in snapshot(evidence)["items"] if i["kind"] == "Deployment")
    assert deployment["metadata"]["annotations"][LAST_APPLIED] == REDACTED
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] == REDACTED


def test_redaction_drops_secrets_and_secret_data() -> None:
    items = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"password": "c2VjcmV0"},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "annotations": {LAST_APPLIED: '{"env":"x"}', "keep": "me"}},
            "spec": {
                "ephemeralContainers": [
                    {
                        "name": "debug",
                        "env": [{"name": "TOKEN", "value": "hunter2"}, {"name": "EMPTY"}],
                    }
                ],
                "containers": [],
            },
            "status": {"phase": "Running"},
        },
        {
            "apiVersion": "example.com/v1",
            "kind": "Wrapper",
            "metadata": {"name": "w"},
            "spec": {
                "embedded": {"kind": "Secret", "stringData": {"k": "hunter2"}, "type": "Opaque"}
            },
        },
    ]
    redacted, counts = redact_items(items)
    assert [i["kind"] for i in redacted] == ["Pod", "Wrapper"]
    pod = redacted[0]
    assert pod["spec"]["ephemeralContainers"][0]["env"] == [
        {"name": "TOKEN", "value": REDACTED},
        {"name": "EMPTY"},
    ]
    assert pod["metadata"]["annotations"] == {LAST_APPLIED: REDACTED, "keep": "me"}
    assert pod["status"] == {"phase": "Running"}
    assert redacted[1]["spec"]["embedded"] == {"kind": "Secret", "type": "Opaque"}
    assert "hunter2" not in json.dumps(redacted)
    assert (
        counts.env_values,
        counts.annotations,
        counts.secrets_dropped,
        counts.secret_fields,
    ) == (1, 1, 1, 1)
    assert items[1]["spec"]["ephemeralContainers"][0]["env"][0]["value"] == "hunter2"  # a copy
    assert bf.REDACTED == REDACTED  # the factory's redacted variant uses the same marker


# ----------------------------------------------------------------------------- kubectl


def test_list_equals_what_kubectl_prints(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path, tmp_path: Path
) -> None:
    # kubectl ships with this machine image; without it this comparison cannot be made,
    # and that must show as a failure, not a skip.
    assert Path(KUBECTL).is_file(), f"{KUBECTL} is not installed"
    status, _, err = collect(capsys, api, evidence, "--page-size", "2")
    assert status == 0, err
    kubeconfig = api.kubeconfig(tmp_path / "kubectl-config", token=TOKEN)
    # resource.version.group, so kubectl asks for exactly the versions the collector lists
    resources = ",".join(
        ".".join([r.plural, *reversed(r.api_version.split("/"))])
        if "/" in r.api_version
        else r.plural
        for r in RESOURCES
    )
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(tmp_path), NO_PROXY="127.0.0.1")
    result = subprocess.run(
        [
            KUBECTL,
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--request-timeout",
            "20s",
            "-n",
            "shop",
            "get",
            resources,
            "-o",
            "json",
            "--chunk-size",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    mine = snapshot(evidence)
    assert {k: printed[k] for k in ("apiVersion", "kind", "metadata")} == {
        k: mine[k] for k in ("apiVersion", "kind", "metadata")
    }
    # Equal item for item, once kubectl's output goes through the same redaction.
    assert redact_items(printed["items"])[0] == mine["items"]
    assert [i["kind"] for i in printed["items"]][:5] == ["Pod"] * 5


# ----------------------------------------------------------------------------- seal


def _sealable(tmp_path: Path, evidence: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    for command in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True, env=git_env)
    (evidence / "artifacts").mkdir()
    (evidence / "artifacts" / "k6-script.js").write_text("export default function () {}\n")
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
    return repo, manifest


def test_seal_takes_namespace_and_time_from_the_collection(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path, tmp_path: Path
) -> None:
    assert collect(capsys, api, evidence)[0] == 0
    repo, manifest = _sealable(tmp_path, evidence)
    record = json.loads((evidence / COLLECTION).read_text())
    result = seal(evidence, run_id="r", environment="e", k8s_manifest=manifest, git_repo=repo)
    assert result.manifest["cluster"] == {
        "namespace": "shop",
        "collected_at": record["collected_at"],
    }
    assert COLLECTION in result.manifest["files"] and SNAPSHOT in result.manifest["files"]
    # Given explicitly, the values must agree with the record.
    with pytest.raises(SealError, match=r"disagree with cluster/collection\.json"):
        seal(
            evidence,
            run_id="r",
            environment="e",
            git_repo=repo,
            namespace="shop",
            cluster_collected_at="2026-05-01T02:05:00Z",
        )
    again = seal(
        evidence,
        run_id="r",
        environment="e",
        git_repo=repo,
        namespace="shop",
        cluster_collected_at=record["collected_at"],
    )
    assert again.manifest["cluster"] == result.manifest["cluster"]


def test_seal_refuses_a_list_the_collection_did_not_write(
    capsys: pytest.CaptureFixture[str], api: KubeAPI, evidence: Path, tmp_path: Path
) -> None:
    assert collect(capsys, api, evidence)[0] == 0
    repo, manifest = _sealable(tmp_path, evidence)
    document = snapshot(evidence)
    document["items"] = [i for i in document["items"] if i["kind"] != "Pod"]
    (evidence / SNAPSHOT).write_text(json.dumps(document))
    with pytest.raises(SealError) as info:
        seal(evidence, run_id="r", environment="e", k8s_manifest=manifest, git_repo=repo)
    assert str(info.value) == (
        "cluster/collection.json: snapshot.sha256 does not match cluster/kubernetes.json: the "
        "List is not the one this collection wrote (written by `loadcert collect k8s`)"
    )
    assert info.value.exit_status == 4
    assert not (evidence / "loadcert.json").exists()


# ----------------------------------------------------------------------------- end to end


def _serve_bundle_cluster(api: KubeAPI, files: bf.Files) -> None:
    """Serve the factory's cluster items as the API server would, with secrets added."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in bf.k8s_items(files):
        raw = {
            k: v for k, v in json.loads(json.dumps(item)).items() if k not in ("apiVersion", "kind")
        }
        by_kind.setdefault(item["kind"], []).append(raw)
    for resource in RESOURCES:
        items = sorted(by_kind.pop(resource.kind, []), key=lambda i: i["metadata"]["name"])
        for raw in items:
            spec = raw.get("spec", {})
            pod_spec = spec if resource.kind == "Pod" else spec.get("template", {}).get("spec")
            if isinstance(pod_spec, dict):
                for container in pod_spec.get("containers", []):
                    container["env"] = [{"name": "DATABASE_URL", "value": FIXTURE_SECRETS[0]}]
            if resource.kind == "Deployment":
                raw["metadata"].setdefault("annotations", {})[LAST_APPLIED] = FIXTURE_SECRETS[0]
        api.set_list(
            resource.plural,
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": "48213577"},
                "items": items,
            },
        )
    assert not by_kind  # every kind of the valid bundle is one the collector lists


@pytest.mark.parametrize("remove", ["", "Endpoints"])
def test_collected_and_redacted_snapshot_certifies(
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    api: KubeAPI,
    evidence: Path,
    tmp_path: Path,
    remove: str,
) -> None:
    files = bf.bundle_files()
    _serve_bundle_cluster(api, files)
    if remove:  # a cluster that no longer serves v1 Endpoints objects
        api.set_items("endpoints", [])
    status, _, err = collect(capsys, api, evidence, "--page-size", "7")
    assert status == 0, err
    collected = snapshot(evidence)
    assert FIXTURE_SECRETS[0] not in json.dumps(collected)
    files[bf.CLUSTER_PATH] = collected
    bundle = bf.write_bundle(tmp_path / "bundle", files)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert certificate["verdict"] == "certified", result.stdout.str()[-3000:]
    cluster_gates = [
        g
        for g in certificate["gates"]
        if g["id"].startswith(
            ("service_endpoints", "pod_readiness", "workload_ready", "image_binding")
        )
    ]
    assert len(cluster_gates) >= 8 and {g["status"] for g in cluster_gates} == {"passed"}
    valkey = next(g for g in certificate["gates"] if g["id"] == "service_endpoints[valkey]")
    assert "EndpointSlice" in valkey["observed"]


# ----------------------------------------------------------------------------- the gate


def _snapshot_with(*items: dict[str, Any]) -> Any:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    return parse_cluster({"apiVersion": "v1", "kind": "List", "items": [service, *items]}, SNAPSHOT)


def _slice(name: str, *endpoints: dict[str, Any], service: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": list(endpoints) if endpoints else None,
    }


def _endpoint(ip: str, uid: str | None = None, **conditions: Any) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"addresses": [ip], "conditions": conditions}
    if uid:
        endpoint["targetRef"] = {"kind": "Pod", "name": uid, "uid": uid}
    return endpoint


def _endpoints(*ips: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": ip} for ip in ips]}] if ips else None,
    }


@pytest.mark.parametrize(
    ("items", "ok", "observed"),
    [
        ([_slice("web-a", _endpoint("10.0.0.1", ready=True))], True, "1 ready endpoint(s)"),
        ([_slice("web-a", _endpoint("10.0.0.1"))], True, "1 ready"),  # nil ready = ready
        ([_slice("web-a", _endpoint("10.0.0.1", ready=False))], False, "0 ready"),
        ([_slice("web-a", _endpoint("10.0.0.1", ready=True, terminating=True))], False, "0"),
        ([_slice("web-a")], False, "0 ready endpoint(s) in 1 EndpointSlice(s)"),
        # slices decide when there are any: ready Endpoints do not outvote them
        (
            [_endpoints("10.0.0.1"), _slice("web-a", _endpoint("10.0.0.1", ready=False))],
            False,
            "0 ready",
        ),
        ([_endpoints(), _slice("web-a", _endpoint("10.0.0.1", ready=True))], True, "1 ready"),
        # dual stack: one pod in an IPv4 and an IPv6 slice is one endpoint
        (
            [
                _slice("web-4", _endpoint("10.0.0.1", "pod-1", ready=True)),
                _slice("web-6", _endpoint("fd00::1", "pod-1", ready=True)),
            ],
            True,
            "1 ready endpoint(s) in 2 EndpointSlice(s)",
        ),
        # no slice for this service: its Endpoints decide
        (
            [
                _endpoints("10.0.0.1", "10.0.0.2"),
                _slice("other-a", _endpoint("10.0.0.9", ready=True), service="other"),
            ],
            True,
            "2 ready address(es) in Endpoints web",
        ),
        (
            [_slice("other-a", _endpoint("10.0.0.9", ready=True), service="other")],
            False,
            "no EndpointSlice labelled kubernetes.io/service-name=web and no Endpoints web",
        ),
    ],
)
def test_service_gate_reads_endpointslices(
    items: list[dict[str, Any]], ok: bool, observed: str
) -> None:
    check = service_endpoints(_snapshot_with(*items), "web")
    assert check.ok is ok
    assert observed in check.observed


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [
        (
            {"addresses": ["10.0.0.1"], "conditions": {"ready": "true"}},
            "items[1].endpoints[0].conditions.ready must be true, false or absent",
        ),
        ({"addresses": [], "conditions": {"ready": True}}, "items[1].endpoints[0].addresses"),
        ({"addresses": ["10.0.0.1"], "conditions": "ready"}, "items[1].endpoints[0].conditions"),
    ],
)
def test_service_gate_blocks_on_invalid_slices(endpoint: dict[str, Any], field: str) -> None:
    with pytest.raises(EvidenceError) as info:
        service_endpoints(_snapshot_with(_slice("web-a", endpoint)), "web")
    assert str(info.value).startswith(f"{SNAPSHOT}: {field}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00", "is not UTF-8"),
        (b"- a\n- b\n", "is not a valid kubeconfig"),
        (b"hello\n", "is not a valid kubeconfig"),
        (b"current-context: a\ncontexts: 5\n", "is not a valid kubeconfig"),
        (b"current-context: a\ncontexts:\n- name: a\n  context: 7\n", "is not a valid kubeconfig"),
        (b"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
         b"clusters:\n- name: c\n  cluster: {server: 'http://[::1'}\n"
         b"users:\n- name: u\n  user: {}\n",
         "is not a valid kubeconfig"),
    ],
    ids=["not-utf8", "a-list", "a-scalar", "contexts-not-a-list", "context-not-a-map",
         "bad-server"],
)  # fmt: skip
def test_malformed_kubeconfig_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, evidence: Path,
    content: bytes, message: str,
) -> None:  # fmt: skip
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(content)
    status = cli.main(["collect", "k8s", "--namespace", "shop", f"--evidence-dir={evidence}",
                       "--kubeconfig", str(kubeconfig)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 4
    assert err.startswith(f"loadcert collect k8s: error: kubeconfig {kubeconfig}: {message}"), err
    assert len(err.strip().splitlines()) == 1
    assert_nothing_written(evidence)
