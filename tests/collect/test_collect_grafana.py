"""``loadcert collect grafana`` against a local fake Grafana that answers in the documented
shapes of Grafana's HTTP API (``GET /api/dashboards/uid/<uid>``, ``POST /api/snapshots``,
``GET /api/snapshots/<key>``, errors as ``{"message": ...}``), all on 127.0.0.1.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest

# Imported before any test: the pytester fixture drops the modules first imported during a
# test, and a requests imported anew next to a half-dropped one breaks the next session.
import requests  # noqa: F401
from promserver import FakeHttpServer, Reply, Seen, free_port

from pytest_loadcert import cli
from pytest_loadcert.config.load import load_profile
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.observability import grafana_range
from pytest_loadcert.gates.observability import grafana_coverage

TOKEN = "glsa_7d1e0c55_not_a_real_token"
PASSWORD = "pw-grafana-3b9f-not-real"
DELETE_KEY = "del-8c2f5e1a-snapshot-delete-key"
UID = "loadcert-checkout"
STAGES = {
    "smoke": ("2026-01-01T00:00:00.100Z", "2026-01-01T00:00:08.300Z"),
    "5vu": ("2026-01-01T00:00:20.000Z", "2026-01-01T00:00:28.400Z"),
}
#: What Grafana answers to GET /api/dashboards/uid/<uid> (trimmed from the documented example).
EXPORT: dict[str, Any] = {
    "dashboard": {
        "id": 1,
        "uid": UID,
        "title": "Checkout load certification",
        "tags": ["k6"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 7,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "10s",
        "panels": [
            {
                "id": 1,
                "type": "timeseries",
                "title": "Active VUs",
                "targets": [{"refId": "A", "expr": "sum(k6_vus)"}],
            }
        ],
    },
    "meta": {
        "isStarred": False,
        "url": f"/d/{UID}/checkout-load-certification",
        "folderUid": "load-tests",
        "slug": "checkout-load-certification",
        "type": "db",
        "version": 7,
    },
}


class FakeGrafana:
    """The documented endpoints; ``auth`` is the Authorization header it requires."""

    def __init__(self, auth: str | None, *, snapshots: bool = True) -> None:
        self.auth = auth
        self.snapshots_enabled = snapshots
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.export: dict[str, Any] = copy.deepcopy(EXPORT)

    def __call__(self, seen: Seen, attempt: int) -> Reply:
        if self.auth is not None and seen.headers.get("Authorization") != self.auth:
            return Reply(401, {"message": "Unauthorized"})
        if seen.method == "GET" and seen.path.startswith("/api/dashboards/uid/"):
            uid = seen.path.rsplit("/", 1)[1]
            if uid == "locked":
                return Reply(403, {"message": "Access denied to this dashboard"})
            if uid != UID:
                return Reply(404, {"message": "Dashboard not found"})
            return Reply(200, self.export)
        if seen.method == "POST" and seen.path == "/api/snapshots":
            if not self.snapshots_enabled:
                return Reply(403, {"message": "Dashboard Snapshots are disabled"})
            request = json.loads(seen.body)
            self.snapshots["snap-YYYYYYY"] = request["dashboard"]
            return Reply(200, {
                "deleteKey": DELETE_KEY,
                "deleteUrl": f"http://127.0.0.1/api/snapshots-delete/{DELETE_KEY}",
                "key": "snap-YYYYYYY",
                "url": "http://127.0.0.1/dashboard/snapshot/snap-YYYYYYY",
                "id": 1,
            })  # fmt: skip
        if seen.method == "GET" and seen.path.startswith("/api/snapshots/"):
            key = seen.path.rsplit("/", 1)[1]
            if key not in self.snapshots:
                return Reply(404, {"message": "Dashboard snapshot not found"})
            meta = {"isSnapshot": True, "type": "snapshot", "canSave": False, "canEdit": False,
                    "canStar": False, "slug": "", "expires": "2027-01-01T00:00:00Z",
                    "created": "2026-11-27T10:00:00Z"}  # fmt: skip
            return Reply(200, {"meta": meta, "dashboard": self.snapshots[key]})
        return Reply(404, {"message": "Not found"})


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
    return evidence


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(
        "target_concurrency = 5\nstability = []\n"
        '[[stages]]\nname = "smoke"\nmin_active_vus = 2\n'
        '[[stages]]\nname = "5vu"\nmin_active_vus = 5\n'
    )
    return path


def grafana_cli(
    url: str, evidence: Path, capsys: pytest.CaptureFixture[str], *extra: str,
    profile: Path | None = None, uid: str = UID,
) -> tuple[int, str, str]:  # fmt: skip
    args = ["collect", "grafana", "--url", url, "--dashboard-uid", uid,
            "--evidence-dir", str(evidence), "--retry-backoff-s", "0.01", *extra]  # fmt: skip
    if profile is not None:
        args += ["--loadcert-profile", str(profile)]
    status = cli.main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def all_text(evidence: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in evidence.rglob("*") if p.is_file())


WINDOW = {"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T00:00:29.000Z"}


def test_dashboard_pinned_to_the_run_window_with_bearer_token(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    grafana = FakeGrafana(f"Bearer {TOKEN}")
    with FakeHttpServer(grafana) as server:
        status, out, err = grafana_cli(
            server.url, bundle, capsys, "--token-env", "GRAFANA_TOKEN", profile=profile
        )
    assert status == 0, err
    assert [(s.method, s.path) for s in server.seen] == [("GET", f"/api/dashboards/uid/{UID}")]
    assert server.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"

    written = json.loads((bundle / "observability/grafana.json").read_text())
    # first start rounded down .. last end rounded up, absolute; everything else untouched
    assert written["dashboard"]["time"] == WINDOW
    expected = copy.deepcopy(EXPORT)
    expected["dashboard"]["time"] = WINDOW
    assert written == expected
    assert "observability/grafana.json: written (dashboard, " in out
    # The coverage gate reads it as absolute times covering the run.
    result = grafana_coverage(Bundle(bundle), load_profile(profile))
    assert result.passed
    assert TOKEN not in out + err + all_text(bundle)


def test_basic_auth_password_never_stored(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("GRAFANA_PASSWORD", PASSWORD)
    encoded = base64.b64encode(f"viewer:{PASSWORD}".encode()).decode()
    with FakeHttpServer(FakeGrafana(f"Basic {encoded}")) as server:
        status, out, err = grafana_cli(
            server.url, bundle, capsys, "--basic-auth-user", "viewer",
            "--basic-auth-password-env", "GRAFANA_PASSWORD", profile=profile,
        )  # fmt: skip
    assert status == 0, err
    everything = out + err + all_text(bundle)
    assert PASSWORD not in everything and encoded not in everything


@pytest.mark.parametrize(
    ("uid", "token", "needle"),
    [
        (UID, None, "HTTP 401 (not authenticated: check the token (--token-env) or basic "
                    "auth): Grafana says 'Unauthorized'"),
        (UID, "wrong-token", "HTTP 401"),
        ("locked", TOKEN, "dashboard 'locked': HTTP 403 (the credentials may not read this"),
        ("locked", TOKEN, "Grafana says 'Access denied to this dashboard'"),
        ("gone", TOKEN, "dashboard 'gone': HTTP 404 (not found): Grafana says "
                        "'Dashboard not found'"),
    ],
)  # fmt: skip
def test_grafana_errors_carry_its_message_and_write_nothing(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, uid: str, token: str | None, needle: str,
) -> None:  # fmt: skip
    extra: list[str] = []
    if token is not None:
        monkeypatch.setenv("GRAFANA_TOKEN", token)
        extra = ["--token-env", "GRAFANA_TOKEN"]
    with FakeHttpServer(FakeGrafana(f"Bearer {TOKEN}")) as server:
        status, out, err = grafana_cli(server.url, bundle, capsys, *extra, profile=profile, uid=uid)
    assert status == 1
    assert needle in err
    assert len(server.seen) == 1  # 4xx: not retried
    assert not (bundle / "observability").exists()
    assert TOKEN not in out + err and "wrong-token" not in out + err


def test_snapshot_recorded_and_its_delete_key_never_stored(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    grafana = FakeGrafana(f"Bearer {TOKEN}")
    with FakeHttpServer(grafana) as server:
        status, out, err = grafana_cli(
            server.url, bundle, capsys, "--token-env", "GRAFANA_TOKEN", "--snapshot",
            "--snapshot-expires-s", "86400", profile=profile,
        )  # fmt: skip
    assert status == 0, err
    assert [(s.method, s.path) for s in server.seen] == [
        ("GET", f"/api/dashboards/uid/{UID}"), ("POST", "/api/snapshots"),
        ("GET", "/api/snapshots/snap-YYYYYYY"),
    ]  # fmt: skip
    posted = json.loads(server.seen[1].body)
    assert posted["dashboard"]["time"] == WINDOW  # the snapshot is of the pinned dashboard
    assert posted["expires"] == 86400
    assert posted["name"] == f"Checkout load certification {WINDOW['from']} .. {WINDOW['to']}"

    written = json.loads((bundle / "observability/grafana.json").read_text())
    assert written["meta"]["isSnapshot"] is True
    assert written["dashboard"]["time"] == WINDOW
    assert grafana_range(written, "g").start.isoformat() == "2026-01-01T00:00:00+00:00"
    assert "snapshot: http://127.0.0.1/dashboard/snapshot/snap-YYYYYYY" in out
    assert "written (snapshot, " in out
    assert grafana_coverage(Bundle(bundle), load_profile(profile)).passed
    everything = out + err + all_text(bundle)
    assert DELETE_KEY not in everything and TOKEN not in everything


def test_snapshot_refused_keeps_the_pinned_export_and_fails(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHttpServer(FakeGrafana(None, snapshots=False)) as server:
        status, _, err = grafana_cli(server.url, bundle, capsys, "--snapshot", profile=profile)
    assert status == 1
    assert "snapshot of dashboard 'loadcert-checkout': HTTP 403" in err
    assert "Grafana says 'Dashboard Snapshots are disabled'" in err
    assert len([s for s in server.seen if s.method == "POST"]) == 1  # a POST is not retried
    written = json.loads((bundle / "observability/grafana.json").read_text())
    assert written["meta"]["type"] == "db" and written["dashboard"]["time"] == WINDOW


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (Reply(200, b"<!doctype html><title>Grafana</title>"),
         "HTTP 200 (text/html; charset=utf-8) is not a Grafana dashboard"),
        (Reply(200, {"dashboard": [], "meta": {}}), "is not a Grafana dashboard"),
        (Reply(200, {"dashboard": {**EXPORT["dashboard"], "uid": "other"}, "meta": {}}),
         "Grafana answered with dashboard uid 'other'; not recorded"),
        (Reply(502, b"<html>Bad Gateway</html>"),
         "HTTP 502: not a Grafana API answer (no JSON message)"),
        (Reply(200, EXPORT, truncate_to=30), "the answer was cut short"),
    ],
)  # fmt: skip
def test_answers_that_are_not_a_dashboard_are_not_recorded(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str], reply: Reply, needle: str
) -> None:
    with FakeHttpServer(lambda seen, attempt: reply) as server:
        status, _, err = grafana_cli(server.url, bundle, capsys, "--retries", "1", profile=profile)
    assert status == 1
    assert needle in err
    assert not (bundle / "observability").exists()
    assert len(server.seen) == (2 if reply.status == 502 else 1)  # a 5xx is retried


def test_grafana_down_fails(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, _, err = grafana_cli(url, bundle, capsys, "--retries", "0", profile=profile)
    assert status == 1
    assert "no answer from Grafana: could not connect: Connection refused" in err


@pytest.mark.parametrize(
    ("extra", "uid", "needle"),
    [
        ([], "../api/admin", "--dashboard-uid '../api/admin': a Grafana uid is 1 to 40"),
        (["--token-env", "GRAFANA_TOKEN"], UID, "environment variable GRAFANA_TOKEN is not set"),
        (["--token-env", TOKEN], UID, "expects the NAME of an environment variable"),
    ],
)
def test_usage_errors(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, extra: list[str], uid: str, needle: str,
) -> None:  # fmt: skip
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    with FakeHttpServer(FakeGrafana(None)) as server:
        status, out, err = grafana_cli(server.url, bundle, capsys, *extra, profile=profile, uid=uid)
    assert status == 4
    assert needle in err and TOKEN not in out + err
    assert server.seen == []


def test_collected_dashboard_certifies_a_sealed_bundle(
    tmp_path: Path, pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """The factory's valid bundle (built-in profile, Grafana required) with its grafana.json
    replaced by a collected one, re-sealed: the plugin certifies it."""
    root = bf.build_bundle(tmp_path / "bundle")
    (root / "observability/grafana.json").unlink()
    with FakeHttpServer(FakeGrafana(None)) as server:
        status, _, err = grafana_cli(server.url, root, capsys)
    assert status == 0, err
    bf.seal(root)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--evidence-dir={root}")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    grafana_gates = [g for g in certificate["gates"] if "grafana" in g["gate"]]
    assert grafana_gates and all(g["status"] == "passed" for g in grafana_gates), grafana_gates
    assert certificate["verdict"] == "certified", certificate["problems"]


def test_unparsable_url_is_a_usage_error(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = grafana_cli("http://[::1", bundle, capsys, profile=profile)
    assert (status, out) == (4, "")
    assert "--url 'http://[::1': expected http(s)://host:port[/prefix]" in err
    assert err.count("\n") == 1
