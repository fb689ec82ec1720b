"""What a local run binds as the code under test: a one-commit snapshot repository of
exactly what runs (the demo service's modules, the k6 script, the profile), recorded with
``loadcert collect git``, and the illustrative Kubernetes manifest of a service that ran as
a local process."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pytest_loadcert.demo.processes import PipelineError, Progress

MANIFEST_TEMPLATE = """\
# ILLUSTRATIVE: how the {name} would be deployed on Kubernetes.
# Nothing was applied to any cluster for this bundle: the service ran as a local process
# on 127.0.0.1 (python -m {module}).
# The image digest below is the sha256 of its source file ({source}),
# not of a container image.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: {name}@{digest}
          command: ["python", "-m", "{module}", "--port", "8080"]
          ports:
            - {{name: http, containerPort: 8080}}
          readinessProbe:
            httpGet: {{path: /, port: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {namespace}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/path: /metrics
spec:
  selector: {{app: {name}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
"""


def illustrative_manifest(name: str, module: str, source: str, namespace: str, digest: str) -> str:
    """A Deployment + Service for a service that ran as a local process; says so in its header."""
    return MANIFEST_TEMPLATE.format(
        name=name, module=module, source=source, namespace=namespace, digest=digest
    )


def record_git(out: Path, bundle: Path, progress: Progress) -> bool:
    """``loadcert collect git`` of a snapshot repository of exactly what the demo runs.

    The code under test is the packaged demo service, never the current directory's
    repository: binding that repository's commit would certify a commit that was not
    tested. Returns False when no git state could be recorded (git missing).
    """
    from pytest_loadcert.collect.git import GitError, collect

    if shutil.which("git") is None:
        progress.detail("git is not installed: nothing can bind the code under test, so the")
        progress.detail("bundle is not sealed and the certificate will be blocked")
        return False
    snapshot = snapshot_repository(out)
    try:
        document = collect(snapshot, bundle)
    except GitError as error:
        raise PipelineError(f"git state of the snapshot {snapshot}: {error}") from None
    progress.detail(
        f"binding what runs: {snapshot} (the demo service's source, the k6 script, the "
        f"profile), commit {document['sha'][:12]} {document['ref']}"
    )
    return True


#: The package modules the demo service runs, bound in the snapshot repository.
SERVICE_MODULES = ("demo.service", "demo.otlpjson", "demo.exampleservice")


def snapshot_repository(out: Path) -> Path:
    """A one-commit repository of the demo's inputs under ``out/source``."""
    import importlib

    source = out / "source"
    source.mkdir()
    for name in SERVICE_MODULES:
        module_file = importlib.import_module(f"pytest_loadcert.{name}").__file__
        if module_file is None:
            raise PipelineError(f"pytest_loadcert.{name} has no source file to bind")
        shutil.copyfile(module_file, source / f"{name.rsplit('.', 1)[-1]}.py")
    shutil.copyfile(out / "script.js", source / "script.js")
    shutil.copyfile(out / "profile.toml", source / "profile.toml")
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    for args in (
        ["init", "-q", "-b", "loadcert-demo"],
        ["add", "."],
        ["commit", "-q", "-m", "loadcert demo: the service, script and profile that ran"],
    ):
        done = subprocess.run(
            [
                "git",
                "-C",
                str(source),
                "-c",
                "user.name=loadcert demo",
                "-c",
                "user.email=loadcert-demo@localhost",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise PipelineError(f"git {args[0]} in {source}: {done.stderr.strip()}")
    return source
