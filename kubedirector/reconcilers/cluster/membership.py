"""Planning members: who should exist per role, and what each one's pod shows now.

Pure apart from the token source: the names come from `names.py`, the pods
from the observation, and the member state machine from `kubedirector.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.status import ClusterStatus, RoleStatus
from kubedirector.desired.auth_token import needs_auth_token
from kubedirector.lifecycle import members
from kubedirector.reconcilers.cluster.observe import Observation

TokenSource = Callable[[], str]


def plan(
    seen: Observation, headless: str, statefulsets: Mapping[str, str], new_token: TokenSource
) -> ClusterStatus:
    """The draft status: each role grown or shrunk toward the spec (a role gone from
    the spec toward 0), every member advanced from what its pod shows.

    A paused cluster keeps its membership: a change of `members` (or a role gone)
    waits for the resume, since joining and leaving members need running pods."""
    cluster, app = seen.cluster, seen.app
    assert cluster is not None and app is not None
    status = seen.status
    existing = {r.id: r for r in status.roles}
    next_node_id = status.last_node_id + 1
    roles: list[RoleStatus] = []
    for spec_role in cluster.roles:
        app_role = app.role(spec_role.id)
        tokens = app_role is not None and needs_auth_token(app_role)
        role, next_node_id = members.plan_role(
            cluster,
            spec_role.id,
            statefulset=statefulsets[spec_role.id],
            existing=existing.get(spec_role.id),
            wanted=_wanted(cluster, spec_role.members or 0, existing.get(spec_role.id)),
            next_node_id=next_node_id,
            auth_token=new_token if tokens else lambda: None,
        )
        roles.append(role)
    for gone in (r for r in status.roles if cluster.role(r.id) is None):
        if cluster.paused:
            roles.append(gone)
            continue
        roles.append(
            members.plan_role(
                cluster,
                gone.id,
                statefulset=gone.stateful_set,
                existing=gone,
                wanted=0,
                next_node_id=next_node_id,
                auth_token=lambda: None,
            )[0]
        )
    return replace(
        status,
        cluster_service=headless,
        last_node_id=next_node_id - 1,
        roles=tuple(_advance(seen, cluster, app, r) for r in roles),
    )


def _wanted(cluster: Cluster, spec_members: int, existing: RoleStatus | None) -> int:
    """The spec's member count, or while paused the members the role has now."""
    if not cluster.paused:
        return spec_members
    return sum(1 for m in (existing.members if existing else ()) if m.state not in members.LEAVING)


def _advance(seen: Observation, cluster: Cluster, app: App, role: RoleStatus) -> RoleStatus:
    spec_role = cluster.role(role.id)
    has_setup = members.role_has_setup(app, role.id) or bool(
        spec_role and spec_role.file_injections
    )
    return replace(
        role,
        members=tuple(
            members.advance_member(m, seen.derived.pods.get(m.pod), has_setup) for m in role.members
        ),
    )
