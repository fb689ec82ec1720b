"""Where each piece of evidence lives in a bundle (contract ``loadcert/v1``): the manifest,
the stage directories, the cluster snapshot and its collection record, the Grafana and OTel
exports, the git record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
MANIFEST = "loadcert.json"


CLUSTER = "cluster/kubernetes.json"


GRAFANA = "observability/grafana.json"


OTEL = "observability/otel-traces.json"


def stage_dir(stage: str) -> str:
    return f"stages/{stage}"


GIT_JSON = "artifacts/git.json"


COLLECTION = "cluster/collection.json"

#: The bound k6 script and the rendered Kubernetes manifest, copied in by ``loadcert
#: run-stage`` and ``loadcert seal``.
K6_SCRIPT = "artifacts/k6-script.js"
K8S_MANIFEST = "artifacts/k8s-manifest.yaml"
