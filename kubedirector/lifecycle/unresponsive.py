"""Unresponsive members (pure): a member whose pod has not been Ready for longer
than its role's `unresponsivePolicy.afterSeconds`.

Kubernetes already says when a pod is not Ready (its container not running, a
probe failing, a crash loop): the pod's `Ready` condition and its
`lastTransitionTime` are the evidence, so the rule needs no clock of its own
beyond "now".  A member still being created or leaving is not judged.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubedirector.api.cluster import Cluster, UnresponsiveAction, UnresponsivePolicy
from kubedirector.api.constants import MemberState
from kubedirector.api.status import ClusterStatus, MemberStatus

JUDGED = frozenset({MemberState.CREATING, MemberState.CONFIGURED, MemberState.CONFIG_ERROR})


def parse_time(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def not_ready_since(pod: Mapping[str, Any] | None) -> str | None:
    """When the pod's `Ready` condition last turned False; None while Ready, gone,
    being deleted, or not reported yet."""
    if pod is None or pod.get("metadata", {}).get("deletionTimestamp"):
        return None
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            since = cond.get("lastTransitionTime")
            return str(since) if since else None
    return None


@dataclass(frozen=True)
class Verdict:
    """One member judged: why it is unresponsive (None: it is not), whether its pod
    is to be deleted, and when to look again if it may become unresponsive."""

    unresponsive: str | None
    restart: bool
    recheck_after: float | None


def judge(
    member: MemberStatus,
    pod: Mapping[str, Any] | None,
    policy: UnresponsivePolicy,
    now: datetime.datetime,
) -> Verdict:
    since = not_ready_since(pod) if member.state in JUDGED else None
    if since is None:
        return Verdict(None, restart=False, recheck_after=None)
    waited = (now - parse_time(since)).total_seconds()
    if waited < policy.after_seconds:
        return Verdict(None, restart=False, recheck_after=policy.after_seconds - waited + 1)
    message = f"pod not Ready since {since} (more than {policy.after_seconds}s)"
    return Verdict(message, restart=policy.action == UnresponsiveAction.RESTART, recheck_after=None)


@dataclass(frozen=True)
class Review:
    """The status with each member's `unresponsive` set or cleared, the pods to
    restart, and when to look again."""

    status: ClusterStatus
    restart: tuple[str, ...]
    recheck_after: tuple[float, ...]


def review(
    cluster: Cluster,
    status: ClusterStatus,
    pods: Mapping[str, Mapping[str, Any]],
    now: datetime.datetime,
) -> Review:
    restart: list[str] = []
    recheck: list[float] = []
    roles = []
    for role in status.roles:
        spec_role = cluster.role(role.id)
        policy = spec_role.unresponsive_policy if spec_role else UnresponsivePolicy()
        members = []
        for member in role.members:
            verdict = judge(member, pods.get(member.pod), policy, now)
            if verdict.restart:
                restart.append(member.pod)
            if verdict.recheck_after is not None:
                recheck.append(verdict.recheck_after)
            detail = replace(member.state_detail, unresponsive=verdict.unresponsive)
            members.append(replace(member, state_detail=detail))
        roles.append(replace(role, members=tuple(members)))
    return Review(replace(status, roles=tuple(roles)), tuple(restart), tuple(recheck))
