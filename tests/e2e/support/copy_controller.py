"""A small ConfigMap-copy controller the end-to-end tests run inside `kubedirector run`.

Loaded through the test/extension hook:
`KD_EXTRA_CONTROLLERS=tests.e2e.support.copy_controller:build_controllers`.
ConfigMaps labelled `kd-test/copy=true` get a `<name>-copy` with the same data,
owned by the source (garbage-collected with it); deleting or editing a copy
brings it back, which exercises owned-kind watches.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import ApiClient, ApiException

from kubedirector.cache.factory import InformerFactory
from kubedirector.cache.informer import Resource
from kubedirector.cache.store import split_key
from kubedirector.controller.controller import Controller, owner_key
from kubedirector.controller.result import Result
from kubedirector.kube import JSON_PATCH, request_json, resource_path
from kubedirector.options import RunOptions

CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
SOURCE_SELECTOR = "kd-test/copy=true"
COPY_LABEL = "kd-test/copy-of"


class CopyReconciler:
    """Makes `<name>-copy` hold the source ConfigMap's data."""

    def __init__(self, api: ApiClient, informers: InformerFactory) -> None:
        self.api = api
        self.informers = informers

    def reconcile(self, key: str) -> Result:
        source = self.informers.get(CONFIGMAPS, key, SOURCE_SELECTOR)
        if source is None or source["metadata"].get("deletionTimestamp"):
            return Result.success()  # the garbage collector removes the copy
        namespace, name = split_key(key)
        copy_name = f"{name}-copy"
        data = source.get("data") or {}
        current = self.informers.get(CONFIGMAPS, f"{namespace}/{copy_name}", COPY_LABEL)
        if current is None:
            self._create(namespace, copy_name, source, data)
        elif (current.get("data") or {}) != data:
            self._patch(namespace, copy_name, data)
        return Result.success()

    def _create(
        self, namespace: str | None, copy_name: str, source: dict[str, Any], data: dict[str, str]
    ) -> None:
        meta = source["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": copy_name,
                "labels": {COPY_LABEL: meta["name"]},
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "data": data,
        }
        try:
            request_json(
                self.api,
                "POST",
                resource_path("", "v1", "configmaps", namespace=namespace),
                body=body,
            )
        except ApiException as e:
            if e.status != 409:  # the cache was behind; the copy's event brings us back
                raise

    def _patch(self, namespace: str | None, copy_name: str, data: dict[str, str]) -> None:
        path = resource_path("", "v1", "configmaps", namespace=namespace, name=copy_name)
        # Replace the data map wholesale: a merge patch would keep removed keys.
        request_json(
            self.api,
            "PATCH",
            path,
            body=[{"op": "replace", "path": "/data", "value": data}],
            content_type=JSON_PATCH,
        )


def build_controllers(
    api: ApiClient, informers: InformerFactory, options: RunOptions
) -> list[Controller]:
    """The copy controller, watching sources and (for their owner) copies."""
    controller = Controller(
        "configmap-copy", CopyReconciler(api, informers), workers=options.workers
    )
    for informer in informers.informers(CONFIGMAPS, SOURCE_SELECTOR):
        controller.watch(informer)
    for informer in informers.informers(CONFIGMAPS, COPY_LABEL):
        controller.watch(informer, owner_key("ConfigMap"))
    return [controller]
