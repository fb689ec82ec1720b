"""docs/ci.md: the CI recipes parse, use only real commands, and behave as documented.

Every YAML block parses (pyyaml). Every ``loadcert`` line parses with the real argparse
parser, every ``pytest`` line with pytest's own option parser and the installed plugins.
The GitHub certify job's shell steps are then run for real, in order and with GitHub's
``if: always()`` semantics, against the example bundle (the job passes) and a bundle with
one failing gate (the job fails, and the report is still published).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import bundlefactory as bf
import pytest
import yaml

from pytest_loadcert import cli

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ci.md"
EXAMPLE = REPO / "evidence" / "example"
EXAMPLE_PROFILE = REPO / "evidence" / "example.toml"
OPERATORS = {";", "&&", "||", "|", "&"}
REDIRECTS = {">", ">>", "<", "2>", "2>>"}
#: Values for the variables the recipes use, so options with typed values can be parsed.
VARIABLES = {
    "GATEWAY_DIGEST": "sha256:" + "a" * 64,
    "REALTIME_GATEWAY_DIGEST": "sha256:" + "b" * 64,
    "GITHUB_SHA": "0" * 40,
    "CI_COMMIT_SHA": "0" * 40,
}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def documents() -> list[dict[Any, Any]]:
    return [yaml.safe_load(text) for text in blocks("yaml")]


def github() -> dict[Any, Any]:
    (workflow,) = [d for d in documents() if "jobs" in d]
    return workflow


def gitlab() -> dict[Any, Any]:
    (pipeline,) = [d for d in documents() if "stages" in d and "jobs" not in d]
    return pipeline


def commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, variables expanded, redirections dropped."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        tokens = iter(list(lexer))
        for token in tokens:
            if token in OPERATORS:
                found.append(current)
                current = []
            elif token in REDIRECTS:
                next(tokens, None)
            else:
                current.append(token)
        found.append(current)
    expanded = []
    for command in found:
        while command and command[0] in ("do", "then", "else"):
            command = command[1:]
        if command:
            expanded.append(
                [
                    re.sub(r"\$\{?(\w+)\}?", lambda m: VARIABLES.get(m.group(1), "x"), t)
                    for t in command
                ]
            )
    return expanded


def scripts() -> list[str]:
    """Every shell script in the recipes: run steps, GitLab script lines, sh blocks."""
    found = list(blocks("sh"))
    for job in github()["jobs"].values():
        found += [step["run"] for step in job["steps"] if "run" in step]
    for job in gitlab().values():
        if isinstance(job, dict) and "script" in job:
            found += [*job["script"], *job.get("after_script", [])]
    return found


def test_every_yaml_block_parses() -> None:
    docs = documents()
    assert len(docs) == 2
    assert all(isinstance(d, dict) for d in docs)


def test_every_loadcert_command_is_real() -> None:
    lines = [c for s in scripts() for c in commands(s) if c[0] == "loadcert"]
    assert len(lines) >= 15
    seen = set()
    for command in lines:
        args = command[1:]
        extra: list[str] = []
        if "--" in args:
            cut = args.index("--")
            args, extra = args[:cut], args[cut + 1 :]
        try:
            ns = cli.build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"not a valid loadcert command: {shlex.join(command)}")
        assert not extra or ns.passthrough, shlex.join(command)
        seen.add(" ".join(args[:2]) if args[0] == "collect" else args[0])
    assert {"run-stage", "seal", "report", "verify", "collect prometheus"} <= seen


def test_every_pytest_command_is_real(pytester: pytest.Pytester) -> None:
    lines = [c for s in scripts() for c in commands(s) if c[0] == "pytest"]
    assert len(lines) == 2
    for command in lines:
        config = pytester.parseconfig(*command[1:])
        assert config.getoption("loadcert_evidence_dir")
        assert config.getoption("loadcert_git_sha") == "0" * 40
        assert config.getoption("xmlpath") == "out/certificate.xml"


def test_github_workflow_essentials() -> None:
    jobs = github()["jobs"]
    certify = jobs["certify"]
    steps = certify["steps"]
    (gate,) = [s for s in steps if "pytest --evidence-dir" in s.get("run", "")]
    # The verdict is the job's outcome: nothing may mask the certify step's exit status.
    for masked in ("|| true", "set +e", "exit 0"):
        assert masked not in gate["run"]
    assert "continue-on-error" not in gate and "if" not in gate
    assert "continue-on-error" not in certify
    after = steps[steps.index(gate) + 1 :]
    assert after and all(s.get("if") == "always()" for s in after)
    (summary,) = [s for s in after if "$GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    (upload,) = [s for s in after if s.get("uses", "").startswith("actions/upload-artifact")]
    paths = upload["with"]["path"].split()
    assert "out/certificate.xml" in paths  # junit
    assert "out/certificate.intoto.json" in paths
    assert any(p.endswith(".html") for p in paths)
    # Signing runs only after a successful (certified) certify job.
    assert jobs["attest"]["needs"] == "certify" and "if" not in jobs["attest"]
    assert jobs["attest"]["permissions"]["id-token"] == "write"


def test_gitlab_job_essentials() -> None:
    pipeline = gitlab()
    job = pipeline["certify"]
    assert job["artifacts"]["reports"]["junit"] == "out/certificate.xml"
    assert job["artifacts"]["when"] == "always"
    assert "allow_failure" not in job
    assert any(line.startswith("pytest --evidence-dir=") for line in job["script"])
    assert all("|| true" not in line for line in job["script"])
    assert any("loadcert report" in line for line in job["after_script"])


GITHUB_CONTEXT = {"github.run_id": "1", "github.run_attempt": "2"}


def expand(value: str) -> str:
    """GitHub's ``${{ github.* }}`` expressions, from a fixed context; any other is an error."""

    def one(match: re.Match[str]) -> str:
        return GITHUB_CONTEXT[match.group(1)]

    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", one, value)


