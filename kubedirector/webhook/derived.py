"""Let the API server judge what a cluster will become, before the cluster is admitted.

Kubernetes refuses things our own checks do not know (a fractional GPU, an
environment variable named `A=B`, an unknown affinity operator, ...), but only
when the reconciler creates the derived objects, long after the cluster was
admitted. So admission builds them with the reconciler's own builders
(`kubedirector/desired/`) and sends a server-side dry-run create of each: the
headless Service, one StatefulSet per role and one member Service per role
(one per role, never one per member: members of a role differ only in name).
Every object uses `generateName`, so objects that already exist never clash.

A 422 whose causes point at a part of the object that comes from a cluster
field is turned into a refusal naming that field
(`spec.roles[1].resources.limits[nvidia.com/gpu]`); any other answer (another
webhook with side effects, a timeout, a cause we cannot place) only warns, so
an unusual API server never blocks a valid cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.errors import FieldError
from kubedirector.api.fields import join
from kubedirector.cache.informer import Resource
from kubedirector.desired import naming
from kubedirector.desired.headless_service import build_headless_service
from kubedirector.desired.member_service import build_member_service
from kubedirector.desired.statefulset import (
    PROJECTION_VOLUME_PREFIX,
    SECRET_VOLUME_PREFIX,
    SHM_VOLUME,
    RoleNotInAppError,
    build_statefulset,
)
from kubedirector.resources import SERVICES, STATEFULSETS
from kubedirector.webhook.live import Reply, Request, dry_run_create

Obj = dict[str, Any]
PLACEHOLDER = "x"  # stands for the random suffix of names the reconciler picks


@dataclass(frozen=True)
class Derived:
    """One object to dry-run; `role` is the index of the role it comes from (None for
    the headless Service)."""

    resource: Resource
    obj: Obj
    role: int | None
    role_id: str = ""

    def describe(self) -> str:
        if self.role is None:
            return "the cluster's headless Service"
        kind = "StatefulSet" if self.resource == STATEFULSETS else "member Service"
        return f"the {kind} of role {self.role_id!r}"


def _placeholder(count: int) -> str:
    return PLACEHOLDER * count


def _no_suffix(count: int) -> str:
    """With this random source the naming functions give the `generateName` prefix."""
    return ""


def _generated(obj: Obj, prefix: str) -> Obj:
    """`obj` named by the server from `prefix`, with no owner (nothing will own it)."""
    meta = dict(obj["metadata"])
    meta.pop("name", None)
    meta.pop("ownerReferences", None)
    meta["generateName"] = prefix
    return {**obj, "metadata": meta}


def derived_objects(app: App, cluster: Cluster, config: Config) -> list[Derived]:
    """The headless Service, and per role its StatefulSet and one member Service."""
    scheme = cluster.naming_scheme
    headless = naming.headless_service_name(scheme, cluster.name, _placeholder)
    headless_prefix = naming.headless_service_name(scheme, cluster.name, _no_suffix)
    out = [
        Derived(
            SERVICES,
            _generated(build_headless_service(app, cluster, config, headless), headless_prefix),
            None,
        )
    ]
    for i, role in enumerate(cluster.roles):
        name = naming.statefulset_name(scheme, cluster.name, role.id, _placeholder)
        prefix = naming.statefulset_name(scheme, cluster.name, role.id, _no_suffix)
        try:
            sts = build_statefulset(
                app,
                cluster,
                config,
                role_id=role.id,
                name=name,
                headless_service=headless,
                replicas=max(role.members or 0, 0),
            )
        except RoleNotInAppError:
            continue  # the cached checks (or the app's own) report it
        out.append(Derived(STATEFULSETS, _generated(sts, prefix), i, role.id))
        pod = naming.pod_name(name, 0)
        service = build_member_service(
            app,
            cluster,
            config,
            role_id=role.id,
            pod=pod,
            name=naming.member_service_name(scheme, name, 0),
        )
        if service is not None:
            service_prefix = naming.member_service_name(scheme, prefix.rstrip("-"), 0) + "-"
            out.append(Derived(SERVICES, _generated(service, service_prefix), i, role.id))
    return out


def requests(derived: Sequence[Derived]) -> list[Request]:
    return [dry_run_create(d.resource, d.obj) for d in derived]


# ---- from the API server's causes back to the cluster's fields ----------------------

_POD = "spec.template.spec."
_APP = f"{_POD}containers[0]."
# Derived-object path prefix -> the role field it comes from; the rest of the path is kept.
_STATEFULSET_FIELDS = (
    (f"{_APP}resources", "resources"),
    (f"{_POD}initContainers[0].resources", "resources"),
    (f"{_APP}env", "env"),
    (f"{_POD}affinity", "affinity"),
    (f"{_POD}serviceAccountName", "serviceAccountName"),
    # The template's ObjectMeta is reported both ways, depending on the check.
    ("spec.template.metadata.labels", "podLabels"),
    ("spec.template.labels", "podLabels"),
    ("spec.template.metadata.annotations", "podAnnotations"),
    ("spec.template.annotations", "podAnnotations"),
    (f"{_APP}volumeDevices", "blockStorage.pathPrefix"),
)
_MEMBER_SERVICE_FIELDS = (
    ("metadata.labels", "serviceLabels"),
    ("metadata.annotations", "serviceAnnotations"),
)


def _volume_field(name: str) -> str | None:
    """The role field a pod volume (or mount) comes from, by its name."""
    if name.startswith(SECRET_VOLUME_PREFIX):
        return "secret"
    if name == SHM_VOLUME:
        return "sharedMemory"
    if name == naming.PVC_TEMPLATE:
        return "storage"
    if name.startswith(PROJECTION_VOLUME_PREFIX):
        return f"volumeProjections[{name.removeprefix(PROJECTION_VOLUME_PREFIX)}]"
    return None


def _lists(obj: Obj) -> dict[str, list[Any]]:
    """The StatefulSet's lists whose entries map to role fields by name."""
    spec = obj.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    container = (pod.get("containers") or [{}])[0]
    return {
        f"{_POD}volumes": pod.get("volumes") or [],
        f"{_APP}volumeMounts": container.get("volumeMounts") or [],
        "spec.volumeClaimTemplates": spec.get("volumeClaimTemplates") or [],
    }


