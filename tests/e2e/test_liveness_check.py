"""An app's `livenessCheck` on the local cluster: its members' pods carry it as the
app container's readinessProbe, and a member whose check fails (its pod not Ready) is
reported unresponsive and handled by its cluster role's policy: left for a human
(`none`) or restarted (`restart`)."""

from __future__ import annotations

import json

from tests.e2e.support.operator import wait_until
from tests.e2e.support.pods import pod_uid, set_ready
from tests.e2e.test_setup import (
    apply,
    members,
    package_server,  # noqa: F401 - the fixture
    recorder_app,
    recorder_cluster,
    status,
    wait_ready,
)

CHECK = {
    "exec": {"command": ["/bin/sh", "-c", "test -e /tmp/healthy"]},
    "initialDelaySeconds": 15,
    "periodSeconds": 5,
    "failureThreshold": 2,
}
# As the API server stores it: Kubernetes' defaults for what the app left out.
PROBE = CHECK | {"timeoutSeconds": 1, "successThreshold": 1}


def app_container(kubectl, namespace: str, pod: str) -> dict:
    spec = json.loads(kubectl("get", "pod", pod, "-n", namespace, "-o", "json").stdout)["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == "app"]
    return container


def degraded(st: dict) -> dict:
    return next((c for c in st.get("conditions", []) if c["type"] == "Degraded"), {})


def test_failing_check_is_reported_and_handled_by_policy(
    kubectl,
    namespace,
    operator,
    package_server,  # noqa: F811
):
    app = recorder_app("checked", f"{package_server}/recorder.tgz")
    for role in app["spec"]["roles"][1:]:
        role["livenessCheck"] = CHECK
    apply(kubectl, namespace, app)
    doc = recorder_cluster("chk", "checked", {"a": 1, "b": 1, "c": 1})
    doc["spec"]["roles"][1]["unresponsivePolicy"] = {"action": "none", "afterSeconds": 5}
    doc["spec"]["roles"][2]["unresponsivePolicy"] = {"action": "restart", "afterSeconds": 5}
    apply(kubectl, namespace, doc)
    before = members(wait_ready(kubectl, namespace, "chk"))
    pod = {m["role"]: p for p, m in before.items()}

    # The kubelet runs the check as a readiness probe; never as a liveness probe.
    for role in ("b", "c"):
        container = app_container(kubectl, namespace, pod[role])
        assert container["readinessProbe"] == PROBE
        assert "livenessProbe" not in container
    assert "readinessProbe" not in app_container(kubectl, namespace, pod["a"])

    # What the kubelet reports once the check has failed failureThreshold times.
    uid = {role: pod_uid(kubectl, namespace, pod[role]) for role in ("b", "c")}
    set_ready(kubectl, namespace, pod["b"], ready=False)
    set_ready(kubectl, namespace, pod["c"], ready=False)

    def reported() -> dict | None:
        st = status(kubectl, namespace, "chk")
        detail = members(st)[pod["b"]]["stateDetail"]
        return st if "unresponsive" in detail else None

    st = wait_until(reported, 60, "role b's member to be reported unresponsive")
    assert isinstance(st, dict)
    assert members(st)[pod["b"]]["stateDetail"]["unresponsive"].startswith("pod not Ready since")
    assert degraded(st)["status"] == "True"
    assert degraded(st)["reason"] == "MemberUnresponsive"
    assert pod["b"] in degraded(st)["message"]

    # restart: the pod is re-created and set up again; none: left alone, still reported.
    wait_until(
        lambda: pod_uid(kubectl, namespace, pod["c"]) not in (None, uid["c"]),
        60,
        "role c's unresponsive member to be restarted",
    )

    def restarted_and_configured() -> bool:
        member = members(status(kubectl, namespace, "chk"))[pod["c"]]
        return member["state"] == "configured" and "unresponsive" not in member["stateDetail"]

    wait_until(restarted_and_configured, 120, "role c's restarted member to be configured")
    st = status(kubectl, namespace, "chk")
    assert pod_uid(kubectl, namespace, pod["b"]) == uid["b"], "action none leaves the pod"
    assert "unresponsive" in members(st)[pod["b"]]["stateDetail"]
    assert degraded(st)["reason"] == "MemberUnresponsive"
    assert degraded(st)["message"] == f"members unresponsive: {pod['b']}"
    assert app_container(kubectl, namespace, pod["c"])["readinessProbe"] == PROBE

    # A human fixes the member: the check passes again and the report goes away.
    set_ready(kubectl, namespace, pod["b"], ready=True)
    after = members(wait_ready(kubectl, namespace, "chk"))
    assert "unresponsive" not in after[pod["b"]]["stateDetail"]
    assert pod_uid(kubectl, namespace, pod["b"]) == uid["b"]
    events = kubectl(
        "get", "events", "-n", namespace, "--field-selector", "reason=MemberRestarted", "-o", "json"
    ).stdout
    assert pod["c"] in events and pod["b"] not in events
