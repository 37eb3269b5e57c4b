"""The cluster's headless Service: the DNS domain that gives each member its FQDN."""

from __future__ import annotations

from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.desired.labels import cluster_labels, cluster_selector, metadata


def build_headless_service(app: App, cluster: Cluster, config: Config, name: str) -> dict[str, Any]:
    """Selects every member pod and publishes addresses before pods are ready, since
    members must resolve each other while their setup is still running.
    """
    labels = config.service_labels | cluster_labels(cluster, app)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(cluster, name, labels, dict(config.service_annotations)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": cluster_selector(cluster),
        },
    }


def member_fqdn(pod: str, headless: str, namespace: str, config: Config) -> str:
    """`<pod>.<headless>.<namespace><clusterSvcDomainBase>`."""
    return f"{pod}.{headless}.{namespace}{config.cluster_svc_domain_base}"
