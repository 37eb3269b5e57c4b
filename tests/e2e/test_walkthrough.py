"""The README's first command end to end, then uninstalling, on a local cluster of its
own: the walkthrough registers cluster-wide webhook configurations and installs the
CRDs, which must not leak into the shared test cluster.

Its two paths: the local-process operator (when the machine cannot host the real node;
here forced with KD_NO_REAL_NODE=1), one test because every step needs the previous
one's cluster: the walkthrough; its local operator restarted by the supervisor after it
dies; `make undeploy` keeping users' clusters, apps and CRDs; a second deploy managing
them again; `make undeploy PURGE=1` removing everything.  And the default where the
machine can host the real node: the image as the Deployment there, run twice, then
switched to the local process and back on the same cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, LocalCluster, _localcluster
from tests.e2e.support.operator import free_port, wait_until

Run = Callable[..., subprocess.CompletedProcess]
CRD = "kubedirectorclusters.kubedirector.hpe.com"
BAD_CLUSTER = json.dumps(
    {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorCluster",
        "metadata": {"name": "bad"},
        "spec": {
            "app": "spark221e2",
            "roles": [{"id": "driver", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
        },
    }
)


def cluster_env(cluster_dir: Path, local_cluster: LocalCluster) -> dict[str, str]:
    """The environment of a walkthrough on a local cluster of its own in `cluster_dir`."""
    env = {
        **os.environ,
        "KD_CLUSTER_DIR": str(cluster_dir),
        "KD_OPERATOR_METRICS": f"127.0.0.1:{free_port()}",
        "KD_WEBHOOK_ADDRESS": f"127.0.0.1:{free_port()}",
        "PATH": f"{local_cluster.bin_dir}:{os.environ['PATH']}",
    }
    env.pop("KUBECONFIG", None)
    return env


def cluster_down(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "hack" / "localcluster.py"), "down"],
        env=env,
        capture_output=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def own_cluster(tmp_path: Path, local_cluster: LocalCluster) -> Iterator[dict[str, str]]:
    # The local-process path, as on a machine that cannot host the real node.
    env = {**cluster_env(tmp_path / "cluster", local_cluster), "KD_NO_REAL_NODE": "1"}
    yield env
    cluster_down(env)


def hack(env: dict[str, str], *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO / "hack" / argv[0]), *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pods_of(kubectl: Run, cluster: str) -> dict[str, str]:
    """name -> uid of the cluster's pods in namespace default."""
    items = json.loads(
        kubectl(
            "get",
            "pods",
            "-n",
            "default",
            "-l",
            f"kubedirector.hpe.com/kdcluster={cluster}",
            "-o",
            "json",
        ).stdout
    )["items"]
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in items}


