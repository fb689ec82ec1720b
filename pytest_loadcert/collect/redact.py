"""Redaction of a cluster snapshot before it is written into an evidence bundle.

An evidence bundle is read by reviewers and kept in CI artifacts, so it must not carry what
the cluster keeps secret. Before ``loadcert collect k8s`` writes anything:

- every ``env`` entry of every container, init container and ephemeral container (in pods and
  in the pod templates of workloads) keeps its ``name``; its ``value`` or ``valueFrom`` is
  replaced by ``"value": REDACTED``;
- the annotation ``kubectl.kubernetes.io/last-applied-configuration`` (the whole applied
  manifest, env values included) is replaced by :data:`REDACTED`, wherever ``metadata``
  carries it;
- a Secret never gets in: an item of kind ``Secret`` is dropped, and any nested object of kind
  ``Secret`` loses ``data`` and ``stringData``.

Readiness, ownership, images and counts, everything the gates read, are left untouched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

#: What a redacted value is replaced with.
REDACTED = "<redacted by loadcert>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
SECRET_FIELDS = ("data", "stringData")


@dataclass
class Redactions:
    """How many values were redacted, for the collection record."""

    env_values: int = 0
    annotations: int = 0
    secrets_dropped: int = 0
    secret_fields: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "marker": REDACTED,
            "env_values": self.env_values,
            "annotations": self.annotations,
            "secrets_dropped": self.secrets_dropped,
            "secret_fields": self.secret_fields,
        }


def redact_items(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Redactions]:
    """A redacted deep copy of ``items`` (List items), and what was redacted."""
    counts = Redactions()
    kept: list[dict[str, Any]] = []
    for item in items:
        if item.get("kind") == "Secret":
            counts.secrets_dropped += 1
            continue
        copied = copy.deepcopy(item)
        _walk(copied, counts)
        kept.append(copied)
    return kept, counts


def _redact_env(env: list[Any], counts: Redactions) -> None:
    for index, entry in enumerate(env):
        if not isinstance(entry, dict):
            continue
        if "value" in entry or "valueFrom" in entry:
            env[index] = {"name": entry.get("name"), "value": REDACTED}
            counts.env_values += 1


def _walk(node: Any, counts: Redactions) -> None:
    if isinstance(node, list):
        for value in node:
            _walk(value, counts)
        return
    if not isinstance(node, dict):
        return
    if node.get("kind") == "Secret":
        for key in SECRET_FIELDS:
            if key in node:
                del node[key]
                counts.secret_fields += 1
    for key in CONTAINER_LISTS:
        containers = node.get(key)
        if isinstance(containers, list):
            for container in containers:
                if isinstance(container, dict) and isinstance(container.get("env"), list):
                    _redact_env(container["env"], counts)
    metadata = node.get("metadata")
    if isinstance(metadata, dict):
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = REDACTED
            counts.annotations += 1
    for value in node.values():
        _walk(value, counts)
