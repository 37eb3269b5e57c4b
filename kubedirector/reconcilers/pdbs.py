"""Keeps a cluster's PodDisruptionBudgets in step with its roles.

One pass creates or corrects the budget each role should have
(`kubedirector.desired.pdb`) and deletes the cluster's budgets no role should
have any more (a role scaled to one member, disabled, or removed). Garbage
collection removes them all with the cluster (they are owned by it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.cache.informer import Resource
from kubedirector.desired.pdb import desired_pdbs
from kubedirector.resources import PDBS

# The reconciler's create-or-correct (`ensure(resource, desired, compared)`) and the
# writer's `delete(resource, namespace, name, uid)`.
Ensure = Callable[[Resource, dict[str, Any], dict[str, Any]], None]
Delete = Callable[[Resource, str, str, str | None], bool]


def sync_disruption_budgets(
    cluster: Cluster,
    app: App,
    statefulsets: Mapping[str, str],
    *,
    owned: Sequence[Mapping[str, Any]],
    ensure: Ensure,
    delete: Delete,
) -> None:
    """`statefulsets` maps each spec role to its StatefulSet's name (the budget's name);
    `owned` is the cluster's budgets as the cache holds them.
    """
    desired = desired_pdbs(app, cluster, statefulsets)
    for pdb in desired:
        ensure(PDBS, pdb, {"metadata": {"labels": pdb["metadata"]["labels"]}, "spec": pdb["spec"]})
    wanted = {pdb["metadata"]["name"] for pdb in desired}
    for pdb in owned:
        meta = pdb["metadata"]
        if meta["name"] not in wanted and not meta.get("deletionTimestamp"):
            delete(PDBS, cluster.namespace, meta["name"], meta.get("uid"))
