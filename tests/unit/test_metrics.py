"""Metric names and labels match what controller-runtime dashboards query."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kubedirector.controller.controller import Controller
from kubedirector.controller.queue import RateLimitingQueue
from kubedirector.controller.result import Result
from kubedirector.metrics import registry
from kubedirector.metrics.clusters import ClusterStateCollector
from kubedirector.metrics.workqueue import WorkqueueMetricsProvider

WORKQUEUE_LABELS = {"name", "controller"}
EXPECTED = {
    "workqueue_depth": ("gauge", WORKQUEUE_LABELS),
    "workqueue_adds_total": ("counter", WORKQUEUE_LABELS),
    "workqueue_queue_duration_seconds": ("histogram", WORKQUEUE_LABELS),
    "workqueue_work_duration_seconds": ("histogram", WORKQUEUE_LABELS),
    "workqueue_unfinished_work_seconds": ("gauge", WORKQUEUE_LABELS),
    "workqueue_longest_running_processor_seconds": ("gauge", WORKQUEUE_LABELS),
    "workqueue_retries_total": ("counter", WORKQUEUE_LABELS),
    "controller_runtime_reconcile_total": ("counter", {"controller", "result"}),
    "controller_runtime_reconcile_errors_total": ("counter", {"controller"}),
    "controller_runtime_reconcile_time_seconds": ("histogram", {"controller"}),
    "controller_runtime_max_concurrent_reconciles": ("gauge", {"controller"}),
    "controller_runtime_active_workers": ("gauge", {"controller"}),
    "leader_election_master_status": ("gauge", {"name"}),
    "rest_client_requests_total": ("counter", {"code", "method", "host"}),
    "kubedirector_clusters": ("gauge", {"state"}),
    "kubedirector_members": ("gauge", {"state"}),
    "kubedirector_setup_runs_total": ("counter", {"result"}),
    "kubedirector_setup_duration_seconds": ("histogram", set()),
    "kubedirector_webhook_requests_total": ("counter", {"operation", "kind", "allowed"}),
    "kubedirector_webhook_latency_seconds": ("histogram", set()),
    "kubedirector_webhook_certificate_expiry_timestamp_seconds": ("gauge", set()),
    "kubedirector_cluster_condition": ("gauge", {"cluster_namespace", "cluster_name", "type"}),
    "kubedirector_cluster_members": ("gauge", {"cluster_namespace", "cluster_name", "state"}),
    "kubedirector_cluster_upgrade_members": (
        "gauge",
        {"cluster_namespace", "cluster_name", "phase", "state"},
    ),
    "kubedirector_cluster_time_to_ready_seconds": ("histogram", set()),
    "rest_client_rate_limiter_duration_seconds": ("histogram", {"verb", "host"}),
}
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? ")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def exposition() -> str:
    body, content_type = registry.render()
    assert content_type.startswith("text/plain")
    return body.decode()


def test_every_name_is_exposed_exactly_with_its_type():
    text = exposition()
    for name, (kind, _) in EXPECTED.items():
        assert f"# TYPE {name} {kind}\n" in text, name


def test_labels_are_exactly_the_documented_ones():
    """Touch each labelled metric once, then read the label names off the samples."""
    registry.RECONCILE_TOTAL.labels("kdcluster", "success").inc(0)
    registry.RECONCILE_ERRORS.labels("kdcluster").inc(0)
    registry.RECONCILE_TIME.labels("kdcluster").observe(0)
    registry.MAX_CONCURRENT_RECONCILES.labels("kdcluster").set(1)
    registry.ACTIVE_WORKERS.labels("kdcluster").set(0)
    registry.LEADER_STATUS.labels("kubedirector").set(0)
    registry.REST_CLIENT_REQUESTS.labels("200", "GET", "10.0.0.1:6443").inc(0)
    registry.REST_CLIENT_RATE_LIMITER_DURATION.labels("GET", "10.0.0.1:6443").observe(0)
    registry.CLUSTER_STATES.watch(
        lambda: [
            {
                "status": {
                    "state": "configured",
                    "roles": [{"members": [{"state": "configured"}]}],
                    "upgrade": {"phase": "Upgraded", "members": [{"state": "done"}]},
                }
            }
        ]
    )
    registry.SETUP_RUNS.labels("success").inc(0)
    registry.WEBHOOK_REQUESTS.labels("CREATE", "KubeDirectorCluster", "true").inc(0)
    queue: RateLimitingQueue[str] = RateLimitingQueue("labels-check")
    queue.add_after("x", 0)
    seen: dict[str, set[str]] = {}
    for line in exposition().splitlines():
        match = SAMPLE.match(line)
        if match is None:
            continue
        labels = {part.split("=")[0] for part in (match["labels"] or "").split(",") if part}
        seen.setdefault(match["name"], set()).update(labels - {"le"})
    for name, (kind, labels) in EXPECTED.items():
        sample = f"{name}_count" if kind == "histogram" else name
        assert seen.get(sample) == labels, name
    queue.shutdown()


def test_process_collector_and_no_created_series():
    text = exposition()
    assert "process_cpu_seconds_total" in text
    assert "_created" not in text


def exposed(name: str, **labels: str) -> float | None:
    """The value of one series as a scrape of /metrics shows it."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposition().splitlines():
        series, _, number = line.rpartition(" ")
        if series == f"{name}{{{wanted}}}":
            return float(number)
    return None


