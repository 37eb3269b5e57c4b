"""Which members are told what (api.md section 4, steps 4, 5 and 7), as pure functions.

Commands wait in each member's `stateDetail.pendingNotifyCmds` until delivered,
so a restart of the operator loses none.  Only configured members whose role's
`eventList` allows the event are told.  Which joins and departures were queued
is recorded on the member itself (`NotifyProgress.announced`,
`departure_announced`) in the same status as the queued commands, so whichever
status write a crash leaves behind, a change not yet queued is queued by the
next pass: every notification is delivered at least once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from itertools import pairwise

from kubedirector.api.app import App
from kubedirector.api.constants import ContainerState, MemberState
from kubedirector.api.status import MemberStatus, NotifyProgress, RoleStatus

Args = tuple[str, ...]


def membership_args(event: str, role: str, fqdns: Sequence[str]) -> Args:
    return (f"--{event}", "--nodegroup", "1", "--role", role, "--fqdns", ",".join(fqdns))


def _eligible(member: MemberStatus, event: str, app: App, role_id: str, skip: set[str]) -> bool:
    """Members whose startscript takes the event: configured, or still being set up
    (their commands wait until they are configured)."""
    app_role = app.role(role_id)
    return (
        member.state in (MemberState.CONFIGURED, MemberState.CREATING)
        and member.pod not in skip
        and app_role is not None
        and app_role.config_package is not None
        and event in app_role.event_list
    )


def is_news(recipient: MemberStatus, member: MemberStatus) -> bool:
    """Whether `member` joined after `recipient`'s configmeta was last written."""
    known = recipient.state_detail.notify.known_node_id
    return known is None or member.node_id > known


def tell(
    roles: Sequence[RoleStatus],
    app: App,
    event: str,
    changes: Mapping[str, Sequence[MemberStatus]],
    fqdn: Callable[[MemberStatus], str],
    *,
    concerns: Callable[[MemberStatus, MemberStatus], bool] = lambda _r, _m: True,
) -> list[RoleStatus]:
    """Queue `--<event>` for the members `changes` (role -> members) concern.

    `concerns(recipient, member)` says whether the recipient needs telling about
    that member (for joins: only members it does not know from its configmeta).
    """
    concerned = {m.pod for ms in changes.values() for m in ms}
    out = []
    for role in roles:
        members = []
        for member in role.members:
            if not _eligible(member, event, app, role.id, concerned):
                members.append(member)
                continue
            news = {r: [m for m in ms if concerns(member, m)] for r, ms in changes.items()}
            cmds = list(member.state_detail.pending_notify_cmds)
            cmds += [
                membership_args(event, r, [fqdn(m) for m in ms])
                for r, ms in sorted(news.items())
                if ms
            ]
            members.append(
                replace(
                    member,
                    state_detail=replace(member.state_detail, pending_notify_cmds=tuple(cmds)),
                )
            )
        out.append(replace(role, members=tuple(members)))
    return out


def _notified(member: MemberStatus, notify: NotifyProgress) -> MemberStatus:
    """The member with its notification progress replaced."""
    return replace(member, state_detail=replace(member.state_detail, notify=notify))


def mark_known(roles: Sequence[RoleStatus], last_node_id: int) -> list[RoleStatus]:
    """Members being set up (or configured without setup) get a configmeta listing
    every member so far: record the highest node id it names."""
    return [
        replace(
            role,
            members=tuple(
                _notified(m, replace(m.state_detail.notify, known_node_id=last_node_id))
                if m.state in (MemberState.CREATING, MemberState.CONFIGURED)
                and m.state_detail.notify.known_node_id is None
                else m
                for m in role.members
            ),
        )
        for role in roles
    ]


def announce(
    roles: Sequence[RoleStatus], app: App, fqdn: Callable[[MemberStatus], str]
) -> list[RoleStatus]:
    """Queue `--delnodes` for members newly `delete pending` and `--addnodes` for
    newly configured ones, and flag them as announced in the same status."""
    leaving = {
        r.id: [
            m
            for m in r.members
            if m.state == MemberState.DELETE_PENDING
            and not m.state_detail.notify.departure_announced
        ]
        for r in roles
    }
    out = tell(roles, app, "delnodes", leaving, fqdn)
    joined = {
        r.id: [
            m
            for m in r.members
            if m.state == MemberState.CONFIGURED and not m.state_detail.notify.announced
        ]
        for r in out
    }
    out = tell(out, app, "addnodes", joined, fqdn, concerns=is_news)
    return [
        replace(
            role,
            members=tuple(
                _notified(m, replace(m.state_detail.notify, announced=True))
                if m.state == MemberState.CONFIGURED
                else _notified(m, replace(m.state_detail.notify, departure_announced=True))
                if m.state == MemberState.DELETE_PENDING
                else m
                for m in role.members
            ),
        )
        for role in out
    ]


def reconnect(roles: Sequence[RoleStatus], app: App) -> list[RoleStatus]:
    """A connection changed: `--reconnect` where the role takes it; every other
    configured member gets an empty command, which only refreshes its configmeta."""

    def command(member: MemberStatus, role_id: str) -> Args | None:
        if _eligible(member, "reconnect", app, role_id, set()):
            return ("--reconnect",)
        return () if member.state == MemberState.CONFIGURED else None

    out = []
    for role in roles:
        members = []
        for member in role.members:
            args = command(member, role.id)
            members.append(
                member
                if args is None
                else replace(
                    member,
                    state_detail=replace(
                        member.state_detail,
                        pending_notify_cmds=(*member.state_detail.pending_notify_cmds, args),
                    ),
                )
            )
        out.append(replace(role, members=tuple(members)))
    return out


def _fqdns(args: Args) -> list[str]:
    return [
        name for flag, value in pairwise(args) if flag == "--fqdns" for name in value.split(",")
    ]


def release_leaving(
    roles: Sequence[RoleStatus], fqdn: Callable[[MemberStatus], str]
) -> list[RoleStatus]:
    """`delete pending` members become `deleting` once no reachable member still waits
    to be told of them."""
    # Only members that can be told now hold a leaver back: one that is down or in
    # config error keeps its commands for later, but cannot block a scale-down.
    pending = {
        name
        for role in roles
        for m in role.members
        if m.state == MemberState.CONFIGURED
        and m.state_detail.last_known_container_state == ContainerState.RUNNING
        for args in m.state_detail.pending_notify_cmds
        for name in _fqdns(args)
    }
    return [
        replace(
            role,
            members=tuple(
                replace(m, state=MemberState.DELETING)
                if m.state == MemberState.DELETE_PENDING and fqdn(m) not in pending
                else m
                for m in role.members
            ),
        )
        for role in roles
    ]
