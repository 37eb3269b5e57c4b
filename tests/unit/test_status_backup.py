"""Status backups and restores (reconcilers/cluster/backup.py), one pass at a time."""

from __future__ import annotations

from typing import Any

from kubedirector.api.constants import ANNOTATION_STATUS_BACKUP_EXISTS
from kubedirector.reconcilers.cluster.backup import NOT_ENABLED
from kubedirector.resources import CLUSTERS, CONFIGS, STATUS_BACKUPS
from tests.unit.fake_api import World
from tests.unit.test_cluster_reconciler import KEY, new_world, settle, stored

CONFIG = {
    "metadata": {"name": "kd-global-config", "namespace": "kubedirector"},
    "spec": {"backupClusterStatus": True},
}


def with_backups(world: World) -> None:
    world.caches.put(CONFIGS, dict(CONFIG))


def test_backups_on_mirror_the_status_and_set_the_annotation():
    world, reconciler = new_world()
    settle(world, reconciler)
    with_backups(world)
    reconciler.reconcile(KEY)
    writes = world.writer.take()
    annotation = [w for w in writes if w.kind == "KubeDirectorCluster" and w.subresource is None]
    assert [w.body for w in annotation] == [
        {"metadata": {"annotations": {ANNOTATION_STATUS_BACKUP_EXISTS: "true"}}}
    ]
    (backup,) = [w for w in writes if w.kind == "KubeDirectorStatusBackup"]
    assert backup.verb == "apply"
    assert backup.body is not None
    assert backup.body["spec"]["statusBackup"] == stored(world)["status"]
    owner = backup.body["metadata"]["ownerReferences"][0]
    assert owner["uid"] == stored(world)["metadata"]["uid"]


def test_backups_off_leave_a_cluster_without_the_annotation_alone():
    world, reconciler = new_world()
    settle(world, reconciler)
    reconciler.reconcile(KEY)
    assert world.writer.take() == []


def restored_cluster(world: World, annotation: str) -> dict[str, Any]:
    """The cluster as a restore brings it: without status, with the annotation."""
    cluster = stored(world)
    cluster.pop("status", None)
    cluster["metadata"]["annotations"] = {ANNOTATION_STATUS_BACKUP_EXISTS: annotation}
    world.caches.put(CLUSTERS, cluster)
    return cluster


def test_a_restored_cluster_waits_for_its_backup_then_takes_its_status():
    world, reconciler = new_world()
    settle(world, reconciler)
    saved = stored(world)["status"]
    restored_cluster(world, "true")
    reconciler.reconcile(KEY)
    (wait,) = world.writer.take()
    assert wait.subresource == "status"
    assert wait.body is not None
    assert wait.body["status"]["restoreProgress"]["awaitingStatus"] is True
    assert wait.body["status"]["restoreProgress"]["error"] == ""
    world.absorb([wait])
    world.caches.put(
        STATUS_BACKUPS,
        {"metadata": {"name": "spark221e2", "namespace": "apps"}, "spec": {"statusBackup": saved}},
    )
    reconciler.reconcile(KEY)
    (restore,) = world.writer.take()
    assert restore.body is not None
    assert restore.body["status"] == saved | {"restoreProgress": None}


def test_a_cluster_snapshotted_without_backups_says_so():
    world, reconciler = new_world()
    settle(world, reconciler)
    restored_cluster(world, "false")
    reconciler.reconcile(KEY)
    (wait,) = world.writer.take()
    assert wait.body is not None
    assert wait.body["status"]["restoreProgress"]["error"] == NOT_ENABLED
