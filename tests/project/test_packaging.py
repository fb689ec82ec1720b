"""The package as users get it: the sdist and the wheel built from it, the wheel installed in a
fresh venv (not editable, its declared dependencies from the package index) certifying the
example bundle from outside the repository, and ``python -m pytest_loadcert``.

The build and the venv are made once per test run, shared by the xdist workers.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NAME = "pytest_loadcert"


def _tracked_files() -> list[str]:
    """The repository's files as a clone has them, plus new ones not ignored yet."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted(p for p in listed.split("\0") if p and (REPO / p).is_file())


def _package_files() -> set[str]:
    return {p for p in _tracked_files() if p.startswith(f"{NAME}/")}


def _clean_env() -> dict[str, str]:
    """The environment without the test run's own pytest, loadcert and Python settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "LOADCERT_", "PYTHON", "VIRTUAL_ENV"))
    }


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the whole run (every xdist worker), held under a lock while a
    worker builds into it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / "packaging"
    folder.mkdir(exist_ok=True)
    return folder


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


def _once(folder: Path, make: Callable[[], None]) -> None:
    """Run ``make()`` unless another worker already did, under an exclusive lock."""
    with (folder.parent / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make()
            (folder / "done").touch()


@pytest.fixture(scope="session")
def dists(shared_dir: Path) -> Dists:
    """``python -m build`` on a copy of the repository's files: the sdist, then the wheel
    built from the unpacked sdist (so the sdist is proved complete)."""
    folder = shared_dir / "dist"

    def make() -> None:
        source = folder / "source"
        for name in _tracked_files():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
        subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(folder), str(source)],
            check=True,
            capture_output=True,
            env=_clean_env(),
            timeout=300,
        )

    _once(folder, make)
    (sdist,) = folder.glob("*.tar.gz")
    (wheel,) = folder.glob("*.whl")
    return Dists(sdist, wheel)


@pytest.fixture(scope="session")
def wheel_venv(shared_dir: Path, dists: Dists) -> Path:
    """A fresh venv (no system site-packages) with the wheel and the dependencies it
    declares, installed from the configured package index."""
    folder = shared_dir / "venv"

    def make() -> None:
        venv = folder / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", str(dists.wheel)],
            check=True,
            capture_output=True,
            env=_clean_env(),
            timeout=300,
        )

    _once(folder, make)
    return folder / "venv"


def _example_copy(folder: Path) -> None:
    shutil.copytree(REPO / "evidence/example", folder / "example")
    shutil.copy2(REPO / "evidence/example.toml", folder / "example.toml")


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=_clean_env(), timeout=300
    )


def _certified(result: subprocess.CompletedProcess[str], folder: Path) -> None:
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    certificate = json.loads((folder / "certificate.json").read_text())
    assert certificate["verdict"] == "certified", result.stdout[-3000:]
    assert certificate["profile_source"] == str(folder / "example.toml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


# ----------------------------------------------------------------------------- python -m


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    from pytest_loadcert import __version__

    result = _run([sys.executable, "-m", NAME, "--version"], tmp_path)
    assert (result.returncode, result.stdout) == (0, f"loadcert {__version__}\n")
    result = _run([sys.executable, "-m", NAME, "certify"], tmp_path)
    assert result.returncode == 4
    assert "the following arguments are required: --evidence-dir" in result.stderr
    assert result.stderr.startswith("usage: loadcert certify")


# ----------------------------------------------------------------------------- sdist, wheel


@pytest.mark.slow
def test_the_sdist_ships_the_package_licence_and_readme_not_the_tests(dists: Dists) -> None:
    """The tests need the repository (fixtures/, evidence/, docs/) and real tools; shipped
    alone they could not run, so the sdist leaves them out and ships the package whole."""
    with tarfile.open(dists.sdist) as sdist:
        names = [m.name for m in sdist.getmembers() if m.isfile()]
        prefix = "pytest_loadcert-0.1.0/"
        assert all(n.startswith(prefix) for n in names)
        files = {n.removeprefix(prefix) for n in names}
        licence = sdist.extractfile(prefix + "LICENSE")
        assert licence is not None
        assert licence.read() == (REPO / "LICENSE").read_bytes()
    top = {f.split("/", 1)[0] for f in files}
    assert top == {
        "LICENSE",
        "MANIFEST.in",
        "PKG-INFO",
        "README.md",
        "pyproject.toml",
        "setup.cfg",
        NAME,
        f"{NAME}.egg-info",
    }
    assert {f for f in files if f.startswith(f"{NAME}/")} == _package_files()


@pytest.mark.slow
def test_the_wheel_holds_the_package_its_licence_and_metadata(dists: Dists) -> None:
    dist_info = "pytest_loadcert-0.1.0.dist-info"
    with zipfile.ZipFile(dists.wheel) as wheel:
        files = set(wheel.namelist())
        metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        licence = wheel.read(f"{dist_info}/licenses/LICENSE")
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert {f for f in files if not f.startswith(dist_info)} == _package_files()
    assert licence == (REPO / "LICENSE").read_bytes()
    assert b"Apache License" in licence and b"Version 2.0, January 2004" in licence
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert set(urls) == {"Homepage", "Documentation", "Issues", "Changelog"}
    assert all(u.startswith(urls["Homepage"]) for u in urls.values())
    assert "loadcert = pytest_loadcert.plugin.hooks" in entry_points
    assert "loadcert = pytest_loadcert.cli:main" in entry_points


# ----------------------------------------------------------------------------- installed wheel


@pytest.mark.slow
def test_the_installed_wheel_is_not_the_checkout(wheel_venv: Path, tmp_path: Path) -> None:
    """The venv imports the installed copy and has only the declared dependencies."""
    probe = (
        "import importlib.util, pytest_loadcert; print(pytest_loadcert.__file__); "
        "print(importlib.util.find_spec('hypothesis') is None)"
    )
    result = _run([str(wheel_venv / "bin/python"), "-c", probe], tmp_path)
    where, no_hypothesis = result.stdout.split()
    assert Path(where).is_relative_to(wheel_venv) and "site-packages" in where
    assert no_hypothesis == "True"


@pytest.mark.slow
@pytest.mark.parametrize("project", ["plain", "filterwarnings-error"])
def test_loadcert_certify_from_the_wheel_outside_the_repository(
    wheel_venv: Path, tmp_path: Path, project: str
) -> None:
    """Installed from a wheel pytest rewrites the plugin's modules; `loadcert certify` must
    not have imported them first (a project with filterwarnings = error would then fail)."""
    _example_copy(tmp_path)
    if project == "filterwarnings-error":
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "shop"\nversion = "1"\n\n'
            '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n'
        )
    result = _run(
        [
            str(wheel_venv / "bin/loadcert"),
            "certify",
            "--evidence-dir",
            "example",
            "--loadcert-profile",
            "example.toml",
        ],
        tmp_path,
    )
    _certified(result, tmp_path)


@pytest.mark.slow
def test_pytest_and_python_dash_m_from_the_wheel_outside_the_repository(
    wheel_venv: Path, tmp_path: Path
) -> None:
    _example_copy(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n'
    )
    result = _run(
        [
            str(wheel_venv / "bin/pytest"),
            "--evidence-dir=example",
            "--loadcert-profile=example.toml",
        ],
        tmp_path,
    )
    _certified(result, tmp_path)
    (tmp_path / "certificate.json").unlink()
    result = _run(
        [
            str(wheel_venv / "bin/python"),
            "-m",
            NAME,
            "certify",
            "--evidence-dir",
            str(tmp_path / "example"),
            "--loadcert-profile",
            "example.toml",
        ],
        tmp_path,
    )
    _certified(result, tmp_path)
