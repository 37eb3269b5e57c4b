"""Per-role PodDisruptionBudgets follow the cluster's roles (create, update, restore, delete)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.support.operator import wait_until
from tests.e2e.test_clusters import (
    EXAMPLES,
    SPARK,
    catalog,  # noqa: F401 - the fixture
    cluster,
    items,
    load,
    wait_ready,
)


def budgets(kubectl, namespace: str) -> dict[str, dict]:
    """The spark cluster's budgets by role."""
    return {
        p["metadata"]["labels"]["kubedirector.hpe.com/role"]: p
        for p in items(kubectl, namespace, "poddisruptionbudgets", SPARK)
    }


def patch(kubectl, namespace: str, ops: list[dict]) -> None:
    kubectl(
        "patch", "kdcluster", "spark221e2", "-n", namespace, "--type=json", "-p", json.dumps(ops)
    )


def max_unavailable(kubectl, namespace: str) -> dict[str, int | str]:
    return {r: p["spec"]["maxUnavailable"] for r, p in budgets(kubectl, namespace).items()}


@pytest.mark.usefixtures("catalog")
def test_disruption_budgets_follow_the_roles(kubectl, namespace, operator):
    spec = load(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    spec["spec"]["roles"][1]["members"] = 3
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(spec))
    spark = wait_ready(kubectl, namespace, "spark221e2")
    statefulsets = {r["id"]: r["statefulSet"] for r in spark["status"]["roles"]}

    # Three workers: a budget of one; the one-member roles get none.
    wait_until(lambda: max_unavailable(kubectl, namespace) == {"worker": 1}, 30, "worker budget")
    worker = budgets(kubectl, namespace)["worker"]
    assert worker["metadata"]["name"] == statefulsets["worker"]
    (owner,) = worker["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("KubeDirectorCluster", spark["metadata"]["uid"])
    assert worker["spec"]["selector"]["matchLabels"] == {
        "kubedirector.hpe.com/kdcluster": "spark221e2",
        "kubedirector.hpe.com/role": "worker",
    }
    # The disruption controller counts the role's pods: the selector matches them.
    wait_until(
        lambda: (
            (budgets(kubectl, namespace)["worker"].get("status") or {}).get("expectedPods") == 3
        ),
        60,
        "the disruption controller to see three worker pods",
    )

    # A configured value is respected, and a one-member role gets a budget when asked.
    patch(
        kubectl,
        namespace,
        [
            {"op": "test", "path": "/spec/roles/1/id", "value": "worker"},
            {"op": "add", "path": "/spec/roles/1/disruptionBudget", "value": {"maxUnavailable": 2}},
            {"op": "add", "path": "/spec/roles/0/disruptionBudget", "value": {}},
        ],
    )
    wait_until(
        lambda: max_unavailable(kubectl, namespace) == {"worker": 2, "controller": 1},
        30,
        "the configured budgets",
    )

    # A deleted budget is restored.
    kubectl("delete", "pdb", statefulsets["worker"], "-n", namespace)
    wait_until(
        lambda: max_unavailable(kubectl, namespace).get("worker") == 2, 30, "the budget back"
    )

    # Down to one worker (the default again): its budget goes; disabled: the controller's too.
    patch(
        kubectl,
        namespace,
        [
            {"op": "remove", "path": "/spec/roles/1/disruptionBudget"},
            {"op": "replace", "path": "/spec/roles/1/members", "value": 1},
            {
                "op": "replace",
                "path": "/spec/roles/0/disruptionBudget",
                "value": {"enabled": False},
            },
        ],
    )
    wait_until(lambda: budgets(kubectl, namespace) == {}, 30, "the budgets to be deleted")
    wait_ready(kubectl, namespace, "spark221e2")
    assert cluster(kubectl, namespace, "spark221e2")["status"]["memberSummary"] == "3/3"
