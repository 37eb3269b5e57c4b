"""Live app upgrade: which member moves next, and what each StatefulSet says (pure).

A cluster whose `spec.app` names another app than the one its members run moves
to it one member at a time.  Order: roles in the new app's role order, members
from the highest ordinal down (the order of a StatefulSet's partitioned rolling
update, which is what moves each pod); a rollback walks the members that moved,
roles in reverse order, again highest ordinal first.

Each step: the member is marked `moving` (status is written before anything else
happens), its role's StatefulSet gets the new app's template with the partition
at that member's ordinal, so Kubernetes re-creates that one pod (same name, same
claims); the pod's new container is set up with the upgrade event instead of
`--configure`; once the member is `configured`, running and its pod Ready (the
readiness gate) it is `done` and the next member moves.  A member whose upgrade
event fails stops the rollout (`Failed`), naming it and why.

Which app a pod runs is its `kdapp` label: the StatefulSet template carries it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from kubedirector.api.constants import ContainerState, MemberState
from kubedirector.api.status import (
    ClusterStatus,
    MemberStatus,
    MemberUpgrade,
    MemberUpgradeStatus,
    UpgradePhase,
    UpgradeStatus,
)

UPGRADE_EVENT = "--upgrade"
ROLLBACK_EVENT = "--rollback"
CONFIGURE_EVENT = ("--configure",)
MOVED = frozenset({MemberUpgrade.MOVING, MemberUpgrade.DONE, MemberUpgrade.FAILED})
SETTLED = frozenset({MemberUpgrade.DONE, MemberUpgrade.UNCHANGED})


@dataclass(frozen=True)
class AppVersion:
    """An app as a rollout names it."""

    name: str
    version: str


@dataclass(frozen=True)
class PodView:
    """What the rollout reads from a member's pod."""

    app: str | None  # its `kdapp` label
    ready: bool  # its Ready condition
    container: str | None = None  # its app container's identity (lifecycle.members)


@dataclass(frozen=True)
class Template:
    """What a role's StatefulSet is rendered from during a rollout."""

    app: str
    partition: int = 0  # pods with an ordinal below keep their revision


def rollout_order(status: ClusterStatus, role_order: Sequence[str]) -> list[MemberStatus]:
    """Roles in `role_order` (roles it lacks last, as in status), members by ordinal
    from the highest down."""
    rank = {role: i for i, role in enumerate(role_order)}
    roles = sorted(status.roles, key=lambda r: rank.get(r.id, len(rank)))
    return [
        m
        for role in roles
        for m in sorted(role.members, key=lambda m: m.ordinal, reverse=True)
        if m.state not in (MemberState.DELETE_PENDING, MemberState.DELETING)
    ]


def _role_of(status: ClusterStatus) -> dict[str, str]:
    return {m.pod: r.id for r in status.roles for m in r.members}


def begin(
    record: UpgradeStatus | None,
    *,
    running: AppVersion | None,
    target: AppVersion,
    status: ClusterStatus,
    pods: Mapping[str, PodView],
    role_order: Sequence[str],
) -> UpgradeStatus | None:
    """The rollout this pass continues or starts.

    A record already moving to `target` continues.  `target` being the app the
    latest upgrade came from is a rollback of it: the members that moved go back,
    roles in reverse order.  Otherwise the cluster moves to `target` when the app
    it runs (`running`, from its StatefulSets) is another one.
    """
    if record is not None and record.to_app == target.name:
        return record
    source = running
    rollback = False
    if record is not None and record.from_app == target.name and not record.rollback:
        source, rollback = AppVersion(record.to_app, record.to_version), True
    elif record is not None and record.phase.moving:
        # Moving elsewhere mid-rollout (admission refuses it): from where it was going.
        source = AppVersion(record.to_app, record.to_version)
    if source is None or source.name == target.name:
        return record
    order = rollout_order(status, list(reversed(role_order)) if rollback else role_order)
    role_of = _role_of(status)
    members = tuple(
        MemberUpgradeStatus(
            pod=m.pod,
            role=role_of[m.pod],
            state=(
                MemberUpgrade.UNCHANGED
                if pods.get(m.pod, PodView(None, False)).app == target.name
                else MemberUpgrade.PENDING
            ),
        )
        for m in order
    )
    return UpgradeStatus(
        from_app=source.name,
        from_version=source.version,
        to_app=target.name,
        to_version=target.version,
        phase=UpgradePhase.ROLLING_BACK if rollback else UpgradePhase.UPGRADING,
        members=members,
    )


def _passed_gate(member: MemberStatus, pod: PodView, target: str) -> bool:
    """Configured in the pod that runs the new app, running, and Ready."""
    return (
        pod.app == target
        and pod.ready
        and member.state == MemberState.CONFIGURED
        and member.state_detail.last_configured_container == pod.container
        and member.state_detail.last_known_container_state == ContainerState.RUNNING
    )


