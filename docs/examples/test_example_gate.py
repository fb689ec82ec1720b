"""A team's own certification gates: an example (docs/writing-gates.md).

Put a file like this under a path listed in the ini key ``loadcert_gates``. With
``--evidence-dir`` each test here is a gate (it uses ``loadcert_*`` fixtures); both are
parametrized over the profile's stages (``iterations_per_vu[1k]``, ``db_pool_headroom[1k]``).
Without ``--evidence-dir`` they are skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.gates.prometheus import PrometheusLookup
from pytest_loadcert.gates.result import GateResult
from pytest_loadcert.evidence.load import peak_active_vus
from pytest_loadcert.evidence.k6 import K6Summary
from pytest_loadcert.config.profile import StageSpec

#: Our own, stricter bound: the profile's hard limit for db_pool_saturation is 0.8.
DB_POOL_HEADROOM_MAX = 0.7


def test_iterations_per_vu(
    loadcert_k6: tuple[K6Summary, ...],
    loadcert_stage: StageSpec,
    loadcert_judge: Callable[[GateResult], None],
) -> None:
    """k6 completed at least one iteration per VU of the stage's observed peak."""
    iterations = sum(summary.count("iterations", "count") for summary in loadcert_k6)
    peak, peak_source = peak_active_vus(loadcert_k6)
    if peak == 0:
        # No VU ran: a ratio over nothing is not evidence. Block, do not pass or fail.
        first = loadcert_k6[0]
        raise EvidenceError(first.rel, first.field("vus", "max"), "is 0: no VU ran")
    iterations_source = ", ".join(
        f"{summary.rel} {summary.field('iterations', 'count')}" for summary in loadcert_k6
    )
    per_vu = iterations / peak
    loadcert_judge(
        GateResult(
            passed=per_vu >= 1,
            observed=f"{per_vu:.3g} iterations per VU ({iterations} / {peak})",
            required=">= 1",
            samples=f"{iterations} iterations",
            source=f"{iterations_source}; {peak_source}",
            explanation="" if per_vu >= 1 else f"stage {loadcert_stage.name}: VUs idled",
        )
    )


def test_db_pool_headroom(loadcert_prometheus: PrometheusLookup) -> None:
    """The database pool kept headroom under the profile's bound during every stage.

    ``db_pool_saturation`` must be a ``[[metrics]]`` entry of the profile; its answer is read
    from ``stages/<stage>/prometheus.json`` with the same checks as the built-in gate.
    """
    saturation = loadcert_prometheus.value("db_pool_saturation")
    assert saturation <= DB_POOL_HEADROOM_MAX, (
        f"db_pool_saturation {saturation:g} > {DB_POOL_HEADROOM_MAX:g} "
        f"in stage {loadcert_prometheus.stage}"
    )
