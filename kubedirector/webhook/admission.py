"""Admission decisions (api.md section 6): AdmissionReview v1 request in, response out.

Everything it knows comes from the request, a `View` of the shared caches and,
for a cluster that passes every cached check, a few bounded `Live` lookups (the
Secrets, ServiceAccounts and claims it names, and server-side dry runs of what it
will become; see `references` and `derived`). None of them writes anything, so
every replica gives the same answer and a `dryRun` request has no side effect.
The validating half refuses with each problem's field path and reason; the
mutating half refuses hand-written `encryptedValue`s and fills in a cluster's
defaults, only where unset, as a JSONPatch.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import (
    GROUP,
    KIND_APP,
    KIND_CLUSTER,
    KIND_CONFIG,
)
from kubedirector.api.errors import FieldError, SpecError
from kubedirector.api.secretkeys import encrypt, key_error
from kubedirector.api.validation import (
    clusters_with_encrypted_values,
    validate_app,
    validate_app_delete,
    validate_app_update,
    validate_cluster,
    validate_cluster_update,
    validate_config,
    validate_config_delete,
    validate_config_update,
    validate_encrypted_values,
)
from kubedirector.webhook import derived, references
from kubedirector.webhook.live import Live
from kubedirector.webhook.view import View, clusters_using, default_storage_class, resolve_app

Mode = Literal["validate", "mutate"]
Obj = dict[str, Any]
REASONS = {403: "Forbidden", 422: "Invalid", 503: "ServiceUnavailable"}
NOT_READY = (
    "kubedirector admission is not ready yet (its caches have not synced); retry in a few seconds"
)


@dataclass
class Decision:
    """The outcome of one request, before it is wrapped into a response."""

    allowed: bool = True
    errors: list[FieldError] = field(default_factory=list)
    message: str = ""
    code: int = 200
    patch: list[Obj] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def deny(cls, errors: list[FieldError], code: int = 422) -> Decision:
        return cls(
            allowed=False, errors=errors, code=code, message="; ".join(str(e) for e in errors)
        )


def review(body: Mapping[str, Any], view: View, mode: Mode, live: Live | None = None) -> Obj:
    """The AdmissionReview response to `body` (raises ValueError if `body` is not one).
    Without `live`, only the cached checks run."""
    request = body.get("request")
    if body.get("kind") != "AdmissionReview" or not isinstance(request, Mapping):
        raise ValueError("not an AdmissionReview request")
    decision = decide(request, view, mode, live)
    response: Obj = {"uid": request.get("uid", ""), "allowed": decision.allowed}
    if not decision.allowed:
        response["status"] = {
            "code": decision.code,
            "reason": REASONS.get(decision.code, "BadRequest"),
            "message": decision.message,
            "details": {
                "causes": [{"field": e.path, "message": e.message} for e in decision.errors]
            },
        }
    if decision.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(decision.patch).encode()).decode()
    if decision.warnings:
        response["warnings"] = decision.warnings
    return {
        "apiVersion": body.get("apiVersion", "admission.k8s.io/v1"),
        "kind": "AdmissionReview",
        "response": response,
    }


def decide(
    request: Mapping[str, Any], view: View, mode: Mode, live: Live | None = None
) -> Decision:
    """Route one request by kind and operation; anything not ours is allowed."""
    kind = request.get("kind") or {}
    operation = request.get("operation")
    if kind.get("group") != GROUP or kind.get("kind") not in (KIND_APP, KIND_CLUSTER, KIND_CONFIG):
        return Decision()
    obj = _with_namespace(request.get("object"), request)
    old = _with_namespace(request.get("oldObject"), request)
    if operation == "DELETE":
        if mode == "mutate":
            return Decision()
        if not view.synced():
            return Decision(warnings=[f"{NOT_READY}: delete allowed unchecked"])
        return _validate_delete(kind["kind"], old, view)
    if operation not in ("CREATE", "UPDATE") or obj is None:
        return Decision()
    if (
        operation == "UPDATE"
        and old is not None
        and (old.get("spec") == obj.get("spec") or obj["metadata"].get("deletionTimestamp"))
    ):
        # Metadata-only changes (finalizers, labels) and objects on their way out are
        # never refused: nobody must be stuck unable to finish a deletion.
        return Decision()
    if not view.synced():
        return Decision.deny([FieldError("metadata", NOT_READY)], code=503)
    if mode == "mutate":
        if kind["kind"] != KIND_CLUSTER:
            return Decision()
        # Here, before this webhook encrypts `value`s, is the only place that sees
        # which `encryptedValue`s the user wrote.
        errors = validate_encrypted_values(obj, old, _config(view))
        return Decision.deny(errors) if errors else Decision(patch=cluster_defaults(obj, old, view))
    errors = _validate(kind["kind"], obj, old, view)
    if errors or kind["kind"] != KIND_CLUSTER or live is None:
        return Decision.deny(errors) if errors else Decision()
    errors, warnings = _live_checks(obj, old, view, live, request.get("userInfo") or {})
    if errors:
        return Decision.deny(errors)
    return Decision(warnings=warnings)


def _with_namespace(obj: Any, request: Mapping[str, Any]) -> Obj | None:
    """The object with its namespace filled from the request (a create may omit it)."""
    if not isinstance(obj, Mapping):
        return None
    obj = dict(obj)
    meta = dict(obj.get("metadata") or {})
    meta.setdefault("namespace", request.get("namespace", ""))
    meta.setdefault("name", request.get("name", ""))
    obj["metadata"] = meta
    return obj


def _validate(kind: str, obj: Obj, old: Obj | None, view: View) -> list[FieldError]:
    if kind == KIND_APP:
        if old is None:
            return validate_app(obj)
        return validate_app_update(old, obj, in_use=bool(clusters_using(view, old)))
    if kind == KIND_CONFIG:
        errors = validate_config(obj, view.operator_namespace)
        if old is not None:
            errors += validate_config_update(
                old, obj, clusters_with_encrypted_values(view.clusters())
            )
        return errors
    app_doc, _ = resolve_app(view, obj)
    app = _parse_app(app_doc)
    config = _config(view)
    classes = {c["metadata"]["name"] for c in view.storage_classes()}
    errors = validate_cluster(obj, app, config, classes)
    if old is not None:
        moved = (old.get("spec") or {}).get("app") != (obj.get("spec") or {}).get("app")
        old_app = _parse_app(resolve_app(view, old)[0]) if moved else None
        errors += validate_cluster_update(old, obj, app, old_app)
    return errors


def _live_checks(
    obj: Obj, old: Obj | None, view: View, live: Live, user_info: Mapping[str, Any]
) -> tuple[list[FieldError], list[str]]:
    """What only the API server knows about a cluster that passed the cached checks:
    the objects it names exist and may be used, and what it becomes is accepted."""
    app = _parse_app(resolve_app(view, obj)[0])
    if app is None:
        return [], []
    config = _config(view)
    try:
        cluster = Cluster.from_dict(obj, config, app)
    except SpecError as exc:
        return exc.errors, []
    stored = None
    if old is not None:
        try:
            stored = (old, Cluster.from_dict(old, config, app))
        except SpecError:
            stored = None  # check every reference, as on a create
    checks = references.reference_checks(obj, cluster, stored, user_info)
    objects = derived.derived_objects(app, cluster, config)
    replies = live.send([c.request for c in checks] + derived.requests(objects))
    errors, warnings = references.judge(
        checks, replies[: len(checks)], cluster.namespace, str(user_info.get("username", ""))
    )
    verdict = derived.judge(objects, replies[len(checks) :])
    return errors + verdict.errors, warnings + verdict.warnings


def _validate_delete(kind: str, old: Obj | None, view: View) -> Decision:
    if old is None:
        return Decision()
    if kind == KIND_APP:
        errors = validate_app_delete(old["metadata"]["name"], clusters_using(view, old))
    elif kind == KIND_CONFIG:
        live = [c for c in view.clusters() if not c["metadata"].get("deletionTimestamp")]
        errors = validate_config_delete(
            f"{c['metadata']['namespace']}/{c['metadata']['name']}" for c in live
        )
    else:
        errors = []
    return Decision.deny(errors, code=403) if errors else Decision()


def _parse_app(doc: Obj | None) -> App | None:
    if doc is None:
        return None
    try:
        return App.from_dict(doc)
    except SpecError:
        return None


def _config(view: View) -> Config:
    try:
        return Config.from_dict(view.config())
    except SpecError:
        return Config()


# ---- defaults ---------------------------------------------------------------------------


def cluster_defaults(obj: Obj, old: Obj | None, view: View) -> list[Obj]:
    """JSONPatch operations filling in what the cluster leaves unset: `appCatalog`,
    `serviceType`, `namingScheme` (kept from the stored object on update, so a cluster
    keeps what it was created with), each role's `members`, storage class and secret;
    `secretKeys` values are encrypted when the config has a `masterEncryptionKey`."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return []
    stored_spec = (old or {}).get("spec")
    old_spec: Mapping[str, Any] = stored_spec if isinstance(stored_spec, Mapping) else {}
    config = _config(view)
    app_doc, catalog = resolve_app(view, obj)
    patch: list[Obj] = []
    top = {
        "appCatalog": old_spec.get("appCatalog") or catalog,
        "serviceType": old_spec.get("serviceType") or config.default_service_type,
        "namingScheme": old_spec.get("namingScheme") or config.default_naming_scheme,
    }
    for key, value in top.items():
        if spec.get(key) is None and value:
            patch.append({"op": "add", "path": f"/spec/{key}", "value": value})
    roles = spec.get("roles")
    if isinstance(roles, list):
        app = _parse_app(app_doc)
        storage_class = config.default_storage_class_name or default_storage_class(view)
        for i, role in enumerate(roles):
            if isinstance(role, Mapping):
                patch += _role_defaults(
                    role,
                    f"/spec/roles/{i}",
                    spec,
                    app=app,
                    storage_class=storage_class,
                    config=config,
                )
    return patch


