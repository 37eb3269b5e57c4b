"""`kubedirector_clusters{state}` and `kubedirector_members{state}`, counted at scrape time
from the cluster cache, so they are always what the caches hold and need no bookkeeping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

ClusterSource = Callable[[], Iterable[dict[str, Any]]]


class ClusterStateCollector(Collector):
    """Counts clusters and members by state; `watch` points it at the cluster caches."""

    def __init__(self) -> None:
        self._source: ClusterSource = tuple

    def watch(self, source: ClusterSource) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        clusters: Counter[str] = Counter()
        members: Counter[str] = Counter()
        for cluster in self._source():
            status = cluster.get("status") or {}
            clusters[status.get("state") or "new"] += 1
            for role in status.get("roles") or []:
                for member in role.get("members") or []:
                    members[member.get("state") or "unknown"] += 1
        by_cluster = GaugeMetricFamily("kubedirector_clusters", "KubeDirectorClusters by state",
                                       labels=["state"])
        for state, count in sorted(clusters.items()):
            by_cluster.add_metric([state], count)
        by_member = GaugeMetricFamily("kubedirector_members",
                                      "KubeDirectorCluster members by state", labels=["state"])
        for state, count in sorted(members.items()):
            by_member.add_metric([state], count)
        yield by_cluster
        yield by_member
