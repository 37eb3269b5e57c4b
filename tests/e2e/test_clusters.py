"""Scenarios A and B of acceptance.md against the local control plane, plus drift,
bad specs, crash recovery and "a converged cluster costs no write".

The catalog apps run their setup packages: in the simulated cluster each pod's
guest root holds a stand-in package at the `file://` path the app names
(hack/simkubelet.py), so members really go through `--configure`.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.support.kdcluster import events, set_workers, wait_ready
from tests.e2e.support.operator import start_operator, wait_until

CATALOG = REPO / "manifests" / "catalog"
EXAMPLES = REPO / "manifests" / "examples"
COMPAT = REPO / "tests" / "compat" / "upstream-v0.11"


def load(path: Path) -> dict:
    return (
        json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    )


@pytest.fixture
def catalog(kubectl, namespace: str) -> None:
    """The example catalog and config, in the test namespace (the operator's own here)."""
    for name in ("spark221e2.yaml", "spark211up.yaml", "cassandra311.json"):
        kubectl("apply", "-n", namespace, "-f", str(CATALOG / name))
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "config" / "kd-global-config.yaml"))


def cluster(kubectl, namespace: str, name: str) -> dict:
    return json.loads(kubectl("get", "kdcluster", name, "-n", namespace, "-o", "json").stdout)


def items(kubectl, namespace: str, kind: str, selector: str) -> list[dict]:
    return json.loads(kubectl("get", kind, "-n", namespace, "-l", selector, "-o", "json").stdout)[
        "items"
    ]


def ports_by_pod(kubectl, namespace: str, cluster_name: str) -> dict[str, list[int]]:
    services = items(
        kubectl, namespace, "services", f"kubedirector.hpe.com/kdcluster={cluster_name}"
    )
    return {
        s["metadata"]["name"]: sorted(p["port"] for p in s["spec"].get("ports", []))
        for s in services
        if s["spec"].get("clusterIP") != "None"
    }


def member_pods(status: dict, role: str) -> list[str]:
    return [m["pod"] for r in status["status"]["roles"] if r["id"] == role for m in r["members"]]


def uids(kubectl, namespace: str, selector: str) -> dict[str, str]:
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in items(kubectl, namespace, "pods", selector)
    }


SPARK = "kubedirector.hpe.com/kdcluster=spark221e2"
CASSANDRA = "kubedirector.hpe.com/kdcluster=cassandra-instance"