def cluster_kubectl(env: dict[str, str], kubeconfig: Path) -> Run:
    """kubectl against the walkthrough's own cluster; `check=False` to inspect failures."""

    def kubectl(
        *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    return kubectl


def refuses_a_bad_cluster(kubectl: Run) -> bool:
    """The webhook answers: it refuses a cluster with a role the app does not have."""
    refused = kubectl("create", "-n", "default", "-f", "-", input=BAD_CLUSTER, check=False)
    return refused.returncode != 0 and "driver" in refused.stderr


def test_walkthrough_supervised_operator_undeploy_keeps_then_purges(own_cluster):
    env = own_cluster
    state = Path(env["KD_CLUSTER_DIR"])
    kubeconfig = state / "kubeconfig"
    deploy_env = {**env, "KUBECONFIG": str(kubeconfig)}
    kubectl = cluster_kubectl(env, kubeconfig)

    # 1. The walkthrough.
    proc = hack(env, "walkthrough.sh")
    assert proc.returncode == 0, proc.stderr[-4000:]
    out, err = proc.stdout, proc.stderr
    for header in ("DISTRO", "READY   STATUS", "TYPE", "MEMBERS"):
        assert header in out, header
    for app in ("spark221e2", "spark211up", "cassandra311"):
        assert app in out
    assert "path: the operator as a local process, because KD_NO_REAL_NODE is set" in err
    assert "the operator runs as a local process" in err
    assert "kdcluster/spark221e2 is Ready" in err
    status = json.loads(
        kubectl("get", "kdcluster", "spark221e2", "-n", "default", "-o", "json").stdout
    )
    assert [m["state"] for r in status["status"]["roles"] for m in r["members"]] == [
        "configured"
    ] * 4
    # The webhook answers: it filled in the defaults and it refuses a bad cluster.
    assert status["spec"]["namingScheme"] == "CrNameRole"
    assert status["spec"]["serviceType"] == "NodePort"
    assert refuses_a_bad_cluster(kubectl)
    webhooks = json.loads(
        kubectl(
            "get", "validatingwebhookconfiguration", "kubedirector-webhook", "-o", "json"
        ).stdout
    )
    url = f"https://{env['KD_WEBHOOK_ADDRESS']}/validate"
    assert {w["clientConfig"]["url"] for w in webhooks["webhooks"]} == {url}

    # 2. The operator dies (as it does when it loses its lease): it is restarted.
    child = state / "pids" / "operator-process.pid"
    first = int(child.read_text())
    os.kill(first, signal.SIGKILL)
    wait_until(
        lambda: child.exists() and int(child.read_text()) != first,
        60,
        "the supervisor to restart the operator",
    )
    wait_until(lambda: refuses_a_bad_cluster(kubectl), 60, "the restarted operator's webhook")
    assert "operator exited" in (state / "logs" / "operator.log").read_text()

    # 3. Undeploy keeps users' clusters, apps, configs and the CRDs, and says so.
    pods = pods_of(kubectl, "spark221e2")
    assert len(pods) == 4
    undeploy = hack(deploy_env, "deploy.sh", "undeploy", "--local")
    assert undeploy.returncode == 0, undeploy.stderr[-3000:]
    assert "kept: 1 KubeDirectorClusters" in undeploy.stderr
    assert "PURGE=1" in undeploy.stderr
    assert hack(env, "local-operator.sh", "status").returncode != 0, "the operator is stopped"
    assert (
        kubectl(
            "get",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            "-l",
            "app.kubernetes.io/name=kubedirector",
            "-o",
            "name",
        ).stdout
        == ""
    )
    assert kubectl("get", "clusterrole", "kubedirector", check=False).returncode != 0
    assert kubectl("get", "crd", CRD, check=False).returncode == 0
    assert kubectl("get", "namespace", "kubedirector", check=False).returncode == 0
    assert len(kubectl("get", "kdapp", "-n", "kubedirector", "-o", "name").stdout.split()) > 3
    assert (
        kubectl("get", "kdconfig", "kd-global-config", "-n", "kubedirector", check=False).returncode
        == 0
    )
    assert pods_of(kubectl, "spark221e2") == pods, "members keep running, untouched"
    claims = kubectl("get", "pvc", "-n", "default", "-o", "name").stdout.split()

    # 4. A second deploy takes the kept cluster over without touching its members.
    redeploy = hack(deploy_env, "deploy.sh", "deploy", "--local")
    assert redeploy.returncode == 0, redeploy.stderr[-3000:]
    kubectl(
        "wait", "--for=condition=Ready", "kdcluster/spark221e2", "-n", "default", "--timeout=120s"
    )
    assert pods_of(kubectl, "spark221e2") == pods
    assert kubectl("get", "pvc", "-n", "default", "-o", "name").stdout.split() == claims
    assert refuses_a_bad_cluster(kubectl)

    # 5. PURGE=1 removes clusters, their members, apps, the operator and the CRDs.
    purge = hack(deploy_env, "deploy.sh", "undeploy", "--local", "--purge")
    assert purge.returncode == 0, purge.stderr[-3000:]
    assert "removed" in purge.stderr
    assert kubectl("get", "crd", CRD, check=False).returncode != 0
    assert kubectl(
        "get", "namespace", "kubedirector", "-o", "jsonpath={.status.phase}", check=False
    ).stdout in ("", "Terminating")
    wait_until(
        lambda: not pods_of(kubectl, "spark221e2"), 90, "garbage collection of the cluster's pods"
    )


OPERATOR_POD = "app.kubernetes.io/name=kubedirector,app.kubernetes.io/component=operator"


@pytest.mark.realnode
def test_walkthrough_runs_the_image_on_the_real_node_and_switches_paths(
    real_node: str, local_cluster: LocalCluster
):
    """Where the machine can host the real node (the suite's case), the walkthrough takes
    the in-cluster path by default, taking the node over from the suite's cluster; it is
    re-runnable; KD_NO_REAL_NODE=1 switches the same cluster to the local process (the
    Deployment goes, the webhooks become URLs) and the default switches it back."""
    # A short folder: the kubelet's unix socket paths must stay under 108 bytes.
    short = Path(tempfile.mkdtemp(prefix="kd-wt-"))
    env = cluster_env(short / "c", local_cluster)
    kubectl = cluster_kubectl(env, short / "c" / "kubeconfig")

    def webhook_clients() -> list[dict]:
        out = kubectl("get", "validatingwebhookconfiguration", "kubedirector-webhook", "-o", "json")
        return [w["clientConfig"] for w in json.loads(out.stdout)["webhooks"]]

    def operator_pods() -> list[dict]:
        out = kubectl("get", "pods", "-n", "kubedirector", "-l", OPERATOR_POD, "-o", "json")
        return json.loads(out.stdout)["items"]

    def in_cluster_path(err: str) -> None:
        assert "path: in-cluster: the image built from the Dockerfile" in err
        assert "kdcluster/spark221e2 is Ready" in err
        [pod] = operator_pods()
        assert pod["spec"]["nodeName"] == "127.0.0.1"
        assert all("url" not in c and c["service"]["port"] == 28443 for c in webhook_clients())
        assert hack(env, "local-operator.sh", "status").returncode != 0
        assert refuses_a_bad_cluster(kubectl)

    try:
        first = hack(env, "walkthrough.sh")
        assert first.returncode == 0, first.stderr[-4000:]
        assert f"taken-over:{local_cluster.state_dir}" in first.stderr, "the suite held the node"
        in_cluster_path(first.stderr)
        assert _localcluster("status")["real-node"] == f"held-by:{short / 'c'}"

        again = hack(env, "walkthrough.sh")
        assert again.returncode == 0, again.stderr[-4000:]
        in_cluster_path(again.stderr)

        local = hack({**env, "KD_NO_REAL_NODE": "1"}, "walkthrough.sh")
        assert local.returncode == 0, local.stderr[-4000:]
        assert "because KD_NO_REAL_NODE is set" in local.stderr
        assert "switching paths: removing the in-cluster operator's Deployment" in local.stderr
        deployment = kubectl("get", "deployment", "kubedirector", "-n", "kubedirector", check=False)
        assert deployment.returncode != 0
        assert operator_pods() == []
        url = f"https://{env['KD_WEBHOOK_ADDRESS']}/validate"
        assert [c["url"] for c in webhook_clients()] == [url, url]
        assert all("service" not in c for c in webhook_clients())
        assert hack(env, "local-operator.sh", "status").returncode == 0
        assert refuses_a_bad_cluster(kubectl)

        back = hack(env, "walkthrough.sh")
        assert back.returncode == 0, back.stderr[-4000:]
        assert "switching paths: stopping this cluster's local-process operator" in back.stderr
        in_cluster_path(back.stderr)
    finally:
        cluster_down(env)  # stops the node it holds
        shutil.rmtree(short, ignore_errors=True)
        _localcluster("up", "--real-node")  # the suite's cluster takes its node back
