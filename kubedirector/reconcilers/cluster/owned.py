"""The objects a cluster owns: what should exist, and making it so.

`role_objects` and `member_objects` (pure) list what the status calls for; `decide`
(pure) compares one with its live copy.  The diff decides only *whether* to
write: a write always sends the WHOLE desired object, so the operator keeps
owning every field it set (server-side apply drops fields a manager stops
sending) and an object it re-created stays manageable like any other.

To add a kind: its resource in `resources.OWNED_KINDS` (watched, and observed
in `Derived`), an `OwnedKind` for it, and its builder called in `role_objects`
(as the per-role PodDisruptionBudgets are; `prune` removes those no role wants).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import structlog

from kubedirector.api.constants import MemberState
from kubedirector.api.status import ClusterStatus, MemberStatus, RoleStatus
from kubedirector.cache.informer import Resource
from kubedirector.desired import naming
from kubedirector.desired.diff import semantic_diff
from kubedirector.desired.headless_service import build_headless_service
from kubedirector.desired.member_service import build_member_service
from kubedirector.desired.pdb import desired_pdbs
from kubedirector.desired.statefulset import (
    build_statefulset,
    fixed_part,
    mutable_part,
    replicas_for,
)
from kubedirector.lifecycle import upgrade
from kubedirector.reconcilers.cluster import adoption
from kubedirector.reconcilers.cluster.observe import Observation
from kubedirector.reconcilers.writer import ObjectWriter
from kubedirector.resources import PDBS, PVCS, SERVICES, STATEFULSETS

Obj = dict[str, Any]
log = structlog.get_logger(__name__)


def _service_compared(desired: Obj) -> Obj:
    meta = desired["metadata"]
    return {
        "metadata": {"labels": meta["labels"], "annotations": meta.get("annotations", {})},
        "spec": desired["spec"],
    }


def _labels_and_spec(desired: Obj) -> Obj:
    # The headless Service's annotations are set at creation and not compared (a
    # config change applies to clusters created afterwards); a write still sends them.
    return {"metadata": {"labels": desired["metadata"]["labels"]}, "spec": desired["spec"]}


def _nothing_fixed(_: Obj) -> Obj:
    return {}


def _replicas(desired: Obj) -> Obj:
    return {"spec": {"replicas": desired["spec"]["replicas"]}}


@dataclass(frozen=True)
class OwnedKind:
    """One kind of owned object: which part is kept in line with the desired object,
    and which part Kubernetes does not let change after creation."""

    name: str
    resource: Resource
    compared: Callable[[Obj], Obj]
    fixed: Callable[[Obj], Obj] = _nothing_fixed


HEADLESS = OwnedKind("headless Service", SERVICES, _labels_and_spec)
STATEFULSET = OwnedKind("StatefulSet", STATEFULSETS, mutable_part, fixed_part)
MEMBER_SERVICE = OwnedKind("member Service", SERVICES, _service_compared)
DISRUPTION_BUDGET = OwnedKind("PodDisruptionBudget", PDBS, _labels_and_spec)
# One the original operator made (see adoption.py): only its replicas follow membership.
ADOPTED_STATEFULSET = OwnedKind("adopted StatefulSet", STATEFULSETS, _replicas)
# One being moved to our template: the original's fields in its lists (env, volumes)
# belong to its manager, so server-side apply would keep them beside ours; a merge
# patch replaces each list whole.
MIGRATING_STATEFULSET = OwnedKind("migrating StatefulSet", STATEFULSETS, mutable_part)


@dataclass(frozen=True)
class Desired:
    kind: OwnedKind
    obj: Obj

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


def _statefulset(seen: Observation, desired: Obj) -> Desired:
    """A role's StatefulSet: adopted ones keep their template (see adoption.py) unless
    the cluster opts in to the migration, which fits ours to their fixed fields."""
    name = desired["metadata"]["name"]
    if adoption.opaque(seen, name):
        return Desired(ADOPTED_STATEFULSET, desired)
    actual = seen.derived.statefulsets.get(name)
    if actual is not None:
        desired = _claim_labels_kept(desired, actual)
    if actual is not None and adoption.adopted(seen, name):
        return Desired(MIGRATING_STATEFULSET, adoption.migrated(desired, actual))
    return Desired(STATEFULSET, desired)


def _claim_labels_kept(desired: Obj, actual: Mapping[str, Any]) -> Obj:
    """The claim templates' labels as the live StatefulSet has them: they carry the app's
    name, and Kubernetes lets no claim template change, so a live app upgrade keeps them."""
    live = {
        t["metadata"]["name"]: t["metadata"].get("labels")
        for t in actual.get("spec", {}).get("volumeClaimTemplates") or []
    }
    templates = desired["spec"].get("volumeClaimTemplates")
    if not templates or not live:
        return desired
    kept = [
        t
        if live.get(t["metadata"]["name"]) is None
        else {**t, "metadata": {**t["metadata"], "labels": live[t["metadata"]["name"]]}}
        for t in templates
    ]
    return {**desired, "spec": {**desired["spec"], "volumeClaimTemplates": kept}}


def role_objects(seen: Observation, status: ClusterStatus) -> list[Desired]:
    """The objects of the cluster and its roles: the headless Service and a
    StatefulSet per role in the spec (written before the members' execs, so new
    pods start as soon as possible).  A paused cluster's StatefulSets have no replicas."""
    app, cluster, config = seen.app, seen.cluster, seen.config
    assert app is not None and cluster is not None
    out = [Desired(HEADLESS, build_headless_service(app, cluster, config, status.cluster_service))]
    rollout = upgrade.templates(status.upgrade, [r.id for r in status.roles])
    for role in status.roles:
        if cluster.role(role.id) is None:
            continue
        template = rollout.get(role.id)
        sts = build_statefulset(
            seen.apps.get(template.app, app) if template else app,
            cluster,
            config,
            role_id=role.id,
            name=role.stateful_set,
            headless_service=status.cluster_service,
            replicas=0 if cluster.paused else replicas_for(role.members),
        )
        if template is not None:
            # Set even at 0: a field left out would not be compared, so not reset.
            sts["spec"]["updateStrategy"] = {
                "type": "RollingUpdate",
                "rollingUpdate": {"partition": template.partition},
            }
        out.append(_statefulset(seen, sts))
    statefulsets = {r.id: r.stateful_set for r in status.roles if cluster.role(r.id) is not None}
    out += [Desired(DISRUPTION_BUDGET, pdb) for pdb in desired_pdbs(app, cluster, statefulsets)]
    return out


