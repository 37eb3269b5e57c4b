"""The local control plane does what a real cluster does for the operator.

StatefulSets get Running, Ready pods on simulated nodes and Bound claims; the
garbage collector removes dependents; exec through the API server returns the
command's output and exit code; the hack scripts fail clearly on bad input.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.stream import stream

from tests.conftest import REPO, LocalCluster

STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 3
  serviceName: web
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: example/app:1
        resources: {requests: {cpu: "1", memory: 1Gi}, limits: {cpu: "1", memory: 1Gi}}
  volumeClaimTemplates:
  - metadata: {name: p}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
  - metadata: {name: b0}
    spec:
      accessModes: [ReadWriteOnce]
      volumeMode: Block
      resources: {requests: {storage: 1Gi}}
"""


def wait_for(predicate, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def get_json(kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def test_statefulset_pods_run_and_claims_bind(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=STATEFULSET)

    def all_ready():
        pods = get_json(kubectl, "pods", "-n", namespace)["items"]
        ready = [
            p
            for p in pods
            if p["status"].get("phase") == "Running"
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        ]
        return pods if len(ready) == 3 else None

    pods = wait_for(all_ready, timeout=120, what="3 Running and Ready pods")
    assert {p["metadata"]["name"] for p in pods} == {"web-0", "web-1", "web-2"}
    nodes = {n["metadata"]["name"]: n for n in get_json(kubectl, "nodes")["items"]}
    for pod in pods:
        node = nodes[pod["spec"]["nodeName"]]
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"

    def claims_bound():
        pvcs = get_json(kubectl, "pvc", "-n", namespace)["items"]
        return (
            pvcs
            if len(pvcs) == 6 and all(p["status"].get("phase") == "Bound" for p in pvcs)
            else None
        )

    pvcs = wait_for(claims_bound, what="6 Bound claims")
    names = {p["metadata"]["name"] for p in pvcs}
    assert names == {f"{t}-web-{i}" for t in ("p", "b0") for i in range(3)}
    modes = {p["metadata"]["name"]: p["spec"]["volumeMode"] for p in pvcs}
    assert modes["b0-web-0"] == "Block" and modes["p-web-0"] == "Filesystem"
    assert all(p["spec"]["storageClassName"] == "local-path" for p in pvcs)

    # A released volume is deleted by the simulated provisioner.
    volume = next(p["spec"]["volumeName"] for p in pvcs if p["metadata"]["name"] == "p-web-2")
    kubectl("scale", "statefulset", "web", "-n", namespace, "--replicas=2")
    wait_for(
        lambda: kubectl("get", "pod", "web-2", "-n", namespace, check=False).returncode,
        what="web-2 to be gone",
    )
    kubectl("delete", "pvc", "p-web-2", "-n", namespace)
    wait_for(
        lambda: kubectl("get", "pv", volume, check=False).returncode != 0,
        what=f"volume {volume} to be deleted",
    )


CONTAINER_ID = re.compile(r"kwok://[0-9a-f]{64}")


def container_ids(pod: dict) -> dict[str, str]:
    statuses = [
        *pod["status"].get("containerStatuses", []),
        *pod["status"].get("initContainerStatuses", []),
    ]
    return {c["name"]: c.get("containerID", "") for c in statuses}


def test_every_container_status_has_a_container_id(kubectl, namespace):
    """As a kubelet reports: one per container, init containers included; a
    re-created pod's containers get new ones."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ids", "namespace": namespace},
        "spec": {
            "initContainers": [{"name": "init", "image": "example/init:1"}],
            "containers": [
                {"name": "app", "image": "example/app:1"},
                {"name": "sidecar", "image": "example/side:1"},
            ],
        },
    }

    def running() -> dict | None:
        got = get_json(kubectl, "pod", "ids", "-n", namespace)
        return got if got["status"].get("phase") == "Running" else None

    kubectl("apply", "-f", "-", input=json.dumps(pod))
    first = container_ids(wait_for(running, what="the pod to run"))
    assert set(first) == {"init", "app", "sidecar"}
    assert all(CONTAINER_ID.fullmatch(i) for i in first.values()), first
    assert len(set(first.values())) == 3
    kubectl("delete", "pod", "ids", "-n", namespace, "--wait=true")
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    second = container_ids(wait_for(running, what="the re-created pod to run"))
    assert all(CONTAINER_ID.fullmatch(i) for i in second.values()), second
    assert not set(first.values()) & set(second.values())


def test_gpu_nodes_and_default_storage_class(kubectl):
    nodes = get_json(kubectl, "nodes")["items"]
    gpus = [n for n in nodes if "nvidia.com/gpu" in n["status"].get("allocatable", {})]
    assert gpus, "some simulated nodes advertise nvidia.com/gpu"
    assert len(gpus) < len(nodes)
    for node in nodes:
        addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert addresses["InternalIP"] == "127.0.0.1"
    sc = get_json(kubectl, "storageclass", "local-path")
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


def test_garbage_collection_removes_dependents(kubectl, namespace):
    kubectl("create", "configmap", "owner", "-n", namespace, "--from-literal=a=1")
    uid = get_json(kubectl, "configmap", "owner", "-n", namespace)["metadata"]["uid"]
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "namespace": namespace,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": "owner",
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "data": {"b": "2"},
    }
    kubectl("apply", "-f", "-", input=json.dumps(dependent))
    kubectl("delete", "configmap", "owner", "-n", namespace)
    wait_for(
        lambda: (
            kubectl("get", "configmap", "dependent", "-n", namespace, check=False).returncode != 0
        ),
        what="the garbage collector to delete the dependent",
    )


@pytest.fixture
def running_pod(kubectl, namespace) -> str:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "guest", "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
    }
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    wait_for(
        lambda: (
            get_json(kubectl, "pod", "guest", "-n", namespace)["status"].get("phase") == "Running"
        ),
        what="the pod to run",
    )
    wait_for(
        lambda: (
            kubectl("exec", "guest", "-n", namespace, "--", "true", check=False).returncode == 0
        ),
        what="kwok to accept exec for the pod",
    )
    return "guest"


def test_kubectl_exec_returns_output_and_exit_code(kubectl, namespace, running_pod):
    ok = kubectl(
        "exec",
        running_pod,
        "-n",
        namespace,
        "-c",
        "app",
        "--",
        "sh",
        "-c",
        "echo hello; echo oops >&2",
    )
    assert ok.stdout == "hello\n"
    assert "oops" in ok.stderr
    bad = kubectl(
        "exec", running_pod, "-n", namespace, "--", "sh", "-c", "echo x; exit 7", check=False
    )
    assert bad.returncode == 7
    assert bad.stdout == "x\n"
    script = kubectl(
        "exec",
        "-i",
        running_pod,
        "-n",
        namespace,
        "--",
        "bash",
        input='echo "root=${KD_GUEST_ROOT}"; exit 0\n',
    )
    root = script.stdout.strip().removeprefix("root=")
    assert root and Path(root).is_dir()
    assert f"/{namespace}/guest-" in root


def test_python_client_exec_returns_output_and_exit_code(api_client, namespace, running_pod):
    core = client.CoreV1Api(api_client)

    def run(command: list[str]) -> tuple[str, str, int]:
        ws = stream(
            core.connect_get_namespaced_pod_exec,
            running_pod,
            namespace,
            command=command,
            container="app",
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        ws.run_forever(timeout=30)
        out, err = ws.read_stdout(), ws.read_stderr()
        code = ws.returncode
        ws.close()
        return out, err, code

    assert run(["sh", "-c", "echo hi; exit 0"]) == ("hi\n", "", 0)
    out, err, code = run(["sh", "-c", "echo partial; echo broken >&2; exit 42"])
    assert (out, err.strip(), code) == ("partial\n", "broken", 42)


def test_each_pod_gets_its_own_guest_root(kubectl, namespace, running_pod):
    def root(pod: str) -> str:
        return kubectl(
            "exec", pod, "-n", namespace, "--", "sh", "-c", 'echo "$KD_GUEST_ROOT"; pwd'
        ).stdout.split()

    first = root(running_pod)
    assert first[0] == first[1], "the working directory is the guest root"
    kubectl("delete", "pod", running_pod, "-n", namespace, "--wait=true")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": running_pod, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
    }
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    second = wait_for(
        lambda: (
            (
                r := kubectl(
                    "exec",
                    running_pod,
                    "-n",
                    namespace,
                    "--",
                    "sh",
                    "-c",
                    'echo "$KD_GUEST_ROOT"',
                    check=False,
                )
            ).returncode
            == 0
            and r.stdout.strip()
        ),
        what="exec into the new pod",
    )
    assert second != first[0], "a re-created pod starts with a fresh guest root"


# --------------------------------------------------------------------------- bad input

LOCALCLUSTER = [sys.executable, str(REPO / "hack" / "localcluster.py")]


def run_hack(argv: list[str], env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        argv,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_build_without_go_says_so(tmp_path):
    path = ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "go").exists())
    proc = run_hack(
        ["bash", str(REPO / "hack" / "build-binaries.sh")],
        {"PATH": path, "KD_CACHE_DIR": str(tmp_path)},
        timeout=30,
    )
    assert proc.returncode != 0
    assert "Go is not on PATH" in proc.stderr


def test_invalid_flag_values_are_refused(tmp_path):
    for flag in (["--nodes", "0"], ["--cpu", "lots"], ["--apiserver-port", "70000"]):
        proc = run_hack([*LOCALCLUSTER, "up", *flag], {"KD_CLUSTER_DIR": str(tmp_path)}, timeout=30)
        assert proc.returncode == 2, flag
        assert flag[0] in proc.stderr
    assert not (tmp_path / "cluster.json").exists(), "nothing started"


def test_port_in_use_is_reported_with_a_way_out(tmp_path, local_cluster: LocalCluster):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_hack(
            [*LOCALCLUSTER, "up", "--apiserver-port", str(port), "--nodes", "1"],
            {"KD_CLUSTER_DIR": str(tmp_path)},
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}" in proc.stderr
    assert "down" in proc.stderr


def test_half_started_cluster_is_repaired_and_down_is_idempotent(
    tmp_path, local_cluster: LocalCluster
):
    env = {"KD_CLUSTER_DIR": str(tmp_path / "c")}
    try:
        first = run_hack([*LOCALCLUSTER, "up", "--nodes", "1", "--json"], env, timeout=300)
        assert first.returncode == 0, first.stderr
        pid = int((tmp_path / "c" / "pids" / "kube-apiserver.pid").read_text())
        os.kill(pid, 9)  # a crashed run leaves the rest running
        status = json.loads(run_hack([*LOCALCLUSTER, "status", "--json"], env).stdout)
        assert status["kube-apiserver"] == "stopped" and status["etcd"] == "running"
        again = run_hack([*LOCALCLUSTER, "up", "--json"], env, timeout=300)
        assert again.returncode == 0, again.stderr
        assert "half-started" in again.stderr
        status = json.loads(run_hack([*LOCALCLUSTER, "status", "--json"], env).stdout)
        assert status["running"] == "true"
    finally:
        run_hack([*LOCALCLUSTER, "down"], env)
    assert not (tmp_path / "c").exists()
    second_down = run_hack([*LOCALCLUSTER, "down"], env)
    assert second_down.returncode == 0
    assert "nothing to stop" in second_down.stderr


def ready_pods(kubectl, namespace: str) -> list[dict]:
    pods = get_json(kubectl, "pods", "-n", namespace)["items"]
    return [
        p
        for p in pods
        if p["status"].get("phase") == "Running"
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    ]


@pytest.mark.disruptive
def test_pods_with_claims_run_right_after_an_apiserver_restart(kubectl, namespace):
    """`restart-apiserver` leaves a control plane that schedules at once: new pods
    and pods of a scaled-up StatefulSet, with fresh claims, run within a minute (the
    scheduler must not hold them as unschedulable, nor the nodes stay tainted)."""
    kubectl("apply", "-n", namespace, "-f", "-", input=STATEFULSET)
    wait_for(lambda: len(ready_pods(kubectl, namespace)) == 3, timeout=120, what="3 Ready pods")
    restart = run_hack([*LOCALCLUSTER, "restart-apiserver"], {}, timeout=300)
    assert restart.returncode == 0, restart.stderr
    kubectl("scale", "statefulset", "web", "-n", namespace, "--replicas=5")
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=STATEFULSET.replace("name: web", "name: after").replace("app: web", "app: after"),
    )
    wait_for(
        lambda: len(ready_pods(kubectl, namespace)) == 8,
        timeout=60,
        what="8 Ready pods (5 web, 3 after) within 60 s of the restart",
    )
    pvcs = get_json(kubectl, "pvc", "-n", namespace)["items"]
    assert len(pvcs) == 16 and all(p["status"].get("phase") == "Bound" for p in pvcs)
