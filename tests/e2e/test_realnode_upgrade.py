"""Live app upgrade on the real node, with data that survives (docs/operations.md,
"Live app upgrade").

test_upgrade.py moves simulated members; here the member is a real container on the
real node (tests/e2e/support/realnode.py) with cluster storage: the default
StorageClass's claim, bound to a hostPath volume on this machine that the real
kubelet mounts.  The app persists `/srv`; the test writes a file there in the
running container, moves the cluster to a second app version (`upgradableFrom` the
first) and finds the file in the new container the upgrade created.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.support.configcli_guest import guest
from tests.e2e.support.operator import wait_until
from tests.e2e.support.pods import pod_uid
from tests.e2e.support.realnode import (
    app_container_id,
    asker_on_the_real_node,
    guest_image,  # noqa: F401 - the fixture
    members_may_land_on_the_real_node,  # noqa: F401 - the fixture
    on_the_real_node,
)
from tests.e2e.test_setup import apply, members, status, wait_ready

pytestmark = pytest.mark.realnode

DATA = "/srv/kd-test-data"
LABEL_APP = "kubedirector.hpe.com/kdapp"


def upgraded(kubectl, namespace: str) -> dict | None:
    st = status(kubectl, namespace, "ask")
    return st if (st.get("upgrade") or {}).get("phase") == "Upgraded" else None


def bound_claim(kubectl, namespace: str, name: str) -> dict:
    doc = json.loads(kubectl("get", "pvc", name, "-n", namespace, "-o", "json").stdout)
    assert doc["status"]["phase"] == "Bound", doc["status"]
    return doc


def test_real_member_upgraded_keeps_its_persisted_data(
    kubectl,
    namespace,
    operator,
    guest_image,  # noqa: F811
    members_may_land_on_the_real_node,  # noqa: F811
    tmp_path,
):
    v1, cluster = asker_on_the_real_node(  # its `--upgrade` exits 0 as well
        kubectl, namespace, tmp_path, guest_image, role_fields={"storage": {"size": "1Gi"}}
    )
    for role in v1["spec"]["roles"]:
        role["persistDirs"] = ["/srv"]
    v2 = json.loads(json.dumps(v1))
    v2["metadata"]["name"] = "asker2"
    v2["spec"]["version"] = "2"
    v2["spec"]["upgradableFrom"] = [{"distroID": v1["spec"]["distroID"], "versions": ["1"]}]
    cluster["spec"]["roles"][1]["members"] = 0  # role b's legacy layout persists /usr
    for doc in (v1, v2, cluster):
        apply(kubectl, namespace, doc)
    (pod,) = members(wait_ready(kubectl, namespace, "ask", timeout=300))
    before = on_the_real_node(kubectl, namespace, pod)
    (volume,) = [v for v in before["spec"]["volumes"] if "persistentVolumeClaim" in v]
    claim = bound_claim(kubectl, namespace, volume["persistentVolumeClaim"]["claimName"])
    token = uuid.uuid4().hex
    guest(kubectl, namespace, pod, f"echo {token} > {DATA}")

    move = json.dumps({"spec": {"app": "asker2"}})  # what `kubectl kd upgrade` writes
    kubectl("patch", "kdcluster", "ask", "-n", namespace, "--type=merge", "-p", move)
    wait_until(lambda: upgraded(kubectl, namespace), 300, "the rollout to be Upgraded")
    after = wait_ready(kubectl, namespace, "ask", timeout=120)
    assert after["upgrade"]["toApp"] == "asker2"
    now = on_the_real_node(kubectl, namespace, pod)
    assert now["metadata"]["labels"][LABEL_APP] == "asker2"
    assert now["metadata"]["uid"] != before["metadata"]["uid"], "the pod was re-created"
    assert app_container_id(now) != app_container_id(before), "a new container"
    assert pod_uid(kubectl, namespace, pod) == now["metadata"]["uid"]
    member = members(after)[pod]
    assert member["stateDetail"]["lastConfiguredContainer"] == app_container_id(now)
    (volume_now,) = [v for v in now["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert volume_now == volume
    same = bound_claim(kubectl, namespace, volume["persistentVolumeClaim"]["claimName"])
    assert same["metadata"]["uid"] == claim["metadata"]["uid"], "the same claim"
    assert guest(kubectl, namespace, pod, f"cat {DATA}") == f"{token}\n"