def member_objects(seen: Observation, status: ClusterStatus) -> list[Desired]:
    """A Service per member not leaving, of each role in the spec."""
    app, cluster, config = seen.app, seen.cluster, seen.config
    assert app is not None and cluster is not None
    out = []
    for role in status.roles:
        if cluster.role(role.id) is None:
            continue
        for member in role.members:
            if member.state == MemberState.DELETING:
                continue
            service = build_member_service(
                app, cluster, config, role_id=role.id, pod=member.pod, name=member.service
            )
            if service is not None:
                out.append(Desired(MEMBER_SERVICE, service))
    return out


class Action(Enum):
    KEEP = "keep"
    APPLY = "apply"
    REPLACE = "replace"


def _empty_statefulset(actual: Mapping[str, Any]) -> bool:
    return actual.get("spec", {}).get("replicas") == 0 and not actual.get("status", {}).get(
        "replicas"
    )


def decide(desired: Desired, actual: Mapping[str, Any] | None) -> tuple[Action, list[str]]:
    """What to do about one object, and the fields that differ.

    A fixed field that differs (say a role's storage changed while it had no
    members) is fixed by replacing the object when it has no pods; otherwise the
    write goes ahead and the API server's refusal is reported.
    """
    if actual is None:
        return Action.APPLY, ["(missing)"]
    fixed = semantic_diff(desired.kind.fixed(desired.obj), actual)
    if fixed and _empty_statefulset(actual):
        return Action.REPLACE, fixed
    diff = (
        fixed
        + semantic_diff(desired.kind.compared(desired.obj), actual)
        + _owner_missing(desired.obj, actual)
    )
    return (Action.APPLY, diff) if diff else (Action.KEEP, [])


def _owner_missing(desired: Obj, actual: Mapping[str, Any]) -> list[str]:
    """The cluster's owner reference, when the live object lacks it (a cluster restored
    from a backup is a new object, with a new uid, over the same derived objects)."""
    wanted = {r["uid"] for r in desired["metadata"].get("ownerReferences") or []}
    have = {r.get("uid") for r in actual.get("metadata", {}).get("ownerReferences") or []}
    return [] if wanted <= have else ["metadata.ownerReferences"]


def write_body(desired: Desired, actual: Mapping[str, Any] | None) -> Obj:
    """What a write of `desired` sends: the whole object.

    The one exception: a StatefulSet adopted from the original operator, whose
    template this operator did not render, gets only `spec.replicas` and the
    cluster's owner reference (server-side apply then owns those alone and leaves
    every other field as it is; metadata does not reach the pods).
    """
    if desired.kind is ADOPTED_STATEFULSET and actual is not None:
        meta = desired.obj["metadata"]
        keep = ("name", "namespace", "ownerReferences")
        return {"metadata": {k: meta[k] for k in keep if k in meta}, **_replicas(desired.obj)}
    return desired.obj


