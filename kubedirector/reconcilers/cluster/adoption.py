"""Taking over clusters the original (Go) operator made, without restarting a pod.

A pod restarts only when its StatefulSet's template changes, and the original's
templates differ from ours (and by the version that made them, see
docs/spec/upstream-pods.md 4.4).  So a StatefulSet it made is *adopted*: this
operator changes only its `spec.replicas`, never its template, unless the user
opts in to a rolling migration to our template (docs/migrating.md).

Recognising one: the original never writes `conditions` or `observedGeneration`
and this operator always does, so a status with a cluster service and neither
was written by the original (live, or restored from its backup).  Every
StatefulSet that status names is then marked with `ANNOTATION_ADOPTED` before
the first status this operator writes, and the mark, not the status, decides
from then on: the decision is stable across restarts and restores.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from kubedirector.api.constants import GROUP
from kubedirector.api.status import ClusterStatus
from kubedirector.desired.statefulset import MUTABLE_SPEC_FIELDS
from kubedirector.reconcilers.cluster.observe import Observation
from kubedirector.reconcilers.writer import ObjectWriter
from kubedirector.resources import STATEFULSETS

log = structlog.get_logger(__name__)

# On a StatefulSet: its template was rendered by the original operator and is kept.
ANNOTATION_ADOPTED = f"{GROUP}/adopted-template"
# On a cluster, "true": the user opts in to rolling its adopted StatefulSets over to
# this operator's template (every pod restarts once, role by role).
ANNOTATION_MIGRATE = f"{GROUP}/migrate-adopted-templates"


def written_by_original(status: ClusterStatus) -> bool:
    """Whether the stored status is the original operator's (never this one's)."""
    return (
        bool(status.cluster_service)
        and not status.conditions
        and (status.observed_generation is None)
    )


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def migrating(seen: Observation) -> bool:
    return _annotations(seen.raw).get(ANNOTATION_MIGRATE) == "true"


def marked(statefulset: Mapping[str, Any]) -> bool:
    return _annotations(statefulset).get(ANNOTATION_ADOPTED) == "true"


def to_adopt(seen: Observation) -> list[str]:
    """The StatefulSets this pass recognises as the original's and has yet to mark."""
    if not written_by_original(seen.status):
        return []
    return [
        role.stateful_set
        for role in seen.status.roles
        if (sts := seen.derived.statefulsets.get(role.stateful_set)) is not None and not marked(sts)
    ]


def adopted(seen: Observation, name: str) -> bool:
    """Whether the StatefulSet `name` is the original's (marked, or about to be)."""
    sts = seen.derived.statefulsets.get(name)
    return sts is not None and (marked(sts) or name in to_adopt(seen))


def opaque(seen: Observation, name: str) -> bool:
    """Whether the StatefulSet `name` keeps its template: adopted, and the user has
    not opted in to the migration."""
    return not migrating(seen) and adopted(seen, name)


def migrated(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, Any]:
    """This operator's StatefulSet for a role, fitted to the adopted one it replaces in
    place: the fields Kubernetes does not let change (selector, serviceName, claim
    templates, ...) are the adopted one's, and the template also carries the labels
    of its selector (the original put more labels there), so the update is allowed."""
    out = copy.deepcopy(dict(desired))
    spec, live = out["spec"], actual.get("spec", {})
    for key in [k for k in spec if k not in MUTABLE_SPEC_FIELDS and k in live]:
        spec[key] = copy.deepcopy(live[key])
    selected = live.get("selector", {}).get("matchLabels") or {}
    labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    labels.update(selected)
    return out


def continued(seen: Observation) -> Observation:
    """The observation with the original's status made this operator's own.

    Everything is kept (names, node ids, tokens, member states and their container
    ids), except `lastConnectionHash`: the original's is an MD5 of other inputs and
    would never equal ours, which would send every member a `--reconnect`.
    Forgetting it takes the current connections as already known.
    """
    if not written_by_original(seen.status):
        return seen
    return replace(seen, status=replace(seen.status, last_connection_hash=None))


def mark(seen: Observation, writer: ObjectWriter) -> list[str]:
    """Record the adoption on each newly recognised StatefulSet (metadata only: a
    change of annotations on the StatefulSet itself does not touch its pods)."""
    changed = []
    for name in to_adopt(seen):
        writer.merge_patch(
            STATEFULSETS,
            seen.namespace,
            name,
            {"metadata": {"annotations": {ANNOTATION_ADOPTED: "true"}}},
        )
        log.info("statefulset_adopted", name=name)
        changed.append(f"StatefulSet {name} adopted")
    return changed
