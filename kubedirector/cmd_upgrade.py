"""`kubedirector upgrade CLUSTER APP` and `upgrade CLUSTER --rollback`: a live app upgrade.

Both set the cluster's `spec.app`, which is all a live upgrade is (admission lets it
change only to an app whose `upgradableFrom` admits the current one, or back to the
app the latest upgrade came from); the operator then moves the members one at a
time and reports it in `status.upgrade` and the conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from kubernetes.client import ApiClient

from kubedirector.clientconfig import (
    CommandError,
    get_cluster,
    patch_cluster_spec,
    run_on_cluster,
)

ROLLED_BACK_PHASES = ("RollingBack", "RolledBack")


class UpgradeError(CommandError):
    """Nothing to roll back, or the cluster already runs that app; the message says why."""


def rollback_target(cluster: Mapping[str, Any]) -> str:
    """The app the latest upgrade came from: what `--rollback` sets `spec.app` to."""
    name = cluster["metadata"]["name"]
    record = (cluster.get("status") or {}).get("upgrade") or {}
    if not record:
        raise UpgradeError(f"kdcluster {name!r} has no upgrade to roll back (status.upgrade)")
    if record.get("phase") in ROLLED_BACK_PHASES:
        raise UpgradeError(
            f"kdcluster {name!r}: its latest upgrade, to {record.get('fromApp')!r}, is "
            f"already a rollback ({record.get('phase')})"
        )
    return str(record["fromApp"])


def upgrade(api: ApiClient, namespace: str, name: str, app: str | None) -> tuple[str, str]:
    """Set `spec.app` to `app`, or (None) to the app to roll back to: (before, after)."""
    cluster = get_cluster(api, namespace, name)
    before = str((cluster.get("spec") or {}).get("app"))
    after = app if app is not None else rollback_target(cluster)
    if before == after:
        raise UpgradeError(f"kdcluster {name!r} already names app {after!r}")
    patch_cluster_spec(api, cluster, {"app": after})
    return before, after


def run_upgrade(
    name: str,
    app: str | None,
    *,
    kubeconfig: str | None,
    namespace: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    def action(api: ApiClient, ns: str) -> str:
        before, after = upgrade(api, ns, name, app)
        verb = "upgrading" if app is not None else "rolling back"
        return (
            f"kdcluster/{name} {verb}: app {before} -> {after} "
            f"(follow it with: kubectl kd status {name})"
        )

    return run_on_cluster(action, kubeconfig=kubeconfig, namespace=namespace, out=out, err=err)
