"""What the scale benchmarks share: the bench cluster, the cluster documents, the Ready watch.

hack/bench_clusters.py (the operator) and hack/bench_floor.py (the floor: the same
outcome from a raw client with no reconcile logic) import this, so both create the
same objects and time them with the same watch.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubedirector.cache.informer import Resource
from kubedirector.metrics.registry import REST_CLIENT_REQUESTS

REPO = Path(__file__).resolve().parent.parent
PY = REPO / ".venv" / "bin" / "python"
LOCALCLUSTER = REPO / "hack" / "localcluster.py"
CACHE = Path(os.environ.get("KD_CACHE_DIR", Path.home() / ".cache" / "kubedirector"))
DEFAULT_STATE = Path(os.environ.get("KD_BENCH_STATE", CACHE / "bench-cluster"))
SHARED_STATE = Path(os.environ.get("KD_CLUSTER_DIR", CACHE / "cluster"))
EXAMPLE = REPO / "manifests" / "examples" / "clusters" / "cr-cluster-spark221e2.yaml"
OPERATOR_NS = "kubedirector"
KDCLUSTERS = Resource(
    "kubedirector.hpe.com", "v1beta1", "kubedirectorclusters", "KubeDirectorCluster"
)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace")
EXEC = "exec"
MEMBERS_PER_CLUSTER = 4  # cr-cluster-spark221e2.yaml: controller 1, worker 2, jupyter 1


def log(msg: str) -> None:
    print(f"[bench] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0..1) of the sorted values (nearest rank); 0 if none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def own_requests() -> dict[str, float]:
    """This process's API requests so far by verb, pods/exec websockets as "exec"."""
    totals: dict[str, float] = {}
    for metric in REST_CLIENT_REQUESTS.collect():
        for s in metric.samples:
            if not s.name.endswith("_total"):
                continue
            verb = s.labels["method"]
            if verb == "GET" and s.labels.get("code") == "101":
                verb = EXEC
            totals[verb] = totals.get(verb, 0.0) + s.value
    return totals


def int_list(text: str) -> list[int]:
    """A comma-separated list of counts (each 1 or more), for argparse."""
    return [int(v) for v in _numbers(text, int, 1)]


def float_list(text: str) -> list[float]:
    """A comma-separated list of numbers (each 0 or more), for argparse."""
    return _numbers(text, float, 0)


def _numbers(text: str, kind: type[int] | type[float], minimum: float) -> list[Any]:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: not a comma-separated list of numbers"
        ) from None
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give at least one number, each {minimum} or more"
        )
    return values


def minus(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after.keys() | before.keys()}


# --------------------------------------------------------------------------- the bench cluster


