"""Objects stay manageable and status never lies (issue 9): a re-created StatefulSet
scales and updates like any other, and a derived object the API server refuses
(admitted because no webhook runs here) shows as `Degraded`/`ReconcileFailing`
with one aggregated Event, not one per retry."""

from __future__ import annotations

import json

import pytest

from tests.e2e.support import kdcluster
from tests.e2e.support.operator import wait_until
from tests.e2e.test_clusters import (  # noqa: F401  (catalog is a fixture)
    EXAMPLES,
    SPARK,
    catalog,
    cluster,
    condition,
    items,
    load,
)

PERSISTENT = 3  # kubedirector.reconcilers.cluster.failures.PERSISTENT


def wait_ready(kubectl, namespace: str, name: str, timeout: int = 120) -> dict:
    """Ready for the latest spec: the condition's observedGeneration is the cluster's."""
    found = kdcluster.wait_ready(kubectl, namespace, name, timeout)
    assert found["status"]["observedGeneration"] == found["metadata"]["generation"]
    return found


def statefulset(kubectl, namespace: str, name: str) -> dict:
    return json.loads(kubectl("get", "statefulset", name, "-n", namespace, "-o", "json").stdout)


@pytest.mark.usefixtures("catalog")
def test_recreated_statefulset_scales_and_updates(kubectl, namespace, operator):
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    spark = wait_ready(kubectl, namespace, "spark221e2")
    worker = next(r["statefulSet"] for r in spark["status"]["roles"] if r["id"] == "worker")
    old_uid = statefulset(kubectl, namespace, worker)["metadata"]["uid"]

    kubectl("delete", "statefulset", worker, "-n", namespace)
    wait_until(
        lambda: (
            json.loads(
                kubectl(
                    "get", "statefulset", worker, "-n", namespace, "-o", "json", check=False
                ).stdout
                or "{}"
            )
            .get("metadata", {})
            .get("uid")
            not in (None, old_uid)
        ),
        30,
        "the StatefulSet to be re-created under its recorded name",
    )
    wait_until(
        lambda: (
            condition(cluster(kubectl, namespace, "spark221e2"), "Ready").get("status") == "True"
        ),
        120,
        "Ready again",
    )

    for members in (4, 1):
        kdcluster.set_workers(kubectl, namespace, "spark221e2", members)
        spark = wait_ready(kubectl, namespace, "spark221e2")
        assert statefulset(kubectl, namespace, worker)["spec"]["replicas"] == members
        workers = [m for r in spark["status"]["roles"] if r["id"] == "worker" for m in r["members"]]
        assert len(workers) == members
        assert {m["state"] for m in workers} == {"configured"}
        assert condition(spark, "Degraded")["status"] == "False"
        assert condition(spark, "Progressing")["status"] == "False"

    env_var = {"name": "KD_TEST", "value": "template-changed"}
    ops = [{"op": "add", "path": "/spec/roles/1/env", "value": [env_var]}]
    kdcluster.patch(kubectl, namespace, "kdcluster/spark221e2", ops, patch_type="json")
    wait_ready(kubectl, namespace, "spark221e2", timeout=180)
    env = statefulset(kubectl, namespace, worker)["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert {"name": "KD_TEST", "value": "template-changed"} in env
    pods = [
        p
        for p in items(kubectl, namespace, "pods", SPARK)
        if p["metadata"]["name"].startswith(worker)
    ]
    assert pods and all(
        {"name": "KD_TEST", "value": "template-changed"}
        in p["spec"]["containers"][0].get("env", [])
        for p in pods
    ), "Ready only once the pods run the new template"


REFUSED = {
    "fractional-gpu": (
        lambda role: role["resources"].setdefault("limits", {}).update({"nvidia.com/gpu": "0.5"}),
        "must be an integer",
    ),
    "env-name-with-equals": (lambda role: role.update(env=[{"name": "A=B", "value": "1"}]), "A=B"),
}


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_derived_object_is_reported(kubectl, namespace, operator, case):
    edit, answer = REFUSED[case]
    # A JSON round trip unshares the roles' `resources` (one YAML anchor).
    spec = json.loads(json.dumps(load(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")))
    edit(spec["spec"]["roles"][1])
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(spec))

    def degraded() -> dict | None:
        conditions = (
            cluster(kubectl, namespace, "spark221e2").get("status", {}).get("conditions", [])
        )
        return next(
            (
                c
                for c in conditions
                if c["reason"] == "ReconcileFailing" and c["type"] == "Degraded"
            ),
            None,
        )

    found = wait_until(degraded, 60, "Degraded/ReconcileFailing")
    assert found["status"] == "True"
    assert (
        "StatefulSet" in found["message"] and f"{namespace}/spark221e2-worker" in found["message"]
    ), found["message"]
    assert answer in found["message"], found["message"]
    status = cluster(kubectl, namespace, "spark221e2")
    assert status["status"]["state"] == "creating"
    assert condition(status, "Ready")["status"] == "False"
    assert condition(status, "Progressing")["status"] == "True"

    selector = "involvedObject.name=spark221e2,reason=ReconcileError"
    refused = wait_until(
        lambda: [
            e
            for e in kdcluster.events(kubectl, namespace, selector)
            if answer in e["message"] and e.get("count", 1) >= PERSISTENT + 2
        ],
        60,
        "retries to be counted on one Event",
    )
    assert len(refused) == 1, [e["message"] for e in refused]
    assert len(kdcluster.events(kubectl, namespace, selector)) <= 3, (
        "aggregated, not one Event per retry"
    )

    # Client-side apply removes the field the last apply set: the spec is workable again.
    kubectl(
        "apply", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    ready = wait_ready(kubectl, namespace, "spark221e2")
    assert condition(ready, "Degraded")["reason"] == "AsExpected"