def _failed_there(member: MemberStatus, pod: PodView, target: str) -> bool:
    """Its setup failed in the pod that runs the new app (not a config error the
    member had before its pod was re-created)."""
    return (
        pod.app == target
        and member.state == MemberState.CONFIG_ERROR
        and member.state_detail.configuring_container == pod.container
    )


def advance(
    record: UpgradeStatus, status: ClusterStatus, pods: Mapping[str, PodView]
) -> UpgradeStatus:
    """One look at the rollout: the moving member passed its gate (then the next one
    moves) or failed (then the rollout stops).  Members gone from status are dropped."""
    if not record.phase.moving:
        return record
    members = {m.pod: m for r in status.roles for m in r.members}
    entries = [e for e in record.members if e.pod in members]
    for i, entry in enumerate(entries):
        member = members[entry.pod]
        pod = pods.get(entry.pod, PodView(None, False))
        if entry.state in SETTLED:
            continue
        if entry.state == MemberUpgrade.PENDING:
            entries[i] = replace(entry, state=MemberUpgrade.MOVING)
            return replace(record, members=tuple(entries))
        if entry.state == MemberUpgrade.MOVING and _passed_gate(member, pod, record.to_app):
            entries[i] = replace(entry, state=MemberUpgrade.DONE, message=None)
            continue
        if _failed_there(member, pod, record.to_app):
            why = member.state_detail.config_error_detail or "its upgrade event failed"
            entries[i] = replace(entry, state=MemberUpgrade.FAILED, message=why)
            return replace(
                record,
                members=tuple(entries),
                phase=UpgradePhase.FAILED,
                failed_member=entry.pod,
                failure=why,
            )
        return replace(record, members=tuple(entries))
    done = UpgradePhase.ROLLED_BACK if record.rollback else UpgradePhase.UPGRADED
    return replace(record, members=tuple(entries), phase=done)


def templates(record: UpgradeStatus | None, roles: Sequence[str]) -> dict[str, Template]:
    """Each role's template app and partition while a rollout is under way or stopped:
    members that moved (or are moving) run the new app's template, those still to
    move keep the revision they run.  None for a role the rollout leaves alone."""
    if record is None or record.phase in (UpgradePhase.UPGRADED, UpgradePhase.ROLLED_BACK):
        return {}
    out = {}
    for role in roles:
        entries = [e for e in record.members if e.role == role]
        ordinal = {e.pod: int(e.pod.rpartition("-")[2]) for e in entries}
        moved = [ordinal[e.pod] for e in entries if e.state in MOVED]
        pending = [ordinal[e.pod] for e in entries if e.state == MemberUpgrade.PENDING]
        if not moved and len(pending) == len(entries) and entries:
            out[role] = Template(record.from_app)
            continue
        partition = min(moved) if moved else (max(pending) + 1 if pending else 0)
        out[role] = Template(record.to_app, partition)
    return out


def event_for(record: UpgradeStatus | None, pod: str, pod_app: str | None) -> tuple[str, ...]:
    """The startscript arguments a member's new container is set up with: the upgrade
    (or rollback) event for the member the rollout moved onto the new app, else
    `--configure`."""
    if record is None or pod_app != record.to_app:
        return CONFIGURE_EVENT
    entry = next((e for e in record.members if e.pod == pod), None)
    if entry is None or entry.state not in (MemberUpgrade.MOVING, MemberUpgrade.FAILED):
        return CONFIGURE_EVENT
    return (
        ROLLBACK_EVENT if record.rollback else UPGRADE_EVENT,
        "--fromversion",
        record.from_version,
        "--toversion",
        record.to_version,
        "--fromapp",
        record.from_app,
        "--toapp",
        record.to_app,
    )


def moving_member(record: UpgradeStatus | None) -> str | None:
    if record is None or not record.phase.moving:
        return None
    return next((e.pod for e in record.members if e.state == MemberUpgrade.MOVING), None)


def hold_retries(record: UpgradeStatus | None, status: ClusterStatus) -> ClusterStatus:
    """A stopped rollout keeps its failed member as it is: no automatic retry of its
    upgrade event (rolling back re-creates the pod; its setup then starts afresh)."""
    if record is None or record.phase != UpgradePhase.FAILED or record.failed_member is None:
        return status
    roles = []
    for role in status.roles:
        members = []
        for m in role.members:
            held = m
            if m.pod == record.failed_member and m.state == MemberState.CONFIG_ERROR:
                setup = replace(m.state_detail.setup, retry_at=None, error_generation=None)
                held = replace(m, state_detail=replace(m.state_detail, setup=setup))
            members.append(held)
        roles.append(replace(role, members=tuple(members)))
    return replace(status, roles=tuple(roles))
