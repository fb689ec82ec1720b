"""The plugin as a repository meets it: inert without evidence, usage errors, user gates,
waivers, cheap import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bundlefactory as bf
import pytest

DOCS_EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "test_example_gate.py"


def test_inert_without_evidence_dir(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_unit="def test_ordinary():\n    assert 1 + 1 == 2\n",
        test_gate="def test_my_gate(loadcert_stage):\n    assert False\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == 0
    assert not (pytester.path / "certificate.json").exists()
    assert "VERDICT" not in result.stdout.str()


def test_unit_tests_of_the_repository_do_not_run_in_a_certification(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    pytester.makepyfile(test_unit="def test_ordinary():\n    assert False\n")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}", ".")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert certificate["verdict"] == "certified"
    assert all(g["gate"] != "ordinary" for g in certificate["gates"])
    assert result.ret == 0


@pytest.mark.parametrize(
    ("profile", "needle"),
    [
        ("target_concurrency = 1000\nthresholds = 3\n", "thresholds: unknown key"),
        ("[k6]\np95_ms_max = -1\n", "k6.p95_ms_max: must not be negative"),
        ("[k6]\nmin_requests = 'many'\n", "k6.min_requests: must be a positive integer"),
        ("[[metrics]]\nname = 'x'\npromql = 'up'\n", "metrics[0]: needs a bound"),
        (
            "[[metrics]]\nname = 'x'\npromql = 'sum(increase(x[{window}] offset 30s))'\nmax = 0\n",
            "metrics[0].promql: moves [{window}] with 'offset'",
        ),
        ("[prometheus]\nmax_gap_s = 0\n", "prometheus.max_gap_s: must be greater than 0"),
        ("[[stages]]\nname = '../x'\nmin_active_vus = 1\n", "stages[0].name"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_profile_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path, profile: str, needle: str
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    path = tmp_path / "profile.toml"
    path.write_text(profile)
    result = pytester.runpytest(f"--evidence-dir={bundle}", "--loadcert-profile", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in result.stderr.str()
    assert str(path) in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_profile_from_pyproject(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("p95_high", tmp_path / "bundle")  # p95 450 ms at 100k
    pytester.makepyprojecttoml("[tool.loadcert.k6]\np95_ms_max = 500\n")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert certificate["verdict"] == "certified", result.stdout.str()[-2000:]
    assert "[tool.loadcert]" in certificate["profile_source"]


def _with_gates(pytester: pytest.Pytester, source: str) -> None:
    pytester.makeini("[pytest]\nloadcert_gates = certification\n")
    gates = pytester.mkdir("certification")
    (gates / "test_team_gates.py").write_text(source)


def test_user_gate_counts_toward_the_verdict(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    _with_gates(
        pytester,
        "def test_iterations_recorded(loadcert_k6, loadcert_stage):\n"
        "    assert loadcert_stage.name != '50k', 'team rule broken at 50k'\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    ids = {g["id"]: g["status"] for g in certificate["gates"]}
    assert ids["iterations_recorded[50k]"] == "failed"
    assert ids["iterations_recorded[1k]"] == "passed"
    assert certificate["verdict"] == "not_certified"
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*test_iterations_recorded[[]50k[]]*"])


def test_user_gate_deselected_blocks(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    _with_gates(pytester, "def test_team(loadcert_stage):\n    pass\n")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "-k", "not team or not 1k"
    )
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    assert certificate["not_run"] == ["team[1k]"]
    assert result.ret == 2


def test_user_gate_evidence_error_and_skip_block(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    _with_gates(
        pytester,
        "import pytest\n"
        "from pytest_loadcert.errors import EvidenceError\n"
        "def test_missing(loadcert_prometheus):\n"
        "    loadcert_prometheus.value('no_such_metric')\n"
        "def test_skipped(loadcert_bundle):\n"
        "    pytest.skip('not today')\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    statuses = {
        g["id"]: g["status"] for g in certificate["gates"] if g["gate"] in ("missing", "skipped")
    }
    assert statuses["skipped"] == "blocked"
    assert statuses["missing[smoke]"] == "blocked"
    assert certificate["verdict"] == "blocked"
    assert result.ret == 2


def test_docs_example_gate_runs(pytester: pytest.Pytester, tmp_path: Path) -> None:
    if not DOCS_EXAMPLE.exists():
        pytest.fail(f"{DOCS_EXAMPLE} is missing")
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    _with_gates(pytester, DOCS_EXAMPLE.read_text())
    result = pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    user = [g for g in certificate["gates"] if g["nodeid"].startswith("certification/")]
    assert user and {g["status"] for g in user} == {"passed"}
    assert certificate["verdict"] == "certified", result.stdout.str()[-2000:]


@pytest.mark.parametrize(
    ("expires", "expected"), [("2999-01-01", "waived"), ("2020-01-01", "blocked")]
)
def test_waiver(pytester: pytest.Pytester, tmp_path: Path, expires: str, expected: str) -> None:
    bundle = bf.build_variant("p95_high", tmp_path / "bundle")
    profile = tmp_path / "profile.toml"
    profile.write_text(
        f"[[waivers]]\ngate = 'p95_latency'\nstage = '100k'\nowner = 'sre-oncall'\n"
        f"reason = 'known slow path'\nexpires = {expires}\n"
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "--loadcert-profile", str(profile)
    )
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    gate = next(g for g in certificate["gates"] if g["id"] == "p95_latency[100k]")
    assert gate["status"] == expected
    assert certificate["verdict"] == ("certified" if expected == "waived" else "blocked")
    if expected == "waived":
        assert "waived by sre-oncall" in gate["message"]
        assert result.ret == 0


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_waiver_matching_no_gate_blocks(
    pytester: pytest.Pytester, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    profile = tmp_path / "profile.toml"
    profile.write_text(
        "[[waivers]]\ngate = 'p96_latency'\nstage = '1k'\nowner = 'x'\nreason = 'typo'\n"
        "expires = 2999-01-01\n"
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--evidence-dir={bundle}",
        "--loadcert-profile",
        str(profile),
        *workers,
    )
    assert result.ret == 2
    assert "matches no gate" in result.stdout.str()


def test_missing_evidence_dir_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--evidence-dir=nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--evidence-dir" in result.stderr.str() and "no such directory" in result.stderr.str()


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_plugin_import_is_cheap() -> None:
    loaded = _modules_after("import pytest_loadcert.plugin.hooks")
    for heavy in (
        "kubernetes",
        "requests",
        "urllib3",
        "jsonschema",
        "yaml",
        "matplotlib",
        "pytest_html",
    ):
        assert heavy not in loaded
    # Every pytest run in the environment imports the plugin: the evidence parsers and the
    # gates load only when a certification run needs them.
    ours = sorted(m for m in loaded if m.startswith("pytest_loadcert."))
    assert not [m for m in ours if m.startswith("pytest_loadcert.evidence.")], ours
    gates = {m for m in ours if m.startswith("pytest_loadcert.gates.")}
    assert gates <= {"pytest_loadcert.gates.catalogue", "pytest_loadcert.gates.result"}, ours


def test_core_is_pytest_free() -> None:
    core = (
        "evidence.bundle",
        "certify.certificate",
        "gates",
        "certify.verdict",
        "evidence.k6",
        "evidence.prometheus",
        "evidence.cluster",
        "evidence.observability",
        "config.profile",
        "evidence.jsonio",
        "evidence.schema",
        "report.document",
    )
    loaded = _modules_after("\n".join(f"import pytest_loadcert.{m}" for m in core))
    assert "pytest" not in loaded and "_pytest" not in loaded


def test_junit_private_key_is_still_there() -> None:
    from _pytest.junitxml import xml_key  # the one private import, isolated in junit.py

    assert xml_key is not None


def test_under_sampled_stage_judges_no_k6_gate(pytester: pytest.Pytester, tmp_path: Path) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    profile = tmp_path / "profile.toml"
    profile.write_text("[k6]\nmin_requests = 1000\n")  # smoke sent 200
    pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "--loadcert-profile", str(profile)
    )
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    smoke = {g["gate"]: g for g in certificate["gates"] if g["stage"] == "smoke"}
    for gate in (
        "observed_concurrency",
        "requests_sent",
        "p95_latency",
        "p99_latency",
        "error_rate",
        "checks_rate",
        "k6_thresholds",
    ):
        assert smoke[gate]["status"] == "blocked", gate
        assert "under k6.min_requests = 1000" in smoke[gate]["message"]
    assert certificate["verdict"] == "blocked"


@pytest.mark.parametrize("matches", [True, False], ids=["same-sha", "other-sha"])
def test_git_sha_under_test(pytester: pytest.Pytester, tmp_path: Path, matches: bool) -> None:
    bundle = bf.build_variant("valid", tmp_path / "bundle")
    sha = json.loads((bundle / "loadcert.json").read_text())["git"]["sha"]
    wanted = sha if matches else "f" * 40
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", "--loadcert-git-sha", wanted
    )
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    gate = next(g for g in certificate["gates"] if g["id"] == "git_binding")
    assert gate["status"] == ("passed" if matches else "blocked")
    assert certificate["bindings"]["expected_git_sha"] == wanted
    assert result.ret == (0 if matches else 2)
    if not matches:
        assert f"not the SHA under test {wanted}" in gate["message"]


def test_images_sharing_a_name_are_all_listed(pytester: pytest.Pytester, tmp_path: Path) -> None:
    from pytest_loadcert.certify.certificate import suite_properties

    bundle = bf.build_variant("valid", tmp_path / "bundle")
    pytester.runpytest("-p", "no:cacheprovider", f"--evidence-dir={bundle}")
    certificate = json.loads((pytester.path / "certificate.json").read_text())
    first = certificate["bindings"]["images"][0]
    certificate["bindings"]["images"].append(
        {"name": first["name"], "digest": "sha256:" + "0" * 64}
    )
    props = dict(suite_properties(certificate))
    assert props[f"loadcert.image.{first['name']}"] == ",".join(
        sorted([first["digest"], "sha256:" + "0" * 64])
    )


CONFTEST_FORGING_A_PASS = """
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"  # a bundle's conftest forging every gate
"""


@pytest.mark.parametrize("start_in", ["bundle", "stage-dir"])
def test_pytest_started_inside_the_bundle_is_refused(
    pytester: pytest.Pytester, tmp_path: Path, start_in: str
) -> None:
    """A conftest.py carried by the evidence must never take part in judging it."""
    bundle = bf.build_variant("p95_high", tmp_path / "bundle")  # not_certified on its own
    (bundle / "conftest.py").write_text(CONFTEST_FORGING_A_PASS)
    (bundle / "pyproject.toml").write_text("")  # the bundle as pytest's rootdir
    start = bundle if start_in == "bundle" else bundle / "stages" / "100k"
    (start / "conftest.py").write_text(CONFTEST_FORGING_A_PASS)
    pytester.chdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--evidence-dir={bundle}"],
        cwd=start, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout[-2000:]
    assert "is inside the bundle" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (start / "certificate.json").exists()


@pytest.mark.parametrize("how", ["argument", "ini"])
def test_a_bundle_kept_under_the_gate_tests_is_never_collected(
    pytester: pytest.Pytester, how: str
) -> None:
    """Collecting the repository's gate tests must not walk into the bundle they judge:
    its conftest.py would be imported and could forge every gate."""
    gates = pytester.path / "gates"
    bundle = bf.build_variant("p95_high", gates / "evidence")  # not_certified on its own
    imported = pytester.path / "bundle-conftest-imported"
    (bundle / "conftest.py").write_text(
        CONFTEST_FORGING_A_PASS + f"\nopen({str(imported)!r}, 'w').close()\n"
    )
    (gates / "test_team.py").write_text("def test_team_gate(loadcert_bundle):\n    pass\n")
    args = ["gates"] if how == "argument" else []
    if how == "ini":
        pytester.makeini("[pytest]\nloadcert_gates = gates\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", *args
    )
    assert not imported.exists()
    assert result.ret == 1  # p95 above the bound: not_certified, as measured
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_gate_paths_inside_the_bundle_are_refused(pytester: pytest.Pytester) -> None:
    bundle = bf.build_variant("valid", pytester.path / "bundle")
    (bundle / "gates").mkdir()
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--evidence-dir={bundle}", str(bundle / "gates")
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "inside the bundle" in result.stderr.str()
    assert not (pytester.path / "certificate.json").exists()


@pytest.mark.parametrize(
    "name", ["pytest.toml", ".pytest.toml", "conftest.PY", "Conftest.py", "PYTEST.INI", "x.PY"]
)
def test_judge_configuration_and_code_in_any_case_are_refused(name: str) -> None:
    """pytest 9 reads pytest.toml; on a case-insensitive file system (macOS, Windows)
    conftest.PY is found as conftest.py."""
    from pytest_loadcert.evidence.integrity import judge_code_reason

    assert judge_code_reason(name) is not None
    assert judge_code_reason("x.py.json") is None