def _indexed(path: str, list_path: str, entries: list[Any]) -> Mapping[str, Any] | None:
    """The entry `path` points into (`<list_path>[i]...`), or None."""
    m = re.match(rf"{re.escape(list_path)}\[(\d+)\]", path)
    if m is None or int(m.group(1)) >= len(entries):
        return None
    entry = entries[int(m.group(1))]
    return entry if isinstance(entry, Mapping) else {}


def _statefulset_field(obj: Obj, path: str) -> str | None:
    for prefix, target in _STATEFULSET_FIELDS:
        if path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")):
            return target + path[len(prefix) :]
    for list_path, entries in _lists(obj).items():
        entry = _indexed(path, list_path, entries)
        if entry is None:
            continue
        if list_path == "spec.volumeClaimTemplates":
            name = (entry.get("metadata") or {}).get("name")
            return "storage.size" if name == naming.PVC_TEMPLATE else "blockStorage.size"
        return _volume_field(str(entry.get("name", "")))
    return None


def cluster_field(derived: Derived, path: str) -> str | None:
    """The cluster field the API server's `path` in `derived` comes from, or None."""
    if derived.role is None:
        return None  # the headless Service holds nothing a cluster's roles set
    role = join("spec.roles", derived.role)
    if derived.resource == STATEFULSETS:
        field = _statefulset_field(derived.obj, path)
    elif path == "spec.type":
        return "spec.serviceType"
    elif path.startswith("spec.ports"):
        return role  # the ports are the app's services for this role
    else:
        field = next(
            (
                target + path[len(prefix) :]
                for prefix, target in _MEMBER_SERVICE_FIELDS
                if path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))
            ),
            None,
        )
    return None if field is None else f"{role}.{field}"


@dataclass
class Verdict:
    """Refusals (field errors) and warnings from the dry runs."""

    errors: list[FieldError]
    warnings: list[str]


def judge(derived: Sequence[Derived], replies: Sequence[Reply]) -> Verdict:
    """Refuse on each 422 cause that maps to a cluster field; warn about the rest."""
    verdict = Verdict([], [])
    for d, reply in zip(derived, replies, strict=True):
        if reply.status in (200, 201):
            continue
        what = d.describe()
        if reply.status != 422:
            reason = (
                "no answer in time"
                if not reply.answered
                else f"{reply.status} {str(reply.body.get('message', ''))[:300]}"
            )
            verdict.warnings.append(
                f"the API server could not check {what} (server-side dry run: {reason}); "
                "the cluster is admitted unchecked by it"
            )
            continue
        causes = (reply.body.get("details") or {}).get("causes") or []
        for cause in causes:
            path = str(cause.get("field", ""))
            message = str(cause.get("message", "")) or str(cause.get("reason", ""))
            field = cluster_field(d, path)
            if field is None:
                verdict.warnings.append(f"the API server refuses {what}: {path}: {message}")
            else:
                verdict.errors.append(
                    FieldError(field, f"{message} (the API server refuses {what} at {path})")
                )
        if not causes:
            verdict.warnings.append(
                f"the API server refuses {what}: {str(reply.body.get('message', ''))[:300]}"
            )
    return verdict
