"""One informer per (resource, namespace, selector), shared by every controller that needs it.

Each informer caches only what the operator reads of its kind (`transforms`), and
`covering` hands out one factory per extra namespace, so the controllers and the
webhook never watch the same resource twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubernetes.client import ApiClient

from kubedirector.cache.informer import Informer, Resource
from kubedirector.cache.store import split_key
from kubedirector.cache.transforms import for_resource


class InformerFactory:
    """Hands out shared informers for the watched namespaces (all namespaces if none given)."""

    def __init__(self, api: ApiClient, namespaces: Sequence[str] = ()) -> None:
        self.api = api
        self.namespaces: tuple[str | None, ...] = tuple(namespaces) or (None,)
        self._informers: dict[tuple[Resource, str | None, str | None], Informer] = {}
        self._covering: dict[str, InformerFactory] = {}

    def covering(self, namespace: str) -> InformerFactory:
        """This factory if it watches `namespace`, else the one factory for that namespace
        (the same object on every call: its informers are shared too)."""
        if None in self.namespaces or namespace in self.namespaces:
            return self
        if namespace not in self._covering:
            self._covering[namespace] = InformerFactory(self.api, (namespace,))
        return self._covering[namespace]

    def informers(self, resource: Resource, label_selector: str | None = None) -> list[Informer]:
        """The informers covering `resource` in every watched namespace."""
        return [self._informer(resource, ns, label_selector) for ns in self.namespaces]

    def all(self) -> list[Informer]:
        """Every informer handed out so far (the manager starts and syncs them)."""
        return list(self._informers.values())

    def get(
        self, resource: Resource, key: str, label_selector: str | None = None
    ) -> dict[str, Any] | None:
        """The cached object at `key` ("namespace/name"), or None."""
        namespace, _ = split_key(key)
        for ns in self.namespaces:
            if ns is None or ns == namespace:
                found = self._informer(resource, ns, label_selector).store.get(key)
                if found is not None:
                    return found
        return None

    def by_index(
        self, resource: Resource, index: str, value: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Cached objects of `resource` whose index `index` yields `value`, in all namespaces."""
        found: list[dict[str, Any]] = []
        for informer in self.informers(resource, label_selector):
            found.extend(informer.store.by_index(index, value))
        return found

    def _informer(
        self, resource: Resource, namespace: str | None, label_selector: str | None
    ) -> Informer:
        ident = (resource, namespace, label_selector)
        informer = self._informers.get(ident)
        if informer is None:
            informer = Informer(
                self.api,
                resource,
                namespace=namespace,
                label_selector=label_selector,
                transform=for_resource(resource.group, resource.plural),
            )
            self._informers[ident] = informer
        return informer
