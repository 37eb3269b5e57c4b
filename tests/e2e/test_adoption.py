"""Issue 11 item 4: a cluster the original (Go) operator created and configured is
taken over with no pod re-created or restarted, no setup run again in a configured
member, and its StatefulSet templates untouched; scaling works afterwards and the
new member gets the full setup.  The cluster is replayed from the recording in
tests/compat/upstream-made (see tests/e2e/support/replay.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubedirector.reconcilers.cluster.adoption import ANNOTATION_ADOPTED, ANNOTATION_MIGRATE
from tests.conftest import LocalCluster
from tests.e2e.support.guest import guest_sh, startscript_calls
from tests.e2e.support.kdcluster import get, set_workers, wait_ready
from tests.e2e.support.operator import Operator, start_operator, wait_until
from tests.e2e.support.replay import replay


def has_configcli(kubectl, namespace: str, pod: str) -> bool:
    out = guest_sh(
        kubectl,
        namespace,
        pod,
        'ls "$KD_GUEST_ROOT/usr/bin/configcli" '
        '"$KD_GUEST_ROOT/usr/local/bin/configcli" 2>/dev/null; exit 0',
    )
    return bool(out.strip())


@pytest.fixture
def adopting(
    local_cluster: LocalCluster, kubectl, namespace: str, tmp_path: Path
) -> Iterator[list[Operator]]:
    """Holds the operator the test starts once the replay is done; at the end the
    operator deletes the namespace's clusters (through their finalizer)."""
    started: list[Operator] = []
    yield started
    if not started or started[0].proc.poll() is not None:
        adopt(started, local_cluster.kubeconfig, namespace, tmp_path / "final.log")
    kubectl("delete", "kdcluster", "--all", "-n", namespace, "--timeout=60s", timeout=90)
    started[-1].stop()


def pods(kubectl, namespace: str) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in get(kubectl, namespace, "pods")["items"]}


def statefulsets(kubectl, namespace: str) -> dict[str, dict]:
    return {s["metadata"]["name"]: s for s in get(kubectl, namespace, "statefulsets")["items"]}


def pod_uids(kubectl, namespace: str) -> dict[str, str]:
    return {n: p["metadata"]["uid"] for n, p in pods(kubectl, namespace).items()}


def adopt(adopting: list[Operator], kubeconfig: Path, namespace: str, log: Path) -> None:
    """Start the operator that takes the replayed cluster over."""
    adopting.append(start_operator(kubeconfig, namespace, log, "--no-leader-elect"))


def members(status: dict) -> dict[str, dict]:
    return {m["pod"]: m for r in status["roles"] for m in r["members"]}


