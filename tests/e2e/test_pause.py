"""Pause and resume (`kubectl kd pause|resume`) with the recording test app: the pods
go, the members, their Services, claims and node ids stay; the same members come back
under the same names and FQDNs and are set up in their new containers."""

from __future__ import annotations

import json

from tests.e2e.support.operator import wait_until
from tests.e2e.test_cli import kd  # noqa: F401 - the fixture
from tests.e2e.test_clusters import items
from tests.e2e.test_setup import (
    apply,
    calls,
    fqdn,
    members,
    package_server,  # noqa: F401 - the fixture
    recorder_app,
    recorder_cluster,
    status,
    wait_ready,
)

SELECTOR = "kubedirector.hpe.com/kdcluster=rec"


def identities(st: dict, namespace: str) -> dict[str, tuple[str, str, int, str]]:
    return {
        pod: (m["role"], m["service"], m["nodeID"], fqdn(st, namespace, pod))
        for pod, m in members(st).items()
    }


def condition(st: dict, ctype: str) -> dict:
    return next(c for c in st.get("conditions", []) if c["type"] == ctype)


def uids(kubectl, namespace: str, kind: str) -> dict[str, str]:
    return {
        o["metadata"]["name"]: o["metadata"]["uid"]
        for o in items(kubectl, namespace, kind, SELECTOR)
    }


def test_pause_keeps_members_and_resume_brings_them_back(
    kubectl,
    namespace,
    operator,
    package_server,  # noqa: F811
    kd,  # noqa: F811
):
    apply(kubectl, namespace, recorder_app("recorder", f"{package_server}/recorder.tgz"))
    doc = recorder_cluster("rec", "recorder", {"a": 1, "b": 2})
    doc["spec"]["roles"][1]["storage"] = {"size": "1Gi"}
    apply(kubectl, namespace, doc)
    before = wait_ready(kubectl, namespace, "rec")
    identity = identities(before, namespace)
    wait_until(
        lambda: all(
            c["status"].get("phase") == "Bound" for c in items(kubectl, namespace, "pvc", SELECTOR)
        ),
        60,
        "claims to bind",
    )
    claims, services = uids(kubectl, namespace, "pvc"), uids(kubectl, namespace, "services")
    assert len(claims) == 2 and len(services) == 1 + 3

    row = kubectl("get", "kdcluster", "rec", "-n", namespace).stdout
    assert row.split("\n")[1].split()[2:4] == ["configured", "True"], row

    paused = kd("kd", "pause", "rec")
    assert paused.returncode == 0 and "kdcluster/rec paused" in paused.stdout, paused.stderr
    wait_until(
        lambda: condition(status(kubectl, namespace, "rec"), "Progressing")["reason"] == "Paused",
        90,
        "the pods to stop",
    )
    st = status(kubectl, namespace, "rec")
    assert st["state"] == "paused" and st["memberSummary"] == "0/3"
    assert (condition(st, "Ready")["status"], condition(st, "Ready")["reason"]) == (
        "False",
        "Paused",
    )
    assert condition(st, "Degraded")["status"] == "False"
    assert items(kubectl, namespace, "pods", SELECTOR) == []
    assert {s["spec"]["replicas"] for s in items(kubectl, namespace, "statefulsets", SELECTOR)} == {
        0
    }
    assert identities(st, namespace) == identity
    assert uids(kubectl, namespace, "pvc") == claims, "the claims stay"
    assert uids(kubectl, namespace, "services") == services, "the Services stay"
    row = kubectl("get", "kdcluster", "rec", "-n", namespace, "-o", "wide").stdout
    assert row.split("\n")[1].split()[2:5] == ["paused", "False", "true"], row
    again = kd("kd", "pause", "rec")
    assert again.returncode == 0 and "already paused" in again.stdout

    resumed = kd("kd", "resume", "rec")
    assert resumed.returncode == 0 and "kdcluster/rec resumed" in resumed.stdout
    after = wait_ready(kubectl, namespace, "rec", timeout=120)
    assert after["state"] == "configured" and after["memberSummary"] == "3/3"
    assert identities(after, namespace) == identity, "same names, FQDNs and node ids"
    assert uids(kubectl, namespace, "pvc") == claims
    for pod, member in members(after).items():
        old = members(before)[pod]["stateDetail"]["lastConfiguredContainer"]
        assert member["stateDetail"]["lastConfiguredContainer"] != old, "a new container"
        # The simulated node gives a re-created pod a fresh guest directory, so its
        # setup runs once in it (a real persisted /etc/guestconfig would skip it).
        assert calls(kubectl, namespace, pod)[:1] == ["--configure"]
    spec = json.loads(kubectl("get", "kdcluster", "rec", "-n", namespace, "-o", "json").stdout)
    assert spec["spec"]["paused"] is False
