"""The README's first command, end to end against the local cluster."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import REPO
from tests.e2e.support.operator import free_port


def test_walkthrough_command(kubectl, namespace, local_cluster):
    env = {**os.environ, "KD_NAMESPACE": namespace, "KD_WALKTHROUGH_NAMESPACE": namespace,
           "KD_OPERATOR_METRICS": f"127.0.0.1:{free_port()}", "KD_CLUSTER_DIR":
           str(local_cluster.state_dir or ""), "KD_LOCAL": "1"}
    if local_cluster.state_dir is None:
        env.pop("KD_CLUSTER_DIR")
    env.pop("KUBECONFIG", None)
    try:
        proc = subprocess.run(["bash", str(REPO / "hack" / "walkthrough.sh")], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = proc.stdout
        for header in ("DISTRO", "READY   STATUS", "TYPE", "MEMBERS"):
            assert header in out, header
        for app in ("spark221e2", "spark211up", "cassandra311"):
            assert app in out
        assert "operator running as a local process" in proc.stderr
        assert "kdcluster/spark221e2 is Ready" in proc.stderr
        status = json.loads(kubectl("get", "kdcluster", "spark221e2", "-n", namespace, "-o",
                                    "json").stdout)["status"]
        states = [m["state"] for r in status["roles"] for m in r["members"]]
        assert states == ["configured"] * 4
        pods = kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.split()
        assert len(pods) == 4 and all("spark221e2-" in p for p in pods)
        kubectl("delete", "kdcluster", "spark221e2", "-n", namespace, "--timeout=60s")
    finally:
        subprocess.run(["bash", str(REPO / "hack" / "local-operator.sh"), "stop"], env=env,
                       capture_output=True, timeout=60, check=False)