@pytest.mark.parametrize("case", ["A", "B", "C"])
def test_adopts_without_restarts_then_scales(
    case, local_cluster, kubectl, namespace, adopting, tmp_path
):
    replayed = replay(kubectl, case, namespace)
    name = next(iter(get(kubectl, namespace, "kubedirectorclusters")["items"]))["metadata"]["name"]
    before_pods = pod_uids(kubectl, namespace)
    before_sts = statefulsets(kubectl, namespace)

    adopt(adopting, local_cluster.kubeconfig, namespace, tmp_path / "operator.log")
    status = wait_ready(kubectl, namespace, name)["status"]

    # Pods, templates and setup as the original left them; status continued.
    assert pod_uids(kubectl, namespace) == before_pods
    after_sts = statefulsets(kubectl, namespace)
    for sts_name, sts in before_sts.items():
        assert after_sts[sts_name]["spec"] == sts["spec"], sts_name
        assert after_sts[sts_name]["metadata"]["generation"] == sts["metadata"]["generation"]
        assert after_sts[sts_name]["metadata"]["annotations"][ANNOTATION_ADOPTED] == "true"
    for pod in before_pods:
        assert startscript_calls(kubectl, namespace, pod) == [], pod
    assert status["clusterService"] == replayed["clusterService"]
    assert status["lastNodeID"] == replayed["lastNodeID"]
    for pod, member in members(replayed).items():
        now = members(status)[pod]
        assert (now["state"], now["nodeID"], now["service"]) == (
            "configured",
            member["nodeID"],
            member["service"],
        )
        assert (
            now["stateDetail"]["lastConfiguredContainer"]
            == (member["stateDetail"]["lastConfiguredContainer"])
        )

    # Scale the workers up: only replicas change; the new member is set up in full.
    workers = next(r for r in replayed["roles"] if r["id"] == "worker")
    sts_name = workers["statefulSet"]
    set_workers(kubectl, namespace, name, len(workers["members"]) + 1)
    new_pod = f"{sts_name}-{len(workers['members'])}"

    def new_member_configured() -> dict | None:
        st = get(kubectl, namespace, f"kdcluster/{name}")["status"]
        member = members(st).get(new_pod)
        return st if member and member["state"] == "configured" else None

    status = wait_until(new_member_configured, 120, f"new member {new_pod} configured")
    assert isinstance(status, dict)
    assert members(status)[new_pod]["nodeID"] == replayed["lastNodeID"] + 1
    assert "--configure" in startscript_calls(kubectl, namespace, new_pod)
    assert has_configcli(kubectl, namespace, new_pod)
    now_sts = statefulsets(kubectl, namespace)[sts_name]
    assert now_sts["spec"]["replicas"] == len(workers["members"]) + 1
    assert now_sts["spec"]["template"] == before_sts[sts_name]["spec"]["template"]
    now_pods = pods(kubectl, namespace)
    for pod, uid in before_pods.items():
        assert now_pods[pod]["metadata"]["uid"] == uid, pod
        assert not any(
            c.startswith("--configure") for c in startscript_calls(kubectl, namespace, pod)
        ), pod


def test_opt_in_migration_rolls_to_this_operators_template(
    local_cluster, kubectl, namespace, adopting, tmp_path
):
    """Case A: the worker role has storage, so its template differs from ours (the
    storage-init script's leading clause, docs/reference.md#member-pods) and rolls once
    the user opts in; the roles whose template is already ours are not touched, so
    their pods are not restarted for nothing."""
    replay(kubectl, "A", namespace)
    name = "spark-a"
    before_pods = pod_uids(kubectl, namespace)
    before_sts = statefulsets(kubectl, namespace)
    differs = {
        n for n, s in before_sts.items() if s["spec"]["template"]["spec"].get("initContainers")
    }
    assert differs and differs != set(before_sts), "case A: one role with storage, others not"
    adopt(adopting, local_cluster.kubeconfig, namespace, tmp_path / "operator.log")
    wait_ready(kubectl, namespace, name)
    kubectl("annotate", "kdcluster", name, "-n", namespace, f"{ANNOTATION_MIGRATE}=true")

    def owner(pod: str) -> str:
        return pod.rsplit("-", 1)[0]

    def rolled() -> bool:
        now = statefulsets(kubectl, namespace)
        current = pods(kubectl, namespace)
        return all(
            now[n]["spec"]["template"] != before_sts[n]["spec"]["template"]
            and now[n]["status"].get("updatedReplicas") == before_sts[n]["spec"]["replicas"]
            for n in differs
        ) and all(
            current.get(p, {}).get("metadata", {}).get("uid") not in (None, uid)
            for p, uid in before_pods.items()
            if owner(p) in differs
        )

    wait_until(rolled, 180, "the adopted StatefulSet whose template differs rolled to ours")
    status = wait_ready(kubectl, namespace, name, timeout=120)["status"]
    assert all(m["state"] == "configured" for m in members(status).values())
    now_sts, now_pods = statefulsets(kubectl, namespace), pods(kubectl, namespace)
    for n in set(before_sts) - differs:
        assert now_sts[n]["spec"]["template"] == before_sts[n]["spec"]["template"], n
    for p, uid in before_pods.items():
        if owner(p) not in differs:
            assert now_pods[p]["metadata"]["uid"] == uid, f"{p} restarted for nothing"