@pytest.mark.usefixtures("catalog")
def test_walkthrough(kubectl, namespace, operator):
    """Scenario A, steps 2-7."""
    apps = kubectl("get", "kdapp", "-n", namespace).stdout
    for app in ("spark221e2", "spark211up", "cassandra311"):
        assert app in apps

    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    spark = wait_ready(kubectl, namespace, "spark221e2")
    status = spark["status"]
    assert status["state"] == "configured"
    assert status["memberSummary"] == "4/4"
    pods = sorted(p for r in status["roles"] for p in member_pods(spark, r["id"]))
    patterns = [
        r"spark221e2-controller-[a-z0-9]{5}-0",
        r"spark221e2-jupyter-[a-z0-9]{5}-0",
        r"spark221e2-worker-[a-z0-9]{5}-0",
        r"spark221e2-worker-[a-z0-9]{5}-1",
    ]
    assert all(re.fullmatch(p, n) for p, n in zip(patterns, pods, strict=True)), pods
    running = items(kubectl, namespace, "pods", SPARK)
    assert sorted(p["metadata"]["name"] for p in running) == pods
    assert all(p["status"]["phase"] == "Running" for p in running)
    services = items(kubectl, namespace, "services", SPARK)
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    assert len(headless) == 1 and headless[0]["metadata"]["name"] == status["clusterService"]
    members = [s for s in services if s["spec"].get("clusterIP") != "None"]
    assert {s["spec"]["type"] for s in members} == {"NodePort"}
    expected = {"controller": [22, 7077, 8080, 8081], "worker": [22, 8081], "jupyter": [22, 8888]}
    ports = ports_by_pod(kubectl, namespace, "spark221e2")
    for pod in pods:
        role = pod.split("-")[1]
        assert ports[pod] == expected[role], pod

    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-cassandra311.yaml")
    )
    wait_ready(kubectl, namespace, "cassandra-instance")
    assert cluster(kubectl, namespace, "spark221e2")["status"]["state"] == "configured"
    cassandra_pods = uids(kubectl, namespace, CASSANDRA)

    others = {n: u for n, u in uids(kubectl, namespace, SPARK).items() if "-worker-" not in n}
    for count in (4, 1):
        set_workers(kubectl, namespace, "spark221e2", count)

        def scaled(c: int = count) -> bool:
            return (
                len(member_pods(cluster(kubectl, namespace, "spark221e2"), "worker")) == c
                and cluster(kubectl, namespace, "spark221e2")["status"]["state"] == "configured"
            )

        wait_until(
            scaled,
            90,
            f"{count} configured workers",
        )
        spark = wait_ready(kubectl, namespace, "spark221e2")
        workers = member_pods(spark, "worker")

        def matched(w: list[str] = workers) -> bool:
            return sorted(n for n in uids(kubectl, namespace, SPARK) if "-worker-" in n) == sorted(
                w
            )

        wait_until(
            matched,
            60,
            "worker pods to match the members",
        )
        assert sorted(ports_by_pod(kubectl, namespace, "spark221e2")) == sorted(
            member_pods(spark, "controller") + member_pods(spark, "jupyter") + workers
        )
    node_ids = [m["nodeID"] for r in spark["status"]["roles"] for m in r["members"]]
    assert len(set(node_ids)) == len(node_ids)
    assert spark["status"]["lastNodeID"] >= 6, "node ids are never reused"
    assert {
        n: u for n, u in uids(kubectl, namespace, SPARK).items() if "-worker-" not in n
    } == others, "scaling workers moves nothing else"
    reasons = [e["reason"] for e in events(kubectl, namespace, "involvedObject.name=spark221e2")]
    assert "MemberAdded" in reasons and "MemberRemoved" in reasons

    kubectl("delete", "kdcluster", "spark221e2", "-n", namespace, "--timeout=60s")
    for kind in ("pods", "services", "statefulsets", "pvc"):

        def gone(k: str = kind) -> bool:
            return not items(kubectl, namespace, k, SPARK)

        wait_until(
            gone,
            60,
            f"spark221e2 {kind} to be gone",
        )
    assert uids(kubectl, namespace, CASSANDRA) == cassandra_pods
    assert cluster(kubectl, namespace, "cassandra-instance")["status"]["state"] == "configured"


@pytest.mark.usefixtures("catalog")
def test_converged_cluster_writes_nothing(kubectl, namespace, operator):
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    wait_ready(kubectl, namespace, "spark221e2")
    reconciles = "controller_runtime_reconcile_total"
    wait_until(
        lambda: operator.metric("workqueue_depth", name="kubedirectorcluster") == 0,
        30,
        "an idle queue",
    )
    before_writes = operator.writes()
    before = operator.metric(reconciles, controller="kubedirectorcluster")
    # An annotation is no spec change: it triggers a reconcile that must find nothing to do.
    kubectl("annotate", "kdcluster", "spark221e2", "-n", namespace, "example.com/poke=1")
    wait_until(
        lambda: operator.metric(reconciles, controller="kubedirectorcluster") > before,
        30,
        "a reconcile of the converged cluster",
    )
    wait_until(
        lambda: operator.metric("workqueue_depth", name="kubedirectorcluster") == 0,
        30,
        "an idle queue",
    )
    assert operator.writes() == before_writes


