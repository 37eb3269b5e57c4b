"""What each informer keeps of an object: only what the operator reads, to keep memory small.

At 1,000 clusters the caches hold 4,000 pods and 5,000 Services; a pod's spec
(containers, volumes, env, tolerations) is most of its size and nothing reads it.
Kept, per kind:
- every kind: all but `metadata.managedFields` (the reconcilers read names,
  labels, annotations, owner references, UIDs, resourceVersions, deletion marks);
- Pods: `status.phase`, `conditions`, `containerStatuses`, `initContainerStatuses`
  (`kubedirector.lifecycle.members` reads the container states and the
  PodScheduled condition) and `spec.nodeName`; the rest of spec and status is dropped;
- Services: `spec` without the fields the API server fills in and the builders in
  `kubedirector.desired` never set (so a semantic diff never looks at them), no
  `status`.
A transform changes the dict it is given (fresh from the API response) and returns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Transform = Callable[[Obj], Obj]

POD_STATUS_KEPT = ("phase", "conditions", "containerStatuses", "initContainerStatuses")
POD_SPEC_KEPT = ("nodeName",)
# Server-filled Service fields that no desired Service in kubedirector/desired sets.
SERVICE_SPEC_DROPPED = (
    "clusterIPs",
    "ipFamilies",
    "ipFamilyPolicy",
    "internalTrafficPolicy",
    "sessionAffinity",
)


def strip_managed_fields(obj: Obj) -> Obj:
    """Drop `metadata.managedFields`: often half an object's size, and no reconciler reads it.

    An update that omits managedFields leaves the server's copy unchanged.
    """
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def _keep(part: Any, keys: tuple[str, ...]) -> Obj:
    return {k: part[k] for k in keys if k in part} if isinstance(part, dict) else {}


def trim_pod(obj: Obj) -> Obj:
    """A pod as the member lifecycle reads it: metadata, container states, conditions."""
    strip_managed_fields(obj)
    if "spec" in obj:
        obj["spec"] = _keep(obj["spec"], POD_SPEC_KEPT)
    if "status" in obj:
        obj["status"] = _keep(obj["status"], POD_STATUS_KEPT)
    return obj


def trim_service(obj: Obj) -> Obj:
    """A Service as the reconcilers compare it: the spec fields a builder may set."""
    strip_managed_fields(obj)
    spec = obj.get("spec")
    if isinstance(spec, dict):
        for key in SERVICE_SPEC_DROPPED:
            spec.pop(key, None)
    obj.pop("status", None)
    return obj


def for_resource(group: str, plural: str) -> Transform:
    """The transform an informer of this resource applies to every object it caches."""
    if group == "":
        if plural == "pods":
            return trim_pod
        if plural == "services":
            return trim_service
    return strip_managed_fields
