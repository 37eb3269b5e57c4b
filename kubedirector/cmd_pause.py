"""`kubedirector pause CLUSTER` and `resume CLUSTER`: set the cluster's `spec.paused`.

Pausing is desired state, so it is a spec field (the generation moves, the
conditions report when it is realised): the operator scales the cluster's
StatefulSets to 0 and keeps its members, Services and claims; resuming brings
the same members back.
"""

from __future__ import annotations

from typing import TextIO

from kubernetes.client import ApiClient

from kubedirector.clientconfig import get_cluster, patch_cluster_spec, run_on_cluster


def set_paused(api: ApiClient, namespace: str, name: str, paused: bool) -> bool:
    """Set `spec.paused`; returns what it was before."""
    cluster = get_cluster(api, namespace, name)
    before = bool((cluster.get("spec") or {}).get("paused"))
    if before != paused:
        patch_cluster_spec(api, cluster, {"paused": paused})
    return before


def run_pause(
    name: str,
    paused: bool,
    *,
    kubeconfig: str | None,
    namespace: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    verb = "paused" if paused else "resumed"

    def action(api: ApiClient, ns: str) -> str:
        if set_paused(api, ns, name, paused) == paused:
            return f"kdcluster/{name} is already {verb}"
        return f"kdcluster/{name} {verb}"

    return run_on_cluster(action, kubeconfig=kubeconfig, namespace=namespace, out=out, err=err)