def _role_defaults(
    role: Mapping[str, Any],
    path: str,
    spec: Mapping[str, Any],
    *,
    app: App | None,
    storage_class: str | None,
    config: Config,
) -> list[Obj]:
    patch: list[Obj] = []
    role_id = role.get("id")
    app_role = app.role(role_id) if app is not None and isinstance(role_id, str) else None
    if role.get("members") is None and app_role is not None and app_role.cardinality:
        patch.append({"op": "add", "path": f"{path}/members", "value": app_role.cardinality.count})
    for key in ("storage", "blockStorage"):
        volume = role.get(key)
        if isinstance(volume, Mapping) and not volume.get("storageClassName") and storage_class:
            patch.append(
                {"op": "add", "path": f"{path}/{key}/storageClassName", "value": storage_class}
            )
    if role.get("secret") is None and isinstance(spec.get("defaultSecret"), Mapping):
        patch.append({"op": "add", "path": f"{path}/secret", "value": spec["defaultSecret"]})
    master_key = config.master_encryption_key
    keys = role.get("secretKeys")
    if master_key and not key_error(master_key) and isinstance(keys, list):
        for j, item in enumerate(keys):
            if isinstance(item, Mapping) and isinstance(item.get("value"), str):
                patch.append(
                    {
                        "op": "replace",
                        "path": f"{path}/secretKeys/{j}",
                        "value": {
                            "name": item.get("name"),
                            "encryptedValue": encrypt(item["value"], master_key),
                        },
                    }
                )
    return patch
