"""Run `kubedirector run` as a real process in end-to-end tests, and read its metrics."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[3]
WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | Literal[False, 0, ""] | None],
    timeout: float,
    what: str,
    interval: float = 0.2,
) -> T:
    """Poll `condition` until it is truthy and return that value, typed without its falsy
    members so callers can use it directly."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Operator:
    """One operator process; its log file and its metrics endpoint."""

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

    def metric(self, metric_name: str, /, **labels: str) -> float:
        """The sum of a metric's samples whose labels include `labels`."""
        return sum(
            v
            for n, lab, v in self.samples()
            if n == metric_name and all(lab.get(k) == val for k, val in labels.items())
        )

    def writes(self) -> float:
        """Create/update/patch/delete requests sent so far, Lease renewals included."""
        return sum(
            v
            for n, lab, v in self.samples()
            if n == "rest_client_requests_total" and lab.get("method") in WRITE_VERBS
        )

    def stop(self, timeout: float = 20) -> None:
        stop_process(self.proc, timeout)


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def start_operator(
    kubeconfig: Path, namespace: str, log: Path, *extra: str, env: dict[str, str] | None = None
) -> Operator:
    """Start an operator whose own namespace (system catalog) and watch scope is `namespace`."""
    port = free_port()
    with log.open("a") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubedirector",
                "run",
                "--kubeconfig",
                str(kubeconfig),
                "--namespace",
                namespace,
                "--watch-namespace",
                namespace,
                "--metrics-address",
                f"127.0.0.1:{port}",
                "--log-format",
                "json",
                *extra,
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    operator = Operator(proc, port, log)
    wait_until(
        lambda: operator.get("/healthz")[0] == 200 or proc.poll() is not None, 30, "/healthz"
    )
    assert proc.poll() is None, log.read_text()
    return operator
