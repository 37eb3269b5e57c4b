"""Live app upgrade (`kubectl kd upgrade`) with the recording test app, under admission:
the members move one at a time to the new app, each set up with `--upgrade` in its new
container, keeping pod names and claims; a failing `--upgrade` on the second member stops
the rollout there, says so in status and conditions; `--rollback` moves back only the
members that moved."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.e2e.support.guest import serve_package
from tests.e2e.support.operator import wait_until
from tests.e2e.test_cli import kd  # noqa: F401 - the fixture
from tests.e2e.test_clusters import items
from tests.e2e.test_pause import condition
from tests.e2e.test_setup import (
    apply,
    calls,
    package_server,  # noqa: F401 - the fixture
    recorder_app,
    recorder_cluster,
    status,
    wait_ready,
)
from tests.e2e.test_webhook import webhook  # noqa: F401 - the fixture

SELECTOR = "kubedirector.hpe.com/kdcluster=rec"
LABEL_APP = "kubedirector.hpe.com/kdapp"
# The new version's startscript: records its calls, and fails `--upgrade` in the member
# the app's configMeta `failupgrade` names (the simulated guest root is named after the pod).
STARTSCRIPT_V2 = """#!/bin/bash
R="${KD_GUEST_ROOT:-}"
mkdir -p "$R/var/log/guestconfig"
echo "v2 $*" >> "$R/var/log/guestconfig/startscript.calls"
fail="$(grep -o '"failupgrade":"[^"]*"' "$R/etc/guestconfig/configmeta.json" | cut -d'"' -f4)"
if [ "$1" = "--upgrade" ] && [ -n "$fail" ]; then
  case "$(basename "$R")" in "$fail"-*) echo "cannot migrate the data" >&2; exit 5 ;; esac
fi
exit 0
"""


@pytest.fixture(scope="module")
def package_v2(tmp_path_factory) -> Iterator[str]:
    with serve_package(tmp_path_factory.mktemp("v2"), "recorder2", STARTSCRIPT_V2) as url:
        yield f"{url}/recorder2.tgz"


def v2_app(name: str, url: str, fail: str = "") -> dict:
    doc = recorder_app(name, url)
    doc["spec"]["version"] = "2"
    doc["spec"]["upgradableFrom"] = [{"distroID": "example/recorder", "versions": ["1"]}]
    doc["spec"]["config"]["configMeta"]["failupgrade"] = fail
    return doc


def pods(kubectl, namespace: str) -> dict[str, tuple[str, str]]:
    """Each member pod's uid and the app its template gave it."""
    return {
        p["metadata"]["name"]: (p["metadata"]["uid"], p["metadata"]["labels"][LABEL_APP])
        for p in items(kubectl, namespace, "pods", SELECTOR)
    }


def claims(kubectl, namespace: str) -> dict[str, str]:
    return {
        c["metadata"]["name"]: c["metadata"]["uid"]
        for c in items(kubectl, namespace, "pvc", SELECTOR)
    }


def rollout_order(st: dict) -> list[str]:
    """Roles in the app's order (a, b), members highest ordinal first."""
    by_role = {r["id"]: [m["pod"] for m in r["members"]] for r in st["roles"]}
    return [
        pod
        for role in ("a", "b")
        for pod in sorted(by_role.get(role, []), key=lambda p: -int(p.rpartition("-")[2]))
    ]


def follow(kubectl, namespace: str, phase: str, timeout: float) -> tuple[dict, list[str], set[str]]:
    """Poll status until the rollout reaches `phase`: the final status, the members seen
    moving (in order) and the Progressing reasons seen."""
    moving: list[str] = []
    reasons: set[str] = set()

    def done() -> dict | None:
        st = status(kubectl, namespace, "rec")
        record = st.get("upgrade") or {}
        for entry in record.get("members", []):
            if entry["state"] == "moving" and entry["pod"] not in moving:
                moving.append(entry["pod"])
        reasons.update(c["reason"] for c in st.get("conditions", []) if c["type"] == "Progressing")
        return st if record.get("phase") == phase else None

    try:
        st = wait_until(done, timeout, f"the rollout to be {phase}")
    except AssertionError as e:
        raise AssertionError(f"{e}; status: {json.dumps(status(kubectl, namespace, 'rec'))}") from e
    assert isinstance(st, dict)
    return st, moving, reasons


def start_cluster(kubectl, namespace: str, package_server: str, members: dict[str, int]) -> dict:  # noqa: F811
    apply(kubectl, namespace, recorder_app("rec-v1", f"{package_server}/recorder.tgz"))
    doc = recorder_cluster("rec", "rec-v1", members)
    doc["spec"]["roles"][1]["storage"] = {"size": "1Gi"}
    apply(kubectl, namespace, doc)
    st = wait_ready(kubectl, namespace, "rec", timeout=120)
    wait_until(
        lambda: all(
            c["status"].get("phase") == "Bound" for c in items(kubectl, namespace, "pvc", SELECTOR)
        ),
        60,
        "claims to bind",
    )
    return st


