"""Print one line per bundle: its name, verdict and the sha256 of the certificate the
plugin writes for it, without ``generated_at`` and ``invocation.started_at`` (the fields that
name the moment) and ``invocation.session`` (the run's id, fixed here, absent from
certificates before it existed), and with the run's temporary directory written as
``<work>``.

The bundles are the example plus every variant of ``tests/bundlefactory.py``, built once
into BUNDLES_DIR with ``fixtures/build.py`` (``fixtures/bundles/`` keeps only a few golden
ones). Run it before and after a change that must not change behaviour (a refactoring, a
move of modules), with the same BUNDLES_DIR, and compare the two outputs: every
certificate must be byte-identical. The plugin that judges is the one ``sys.executable``
imports, so two checkouts with their own venvs can be compared on one set of bundles:

    .venv/bin/python fixtures/build.py /tmp/variants
    .venv/bin/python tools/certificate_digests.py /tmp/variants > after.txt
    ../old/.venv/bin/python tools/certificate_digests.py /tmp/variants > before.txt
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def bundles(variants: Path) -> list[tuple[str, Path, Path | None]]:
    """(name, bundle, profile): the example with its profile, every variant under
    ``variants`` with the built-in profile they were built for."""
    found: list[tuple[str, Path, Path | None]] = [
        ("evidence/example", REPO / "evidence/example", REPO / "evidence/example.toml")
    ]
    for path in sorted(variants.iterdir()):
        if path.is_dir():
            found.append((path.name, path, None))
    return found


def digest(name: str, bundle: Path, profile: Path | None) -> str:
    with tempfile.TemporaryDirectory() as work:
        certificate = Path(work) / "certificate.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--evidence-dir={bundle}",
            f"--loadcert-certificate={certificate}",
        ]
        if profile is not None:
            command.append(f"--loadcert-profile={profile}")
        env = {**os.environ, "LOADCERT_SESSION": "certificate-digests"}
        subprocess.run(command, cwd=work, env=env, capture_output=True, check=False, timeout=300)
        if not certificate.is_file():
            return f"{name} no-certificate"
        document = json.loads(certificate.read_bytes())
        document.pop("generated_at", None)
        invocation = document.get("invocation")
        if isinstance(invocation, dict):
            invocation.pop("started_at", None)  # the moment the session started
            invocation.pop("session", None)
        # The run's own directory (in its arguments and invocation.dir) is new every time.
        text = json.dumps(document, sort_keys=True, ensure_ascii=False).replace(work, "<work>")
        data = text.encode()
        return f"{name} {document.get('verdict')} sha256:{hashlib.sha256(data).hexdigest()}"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: certificate_digests.py BUNDLES_DIR (written by fixtures/build.py)")
        return 4
    with ThreadPoolExecutor(max_workers=2) as pool:
        for line in pool.map(lambda b: digest(*b), bundles(Path(argv[0]).resolve())):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
