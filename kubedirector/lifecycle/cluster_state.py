"""The cluster's overall state, rollup, member summary and conditions (pure).

`Ready` follows api.md: state `configured`, the spec's generation observed and
realised (every owned object written and rolled out), no persistent reconcile
failure, and every member `configured` with its container running.  So
`kubectl wait --for=condition=Ready kdcluster/NAME` means "usable now".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kubedirector.api.constants import ClusterState, ContainerState, MemberState
from kubedirector.api.status import (
    Condition,
    MemberStateRollup,
    MemberStatus,
    MemberUpgrade,
    UpgradePhase,
    UpgradeStatus,
)

PENDING = frozenset(
    {
        MemberState.CREATE_PENDING,
        MemberState.CREATING,
        MemberState.DELETE_PENDING,
        MemberState.DELETING,
    }
)


def _running(m: MemberStatus) -> bool:
    return m.state_detail.last_known_container_state == ContainerState.RUNNING


def rollup(members: Sequence[MemberStatus]) -> MemberStateRollup:
    def any_of(pred: Callable[[MemberStatus], bool]) -> bool:
        return any(pred(m) for m in members)

    return MemberStateRollup(
        membership_changing=any_of(
            lambda m: (
                m.state
                in (MemberState.CREATE_PENDING, MemberState.DELETE_PENDING, MemberState.DELETING)
            )
        ),
        members_down=any_of(
            lambda m: (
                m.state in (MemberState.CONFIGURED, MemberState.CONFIG_ERROR) and not _running(m)
            )
        ),
        members_initializing=any_of(lambda m: m.state == MemberState.CREATING),
        members_waiting=any_of(lambda m: m.state == MemberState.CREATE_PENDING),
        members_restarting=any_of(
            lambda m: (
                m.state != MemberState.CREATE_PENDING
                and m.state_detail.last_known_container_state == ContainerState.WAITING
            )
        ),
        config_errors=any_of(lambda m: m.state == MemberState.CONFIG_ERROR),
        members_not_scheduled=any_of(lambda m: bool(m.state_detail.scheduling_error_message)),
    )


def cluster_state(
    previous: str, members: Sequence[MemberStatus], *, paused: bool = False
) -> ClusterState:
    """`creating` until first fully configured, then `updating` while anything moves;
    `paused` from the pass that sees the spec paused (its pods may still be stopping)."""
    if paused:
        return ClusterState.PAUSED
    if any(m.state in PENDING for m in members):
        return (
            ClusterState.UPDATING
            if previous in (ClusterState.CONFIGURED, ClusterState.UPDATING, ClusterState.PAUSED)
            else ClusterState.CREATING
        )
    return ClusterState.CONFIGURED


def still_running(members: Sequence[MemberStatus]) -> list[str]:
    """The members whose pod still exists (a paused cluster waits for none)."""
    return [
        m.pod for m in members if m.state_detail.last_known_container_state != ContainerState.ABSENT
    ]


def member_summary(members: Sequence[MemberStatus]) -> str:
    """`ready/total` for the MEMBERS printer column; leaving members don't count."""
    live = [m for m in members if m.state not in (MemberState.DELETE_PENDING, MemberState.DELETING)]
    ready = [m for m in live if m.state == MemberState.CONFIGURED and _running(m)]
    return f"{len(ready)}/{len(live)}"


@dataclass(frozen=True)
class SpecProblem:
    """Why the spec cannot be realised (unknown app, role not in app, ...)."""

    reason: str
    message: str


RECONCILE_FAILING = "ReconcileFailing"
PAUSED = "Paused"
PAUSING = "Pausing"
MEMBER_UNRESPONSIVE = "MemberUnresponsive"
UPGRADE_FAILED = "UpgradeFailed"
_ROLLOUT_REASON = {UpgradePhase.UPGRADING: "Upgrading", UpgradePhase.ROLLING_BACK: "RollingBack"}


def upgrade_progress(upgrade: UpgradeStatus) -> str:
    """`moving to APP (VERSION): k/n members done`, for conditions and the CLI."""
    settled = (MemberUpgrade.DONE, MemberUpgrade.UNCHANGED)
    done = sum(1 for m in upgrade.members if m.state in settled)
    return (
        f"moving from {upgrade.from_app} ({upgrade.from_version}) to {upgrade.to_app} "
        f"({upgrade.to_version}): {done}/{len(upgrade.members)} members done"
    )


def _rollout_conditions(upgrade: UpgradeStatus) -> tuple[tuple[str, tuple[str, str, str]], ...]:
    """Ready, Progressing and Degraded while a rollout moves or after it stopped."""
    if upgrade.phase == UpgradePhase.FAILED:
        why = (
            f"the move to {upgrade.to_app} stopped at member {upgrade.failed_member}: "
            f"{upgrade.failure}; roll back with spec.app: {upgrade.from_app}"
        )
        return (
            ("Ready", ("False", UPGRADE_FAILED, why)),
            ("Progressing", ("False", UPGRADE_FAILED, why)),
            ("Degraded", ("True", UPGRADE_FAILED, why)),
        )
    reason = _ROLLOUT_REASON[upgrade.phase]
    return (
        ("Ready", ("False", reason, upgrade_progress(upgrade))),
        ("Progressing", ("True", reason, upgrade_progress(upgrade))),
    )


