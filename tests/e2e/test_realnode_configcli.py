"""configcli in real containers on the real node (upstream-pods.md 2.3 step 7 and 3).

The same app, cluster and documented answers as the simulated guest's test
(test_configcli.py, tests/e2e/support/configcli_guest.py), but the members are real
containers: a member image built like the operator's (hack/build-image.sh guest: the
Debian base with bash and python3; bookworm has no python2.7) and imported into the
real node, no registry.  The operator installs configcli with its normal install step
(new layout in role a, legacy in role b), then the test execs the commands there.

Getting members onto the real node, least invasively: the roles pin them there with
their `affinity` (a field the original copies into the pod as-is), and the node's
`NoSchedule` taint, which keeps catalog members off it, is lifted for this test only
and put back in a `finally` (the role spec has no tolerations).  The setup package
reaches the container as a file: a Secret mounted through the cluster's
`defaultSecret`, named by a `file://` package URL (the pod network cannot reach this
machine's loopback, where the simulated test serves it).  The app does not set
`systemdRequired`: the plain container runs no systemd, so the journald gate would
never open.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, _localcluster
from tests.e2e.support.configcli_guest import (
    STARTSCRIPT,
    asker_app,
    asker_cluster,
    check_members,
    guest,
    ready_members,
)
from tests.e2e.support.guest import serve_package

pytestmark = pytest.mark.realnode

NODE = "127.0.0.1"
TAINT = "kubedirector.hpe.com/real-node=true:NoSchedule"
PACKAGE_SECRET = "asker-package"
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
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    return index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]


@pytest.fixture
def members_may_land_on_the_real_node(real_node: str, kubectl) -> Iterator[None]:
    kubectl("taint", "node", NODE, f"{TAINT}-")
    try:
        yield
    finally:
        kubectl("taint", "node", NODE, TAINT, "--overwrite")


def test_configcli_in_real_containers_answers_as_documented(
    kubectl, namespace, operator, guest_image, members_may_land_on_the_real_node, tmp_path
):
    with serve_package(tmp_path, "asker", STARTSCRIPT):  # the simulated test's package
        package = base64.b64encode((tmp_path / "asker.tgz").read_bytes()).decode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": PACKAGE_SECRET},
        "data": {"asker.tgz": package},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(secret))
    app = asker_app(f"file://{PACKAGE_DIR}/asker.tgz", image=guest_image)
    cluster = asker_cluster(
        role_fields={"affinity": ON_THE_REAL_NODE},
        spec_fields={
            "defaultSecret": {"name": PACKAGE_SECRET, "mountPath": PACKAGE_DIR, "readOnly": True}
        },
    )
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(app))
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(cluster))
    status, members = ready_members(kubectl, namespace, "ask", timeout=300)
    for pod in members:
        spec = json.loads(kubectl("get", "pod", pod, "-n", namespace, "-o", "json").stdout)
        assert spec["spec"]["nodeName"] == NODE, pod
        assert spec["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")
        # A real container: no simulated guest root, and the operator's install used
        # the image's own interpreter.
        installed = guest(
            kubectl,
            namespace,
            pod,
            'echo "root=${KD_GUEST_ROOT:-none}"; cat /var/log/guestconfig/configcli-install.log',
        )
        assert installed.startswith(
            "root=none\nconfigcli installed for /usr/bin/python in /usr/"
        ), installed
    check_members(kubectl, namespace, status, members)
