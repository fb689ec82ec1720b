"""``loadcert collect prometheus``: concurrency, retries, faults, credentials, TLS; and the
real thing (real k6 remote-writing into a real Prometheus, certified by the plugin).

Fault tests talk to a local HTTP server (tests/promserver.py ``FakeHttpServer``) that
misbehaves on purpose; the slow tests start Debian's prometheus and the real k6. Everything
is on 127.0.0.1 and bounded.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

# Imported before any test: the pytester fixture drops the modules first imported during a
# test, and a requests imported anew next to a half-dropped one breaks the next session.
import requests  # noqa: F401
from promserver import (
    FakeHttpServer,
    PrometheusServer,
    PrometheusUnavailable,
    Reply,
    Seen,
    free_port,
    run_stage,
    start_prometheus,
)

from pytest_loadcert import cli
from pytest_loadcert.collect.base import CollectError
from pytest_loadcert.collect.http import HttpSettings
from pytest_loadcert.collect.prometheus import collect, evaluation_time
from pytest_loadcert.config.load import load_profile
from pytest_loadcert.demo.exampleservice import start_service
from pytest_loadcert.evidence.hashing import sha256_file
from pytest_loadcert.evidence.prometheus import query_window
from pytest_loadcert.evidence.timeutil import parse_utc

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tok-9f3c1e7a-not-a-real-token"
PASSWORD = "pw-51d2aa0c-not-a-real-password"
STAGES = {
    "smoke": ("2026-01-01T00:00:00.100Z", "2026-01-01T00:00:08.300Z"),
    "5vu": ("2026-01-01T00:00:20.000Z", "2026-01-01T00:00:28.000Z"),
    "10vu": ("2026-01-01T00:00:40.000Z", "2026-01-01T00:00:48.000Z"),
}
METRICS = {
    "peak_vus": 'max(max_over_time(k6_vus{stage="{stage}"}[{window}]))',
    "requests": 'sum(last_over_time(k6_http_reqs_total{stage="{stage}"}[{window}]))',
    "errors": "sum(increase(example_http_errors_total[{window}]))",
    "in_flight": "max(example_http_requests_in_flight)",
}


def profile_toml(stages: dict[str, int], metrics: dict[str, str], target: int = 2) -> str:
    text = f"target_concurrency = {target}\nstability = []\n"
    for name, vus in stages.items():
        text += f'\n[[stages]]\nname = "{name}"\nmin_active_vus = {vus}\n'
    text += "\n[k6]\nmin_requests = 10\n"
    for name, promql in metrics.items():
        text += f"\n[[metrics]]\nname = \"{name}\"\npromql = '{promql}'\nmin = 0\n"
    text += "\n[cluster]\nrequired = false\n"
    return text + "\n[observability]\ngrafana = false\notel = false\n"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """Three stages' stage.json (long past: the collector does not wait)."""
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
    path.write_text(profile_toml({"smoke": 2, "5vu": 5, "10vu": 10}, METRICS))
    return path


def vector(value: str = "2") -> dict[str, object]:
    return {"status": "success", "data": {"resultType": "vector",
            "result": [{"metric": {}, "value": [1767225608, value]}]}}  # fmt: skip


#: A coverage query: a bare selector's raw samples over the window (asked after each answer).
COVERAGE_QUERY = re.compile(r"^[^()]*\[\d+m?s\] @ [\d.]+$")


def main_queries(seen: list[Seen]) -> list[Seen]:
    """The profile's queries among what the server saw (not the coverage queries)."""
    return [s for s in seen if not COVERAGE_QUERY.match(s.params["query"])]


def answer_all(seen: Seen, attempt: int) -> Reply:
    return Reply(200, vector())