class BenchCluster:
    """`localcluster.py` run with KD_CLUSTER_DIR pointing at the bench state directory."""

    def __init__(self, state: Path) -> None:
        if state.resolve() in (SHARED_STATE.resolve(), (CACHE / "cluster").resolve()):
            raise SystemExit(f"refusing to use the shared cluster directory {state}")
        self.state = state
        self.env = {**os.environ, "KD_CLUSTER_DIR": str(state)}
        self.kubeconfig = ""
        self.kubectl_bin = ""

    def localcluster(self, *args: str, timeout: float = 900) -> dict[str, str]:
        out = subprocess.run(
            [str(PY), str(LOCALCLUSTER), *args, "--json"],
            env=self.env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    def up(self, nodes: int, cpu: str, memory: str, pods: int) -> None:
        started = time.monotonic()
        info = self.localcluster(
            "up",
            "--nodes",
            str(nodes),
            "--cpu",
            cpu,
            "--memory",
            memory,
            "--pods",
            str(pods),
            "--gpu-nodes",
            "0",
        )
        self.kubeconfig = info["kubeconfig"]
        self.kubectl_bin = str(Path(info["bin_dir"]) / "kubectl")
        log(f"bench cluster up in {time.monotonic() - started:.0f}s: {self.state}")

    def down(self) -> None:
        if not self.state.exists():
            return
        try:
            self.localcluster("down", timeout=300)
        except (subprocess.SubprocessError, OSError) as e:
            log(f"localcluster down failed: {e}")

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.kubectl_bin, f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )

    def install(self) -> None:
        m = REPO / "manifests"
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(m / "crds"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(m / "crds"))
        self.kubectl("create", "namespace", OPERATOR_NS)
        for path in (m / "catalog", m / "examples" / "config" / "kd-global-config.yaml"):
            self.kubectl(
                "apply", "--server-side", "--force-conflicts", "-n", OPERATOR_NS, "-f", str(path)
            )
        # ClusterIP member Services: NodePorts (the example config's) would exhaust the
        # API server's node port range (30000-32767) at about 270 spark221e2 clusters.
        self.kubectl(
            "patch",
            "kubedirectorconfig",
            "kd-global-config",
            "-n",
            OPERATOR_NS,
            "--type=merge",
            "-p",
            '{"spec": {"defaultServiceType": "ClusterIP"}}',
        )
        log("CRDs, catalog and kd-global-config (member Services ClusterIP) installed")

    def create_namespaces(self, names: list[str]) -> None:
        self.kubectl(
            "create",
            "-f",
            "-",
            stdin="".join(
                yaml.safe_dump(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}},
                    explicit_start=True,
                )
                for n in names
            ),
        )

    def delete_namespaces(self, names: list[str], timeout: float) -> float:
        """Delete the namespaces and wait until they are gone; the seconds it took."""
        started = time.monotonic()
        self.kubectl("delete", "namespace", "--wait=false", *names)
        self.kubectl(
            "wait",
            "--for=delete",
            f"--timeout={timeout:.0f}s",
            *(f"namespace/{n}" for n in names),
            timeout=timeout + 30,
        )
        return time.monotonic() - started


# --------------------------------------------------------------------------- the clusters


def namespace_names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i:02d}" for i in range(count)]


def cluster_docs(count: int, namespaces: list[str]) -> list[dict[str, Any]]:
    """`count` copies of the spark221e2 example, `bench-000`..., round-robin over namespaces."""
    template = yaml.safe_load(EXAMPLE.read_text())
    docs = []
    for i in range(count):
        doc = copy.deepcopy(template)
        doc["metadata"] = {"name": f"bench-{i:03d}", "namespace": namespaces[i % len(namespaces)]}
        docs.append(doc)
    return docs


@dataclass
class ReadyWatch:
    """A watch on every KubeDirectorCluster; notes when each first reports Ready=True."""

    expected: set[tuple[str, str]]
    began: float = 0.0
    ready_at: dict[tuple[str, str], float] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latest: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def observe(self, obj: dict[str, Any]) -> None:
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if key not in self.expected:
            return
        with self.lock:
            self.latest[key] = obj
            if key in self.ready_at or not is_ready(obj):
                return
            self.ready_at[key] = time.monotonic()
            if len(self.ready_at) == len(self.expected):
                self.done.set()

    def on_update(self, _old: dict[str, Any], new: dict[str, Any]) -> None:
        self.observe(new)

    def times(self) -> list[float]:
        """Seconds from `began` until each Ready cluster first reported Ready."""
        with self.lock:
            return sorted(t - self.began for t in self.ready_at.values())

    def summary(self) -> str:
        with self.lock:
            states = Counter(
                str(o.get("status", {}).get("state", "-")) for o in self.latest.values()
            )
            members: Counter[str] = Counter()
            for o in self.latest.values():
                for role in o.get("status", {}).get("roles", []) or []:
                    for m in role.get("members", []) or []:
                        members[str(m.get("state", "-"))] += 1
        return (
            f"{len(self.ready_at)}/{len(self.expected)} Ready; clusters "
            f"{dict(states)}; members {dict(members)}"
        )


def is_ready(obj: dict[str, Any]) -> bool:
    generation = obj["metadata"].get("generation")
    for c in obj.get("status", {}).get("conditions", []) or []:
        if c.get("type") == "Ready":
            return (
                c.get("status") == "True" and c.get("observedGeneration", generation) == generation
            )
    return False
