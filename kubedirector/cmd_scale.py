"""`kubedirector scale CLUSTER ROLE N`: set a role's members by the role's name.

The roles are a list in the spec, so the patch addresses the role by its index;
a JSON-patch `test` of the role's id at that index makes the API server refuse
the patch if the list changed in between, instead of resizing another role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from kubernetes.client import ApiClient, ApiException

from kubedirector.api.constants import GROUP, PLURAL_CLUSTER, VERSION
from kubedirector.clientconfig import CommandError, get_cluster, run_on_cluster
from kubedirector.kube import JSON_PATCH, api_message, request_json, resource_path


class ScaleError(CommandError):
    """The cluster or role is not what the command needs; the message says why."""


def scale_patch(cluster: Mapping[str, Any], role: str, members: int) -> list[dict[str, Any]]:
    """The JSON patch setting `role`'s members, guarded by a test of the role's id."""
    roles = (cluster.get("spec") or {}).get("roles") or []
    ids = [r.get("id") if isinstance(r, Mapping) else None for r in roles]
    if role not in ids:
        known = ", ".join(str(i) for i in ids) or "none"
        name = cluster.get("metadata", {}).get("name")
        raise ScaleError(f"kdcluster {name!r} has no role {role!r} (its roles: {known})")
    index = ids.index(role)
    return [
        {"op": "test", "path": f"/spec/roles/{index}/id", "value": role},
        {"op": "add", "path": f"/spec/roles/{index}/members", "value": members},
    ]


def patch_cluster(api: ApiClient, namespace: str, name: str, ops: list[dict[str, Any]]) -> None:
    """Send the patch from `scale_patch`. The API server answers a failed `test` with a
    bare 422, so a refusal is explained by looking again at where the role is.
    """
    path = resource_path(GROUP, VERSION, PLURAL_CLUSTER, namespace=namespace, name=name)
    try:
        request_json(api, "PATCH", path, body=ops, content_type=JSON_PATCH)
    except ApiException as e:
        if e.status == 422 and not _role_still_there(get_cluster(api, namespace, name), ops[0]):
            raise ScaleError(
                f"the roles of kdcluster {name!r} changed while scaling (role "
                f"{ops[0]['value']!r} is no longer where it was); nothing was changed: "
                "run the command again"
            ) from e
        raise ScaleError(f"refused: {api_message(e)}") from e


def _role_still_there(cluster: Mapping[str, Any], test: Mapping[str, Any]) -> bool:
    """Whether the role id the `test` operation expects is still at its path."""
    index = int(test["path"].split("/")[3])
    roles = (cluster.get("spec") or {}).get("roles") or []
    return index < len(roles) and roles[index].get("id") == test["value"]


def scale(api: ApiClient, namespace: str, name: str, role: str, members: int) -> int | None:
    """Set the role's members; returns what the spec said before (None: unset)."""
    cluster = get_cluster(api, namespace, name)
    ops = scale_patch(cluster, role, members)
    before = next(r for r in cluster["spec"]["roles"] if r.get("id") == role).get("members")
    patch_cluster(api, namespace, name, ops)
    return before


def run_scale(
    name: str,
    role: str,
    members: int,
    *,
    kubeconfig: str | None,
    namespace: str | None,
    out: TextIO,
    err: TextIO,
) -> int:

    def action(api: ApiClient, ns: str) -> str:
        before = scale(api, ns, name, role, members)
        was = "default" if before is None else str(before)
        return f"kdcluster/{name} role {role} scaled: {was} -> {members} members"

    return run_on_cluster(action, kubeconfig=kubeconfig, namespace=namespace, out=out, err=err)
