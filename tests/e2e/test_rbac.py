"""Scenario E's RBAC part: the manifests' ServiceAccount and roles, with a token from the
TokenRequest API, may do what the operator does and get 403 for what it does not need.

The manifests' objects are installed renamed (ClusterRole and bindings unique to the
test, the namespaced ones in the test namespace), so parallel runs never collide.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubedirector.kube import MERGE_PATCH, new_api_client, request_json, resource_path
from tests.conftest import REPO, LocalCluster
from tests.e2e.support.kdcluster import apply_list, one_controller_cluster, wait_ready
from tests.e2e.support.operator import start_operator, wait_until
from tests.e2e.support.users import sa_token, token_kubeconfig
from tests.e2e.support.webhook import delete_surely

RBAC = REPO / "manifests" / "base"
CATALOG = REPO / "manifests" / "catalog"


def manifests_rbac(namespace: str, unique: str) -> list[dict]:
    """The ServiceAccount, roles and bindings of manifests/base, moved to `namespace`."""
    docs = [
        *yaml.safe_load_all((RBAC / "serviceaccount.yaml").read_text()),
        *yaml.safe_load_all((RBAC / "rbac.yaml").read_text()),
    ]
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            meta["name"] = unique
        else:
            meta["namespace"] = namespace
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] = unique
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
    return docs


@pytest.fixture
def identity(
    local_cluster: LocalCluster, kubectl, namespace: str, api_client, tmp_path: Path
) -> Iterator[Path]:
    """A kubeconfig holding a TokenRequest token of the manifests' ServiceAccount."""
    unique = f"kd-test-{namespace}"[:63]
    docs = manifests_rbac(namespace, unique)
    try:
        apply_list(kubectl, docs)
        yield token_kubeconfig(
            local_cluster.kubeconfig,
            sa_token(api_client, namespace, "kubedirector"),
            tmp_path / "kubedirector.kubeconfig",
        )
    finally:
        delete_surely(kubectl, "clusterrole,clusterrolebinding", unique)


@pytest.fixture
def other_namespace(kubectl, namespace: str) -> Iterator[str]:
    other = f"{namespace}-x"[:63]
    kubectl("create", "namespace", other)
    yield other
    kubectl("delete", "namespace", other, "--wait=false", check=False)


