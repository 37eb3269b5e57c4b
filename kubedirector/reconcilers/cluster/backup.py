"""Status backups and restores, as the original operator keeps them
(docs/spec/upstream-pods.md section 5).

With `backupClusterStatus` on in the global config, every cluster's status is
mirrored into a KubeDirectorStatusBackup of the same name, owned by the cluster,
and the cluster carries `kubedirector.hpe.com/status-backup-exists: "true"`.
A backup of the namespace (e.g. Velero's) then holds both; on restore the cluster
arrives without status but with the annotation, and its status comes back from
the backup instead of being started afresh (new names, new node ids, setup again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from kubedirector.api.constants import ANNOTATION_STATUS_BACKUP_EXISTS
from kubedirector.api.status import ClusterStatus
from kubedirector.desired.labels import owner_reference
from kubedirector.reconcilers.cluster.expectations import Expectations
from kubedirector.reconcilers.cluster.observe import Caches, Observation
from kubedirector.reconcilers.writer import ObjectWriter
from kubedirector.resources import CLUSTERS, STATUS_BACKUPS

log = structlog.get_logger(__name__)

NOT_ENABLED = (
    "KD status backups were not enabled at the time this kdcluster was snapshotted; "
    "remove the annotation kubedirector.hpe.com/status-backup-exists to start it afresh"
)


def awaiting_restore(seen: Observation) -> bool:
    """A cluster created with the backup annotation (restored, or brought over) that has
    no status of its own yet: its status is to come from its backup."""
    annotations = seen.raw["metadata"].get("annotations") or {}
    return (
        ANNOTATION_STATUS_BACKUP_EXISTS in annotations
        and not seen.status.cluster_service
        and not seen.status.roles
    )


def restore_progress(seen: Observation) -> dict[str, Any]:
    """`status.restoreProgress` while the backup is awaited (the original's fields)."""
    annotation = (seen.raw["metadata"].get("annotations") or {}).get(
        ANNOTATION_STATUS_BACKUP_EXISTS
    )
    return {
        "awaitingApp": any(p.path == "spec.app" for p in seen.problems),
        "awaitingStatus": True,
        "awaitingResources": True,
        "error": NOT_ENABLED if annotation == "false" else "",
    }


def backup_object(seen: Observation, status: Mapping[str, Any]) -> dict[str, Any]:
    """The KubeDirectorStatusBackup of a cluster: its status verbatim, owned by it."""
    assert seen.cluster is not None
    return {
        "metadata": {
            "name": seen.name,
            "namespace": seen.namespace,
            "ownerReferences": [owner_reference(seen.cluster)],
        },
        "spec": {"statusBackup": dict(status)},
    }


def _with_nulls(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    return dict(new) | {key: None for key in old.keys() - new.keys()}


class StatusBackups:
    """Writes backups and restores status from them."""

    def __init__(self, writer: ObjectWriter, caches: Caches, expectations: Expectations) -> None:
        self.writer = writer
        self.caches = caches
        self.expectations = expectations

    def _patch_status(self, seen: Observation, status: Mapping[str, Any]) -> None:
        self.expectations.wrote(
            self.writer.merge_patch(
                CLUSTERS, seen.namespace, seen.name, {"status": status}, subresource="status"
            )
        )

    def restore(self, seen: Observation) -> None:
        """Take the status from the backup, or say in `restoreProgress` what is awaited
        (a watch on the backups brings the cluster back when it arrives)."""
        backup = self.caches.get(STATUS_BACKUPS, seen.key)
        old = seen.raw.get("status") or {}
        saved = (backup or {}).get("spec", {}).get("statusBackup")
        if saved:
            log.info("status_restored", backup=seen.name)
            self._patch_status(seen, _with_nulls(old, saved))
            return
        progress = restore_progress(seen)
        if old.get("restoreProgress") != progress:
            log.info("status_restore_awaited", **progress)
            self._patch_status(seen, {"restoreProgress": progress})

    def sync(self, seen: Observation, status: ClusterStatus) -> None:
        """Keep the annotation and the backup as `backupClusterStatus` says: the backup
        a copy of `status` (what this pass wrote), or gone."""
        should = seen.config.backup_cluster_status
        meta = seen.raw["metadata"]
        annotations = meta.get("annotations") or {}
        wanted = "true" if should else "false"
        current = annotations.get(ANNOTATION_STATUS_BACKUP_EXISTS)
        # Without backups a cluster that never had the annotation is left alone.
        if current != wanted and (should or current is not None):
            self.expectations.wrote(
                self.writer.merge_patch(
                    CLUSTERS,
                    seen.namespace,
                    seen.name,
                    {"metadata": {"annotations": {ANNOTATION_STATUS_BACKUP_EXISTS: wanted}}},
                )
            )
        existing = self.caches.get(STATUS_BACKUPS, seen.key)
        if not should:
            if existing is not None:
                self.writer.delete(STATUS_BACKUPS, seen.namespace, seen.name)
            return
        desired = backup_object(seen, status.to_dict())
        if existing is None or (
            existing.get("spec") != desired["spec"]
            or existing["metadata"].get("ownerReferences") != desired["metadata"]["ownerReferences"]
        ):
            self.writer.apply(STATUS_BACKUPS, desired)
