"""Where each piece of evidence lives in a bundle (contract ``loadcert/v1``), once: the
manifest, the stage directories and the files inside them (``stage.json``, the k6 summary or
its shards and their records, ``prometheus.json``), the cluster snapshot and its collection
record, the Grafana and OTel exports, the git record, the bound script and manifest.
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


#: The directory holding one directory per stage.
STAGES = "stages"
#: Inside a stage's directory: its record (the wall clock around k6, k6's exit code), k6's
#: summary of a run on one machine, and the Prometheus answers for its window.
STAGE_JSON = "stage.json"
SUMMARY = "k6-summary.json"
PROMETHEUS_JSON = "prometheus.json"
#: A distributed stage holds ``k6-summary.<shard>.json`` and ``shard-<shard>.json`` per
#: k6 instance instead of ``k6-summary.json``.
SUMMARY_PREFIX = "k6-summary."
SUMMARY_SUFFIX = ".json"
RECORD_PREFIX = "shard-"
RECORD_SUFFIX = ".json"


def stage_dir(stage: str) -> str:
    """The directory of one stage's evidence (``stage.json``, summaries, ``prometheus.json``)."""
    return f"{STAGES}/{stage}"


def stage_file(stage: str, name: str) -> str:
    """The bundle path of file ``name`` (``STAGE_JSON``, ...) of ``stage``."""
    return f"{stage_dir(stage)}/{name}"


def summary_name(shard: str) -> str:
    """The file name of shard ``shard``'s k6 summary: ``k6-summary.<shard>.json``."""
    return f"{SUMMARY_PREFIX}{shard}{SUMMARY_SUFFIX}"


def record_name(shard: str) -> str:
    """The file name of shard ``shard``'s record: ``shard-<shard>.json``."""
    return f"{RECORD_PREFIX}{shard}{RECORD_SUFFIX}"
