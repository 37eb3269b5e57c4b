"""Adopting a cluster the original operator made (reconcilers/cluster/adoption.py):
recognised by its status, its StatefulSets marked and then written only in
`spec.replicas`, unless the cluster opts in to the migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubedirector.api.status import ClusterStatus
from kubedirector.reconcilers.cluster import ClusterReconciler
from kubedirector.reconcilers.cluster.adoption import (
    ANNOTATION_ADOPTED,
    ANNOTATION_MIGRATE,
    written_by_original,
)
from kubedirector.resources import CLUSTERS, STATEFULSETS
from tests.unit.fake_api import World, Write
from tests.unit.test_cluster_reconciler import (
    KEY,
    edit_spec,
    new_world,
    one_pass,
    set_members,
    settle,
    stored,
    sts_writes,
)

UPSTREAM = Path(__file__).resolve().parents[1] / "compat" / "upstream-made"
GO_HASH = "d41d8cd98f00b204e9800998ecf8427e"  # the original's: MD5 of no connections


def as_original_left_it(world: World) -> None:
    """The converged cluster as the original would have left it: a status without
    this operator's fields, and StatefulSet templates this operator would not render."""
    cluster = stored(world)
    for key in ("conditions", "observedGeneration", "memberSummary"):
        cluster["status"].pop(key, None)
    cluster["status"]["lastConnectionHash"] = GO_HASH
    world.caches.put(CLUSTERS, cluster)
    for sts in world.caches.list(STATEFULSETS):
        sts["spec"]["template"]["spec"]["containers"][0]["image"] = "rendered/by-go:1"
        world.caches.put(STATEFULSETS, sts)


@pytest.fixture
def adopted() -> tuple[World, ClusterReconciler, list[Write]]:
    world, reconciler = new_world()
    settle(world, reconciler)
    as_original_left_it(world)
    return world, reconciler, one_pass(world, reconciler)


def test_recognised_by_a_status_without_this_operators_fields():
    assert written_by_original(ClusterStatus.from_dict({"clusterService": "kdhs-abcde"}))
    assert not written_by_original(ClusterStatus.from_dict({}))
    ours = {"clusterService": "kdhs-abcde", "observedGeneration": 1}
    assert not written_by_original(ClusterStatus.from_dict(ours))


def test_statefulsets_are_marked_not_rendered(adopted):
    world, _, writes = adopted
    marks = [w for w in writes if w.kind == "StatefulSet"]
    assert {w.verb for w in marks} == {"merge_patch"}
    assert len(marks) == len(world.caches.list(STATEFULSETS))
    for write in marks:
        assert write.body == {"metadata": {"annotations": {ANNOTATION_ADOPTED: "true"}}}


def test_status_is_continued_without_a_reconnect(adopted):
    world, _, _ = adopted
    status = stored(world)["status"]
    assert status["conditions"]
    members = [m for r in status["roles"] for m in r["members"]]
    assert members and all(m["state"] == "configured" for m in members)
    assert not any(m["stateDetail"].get("pendingNotifyCmds") for m in members)
    assert status["lastConnectionHash"] != GO_HASH


def test_scaling_writes_only_replicas(adopted):
    world, reconciler, _ = adopted
    edit_spec(world, set_members(1, 3))
    reconciler.reconcile(KEY)
    writes = sts_writes(world.writer.take())
    assert len(writes) == 1
    body: dict[str, Any] = writes[0].body or {}
    assert body["spec"] == {"replicas": 3}
    assert set(body["metadata"]) == {"name", "namespace", "ownerReferences"}


def test_migration_renders_the_whole_template(adopted):
    world, reconciler, _ = adopted
    cluster = stored(world)
    cluster["metadata"].setdefault("annotations", {})[ANNOTATION_MIGRATE] = "true"
    world.caches.put(CLUSTERS, cluster)
    reconciler.reconcile(KEY)
    writes = sts_writes(world.writer.take())
    assert len(writes) == len(world.caches.list(STATEFULSETS))
    for write in writes:
        assert write.verb == "merge_patch"
        assert write.body is not None
        assert write.body["spec"]["template"]["spec"]["containers"][0]["image"] != (
            "rendered/by-go:1"
        )


@pytest.mark.parametrize("case", ["A", "A-scaled", "B", "C", "D-probe"])
def test_the_originals_recorded_status_is_read_and_written_back_unchanged(case):
    recorded = yaml.safe_load((UPSTREAM / case / "kubedirectorcluster.yaml").read_text())
    status = ClusterStatus.from_dict(recorded["status"])
    assert status.to_dict() == recorded["status"]
    assert written_by_original(status)
