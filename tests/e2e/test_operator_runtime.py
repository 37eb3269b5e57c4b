"""`kubedirector run` as a process: readiness, reconciling, metrics, leader election.

The operator runs the ConfigMap-copy test controller through the documented hook
`KD_EXTRA_CONTROLLERS` (see tests/e2e/support/copy_controller.py).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.support.operator import Operator, start_operator, wait_until
from tests.e2e.support.tcpproxy import TcpProxy

REPO = Path(__file__).resolve().parents[2]
HOOK = "tests.e2e.support.copy_controller:build_controllers"
LEASE = "kd-test-leader"
RUNTIME_METRICS = (
    "workqueue_depth",
    "workqueue_adds_total",
    "workqueue_queue_duration_seconds",
    "workqueue_work_duration_seconds",
    "workqueue_unfinished_work_seconds",
    "workqueue_longest_running_processor_seconds",
    "workqueue_retries_total",
    "controller_runtime_reconcile_total",
    "controller_runtime_reconcile_errors_total",
    "controller_runtime_reconcile_time_seconds",
    "controller_runtime_max_concurrent_reconciles",
    "controller_runtime_active_workers",
    "leader_election_master_status",
    "rest_client_requests_total",
    "process_resident_memory_bytes",
)


def metric_names(operator: Operator) -> set[str]:
    """Family and sample names (a histogram's family has no sample of its own name)."""
    _, body = operator.get("/metrics")
    families = list(text_string_to_metric_families(body))
    return {f.name for f in families} | {s.name for f in families for s in f.samples}


def is_leader(operator: Operator) -> bool:
    return operator.metric("leader_election_master_status", name=LEASE) == 1


def reconciles(operator: Operator) -> float:
    return operator.metric("controller_runtime_reconcile_total", controller="configmap-copy")


def identity(operator: Operator) -> str:
    for line in operator.log.read_text().splitlines():
        if '"operator_starting"' in line:
            return json.loads(line)["identity"]
    raise AssertionError(f"no operator_starting line in {operator.log}")


@pytest.fixture
def operators(local_cluster, namespace, tmp_path) -> Iterator[Callable[..., Operator]]:
    """Start operators running the copy controller; kill whatever is left afterwards."""
    started: list[Operator] = []

    def start(kubeconfig: Path | None = None, *extra: str) -> Operator:
        operator = start_operator(
            kubeconfig or local_cluster.kubeconfig,
            namespace,
            tmp_path / f"operator-{len(started)}.log",
            "--workers",
            "2",
            "--leader-election-id",
            LEASE,
            *extra,
            env={"KD_EXTRA_CONTROLLERS": HOOK},
        )
        started.append(operator)
        return operator

    yield start
    for operator in started:
        if operator.proc.poll() is None:
            operator.proc.kill()
        operator.proc.wait(10)


def wait_for_copy(kubectl, namespace: str, name: str, data: dict, timeout: float = 30) -> None:
    def matches() -> bool:
        proc = kubectl(
            "-n", namespace, "get", "configmap", f"{name}-copy", "-o", "json", check=False
        )
        return proc.returncode == 0 and json.loads(proc.stdout).get("data") == data

    wait_until(matches, timeout, f"{name}-copy with {data}")


def create_source(kubectl, namespace: str, name: str, **data: str) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"kd-test/copy": "true"}},
        "data": data,
    }
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest))


@pytest.fixture
def proxied(local_cluster, tmp_path) -> Iterator[tuple[Path, TcpProxy]]:
    """A kubeconfig whose server is a cuttable proxy in front of the API server."""
    config = yaml.safe_load(local_cluster.kubeconfig.read_text())
    target = urlsplit(config["clusters"][0]["cluster"]["server"])
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 443)
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    kubeconfig = tmp_path / "proxied-kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    yield kubeconfig, proxy
    proxy.close()


