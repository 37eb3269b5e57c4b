"""An app's `livenessCheck` run by a real kubelet (docs/writing-apps.md, "Liveness").

test_liveness_check.py fakes the failing check on kwok nodes (they run no probes) by
patching the pod's Ready condition.  Here the members are real containers on the
real node (tests/e2e/support/realnode.py): the kubelet runs the check itself, the
test makes it fail inside the container, and the operator's handling follows from
what the kubelet reports.  Role `a` (`action: none`) is reported unresponsive and
clears once its check passes again; role `b` (`action: restart`) is re-created and
set up again.
"""

from __future__ import annotations

import json

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
from tests.e2e.test_liveness_check import app_container, degraded
from tests.e2e.test_setup import apply, members, status, wait_ready

pytestmark = pytest.mark.realnode

SICK = "/tmp/kd-test-sick"
# Passes until the test creates SICK in the container; short periods, one failure.
CHECK = {
    "exec": {"command": ["/bin/sh", "-c", f"test ! -e {SICK}"]},
    "periodSeconds": 2,
    "failureThreshold": 1,
}
PROBE = CHECK | {"timeoutSeconds": 1, "successThreshold": 1}  # as stored


def kubelet_ready(kubectl, namespace: str, pod: str) -> dict:
    """The pod's Ready condition as the kubelet wrote it."""
    conditions = on_the_real_node(kubectl, namespace, pod)["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Ready")


def test_real_kubelet_check_failing_is_reported_and_handled_by_policy(
    kubectl,
    namespace,
    operator,
    guest_image,  # noqa: F811
    members_may_land_on_the_real_node,  # noqa: F811
    tmp_path,
):
    app, cluster = asker_on_the_real_node(kubectl, namespace, tmp_path, guest_image)
    for role in app["spec"]["roles"]:
        role["livenessCheck"] = CHECK
    a, b = cluster["spec"]["roles"]
    b["members"] = 1
    # Longer than a real pod takes from creation to its first passing check, so that
    # a new pod is never judged while it starts (docs/writing-apps.md, Guidelines).
    a["unresponsivePolicy"] = {"action": "none", "afterSeconds": 15}
    b["unresponsivePolicy"] = {"action": "restart", "afterSeconds": 15}
    apply(kubectl, namespace, app)
    apply(kubectl, namespace, cluster)
    before = members(wait_ready(kubectl, namespace, "ask", timeout=300))
    pod = {m["role"]: p for p, m in before.items()}
    uid = {role: pod_uid(kubectl, namespace, pod[role]) for role in pod}
    first_container = app_container_id(on_the_real_node(kubectl, namespace, pod["b"]))
    for name in pod.values():
        assert app_container(kubectl, namespace, name)["readinessProbe"] == PROBE
        assert kubelet_ready(kubectl, namespace, name)["status"] == "True"

    # Make the check fail inside both real containers; only the kubelet notices.
    for name in pod.values():
        guest(kubectl, namespace, name, f"touch {SICK}")
    wait_until(
        lambda: kubelet_ready(kubectl, namespace, pod["a"])["status"] == "False",
        60,
        "the kubelet to report role a's pod not Ready",
    )
    assert kubelet_ready(kubectl, namespace, pod["a"])["reason"] == "ContainersNotReady"

    def reported() -> dict | None:
        st = status(kubectl, namespace, "ask")
        return st if "unresponsive" in members(st)[pod["a"]]["stateDetail"] else None

    st = wait_until(reported, 90, "role a's member to be reported unresponsive")
    assert isinstance(st, dict)
    assert members(st)[pod["a"]]["stateDetail"]["unresponsive"].startswith("pod not Ready since")
    assert degraded(st)["status"] == "True"
    assert degraded(st)["reason"] == "MemberUnresponsive"
    assert pod["a"] in degraded(st)["message"]

    # restart: a new pod, set up again from scratch (a fresh container), check passing.
    wait_until(
        lambda: pod_uid(kubectl, namespace, pod["b"]) not in (None, uid["b"]),
        90,
        "role b's unresponsive member to be restarted",
    )

    def set_up_again() -> bool:
        """Configured in the new pod's container (the operator records which)."""
        member = members(status(kubectl, namespace, "ask"))[pod["b"]]
        detail = member["stateDetail"]
        doc = json.loads(kubectl("get", "pod", pod["b"], "-n", namespace, "-o", "json").stdout)
        return (
            member["state"] == "configured"
            and "unresponsive" not in detail
            and detail.get("lastConfiguredContainer") not in (None, first_container)
            and detail.get("lastConfiguredContainer") == app_container_id(doc)
        )

    wait_until(set_up_again, 180, "role b's restarted member to be set up again")
    wait_until(
        lambda: kubelet_ready(kubectl, namespace, pod["b"])["status"] == "True",
        60,
        "the kubelet to report role b's new pod Ready",
    )
    fresh = guest(
        kubectl,
        namespace,
        pod["b"],
        f'test -s /var/log/guestconfig/configcli.seen; test ! -e {SICK}; echo "set up"',
    )
    assert fresh == "set up\n"
    st = status(kubectl, namespace, "ask")
    assert pod_uid(kubectl, namespace, pod["a"]) == uid["a"], "action none leaves the pod"
    assert "unresponsive" in members(st)[pod["a"]]["stateDetail"]
    assert degraded(st)["message"] == f"members unresponsive: {pod['a']}"

    # A human fixes role a's member: the kubelet's check passes, the report clears.
    guest(kubectl, namespace, pod["a"], f"rm {SICK}")
    wait_until(
        lambda: kubelet_ready(kubectl, namespace, pod["a"])["status"] == "True",
        60,
        "the kubelet to report role a's pod Ready again",
    )
    after = wait_ready(kubectl, namespace, "ask", timeout=60)
    assert "unresponsive" not in members(after)[pod["a"]]["stateDetail"]
    assert degraded(after).get("status") != "True"
    assert pod_uid(kubectl, namespace, pod["a"]) == uid["a"]
    events = kubectl(
        "get", "events", "-n", namespace, "--field-selector", "reason=MemberRestarted", "-o", "json"
    ).stdout
    assert pod["b"] in events and pod["a"] not in events