@pytest.mark.usefixtures("catalog")
def test_drift_is_reverted(kubectl, namespace, operator):
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    spark = wait_ready(kubectl, namespace, "spark221e2")
    worker = member_pods(spark, "worker")[0]
    statefulsets = {r["id"]: r["statefulSet"] for r in spark["status"]["roles"]}

    kubectl("delete", "service", worker, "-n", namespace)
    wait_until(
        lambda: kubectl("get", "service", worker, "-n", namespace, check=False).returncode == 0,
        30,
        "the member service to return",
    )

    kubectl(
        "set", "image", f"statefulset/{statefulsets['worker']}", "app=evil/image:1", "-n", namespace
    )
    image = "{.spec.template.spec.containers[0].image}"
    wait_until(
        lambda: (
            kubectl(
                "get",
                "statefulset",
                statefulsets["worker"],
                "-n",
                namespace,
                "-o",
                f"jsonpath={image}",
            ).stdout
            == "bluedata/sparkbase:2.2"
        ),
        30,
        "the image to be restored",
    )

    kubectl("delete", "statefulset", statefulsets["jupyter"], "-n", namespace)
    wait_until(
        lambda: (
            kubectl(
                "get", "statefulset", statefulsets["jupyter"], "-n", namespace, check=False
            ).returncode
            == 0
        ),
        30,
        "the StatefulSet to be re-created under its recorded name",
    )
    wait_ready(kubectl, namespace, "spark221e2")
    assert len(items(kubectl, namespace, "statefulsets", SPARK)) == 3


def condition(status: dict, ctype: str) -> dict:
    return next(c for c in status.get("status", {}).get("conditions", []) if c["type"] == ctype)


@pytest.mark.usefixtures("catalog")
def test_unworkable_spec_is_reported_and_retried(kubectl, namespace, operator):
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-cassandra311.yaml")
    )
    wait_ready(kubectl, namespace, "cassandra-instance")
    spec = load(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    spec["metadata"]["name"] = "needs-app"
    spec["spec"]["app"] = "later"
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(spec))
    degraded = wait_until(
        lambda: (
            condition(cluster(kubectl, namespace, "needs-app"), "Degraded").get("status") == "True"
            and condition(cluster(kubectl, namespace, "needs-app"), "Degraded")
        ),
        30,
        "Degraded",
    )
    assert degraded["reason"] == "InvalidSpec" and "spec.app" in degraded["message"]
    invalid = events(kubectl, namespace, "involvedObject.name=needs-app,reason=InvalidSpec")
    assert any("spec.app" in e["message"] for e in invalid), invalid

    # A role the app does not have, as in upstream's training-engine example.
    bad = json.loads(json.dumps(spec))
    bad["metadata"]["name"] = "bad-role"
    bad["spec"]["app"] = "spark221e2"
    bad["spec"]["roles"][0]["id"] = "driver"
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(bad))
    wait_until(
        lambda: (
            "driver"
            in condition(cluster(kubectl, namespace, "bad-role"), "Degraded").get("message", "")
        ),
        30,
        "Degraded naming the role",
    )
    assert not items(
        kubectl, namespace, "statefulsets", "kubedirector.hpe.com/kdcluster=bad-role"
    ), "nothing half-made"

    app = load(CATALOG / "spark221e2.yaml")
    app["metadata"]["name"] = "later"
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(app))
    ready = wait_ready(kubectl, namespace, "needs-app")
    assert condition(ready, "Degraded")["status"] == "False"
    assert cluster(kubectl, namespace, "cassandra-instance")["status"]["state"] == "configured"


@pytest.mark.usefixtures("catalog")
def test_kill_during_creation_converges_without_duplicates(
    kubectl, namespace, operator, local_cluster, tmp_path
):
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    wait_until(
        lambda: items(kubectl, namespace, "statefulsets", SPARK), 30, "the first StatefulSet"
    )
    operator.proc.send_signal(signal.SIGKILL)
    operator.proc.wait(10)
    again = start_operator(
        local_cluster.kubeconfig, namespace, tmp_path / "again.log", "--no-leader-elect"
    )
    try:
        spark = wait_ready(kubectl, namespace, "spark221e2")
    finally:
        again.stop()
    recorded = {r["statefulSet"] for r in spark["status"]["roles"]}
    assert {
        s["metadata"]["name"] for s in items(kubectl, namespace, "statefulsets", SPARK)
    } == recorded
    services = items(kubectl, namespace, "services", SPARK)
    assert sorted(s["metadata"]["name"] for s in services) == sorted(
        [spark["status"]["clusterService"]]
        + [m["service"] for r in spark["status"]["roles"] for m in r["members"]]
    )


