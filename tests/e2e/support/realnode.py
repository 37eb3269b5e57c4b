"""Putting member pods on the machine's real node (docs/realnode.md, "Member
containers on the real node"), for the tests that need a real kubelet.

The roles pin their members there with `affinity` (copied into the pod as-is); the
node's `NoSchedule` taint, which keeps catalog members off it, is lifted for one
test only and put back in a `finally`.  Members run the guest image
(hack/build-image.sh guest), imported into the node: nothing is pulled.  The pod
network cannot reach this machine's loopback, so a setup package comes as a Secret
mounted through the cluster's `defaultSecret`, named by a `file://` URL.

Use the fixtures by importing them into the test module.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, _localcluster
from tests.e2e.support.configcli_guest import STARTSCRIPT, asker_app, asker_cluster
from tests.unit.guest_root import make_package

NODE = "127.0.0.1"
TAINT = "kubedirector.hpe.com/real-node=true:NoSchedule"
PACKAGE_DIR = "/opt/kd-test-package"
PINNED = {"key": "kubedirector.hpe.com/real-node", "operator": "In", "values": ["true"]}
ON_THE_REAL_NODE = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [PINNED]}]
        }
    }
}


@pytest.fixture(scope="module")
def guest_image(real_node: str) -> str:
    """The member image, built (or reused from the cache) and imported into the node;
    its name as the archive records it."""
    archive = subprocess.run(
        ["bash", str(REPO / "hack" / "build-image.sh"), "guest"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert archive.returncode == 0, archive.stderr
    path = archive.stdout.strip()
    _localcluster("up", "--real-node")  # reused, or back from another cluster
    _localcluster("load-image", path)
    with tarfile.open(path) as tar:
        data = tar.extractfile("index.json")
        assert data is not None, "the image archive has no index.json"
        index = json.load(data)
    return index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]


@pytest.fixture
def members_may_land_on_the_real_node(real_node: str, kubectl) -> Iterator[None]:
    kubectl("taint", "node", NODE, f"{TAINT}-")
    try:
        yield
    finally:
        kubectl("taint", "node", NODE, TAINT, "--overwrite")


def package_secret(kubectl, namespace: str, secret: str, package: Path) -> dict:
    """Stores `package` in a Secret and returns the cluster's `defaultSecret` that
    mounts it at PACKAGE_DIR; the package's URL is then
    `file://{PACKAGE_DIR}/{package.name}`."""
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret},
        "data": {package.name: base64.b64encode(package.read_bytes()).decode()},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc))
    return {"name": secret, "mountPath": PACKAGE_DIR, "readOnly": True}


def asker_on_the_real_node(
    kubectl, namespace: str, workdir: Path, image: str, role_fields: dict[str, Any] | None = None
) -> tuple[dict, dict]:
    """The simulated configcli test's app and cluster (configcli_guest.py), its members
    running `image` on the real node, its package (STARTSCRIPT) stored in the namespace;
    `role_fields` go into both cluster roles.  Not applied yet: tests adjust them."""
    make_package(workdir / "asker.tgz", {"asker/startscript": STARTSCRIPT})
    secret = package_secret(kubectl, namespace, "asker-package", workdir / "asker.tgz")
    app = asker_app(f"file://{PACKAGE_DIR}/asker.tgz", image=image)
    cluster = asker_cluster(
        role_fields={"affinity": ON_THE_REAL_NODE, **(role_fields or {})},
        spec_fields={"defaultSecret": secret},
    )
    return app, cluster


def app_container_id(pod: dict) -> str | None:
    """The runtime's id of the pod's `app` container (None until it has one)."""
    statuses = pod.get("status", {}).get("containerStatuses", [])
    return next((c.get("containerID") for c in statuses if c["name"] == "app"), None)


def on_the_real_node(kubectl, namespace: str, pod: str) -> dict:
    """The pod's document, once checked to run as a real container on the node."""
    doc = json.loads(kubectl("get", "pod", pod, "-n", namespace, "-o", "json").stdout)
    assert doc["spec"]["nodeName"] == NODE, pod
    assert (app_container_id(doc) or "").startswith("containerd://"), pod
    return doc
