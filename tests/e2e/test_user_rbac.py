"""Users' RBAC: manifests/base/rbac-users.yaml aggregates into the built-in `admin`, `edit`
and `view` ClusterRoles.  Real users (client certificates the cluster signs) bound to those
built-in roles in one namespace send real requests: what their role allows succeeds, the
rest is refused with 403 (Forbidden)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, LocalCluster
from tests.e2e.support.kdcluster import one_controller_cluster
from tests.e2e.support.operator import wait_until
from tests.e2e.support.users import run_as, user_kubeconfig

USER_ROLES = REPO / "manifests" / "base" / "rbac-users.yaml"
APP = REPO / "manifests" / "catalog" / "spark221e2.yaml"
CLUSTERS = "/apis/kubedirector.hpe.com/v1beta1/namespaces/{ns}/kubedirectorclusters"
APPS = "/apis/kubedirector.hpe.com/v1beta1/namespaces/{ns}/kubedirectorapps"


def aggregated_rules(kubectl, role: str) -> list[dict]:
    out = kubectl("get", "clusterrole", role, "-o", "json", check=False)
    return json.loads(out.stdout).get("rules") or [] if out.returncode == 0 else []


@pytest.fixture(scope="module")
def user_roles(kubectl) -> None:
    """The shipped aggregated roles, applied (cluster-wide and idempotent, like the CRDs),
    and merged into admin, edit and view by the controller manager."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(USER_ROLES))
    for builtin in ("admin", "edit", "view"):

        def aggregated(b: str = builtin) -> bool:
            return any(
                "kubedirectorclusters" in r.get("resources", [])
                for r in aggregated_rules(kubectl, b)
            )

        wait_until(
            aggregated,
            60,
            f"{builtin} aggregated",
        )


@pytest.fixture
def other_namespace(kubectl, namespace: str):
    other = f"{namespace}-o"[:63]
    kubectl("create", "namespace", other)
    kubectl("create", "-n", other, "-f", str(APP))
    yield other
    kubectl("delete", "namespace", other, "--wait=false", check=False)


def user_in(
    local_cluster: LocalCluster,
    api_client,
    kubectl,
    namespace: str,
    role: str | None,
    tmp_path: Path,
) -> Path:
    """A fresh user holding the built-in `role` in `namespace` (None: no binding at all)."""
    user = f"{role or 'nobody'}-{namespace}"
    if role:
        kubectl(
            "create",
            "rolebinding",
            f"{role}-user",
            "-n",
            namespace,
            f"--clusterrole={role}",
            f"--user={user}",
        )
    return user_kubeconfig(api_client, local_cluster.kubeconfig, user, tmp_path / f"{user}.kc")


def assert_allowed(result, what: str) -> None:
    assert result.returncode == 0, f"{what}: {result.stderr}"


def assert_forbidden(result, what: str) -> None:
    assert result.returncode != 0, f"{what} was allowed"
    assert "forbidden" in result.stderr.lower(), f"{what}: {result.stderr}"


