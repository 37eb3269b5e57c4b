"""`kubectl kd scale` and `kubectl kd status` against the local cluster, run through
kubectl's plugin mechanism (the venv's `kubectl-kd` on PATH), with an operator
reconciling what they change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubedirector.clientconfig import CommandError
from kubedirector.cmd_scale import patch_cluster, scale_patch
from kubedirector.kube import new_api_client
from tests.e2e.support.kdcluster import patch
from tests.e2e.support.operator import wait_until
from tests.e2e.support.webhook import webhook_in_namespace
from tests.e2e.test_clusters import (
    CATALOG,
    EXAMPLES,
    catalog,  # noqa: F401 - the fixture
    cluster,
    member_pods,
    wait_ready,
)

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def kd(local_cluster, kubectl, namespace, tmp_path):
    """Run `kubectl kd ...` as a user would: KUBECONFIG set, its context's namespace the
    test's, the venv's bin directory on PATH."""
    plugin = VENV_BIN / "kubectl-kd"
    assert plugin.exists(), f"{plugin} is missing: `make setup` installs the console scripts"
    config = tmp_path / "kubeconfig"
    shutil.copy(local_cluster.kubeconfig, config)
    kubectl(
        "config",
        "set-context",
        "--current",
        f"--namespace={namespace}",
        "--kubeconfig",
        str(config),
    )
    env = {
        **os.environ,
        "KUBECONFIG": str(config),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(local_cluster.kubectl_path), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def member_rows(report: str) -> list[list[str]]:
    """The table's member rows, split into cells."""
    return [
        line.split()
        for line in report.splitlines()
        if line.split()[:1] in (["controller"], ["worker"], ["jupyter"])
    ]


def expected_rows(spark: dict) -> list[list[str]]:
    return [
        [r["id"], m["pod"], str(m["nodeID"]), "configured"]
        for r in spark["status"]["roles"]
        for m in r["members"]
    ]


def workers_configured(kubectl, namespace: str, count: int) -> bool:
    spark = cluster(kubectl, namespace, "spark221e2")
    states = [
        m["state"]
        for r in spark["status"].get("roles", [])
        if r["id"] == "worker"
        for m in r["members"]
    ]
    return states == ["configured"] * count


@pytest.mark.usefixtures("catalog")
def test_scale_and_status_through_kubectl(kd, kubectl, namespace, operator, local_cluster):
    listed = kd("plugin", "list")
    assert str(VENV_BIN / "kubectl-kd") in listed.stdout, listed.stdout + listed.stderr
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    spark = wait_ready(kubectl, namespace, "spark221e2")

    status = kd("kd", "status", "spark221e2")  # the namespace comes from the context
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == "kdcluster/spark221e2 (app spark221e2)  state: configured  members: 4/4"
    assert "Ready=True" in lines[1]
    assert member_rows(status.stdout) == expected_rows(spark)

    scaled = kd("kd", "scale", "spark221e2", "worker", "3")
    assert scaled.returncode == 0, scaled.stderr
    assert scaled.stdout.strip() == "kdcluster/spark221e2 role worker scaled: 2 -> 3 members"
    roles = cluster(kubectl, namespace, "spark221e2")["spec"]["roles"]
    assert [(r["id"], r["members"]) for r in roles] == [
        ("controller", 1),
        ("worker", 3),
        ("jupyter", 1),
    ]
    wait_until(lambda: workers_configured(kubectl, namespace, 3), 90, "three configured workers")
    spark = wait_ready(kubectl, namespace, "spark221e2")

    # The plain command with flags, as `kubedirector`, sees the same.
    direct = subprocess.run(
        [
            str(VENV_BIN / "kubedirector"),
            "status",
            "spark221e2",
            "--kubeconfig",
            str(local_cluster.kubeconfig),
            "-n",
            namespace,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert direct.returncode == 0, direct.stderr
    assert member_rows(direct.stdout) == expected_rows(spark)
    assert len(member_pods(spark, "worker")) == 3

    unknown = kd("kd", "scale", "spark221e2", "driver", "2")
    assert unknown.returncode == 1
    assert "has no role 'driver' (its roles: controller, worker, jupyter)" in unknown.stderr
    missing = kd("kd", "status", "spark221e2", "-n", f"{namespace}-none")
    assert missing.returncode == 1
    assert f"kdcluster 'spark221e2' not found in namespace '{namespace}-none'" in missing.stderr


def test_scale_refused_when_the_roles_moved(kubectl, namespace, local_cluster):
    """The patch computed before a reorder must not resize whichever role is now there."""
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    stale = cluster(kubectl, namespace, "spark221e2")
    ops = scale_patch(stale, "worker", 5)  # worker is at index 1, where controller goes
    roles = stale["spec"]["roles"]
    patch(
        kubectl,
        namespace,
        "kdcluster/spark221e2",
        {"spec": {"roles": [roles[1], roles[0], roles[2]]}},
    )
    api = new_api_client(str(local_cluster.kubeconfig))
    try:
        with pytest.raises(CommandError, match="changed while scaling"):
            patch_cluster(api, namespace, "spark221e2", ops)
    finally:
        api.close()
    after = cluster(kubectl, namespace, "spark221e2")["spec"]["roles"]
    assert [(r["id"], r["members"]) for r in after] == [
        ("worker", 2),
        ("controller", 1),
        ("jupyter", 1),
    ]


@pytest.fixture
def admission(local_cluster, kubectl, namespace):
    """The admission webhook for the test namespace, with the spark221e2 app in its cache."""
    with webhook_in_namespace(local_cluster.kubeconfig, kubectl, namespace) as hook:
        kubectl("apply", "-n", namespace, "-f", str(CATALOG / "spark221e2.yaml"))
        wait_until(lambda: hook.view.app(namespace, "spark221e2"), 10, "the app in the cache")
        yield hook


@pytest.mark.usefixtures("admission")
def test_scale_refused_by_admission_names_the_field(kd, kubectl, namespace):
    kubectl(
        "create", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )
    refused = kd("kd", "scale", "spark221e2", "controller", "2")
    assert refused.returncode == 1
    assert "spec.roles[0].members: 2 members do not fit the cardinality '1'" in refused.stderr
    assert refused.stderr.startswith("error: refused: ")
    assert cluster(kubectl, namespace, "spark221e2")["spec"]["roles"][0]["members"] == 1

    # A role with members may change its size and its disruption budget, nothing else.
    budget = [
        {"op": "add", "path": "/spec/roles/1/disruptionBudget", "value": {"maxUnavailable": 2}}
    ]
    patch(kubectl, namespace, "kdcluster/spark221e2", budget, patch_type="json")
    memory = [{"op": "replace", "path": "/spec/roles/1/resources/limits/memory", "value": "8Gi"}]
    frozen = patch(
        kubectl, namespace, "kdcluster/spark221e2", memory, patch_type="json", check=False
    )
    assert frozen.returncode != 0
    assert "only members, disruptionBudget and unresponsivePolicy may change" in frozen.stderr