class _Outcomes:
    """A reconciler that answers each key with the next of `outcomes`."""

    def __init__(self, *outcomes: Result | Exception) -> None:
        self.outcomes = list(outcomes)

    def reconcile(self, key: str) -> Result:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_a_controllers_reconciles_are_counted_on_the_scrape():
    """The counters the controller increments are the ones /metrics exposes, with zero
    series from the start (dashboards see the controller before its first reconcile)."""
    name = "metrics-scrape-check"
    controller = Controller(
        name,
        _Outcomes(Result.after(30), RuntimeError("boom")),
        queue=RateLimitingQueue(name, metrics=False),
    )
    total = "controller_runtime_reconcile_total"
    errors = "controller_runtime_reconcile_errors_total"
    assert exposed(total, controller=name, result="requeue_after") == 0
    assert exposed(errors, controller=name) == 0
    controller.process("ns/a")
    controller.process("ns/a")
    assert exposed(total, controller=name, result="requeue_after") == 1
    assert exposed(total, controller=name, result="error") == 1
    assert exposed(total, controller=name, result="success") == 0
    assert exposed(errors, controller=name) == 1
    controller.queue.shutdown()


@pytest.fixture
def own_registry() -> tuple[CollectorRegistry, WorkqueueMetricsProvider]:
    reg = CollectorRegistry()
    return reg, WorkqueueMetricsProvider(reg)


def value(reg: CollectorRegistry, name: str, queue: str = "q") -> float | None:
    return reg.get_sample_value(name, {"name": queue, "controller": queue})


def test_queue_reports_depth_adds_latency_and_work_time(own_registry):
    reg, provider = own_registry
    clock = FakeClock()
    queue: RateLimitingQueue[str] = RateLimitingQueue("q", metrics=provider, clock=clock)
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert value(reg, "workqueue_depth") == 2
    assert value(reg, "workqueue_adds_total") == 2
    clock.now += 2
    key, _ = queue.get(timeout=0)
    assert key is not None
    assert value(reg, "workqueue_depth") == 1
    assert value(reg, "workqueue_queue_duration_seconds_sum") == 2
    clock.now += 3
    queue.get(timeout=0)
    clock.now += 1
    assert value(reg, "workqueue_unfinished_work_seconds") == 4 + 1
    assert value(reg, "workqueue_longest_running_processor_seconds") == 4
    queue.done(key)
    assert value(reg, "workqueue_work_duration_seconds_sum") == 4
    assert value(reg, "workqueue_work_duration_seconds_count") == 1
    assert value(reg, "workqueue_longest_running_processor_seconds") == 1
    queue.shutdown()


def test_delayed_adds_count_as_retries_and_latency_starts_when_ready(own_registry):
    reg, provider = own_registry
    clock = FakeClock()
    queue: RateLimitingQueue[str] = RateLimitingQueue("q", metrics=provider, clock=clock)
    queue.add_after("a", 5)
    queue.add_rate_limited("b")
    assert value(reg, "workqueue_retries_total") == 2
    assert value(reg, "workqueue_depth") == 0
    clock.now += 5
    assert len(queue) == 2
    clock.now += 1
    queue.get(timeout=0)
    assert value(reg, "workqueue_queue_duration_seconds_sum") == 1
    queue.shutdown()


