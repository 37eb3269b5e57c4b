"""Every write the reconcilers make, in one place: create, apply, patch, delete.

Updates use server-side apply (field manager `kubedirector`, forced): the
operator states the fields it owns and the API server merges them, keeping
what others set (defaults, allocated node ports, other controllers' fields)
and removing what the operator stopped setting.  Callers apply only after a
semantic diff found a difference, so a converged cluster costs no write.

A refused write raises `WriteRefused`, which names the object and carries the
API server's own message, so status and Events can say what failed and why.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from kubernetes.client import ApiClient, ApiException

from kubedirector.cache.informer import Resource
from kubedirector.kube import APPLY_PATCH, MERGE_PATCH, api_message, request_json, resource_path

FIELD_MANAGER = "kubedirector"
log = structlog.get_logger(__name__)


class WriteRefused(ApiException):
    """The API server refused a write: which object, which verb, and its answer.

    A subclass of ApiException, so callers that look at `status` keep working.
    """

    def __init__(
        self, verb: str, resource: Resource, namespace: str | None, name: str, error: ApiException
    ) -> None:
        super().__init__(status=error.status, reason=error.reason)
        self.body = error.body
        self.headers = error.headers
        self.verb = verb
        self.object = (
            f"{resource.kind} {namespace}/{name}" if namespace else (f"{resource.kind} {name}")
        )
        self.answer = api_message(error)

    def __str__(self) -> str:
        return f"{self.verb} {self.object} refused ({self.status} {self.reason}): {self.answer}"


class ObjectWriter(Protocol):
    """What reconcilers write through (the `Writer`, or a recording one in unit tests)."""

    def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]: ...

    def apply(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]: ...

    def merge_patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]: ...

    def delete(
        self, resource: Resource, namespace: str | None, name: str, uid: str | None = None
    ) -> bool: ...


class Writer:
    """Writes objects of any resource through the counted API client."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def _send(
        self,
        verb: str,
        resource: Resource,
        namespace: str | None,
        name: str,
        method: str,
        *,
        subresource: str | None = None,
        collection: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        path = resource_path(
            resource.group,
            resource.version,
            resource.plural,
            namespace=namespace,
            name=None if collection else name,
            subresource=subresource,
        )
        try:
            return request_json(self.api, method, path, **kwargs)
        except ApiException as e:
            raise WriteRefused(verb, resource, namespace, name, e) from e

    def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """POST (a `generateName` gets its name from the server)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace")
        created = self._send(
            "create",
            resource,
            namespace,
            meta.get("name") or meta.get("generateName", ""),
            "POST",
            collection=True,
            body=obj,
            query={"fieldManager": FIELD_MANAGER},
        )
        log.info(
            "object_created",
            kind=resource.kind,
            namespace=namespace,
            name=created["metadata"]["name"],
        )
        return created

    def apply(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of the fields in `obj` (creates the object if missing)."""
        meta = obj["metadata"]
        body = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
        applied = self._send(
            "apply",
            resource,
            meta.get("namespace"),
            meta["name"],
            "PATCH",
            body=body,
            content_type=APPLY_PATCH,
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
        )
        log.info(
            "object_applied", kind=resource.kind, namespace=meta.get("namespace"), name=meta["name"]
        )
        return applied

    def merge_patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        verb = f"patch {subresource} of" if subresource else "patch"
        return self._send(
            verb,
            resource,
            namespace,
            name,
            "PATCH",
            subresource=subresource,
            body=patch,
            content_type=MERGE_PATCH,
        )

    def delete(
        self, resource: Resource, namespace: str | None, name: str, uid: str | None = None
    ) -> bool:
        """Delete (with a UID precondition when given); False if it was already gone."""
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self._send("delete", resource, namespace, name, "DELETE", body=body)
        except WriteRefused as e:
            if e.status in (404, 409):
                return False
            raise
        log.info("object_deleted", kind=resource.kind, namespace=namespace, name=name)
        return True
