"""Benchmark: what certification costs (wall clock), printed as figures.

    .venv/bin/python bench/certify.py [--repeat N]

Measures, each as the median of N fresh processes:

- ``import pytest_loadcert.plugin.hooks`` (pytest imports every installed plugin on every run);
- ``pytest --evidence-dir=evidence/example`` (3 stages, the example profile);
- the same on a generated default-profile bundle (6 stages, 7 metrics, the full cluster:
  every built-in gate of the default profile), built with ``tests/bundlefactory.py``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done.returncode


def median_of(label: str, argv: list[str], cwd: Path, repeat: int) -> None:
    runs = [timed(argv, cwd) for _ in range(repeat)]
    seconds = [s for s, _ in runs]
    statuses = sorted({code for _, code in runs})
    print(
        f"{label:<54} median {statistics.median(seconds):6.3f} s  "
        f"(min {min(seconds):.3f}, max {max(seconds):.3f}, n={repeat}, exit {statuses})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    median_of(
        "import pytest_loadcert.plugin.hooks",
        [python, "-c", "import pytest_loadcert.plugin.hooks"],
        ROOT,
        args.repeat,
    )
    median_of("python -c pass (interpreter start)", [python, "-c", "pass"], ROOT, args.repeat)
    pytest_args = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    median_of(
        "certify evidence/example (3 stages)",
        [*pytest_args, "--evidence-dir=evidence/example"],
        ROOT,
        args.repeat,
    )
    sys.path.insert(0, str(ROOT / "tests"))
    from bundlefactory import build_bundle  # the tests' bundle factory

    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_bundle(Path(tmp) / "bundle")
        # An empty pyproject in the run directory: the default profile applies.
        (Path(tmp) / "pyproject.toml").write_text("")
        median_of(
            "certify default-profile bundle (6 stages, all gates)",
            [*pytest_args, f"--evidence-dir={bundle}", f"--rootdir={tmp}"],
            Path(tmp),
            args.repeat,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