def as_operator(local_cluster: LocalCluster, identity: Path, *args: str, input: str | None = None):
    return subprocess.run(
        [str(local_cluster.kubectl_path), "--kubeconfig", str(identity), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


STATEFULSET = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "rbac-probe"},
    "spec": {
        "replicas": 0,
        "serviceName": "rbac-probe",
        "selector": {"matchLabels": {"app": "rbac-probe"}},
        "template": {
            "metadata": {"labels": {"app": "rbac-probe"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    },
}


def test_service_account_can_do_its_job(
    local_cluster, kubectl, namespace, identity, other_namespace
):
    op = lambda *a, **kw: as_operator(local_cluster, identity, *a, **kw)  # noqa: E731
    kubectl("create", "-n", other_namespace, "-f", str(CATALOG / "spark221e2.yaml"))
    allowed = [
        op("get", "kdcluster", "--all-namespaces"),
        op("get", "kdapp,kdconfig", "--all-namespaces"),
        op("get", "pods,services,pvc,statefulsets,configmaps", "-n", other_namespace),
        op("create", "-n", other_namespace, "-f", "-", input=json.dumps(STATEFULSET)),
        op("delete", "statefulset", "rbac-probe", "-n", other_namespace),
        op("create", "-n", other_namespace, "service", "clusterip", "rbac-probe", "--tcp=80:80"),
        op(
            "create",
            "-n",
            namespace,
            "secret",
            "generic",
            "kubedirector-webhook-cert",
            "--from-literal=a=b",
        ),
        op(
            "replace",
            "-f",
            "-",
            input=op(
                "get", "-n", namespace, "secret", "kubedirector-webhook-cert", "-o", "json"
            ).stdout,
        ),
        op("get", "storageclasses"),
    ]
    for result in allowed:
        assert result.returncode == 0, f"{result.args[3:]}: {result.stderr}"
    kubectl("create", "-n", other_namespace, "-f", "-", input=one_controller_cluster("probe"))
    api = new_api_client(str(identity))  # a bare PATCH, as the operator sends it
    try:
        patched = request_json(
            api,
            "PATCH",
            resource_path(
                "kubedirector.hpe.com",
                "v1beta1",
                "kubedirectorclusters",
                namespace=other_namespace,
                name="probe",
                subresource="status",
            ),
            body={"status": {"state": "creating"}},
            content_type=MERGE_PATCH,
        )
    finally:
        api.close()
    assert patched["status"]["state"] == "creating"
    for verb_resource in (
        "patch validatingwebhookconfigurations/kubedirector-webhook",
        "patch mutatingwebhookconfigurations/kubedirector-webhook",
        "create pods --subresource=exec",
        "delete pods",  # restarting an unresponsive member (unresponsivePolicy)
        "create events",
        "list poddisruptionbudgets.policy",
        "watch poddisruptionbudgets.policy",
        "create poddisruptionbudgets.policy",
        "patch poddisruptionbudgets.policy",
        "delete poddisruptionbudgets.policy",
        # admission's live checks and the generated master key (docs/rbac.md)
        "get secrets/any",
        "get serviceaccounts/any",
        "get persistentvolumeclaims/any",
        "create subjectaccessreviews.authorization.k8s.io",
        "patch kubedirectorconfigs.kubedirector.hpe.com/kd-global-config",
    ):
        out = op("auth", "can-i", *verb_resource.split(), "-n", other_namespace)
        assert out.stdout.strip() == "yes", verb_resource


# Named deletes: RBAC is checked before existence (a `--all` would list first and
# find nothing to delete).
FORBIDDEN = [
    ("delete", "node", "any-node"),
    ("create", "clusterrolebinding", "escalate", "--clusterrole=cluster-admin", "--user=someone"),
    ("create", "namespace", "not-mine"),
    ("delete", "customresourcedefinition", "kubedirectorapps.kubedirector.hpe.com"),
    ("create", "deployment", "d", "--image=busybox"),
    ("run", "pod", "--image=busybox"),
    ("delete", "kdapp", "spark221e2"),
    ("create", "secret", "generic", "elsewhere", "--from-literal=a=b"),
    ("delete", "secret", "any-secret"),
    ("create", "configmap", "cm", "--from-literal=a=b"),
]


def test_service_account_refused_what_it_does_not_need(local_cluster, identity, other_namespace):
    for args in FORBIDDEN:
        out = as_operator(local_cluster, identity, "-n", other_namespace, *args)
        assert out.returncode != 0 and "forbidden" in out.stderr.lower(), (args, out.stderr)
    for verb_resource in (
        "patch validatingwebhookconfigurations/someone-elses",
        "get leases/someone-elses",
        "update secrets/someone-elses",
    ):
        out = as_operator(local_cluster, identity, "auth", "can-i", *verb_resource.split())
        assert out.stdout.strip() == "no", verb_resource


def test_walkthrough_with_the_service_account(
    local_cluster, kubectl, namespace, identity, tmp_path
):
    """The operator itself, run with only the manifests' RBAC, brings a catalog cluster to
    Ready (its setup package runs in every member through pods/exec; leader election
    included) and deletes it through its finalizer."""
    kubectl("create", "-n", namespace, "-f", str(CATALOG / "spark211up.yaml"))
    operator = start_operator(
        identity,
        namespace,
        tmp_path / "operator.log",
        "--leader-election-id",
        "kubedirector-leader",
    )
    try:
        kubectl(
            "create",
            "-n",
            namespace,
            "-f",
            str(REPO / "manifests" / "examples" / "clusters" / "cr-cluster-spark211up.yaml"),
        )
        name = json.loads(kubectl("get", "kdcluster", "-n", namespace, "-o", "json").stdout)[
            "items"
        ][0]["metadata"]["name"]
        status = wait_ready(kubectl, namespace, name)["status"]
        for role in status["roles"]:
            for member in role["members"]:
                assert member["stateDetail"]["lastSetupGeneration"] >= 1, member["pod"]
        kubectl("delete", "kdcluster", name, "-n", namespace, "--timeout=60s", timeout=90)
        wait_until(
            lambda: (
                not kubectl("get", "statefulsets", "-n", namespace, "-o", "name").stdout.strip()
            ),
            60,
            "statefulsets gone",
        )
        log = operator.log.read_text()
        assert "forbidden" not in log.lower(), log[-3000:]
    finally:
        operator.stop()
