"""The member state machine of api.md section 4, as pure functions.

The cluster reconciler feeds these the spec, the recorded status and what the
caches show of the pods; they return the next status.  Nothing here talks to
the API, so every transition is unit-tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.constants import APP_CONTAINER_NAME, ContainerState, MemberState
from kubedirector.api.status import MemberStatus, RoleStatus, SetupProgress
from kubedirector.desired import naming
from kubedirector.desired.storage import block_device_paths

LEAVING = frozenset({MemberState.DELETE_PENDING, MemberState.DELETING})


def container_status(pod: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if pod is None:
        return None
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if isinstance(status, Mapping) and status.get("name") == APP_CONTAINER_NAME:
            return status
    return None


def container_identity(pod: Mapping[str, Any] | None) -> str | None:
    """The `app` container's identity: its containerID, or (where the runtime reports
    none, as kwok's default stages) pod UID + restart count + start time."""
    status = container_status(pod)
    if pod is None or status is None or "running" not in (status.get("state") or {}):
        return None
    if status.get("containerID"):
        return str(status["containerID"])
    started = status["state"]["running"].get("startedAt", "")
    return f"{pod['metadata']['uid']}/{status.get('restartCount', 0)}/{started}"


def container_state(pod: Mapping[str, Any] | None) -> ContainerState:
    if pod is None:
        return ContainerState.ABSENT
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return ContainerState.TERMINATED
    status = container_status(pod)
    if status is None:
        init = pod.get("status", {}).get("initContainerStatuses")
        return ContainerState.INITIALIZING if init else ContainerState.WAITING
    state = status.get("state") or {}
    if (state.get("waiting") or {}).get("reason") == "PodInitializing":
        return ContainerState.INITIALIZING  # what kubelets report while init containers run
    for key in ("running", "waiting", "terminated"):
        if key in state:
            return ContainerState(key)
    return ContainerState.UNKNOWN


def scheduling_error(pod: Mapping[str, Any] | None) -> str | None:
    """The scheduler's message while the pod cannot be placed."""
    for cond in (pod or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return str(cond.get("message") or cond.get("reason") or "not scheduled")
    return None


def plan_role(
    cluster: Cluster,
    role_id: str,
    *,
    statefulset: str,
    existing: RoleStatus | None,
    wanted: int,
    next_node_id: int,
    auth_token: Callable[[], str | None],
) -> tuple[RoleStatus, int]:
    """Grow or shrink one role's member list toward `wanted` members.

    Growth appends `create pending` members with new node ids (never reused), but
    waits while members are still leaving, since their ordinals are still taken.
    Shrinking moves the highest ordinals to `delete pending`.
    """
    spec_role = cluster.role(role_id)
    has_storage = spec_role is not None and spec_role.storage is not None
    devices = (
        tuple(block_device_paths(spec_role.block_storage))
        if (spec_role is not None and spec_role.block_storage is not None)
        else ()
    )
    members = list(existing.members) if existing else []
    staying = [m for m in members if m.state not in LEAVING]
    leaving = [m for m in members if m.state in LEAVING]
    if len(staying) > wanted:
        cut = sorted(staying, key=lambda m: m.ordinal)[wanted:]
        cut_pods = {m.pod for m in cut}
        members = [
            replace(m, state=MemberState.DELETE_PENDING) if m.pod in cut_pods else m
            for m in members
        ]
    elif len(staying) < wanted and not leaving:
        for ordinal in range(len(members), len(members) + wanted - len(staying)):
            pod = naming.pod_name(statefulset, ordinal)
            members.append(
                MemberStatus(
                    pod=pod,
                    service=naming.member_service_name(cluster.naming_scheme, statefulset, ordinal),
                    node_id=next_node_id,
                    state=MemberState.CREATE_PENDING,
                    pvc=naming.pvc_name(pod) if has_storage else None,
                    block_device_paths=devices,
                    auth_token=auth_token(),
                )
            )
            next_node_id += 1
    role = RoleStatus(
        id=role_id,
        stateful_set=statefulset,
        members=tuple(members),
        extra=existing.extra if existing else {},
    )
    return role, next_node_id


def advance_member(
    member: MemberStatus, pod: Mapping[str, Any] | None, has_setup_package: bool
) -> MemberStatus:
    """One step of a member's lifecycle from what its pod shows now.

    The setup package itself is run by `kubedirector.setup.runner` (it needs
    execs); here a member with one just enters `creating` for that container.
    """
    detail = member.state_detail
    state = container_state(pod)
    identity = container_identity(pod)
    detail = replace(
        detail,
        last_known_container_state=str(state),
        scheduling_error_message=scheduling_error(pod),
    )
    new_state = MemberState(member.state)
    # The container setup last ran in.  The original operator cleared
    # configuringContainer once setup ended, keeping only lastConfiguredContainer.
    setup_container = detail.configuring_container or detail.last_configured_container
    if new_state == MemberState.CREATE_PENDING and identity is not None:
        new_state = MemberState.CREATING
        detail = replace(detail, configuring_container=identity)
    elif (
        new_state in (MemberState.CREATING, MemberState.CONFIGURED, MemberState.CONFIG_ERROR)
        and identity is not None
        and identity != setup_container
    ):
        # The container restarted (maybe while its setup ran): setup starts over in it,
        # and what its old configmeta listed is forgotten.
        new_state = MemberState.CREATING
        detail = replace(
            detail,
            configuring_container=identity,
            config_error_detail=None,
            setup=SetupProgress(),
            notify=replace(detail.notify, known_node_id=None),
        )
    if new_state == MemberState.CREATING and identity is not None and not has_setup_package:
        new_state = MemberState.CONFIGURED
        detail = replace(detail, last_configured_container=identity, config_error_detail=None)
    return replace(member, state=new_state, state_detail=detail)


def role_has_setup(app: App, role_id: str) -> bool:
    role = app.role(role_id)
    return role is not None and role.config_package is not None