def test_queues_sharing_a_name_share_their_series(own_registry):
    reg, provider = own_registry
    clock = FakeClock()
    first: RateLimitingQueue[str] = RateLimitingQueue("q", metrics=provider, clock=clock)
    second: RateLimitingQueue[str] = RateLimitingQueue("q", metrics=provider, clock=clock)
    for queue in (first, second):
        queue.add("a")
        queue.get(timeout=0)
    clock.now += 2
    assert value(reg, "workqueue_unfinished_work_seconds") == 4
    assert value(reg, "workqueue_longest_running_processor_seconds") == 2
    first.shutdown()
    second.shutdown()


def test_a_queue_without_metrics_reports_nothing():
    queue: RateLimitingQueue[str] = RateLimitingQueue("silent", metrics=False)
    queue.add("a")
    assert value(registry.REGISTRY, "workqueue_adds_total", "silent") is None
    queue.shutdown()


def test_cluster_and_member_gauges_count_the_cache_at_scrape_time():
    collector = ClusterStateCollector()
    clusters: list[dict[str, Any]] = [
        {
            "status": {
                "state": "configured",
                "roles": [{"members": [{"state": "configured"}, {"state": "configured"}]}],
            }
        },
        {
            "status": {
                "state": "creating",
                "roles": [
                    {"members": [{"state": "creating"}]},
                    {"members": [{"state": "create pending"}]},
                ],
            }
        },
        {"metadata": {"name": "not-yet-reconciled"}},
    ]
    collector.watch(lambda: clusters)
    families = {
        f.name: {s.labels["state"]: s.value for s in f.samples}
        for f in collector.collect()
        if f.name != "kubedirector_cluster_condition"
    }
    assert families["kubedirector_clusters"] == {"configured": 1, "creating": 1, "new": 1}
    assert families["kubedirector_members"] == {"configured": 2, "creating": 1, "create pending": 1}
    clusters.pop(0)
    again = {
        f.name: {s.labels["state"]: s.value for s in f.samples}
        for f in collector.collect()
        if f.name != "kubedirector_cluster_condition"
    }
    assert "configured" not in again["kubedirector_clusters"]


def test_cluster_conditions_are_one_series_per_cluster_and_type():
    collector = ClusterStateCollector()
    clusters: list[dict[str, Any]] = [
        {
            "metadata": {"namespace": "a", "name": "x"},
            "status": {
                "conditions": [
                    {"type": "Degraded", "status": "True"},
                    {"type": "Ready", "status": "False"},
                ]
            },
        },
        {"metadata": {"namespace": "b", "name": "x"}},
    ]
    collector.watch(lambda: clusters)
    family = next(f for f in collector.collect() if f.name == "kubedirector_cluster_condition")
    got = {
        (s.labels["cluster_namespace"], s.labels["cluster_name"], s.labels["type"]): s.value
        for s in family.samples
    }
    assert got == {
        ("a", "x", "Ready"): 0,
        ("a", "x", "Progressing"): 0,
        ("a", "x", "Degraded"): 1,
        ("b", "x", "Ready"): 0,
        ("b", "x", "Progressing"): 0,
        ("b", "x", "Degraded"): 0,
    }


def test_setup_results_and_the_certificate_expiry_are_exposed_from_the_start():
    text = exposition()
    assert 'kubedirector_setup_runs_total{result="error"}' in text
    assert 'kubedirector_setup_runs_total{result="success"}' in text


