"""Observing: one cluster, its app, the config and its derived objects, parsed once.

Everything a reconcile pass decides from is read from the caches here, at the
start of the pass, into an immutable `Observation`; a spec that cannot work is
an observation too (its `problems`), not an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import GLOBAL_CONFIG_NAME, LABEL_APP, AppCatalog
from kubedirector.api.errors import FieldError, SpecError
from kubedirector.api.status import ClusterStatus
from kubedirector.api.validation import check_app, check_cluster
from kubedirector.cache.indexers import KDCLUSTER_INDEX
from kubedirector.cache.informer import Resource
from kubedirector.resources import (
    APPS,
    CLUSTERS,
    CONFIGMAPS,
    CONFIGS,
    CONNECTED_CONFIGMAP_SELECTOR,
    CONNECTED_SECRET_SELECTOR,
    OWNED_KINDS,
    OWNED_SELECTOR,
    PODS,
    PVCS,
    SECRETS,
    SERVICES,
    STATEFULSETS,
)
from kubedirector.setup.configmeta import ConnectedCluster, ConnectionsData

Objects = Mapping[str, Mapping[str, Any]]


class Caches(Protocol):
    """What observing reads: informer caches (an `InformerFactory`, or memory in tests)."""

    def get(
        self, resource: Resource, key: str, label_selector: str | None = None
    ) -> dict[str, Any] | None: ...

    def by_index(
        self, resource: Resource, index: str, value: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Derived:
    """The cluster's derived objects the caches hold (every kind in `OWNED_KINDS`),
    by kind and then by name, in its namespace only."""

    objects: Mapping[Resource, Objects]

    def of(self, resource: Resource) -> Objects:
        return self.objects.get(resource, MappingProxyType({}))

    @property
    def statefulsets(self) -> Objects:
        return self.of(STATEFULSETS)

    @property
    def services(self) -> Objects:
        return self.of(SERVICES)

    @property
    def pods(self) -> Objects:
        return self.of(PODS)

    @property
    def claims(self) -> Objects:
        return self.of(PVCS)


@dataclass(frozen=True)
class Observation:
    """One cluster as a pass sees it.  `cluster` and `app` are None when `problems`
    says the spec cannot work."""

    key: str
    raw: Mapping[str, Any]
    status: ClusterStatus
    config: Config
    app: App | None
    cluster: Cluster | None
    problems: tuple[FieldError, ...]
    derived: Derived
    connections: ConnectionsData
    # The apps a live upgrade moves between (by name), besides `app`: the one the
    # StatefulSets run and the ones status.upgrade names.
    apps: Mapping[str, App] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def namespace(self) -> str:
        return str(self.raw["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.raw["metadata"]["name"])

    @property
    def uid(self) -> str:
        return str(self.raw["metadata"]["uid"])

    @property
    def generation(self) -> int:
        return int(self.raw["metadata"].get("generation") or 0)

    @property
    def deleting(self) -> bool:
        return bool(self.raw["metadata"].get("deletionTimestamp"))

    def owned_by_cluster(self, obj: Mapping[str, Any]) -> bool:
        """Whether this incarnation (uid) of the cluster owns `obj`."""
        return any(r.get("uid") == self.uid for r in obj["metadata"].get("ownerReferences") or [])


def _frozen(objects: list[dict[str, Any]], namespace: str) -> Objects:
    return MappingProxyType(
        {o["metadata"]["name"]: o for o in objects if o["metadata"]["namespace"] == namespace}
    )


class Observer:
    """Reads one cluster's world from the caches."""

    def __init__(self, informers: Caches, system: Caches, operator_namespace: str) -> None:
        self.informers = informers
        self.system = system
        self.operator_namespace = operator_namespace

    def observe(self, key: str, raw: dict[str, Any]) -> Observation:
        config = self.config()
        app, cluster, problems = self._parse(raw, config)
        status = self._status(raw, cluster)
        derived = self._derived(key, raw["metadata"]["namespace"])
        return Observation(
            key=key,
            raw=MappingProxyType(raw),
            status=status,
            config=config,
            app=app,
            cluster=cluster,
            problems=problems,
            derived=derived,
            connections=self.connections(cluster, config) if cluster else ConnectionsData(),
            apps=self._rollout_apps(raw, app, status, derived) if app else MappingProxyType({}),
        )

    def _rollout_apps(
        self, raw: Mapping[str, Any], app: App, status: ClusterStatus, derived: Derived
    ) -> Mapping[str, App]:
        """The apps a live upgrade involves, from the cluster's catalog, parsed."""
        names = {app.name} | {
            n
            for sts in derived.statefulsets.values()
            if (n := (sts["metadata"].get("labels") or {}).get(LABEL_APP))
        }
        if status.upgrade is not None:
            names |= {status.upgrade.from_app, status.upgrade.to_app}
        out = {app.name: app}
        for name in sorted(names - {app.name}):
            found = self.find_app({**raw, "spec": {**(raw.get("spec") or {}), "app": name}})
            try:
                if found is not None:
                    out[name] = App.from_dict(found)
            except SpecError:
                continue
        return MappingProxyType(out)

    def _parse(
        self, raw: dict[str, Any], config: Config
    ) -> tuple[App | None, Cluster | None, tuple[FieldError, ...]]:
        """The app and the cluster, each parsed once, or what makes the spec unworkable:
        no app, a broken app (its problems prefixed with its name), a spec the app refutes."""
        app_raw = self.find_app(raw)
        if app_raw is None:
            return None, None, (self._no_app(raw),)
        prefix = f"app {app_raw['metadata']['name']}"
        try:
            app = App.from_dict(app_raw)
            app_problems = check_app(app, app_raw)
        except SpecError as e:
            app_problems = e.errors
        if app_problems:
            return (
                None,
                None,
                tuple(FieldError(f"{prefix}: {e.path}", e.message) for e in app_problems),
            )
        try:
            cluster = Cluster.from_dict(raw, config, app)
        except SpecError as e:
            return None, None, tuple(e.errors)
        problems = check_cluster(cluster, raw, app, config)
        return (None, None, tuple(problems)) if problems else (app, cluster, ())

    def config(self) -> Config:
        raw = self.system.get(CONFIGS, f"{self.operator_namespace}/{GLOBAL_CONFIG_NAME}")
        try:
            return Config.from_dict(raw)
        except SpecError:
            return Config()

    def find_app(self, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cluster's KubeDirectorApp as stored: its own namespace, then the system catalog."""
        spec = raw.get("spec") or {}
        name, catalog = spec.get("app"), spec.get("appCatalog")
        places: dict[str | None, list[tuple[Caches, str]]] = {
            AppCatalog.LOCAL: [(self.informers, raw["metadata"]["namespace"])],
            AppCatalog.SYSTEM: [(self.system, self.operator_namespace)],
        }
        order = places.get(catalog) or places[AppCatalog.LOCAL] + places[AppCatalog.SYSTEM]
        for caches, namespace in order:
            found = caches.get(APPS, f"{namespace}/{name}")
            if found is not None:
                return found
        return None

    def _no_app(self, raw: Mapping[str, Any]) -> FieldError:
        spec = raw.get("spec") or {}
        namespace = raw["metadata"]["namespace"]
        where: dict[str | None, str] = {
            AppCatalog.LOCAL: f"namespace {namespace!r}",
            AppCatalog.SYSTEM: f"the system catalog ({self.operator_namespace!r})",
        }
        place = where.get(spec.get("appCatalog")) or (
            f"namespace {namespace!r} or the system catalog ({self.operator_namespace!r})"
        )
        return FieldError("spec.app", f"no KubeDirectorApp {spec.get('app')!r} in {place}")

    @staticmethod
    def _status(raw: Mapping[str, Any], cluster: Cluster | None) -> ClusterStatus:
        if cluster is not None:
            return cluster.status
        try:
            return ClusterStatus.from_dict(raw.get("status"))
        except SpecError:
            return ClusterStatus()

    def _derived(self, key: str, namespace: str) -> Derived:
        # All carry the cluster label; pods and claims are owned by the StatefulSets.
        return Derived(
            MappingProxyType(
                {
                    resource: _frozen(
                        self.informers.by_index(resource, KDCLUSTER_INDEX, key, OWNED_SELECTOR),
                        namespace,
                    )
                    for resource in OWNED_KINDS
                }
            )
        )

    def connections(self, cluster: Cluster, config: Config) -> ConnectionsData:
        """The connected clusters, ConfigMaps and Secrets, as the caches hold them now."""
        ns = cluster.namespace
        clusters = {}
        for name in cluster.connections.clusters:
            raw = self.informers.get(CLUSTERS, f"{ns}/{name}")
            app_raw = self.find_app(raw) if raw else None
            if raw is None or app_raw is None:
                continue
            try:
                app = App.from_dict(app_raw)
                clusters[name] = ConnectedCluster(Cluster.from_dict(raw, config, app), app)
            except SpecError:
                continue
        configmaps = {
            n: o
            for n in cluster.connections.configmaps
            if (o := self.informers.get(CONFIGMAPS, f"{ns}/{n}", CONNECTED_CONFIGMAP_SELECTOR))
            is not None
        }
        secrets = {
            n: o
            for n in cluster.connections.secrets
            if (o := self.informers.get(SECRETS, f"{ns}/{n}", CONNECTED_SECRET_SELECTOR))
            is not None
        }
        return ConnectionsData(clusters=clusters, configmaps=configmaps, secrets=secrets)
