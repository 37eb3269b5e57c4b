"""Issue 11 item 5: status backups as the original keeps them, and a restore.

With `backupClusterStatus` on, a cluster's status is mirrored into a
KubeDirectorStatusBackup and the cluster carries
`kubedirector.hpe.com/status-backup-exists: "true"`.  Then the cluster object and
its backup are lost and brought back as a namespace backup would bring them
(the cluster without status, the backup without its owner); its workload (the
StatefulSets, pods, claims and Services) survives.  The cluster must come back
with its members, names and node ids, and no configured member set up again.
"""

from __future__ import annotations

import json
from pathlib import Path

from kubedirector.api.constants import ANNOTATION_STATUS_BACKUP_EXISTS
from tests.e2e.support.guest import startscript_calls
from tests.e2e.support.kdcluster import get, patch, wait_ready
from tests.e2e.support.operator import start_operator, wait_until
from tests.e2e.support.replay import SERVER_FIELDS, app_with_setup, recorded
from tests.e2e.test_adoption import members, pod_uids

CONFIG = {
    "apiVersion": "kubedirector.hpe.com/v1beta1",
    "kind": "KubeDirectorConfig",
    "metadata": {"name": "kd-global-config"},
    "spec": {"backupClusterStatus": True, "defaultStorageClassName": "local-path"},
}


def _copy(obj: dict, *drop: str) -> dict:
    """An object as a namespace backup restores it: no server fields, no status."""
    obj = json.loads(json.dumps(obj))
    for key in (*SERVER_FIELDS, *drop):
        obj["metadata"].pop(key, None)
    obj.pop("status", None)
    return obj


def create(kubectl, namespace: str, obj: dict) -> None:
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(obj))


def test_cluster_comes_back_from_its_status_backup(
    local_cluster, kubectl, namespace, tmp_path: Path
):
    create(kubectl, namespace, CONFIG)
    create(kubectl, namespace, app_with_setup("A", namespace))
    spec = recorded("A", "kubedirectorcluster")[0]["spec"]
    spec["roles"][1]["members"] = 1
    name = "spark-r"
    create(
        kubectl,
        namespace,
        {
            "apiVersion": "kubedirector.hpe.com/v1beta1",
            "kind": "KubeDirectorCluster",
            "metadata": {"name": name},
            "spec": spec,
        },
    )
    op = start_operator(
        local_cluster.kubeconfig, namespace, tmp_path / "operator.log", "--no-leader-elect"
    )
    try:
        wait_ready(kubectl, namespace, name, timeout=120)

        def backed_up() -> tuple[dict, dict] | None:
            cluster = get(kubectl, namespace, f"kdcluster/{name}")
            backup = json.loads(
                kubectl(
                    "get", "kdstatusbackup", name, "-n", namespace, "-o", "json", check=False
                ).stdout
                or "{}"
            )
            if (cluster["metadata"].get("annotations") or {}).get(
                ANNOTATION_STATUS_BACKUP_EXISTS
            ) != "true":
                return None
            if backup.get("spec", {}).get("statusBackup") != cluster["status"]:
                return None
            return cluster, backup

        found = wait_until(backed_up, 60, "the status backed up and the annotation set")
        assert isinstance(found, tuple)
        cluster, backup = found
        assert backup["metadata"]["ownerReferences"][0]["uid"] == cluster["metadata"]["uid"]
        before_status = cluster["status"]
        before_pods = pod_uids(kubectl, namespace)
        before_calls = {p: startscript_calls(kubectl, namespace, p) for p in before_pods}
        assert all(
            any(c.startswith("--configure") for c in calls) for calls in before_calls.values()
        )
        saved_cluster = _copy(cluster)
        saved_backup = _copy(backup, "ownerReferences")
    finally:
        op.stop()

    # Lose the cluster and its backup; the workload is orphaned, not deleted.
    patch(kubectl, namespace, f"kdcluster/{name}", {"metadata": {"finalizers": None}})
    kubectl(
        "delete", "kdcluster", name, "-n", namespace, "--cascade=orphan", "--wait=true", timeout=90
    )
    kubectl("delete", "kdstatusbackup", name, "-n", namespace, "--ignore-not-found", timeout=60)

    # The restore: the cluster first (it waits for its backup), then the backup.
    create(kubectl, namespace, saved_cluster)
    op = start_operator(
        local_cluster.kubeconfig, namespace, tmp_path / "restore.log", "--no-leader-elect"
    )
    try:
        wait_until(
            lambda: (
                get(kubectl, namespace, f"kdcluster/{name}")
                .get("status", {})
                .get("restoreProgress", {})
                .get("awaitingStatus")
            ),
            60,
            "the restore waiting for the backup",
        )
        assert not get(kubectl, namespace, f"kdcluster/{name}")["status"].get("roles")
        create(kubectl, namespace, saved_backup)
        restored = wait_ready(kubectl, namespace, name, timeout=120)
        status = restored["status"]
        assert "restoreProgress" not in status
        assert status["clusterService"] == before_status["clusterService"]
        assert status["lastNodeID"] == before_status["lastNodeID"]
        assert [r["statefulSet"] for r in status["roles"]] == [
            r["statefulSet"] for r in before_status["roles"]
        ]
        for pod, member in members(before_status).items():
            now = members(status)[pod]
            assert (now["state"], now["nodeID"], now["service"]) == (
                "configured",
                member["nodeID"],
                member["service"],
            )
        assert pod_uids(kubectl, namespace) == before_pods
        for pod, calls in before_calls.items():
            assert startscript_calls(kubectl, namespace, pod) == calls, pod
        uid = restored["metadata"]["uid"]
        for role in status["roles"]:
            sts = get(kubectl, namespace, f"statefulset/{role['statefulSet']}")
            assert [r["uid"] for r in sts["metadata"]["ownerReferences"]] == [uid]
        backup = get(kubectl, namespace, f"kdstatusbackup/{name}")
        assert backup["metadata"]["ownerReferences"][0]["uid"] == uid
    finally:
        kubectl("delete", "kdcluster", "--all", "-n", namespace, "--timeout=60s", timeout=90)
        op.stop()