def test_ready_only_after_sync_then_reconciles_and_exposes_metrics(
    kubectl, namespace, operators, proxied
):
    kubeconfig, proxy = proxied
    proxy.cut()
    operator = operators(kubeconfig, "--log-level", "debug")
    for _ in range(10):  # the API server is unreachable: alive, not ready
        assert operator.get("/healthz")[0] == 200
        assert operator.get("/readyz")[0] == 503
        time.sleep(0.2)
    proxy.heal()
    wait_until(lambda: operator.get("/readyz")[0] == 200, 45, "/readyz after the caches sync")

    create_source(kubectl, namespace, "src", a="1")
    wait_for_copy(kubectl, namespace, "src", {"a": "1"})
    create_source(kubectl, namespace, "src", a="2", b="3")
    wait_for_copy(kubectl, namespace, "src", {"a": "2", "b": "3"})
    kubectl("-n", namespace, "delete", "configmap", "src-copy")  # an owned object's event
    wait_for_copy(kubectl, namespace, "src", {"a": "2", "b": "3"})

    names = metric_names(operator)
    missing = [m for m in RUNTIME_METRICS if m not in names]
    assert not missing, f"/metrics lacks {missing}"
    assert is_leader(operator)
    assert reconciles(operator) >= 3
    done = [
        json.loads(line)
        for line in operator.log.read_text().splitlines()
        if '"reconcile_done"' in line
    ]
    assert done and all(d["reconcile_id"] and d["key"] for d in done)
    assert len({d["reconcile_id"] for d in done}) == len(done)

    operator.proc.send_signal(signal.SIGTERM)
    assert operator.proc.wait(15) == 0


def test_leader_that_cannot_renew_exits_nonzero(namespace, operators, proxied):
    kubeconfig, proxy = proxied
    timing = ("--lease-duration", "6", "--renew-deadline", "4", "--retry-period", "1")
    operator = operators(kubeconfig, *timing)
    wait_until(lambda: is_leader(operator), 30, "the only replica to lead")
    began = time.monotonic()
    proxy.cut()  # renewals now fail
    assert operator.proc.wait(20) == 1
    took = time.monotonic() - began
    # Not before the renew deadline (4 s); the upper bound is generous for a loaded machine
    # (a 2-core CI host running the suite measured up to 10.2 s).
    assert 3 <= took < 15, f"exited {took:.1f}s after losing the API server"
    assert '"leader_lost"' in operator.log.read_text()


def leaders(replicas: list[Operator]) -> list[Operator]:
    return [op for op in replicas if op.proc.poll() is None and is_leader(op)]


def lease_holder(kubectl, namespace: str) -> str:
    proc = kubectl(
        "-n", namespace, "get", "lease", LEASE, "-o", "jsonpath={.spec.holderIdentity}", check=False
    )
    return proc.stdout if proc.returncode == 0 else ""


def test_three_replicas_elect_one_leader_and_hand_over(kubectl, namespace, operators):
    replicas = [operators() for _ in range(3)]
    leader = wait_until(lambda: leaders(replicas), 30, "a leader")[0]
    time.sleep(3)  # more than a retry period: a second leader would have shown by now
    assert leaders(replicas) == [leader]
    assert lease_holder(kubectl, namespace) == identity(leader)

    create_source(kubectl, namespace, "one", v="1")
    wait_for_copy(kubectl, namespace, "one", {"v": "1"})
    standbys = [op for op in replicas if op is not leader]
    assert reconciles(leader) >= 1
    assert [reconciles(op) for op in standbys] == [0, 0]

    began = time.monotonic()
    leader.proc.kill()  # kill -9: no release; a standby waits out the lease
    second = wait_until(lambda: leaders(standbys), 40, "a new leader after kill -9")[0]
    took = time.monotonic() - began
    print(f"hand-over after kill -9: {took:.1f}s")
    assert took < 30, f"hand-over after kill -9 took {took:.1f}s"
    assert lease_holder(kubectl, namespace) == identity(second)

    last = next(op for op in standbys if op is not second)
    began = time.monotonic()
    second.proc.send_signal(signal.SIGTERM)  # graceful: releases the lease
    assert second.proc.wait(15) == 0
    wait_until(lambda: is_leader(last), 15, "the last replica to lead after SIGTERM")
    took = time.monotonic() - began
    print(f"hand-over after SIGTERM: {took:.1f}s")
    assert took < 10, f"hand-over after SIGTERM took {took:.1f}s"

    create_source(kubectl, namespace, "two", v="2")
    wait_for_copy(kubectl, namespace, "two", {"v": "2"})
    assert reconciles(last) >= 1
