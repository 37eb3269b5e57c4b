"""The operator's metrics: one registry, exposed on /metrics.

The registry belongs to this package rather than prometheus-client's global
default, so tests can build their own registries without colliding with it.
Counters are declared with their base name: prometheus-client appends `_total`,
giving the exact names controller-runtime dashboards query.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from kubedirector.metrics.clusters import ClusterStateCollector
from kubedirector.metrics.workqueue import WorkqueueMetricsProvider

# Go clients expose no `_created` series; leaving them on would double the series count.
disable_created_metrics()

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

WORKQUEUE = WorkqueueMetricsProvider(REGISTRY)

# controller-runtime's buckets for reconcile time.
# fmt: off
RECONCILE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7,
    0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0,
    10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0,
)
# fmt: on
# Setup scripts install and start software inside members: seconds to many minutes.
SETUP_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0)

RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile",
    "Total number of reconciliations per controller",
    ("controller", "result"),
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors",
    "Total number of reconciliation errors per controller",
    ("controller",),
    registry=REGISTRY,
)
RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller",
    ("controller",),
    registry=REGISTRY,
    buckets=RECONCILE_BUCKETS,
)
MAX_CONCURRENT_RECONCILES = Gauge(
    "controller_runtime_max_concurrent_reconciles",
    "Maximum number of concurrent reconciles per controller",
    ("controller",),
    registry=REGISTRY,
)
ACTIVE_WORKERS = Gauge(
    "controller_runtime_active_workers",
    "Number of currently used workers per controller",
    ("controller",),
    registry=REGISTRY,
)
LEADER_STATUS = Gauge(
    "leader_election_master_status",
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
    "1 indicates master. 'name' is the string used to identify the lease.",
    ("name",),
    registry=REGISTRY,
)
REST_CLIENT_REQUESTS = Counter(
    "rest_client_requests",
    "Number of HTTP requests, partitioned by status code, method, and host.",
    ("code", "method", "host"),
    registry=REGISTRY,
)
REST_CLIENT_RATE_LIMITER_DURATION = Histogram(
    "rest_client_rate_limiter_duration_seconds",
    "Client side rate limiter latency in seconds. Broken down by verb, and host.",
    ("verb", "host"),
    registry=REGISTRY,
    buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0),
)
# Not in REGISTRY: `render` appends its text, which it keeps while no cluster changes.
CLUSTER_STATES = ClusterStateCollector()
SETUP_RUNS = Counter(
    "kubedirector_setup_runs",
    "Setup-script runs in cluster members, by result",
    ("result",),
    registry=REGISTRY,
)
# Both results exist from the start, so `increase()` sees the first error too.
for _result in ("success", "error"):
    SETUP_RUNS.labels(result=_result)
SETUP_DURATION = Histogram(
    "kubedirector_setup_duration_seconds",
    "How long setup-script runs in cluster members take",
    registry=REGISTRY,
    buckets=SETUP_BUCKETS,
)
CLUSTER_TIME_TO_READY = Histogram(
    "kubedirector_cluster_time_to_ready_seconds",
    "From a KubeDirectorCluster's creation to its first Ready",
    registry=REGISTRY,
    buckets=(5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0),
)
WEBHOOK_REQUESTS = Counter(
    "kubedirector_webhook_requests",
    "Admission requests handled by the webhook",
    ("operation", "kind", "allowed"),
    registry=REGISTRY,
)
WEBHOOK_LATENCY = Histogram(
    "kubedirector_webhook_latency_seconds",
    "How long the webhook takes to answer an admission request",
    registry=REGISTRY,
)
WEBHOOK_CERT_EXPIRY = Gauge(
    "kubedirector_webhook_certificate_expiry_timestamp_seconds",
    "When the serving certificate the webhook presents expires (Unix time)",
    registry=REGISTRY,
)


def render() -> tuple[bytes, str]:
    """The exposition body and its Content-Type, for the /metrics handler."""
    return generate_latest(REGISTRY) + CLUSTER_STATES.exposition(), CONTENT_TYPE_LATEST