def test_upgrade_moves_members_one_at_a_time_keeping_names_and_claims(
    kubectl,
    namespace,
    webhook,  # noqa: F811
    operator,
    package_server,  # noqa: F811
    package_v2,
    kd,  # noqa: F811
):
    before = start_cluster(kubectl, namespace, package_server, {"a": 1, "b": 2})
    order = rollout_order(before)
    pods_before, claims_before = pods(kubectl, namespace), claims(kubectl, namespace)
    assert {app for _, app in pods_before.values()} == {"rec-v1"}

    # An app that does not declare it can upgrade from rec-v1 is refused, naming why.
    other = recorder_app("other", f"{package_server}/recorder.tgz")
    apply(kubectl, namespace, other)
    refused = kd("kd", "upgrade", "rec", "other")
    assert refused.returncode == 1, refused.stdout
    assert "spec.app" in refused.stderr and "spec.upgradableFrom" in refused.stderr

    apply(kubectl, namespace, v2_app("rec-v2", package_v2))
    moved = kd("kd", "upgrade", "rec", "rec-v2")
    assert moved.returncode == 0, moved.stderr
    assert "app rec-v1 -> rec-v2" in moved.stdout
    _, moving, reasons = follow(kubectl, namespace, "Upgraded", 180)
    assert moving == order, "roles in app order, highest ordinal first, one at a time"
    assert "Upgrading" in reasons
    after = wait_ready(kubectl, namespace, "rec")
    assert after["memberSummary"] == "3/3" and after["upgrade"]["toApp"] == "rec-v2"
    assert condition(after, "Progressing")["status"] == "False"
    pods_after = pods(kubectl, namespace)
    assert set(pods_after) == set(pods_before), "the same pod names"
    assert all(app == "rec-v2" for _, app in pods_after.values())
    assert all(pods_after[p][0] != pods_before[p][0] for p in pods_before), "each re-created"
    assert claims(kubectl, namespace) == claims_before, "the same claims (persisted data)"
    event = "--upgrade --fromversion 1 --toversion 2 --fromapp rec-v1 --toapp rec-v2"
    for pod in order:
        # A fresh container: set up once, with the upgrade event instead of --configure.
        assert calls(kubectl, namespace, pod) == [f"v2 {event}"], pod
    stses = items(kubectl, namespace, "statefulsets", SELECTOR)
    assert {s["metadata"]["labels"][LABEL_APP] for s in stses} == {"rec-v2"}
    partitions = {
        s["spec"].get("updateStrategy", {}).get("rollingUpdate", {}).get("partition", 0)
        for s in stses
    }
    assert partitions == {0}, "the partitions are gone"


def test_failed_upgrade_stops_at_member_2_and_rolls_back(
    kubectl,
    namespace,
    webhook,  # noqa: F811
    operator,
    package_server,  # noqa: F811
    package_v2,
    kd,  # noqa: F811
):
    before = start_cluster(kubectl, namespace, package_server, {"a": 1, "b": 3})
    order = rollout_order(before)
    second = order[1]
    pods_before, claims_before = pods(kubectl, namespace), claims(kubectl, namespace)
    apply(kubectl, namespace, v2_app("rec-v2", package_v2, fail=second))
    assert kd("kd", "upgrade", "rec", "rec-v2").returncode == 0

    st, moving, _ = follow(kubectl, namespace, "Failed", 180)
    record = st["upgrade"]
    assert moving == order[:2]
    assert record["failedMember"] == second
    assert "exited with status 5" in record["failure"], record
    assert [e["state"] for e in record["members"]] == ["done", "failed", "pending", "pending"]
    for ctype, want in (("Ready", "False"), ("Progressing", "False"), ("Degraded", "True")):
        assert (condition(st, ctype)["status"], condition(st, ctype)["reason"]) == (
            want,
            "UpgradeFailed",
        ), ctype
    assert second in condition(st, "Degraded")["message"]
    report = kd("kd", "status", "rec")
    assert "upgrade Failed" in report.stdout and "cannot migrate the data" in report.stdout
    # It stays stopped: the members after it keep their pods and the old app.
    stopped = pods(kubectl, namespace)
    for pod in order[2:]:
        assert stopped[pod] == pods_before[pod]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert status(kubectl, namespace, "rec")["upgrade"]["phase"] == "Failed"
        assert pods(kubectl, namespace) == stopped
        time.sleep(0.5)

    back = kd("kd", "upgrade", "rec", "--rollback")
    assert back.returncode == 0, back.stderr
    assert "rolling back: app rec-v2 -> rec-v1" in back.stdout
    _, moving, reasons = follow(kubectl, namespace, "RolledBack", 180)
    assert moving == [second, order[0]], "the moved members, last role first"
    assert "RollingBack" in reasons
    after = wait_ready(kubectl, namespace, "rec")
    assert after["memberSummary"] == "4/4"
    pods_after = pods(kubectl, namespace)
    assert all(app == "rec-v1" for _, app in pods_after.values())
    for pod in order[2:]:
        assert pods_after[pod] == pods_before[pod], f"{pod} never moved"
    event = "--rollback --fromversion 2 --toversion 1 --fromapp rec-v2 --toapp rec-v1"
    for pod in order[:2]:
        assert calls(kubectl, namespace, pod) == [event], pod
    assert claims(kubectl, namespace) == claims_before
    again = kd("kd", "upgrade", "rec", "--rollback")
    assert again.returncode == 1 and "already a rollback" in again.stderr
