"""Every write the reconcilers make, in one place: create, apply, patch, delete.

Updates use server-side apply (field manager `kubedirector`, forced): the
operator states the fields it owns and the API server merges them, keeping
what others set (defaults, allocated node ports, other controllers' fields)
and removing what the operator stopped setting.  Callers apply only after a
semantic diff found a difference, so a converged cluster costs no write.
"""

from __future__ import annotations

from typing import Any

import structlog
from kubernetes.client import ApiClient, ApiException

from kubedirector.cache.informer import Resource
from kubedirector.kube import APPLY_PATCH, MERGE_PATCH, request_json, resource_path

FIELD_MANAGER = "kubedirector"
log = structlog.get_logger(__name__)


class Writer:
    """Writes objects of any resource through the counted API client."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def _path(self, resource: Resource, namespace: str | None, name: str | None = None,
              subresource: str | None = None) -> str:
        return resource_path(resource.group, resource.version, resource.plural,
                             namespace=namespace, name=name, subresource=subresource)

    def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """POST (a `generateName` gets its name from the server)."""
        namespace = obj["metadata"].get("namespace")
        created = request_json(self.api, "POST", self._path(resource, namespace), body=obj,
                               query={"fieldManager": FIELD_MANAGER})
        log.info("object_created", kind=resource.kind, namespace=namespace,
                 name=created["metadata"]["name"])
        return created

    def apply(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of the fields in `obj` (creates the object if missing)."""
        meta = obj["metadata"]
        body = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
        applied = request_json(
            self.api, "PATCH", self._path(resource, meta.get("namespace"), meta["name"]),
            body=body, content_type=APPLY_PATCH,
            query={"fieldManager": FIELD_MANAGER, "force": "true"})
        log.info("object_applied", kind=resource.kind, namespace=meta.get("namespace"),
                 name=meta["name"])
        return applied

    def merge_patch(self, resource: Resource, namespace: str | None, name: str,
                    patch: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        return request_json(self.api, "PATCH",
                            self._path(resource, namespace, name, subresource),
                            body=patch, content_type=MERGE_PATCH)

    def delete(self, resource: Resource, namespace: str | None, name: str,
               uid: str | None = None) -> bool:
        """Delete (with a UID precondition when given); False if it was already gone."""
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            request_json(self.api, "DELETE", self._path(resource, namespace, name), body=body)
        except ApiException as e:
            if e.status in (404, 409):
                return False
            raise
        log.info("object_deleted", kind=resource.kind, namespace=namespace, name=name)
        return True
