"""`kubedirector run` as a process: readiness, reconciling, metrics, leader election.

The operator runs the ConfigMap-copy test controller through the documented hook
`KD_EXTRA_CONTROLLERS` (see tests/e2e/support/copy_controller.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class Operator:
    proc: subprocess.Popen
    port: int
    log: Path

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        status, body = self.get("/metrics")
        if status != 200:
            return []
        return [
            (s.name, s.labels, s.value)
            for family in text_string_to_metric_families(body)
            for s in family.samples
        ]

    def metric_names(self) -> set[str]:
        """Family and sample names (a histogram's family has no sample of its own name)."""
        _, body = self.get("/metrics")
        families = list(text_string_to_metric_families(body))
        return {f.name for f in families} | {s.name for f in families for s in f.samples}

    def is_leader(self) -> bool:
        return any(
            name == "leader_election_master_status" and labels.get("name") == LEASE and v == 1
            for name, labels, v in self.samples()
        )

    def reconciles(self) -> float:
        return sum(
            v
            for name, labels, v in self.samples()
            if name == "controller_runtime_reconcile_total"
            and labels.get("controller") == "configmap-copy"
        )

    def identity(self) -> str:
        for line in self.log.read_text().splitlines():
            if '"operator_starting"' in line:
                return json.loads(line)["identity"]
        raise AssertionError(f"no operator_starting line in {self.log}")


@pytest.fixture
def start_operator(local_cluster, namespace, tmp_path) -> Iterator[Callable[..., Operator]]:
    started: list[Operator] = []

    def start(kubeconfig: Path | None = None, *extra: str) -> Operator:
        port = free_port()
        log = tmp_path / f"operator-{len(started)}.log"
        env = dict(os.environ, KD_EXTRA_CONTROLLERS=HOOK, PYTHONPATH=str(REPO))
        with log.open("w") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kubedirector",
                    "run",
                    "--kubeconfig",
                    str(kubeconfig or local_cluster.kubeconfig),
                    "--namespace",
                    namespace,
                    "--watch-namespace",
                    namespace,
                    "--metrics-address",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--leader-election-id",
                    LEASE,
                    "--log-format",
                    "json",
                    *extra,
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        operator = Operator(proc, port, log)
        started.append(operator)
        wait_until(
            lambda: operator.get("/healthz")[0] == 200 or proc.poll() is not None, 30, "/healthz"
        )
        assert proc.poll() is None, log.read_text()
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


def test_ready_only_after_sync_then_reconciles_and_exposes_metrics(
    local_cluster, kubectl, namespace, start_operator, tmp_path
):
    config = yaml.safe_load(local_cluster.kubeconfig.read_text())
    target = urlsplit(config["clusters"][0]["cluster"]["server"])
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 443)
    try:
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        proxy.cut()
        operator = start_operator(kubeconfig, "--log-level", "debug")
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

        names = operator.metric_names()
        missing = [m for m in RUNTIME_METRICS if m not in names]
        assert not missing, f"/metrics lacks {missing}"
        assert operator.is_leader()
        assert operator.reconciles() >= 3
        done = [
            json.loads(line)
            for line in operator.log.read_text().splitlines()
            if '"reconcile_done"' in line
        ]
        assert done and all(d["reconcile_id"] and d["key"] for d in done)
        assert len({d["reconcile_id"] for d in done}) == len(done)
    finally:
        proxy.close()

    operator.proc.send_signal(signal.SIGTERM)
    assert operator.proc.wait(15) == 0


def leaders(operators: list[Operator]) -> list[Operator]:
    return [op for op in operators if op.proc.poll() is None and op.is_leader()]


def lease_holder(kubectl, namespace: str) -> str:
    proc = kubectl(
        "-n", namespace, "get", "lease", LEASE, "-o", "jsonpath={.spec.holderIdentity}", check=False
    )
    return proc.stdout if proc.returncode == 0 else ""


def test_three_replicas_elect_one_leader_and_hand_over(kubectl, namespace, start_operator):
    operators = [start_operator() for _ in range(3)]
    leader = wait_until(lambda: leaders(operators), 30, "a leader")[0]
    time.sleep(3)  # more than a retry period: a second leader would have shown by now
    assert leaders(operators) == [leader]
    assert lease_holder(kubectl, namespace) == leader.identity()

    create_source(kubectl, namespace, "one", v="1")
    wait_for_copy(kubectl, namespace, "one", {"v": "1"})
    standbys = [op for op in operators if op is not leader]
    assert leader.reconciles() >= 1
    assert [op.reconciles() for op in standbys] == [0, 0]

    began = time.monotonic()
    leader.proc.kill()  # kill -9: no release; a standby waits out the lease
    second = wait_until(lambda: leaders(standbys), 40, "a new leader after kill -9")[0]
    took = time.monotonic() - began
    print(f"hand-over after kill -9: {took:.1f}s")
    assert took < 30, f"hand-over after kill -9 took {took:.1f}s"
    assert lease_holder(kubectl, namespace) == second.identity()

    last = next(op for op in standbys if op is not second)
    began = time.monotonic()
    second.proc.send_signal(signal.SIGTERM)  # graceful: releases the lease
    assert second.proc.wait(15) == 0
    wait_until(last.is_leader, 15, "the last replica to lead after SIGTERM")
    took = time.monotonic() - began
    print(f"hand-over after SIGTERM: {took:.1f}s")
    assert took < 10, f"hand-over after SIGTERM took {took:.1f}s"

    create_source(kubectl, namespace, "two", v="2")
    wait_for_copy(kubectl, namespace, "two", {"v": "2"})
    assert last.reconciles() >= 1
