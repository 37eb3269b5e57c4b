"""The README's first command end to end, then `make undeploy`, on a local cluster of
its own: the walkthrough registers cluster-wide webhook configurations and
installs the CRDs, which must not leak into the shared test cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, LocalCluster
from tests.e2e.support.operator import free_port, wait_until


@pytest.fixture
def own_cluster(tmp_path: Path, local_cluster: LocalCluster) -> Iterator[dict[str, str]]:
    env = {**os.environ, "KD_CLUSTER_DIR": str(tmp_path / "cluster"),
           "KD_OPERATOR_METRICS": f"127.0.0.1:{free_port()}",
           "PATH": f"{local_cluster.bin_dir}:{os.environ['PATH']}"}
    env.pop("KUBECONFIG", None)
    yield env
    subprocess.run(["bash", str(REPO / "hack" / "local-operator.sh"), "stop"], env=env,
                   capture_output=True, timeout=60, check=False)
    subprocess.run([sys.executable, str(REPO / "hack" / "localcluster.py"), "down"], env=env,
                   capture_output=True, timeout=120, check=False)


def test_walkthrough_then_undeploy(own_cluster):
    env = own_cluster
    proc = subprocess.run(["bash", str(REPO / "hack" / "walkthrough.sh")], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out, err = proc.stdout, proc.stderr
    for header in ("DISTRO", "READY   STATUS", "TYPE", "MEMBERS"):
        assert header in out, header
    for app in ("spark221e2", "spark211up", "cassandra311"):
        assert app in out
    assert "the operator runs as a local process" in err
    assert "kdcluster/spark221e2 is Ready" in err

    kubeconfig = Path(env["KD_CLUSTER_DIR"]) / "kubeconfig"

    def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], env=env,
                              capture_output=True, text=True, timeout=120, check=check)

    status = json.loads(kubectl("get", "kdcluster", "spark221e2", "-n", "default", "-o",
                                "json").stdout)
    assert [m["state"] for r in status["status"]["roles"] for m in r["members"]] == [
        "configured"] * 4
    # The webhook answers: it filled in the defaults and it refuses a bad cluster.
    assert status["spec"]["namingScheme"] == "CrNameRole"
    assert status["spec"]["serviceType"] == "NodePort"
    refused = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "create", "-n", "default", "-f", "-"],
        input=json.dumps({"apiVersion": "kubedirector.hpe.com/v1beta1",
                          "kind": "KubeDirectorCluster", "metadata": {"name": "bad"},
                          "spec": {"app": "spark221e2", "roles": [
                              {"id": "driver", "resources": {"limits": {
                                  "cpu": "1", "memory": "1Gi"}}}]}}),
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0 and "driver" in refused.stderr

    undeploy = subprocess.run(["bash", str(REPO / "hack" / "deploy.sh"), "undeploy", "--local"],
                              env={**env, "KUBECONFIG": str(kubeconfig)}, capture_output=True,
                              text=True, timeout=600, check=False)
    assert undeploy.returncode == 0, undeploy.stderr[-3000:]
    assert "removed" in undeploy.stderr
    assert kubectl("get", "crd", "kubedirectorclusters.kubedirector.hpe.com",
                   check=False).returncode != 0
    wait_until(lambda: "spark221e2" not in kubectl("get", "pods", "-A").stdout, 90,
               "garbage collection of the cluster's pods")
