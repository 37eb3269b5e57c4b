"""Persistent and block storage of a role: claim templates, mounts, and the init
container that seeds a fresh volume with the image's own directory content.
"""

from __future__ import annotations

import shlex
from typing import Any

from kubedirector.api.cluster import BlockStorage, ClusterRole, Storage
from kubedirector.desired.naming import PVC_TEMPLATE, block_template_name

INIT_CONTAINER_NAME = "kd-storage-init"
INIT_MOUNT = "/mnt"
INIT_MARKER = f"{INIT_MOUNT}/.kd-storage-initialized"
INIT_PROGRESS = f"{INIT_MOUNT}/.kd-storage-progress"


def _claim(
    name: str, size: str, storage_class: str | None, labels: dict[str, str], block: bool
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    if block:
        spec["volumeMode"] = "Block"
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


def persistent_claim_template(storage: Storage, labels: dict[str, str]) -> dict[str, Any]:
    """Template `p`, so each member's claim is `p-<pod>`."""
    return _claim(PVC_TEMPLATE, storage.size, storage.storage_class_name, labels, block=False)


def block_claim_templates(block: BlockStorage, labels: dict[str, str]) -> list[dict[str, Any]]:
    """Templates `b0..bN-1`, raw block devices."""
    return [
        _claim(block_template_name(i), block.size, block.storage_class_name, labels, block=True)
        for i in range(block.num_devices)
    ]


def block_device_paths(block: BlockStorage) -> list[str]:
    """Where the devices appear in the container: `<pathPrefix><n>`."""
    return [f"{block.path_prefix}{i}" for i in range(block.num_devices)]


def block_volume_devices(block: BlockStorage) -> list[dict[str, Any]]:
    return [
        {"name": block_template_name(i), "devicePath": path}
        for i, path in enumerate(block_device_paths(block))
    ]


def persistent_mounts(dirs: list[str]) -> list[dict[str, Any]]:
    """Each directory from its own subpath of the one volume."""
    return [{"name": PVC_TEMPLATE, "mountPath": d, "subPath": d.lstrip("/")} for d in dirs]


def init_script(dirs: list[str]) -> str:
    """Copy each directory onto the volume once; the marker file makes reruns no-ops,
    and the progress file (`<done>/<total>`) is what status reports.
    """
    total = len(dirs)
    lines = [f"[ -f {INIT_MARKER} ] && exit 0", "set -e"]
    for done, d in enumerate(dirs, start=1):
        src, dest = shlex.quote(d), shlex.quote(f"{INIT_MOUNT}{d}")
        lines += [
            f"mkdir -p {dest}",
            f"if [ -d {src} ]; then cp -a {src}/. {dest}/; fi",
            f"echo {done}/{total} > {INIT_PROGRESS}",
        ]
    lines += [f"touch {INIT_MARKER}", "exit 0"]
    return "\n".join(lines)


def init_container(image: str, role: ClusterRole, dirs: list[str]) -> dict[str, Any]:
    """Runs before the app container; the same resources so scheduling is unchanged."""
    container: dict[str, Any] = {
        "name": INIT_CONTAINER_NAME,
        "image": image,
        "command": ["/bin/sh", "-c", init_script(dirs)],
        "volumeMounts": [{"name": PVC_TEMPLATE, "mountPath": INIT_MOUNT}],
    }
    resources = role.resources()
    if resources:
        container["resources"] = resources
    return container
