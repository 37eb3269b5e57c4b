"""What a cluster refers to that must exist, and be usable by whoever asks, at admission.

Pure: `reference_checks` says which live lookups a cluster needs and `judge`
reads their replies.  Only references the request adds are checked (a name the
stored cluster already used was checked when it came in), so scaling a cluster
never depends on the person scaling it being allowed what its creator was.

- a mounted Secret (`secret`, `defaultSecret`) must exist in the cluster's
  namespace (its prefix is checked without a lookup, by `validate_cluster`);
- a `serviceAccountName` must exist, and the requesting user must be allowed to
  `impersonate` it: pods running as a ServiceAccount act with its permissions,
  which is what impersonating it grants (the built-in `edit` and `admin` roles
  allow it; `view` does not);
- a `volumeProjections[].pvcName` claim must exist and provide a filesystem
  (a `Block` claim cannot be mounted).

A lookup that gets no usable answer (timeout, 403, 5xx) warns and admits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubedirector.api.cluster import Cluster
from kubedirector.api.errors import FieldError
from kubedirector.api.fields import join
from kubedirector.cache.informer import Resource
from kubedirector.resources import PVCS, SECRETS
from kubedirector.webhook.live import Reply, Request, access_review, get

SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")


class Rule(StrEnum):
    EXISTS = "exists"
    FILESYSTEM_CLAIM = "filesystem claim"
    MAY_USE = "may use"


@dataclass(frozen=True)
class Check:
    """One lookup and what its reply must show; `field` is named in a refusal."""

    field: str
    what: str  # "Secret 'kd-x'"
    rule: Rule
    request: Request


def _secret_fields(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, secret name) of every mounted Secret the raw spec names."""
    spec = doc.get("spec") or {}
    out = []
    default = spec.get("defaultSecret")
    if isinstance(default, Mapping) and isinstance(default.get("name"), str):
        out.append(("spec.defaultSecret.name", default["name"]))
    for i, role in enumerate(spec.get("roles") or []):
        secret = role.get("secret") if isinstance(role, Mapping) else None
        if isinstance(secret, Mapping) and isinstance(secret.get("name"), str):
            out.append((join(join("spec.roles", i), "secret.name"), secret["name"]))
    return out


def _references(doc: Mapping[str, Any], cluster: Cluster) -> set[tuple[str, str]]:
    refs = {("secret", name) for _, name in _secret_fields(doc)}
    for role in cluster.roles:
        if role.service_account_name:
            refs.add(("serviceaccount", role.service_account_name))
        refs |= {("claim", p.pvc_name) for p in role.volume_projections}
    return refs


def reference_checks(
    doc: Mapping[str, Any],
    cluster: Cluster,
    old: tuple[Mapping[str, Any], Cluster] | None,
    user_info: Mapping[str, Any],
) -> list[Check]:
    """The lookups for references `doc` adds to the stored cluster `old` (None: a create)."""
    ns = cluster.namespace
    known = _references(*old) if old is not None else set()
    checks: list[Check] = []
    for field, name in _secret_fields(doc):
        if ("secret", name) not in known:
            request = get(SECRETS, ns, name, metadata_only=True)
            checks.append(Check(field, f"Secret {name!r}", Rule.EXISTS, request))
    for i, role in enumerate(cluster.roles):
        path = join("spec.roles", i)
        sa = role.service_account_name
        if sa and ("serviceaccount", sa) not in known:
            field = join(path, "serviceAccountName")
            what = f"ServiceAccount {sa!r}"
            checks.append(Check(field, what, Rule.EXISTS, get(SERVICE_ACCOUNTS, ns, sa)))
            attributes = {
                "namespace": ns,
                "verb": "impersonate",
                "resource": "serviceaccounts",
                "name": sa,
            }
            checks.append(Check(field, what, Rule.MAY_USE, access_review(user_info, attributes)))
        for j, projection in enumerate(role.volume_projections):
            if ("claim", projection.pvc_name) in known:
                continue
            checks.append(
                Check(
                    join(join(path, "volumeProjections"), j) + ".pvcName",
                    f"PersistentVolumeClaim {projection.pvc_name!r}",
                    Rule.FILESYSTEM_CLAIM,
                    get(PVCS, ns, projection.pvc_name),
                )
            )
    return checks


def judge(
    checks: Sequence[Check], replies: Sequence[Reply], namespace: str, user: str
) -> tuple[list[FieldError], list[str]]:
    """Refusals for what is missing or not allowed; warnings for what could not be checked."""
    errors: list[FieldError] = []
    warnings: list[str] = []
    for check, reply in zip(checks, replies, strict=True):
        if reply.status == 404 and check.rule != Rule.MAY_USE:
            errors.append(
                FieldError(check.field, f"{check.what} does not exist in namespace {namespace!r}")
            )
        elif reply.status not in (200, 201):
            reason = "no answer in time" if not reply.answered else f"status {reply.status}"
            warnings.append(f"{check.field}: could not check {check.what} ({reason})")
        elif check.rule == Rule.FILESYSTEM_CLAIM:
            mode = (reply.body.get("spec") or {}).get("volumeMode") or "Filesystem"
            if mode != "Filesystem":
                errors.append(
                    FieldError(
                        check.field,
                        f"{check.what} has volumeMode {mode}: projections need Filesystem claims",
                    )
                )
        elif check.rule == Rule.MAY_USE and not (reply.body.get("status") or {}).get("allowed"):
            errors.append(
                FieldError(
                    check.field,
                    f"user {user!r} may not use {check.what}: running pods as it needs "
                    f"permission to impersonate it (verb impersonate on serviceaccounts "
                    f"in namespace {namespace!r})",
                )
            )
    return errors, warnings