@pytest.mark.parametrize("role", ["edit", "admin"])
def test_editors_manage_clusters_and_read_apps(
    local_cluster, api_client, kubectl, namespace, other_namespace, user_roles, role, tmp_path
):
    kubectl("create", "-n", namespace, "-f", str(APP))
    me = user_in(local_cluster, api_client, kubectl, namespace, role, tmp_path)

    def run(*args: str, input: str | None = None):
        return run_as(local_cluster.kubectl_path, me, *args, input=input)

    ns = ("-n", namespace)
    assert_allowed(
        run("create", *ns, "-f", "-", input=one_controller_cluster("mine")), "create kdcluster"
    )
    assert_allowed(run("get", *ns, "kdcluster", "mine"), "get kdcluster")
    assert_allowed(run("get", *ns, "kdcluster"), "list kdclusters")
    assert_allowed(
        run("get", "--raw", CLUSTERS.format(ns=namespace) + "?watch=1&timeoutSeconds=1"),
        "watch kdclusters",
    )
    assert_allowed(run("label", *ns, "kdcluster", "mine", "team=a"), "patch kdcluster")
    assert_allowed(run("get", *ns, "kdapp", "spark221e2"), "get kdapp")
    assert_allowed(run("get", *ns, "kdapp"), "list kdapps")
    assert_allowed(
        run("get", "--raw", APPS.format(ns=namespace) + "?watch=1&timeoutSeconds=1"), "watch kdapps"
    )

    assert_forbidden(
        run(
            "patch",
            *ns,
            "kdcluster",
            "mine",
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"state":"configured"}}',
        ),
        "patch kdcluster status",
    )
    app = yaml.safe_load(APP.read_text())
    app["metadata"]["name"] = "my-app"
    assert_forbidden(run("create", *ns, "-f", "-", input=json.dumps(app)), "create kdapp")
    assert_forbidden(run("label", *ns, "kdapp", "spark221e2", "team=a"), "patch kdapp")
    assert_forbidden(run("delete", *ns, "kdapp", "spark221e2"), "delete kdapp")
    assert_forbidden(run("get", *ns, "kdconfig"), "list kdconfigs")
    assert_forbidden(
        run("create", "-n", other_namespace, "-f", "-", input=one_controller_cluster("there")),
        "create kdcluster in another namespace",
    )
    assert_forbidden(run("get", "-n", other_namespace, "kdapp"), "list kdapps elsewhere")
    assert_forbidden(run("get", "kdcluster", "--all-namespaces"), "list kdclusters everywhere")
    assert_allowed(run("delete", *ns, "kdcluster", "mine", "--wait=false"), "delete kdcluster")


def test_viewers_read_clusters_and_apps(
    local_cluster, api_client, kubectl, namespace, other_namespace, user_roles, tmp_path
):
    kubectl("create", "-n", namespace, "-f", str(APP))
    kubectl("create", "-n", namespace, "-f", "-", input=one_controller_cluster("theirs"))
    me = user_in(local_cluster, api_client, kubectl, namespace, "view", tmp_path)

    def run(*args: str, input: str | None = None):
        return run_as(local_cluster.kubectl_path, me, *args, input=input)

    ns = ("-n", namespace)
    assert_allowed(run("get", *ns, "kdcluster", "theirs"), "get kdcluster")
    assert_allowed(run("get", *ns, "kdcluster"), "list kdclusters")
    assert_allowed(
        run("get", "--raw", CLUSTERS.format(ns=namespace) + "?watch=1&timeoutSeconds=1"),
        "watch kdclusters",
    )
    assert_allowed(run("get", *ns, "kdapp", "spark221e2"), "get kdapp")
    assert_allowed(run("get", *ns, "kdapp"), "list kdapps")

    assert_forbidden(
        run("create", *ns, "-f", "-", input=one_controller_cluster("mine")), "create kdcluster"
    )
    assert_forbidden(run("label", *ns, "kdcluster", "theirs", "team=a"), "patch kdcluster")
    assert_forbidden(run("delete", *ns, "kdcluster", "theirs"), "delete kdcluster")
    assert_forbidden(run("delete", *ns, "kdapp", "spark221e2"), "delete kdapp")
    assert_forbidden(run("get", "-n", other_namespace, "kdcluster"), "list kdclusters elsewhere")


def test_a_user_without_a_role_reads_nothing(
    local_cluster, api_client, kubectl, namespace, user_roles, tmp_path
):
    kubectl("create", "-n", namespace, "-f", str(APP))
    me = user_in(local_cluster, api_client, kubectl, namespace, None, tmp_path)
    for args in (("get", "kdcluster"), ("get", "kdapp"), ("create", "-f", "-")):
        result = run_as(
            local_cluster.kubectl_path,
            me,
            "-n",
            namespace,
            *args,
            input=one_controller_cluster("x"),
        )
        assert_forbidden(result, " ".join(args))
