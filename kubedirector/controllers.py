"""The registry of controllers `kubedirector run` starts, and their watches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes.client import ApiClient

from kubedirector.api.constants import LABEL_CLUSTER
from kubedirector.cache.factory import InformerFactory
from kubedirector.controller.controller import Controller, label_key, own_key
from kubedirector.metrics.registry import CLUSTER_STATES
from kubedirector.options import RunOptions
from kubedirector.reconcilers.cluster import ClusterReconciler
from kubedirector.reconcilers.config import ConfigReconciler
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.reconcilers.member_setup import MemberSetup
from kubedirector.reconcilers.writer import Writer
from kubedirector.resources import (
    APPS,
    CLUSTERS,
    CONFIGMAPS,
    CONFIGS,
    CONNECTED_CONFIGMAP_SELECTOR,
    CONNECTED_SECRET_SELECTOR,
    OWNED_KINDS,
    OWNED_SELECTOR,
    SECRETS,
    STATUS_BACKUPS,
)
from kubedirector.setup.executor import GuestExecutor
from kubedirector.setup.runner import SetupRunner, SetupTimeouts

APP_INDEX = "app"
CONNECTIONS_INDEX = "connections"


def _app_name(cluster: dict[str, Any]) -> list[str]:
    app = (cluster.get("spec") or {}).get("app")
    return [app] if isinstance(app, str) else []


def _connections(cluster: dict[str, Any]) -> list[str]:
    """`cluster/<name>`, `configmap/<name>`, `secret/<name>` for each connection."""
    conns = (cluster.get("spec") or {}).get("connections") or {}
    return [
        f"{kind[:-1]}/{name}"
        for kind in ("clusters", "configmaps", "secrets")
        for name in conns.get(kind) or []
        if isinstance(name, str)
    ]


def build_controllers(
    api: ApiClient, informers: InformerFactory, options: RunOptions
) -> list[Controller]:
    """The cluster and config controllers, wired to shared informers from `informers`.

    Apps and the global config are also read from the operator's own namespace
    (the system catalog), which `--watch-namespace` may not include.
    """
    system = informers.covering(options.namespace)
    writer = Writer(api)
    events = EventRecorder(writer)
    member_setup = MemberSetup(
        SetupRunner(
            GuestExecutor(api.configuration, throttle=api.throttle),
            timeouts=(
                SetupTimeouts(
                    fetch=options.fetch_timeout,
                    configure=options.configure_timeout,
                    notify=options.notify_timeout,
                )
            ),
        )
    )
    clusters = ClusterReconciler(
        informers=informers,
        system=system,
        writer=writer,
        events=events,
        member_setup=member_setup,
        operator_namespace=options.namespace,
    )
    cluster_ctl = Controller("kubedirectorcluster", clusters, workers=options.workers)
    for kind in OWNED_KINDS:
        for informer in informers.informers(kind, OWNED_SELECTOR):
            cluster_ctl.watch(informer, label_key(LABEL_CLUSTER))

    def connected_to(kind: str) -> Callable[[dict[str, Any]], list[str]]:
        def mapper(obj: dict[str, Any]) -> list[str]:
            meta = obj["metadata"]
            return [
                f"{c['metadata']['namespace']}/{c['metadata']['name']}"
                for c in informers.by_index(CLUSTERS, CONNECTIONS_INDEX, f"{kind}/{meta['name']}")
                if c["metadata"]["namespace"] == meta["namespace"]
            ]

        return mapper

    for informer in informers.informers(CLUSTERS):
        informer.store.add_indexer(APP_INDEX, _app_name)
        informer.store.add_indexer(CONNECTIONS_INDEX, _connections)
        cluster_ctl.watch(informer, own_key)
        cluster_ctl.watch(informer, connected_to("cluster"))
    # A cluster waiting to be restored waits for its backup (named like it).
    for informer in informers.informers(STATUS_BACKUPS):
        cluster_ctl.watch(informer, own_key)
    for resource, selector, connection in (
        (CONFIGMAPS, CONNECTED_CONFIGMAP_SELECTOR, "configmap"),
        (SECRETS, CONNECTED_SECRET_SELECTOR, "secret"),
    ):
        for informer in informers.informers(resource, selector):
            cluster_ctl.watch(informer, connected_to(connection))

    def clusters_using(app: dict[str, Any]) -> list[str]:
        meta = app["metadata"]
        return [
            f"{c['metadata']['namespace']}/{c['metadata']['name']}"
            for c in informers.by_index(CLUSTERS, APP_INDEX, meta["name"])
            if meta["namespace"] in (c["metadata"]["namespace"], options.namespace)
        ]

    for factory in {id(informers): informers, id(system): system}.values():
        for informer in factory.informers(APPS):
            cluster_ctl.watch(informer, clusters_using)
    CLUSTER_STATES.watch(lambda: [c for i in informers.informers(CLUSTERS) for c in i.store.list()])
    config_ctl = Controller(
        "kubedirectorconfig",
        ConfigReconciler(
            informers=system, writer=writer, events=events, operator_namespace=options.namespace
        ),
    )
    for informer in system.informers(CONFIGS):
        config_ctl.watch(informer, own_key)
    return [cluster_ctl, config_ctl]