def claim_of(claim: str, pod: str) -> bool:
    """Whether a claim is one of the pod's: `p-<pod>` or a block device `b<N>-<pod>`."""
    prefix, _, rest = claim.partition("-")
    return rest == pod and (
        prefix == naming.PVC_TEMPLATE or (prefix[:1] == "b" and prefix[1:].isdigit())
    )


class OwnedObjects:
    """Writes the owned objects; each method returns what it changed, for status."""

    def __init__(self, writer: ObjectWriter) -> None:
        self.writer = writer

    def ensure(self, seen: Observation, desired: list[Desired]) -> list[str]:
        changed = []
        for want in desired:
            actual = seen.derived.of(want.kind.resource).get(want.name)
            action, diff = decide(want, actual)
            if action == Action.KEEP:
                continue
            # Replicas follow membership; anything else differing is drift being undone.
            event = (
                "object_missing"
                if actual is None
                else "replicas_changed"
                if diff == ["spec.replicas"]
                else "drift_corrected"
            )
            log.info(
                event, kind=want.kind.name, name=want.name, fields=diff[:5], action=action.value
            )
            if action == Action.REPLACE:
                assert actual is not None
                self.writer.delete(
                    want.kind.resource, seen.namespace, want.name, uid=actual["metadata"]["uid"]
                )
            elif want.kind is MIGRATING_STATEFULSET:
                self.writer.merge_patch(
                    want.kind.resource, seen.namespace, want.name, mutable_part(want.obj)
                )
            else:
                self.writer.apply(want.kind.resource, write_body(want, actual))
            changed.append(f"{want.kind.name} {want.name}")
        return changed

    def prune(self, seen: Observation, desired: list[Desired], kind: OwnedKind) -> list[str]:
        """Delete the cluster's objects of `kind` that nothing desired names any more
        (a role's budget once it is down to one member, disabled, or the role gone)."""
        wanted = {d.name for d in desired if d.kind is kind}
        changed = []
        for name, actual in seen.derived.of(kind.resource).items():
            meta = actual["metadata"]
            if name in wanted or meta.get("deletionTimestamp"):
                continue
            self.writer.delete(kind.resource, seen.namespace, name, uid=meta.get("uid"))
            changed.append(f"{kind.name} {name}")
        return changed

    def remove_departed(
        self, seen: Observation, status: ClusterStatus
    ) -> tuple[ClusterStatus, list[str]]:
        """Delete a `deleting` member's service and claims once its pod is gone, and drop
        it; scale down the StatefulSet of a role gone from the spec, delete it once empty."""
        assert seen.cluster is not None
        roles: list[RoleStatus] = []
        changed: list[str] = []
        for role in status.roles:
            kept: list[MemberStatus] = []
            for member in role.members:
                if member.state != MemberState.DELETING or member.pod in seen.derived.pods:
                    kept.append(member)
                    continue
                changed += self._remove_member(seen, member)
            if seen.cluster.role(role.id) is not None:
                roles.append(replace(role, members=tuple(kept)))
                continue
            changed += self._wind_down(seen, role.stateful_set, role.members, kept)
            if kept:
                roles.append(replace(role, members=tuple(kept)))
        return replace(status, roles=tuple(roles)), changed

    def _remove_member(self, seen: Observation, member: MemberStatus) -> list[str]:
        changed = []
        # Claims made from a StatefulSet's templates carry its labels, not an owner.
        for claim in seen.derived.claims:
            if claim_of(claim, member.pod):
                self.writer.delete(PVCS, seen.namespace, claim)
                changed.append(f"PersistentVolumeClaim {claim}")
        if member.service in seen.derived.services:
            self.writer.delete(SERVICES, seen.namespace, member.service)
            changed.append(f"member Service {member.service}")
        return changed

    def _wind_down(
        self,
        seen: Observation,
        name: str,
        planned: tuple[MemberStatus, ...],
        kept: list[MemberStatus],
    ) -> list[str]:
        """A role removed from the spec cannot be rendered any more: only its replicas
        follow its leaving members (a merge patch), then it is deleted."""
        actual = seen.derived.statefulsets.get(name)
        if actual is None:
            return []
        if not kept:
            self.writer.delete(STATEFULSETS, seen.namespace, name)
            return [f"StatefulSet {name}"]
        wanted = 0 if seen.cluster and seen.cluster.paused else replicas_for(planned)
        if actual["spec"].get("replicas") == wanted:
            return []
        self.writer.merge_patch(STATEFULSETS, seen.namespace, name, {"spec": {"replicas": wanted}})
        return [f"StatefulSet {name}"]