def collect_cli(
    url: str, evidence: Path, profile: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    status = cli.main([
        "collect", "prometheus", "--url", url, "--evidence-dir", str(evidence),
        "--loadcert-profile", str(profile), "--retry-backoff-s", "0.01", *extra,
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def recorded(evidence: Path, stage: str) -> dict[str, dict[str, object]]:
    document = json.loads((evidence / "stages" / stage / "prometheus.json").read_text())
    return {q["name"]: q for q in document["queries"]}


def all_text(evidence: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in evidence.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- concurrency


def test_concurrent_queries_share_kept_alive_connections_and_keep_profile_order(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = list(METRICS)

    def slow_first(seen: Seen, attempt: int) -> Reply:
        # The profile's first metric answers last: completion order is the reverse of it.
        promql = seen.params["query"]
        if COVERAGE_QUERY.match(promql):
            return Reply(200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
        index = next(i for i, name in enumerate(names) if METRICS[name].split("{")[0] in promql)
        return Reply(200, vector(str(index)), delay_s=0.03 * (len(names) - index))

    with FakeHttpServer(slow_first) as server:
        status, out, err = collect_cli(server.url, bundle, profile, capsys, "--concurrency", "4")
    assert status == 0, err
    assert len(main_queries(server.seen)) == 12  # 3 stages x 4 metrics, each asked once
    assert 2 <= server.max_in_flight <= 4
    assert len({s.client_port for s in server.seen}) <= 4  # connections reused (keep-alive)
    for stage in STAGES:
        assert list(recorded(bundle, stage)) == names  # the profile's order
    assert out.index("smoke/prometheus.json") < out.index("5vu/") < out.index("10vu/")


def test_concurrency_1_asks_one_query_at_a_time_over_one_connection(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHttpServer(answer_all) as server:
        status, _, err = collect_cli(server.url, bundle, profile, capsys, "--concurrency", "1")
    assert status == 0, err
    assert server.max_in_flight == 1
    assert len({s.client_port for s in server.seen}) == 1
    assert [s.params["time"] for s in server.seen[:4]] == ["2026-01-01T00:00:09Z"] * 4


# ----------------------------------------------------------------------------- Prometheus's errors


def test_prometheus_errors_are_recorded_with_error_type_query_and_stage(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def errors(seen: Seen, attempt: int) -> Reply:
        if "k6_http_reqs_total" in seen.params["query"]:
            return Reply(
                400,
                {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": 'invalid parameter "query": 1:8: parse error',
                },
            )
        if "in_flight" in seen.params["query"] and seen.params["time"].startswith(
            "2026-01-01T00:00:28Z"
        ):
            return Reply(
                422,
                {
                    "status": "error",
                    "errorType": "execution",
                    "error": "found duplicate series for the match group",
                },
            )
        return Reply(200, vector())  # fmt: skip

    with FakeHttpServer(errors) as server:
        status, _, err = collect_cli(server.url, bundle, profile, capsys)
    assert status == 1
    assert "stage 'smoke', query 'requests' failed: HTTP 400, bad_data: invalid parameter" in err
    assert "stage '5vu', query 'in_flight' failed: HTTP 422, execution: found duplicate" in err
    # 4xx are Prometheus's answers, not transient faults: asked once, never retried.
    assert len(main_queries(server.seen)) == 12
    bad = recorded(bundle, "smoke")["requests"]["response"]
    assert bad == {"status": "error", "errorType": "bad_data",
                   "error": 'invalid parameter "query": 1:8: parse error'}  # fmt: skip
    assert recorded(bundle, "5vu")["in_flight"]["response"]["errorType"] == "execution"


# ----------------------------------------------------------------------------- transport faults


def test_server_down_fails_and_writes_nothing(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    status, out, err = collect_cli(url, bundle, profile, capsys, "--retries", "1")
    assert status == 1
    # Said once, not once per query; the retry announced once, as it starts (not a TTY).
    assert err.splitlines() == [
        f"loadcert collect prometheus: no answer yet from {url} (could not connect: "
        "Connection refused); retrying, up to 1 time",
        f"loadcert collect prometheus: error: no answer from {url}: could not connect: "
        "Connection refused (gave up after 1 retries); 12 of 12 queries not recorded",
    ]
    assert out == ""
    assert not list(bundle.rglob("prometheus.json"))


def test_read_timeout_is_retried_then_fails(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "one.toml"
    profile.write_text(profile_toml({"smoke": 2}, {"peak_vus": METRICS["peak_vus"]}))
    # The server would answer after 60 s (or when it stops); a client that waited for even
    # one answer would take a minute, one that keeps its 0.2 s read timeout takes about 1 s.
    with FakeHttpServer(lambda seen, attempt: Reply(200, vector(), delay_s=60)) as server:
        started = time.monotonic()
        status, _, err = collect_cli(
            server.url, bundle, profile, capsys, "--read-timeout-s", "0.2", "--retries", "1"
        )
        elapsed = time.monotonic() - started
    assert status == 1
    assert "no answer within the read timeout of 0.2 s (gave up after 1 retries)" in err
    assert len(server.seen) == 3 * 2  # every stage's query: asked, then retried once
    assert elapsed < 30
    assert not list(bundle.rglob("prometheus.json"))


def test_truncated_body_fails_and_is_not_recorded(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "one.toml"
    profile.write_text(profile_toml({"smoke": 2}, {"peak_vus": METRICS["peak_vus"]}))
    with FakeHttpServer(lambda seen, attempt: Reply(200, vector(), truncate_to=20)) as server:
        status, _, err = collect_cli(server.url, bundle, profile, capsys)
    assert status == 1
    # One line for the three queries cut short alike.
    assert err.count("no answer from") == 1
    assert "stage 'smoke', query 'peak_vus' and 2 more: no answer from" in err
    assert "the answer was cut short" in err
    assert not list(bundle.rglob("prometheus.json"))


def test_429_with_retry_after_is_honoured_then_succeeds(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "one.toml"
    profile.write_text(profile_toml({"smoke": 2}, {"peak_vus": METRICS["peak_vus"]}))

    def limited(seen: Seen, attempt: int) -> Reply:
        if attempt == 1 and 'stage="smoke"' in seen.params["query"]:
            return Reply(429, b"slow down", headers={"Retry-After": "1"})
        return Reply(200, vector("2"))

    with FakeHttpServer(limited) as server:
        status, _, err = collect_cli(server.url, bundle, profile, capsys, "--concurrency", "1")
    assert status == 0, err
    smoke = [s for s in main_queries(server.seen) if 'stage="smoke"' in s.params["query"]]
    assert len(smoke) == 2
    # Waited as Retry-After asked (1 s between the client's sends; the server stamps the
    # arrivals, which the scheduler may shift by a little either way).
    assert smoke[1].at - smoke[0].at >= 0.75
    assert recorded(bundle, "smoke")["peak_vus"]["response"] == vector("2")


def test_5xx_then_success_is_retried(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def flaky(seen: Seen, attempt: int) -> Reply:
        if attempt <= 2:  # a proxy's error page, twice, for every query
            return Reply(502 if attempt == 1 else 500, b"<html>Bad Gateway</html>")
        return Reply(200, vector("7"))

    with FakeHttpServer(flaky) as server:
        status, _, err = collect_cli(server.url, bundle, profile, capsys, "--retries", "2")
    assert status == 0, err
    assert len(main_queries(server.seen)) == 12 * 3
    for stage in STAGES:
        assert all(q["response"] == vector("7") for q in recorded(bundle, stage).values())


def test_5xx_forever_fails_after_the_retry_budget_and_defaults_nothing(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unavailable = {"status": "error", "errorType": "unavailable", "error": "TSDB not ready"}

    def down(seen: Seen, attempt: int) -> Reply:
        if "k6_vus" in seen.params["query"]:
            return Reply(503, unavailable)  # Prometheus's own JSON error
        return Reply(500, b"<html>Internal Server Error</html>")  # a proxy's page

    with FakeHttpServer(down) as server:
        status, _, err = collect_cli(server.url, bundle, profile, capsys, "--retries", "2")
    assert status == 1
    assert len(main_queries(server.seen)) == 12 * 3  # asked, then retried twice, each
    assert "query 'peak_vus' failed: HTTP 503, unavailable: TSDB not ready" in err
    assert "query 'requests': HTTP 500 (text/html; charset=utf-8)" in err
    assert "is not a Prometheus API response; not recorded" in err
    for stage in STAGES:
        queries = recorded(bundle, stage)
        assert list(queries) == ["peak_vus"]  # the JSON error only: nothing invented
        assert queries["peak_vus"]["response"] == unavailable


def test_html_instead_of_json_is_not_recorded(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    login = Reply(200, b"<!doctype html><title>Sign in</title>")
    with FakeHttpServer(lambda seen, attempt: login) as server:
        status, _, err = collect_cli(server.url, bundle, profile, capsys)
    assert status == 1
    assert err.count("is not a Prometheus API response; not recorded") == 12
    assert not list(bundle.rglob("prometheus.json"))


# ----------------------------------------------------------------------------- credentials


def require_auth(expected: str) -> Callable[[Seen, int], Reply]:
    def responder(seen: Seen, attempt: int) -> Reply:
        if seen.headers.get("Authorization") != expected:
            return Reply(401, b"Unauthorized")
        return Reply(200, vector())

    return responder


def test_bearer_token_is_sent_and_never_written_or_printed(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    with FakeHttpServer(require_auth(f"Bearer {TOKEN}")) as server:
        status, out, err = collect_cli(
            server.url, bundle, profile, capsys, "--bearer-token-env", "PROM_TOKEN"
        )
    assert status == 0, err
    assert len(main_queries(server.seen)) == 12
    assert TOKEN not in out + err + all_text(bundle)


def test_basic_auth_password_is_sent_and_never_written_or_printed(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import base64

    encoded = base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    monkeypatch.setenv("PROM_PASSWORD", PASSWORD)
    with FakeHttpServer(require_auth(f"Basic {encoded}")) as server:
        status, out, err = collect_cli(
            server.url, bundle, profile, capsys,
            "--basic-auth-user", "reader", "--basic-auth-password-env", "PROM_PASSWORD",
        )  # fmt: skip
    assert status == 0, err
    everything = out + err + all_text(bundle)
    assert PASSWORD not in everything and encoded not in everything


def test_an_answer_echoing_the_token_is_refused_and_the_message_redacted(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PROM_TOKEN", TOKEN)

    def echo(seen: Seen, attempt: int) -> Reply:
        if "k6_vus" in seen.params["query"]:  # a debugging proxy reflecting the request
            return Reply(
                400,
                {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": f"header was {seen.headers['Authorization']}",
                },
            )
        return Reply(200, vector())  # fmt: skip

    with FakeHttpServer(echo) as server:
        status, out, err = collect_cli(
            server.url, bundle, profile, capsys, "--bearer-token-env", "PROM_TOKEN"
        )
    assert status == 1
    assert "contains a credential given for this collection; not recorded" in err
    assert TOKEN not in out + err + all_text(bundle)
    assert list(recorded(bundle, "smoke")) == ["requests", "errors", "in_flight"]


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--bearer-token-env", "PROM_TOKEN"], {}, "environment variable PROM_TOKEN is not set"),
        (["--bearer-token-env", "PROM_TOKEN"], {"PROM_TOKEN": " "}, "PROM_TOKEN is empty"),
        (["--bearer-token-env", TOKEN], {}, "expects the NAME of an environment variable"),
        (["--basic-auth-user", "reader"], {}, "--basic-auth-user and --basic-auth-password-env"),
        (["--basic-auth-user", "u", "--basic-auth-password-env", "PROM_PASSWORD"],
         {}, "the environment variable PROM_PASSWORD is not set"),
        (["--bearer-token-env", "PROM_TOKEN", "--basic-auth-user", "u",
          "--basic-auth-password-env", "PROM_PASSWORD"],
         {"PROM_TOKEN": TOKEN, "PROM_PASSWORD": PASSWORD}, "choose one way to log in"),
        (["--insecure", "--ca-cert", "ca.pem"], {}, "contradict each other"),
        (["--ca-cert", "missing.pem"], {}, "--ca-cert missing.pem: not a file"),
        (["--concurrency", "0"], {}, "must be at least 1"),
    ],
)  # fmt: skip
def test_credential_and_option_usage_errors(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], needle: str,
) -> None:  # fmt: skip
    monkeypatch.delenv("PROM_TOKEN", raising=False)
    monkeypatch.delenv("PROM_PASSWORD", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with FakeHttpServer(answer_all) as server:
        status, out, err = collect_cli(server.url, bundle, profile, capsys, *args)
    assert status == 4
    assert needle in err
    assert TOKEN not in out + err and PASSWORD not in out + err
    assert server.seen == []  # refused before asking anything


def test_url_with_credentials_is_refused_without_echoing_them(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = collect_cli(f"http://admin:{PASSWORD}@127.0.0.1:9/", bundle, profile, capsys)
    assert status == 4
    assert "must not carry credentials" in err
    assert PASSWORD not in out + err


# ----------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_server(tls_files: tuple[Path, Path]) -> Iterator[FakeHttpServer]:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    with FakeHttpServer(answer_all, tls=context) as server:
        yield server


def test_tls_verified_with_ca_cert_refused_without(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    https_server: FakeHttpServer, tls_files: tuple[Path, Path],
) -> None:  # fmt: skip
    assert https_server.url.startswith("https://127.0.0.1:")
    status, _, err = collect_cli(https_server.url, bundle, profile, capsys, "--retries", "0")
    assert status == 1
    assert "TLS failed: the server's certificate could not be verified" in err
    assert "--ca-cert FILE" in err
    assert not list(bundle.rglob("prometheus.json"))

    status, _, err = collect_cli(
        https_server.url, bundle, profile, capsys, "--ca-cert", str(tls_files[0])
    )
    assert status == 0, err
    assert "--insecure" not in err
    assert len(list(bundle.rglob("prometheus.json"))) == 3


def test_insecure_skips_verification_and_says_so(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str],
    https_server: FakeHttpServer,
) -> None:  # fmt: skip
    status, _, err = collect_cli(https_server.url, bundle, profile, capsys, "--insecure")
    assert status == 0, err
    assert err.count("warning: --insecure: TLS certificates are NOT verified") == 1


# ----------------------------------------------------------------------------- Python API


def test_collect_keeps_its_signature_and_takes_http_settings(bundle: Path, profile: Path) -> None:
    """``loadcert demo`` calls ``collect(url, evidence_dir, profile, delay_s, ...)``."""
    with FakeHttpServer(answer_all) as server:
        result = collect(
            server.url, bundle, load_profile(profile), 2, log=lambda m: None,
            concurrency=2, http=HttpSettings(retries=0, read_timeout_s=2.0),
        )  # fmt: skip
    assert result.problems == []
    assert [p.parent.name for p in result.written] == ["smoke", "5vu", "10vu"]
    assert {s.params["time"] for s in server.seen} == {
        "2026-01-01T00:00:11Z", "2026-01-01T00:00:30Z", "2026-01-01T00:00:50Z",
    }  # ceil(end) + 2 s  # fmt: skip


# ----------------------------------------------------------------------------- real Prometheus

REAL_METRICS = {
    "k6_peak_vus": 'max(max_over_time(k6_vus{stage="{stage}"}[{window}]))',
    "k6_requests": 'sum(last_over_time(k6_http_reqs_total{stage="{stage}"}[{window}]))',
    "service_requests": 'sum(increase(example_http_requests_total{path!="/metrics"}[{window}]))',
    "service_errors": "sum(increase(example_http_errors_total[{window}]))",
}
REAL_STAGES = {"smoke": 2, "3vu": 3}


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, PrometheusServer]]:
    """Two real k6 stages (2 VUs, then 3 VUs, 2 s each) pushing into a real Prometheus that
    also scrapes the example service; yields the unsealed bundle and the running server."""
    tmp = tmp_path_factory.mktemp("real")
    profile = tmp / "profile.toml"
    profile.write_text(profile_toml(REAL_STAGES, REAL_METRICS, target=3))
    bundle = tmp / "bundle"
    with contextlib.ExitStack() as stack:
        service = stack.enter_context(start_service(0))
        try:
            prom = stack.enter_context(
                start_prometheus(tmp / "prom", [f"127.0.0.1:{service.port}"])
            )
        except PrometheusUnavailable as exc:
            pytest.skip(str(exc))
        for stage, vus in REAL_STAGES.items():
            done = run_stage(bundle, stage, prom.url, service.url, vus=vus,
                             duration="2s", profile=profile)  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
        yield bundle, prom


def seal(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = bundle.parent / f"{bundle.name}-repo"
    repo.mkdir()
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "under test"]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             *args], check=True, capture_output=True,
        )  # fmt: skip
    manifest = bundle.parent / "manifest.yaml"
    manifest.write_text("kind: List\n")
    digest = sha256_file(REPO / "pytest_loadcert" / "demo" / "exampleservice.py")
    status = cli.main([
        "seal", "--evidence-dir", str(bundle), "--run-id", "collect-prometheus-real",
        "--environment", "test", "--image", f"example-service={digest}",
        "--k8s-manifest", str(manifest), "--git-repo", str(repo),
    ])  # fmt: skip
    assert status == 0, capsys.readouterr().err


def certify(pytester: pytest.Pytester, bundle: Path, profile: Path) -> dict[str, object]:
    """The plugin's verdict on the sealed bundle, from a pytest of its own (a subprocess:
    an in-process run would unload modules this process still uses)."""
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", f"--loadcert-profile={profile}"
    )
    certificate: dict[str, object] = json.loads((pytester.path / "certificate.json").read_text())
    return certificate


@pytest.mark.slow
def test_real_prometheus_answers_recorded_raw_per_stage_and_certified(
    real_run: tuple[Path, PrometheusServer], tmp_path: Path, pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    source, prom = real_run
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    profile = tmp_path / "profile.toml"
    profile.write_text(profile_toml(REAL_STAGES, REAL_METRICS, target=3))
    status, _, err = collect_cli(prom.url, bundle, profile, capsys, "--delay-s", "1")
    assert status == 0, err

    loaded = load_profile(profile)
    for stage, vus in REAL_STAGES.items():
        stage_json = json.loads((bundle / "stages" / stage / "stage.json").read_text())
        start, end = parse_utc(stage_json["start_time"]), parse_utc(stage_json["end_time"])
        assert start is not None and end is not None
        document = json.loads((bundle / "stages" / stage / "prometheus.json").read_text())
        assert document["window"] == {"start": stage_json["start_time"],
                                      "end": stage_json["end_time"]}  # fmt: skip
        assert [q["name"] for q in document["queries"]] == list(REAL_METRICS)
        for query, spec in zip(document["queries"], loaded.metrics, strict=True):
            assert query["promql"] == spec.query_for(
                stage, *query_window(start, end)
            )  # the profile's, over the window
            moment = parse_utc(query["time"])
            assert moment == evaluation_time(end, 1)
            assert end < moment <= end + timedelta(seconds=loaded.k6.eval_delay_max_s)
            # Raw: exactly what Prometheus answers to that query at that time.
            assert query["response"] == prom.query(query["promql"], query["time"])
            assert len(query["response"]["data"]["result"]) == 1, query
        values = {q["name"]: float(q["response"]["data"]["result"][0]["value"][1])
                  for q in document["queries"]}  # fmt: skip
        # Two sources of one run: k6's own summary and what k6 pushed to Prometheus. The
        # remote write samples the VU gauge and pushes the counter at intervals, so the last
        # requests of the stage may miss the last push: Prometheus never sees more than k6
        # counted, and sees almost all of it (the same bound run_window allows the clocks).
        assert 1 <= values["k6_peak_vus"] <= vus
        assert values["service_errors"] == 0
        summary = json.loads((bundle / "stages" / stage / "k6-summary.json").read_text())
        count = summary["metrics"]["http_reqs"]["count"]
        assert 0.9 * count <= values["k6_requests"] <= count

    seal(bundle, capsys)
    certificate = certify(pytester, bundle, profile)
    assert certificate["verdict"] == "certified", certificate.get("problems")


@pytest.mark.slow
def test_real_prometheus_bad_promql_fails_collection_and_blocks_certification(
    real_run: tuple[Path, PrometheusServer], tmp_path: Path, pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    source, prom = real_run
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    profile = tmp_path / "profile.toml"
    broken = {**REAL_METRICS, "broken": "sum(rate(k6_http_reqs_total[{window}])"}
    profile.write_text(profile_toml(REAL_STAGES, broken, target=3))
    status, _, err = collect_cli(prom.url, bundle, profile, capsys)
    assert status == 1
    assert "stage 'smoke', query 'broken' failed: HTTP 400, bad_data:" in err
    smoke = recorded(bundle, "smoke")
    assert smoke["broken"]["response"]["status"] == "error"  # recorded as it came
    assert smoke["k6_peak_vus"]["response"]["status"] == "success"

    seal(bundle, capsys)
    certificate = certify(pytester, bundle, profile)
    assert certificate["verdict"] == "blocked"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://[::1", "--url 'http://[::1': expected http(s)://host:port[/prefix]"),
        ("http://127.0.0.1:99999", "--url 'http://127.0.0.1:99999': expected http(s)://host:port"),
    ],
    ids=["unclosed-ipv6", "port-out-of-range"],
)
def test_unparsable_url_is_a_usage_error(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str], url: str, needle: str
) -> None:
    status, out, err = collect_cli(url, bundle, profile, capsys, "--retries", "0")
    assert (status, out) == (4, "")
    assert needle in err, err
    assert err.count("\n") == 1
    assert not list(bundle.rglob("prometheus.json"))


def test_a_stage_that_ends_in_the_future_is_refused_without_waiting(
    bundle: Path, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stage.json whose end_time lies ahead (a skewed clock, a typo) would make the
    collector sleep until then: days, or years. It is refused at once, naming the file."""
    path = bundle / "stages" / "10vu" / "stage.json"
    document = json.loads(path.read_text())
    document.update(start_time="2999-01-01T00:00:00Z", end_time="2999-01-01T00:01:00Z")
    path.write_text(json.dumps(document))
    slept: list[float] = []
    with FakeHttpServer(answer_all) as server, pytest.raises(CollectError) as excinfo:
        collect(server.url, bundle, load_profile(profile), sleep=slept.append)
    assert slept == [] and server.seen == []
    assert str(excinfo.value).startswith(
        "stages/10vu/stage.json: end_time 2999-01-01T00:01:00Z is in the future"
    ), excinfo.value
    assert excinfo.value.exit_status == 1
    assert not list(bundle.rglob("prometheus.json"))
