"""One StatefulSet per role: its members' pods, storage and volumes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubedirector.api.app import App, AppRole
from kubedirector.api.cluster import Cluster, ClusterRole
from kubedirector.api.config import Config
from kubedirector.api.constants import APP_CONTAINER_NAME, MemberState
from kubedirector.api.mounts import CGROUP_PATH, SHM_PATH, SYSTEMD_PATH, persisted_dirs
from kubedirector.api.status import MemberStatus
from kubedirector.desired import storage
from kubedirector.desired.labels import metadata, role_labels, role_selector

SECRET_VOLUME = "kd-secret"
SHM_VOLUME = "kd-dshm"
CGROUP_VOLUME = "kd-cgroup"
SYSTEMD_VOLUME = "kd-systemd"
PROJECTION_VOLUME_PREFIX = "kd-projection-"

# What Kubernetes lets an existing StatefulSet change; the rest is fixed at creation.
MUTABLE_SPEC_FIELDS = (
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "persistentVolumeClaimRetentionPolicy",
)


class RoleNotInAppError(ValueError):
    """The cluster names a role its app does not have (validation reports it first)."""


def replicas_for(members: Iterable[MemberStatus]) -> int:
    """Pods that should exist: up to the highest ordinal not yet `deleting`.

    Scale-down moves the highest ordinals to `delete pending`, which still run
    (they are notified), then to `deleting`, which is when replicas fall.
    """
    alive = [m.ordinal for m in members if m.state != MemberState.DELETING]
    return max(alive, default=-1) + 1


def _volumes(
    app: App, config: Config, role: ClusterRole
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Volumes and app-container mounts other than persistent storage."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if role.secret is not None:
        secret: dict[str, Any] = {"secretName": role.secret.name}
        if role.secret.default_mode is not None:
            secret["defaultMode"] = role.secret.default_mode
        volumes.append({"name": SECRET_VOLUME, "secret": secret})
        mounts.append(
            {
                "name": SECRET_VOLUME,
                "mountPath": role.secret.mount_path,
                "readOnly": role.secret.read_only,
            }
        )
    for i, projection in enumerate(role.volume_projections):
        name = f"{PROJECTION_VOLUME_PREFIX}{i}"
        volumes.append(
            {
                "name": name,
                "persistentVolumeClaim": {
                    "claimName": projection.pvc_name,
                    "readOnly": projection.read_only,
                },
            }
        )
        mounts.append(
            {"name": name, "mountPath": projection.mount_path, "readOnly": projection.read_only}
        )
    if role.shared_memory is not None:
        volumes.append(
            {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": role.shared_memory}}
        )
        mounts.append({"name": SHM_VOLUME, "mountPath": SHM_PATH})
    if app.systemd_required and not config.native_systemd_support:
        volumes += [
            {"name": CGROUP_VOLUME, "hostPath": {"path": CGROUP_PATH}},
            {"name": SYSTEMD_VOLUME, "hostPath": {"path": SYSTEMD_PATH}},
        ]
        mounts += [
            {"name": CGROUP_VOLUME, "mountPath": CGROUP_PATH, "readOnly": True},
            {"name": SYSTEMD_VOLUME, "mountPath": SYSTEMD_PATH},
        ]
    return volumes, mounts


def _container(
    app: App, app_role: AppRole, role: ClusterRole, image: str, mounts: list[dict[str, Any]]
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": APP_CONTAINER_NAME,
        "image": image,
        "resources": role.resources(),
        "env": [dict(e) for e in role.env],
        "ports": [
            {"name": s.id, "containerPort": s.endpoint.port, "protocol": "TCP"}
            for s in app_role.endpoint_services
            if s.endpoint is not None
        ],
        "stdin": app_role.stdin,
        "tty": app_role.tty,
        "volumeMounts": mounts,
    }
    if app.capabilities:
        container["securityContext"] = {"capabilities": {"add": list(app.capabilities)}}
    if role.block_storage is not None:
        container["volumeDevices"] = storage.block_volume_devices(role.block_storage)
    return container


def build_statefulset(
    app: App,
    cluster: Cluster,
    config: Config,
    *,
    role_id: str,
    name: str,
    headless_service: str,
    replicas: int,
) -> dict[str, Any]:
    """The role's StatefulSet. Raises RoleNotInAppError if the app lacks the role."""
    app_role = app.role(role_id)
    role = cluster.role(role_id)
    if app_role is None or role is None or app_role.image is None:
        raise RoleNotInAppError(f"role {role_id!r} is not runnable in app {app.name!r}")
    labels = role_labels(cluster, app, role_id)
    volumes, mounts = _volumes(app, config, role)
    init_containers: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    if role.storage is not None:
        dirs = persisted_dirs(app_role)
        mounts = storage.persistent_mounts(dirs) + mounts
        init_containers.append(storage.init_container(app_role.image, role, dirs))
        claims.append(storage.persistent_claim_template(role.storage, labels))
    if role.block_storage is not None:
        claims += storage.block_claim_templates(role.block_storage, labels)
    pod_labels = config.pod_labels | role.pod_labels | labels
    pod_annotations = config.pod_annotations | role.pod_annotations
    pod_spec: dict[str, Any] = {
        "affinity": role.affinity,
        "initContainers": init_containers,
        "containers": [_container(app, app_role, role, app_role.image, mounts)],
        "volumes": volumes,
    }
    if role.service_account_name:
        pod_spec["serviceAccountName"] = role.service_account_name
    template_meta: dict[str, Any] = {"labels": pod_labels}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    spec: dict[str, Any] = {
        "podManagementPolicy": "Parallel",
        "replicas": replicas,
        "serviceName": headless_service,
        "selector": {"matchLabels": role_selector(cluster, role_id)},
        "template": {"metadata": template_meta, "spec": pod_spec},
    }
    if claims:
        spec["volumeClaimTemplates"] = claims
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(cluster, name, labels),
        "spec": spec,
    }


def mutable_part(statefulset: dict[str, Any]) -> dict[str, Any]:
    """The part of a desired StatefulSet an update may change: compare and patch only
    this, since the API rejects changes to the rest.
    """
    spec = statefulset["spec"]
    return {
        "metadata": {"labels": statefulset["metadata"]["labels"]},
        "spec": {k: spec[k] for k in MUTABLE_SPEC_FIELDS if k in spec},
    }


def fixed_part(statefulset: dict[str, Any]) -> dict[str, Any]:
    """The part of a desired StatefulSet Kubernetes does not let change after creation."""
    spec = statefulset["spec"]
    return {"spec": {k: v for k, v in spec.items() if k not in MUTABLE_SPEC_FIELDS}}
