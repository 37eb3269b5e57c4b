"""What admission may know about the cluster: a read-only view of the shared caches.

Every replica answers from its informer caches, which all converge on the same
objects, so no answer depends on state held in one process's memory (what the
caches do not hold is looked up live, see `live`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from kubedirector.api.constants import GLOBAL_CONFIG_NAME, AppCatalog
from kubedirector.cache.factory import InformerFactory
from kubedirector.cache.informer import Informer, Resource
from kubedirector.resources import APPS, CLUSTERS, CONFIGS

STORAGE_CLASSES = Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"

Obj = dict[str, Any]


class View(Protocol):
    """The objects admission decisions depend on."""

    operator_namespace: str

    def synced(self) -> bool:
        """False until every cache has listed once: until then answers could be wrong."""

    def app(self, namespace: str, name: str) -> Obj | None: ...

    def config(self) -> Obj | None: ...

    def clusters(self) -> list[Obj]: ...

    def storage_classes(self) -> list[Obj]: ...


class CacheView:
    """The view over shared informers: `informers` for the watched namespaces and
    `system` for the operator's namespace (system catalog and the global config)."""

    def __init__(
        self,
        informers: InformerFactory,
        system: InformerFactory,
        storage_classes: Informer,
        operator_namespace: str,
    ) -> None:
        self.operator_namespace = operator_namespace
        self._informers = informers
        self._system = system
        self._classes = storage_classes
        # Touch every informer admission reads, so the caller can start them.
        self.used: list[Informer] = [
            *informers.informers(APPS),
            *informers.informers(CLUSTERS),
            *system.informers(APPS),
            *system.informers(CONFIGS),
            storage_classes,
        ]

    def synced(self) -> bool:
        return all(informer.has_synced() for informer in self.used)

    def app(self, namespace: str, name: str) -> Obj | None:
        factory = self._system if namespace == self.operator_namespace else self._informers
        return factory.get(APPS, f"{namespace}/{name}")

    def config(self) -> Obj | None:
        return self._system.get(CONFIGS, f"{self.operator_namespace}/{GLOBAL_CONFIG_NAME}")

    def clusters(self) -> list[Obj]:
        return [
            c for informer in self._informers.informers(CLUSTERS) for c in informer.store.list()
        ]

    def storage_classes(self) -> list[Obj]:
        return self._classes.store.list()


def resolve_app(view: View, cluster: Mapping[str, Any]) -> tuple[Obj | None, str | None]:
    """The app a cluster names and the catalog it was found in: the cluster's own
    namespace (`local`) first, then the operator's (`system`), unless `appCatalog` says."""
    raw_spec = cluster.get("spec")
    spec: Mapping[str, Any] = raw_spec if isinstance(raw_spec, Mapping) else {}
    name = spec.get("app")
    if not isinstance(name, str) or not name:
        return None, None
    namespace = (cluster.get("metadata") or {}).get("namespace", "")
    places = {AppCatalog.LOCAL.value: namespace, AppCatalog.SYSTEM.value: view.operator_namespace}
    catalog = spec.get("appCatalog")
    order = [catalog] if catalog in places else list(places)
    for where in order:
        found = view.app(places[where], name)
        if found is not None:
            return found, where
    return None, None


def apps_named(cluster: Mapping[str, Any]) -> set[str]:
    """The apps a cluster needs: its `spec.app`, and while a live upgrade has not
    finished (it moves, or stopped) the two it moves between."""
    names = {(cluster.get("spec") or {}).get("app")}
    record = (cluster.get("status") or {}).get("upgrade") or {}
    if record.get("phase") in ("Upgrading", "Failed", "RollingBack"):
        names |= {record.get("fromApp"), record.get("toApp")}
    return {n for n in names if isinstance(n, str) and n}


def clusters_using(view: View, app: Mapping[str, Any]) -> list[str]:
    """ "namespace/name" of each live cluster whose app (or an app its unfinished live
    upgrade moves between) resolves to `app` (deleting clusters do not count: they no
    longer need it, and a namespace being deleted must be able to remove its apps)."""
    meta = app.get("metadata") or {}
    users = []
    for cluster in view.clusters():
        cmeta = cluster.get("metadata") or {}
        if cmeta.get("deletionTimestamp") or meta.get("name") not in apps_named(cluster):
            continue
        spec = {**(cluster.get("spec") or {}), "app": meta.get("name")}
        found, _ = resolve_app(view, {**cluster, "spec": spec})
        if found is not None and (found.get("metadata") or {}).get("namespace") == meta.get(
            "namespace"
        ):
            users.append(f"{cmeta.get('namespace')}/{cmeta.get('name')}")
    return sorted(users)


def default_storage_class(view: View) -> str | None:
    """The StorageClass annotated as the cluster's default, if exactly one is."""
    defaults = [
        c["metadata"]["name"]
        for c in view.storage_classes()
        if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"
    ]
    return defaults[0] if len(defaults) == 1 else None