def conditions(
    *,
    previous: Iterable[Condition],
    generation: int,
    state: ClusterState,
    members: Sequence[MemberStatus],
    problem: SpecProblem | None,
    now: str,
    failing: str | None = None,
    unrealised: str | None = None,
    upgrade: UpgradeStatus | None = None,
) -> tuple[Condition, ...]:
    """Ready, Progressing and Degraded; a transition time changes only with the status.

    `failing` says why reconciles of this generation keep failing (the object and
    the server's answer); `unrealised` what of this generation is not done yet
    (an object just written, a StatefulSet still rolling out).  A paused cluster
    (state `paused`) is not Ready and not Degraded, and Progressing only while
    its pods are still stopping.  A live upgrade under way is `Progressing`
    (`Upgrading` or `RollingBack`) and not Ready, its moving member not counted
    as down; one that stopped is `Degraded`/`UpgradeFailed` and neither Ready nor
    Progressing.
    """
    if state == ClusterState.PAUSED and problem is None and failing is None:
        left = still_running(members)
        stopping = f"{len(left)} member pods still stopping" if left else unrealised
        return _stamped(
            previous,
            generation,
            now,
            (
                ("Ready", ("False", PAUSED, "the cluster is paused (spec.paused)")),
                (
                    "Progressing",
                    ("True", PAUSING, stopping)
                    if stopping
                    else ("False", PAUSED, "all member pods are stopped"),
                ),
                ("Degraded", ("False", PAUSED, "the cluster is paused; no member runs")),
            ),
        )
    stopped = upgrade is not None and upgrade.phase == UpgradePhase.FAILED
    rollout = (
        _rollout_conditions(upgrade)
        if upgrade is not None
        and (upgrade.phase.moving or stopped)
        and problem is None
        and failing is None
        else ()
    )
    if upgrade is not None and upgrade.phase.moving:
        moving = {e.pod for e in upgrade.members if e.state == MemberUpgrade.MOVING}
        members = [m for m in members if m.pod not in moving]
    live = [m for m in members if m.state not in (MemberState.DELETE_PENDING, MemberState.DELETING)]
    errors = [m.pod for m in live if m.state == MemberState.CONFIG_ERROR]
    down = [m.pod for m in live if m.state == MemberState.CONFIGURED and not _running(m)]
    unresponsive = [m.pod for m in live if m.state_detail.unresponsive]
    members_ready = all(
        m.state == MemberState.CONFIGURED and _running(m) and not m.state_detail.unresponsive
        for m in live
    )
    if problem is not None:
        ready_c = ("False", problem.reason, problem.message)
        degraded = ("True", problem.reason, problem.message)
    else:
        if failing is not None:
            ready_c = ("False", RECONCILE_FAILING, failing)
        elif state != ClusterState.CONFIGURED or not members_ready:
            ready_c = (
                "False",
                "MembersNotReady",
                member_summary(members) + " members configured and running",
            )
        elif unrealised is not None:
            ready_c = ("False", "Reconciling", unrealised)
        else:
            ready_c = ("True", "MembersConfigured", f"all {len(live)} members are configured")
        setup_failing = [
            f"{m.pod}: {m.state_detail.setup.last_exec_error or ''}"
            for m in live
            if m.state == MemberState.CREATING and m.state_detail.setup.exec_failures
        ]
        notify = [
            f"{m.pod}: {m.state_detail.notify.last_error or ''}"
            for m in members
            if m.state_detail.notify.failures
        ]
        if failing is not None:
            degraded = ("True", RECONCILE_FAILING, failing)
        elif errors:
            degraded = ("True", "ConfigError", "members in config error: " + ", ".join(errors))
        elif unresponsive:
            degraded = (
                "True",
                MEMBER_UNRESPONSIVE,
                "members unresponsive: " + ", ".join(unresponsive),
            )
        elif down:
            degraded = ("True", "MembersDown", "members down: " + ", ".join(down))
        elif setup_failing:
            degraded = ("True", "SetupFailing", "app setup failing: " + "; ".join(setup_failing))
        elif notify:
            degraded = ("True", "NotifyFailing", "notifications failing: " + "; ".join(notify))
        else:
            degraded = ("False", "AsExpected", "no member is down or in config error")
    if problem is not None:
        progressing = ("False", "Stable", "no membership or configuration change pending")
    elif state != ClusterState.CONFIGURED:
        progressing = ("True", "MembershipChanging", f"cluster is {state}")
    elif failing is not None or unrealised is not None:
        progressing = (
            "True",
            "Reconciling",
            f"generation {generation} is not realised yet: {unrealised or failing}",
        )
    else:
        progressing = ("False", "Stable", "no membership or configuration change pending")
    wanted = dict((("Ready", ready_c), ("Progressing", progressing), ("Degraded", degraded)))
    wanted |= dict(rollout)
    return _stamped(previous, generation, now, wanted.items())


def _stamped(
    previous: Iterable[Condition],
    generation: int,
    now: str,
    wanted: Iterable[tuple[str, tuple[str, str, str]]],
) -> tuple[Condition, ...]:
    """The conditions, each keeping its transition time while its status stays."""
    old = {c.type: c for c in previous}
    out = []
    for ctype, (status, reason, message) in wanted:
        before = old.get(ctype)
        since = before.last_transition_time if before and before.status == status else now
        out.append(
            Condition(
                type=ctype,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return tuple(out)
