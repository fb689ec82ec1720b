"""Where each piece of evidence lives in a bundle (contract ``loadcert/v1``), once: the
manifest, the stage directories, the cluster snapshot and its collection record, the Grafana
and OTel exports, the git record, the bound script and manifest.
"""

from __future__ import annotations

#: The manifest ``loadcert seal`` writes: what is bound, with each file's sha256.
MANIFEST = "loadcert.json"
#: The cluster snapshot (a Kubernetes List) and the record of how it was collected.
CLUSTER = "cluster/kubernetes.json"
COLLECTION = "cluster/collection.json"
#: The Grafana and OpenTelemetry exports.
GRAFANA = "observability/grafana.json"
OTEL = "observability/otel-traces.json"
#: The git record ``loadcert collect git`` writes.
GIT_JSON = "artifacts/git.json"
#: The bound k6 script and the rendered Kubernetes manifest, copied in by ``loadcert
#: run-stage`` and ``loadcert seal``.
K6_SCRIPT = "artifacts/k6-script.js"
K8S_MANIFEST = "artifacts/k8s-manifest.yaml"


def stage_dir(stage: str) -> str:
    """The directory of one stage's evidence (``stage.json``, summaries, ``prometheus.json``)."""
    return f"stages/{stage}"


#: The files pytest reads its configuration from (one of them fixes the rootdir).
PYTEST_CONFIG_NAMES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)