def run_certify_job(workspace: Path, env: dict[str, str]) -> tuple[bool, list[str]]:
    """Run the certify job's shell steps as GitHub does: stop at a failure, except if: always()."""
    workflow = github()
    declared = {name: expand(str(value)) for name, value in workflow.get("env", {}).items()}
    env = {**os.environ, **declared, **env}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    failed = False
    ran = []
    for step in workflow["jobs"]["certify"]["steps"]:
        if "run" not in step or step.get("name") == "Install":
            continue
        if failed and step.get("if") != "always()":
            continue
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        ran.append(f"{step['name']}: {done.returncode}")
        failed = failed or done.returncode != 0
    return not failed, ran


def upload_paths() -> list[str]:
    steps = github()["jobs"]["certify"]["steps"]
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    return str(upload["with"]["path"]).split()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["certified", "not_certified"])
def test_certify_job_runs_and_fails_unless_certified(tmp_path: Path, case: str) -> None:
    workspace = tmp_path / "workspace"
    run_dir = workspace / "evidence" / "run"
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_RUN_ID": "1"}
    if case == "certified":
        shutil.copytree(EXAMPLE, run_dir)
        env["LOADCERT_PROFILE"] = str(EXAMPLE_PROFILE)
    else:
        bf.build_variant("p95_high", run_dir)
    env["GITHUB_SHA"] = json.loads((run_dir / "loadcert.json").read_text())["git"]["sha"]
    passed, ran = run_certify_job(workspace, env)
    assert passed is (case == "certified"), ran
    assert ran == ["Certify: " + ("0" if case == "certified" else "1"), "Report: 0"]
    # The workflow's session id reached the certificate, so report and verify in later
    # jobs of the same run accept it and refuse one another run left behind.
    certificate = json.loads((workspace / "out" / "certificate.json").read_text())
    assert certificate["invocation"]["session"] == "gh-1.2"
    summary = (tmp_path / "summary.md").read_text()
    if case == "certified":
        assert f"Certified for 10 concurrent users at `{env['GITHUB_SHA']}`" in summary
    else:
        assert "Certification pending" in summary and "p95\\_latency\\[100k\\]" not in summary
        assert "`p95_latency[100k]`" in summary
    for path in upload_paths():
        assert (workspace / path).is_file(), path


@pytest.mark.slow
@pytest.mark.parametrize(
    "disabled",
    [{"PYTEST_ADDOPTS": "-p no:loadcert"}, {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}],
    ids=["no-loadcert", "autoload-off"],
)
def test_certify_job_fails_when_the_plugin_did_not_run(
    tmp_path: Path, disabled: dict[str, str]
) -> None:
    """A self-hosted runner's workspace keeps out/ from an earlier, certified run; this
    run's pytest starts without the plugin. The job fails, and its report refuses the
    earlier certificate instead of publishing it as this run's."""
    workspace = tmp_path / "workspace"
    run_dir = workspace / "evidence" / "run"
    shutil.copytree(EXAMPLE, run_dir)
    env = {
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "LOADCERT_PROFILE": str(EXAMPLE_PROFILE),
        "GITHUB_SHA": json.loads((run_dir / "loadcert.json").read_text())["git"]["sha"],
    }
    earlier = {**env, "LOADCERT_SESSION": "gh-0.1"}
    assert run_certify_job(workspace, earlier) == (True, ["Certify: 0", "Report: 0"])
    assert json.loads((workspace / "out" / "certificate.json").read_text())["verdict"] == (
        "certified"
    )
    passed, ran = run_certify_job(workspace, {**env, **disabled})
    assert not passed
    assert ran == ["Certify: 4", "Report: 4"], ran
