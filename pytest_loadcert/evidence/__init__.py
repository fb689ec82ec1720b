"""The bundle on disk (contract ``loadcert/v1``), read side: its paths
(:mod:`~pytest_loadcert.evidence.layout`), the lazy
:class:`~pytest_loadcert.evidence.bundle.Bundle`,
and one parser per kind of evidence (k6 summaries, Prometheus answers, the cluster snapshot,
Grafana and OTel exports, shard records, the git record), with strict JSON, schemas, hashing
and time.

pytest-free. Imports only :mod:`pytest_loadcert.config` and :mod:`pytest_loadcert.errors`;
never ``gates``, ``certify``, ``collect``, ``run``, ``report``, ``plugin`` or the CLI.
"""
