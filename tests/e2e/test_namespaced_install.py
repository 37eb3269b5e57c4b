"""The namespace-scoped install (manifests/overlays/namespaced): its RBAC, rendered by
kustomize and moved to test namespaces, lets the operator's ServiceAccount (a TokenRequest
token) work in the watched namespaces and its own, and nowhere else (403); the operator
runs a cluster to Ready with only that."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, LocalCluster
from tests.e2e.support.kdcluster import apply_list, wait_ready
from tests.e2e.support.operator import start_operator, wait_until
from tests.e2e.support.users import run_as, sa_token, token_kubeconfig
from tests.e2e.support.webhook import delete_surely

OVERLAY = REPO / "manifests" / "overlays" / "namespaced"
CATALOG = REPO / "manifests" / "catalog"
RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
USER_ROLES = {"kubedirector-edit", "kubedirector-view"}  # for people: test_user_rbac.py


@dataclass(frozen=True)
class Install:
    own: str
    watched: tuple[str, str]
    outside: str
    kubeconfig: Path


def moved(docs: list[dict], names: dict[str, str], suffix: str) -> list[dict]:
    """The overlay's RBAC with its namespaces renamed by `names` and cluster-scoped names
    made unique by `suffix`."""
    out = []
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] not in RBAC_KINDS or meta["name"] in USER_ROLES:
            continue
        if "namespace" in meta:
            meta["namespace"] = names[meta["namespace"]]
        else:
            meta["name"] += suffix
        ref = doc.get("roleRef")
        if ref and ref["kind"] == "ClusterRole":
            ref["name"] += suffix
        for subject in doc.get("subjects", []):
            subject["namespace"] = names[subject["namespace"]]
        out.append(doc)
    return out


@pytest.fixture
def install(
    local_cluster: LocalCluster, kubectl, api_client, namespace: str, tmp_path: Path
) -> Iterator[Install]:
    a, b, outside = (f"{namespace}-{s}"[:63] for s in ("a", "b", "x"))
    for ns in (a, b, outside):
        kubectl("create", "namespace", ns)
    suffix = f"-{namespace}"[:40]
    rendered = list(yaml.safe_load_all(kubectl("kustomize", str(OVERLAY)).stdout))
    docs = moved(
        [d for d in rendered if d], {"kubedirector": namespace, "team-a": a, "team-b": b}, suffix
    )
    cluster_scoped = [
        (d["kind"].lower(), d["metadata"]["name"]) for d in docs if "namespace" not in d["metadata"]
    ]
    try:
        apply_list(kubectl, docs)
        token = sa_token(api_client, namespace, "kubedirector")
        yield Install(
            namespace,
            (a, b),
            outside,
            token_kubeconfig(local_cluster.kubeconfig, token, tmp_path / "op.kc"),
        )
    finally:
        for kind, name in cluster_scoped:
            delete_surely(kubectl, kind, name)
        for ns in (a, b, outside):
            kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_the_overlay_keeps_cluster_wide_only_what_must_be(kubectl):
    rendered = [d for d in yaml.safe_load_all(kubectl("kustomize", str(OVERLAY)).stdout) if d]
    bindings = {
        d["metadata"]["name"]: d["roleRef"]["name"]
        for d in rendered
        if d["kind"] == "ClusterRoleBinding"
    }
    assert bindings == {
        "kubedirector-cluster": "kubedirector-cluster",
        "kubedirector-metrics-auth": "kubedirector-metrics-auth",
    }
    cluster_role = next(
        d
        for d in rendered
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kubedirector-cluster"
    )
    assert {r for rule in cluster_role["rules"] for r in rule["resources"]} == {
        "storageclasses",
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
    }
    args = next(d for d in rendered if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert "--watch-namespace=team-a,team-b" in args
    watched = {
        d["metadata"]["namespace"]
        for d in rendered
        if d["kind"] == "RoleBinding"
        and d["roleRef"]
        == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubedirector"}
    }
    assert watched == {"kubedirector", "team-a", "team-b"}
    for config in (d for d in rendered if d["kind"].endswith("WebhookConfiguration")):
        for hook in config["webhooks"]:
            values = hook["namespaceSelector"]["matchExpressions"][0]["values"]
            assert sorted(values) == ["kubedirector", "team-a", "team-b"], hook["name"]


def test_the_operator_works_in_its_namespaces_and_is_refused_elsewhere(
    local_cluster, kubectl, install
):
    def op(*args: str, input: str | None = None):
        return run_as(local_cluster.kubectl_path, install.kubeconfig, *args, input=input)

    a, b = install.watched
    kubectl("create", "configmap", "probe", "-n", install.outside, "--from-literal=a=b")
    args: tuple[str, ...]
    for args in (
        ("get", "kdcluster", "-n", a),
        ("get", "pods,services,pvc,statefulsets", "-n", b),
        ("get", "kdapp,kdconfig", "-n", install.own),
        ("get", "configmaps,secrets", "-n", a),
        ("get", "storageclasses"),
        ("create", "service", "clusterip", "probe", "--tcp=80:80", "-n", b),
    ):
        result = op(*args)
        assert result.returncode == 0, (args, result.stderr)
    for args in (
        ("get", "kdcluster", "--all-namespaces"),
        ("get", "kdapp", "--all-namespaces"),
        ("get", "secrets", "--all-namespaces"),
        ("get", "kdcluster", "-n", install.outside),
        ("get", "pods", "-n", install.outside),
        ("get", "secrets", "-n", install.outside),
        ("get", "configmap", "probe", "-n", install.outside),
        ("create", "service", "clusterip", "probe", "--tcp=80:80", "-n", install.outside),
        ("delete", "pvc", "any", "-n", install.outside),
        ("get", "nodes"),
        ("get", "namespaces"),
    ):
        result = op(*args)
        assert result.returncode != 0 and "forbidden" in result.stderr.lower(), (
            args,
            result.stderr,
        )


def test_the_operator_runs_with_the_namespaced_rbac(kubectl, install, tmp_path):
    a, b = install.watched
    kubectl("create", "-n", install.own, "-f", str(CATALOG / "spark211up.yaml"))
    operator = start_operator(
        install.kubeconfig,
        install.own,
        tmp_path / "operator.log",
        "--watch-namespace",
        f"{a},{b}",
        "--no-leader-elect",
    )
    try:
        wait_until(lambda: operator.get("/readyz")[0] == 200, 60, "operator ready")
        cluster = REPO / "manifests" / "examples" / "clusters" / "cr-cluster-spark211up.yaml"
        kubectl("create", "-n", a, "-f", str(cluster))
        kubectl("create", "-n", install.outside, "-f", str(cluster))
        name = json.loads(kubectl("get", "kdcluster", "-n", a, "-o", "json").stdout)["items"][0][
            "metadata"
        ]["name"]
        wait_ready(kubectl, a, name)
        outside = json.loads(
            kubectl("get", "kdcluster", name, "-n", install.outside, "-o", "json").stdout
        )
        assert "status" not in outside  # not watched: never touched
        kubectl("delete", "kdcluster", name, "-n", a, "--timeout=60s", timeout=90)
        log = operator.log.read_text()
        assert "forbidden" not in log.lower(), log[-3000:]
    finally:
        operator.stop()
        kubectl("delete", "kdcluster", "--all", "-n", install.outside, "--wait=false", check=False)
