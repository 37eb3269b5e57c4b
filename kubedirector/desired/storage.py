"""Persistent and block storage of a role: claim templates, mounts, and the init
container that seeds a fresh volume with the image's own directory content.
"""

from __future__ import annotations

import shlex
from typing import Any

from kubedirector.api.cluster import BlockStorage, ClusterRole, Storage
from kubedirector.desired.naming import PVC_TEMPLATE, block_template_name

# The original's names (upstream-pods.md 1.3.3): a volume it initialised carries its
# marker, so it is recognised here and never copied over again.
INIT_CONTAINER_NAME = "init"
INIT_MOUNT = "/mnt"
INIT_MARKER = f"{INIT_MOUNT}/etc/kubedirector.init"
INIT_LOG = f"{INIT_MOUNT}/etc/kubedirector-init.log"
INIT_PROGRESS = f"{INIT_MOUNT}/etc/kubedirector-init-progress-bar.log"
# The marker this operator's earlier releases left at the volume root: such a
# volume is initialised too.
PREVIOUS_INIT_MARKER = f"{INIT_MOUNT}/.kd-storage-initialized"
_RSYNC_OPTS = "--info=progress2 --relative -ax --no-inc-recursive"


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
    """The original's init script (upstream-pods.md 1.3.3), text for text, with one
    addition in front: a volume our earlier releases initialised gets the original's
    marker first, so it is not copied over either.

    Copy with rsync where it takes the options (progress in INIT_PROGRESS), else
    `cp --parents -a -x`; only while the marker is absent.  The marker is touched
    even after a failed copy, as the original does: a copy error on one odd file
    (a socket, a file that vanished) must not keep the pod from ever starting.
    """
    joined = " ".join(shlex.quote(d) for d in dirs)
    cp = f"cp --parent -ax {joined} {INIT_MOUNT}"
    rsync = (
        f"mkdir -p {INIT_MOUNT}/etc; rsync --log-file={INIT_LOG} {_RSYNC_OPTS} "
        f"{joined} {INIT_MOUNT} > {INIT_PROGRESS};"
    )
    return (
        f"[ -f {PREVIOUS_INIT_MARKER} ] && mkdir -p {INIT_MOUNT}/etc && touch {INIT_MARKER}; "
        f"rsync --log-file=./rsync-check-status-dummy.log {_RSYNC_OPTS} --version; "
        f"RSYNC_CHECK_STATUS=$?; ! [ -f {INIT_MARKER} ] && ( [ ${{RSYNC_CHECK_STATUS}} != 0 ] "
        f"&& ({cp}) || ({rsync})); touch {INIT_MARKER};"
    )


def init_container(image: str, role: ClusterRole, dirs: list[str]) -> dict[str, Any]:
    """Runs as root before the app container (the image's /etc may be root-only);
    the same resources, so scheduling is unchanged."""
    container: dict[str, Any] = {
        "name": INIT_CONTAINER_NAME,
        "image": image,
        "command": ["/bin/bash"],
        "args": ["-c", init_script(dirs)],
        "securityContext": {"runAsUser": 0},
        "volumeMounts": [{"name": PVC_TEMPLATE, "mountPath": INIT_MOUNT}],
    }
    resources = role.resources()
    if resources:
        container["resources"] = resources
    return container
