"""Public fixtures for gate authors (``pytest --fixtures`` lists them).

Evidence is loaded once per process (session scope) and validated when a gate asks for
it: a fixture that meets unusable evidence raises :class:`EvidenceError`, and the gate is
reported ``blocked`` (a junit ``<error>``), never passed and never failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from pytest_loadcert.plugin.state import STATE_KEY, RunState, record_result

if TYPE_CHECKING:
    from pytest_loadcert.config.profile import Profile, StageSpec
    from pytest_loadcert.evidence.bundle import Bundle, Manifest
    from pytest_loadcert.evidence.cluster import ClusterSnapshot
    from pytest_loadcert.evidence.k6 import K6Summary
    from pytest_loadcert.evidence.stage import StageRun
    from pytest_loadcert.gates.prometheus import PrometheusLookup
    from pytest_loadcert.gates.result import GateResult


def _state(request: pytest.FixtureRequest) -> RunState:
    state = request.config.stash.get(STATE_KEY, None)
    if state is None:
        pytest.skip("a certification gate: run pytest with --evidence-dir DIR")
    return state


@pytest.fixture(scope="session")
def loadcert_profile(request: pytest.FixtureRequest) -> Profile:
    """The certification profile (thresholds, stages, queries, required workloads).

    Example::

        def test_budget(loadcert_profile):
            assert loadcert_profile.k6.p95_ms_max <= 300
    """
    return _state(request).profile


@pytest.fixture(scope="session")
def loadcert_bundle(request: pytest.FixtureRequest) -> Bundle:
    """The evidence bundle (``--evidence-dir``); accessors raise on unusable evidence.

    Example::

        def test_has_cluster(loadcert_bundle):
            assert loadcert_bundle.cluster().of_kind("Pod")
    """
    return _state(request).bundle


@pytest.fixture(scope="session")
def loadcert_git_sha(request: pytest.FixtureRequest) -> str | None:
    """The git SHA under test (``--loadcert-git-sha`` / ``LOADCERT_GIT_SHA``), or None.

    Example::

        def test_release_commit(loadcert_bindings, loadcert_git_sha):
            assert loadcert_git_sha is None or loadcert_bindings.git["sha"] == loadcert_git_sha
    """
    return _state(request).settings.git_sha


@pytest.fixture(scope="session")
def loadcert_bindings(loadcert_bundle: Bundle) -> Manifest:
    """The bundle manifest ``loadcert.json``: git SHA, artifact hashes, image digests.

    Example::

        def test_from_main(loadcert_bindings):
            assert loadcert_bindings.git["ref"] == "refs/heads/main"
    """
    return loadcert_bundle.manifest()


@pytest.fixture
def loadcert_stage(request: pytest.FixtureRequest, loadcert_profile: Profile) -> StageSpec:
    """The current stage; a test that uses it is parametrized over the profile's stages.

    Example::

        def test_my_gate(loadcert_stage):   # test_my_gate[smoke], test_my_gate[1k], ...
            assert loadcert_stage.min_active_vus > 0
    """
    name = getattr(request, "param", None)
    if name is None:
        raise pytest.UsageError(
            "loadcert_stage is parametrized by the plugin; do not call it directly"
        )
    return loadcert_profile.stage(name)


@pytest.fixture
def loadcert_subject(request: pytest.FixtureRequest) -> str:
    """The subject of a built-in gate parametrized over profile items (a metric, a workload)."""
    return str(request.param)


@pytest.fixture
def loadcert_stage_run(loadcert_bundle: Bundle, loadcert_stage: StageSpec) -> StageRun:
    """The stage's ``stage.json``: start/end wall clock, k6 exit code and version.

    Example::

        def test_short_enough(loadcert_stage_run):
            assert loadcert_stage_run.duration_s < 3600
    """
    return loadcert_bundle.stage_run(loadcert_stage.name)


@pytest.fixture
def loadcert_k6(loadcert_bundle: Bundle, loadcert_stage: StageSpec) -> tuple[K6Summary, ...]:
    """The stage's parsed k6 summaries (one, or one per shard), either JSON format.

    Example::

        def test_iterations(loadcert_k6):
            assert sum(s.count("iterations", "count") for s in loadcert_k6) > 0
    """
    return loadcert_bundle.summaries(loadcert_stage.name)


@pytest.fixture
def loadcert_prometheus(
    loadcert_bundle: Bundle, loadcert_profile: Profile, loadcert_stage: StageSpec
) -> PrometheusLookup:
    """Prometheus answers for the current stage's window, by profile metric name.

    A metric that was not queried, returned nothing, or returned NaN blocks the gate.

    Example::

        def test_pool(loadcert_prometheus):
            assert loadcert_prometheus.value("db_pool_saturation") < 0.5
    """
    from pytest_loadcert.gates.prometheus import PrometheusLookup

    return PrometheusLookup(loadcert_bundle, loadcert_profile, loadcert_stage.name)


@pytest.fixture(scope="session")
def loadcert_cluster(loadcert_bundle: Bundle, loadcert_profile: Profile) -> ClusterSnapshot:
    """The live cluster snapshot, only when valid and fresh (else the gate is blocked).

    Example::

        def test_no_crashloop(loadcert_cluster):
            for pod in loadcert_cluster.of_kind("Pod"):
                ...
    """
    from pytest_loadcert.gates.cluster import fresh_snapshot

    return fresh_snapshot(loadcert_bundle, loadcert_profile)


@pytest.fixture
def loadcert_judge(request: pytest.FixtureRequest) -> Callable[[GateResult], None]:
    """Judge a :class:`~pytest_loadcert.gates.result.GateResult`: record it, fail when it failed.

    Example::

        def test_my_gate(loadcert_k6, loadcert_judge):
            loadcert_judge(my_gate_function(loadcert_k6))
    """

    def judge(result: GateResult) -> None:
        record_result(request.node, result)
        if not result.passed:
            pytest.fail(result.message(), pytrace=False)

    return judge


def __getattr__(name: str) -> object:
    # PrometheusLookup lived here; it is pytest-free now (gates/prometheus.py).
    if name == "PrometheusLookup":
        from pytest_loadcert.gates.prometheus import PrometheusLookup

        return PrometheusLookup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "loadcert_bindings",
    "loadcert_bundle",
    "loadcert_cluster",
    "loadcert_git_sha",
    "loadcert_judge",
    "loadcert_k6",
    "loadcert_profile",
    "loadcert_prometheus",
    "loadcert_stage",
    "loadcert_stage_run",
    "loadcert_subject",
]
