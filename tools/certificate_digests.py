"""Print one line per committed bundle: its name, verdict and the sha256 of the certificate
the plugin writes for it, without ``generated_at`` (the only field that names the moment).

Run it before and after a change that must not change behaviour (a refactoring, a move of
modules) and compare the two outputs: every certificate must be byte-identical.

    .venv/bin/python tools/certificate_digests.py > before.txt
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def bundles() -> list[tuple[str, Path, Path | None]]:
    """(name, bundle, profile): the example with its profile, every fixture bundle with the
    built-in profile they were built for."""
    found: list[tuple[str, Path, Path | None]] = [
        ("evidence/example", REPO / "evidence/example", REPO / "evidence/example.toml")
    ]
    for path in sorted((REPO / "fixtures/bundles").iterdir()):
        if path.is_dir():
            found.append((f"fixtures/bundles/{path.name}", path, None))
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
        subprocess.run(command, cwd=work, capture_output=True, check=False, timeout=300)
        if not certificate.is_file():
            return f"{name} no-certificate"
        document = json.loads(certificate.read_bytes())
        document.pop("generated_at", None)
        data = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
        return f"{name} {document.get('verdict')} sha256:{hashlib.sha256(data).hexdigest()}"


def main() -> int:
    with ThreadPoolExecutor(max_workers=2) as pool:
        for line in pool.map(lambda b: digest(*b), bundles()):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
