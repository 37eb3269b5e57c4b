"""One StatefulSet per role: its members' pods, storage and volumes.

The member pod carries what the original operator's did (upstream-pods.md
section 1), so real app images find what they expect; docs/reference.md
"Member pods" lists the few deliberate differences.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubedirector.api.app import App, AppRole, LivenessCheck
from kubedirector.api.cluster import Cluster, ClusterRole
from kubedirector.api.config import Config
from kubedirector.api.constants import (
    ANNOTATION_PRETTY_NAME,
    APP_CONTAINER_NAME,
    LABEL_HEADLESS,
    MemberState,
)
from kubedirector.api.mounts import CGROUP_PATH, SHM_PATH, SYSTEMD_PATH, persisted_dirs
from kubedirector.api.quantity import QuantityError, parse_quantity
from kubedirector.api.status import MemberStatus
from kubedirector.desired import storage
from kubedirector.desired.labels import metadata, role_labels, role_selector

# Volume names and sizes as the original's (upstream-pods.md 1.3.4).
TMPFS_VOLUMES = (("tmpfs-tmp", "/tmp"), ("tmpfs-run", "/run"), ("tmpfs-run-lock", "/run/lock"))
TMPFS_SIZE = "20Gi"
SECRET_VOLUME_PREFIX = "secret-vol-"
PROJECTION_VOLUME_PREFIX = "projected-vol-"
SHM_VOLUME = "shmem"
CGROUP_VOLUME = "cgroupfs"
SYSTEMD_VOLUME = "systemd"
GPU_RESOURCE_PREFIX = "nvidia.com/"
POST_START_LOG = "/tmp/kd-postcluster.log"

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
    """Volumes and app-container mounts other than persistent storage, in the
    original's order."""
    volumes: list[dict[str, Any]] = [
        {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": TMPFS_SIZE}}
        for name, _ in TMPFS_VOLUMES
    ]
    mounts: list[dict[str, Any]] = [
        {"name": name, "mountPath": path} for name, path in TMPFS_VOLUMES
    ]
    if role.secret is not None:
        name = f"{SECRET_VOLUME_PREFIX}{role.secret.name}"
        secret: dict[str, Any] = {"secretName": role.secret.name}
        if role.secret.default_mode is not None:
            secret["defaultMode"] = role.secret.default_mode
        volumes.append({"name": name, "secret": secret})
        mounts.append(
            {"name": name, "mountPath": role.secret.mount_path, "readOnly": role.secret.read_only}
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


def _requests_gpu(role: ClusterRole) -> bool:
    """Some non-zero `nvidia.com/*` request (limits alone do not count, as in the original)."""
    for name, value in (role.requests or {}).items():
        if not name.startswith(GPU_RESOURCE_PREFIX):
            continue
        try:
            if parse_quantity(value) != 0:
                return True
        except QuantityError:
            return True  # admission rejects it; a GPU asked for, however spelt
    return False


def env_vars(app_role: AppRole, role: ClusterRole) -> list[dict[str, Any]]:
    """The role's env, then what the original added (upstream-pods.md 1.3.2): the new
    setup layout installs Python packages under /usr/local, and a member without a
    GPU request must not see the node's GPUs through the NVIDIA runtime."""
    env = [dict(e) for e in role.env]
    package = app_role.config_package
    if package is not None and package.use_new_setup_layout:
        env.append({"name": "PYTHONUSERBASE", "value": "/usr/local"})
    if not _requests_gpu(role):
        env.append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"})
    return env


def post_start_script(headless_service: str) -> str:
    """The original's postStart text (upstream-pods.md 1.4): puts `<headless>.<ns>.svc...`
    first in resolv.conf's search list, so bare member hostnames resolve, and makes
    /run 755 for systemd and sshd."""
    return (
        f"exec 2>>{POST_START_LOG}; set -x;Retries=60; while [[ $Retries && ! -s "
        "/etc/resolv.conf ]]; do sleep 1; Retries=$(expr $Retries - 1); done; "
        f'sed "s/^search \\([^ ]\\+\\)/search {headless_service}.\\1 \\1/" /etc/resolv.conf '
        "> /tmp/resolv.conf.new && cat /tmp/resolv.conf.new > /etc/resolv.conf;"
        "rm -f /tmp/resolv.conf.new;chmod 755 /run;exit 0"
    )


def readiness_probe(check: LivenessCheck) -> dict[str, Any]:
    """The role's `livenessCheck` as the app container's readinessProbe.

    The kubelet runs it; a failing check only turns the pod not Ready, which the
    operator judges by the cluster role's `unresponsivePolicy` (report, then
    restart or leave for a human). A livenessProbe would have the kubelet restart
    the container itself, behind that policy. A zero `initialDelaySeconds` is left
    out, as the API server stores it.
    """
    probe: dict[str, Any] = {
        "exec": {"command": list(check.command)},
        "periodSeconds": check.period_seconds,
        "timeoutSeconds": check.timeout_seconds,
        "failureThreshold": check.failure_threshold,
    }
    if check.initial_delay_seconds:
        probe["initialDelaySeconds"] = check.initial_delay_seconds
    return probe


def _ports(app: App, app_role: AppRole) -> list[dict[str, Any]]:
    """One per role service with a port, in the app's `services` order (the original's)."""
    order = {s.id: i for i, s in enumerate(app.services)}
    services = sorted(app_role.endpoint_services, key=lambda s: order.get(s.id, len(order)))
    return [
        {"name": s.id, "containerPort": s.endpoint.port, "protocol": "TCP"}
        for s in services
        if s.endpoint is not None
    ]


def _container(
    app: App,
    app_role: AppRole,
    role: ClusterRole,
    *,
    mounts: list[dict[str, Any]],
    headless_service: str,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": APP_CONTAINER_NAME,
        "image": app_role.image,
        "resources": role.resources(),
        "env": env_vars(app_role, role),
        "lifecycle": {
            "postStart": {
                "exec": {"command": ["/bin/bash", "-c", post_start_script(headless_service)]}
            }
        },
        "ports": _ports(app, app_role),
        "stdin": app_role.stdin,
        "tty": app_role.tty,
        "volumeMounts": mounts,
    }
    if app_role.liveness_check is not None:
        container["readinessProbe"] = readiness_probe(app_role.liveness_check)
    if app.capabilities:
        container["securityContext"] = {"capabilities": {"add": list(app.capabilities)}}
    if role.block_storage is not None:
        container["volumeDevices"] = storage.block_volume_devices(role.block_storage)
    return container


def pod_metadata(
    app: App, config: Config, role: ClusterRole, labels: dict[str, str]
) -> dict[str, Any]:
    """Pod template labels and annotations.  As in the original, the global config's
    beat the role's; unlike it, the operator's own labels beat both, since the
    StatefulSet selector relies on them."""
    return {
        "labels": role.pod_labels | config.pod_labels | labels,
        "annotations": {ANNOTATION_PRETTY_NAME: app.label_name}
        | role.pod_annotations
        | config.pod_annotations,
    }


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
    labels = role_labels(cluster, app, role_id) | {LABEL_HEADLESS: cluster.name}
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
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": bool(role.service_account_name),
        "affinity": role.affinity,
        "initContainers": init_containers,
        "containers": [
            _container(app, app_role, role, mounts=mounts, headless_service=headless_service)
        ],
        "volumes": volumes,
    }
    if role.service_account_name:
        pod_spec["serviceAccountName"] = role.service_account_name
    spec: dict[str, Any] = {
        "podManagementPolicy": "Parallel",
        "replicas": replicas,
        "serviceName": headless_service,
        "selector": {"matchLabels": role_selector(cluster, role_id)},
        "template": {
            "metadata": pod_metadata(app, config, role, labels),
            "spec": pod_spec,
        },
    }
    if claims:
        spec["volumeClaimTemplates"] = claims
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(cluster, name, labels, {ANNOTATION_PRETTY_NAME: app.label_name}),
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
