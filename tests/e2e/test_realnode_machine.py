"""The machine's one real node (hack/realnode.py): a second local cluster takes it over
and the first takes it back (neither order waits on the other), and when the kubelet
dies everything it left is removed and the kernel settings it changed are restored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import LOCALCLUSTER, LocalCluster, _localcluster
from tests.e2e.support.operator import wait_until

pytestmark = pytest.mark.realnode

MACHINE_DIR = Path("/run/kubedirector-realnode")
SYSCTLS = (
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)


def run_other(cluster_dir: Path, *args: str) -> dict:
    """hack/localcluster.py for another local cluster (its own KD_CLUSTER_DIR)."""
    proc = subprocess.run(
        [sys.executable, str(LOCALCLUSTER), *args, "--json"],
        env={**os.environ, "KD_CLUSTER_DIR": str(cluster_dir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sysctls() -> dict[str, str]:
    return {name: (Path("/proc/sys") / name).read_text().strip() for name in SYSCTLS}


def test_a_second_cluster_takes_the_node_over_and_the_first_takes_it_back(
    real_node: str, local_cluster: LocalCluster
):
    suite = str(local_cluster.state_dir)
    # A short folder: the kubelet's unix socket paths must stay under 108 bytes.
    other = Path(tempfile.mkdtemp(prefix="kd-rn-"))
    try:
        taken = run_other(other, "up", "--real-node", "--nodes", "1", "--gpu-nodes", "0")
        assert taken["real_node"] == f"taken-over:{suite}"
        assert _localcluster("status")["real-node"] == f"held-by:{other}"
        back = _localcluster("up", "--real-node")
        assert back["real_node"] == f"taken-over:{other}"
        assert run_other(other, "status")["real-node"] == f"held-by:{suite}"
    finally:
        run_other(other, "down")  # not the holder any more: leaves the node alone
    assert _localcluster("status")["real-node"] == "running"


def test_when_the_kubelet_dies_the_node_is_cleaned_up_and_settings_restored(
    real_node: str, local_cluster: LocalCluster
):
    originals = json.loads((MACHINE_DIR / "sysctls.json").read_text())
    assert sysctls() != originals, "the kubelet changes these while it runs"
    holder = json.loads((MACHINE_DIR / "holder.json").read_text())
    os.kill(holder["pids"]["kubelet"], signal.SIGKILL)
    wait_until(
        lambda: _localcluster("status")["real-node"] == "stopped",
        60,
        "the supervisor to tear the node down",
    )
    wait_until(lambda: not (MACHINE_DIR / "holder.json").exists(), 30, "the holder record gone")
    assert sysctls() == originals
    assert not Path("/var/lib/kubelet").exists()
    assert not Path("/run/containerd").exists()
    assert not Path("/sys/class/net/kdrn0").exists()
    assert not list(Path("/sys/fs/cgroup").glob("*/kubepods"))
    node_root = f"{local_cluster.state_dir}/realnode"
    assert node_root not in Path("/proc/self/mountinfo").read_text()
    for pid in holder["pids"].values():
        assert (
            not Path(f"/proc/{pid}").exists()
            or node_root.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
    # The suite's cluster gets its node back, as it was.
    assert _localcluster("up", "--real-node")["real_node"] == "started"
