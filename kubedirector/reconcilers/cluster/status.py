"""Status and Events: what a pass found, told truthfully.

`summarise` is pure: the cluster state, rollup, member summary and the
conditions.  `StatusReport` writes status only when it changed, and records
the Events for membership changes, spec problems and persistent failures.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog

from kubedirector.api.constants import ClusterState, MemberState
from kubedirector.api.status import ClusterStatus
from kubedirector.lifecycle import cluster_state
from kubedirector.reconcilers.cluster.expectations import Expectations
from kubedirector.reconcilers.cluster.observe import Observation
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.reconcilers.writer import ObjectWriter
from kubedirector.resources import CLUSTERS

log = structlog.get_logger(__name__)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rolling_out(seen: Observation, statefulsets: Sequence[str]) -> list[str]:
    """StatefulSets whose controller has not yet realised their latest spec."""
    out = []
    for name in statefulsets:
        sts = seen.derived.statefulsets.get(name)
        if sts is None:
            continue
        spec, st = sts.get("spec", {}), sts.get("status", {})
        wanted = spec.get("replicas") or 0
        if (
            (st.get("observedGeneration") or 0) < (sts["metadata"].get("generation") or 0)
            or (st.get("replicas") or 0) != wanted
            or (st.get("updatedReplicas") or 0) != wanted
        ):
            out.append(f"StatefulSet {name} is rolling out")
    return out


def summarise(seen: Observation, status: ClusterStatus, unrealised: Sequence[str]) -> ClusterStatus:
    """The status a completed pass writes; `unrealised` is what is still on its way
    (objects just written, StatefulSets rolling out), which keeps `Ready` False."""
    all_members = [m for r in status.roles for m in r.members]
    paused = seen.cluster is not None and seen.cluster.paused
    state = cluster_state.cluster_state(status.state, all_members, paused=paused)
    if status.upgrade is not None and status.upgrade.phase.moving and not paused:
        state = ClusterState.UPDATING
    pending = "; ".join(unrealised[:3]) + ("; ..." if len(unrealised) > 3 else "")
    return replace(
        status,
        state=state,
        member_state_rollup=cluster_state.rollup(all_members),
        conditions=cluster_state.conditions(
            previous=status.conditions,
            generation=seen.generation,
            state=state,
            members=all_members,
            problem=None,
            now=now(),
            unrealised=pending or None,
            upgrade=status.upgrade,
        ),
        observed_generation=seen.generation,
        member_summary=cluster_state.member_summary(all_members),
    )


def _nulls_for_removed(old: Mapping[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch from `old` to `new`: keys that disappeared are set to null."""
    patch: dict[str, Any] = dict(new)
    for key in old.keys() - new.keys():
        patch[key] = None
    return patch


class StatusReport:
    """Writes a cluster's status and Events."""

    def __init__(
        self, writer: ObjectWriter, events: EventRecorder, expectations: Expectations
    ) -> None:
        self.writer = writer
        self.events = events
        self.expectations = expectations

    def _patch(self, seen: Observation, status: Mapping[str, Any]) -> None:
        self.expectations.wrote(
            self.writer.merge_patch(
                CLUSTERS, seen.namespace, seen.name, {"status": status}, subresource="status"
            )
        )

    def write(self, seen: Observation, status: ClusterStatus) -> bool:
        """Write status if it differs from what is stored; True when written."""
        new = status.to_dict()
        old = seen.raw.get("status") or {}
        if new == old:
            return False
        self._patch(seen, _nulls_for_removed(old, new))
        return True

    def conditions_only(
        self, seen: Observation, reason: str, message: str, *, observed: bool
    ) -> bool:
        """Report a problem in the conditions (and `state`), keeping what the cluster
        has (members, names).  `observed`: the generation was judged (a spec problem),
        so `observedGeneration` follows it; a failing reconcile leaves it behind."""
        previous = seen.status
        members = [m for r in previous.roles for m in r.members]
        state = previous.state or ClusterState.CREATING
        problem = cluster_state.SpecProblem(reason, message) if observed else None
        conditions = cluster_state.conditions(
            previous=previous.conditions,
            generation=seen.generation,
            state=ClusterState(state),
            members=members,
            problem=problem,
            now=now(),
            failing=None if observed else message,
        )
        patch: dict[str, Any] = {"state": state, "conditions": [c.to_dict() for c in conditions]}
        if observed:
            patch["observedGeneration"] = seen.generation
        old = seen.raw.get("status") or {}
        if all(old.get(k) == v for k, v in patch.items()):
            return False
        self._patch(seen, patch)
        return True

    def spec_problem(self, seen: Observation) -> None:
        """Why the spec cannot work; the watches on the cluster and apps retry."""
        message = "; ".join(str(e) for e in seen.problems)
        if self.conditions_only(seen, "InvalidSpec", message, observed=True):
            self.event(seen, "Warning", "InvalidSpec", message)
        log.warning("cluster_spec_invalid", errors=message)

    def event(self, seen: Observation, event_type: str, reason: str, message: str) -> None:
        self.events.record(dict(seen.raw), event_type, reason, message)

    def membership_events(self, seen: Observation, new: ClusterStatus) -> None:
        old = seen.status
        before = {m.pod: m.state for r in old.roles for m in r.members}
        after = {m.pod: m.state for r in new.roles for m in r.members}
        for pod, state in after.items():
            if pod not in before:
                self.event(seen, "Normal", "MemberAdded", f"member {pod} added ({state})")
            elif before[pod] != state:
                kind = "Warning" if state == MemberState.CONFIG_ERROR else "Normal"
                self.event(
                    seen, kind, "MemberStateChanged", f"member {pod}: {before[pod]} -> {state}"
                )
        for pod in before.keys() - after.keys():
            self.event(seen, "Normal", "MemberRemoved", f"member {pod} removed")
        if old.state != new.state:
            self.event(
                seen,
                "Normal",
                "ClusterStateChanged",
                f"cluster {old.state or 'new'} -> {new.state}",
            )
