"""The one private pytest import: the junit writer's stash key.

``record_testsuite_property`` on xdist workers is silently dropped (pytest issue 7767), so
the controller adds suite properties to the junit writer itself. pytest offers no public way
to reach the writer; ``_pytest.junitxml.xml_key`` is isolated here, behind a guard, and a
test covers it. The same writer is reached once more to word the ``<error>`` of a gate
that blocked in its body (junit would say "failed on setup"): through its
``node_reporter(report).nodes``, guarded the same way, covered by a test under ``-n 2`` too.
"""

from __future__ import annotations

from typing import Any


def _writer(config: Any) -> Any:
    """pytest's junit writer of this run, or None (no ``--junitxml``, or no such key)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - a pytest without the key
        return None
    return config.stash.get(xml_key, None)


def name_blocked_error(config: Any, report: Any, message: str) -> bool:
    """Give the ``<error>`` of a gate that blocked in its body the message ``message``.

    A blocked gate is written as a setup error so junit records ``<error>``, and junit then
    says "failed on setup", which is untrue of a gate that ran and blocked. False when the
    writer or its element cannot be found (a pytest whose junit writer changed shape).
    """
    xml = _writer(config)
    if xml is None:
        return False
    try:
        nodes = xml.node_reporter(report).nodes
    except AttributeError:  # pragma: no cover - another junit writer
        return False
    for node in reversed(nodes):
        if getattr(node, "tag", None) == "error":
            node.set("message", message)
            return True
    return False


def add_suite_properties(config: Any, properties: list[tuple[str, str]]) -> bool:
    """Add ``properties`` to the ``<testsuite>`` of ``--junitxml``; False when there is none."""
    xml = _writer(config)
    if xml is None:
        return False
    for name, value in properties:
        xml.add_global_property(name, value)
    return True
