"""Labels and ownership shared by every object derived from a cluster."""

from __future__ import annotations

from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.constants import (
    API_VERSION,
    KIND_CLUSTER,
    LABEL_APP,
    LABEL_APP_CATALOG,
    LABEL_CLUSTER,
    LABEL_ROLE,
)


def cluster_selector(cluster: Cluster) -> dict[str, str]:
    """Selects every member pod of the cluster (the headless service uses it)."""
    return {LABEL_CLUSTER: cluster.name}


def role_selector(cluster: Cluster, role_id: str) -> dict[str, str]:
    """Selects a role's pods; a StatefulSet's selector, so it must never change."""
    return {LABEL_CLUSTER: cluster.name, LABEL_ROLE: role_id}


def cluster_labels(cluster: Cluster, app: App) -> dict[str, str]:
    return {
        LABEL_CLUSTER: cluster.name,
        LABEL_APP: app.name,
        LABEL_APP_CATALOG: cluster.catalog_for(app),
    }


def role_labels(cluster: Cluster, app: App, role_id: str) -> dict[str, str]:
    return cluster_labels(cluster, app) | {LABEL_ROLE: role_id}


def owner_reference(cluster: Cluster) -> dict[str, Any]:
    """Makes the cluster the controller of an object, so garbage collection removes it."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_CLUSTER,
        "name": cluster.name,
        "uid": cluster.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(
    cluster: Cluster, name: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """ObjectMeta of a derived object in the cluster's namespace, owned by it."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": cluster.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(cluster)],
    }
    if annotations:
        meta["annotations"] = annotations
    return meta