# --------------------------------------------------------------------------- scenario B


def compat_cases() -> list[tuple[str, str]]:
    apps = {
        load(p)["metadata"]["name"]: p.name for p in sorted((COMPAT / "example_catalog").iterdir())
    }
    cases = []
    for path in sorted((COMPAT / "example_clusters").iterdir()):
        if path.name in ("cr-cluster-datafabric610.yaml", "cr-cluster-training-engine.yaml"):
            continue
        cases.append((path.name, apps[load(path)["spec"]["app"]]))
    return cases


UNREACHABLE_PACKAGE = "cr-cluster-cdh5142cm-stor.yaml"


@pytest.mark.parametrize(("cluster_file", "app_file"), compat_cases())
def test_upstream_cluster_reconciles(kubectl, namespace, operator, cluster_file, app_file):
    """Scenario B: apps and clusters as upstream wrote them reach `configured`; the one
    whose setup package is on the internet ends in `config error` naming the URL."""
    kubectl("apply", "-n", namespace, "-f", str(COMPAT / "example_catalog" / app_file))
    if "spark245" in cluster_file:
        kubectl("create", "secret", "generic", "hpecp-ext-auth-secret", "-n", namespace)
    doc = load(COMPAT / "example_clusters" / cluster_file)
    kubectl("apply", "-n", namespace, "-f", str(COMPAT / "example_clusters" / cluster_file))
    name = doc["metadata"]["name"]
    wanted = sum(r.get("members", 1) for r in doc["spec"]["roles"])
    final = "config error" if cluster_file == UNREACHABLE_PACKAGE else "configured"

    def members_settled() -> dict | None:
        status = cluster(kubectl, namespace, name).get("status", {})
        states = [m["state"] for r in status.get("roles", []) for m in r["members"]]
        return status if len(states) == wanted and set(states) == {final} else None

    status = wait_until(members_settled, 120, f"{wanted} members of {name} to be {final}")
    selector = f"kubedirector.hpe.com/kdcluster={name}"
    pods = items(kubectl, namespace, "pods", selector)
    assert len(pods) == wanted
    assert all(p["status"]["phase"] == "Running" for p in pods)
    if final == "config error":
        app = load(COMPAT / "example_catalog" / app_file)
        url = app["spec"]["defaultConfigPackage"]["packageURL"]
        for role in status["roles"]:
            for member in role["members"]:
                assert url in member["stateDetail"]["configErrorDetail"]
    else:
        assert status["state"] == "configured"
    if any(r.get("storage") for r in doc["spec"]["roles"]):
        wait_until(
            lambda: (
                all(
                    c["status"].get("phase") == "Bound"
                    for c in items(kubectl, namespace, "pvc", selector)
                )
                and items(kubectl, namespace, "pvc", selector)
            ),
            60,
            "claims to bind",
        )


@pytest.mark.usefixtures("catalog")
def test_scale_down_deletes_the_removed_members_claims(kubectl, namespace, operator):
    spec = load(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    spec["spec"]["roles"][1]["storage"] = {"size": "1Gi"}
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(spec))
    spark = wait_ready(kubectl, namespace, "spark221e2")
    workers = member_pods(spark, "worker")
    claims = {f"p-{pod}" for pod in workers}
    wait_until(
        lambda: (
            {
                c["metadata"]["name"]
                for c in items(kubectl, namespace, "pvc", SPARK)
                if c["status"].get("phase") == "Bound"
            }
            == claims
        ),
        60,
        "bound claims",
    )
    set_workers(kubectl, namespace, "spark221e2", 1)
    kept = f"p-{sorted(workers)[0]}"
    wait_until(
        lambda: (
            {
                c["metadata"]["name"]
                for c in items(kubectl, namespace, "pvc", SPARK)
                if not c["metadata"].get("deletionTimestamp")
            }
            == {kept}
        ),
        60,
        "only the remaining member's claim",
    )
