"""``loadcert collect git``: the commit under test, in artifacts/git.json, bound by seal.

Real git repositories in tmp_path: clean, dirty (modified, untracked, ignored), detached
HEAD, not a repository, and git missing from PATH.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import pytest_loadcert.gates as gates
from pytest_loadcert import cli
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle

GIT_JSON = "artifacts/git.json"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("print('under test')\n")
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "under test")
    return repo


def collect(repo: Path, evidence: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(["collect", "git", "--repo", str(repo), "--evidence-dir", str(evidence)])
    out, err = capsys.readouterr()
    return status, out, err


def record(evidence: Path) -> dict[str, object]:
    document = json.loads((evidence / GIT_JSON).read_text())
    assert isinstance(document, dict)
    return document


def test_clean_repository(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evidence = tmp_path / "evidence"
    status, out, err = collect(repo, evidence, capsys)
    assert status == 0, err
    document = record(evidence)
    assert document["sha"] == git(repo, "rev-parse", "HEAD")
    assert len(str(document["sha"])) == 40
    assert document["ref"] == "refs/heads/main"
    assert document["dirty"] is False
    assert str(document["collected_at"]).endswith("Z")
    assert sorted(document) == ["collected_at", "dirty", "ref", "sha"]
    assert f"{document['sha']} refs/heads/main" in out
    assert err == ""


@pytest.mark.parametrize(
    ("change", "dirty"),
    [
        ("modified", True),
        ("untracked", True),  # a new file can be part of what ran
        ("ignored", False),  # .gitignore'd files (logs) are not the code under test
        ("evidence_inside", False),  # writing evidence must not make the tree look modified
    ],
)
def test_dirty_state(
    repo: Path, tmp_path: Path, change: str, dirty: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "evidence"
    if change == "modified":
        (repo / "app.py").write_text("print('changed')\n")
    elif change == "untracked":
        (repo / "new_module.py").write_text("X = 1\n")
    elif change == "ignored":
        (repo / "run.log").write_text("noise\n")
    else:
        evidence = repo / "evidence" / "run-1"  # untracked, but the evidence itself
        (evidence / "stages" / "smoke").mkdir(parents=True)
        (evidence / "stages" / "smoke" / "stage.json").write_text("{}\n")
    status, _out, err = collect(repo, evidence, capsys)
    assert status == 0, err
    assert record(evidence)["dirty"] is dirty
    assert ("git_binding gate blocks a dirty tree" in err) is dirty


def test_detached_head(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    git(repo, "checkout", "-q", "--detach", first)
    evidence = tmp_path / "evidence"
    status, _out, err = collect(repo, evidence, capsys)
    assert status == 0, err
    assert record(evidence) | {"collected_at": ""} == {
        "sha": first,
        "ref": "HEAD",
        "dirty": False,
        "collected_at": "",
    }


def test_not_a_repository_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    evidence = tmp_path / "evidence"
    status, out, err = collect(plain, evidence, capsys)
    assert status == 4
    assert err.count("\n") == 1, err  # one line, no traceback
    assert f"--repo {plain}: cannot read HEAD" in err
    assert "not a git repository" in err
    assert not (evidence / GIT_JSON).exists()
    assert out == ""


def test_repository_without_commits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    status, _out, err = collect(empty, tmp_path / "evidence", capsys)
    assert status == 4
    assert f"--repo {empty}: cannot read HEAD" in err


def test_git_missing_fails(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nothing = tmp_path / "empty-bin"
    nothing.mkdir()
    monkeypatch.setenv("PATH", str(nothing))
    evidence = tmp_path / "evidence"
    status, _out, err = collect(repo, evidence, capsys)
    assert status == 1
    assert err.strip() == (
        "loadcert collect git: error: git is not installed or not on PATH "
        "(needed to read the commit under test)"
    )
    assert not (evidence / GIT_JSON).exists()


# ----------------------------------------------------------------------------- seal and the gate


def seal(evidence: Path, tmp_path: Path, *extra: str) -> int:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("kind: List\n")
    return cli.main([
        "seal", "--evidence-dir", str(evidence), "--run-id", "r1", "--environment", "test",
        "--k8s-manifest", str(manifest), *extra,
    ])  # fmt: skip


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    evidence = tmp_path / "evidence"
    (evidence / "artifacts").mkdir(parents=True)
    (evidence / "artifacts" / "k6-script.js").write_text("export default function () {}\n")
    return evidence


def test_seal_binds_the_recorded_state(
    repo: Path,
    evidence: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The state at collection time is what the bundle binds, even if the tree changes after."""
    assert collect(repo, evidence, capsys)[0] == 0
    recorded = record(evidence)
    (repo / "app.py").write_text("print('edited after the run')\n")
    monkeypatch.chdir(tmp_path)  # not a repository: seal must not need one now
    status = seal(evidence, tmp_path)
    assert status == 0, capsys.readouterr().err
    manifest = json.loads((evidence / "loadcert.json").read_text())
    assert manifest["git"] == {k: recorded[k] for k in ("sha", "ref", "dirty")}
    assert GIT_JSON in manifest["files"]  # the record itself is bound by hash

    result = gates.git_binding(Bundle(evidence), str(recorded["sha"]))
    assert result.passed
    assert result.observed == recorded["sha"]
    with pytest.raises(EvidenceError, match="not the SHA under test"):
        gates.git_binding(Bundle(evidence), "0" * 40)