def test_members_by_state_per_cluster():
    collector = ClusterStateCollector()
    clusters: list[dict[str, Any]] = [
        {
            "metadata": {"namespace": "a", "name": "x"},
            "status": {
                "state": "paused",
                "roles": [
                    {"members": [{"state": "configured"}, {"state": "creating"}]},
                    {"members": [{"state": "configured"}]},
                ],
            },
        },
        {"metadata": {"namespace": "b", "name": "x"}, "status": {"state": "creating"}},
    ]
    collector.watch(lambda: clusters)
    families = {f.name: f for f in collector.collect()}
    got = {
        (s.labels["cluster_namespace"], s.labels["cluster_name"], s.labels["state"]): s.value
        for s in families["kubedirector_cluster_members"].samples
    }
    assert got == {("a", "x", "configured"): 2, ("a", "x", "creating"): 1}
    states = {s.labels["state"]: s.value for s in families["kubedirector_clusters"].samples}
    assert states == {"paused": 1, "creating": 1}


def test_upgrade_progress_per_cluster():
    """Every upgrade state is a series (0 included), so a rollout's progress is
    `done / sum`; clusters that never upgraded have none."""
    collector = ClusterStateCollector()
    record = {
        "phase": "Failed",
        "members": [{"state": "done"}, {"state": "failed"}, {"state": "pending"}],
    }
    collector.watch(
        lambda: [
            {"metadata": {"namespace": "a", "name": "x"}, "status": {"upgrade": record}},
            {"metadata": {"namespace": "a", "name": "y"}, "status": {}},
        ]
    )
    families = {f.name: f for f in collector.collect()}
    got = {
        (s.labels["cluster_name"], s.labels["phase"], s.labels["state"]): s.value
        for s in families["kubedirector_cluster_upgrade_members"].samples
    }
    assert got == {
        ("x", "Failed", "pending"): 1,
        ("x", "Failed", "moving"): 0,
        ("x", "Failed", "done"): 1,
        ("x", "Failed", "failed"): 1,
        ("x", "Failed", "unchanged"): 0,
    }


def ready_cluster(name: str, rv: str, ready: str = "True") -> dict[str, Any]:
    return {
        "metadata": {"namespace": "a", "name": name, "resourceVersion": rv},
        "status": {
            "state": "configured",
            "conditions": [{"type": "Ready", "status": ready}],
            "roles": [{"members": [{"state": "configured"}]}],
        },
    }


def test_the_exposition_is_the_collected_families_rendered():
    collector = ClusterStateCollector()
    clusters = [ready_cluster("x", "1"), ready_cluster("y", "2", ready="False")]
    collector.watch(lambda: clusters)
    assert collector.exposition() == generate_latest(collector)
    text = collector.exposition().decode()
    assert (
        'kubedirector_cluster_condition{cluster_name="y",cluster_namespace="a",type="Ready"} 0.0'
        in text
    )
    assert 'kubedirector_clusters{state="configured"} 2.0' in text


def test_the_exposition_is_kept_until_a_cluster_changes():
    """An idle operator's scrapes reuse the text; any new resourceVersion, added or
    removed cluster renders it again."""
    collector = ClusterStateCollector()
    clusters = [ready_cluster("x", "1")]
    collector.watch(lambda: clusters)
    first = collector.exposition()
    assert collector.exposition() is first
    clusters[0] = ready_cluster("x", "2", ready="False")
    changed = collector.exposition()
    assert b'cluster_name="x",cluster_namespace="a",type="Ready"} 0.0' in changed
    clusters.append(ready_cluster("y", "3"))
    added = collector.exposition()
    assert b'cluster_name="y"' in added
    clusters.pop()
    assert b'cluster_name="y"' not in collector.exposition()


def test_clusters_without_a_resource_version_are_rendered_every_time():
    collector = ClusterStateCollector()
    cluster: dict[str, Any] = {"metadata": {"namespace": "a", "name": "x"}, "status": {}}
    collector.watch(lambda: [cluster])
    assert b'kubedirector_clusters{state="new"} 1.0' in collector.exposition()
    cluster["status"] = {"state": "configured"}
    assert b'kubedirector_clusters{state="configured"} 1.0' in collector.exposition()


def test_rendering_adds_the_cluster_families_to_the_registry():
    registry.CLUSTER_STATES.watch(lambda: [ready_cluster("x", "1")])
    text = exposition()
    assert "# TYPE controller_runtime_reconcile_total counter\n" in text
    assert (
        'kubedirector_cluster_members{cluster_name="x",cluster_namespace="a",'
        'state="configured"} 1.0' in text
    )
