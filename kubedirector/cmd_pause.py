"""`kubedirector pause CLUSTER` and `resume CLUSTER`: set the cluster's `spec.paused`.

Pausing is desired state, so it is a spec field (the generation moves, the
conditions report when it is realised): the operator scales the cluster's
StatefulSets to 0 and keeps its members, Services and claims; resuming brings
the same members back.
"""

from __future__ import annotations

from typing import Any, TextIO

from kubernetes.client import ApiClient, ApiException

from kubedirector.api.constants import GROUP, PLURAL_CLUSTER, VERSION
from kubedirector.clientconfig import CommandError, connect, get_cluster
from kubedirector.kube import MERGE_PATCH, api_message, request_json, resource_path


class PauseError(CommandError):
    """The API server refused the change; the message says why."""


def pause_patch(paused: bool, resource_version: str) -> dict[str, Any]:
    """The merge patch; the resourceVersion makes a concurrent edit fail, not vanish."""
    return {"metadata": {"resourceVersion": resource_version}, "spec": {"paused": paused}}


def set_paused(api: ApiClient, namespace: str, name: str, paused: bool) -> bool:
    """Set `spec.paused`; returns what it was before."""
    cluster = get_cluster(api, namespace, name)
    before = bool((cluster.get("spec") or {}).get("paused"))
    if before == paused:
        return before
    path = resource_path(GROUP, VERSION, PLURAL_CLUSTER, namespace=namespace, name=name)
    body = pause_patch(paused, cluster["metadata"]["resourceVersion"])
    try:
        request_json(api, "PATCH", path, body=body, content_type=MERGE_PATCH)
    except ApiException as e:
        raise PauseError(f"refused: {api_message(e)}") from e
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
    try:
        api, ns = connect(kubeconfig, namespace)
        try:
            before = set_paused(api, ns, name, paused)
        finally:
            api.close()
    except CommandError as e:
        print(f"error: {e}", file=err)
        return 1
    verb = "paused" if paused else "resumed"
    if before == paused:
        print(f"kdcluster/{name} is already {verb}", file=out)
    else:
        print(f"kdcluster/{name} {verb}", file=out)
    return 0
