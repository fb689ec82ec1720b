"""The built-in profile, as the TOML a team would write: the founding pipeline's numbers."""

from __future__ import annotations

from typing import Any

#: The built-in profile: the founding pipeline's numbers (see docs/gates.md).
DEFAULT_PROFILE: dict[str, Any] = {
    "target_concurrency": 100000,
    "stages": [
        {"name": "smoke", "min_active_vus": 20},
        {"name": "1k", "min_active_vus": 1000},
        {"name": "10k", "min_active_vus": 10000},
        {"name": "25k", "min_active_vus": 25000},
        {"name": "50k", "min_active_vus": 50000},
        {"name": "100k", "min_active_vus": 100000},
    ],
    "k6": {
        "p95_ms_max": 300,
        "p99_ms_max": 800,
        "http_req_failed_max": 0.001,
        "checks_min": 0.999,
        "dropped_iterations_max": 0,
        "min_requests": 1,
        "duration_tolerance_s": 5,
        "eval_delay_max_s": 30,
    },
    "metrics": [
        {
            "name": "gateway_restarts",
            "promql": 'sum(increase(kube_pod_container_status_restarts_total{pod=~"gateway-.*"}'
            "[{window}]))",
            "max": 0,
        },
        {
            "name": "realtime_ws_connected",
            "promql": "sum(max_over_time(realtime_ws_connected[{window}]))",
            "min": 1,
        },
        {
            "name": "realtime_dropped_connections",
            "promql": "sum(increase(realtime_ws_dropped_connections_total[{window}]))",
            "max": 50,
        },
        {
            "name": "db_pool_saturation",
            "promql": "max(max_over_time(db_pool_saturation_ratio[{window}]))",
            "max": 0.8,
        },
        {
            "name": "object_store_errors",
            "promql": "sum(increase(object_store_errors_total[{window}]))",
            "max": 0,
        },
        {
            "name": "nats_lag",
            "promql": "max(max_over_time(nats_consumer_num_pending[{window}]))",
            "max": 1000,
        },
        {
            "name": "vector_store_consistent",
            "promql": "min(min_over_time(vector_store_consistent[{window}]))",
            "min": 1,
        },
    ],
    "prometheus": {"max_gap_s": 30},
    "stability": [
        {
            "name": "realtime_stability",
            "total": "realtime_ws_connected",
            "dropped": "realtime_dropped_connections",
            "min": 0.999,
        }
    ],
    "cluster": {
        "required": True,
        "namespace": "shop",
        "deployments": ["gateway", "realtime-gateway", "pgbouncer"],
        "statefulsets": ["nats", "qdrant", "valkey"],
        "hpas": ["gateway", "realtime-gateway"],
        "pdbs": ["gateway", "realtime-gateway"],
        "services": ["gateway", "realtime-gateway", "pgbouncer", "nats", "qdrant", "valkey"],
        "max_snapshot_age_s": 900,
        "max_clock_skew_s": 5,
    },
    "observability": {
        "grafana": True,
        "otel": True,
        # What the exports must be about: the dashboard, and the services' OTel resource.
        "grafana_dashboard_uid": "loadcert-checkout",
        "otel_services": ["gateway", "realtime-gateway"],
        "otel_namespace": "shop",
        "otel_environment": "staging",
    },
    "waivers": [],
}