def test_seal_refuses_a_repository_that_changed_since(
    repo: Path, evidence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert collect(repo, evidence, capsys)[0] == 0
    git(repo, "commit", "-q", "--allow-empty", "-m", "later")
    status = seal(evidence, tmp_path, "--git-repo", str(repo))
    err = capsys.readouterr().err
    assert status == 4
    assert "the repository changed since `loadcert collect git`" in err
    assert not (evidence / "loadcert.json").exists()
    # The same repository, unchanged since: accepted.
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert seal(evidence, tmp_path, "--git-repo", str(repo)) == 0


def test_a_dirty_record_blocks_the_gate(
    repo: Path, evidence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "untracked.py").write_text("\n")
    assert collect(repo, evidence, capsys)[0] == 0
    assert seal(evidence, tmp_path) == 0
    with pytest.raises(EvidenceError, match=r"git\.dirty is true"):
        gates.git_binding(Bundle(evidence), None)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"sha": "abc123"}, "artifacts/git.json: sha must be a full 40-hex commit SHA"),
        ({"dirty": "no"}, "artifacts/git.json: dirty must be true or false"),
        ({"branch": "main"}, "artifacts/git.json: branch is not a known key"),
    ],
)
def test_seal_refuses_a_bad_record(
    repo: Path,
    evidence: Path,
    tmp_path: Path,
    edit: dict[str, object],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert collect(repo, evidence, capsys)[0] == 0
    path = evidence / GIT_JSON
    path.write_text(json.dumps(json.loads(path.read_text()) | edit))
    status = seal(evidence, tmp_path)
    err = capsys.readouterr().err
    assert status == 4
    assert message in err
    assert not (evidence / "loadcert.json").exists()


@pytest.mark.parametrize(
    ("key", "value"), [("sha", "f" * 40), ("ref", "refs/heads/other"), ("dirty", True)]
)
def test_a_manifest_that_disagrees_with_the_record_blocks_the_gate(
    repo: Path,
    evidence: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: str,
    value: object,
) -> None:
    """loadcert.json's git edited after sealing (and re-hashed) no longer matches the record."""
    assert collect(repo, evidence, capsys)[0] == 0
    assert seal(evidence, tmp_path) == 0
    path = evidence / "loadcert.json"
    manifest = json.loads(path.read_text())
    manifest["git"][key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(EvidenceError, match=rf"loadcert\.json: git\.{key} is .*recorded"):
        gates.git_binding(Bundle(evidence), None)
