"""An unresponsive member (its pod not Ready for longer than its role's
`unresponsivePolicy.afterSeconds`) is restarted when the policy says so: its pod is
deleted, re-created by the StatefulSet, and set up again."""

from __future__ import annotations

from tests.e2e.support.operator import wait_until
from tests.e2e.support.pods import pod_uid, set_ready
from tests.e2e.test_setup import (
    apply,
    calls,
    members,
    package_server,  # noqa: F401 - the fixture
    recorder_app,
    recorder_cluster,
    wait_ready,
)


def test_unresponsive_member_is_restarted(kubectl, namespace, operator, package_server):  # noqa: F811
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    doc = recorder_cluster("rec", "recorder", {"a": 1, "b": 1})
    doc["spec"]["roles"][1]["unresponsivePolicy"] = {"action": "restart", "afterSeconds": 5}
    apply(kubectl, namespace, doc)
    before = members(wait_ready(kubectl, namespace, "rec"))
    pod = next(p for p, m in before.items() if m["role"] == "b")
    other = next(p for p, m in before.items() if m["role"] == "a")
    uid = pod_uid(kubectl, namespace, pod)
    set_ready(kubectl, namespace, pod, ready=False)
    wait_until(
        lambda: pod_uid(kubectl, namespace, pod) not in (None, uid),
        60,
        "the unresponsive member's pod to be re-created",
    )
    after = members(wait_ready(kubectl, namespace, "rec", timeout=120))
    assert after[pod]["nodeID"] == before[pod]["nodeID"], "the same member, restarted"
    assert "unresponsive" not in after[pod]["stateDetail"]
    assert calls(kubectl, namespace, pod) == ["--configure"], "set up again in the new pod"
    assert pod_uid(kubectl, namespace, other) is not None
    assert (
        after[other]["stateDetail"]["lastConfiguredContainer"]
        == (before[other]["stateDetail"]["lastConfiguredContainer"])
    ), "role a has no policy"
    reasons = kubectl(
        "get", "events", "-n", namespace, "--field-selector", "reason=MemberRestarted", "-o", "json"
    ).stdout
    assert pod in reasons
