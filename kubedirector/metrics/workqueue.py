"""Work queue metrics, named and labelled as client-go/controller-runtime expose them.

Existing dashboards query these names, so they must match exactly. The two
"in progress" gauges are computed when scraped (a custom collector), so no
thread has to refresh them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

Clock = Callable[[], float]

LABELS = ("name", "controller")
# controller-runtime's buckets: 10 ns to 1000 s.
DURATION_BUCKETS = tuple(10e-9 * 10**i for i in range(12))


class QueueMetrics(Protocol):
    """The hooks a queue calls, always under its own lock."""

    def add(self, key: Hashable) -> None:
        """`key` was pushed onto the FIFO."""
        ...

    def get(self, key: Hashable) -> None:
        """`key` was handed to a worker."""
        ...

    def done(self, key: Hashable) -> None:
        """The worker finished with `key`."""
        ...

    def retry(self) -> None:
        """A delayed (re)add was requested."""
        ...


class QueueMetricsProvider(Protocol):
    """Makes the hooks for one named queue."""

    def new_queue_metrics(self, name: str, clock: Clock) -> QueueMetrics:
        """Hooks for the queue called `name`, timed with `clock`."""
        ...


class NoopQueueMetrics:
    """For queues that report nothing (tests, benchmarks)."""

    def add(self, key: Hashable) -> None:
        """Report nothing."""

    def get(self, key: Hashable) -> None:
        """Report nothing."""

    def done(self, key: Hashable) -> None:
        """Report nothing."""

    def retry(self) -> None:
        """Report nothing."""


class PrometheusQueueMetrics:
    """One queue's hooks: counts and durations, plus the start times of running work."""

    def __init__(self, provider: WorkqueueMetricsProvider, name: str, clock: Clock) -> None:
        self.name = name
        self.clock = clock
        self._depth = provider.depth.labels(name, name)
        self._adds = provider.adds.labels(name, name)
        self._latency = provider.queue_duration.labels(name, name)
        self._work = provider.work_duration.labels(name, name)
        self._retries = provider.retries.labels(name, name)
        self._added_at: dict[Hashable, float] = {}
        self._started_at: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def add(self, key: Hashable) -> None:
        self._adds.inc()
        self._depth.inc()
        self._added_at.setdefault(key, self.clock())

    def get(self, key: Hashable) -> None:
        now = self.clock()
        self._depth.dec()
        with self._lock:
            self._started_at[key] = now
        added = self._added_at.pop(key, None)
        if added is not None:
            self._latency.observe(now - added)

    def done(self, key: Hashable) -> None:
        with self._lock:
            started = self._started_at.pop(key, None)
        if started is not None:
            self._work.observe(self.clock() - started)

    def retry(self) -> None:
        self._retries.inc()

    def running(self) -> tuple[float, float]:
        """Seconds of unfinished work in total, and of the longest-running item."""
        now = self.clock()
        with self._lock:
            ages = [now - started for started in self._started_at.values()]
        return sum(ages), max(ages, default=0.0)


class _InProgressCollector:
    """Computes the unfinished-work and longest-running gauges at scrape time."""

    def __init__(self, queues: Callable[[], list[PrometheusQueueMetrics]]) -> None:
        self._queues = queues

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        unfinished, longest = self._families()
        totals: dict[str, tuple[float, float]] = {}
        for queue in self._queues():
            total, oldest = queue.running()
            prev_total, prev_oldest = totals.get(queue.name, (0.0, 0.0))
            totals[queue.name] = (prev_total + total, max(prev_oldest, oldest))
        for name, (total, oldest) in sorted(totals.items()):
            unfinished.add_metric([name, name], total)
            longest.add_metric([name, name], oldest)
        return iter((unfinished, longest))

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "workqueue_unfinished_work_seconds",
                "How many seconds of work has been done that is in progress and hasn't been "
                "observed by work_duration. Large values indicate stuck threads.",
                labels=LABELS,
            ),
            GaugeMetricFamily(
                "workqueue_longest_running_processor_seconds",
                "How many seconds has the longest running processor for workqueue been running.",
                labels=LABELS,
            ),
        )


class WorkqueueMetricsProvider:
    """The workqueue_* metrics on one registry; queues sharing a name share their series."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.depth = Gauge(
            "workqueue_depth", "Current depth of workqueue", LABELS, registry=registry
        )
        self.adds = Counter(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            LABELS,
            registry=registry,
        )
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            LABELS,
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            LABELS,
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.retries = Counter(
            "workqueue_retries",
            "Total number of retries handled by workqueue",
            LABELS,
            registry=registry,
        )
        # Weak, so a discarded queue stops reporting work in progress.
        self._queues: weakref.WeakSet[PrometheusQueueMetrics] = weakref.WeakSet()
        self._lock = threading.Lock()
        registry.register(_InProgressCollector(self._live_queues))

    def new_queue_metrics(self, name: str, clock: Clock) -> PrometheusQueueMetrics:
        metrics = PrometheusQueueMetrics(self, name, clock)
        with self._lock:
            self._queues.add(metrics)
        return metrics

    def _live_queues(self) -> list[PrometheusQueueMetrics]:
        with self._lock:
            return list(self._queues)
