"""One Service per member, exposing that pod's role endpoints."""

from __future__ import annotations

from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import LABEL_POD_NAME
from kubedirector.desired.labels import metadata, role_labels


def member_service_ports(app: App, role_id: str) -> list[dict[str, Any]]:
    """One port per endpoint of the role's services, named `<urlScheme>-<id>` or
    `generic-<id>`.
    """
    app_role = app.role(role_id)
    if app_role is None:
        return []
    return [
        {
            "name": s.port_name,
            "port": s.endpoint.port,
            "targetPort": s.endpoint.port,
            "protocol": "TCP",
        }
        for s in app_role.endpoint_services
        if s.endpoint is not None
    ]


def build_member_service(
    app: App, cluster: Cluster, config: Config, *, role_id: str, pod: str, name: str
) -> dict[str, Any] | None:
    """The member's Service, or None when its role has no endpoints (status says n/a)."""
    ports = member_service_ports(app, role_id)
    if not ports:
        return None
    role = cluster.role(role_id)
    role_service_labels = role.service_labels if role else {}
    role_service_annotations = role.service_annotations if role else {}
    labels = config.service_labels | role_service_labels | role_labels(cluster, app, role_id)
    annotations = config.service_annotations | role_service_annotations
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(cluster, name, labels, annotations),
        "spec": {
            "type": cluster.service_type,
            "selector": {LABEL_POD_NAME: pod},
            "publishNotReadyAddresses": True,
            "ports": ports,
        },
    }
