#!/usr/bin/env python3
"""Benchmark the operator at scale against the floor this control plane sets.

Brings up its own local cluster in a separate state directory (never the shared
dev/test one), sized for the largest run; installs the CRDs, the catalog and
kd-global-config in namespace `kubedirector`. Then, for each size in `--sizes`
(default 100 and 1,000 copies of manifests/examples/clusters/cr-cluster-spark221e2.yaml,
`--per-namespace` to a namespace):
  1. the floor (hack/bench_floor.py): the same clusters driven to Ready by a raw
     client with no reconcile logic, in namespaces `floor-NN`, which are then deleted;
     at the first size once per `--floor-threads`, the fastest kept and its thread
     count used at the other sizes;
  2. for each worker count in `--workers` and each `--kube-api-qps`, a fresh operator
     process (`kubedirector run --workers W --no-leader-elect`), and with it
     - base: its RSS and CPU idle with no cluster;
     - creation until every cluster has Ready=True (a watch, observedGeneration
       current): wall, median and 90th percentile per cluster; API requests per
       cluster by verb (its /metrics; pods/exec websockets shown as "exec");
       reconciles and their mean duration; operator CPU seconds; peak RSS (VmHWM);
     - idle for `--idle` seconds at the largest size, `--idle-small` at the others:
       requests, writes, CPU;
     - what each of its informers holds (rebuilt in this process; `--no-caches`: skip);
     - drift repair: `--drift` member Services deleted across clusters, the time
       until each is back (median, max);
     - delete all: the time until every cluster, pod, StatefulSet and Service is gone.
Every operator figure is also given as a ratio to the floor's, and the targets of
issue 14 are printed with the measured value (not asserted anywhere). `--profile`
samples the operator with py-spy (`pip install py-spy`) during creation and idle
and prints where the time goes. The report replaces "## Clusters" in BENCHMARKS.md
unless `--no-record`.

    .venv/bin/python hack/bench_clusters.py [--sizes 100,1000] [--workers 4]
        [--idle 300] [--drift 20] [--profile] [--note TEXT] [--no-record] [--keep]
    .venv/bin/python hack/bench_clusters.py --down      # remove a --keep'd bench cluster
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from bench_floor import FloorResult, run_floor
from benchlib import (
    CACHE,
    DEFAULT_STATE,
    EXEC,
    KDCLUSTERS,
    MEMBERS_PER_CLUSTER,
    OPERATOR_NS,
    PY,
    REPO,
    BenchCluster,
    ReadyWatch,
    cluster_docs,
    float_list,
    int_list,
    log,
    namespace_names,
    percentile,
)
from prometheus_client.parser import text_string_to_metric_families

from kubedirector.api.constants import LABEL_CLUSTER
from kubedirector.cache.factory import InformerFactory
from kubedirector.cache.informer import Informer
from kubedirector.kube import new_api_client, request_json, resource_path
from kubedirector.logging import configure_logging
from kubedirector.resources import (
    APPS,
    CLUSTERS,
    CONFIGMAPS,
    CONFIGS,
    CONNECTED_CONFIGMAP_SELECTOR,
    CONNECTED_SECRET_SELECTOR,
    OWNED_KINDS,
    OWNED_SELECTOR,
    PODS,
    SECRETS,
    SERVICES,
    STATEFULSETS,
    STATUS_BACKUPS,
)

WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")
VERBS = ("GET", EXEC, "LIST", "WATCH", *WRITE_VERBS)
BENCHMARKS = REPO / "BENCHMARKS.md"
SECTION = "## Clusters"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PODS_PER_NODE = 110
# Issue 14's targets: printed with the measured values, never asserted.
TARGET_FLOOR_RATIO = 1.3
TARGET_PEAK_RSS_MIB = 250.0  # at 1,000 clusters
TARGET_KIB_PER_CLUSTER = 150.0
TARGET_IDLE_CPU_PERCENT = 0.5
TARGET_DRIFT_MEDIAN = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the operator


@dataclass
class Usage:
    """One reading of the operator's counters."""

    at: float
    cpu_seconds: float
    requests: dict[str, float]  # by verb
    reconciles: dict[tuple[str, str], float]  # (controller, result)
    errors: dict[str, float]  # by controller
    setup_runs: dict[str, float]  # by result
    pending: float = 0.0  # queued keys plus reconciles in flight, every controller
    reconcile_seconds: float = 0.0  # time spent in reconciles, every controller
    throttled_seconds: float = 0.0  # requests' waits on the client-side rate limiter

    def minus(self, before: Usage) -> Usage:
        def sub(a: dict[Any, float], b: dict[Any, float]) -> dict[Any, float]:
            return {k: a.get(k, 0.0) - b.get(k, 0.0) for k in a.keys() | b.keys()}

        return Usage(
            self.at - before.at,
            self.cpu_seconds - before.cpu_seconds,
            sub(self.requests, before.requests),
            sub(self.reconciles, before.reconciles),
            sub(self.errors, before.errors),
            sub(self.setup_runs, before.setup_runs),
            self.pending,
            self.reconcile_seconds - before.reconcile_seconds,
            self.throttled_seconds - before.throttled_seconds,
        )

    def writes(self) -> float:
        return sum(self.requests.get(v, 0.0) for v in WRITE_VERBS)


@dataclass
class Operator:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @classmethod
    def start(cls, kubeconfig: str, workers: int, log_path: Path, extra: list[str]) -> Operator:
        port = free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as out:
            proc = subprocess.Popen(
                [
                    str(PY),
                    "-m",
                    "kubedirector",
                    "run",
                    "--kubeconfig",
                    kubeconfig,
                    "--namespace",
                    OPERATOR_NS,
                    "--no-leader-elect",
                    "--metrics-address",
                    f"127.0.0.1:{port}",
                    "--log-format",
                    "json",
                    "--workers",
                    str(workers),
                    *extra,
                ],
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        op = cls(proc, port, log_path)
        deadline = time.monotonic() + 60
        while op.get("/readyz")[0] != 200:
            if proc.poll() is not None:
                raise SystemExit(f"the operator exited ({proc.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the operator was not ready in 60 s; see {log_path}")
            time.sleep(0.3)
        log(f"operator ready (pid {proc.pid}, metrics 127.0.0.1:{port}, log {log_path})")
        return op

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def usage(self) -> Usage:
        status, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        cpu = self.cpu_seconds()  # read right after the scrape, which costs CPU itself
        u = Usage(time.monotonic(), cpu, {}, {}, {}, {}, 0.0)
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                if s.name == "rest_client_requests_total":
                    verb = s.labels.get("method", "?")
                    if verb == "GET" and s.labels.get("code") == "101":
                        verb = EXEC  # a pods/exec websocket (the executor counts it as GET)
                    u.requests[verb] = u.requests.get(verb, 0.0) + s.value
                elif s.name == "controller_runtime_reconcile_total":
                    key = (s.labels.get("controller", "?"), s.labels.get("result", "?"))
                    u.reconciles[key] = s.value
                elif s.name == "controller_runtime_reconcile_errors_total":
                    u.errors[s.labels.get("controller", "?")] = s.value
                elif s.name == "kubedirector_setup_runs_total":
                    u.setup_runs[s.labels.get("result", "?")] = s.value
                elif s.name == "controller_runtime_reconcile_time_seconds_sum":
                    u.reconcile_seconds += s.value
                elif s.name == "rest_client_rate_limiter_duration_seconds_sum":
                    u.throttled_seconds += s.value
                elif s.name in ("workqueue_depth", "controller_runtime_active_workers"):
                    u.pending += s.value
        return u

    def settle(self, timeout: float) -> tuple[float, bool]:
        """Wait until no controller has queued or running work (twice in a row)."""
        began = time.monotonic()
        quiet = 0
        while time.monotonic() - began < timeout:
            quiet = quiet + 1 if self.usage().pending == 0 else 0
            if quiet >= 2:
                return time.monotonic() - began, True
            time.sleep(0.25)
        return time.monotonic() - began, False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        log(f"operator stopped (exit {self.proc.returncode})")

    def log_problems(self) -> Counter[str]:
        """Warning and error log lines, counted by level and event."""
        found: Counter[str] = Counter()
        if not self.log_path.exists():
            return found
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if "Traceback" in line or "Error" in line:
                    found[f"non-json: {line[:120]}"] += 1
                continue
            level = str(rec.get("level", "")).lower()
            if level in ("warning", "warn", "error", "critical", "exception"):
                found[f"{level}: {rec.get('event', '?')}"] += 1
        return found


# --------------------------------------------------------------------------- profiling


class Profiler:
    """`py-spy record` on the operator until stopped; `top()` says where the samples went."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        exe = shutil.which("py-spy") or str(PY.parent / "py-spy")
        if not Path(exe).exists():
            log("py-spy not found (pip install py-spy): no profile")
            return
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "50",
                "--nonblocking",
                "--threads",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> list[str]:
        if self.proc is None:
            return []
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        return top_frames(self.out) if self.out.exists() else []


def top_frames(raw: Path, count: int = 8) -> list[str]:
    """From py-spy's collapsed stacks: the leaf frames and the kubedirector functions
    (inclusive) with the most samples, idle waits left out."""
    leaf: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    idle = (
        "wait (threading.py",
        "select (selectors.py",
        "_recv_into",
        "recv_into",
        "readinto (socket.py",
        "sleep",
        "get (queue.py",
        "_worker (concurrent",
    )
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        if any(frames[-1].startswith(i) or i in frames[-1] for i in idle):
            continue
        total += int(n)
        leaf[re.sub(r":\d+\)", ")", frames[-1])] += int(n)
        for f in {re.sub(r":\d+\)", ")", f) for f in frames if "kubedirector/" in f}:
            ours[f] += int(n)
    if not total:
        return []
    lines = [f"busy samples {total:,} (threads waiting on I/O or locks left out)"]
    lines += [f"leaf {100 * n / total:.0f} %: {f}" for f, n in leaf.most_common(count)]
    lines += [f"in {100 * n / total:.0f} %: {f}" for f, n in ours.most_common(count)]
    return lines


# --------------------------------------------------------------------------- a run


@dataclass
class OperatorRun:
    """One operator process at one size: base, creation, idle, drift, delete all."""

    size: int
    workers: int
    qps: float | None = None  # the operator's --kube-api-qps; None: its default
    idle_window: float = 0.0  # seconds idle after the creation (0: not measured)
    base_rss_kib: int = 0
    base_cpu_percent: float = 0.0
    create_seconds: float = 0.0
    ready_count: int = 0
    ready_seconds: float = 0.0
    ready_p50: float = 0.0
    ready_p90: float = 0.0
    settle_seconds: float = 0.0
    load_at_ready: float = 0.0
    busy: Usage | None = None
    peak_rss_kib: int = 0
    rss_kib: int = 0  # once the creation settled
    idle_seconds: float = 0.0
    idle: Usage | None = None
    idle_timeline: list[tuple[float, float, float]] = field(default_factory=list)
    drift: list[float] = field(default_factory=list)
    drift_missing: int = 0
    delete_seconds: float | None = None
    profile_busy: list[str] = field(default_factory=list)
    profile_idle: list[str] = field(default_factory=list)
    log_problems: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    caches: list[CacheSize] = field(default_factory=list)

    def label(self) -> str:
        qps = "" if self.qps is None else f" --kube-api-qps {self.qps:g}"
        return f"--workers {self.workers}{qps}"


@dataclass
class SizeRun:
    size: int
    namespaces: int
    floor: FloorResult | None = None  # the fastest complete one of floor_tries
    floor_tries: list[FloorResult] = field(default_factory=list)
    floor_delete_seconds: float = 0.0
    runs: list[OperatorRun] = field(default_factory=list)


class DriftWatch:
    """Notes when each deleted Service is back (same name, new UID)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deleted: dict[str, tuple[str, float]] = {}  # key -> (old uid, deleted at)
        self.back: dict[str, float] = {}

    def on_add(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        with self.lock:
            gone = self.deleted.get(key)
            if gone is not None and gone[0] != meta.get("uid") and key not in self.back:
                self.back[key] = time.monotonic() - gone[1]


def count_left(api: Any, namespaces: set[str]) -> dict[str, int]:
    """Clusters, pods, StatefulSets and Services (with the cluster label) left in `namespaces`."""
    left: dict[str, int] = {}
    for name, res, selector in (
        ("clusters", KDCLUSTERS, None),
        ("pods", PODS, OWNED_SELECTOR),
        ("statefulsets", STATEFULSETS, OWNED_SELECTOR),
        ("services", SERVICES, OWNED_SELECTOR),
    ):
        query: dict[str, Any] = {"limit": 500}
        if selector:
            query["labelSelector"] = selector
        n, token = 0, ""
        while True:
            page = request_json(
                api,
                "GET",
                resource_path(res.group, res.version, res.plural),
                query={**query, **({"continue": token} if token else {})},
            )
            n += sum(
                1 for o in page.get("items") or [] if o["metadata"].get("namespace") in namespaces
            )
            token = page.get("metadata", {}).get("continue", "")
            if not token:
                break
        left[name] = n
    return left


def operator_run(
    args: argparse.Namespace, cluster: BenchCluster, size: int, workers: int, qps: float | None
) -> OperatorRun:
    largest = size == max(args.sizes)
    run = OperatorRun(size, workers, qps, args.idle if largest else min(args.idle, args.idle_small))
    extra = [*args.operator_arg, *([f"--kube-api-qps={qps:g}"] if qps is not None else [])]
    op = Operator.start(cluster.kubeconfig, workers, args.operator_log, extra)
    try:
        op_measure(args, cluster, op, run)
    except BaseException as e:
        run.notes.append(f"run failed: {e!r}")
        raise
    finally:
        if op.proc.poll() is None:
            run.peak_rss_kib = op.status_kib("VmHWM")
        op.stop()
        run.log_problems = op.log_problems()
    return run


def op_measure(
    args: argparse.Namespace, cluster: BenchCluster, op: Operator, run: OperatorRun
) -> None:
    op.settle(30)
    start = op.usage()
    time.sleep(args.base_window)
    base = op.usage().minus(start)
    run.base_rss_kib = op.status_kib("VmRSS")
    run.base_cpu_percent = 100 * base.cpu_seconds / max(base.at, 1e-9)
    log(
        f"operator base: RSS {run.base_rss_kib / 1024:.0f} MiB, "
        f"CPU {run.base_cpu_percent:.2f} % of one core"
    )
    names = namespace_names("bench", math.ceil(run.size / args.per_namespace))
    docs = cluster_docs(run.size, names)
    cluster.create_namespaces(names)
    api = new_api_client(cluster.kubeconfig)
    watch = ReadyWatch({(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs})
    ready = Informer(api, KDCLUSTERS, name="bench-ready")
    ready.add_handlers(on_add=watch.observe, on_update=watch.on_update)
    drift = DriftWatch()
    services = Informer(api, SERVICES, label_selector=OWNED_SELECTOR, name="bench-services")
    services.add_handlers(on_add=drift.on_add)
    for informer in (ready, services):
        informer.start()
        if not informer.wait_for_sync(60):
            raise SystemExit(f"the bench's own {informer.name} watch did not sync")
    try:
        creation(args, cluster, op, run, watch, docs)
        if run.idle_window > 0:
            idle(args, op, run)
        if args.drift > 0:
            drift_repair(args, api, services, drift, run)
        if args.caches:
            run.caches = cache_sizes(cluster.kubeconfig)
        run.delete_seconds = delete_all(args, cluster, api, set(names))
        cluster.delete_namespaces(names, 900)
    finally:
        ready.stop()
        services.stop()
        api.close()


def creation(
    args: argparse.Namespace,
    cluster: BenchCluster,
    op: Operator,
    run: OperatorRun,
    watch: ReadyWatch,
    docs: list[dict[str, Any]],
) -> None:
    before = op.usage()
    profiler = (
        Profiler(op.proc.pid, CACHE / f"bench-profile-{run.size}-busy.txt")
        if (args.profile)
        else None
    )
    log(f"creating {run.size} clusters (operator --workers {run.workers})")
    watch.began = time.monotonic()
    cluster.kubectl(
        "create", "-f", "-", stdin="".join(yaml.safe_dump(d, explicit_start=True) for d in docs)
    )
    run.create_seconds = time.monotonic() - watch.began
    log(f"created in {run.create_seconds:.1f}s; waiting for Ready")
    deadline = watch.began + args.timeout
    while not watch.done.wait(30):
        if op.proc.poll() is not None:
            raise SystemExit(f"the operator exited ({op.proc.returncode}); see {op.log_path}")
        log(watch.summary())
        if time.monotonic() > deadline:
            run.notes.append(f"timed out after {args.timeout}s: {watch.summary()}")
            log(run.notes[-1])
            break
    if profiler is not None:
        run.profile_busy = profiler.stop()
    # The reconcile that reports a cluster Ready still writes its Events afterwards:
    # count that tail with the creation, and start the idle window once all is quiet.
    run.load_at_ready = os.getloadavg()[0]
    run.settle_seconds, settled = op.settle(120)
    if not settled:
        run.notes.append(
            f"the work queues were still busy {run.settle_seconds:.0f} s after the last Ready"
        )
    run.busy = op.usage().minus(before)
    run.peak_rss_kib = op.status_kib("VmHWM")
    run.rss_kib = op.status_kib("VmRSS")
    times = watch.times()
    run.ready_count = len(times)
    run.ready_seconds = times[-1] if times else 0.0
    run.ready_p50 = percentile(times, 0.5)
    run.ready_p90 = percentile(times, 0.9)
    log(
        f"{run.ready_count}/{run.size} Ready after {run.ready_seconds:.1f}s "
        f"(median {run.ready_p50:.1f}s); peak RSS {run.peak_rss_kib / 1024:.0f} MiB"
    )


def idle(args: argparse.Namespace, op: Operator, run: OperatorRun) -> None:
    log(f"idle for {run.idle_window:.0f}s")
    profiler = (
        Profiler(op.proc.pid, CACHE / f"bench-profile-{run.size}-idle.txt")
        if (args.profile)
        else None
    )
    start = prev = op.usage()
    end = start.at + run.idle_window
    while True:
        time.sleep(max(0.0, min(args.sample, end - time.monotonic())))
        now = op.usage()
        step = now.minus(prev)
        run.idle_timeline.append((now.at - start.at, step.writes(), sum(step.requests.values())))
        if step.writes():
            log(
                f"  {step.writes():.0f} writes in the last {step.at:.0f}s: "
                f"{ {k: v for k, v in step.requests.items() if v} }"
            )
        prev = now
        if now.at >= end:
            break
    run.idle = prev.minus(start)
    run.idle_seconds = run.idle.at
    if profiler is not None:
        run.profile_idle = profiler.stop()


def drift_repair(
    args: argparse.Namespace, api: Any, services: Informer, drift: DriftWatch, run: OperatorRun
) -> None:
    """Delete `--drift` member Services, each of another cluster where there are enough."""
    by_cluster: dict[str, list[dict[str, Any]]] = {}
    for svc in services.store.list():
        meta = svc["metadata"]
        if svc["spec"].get("clusterIP") == "None" or not meta["namespace"].startswith("bench-"):
            continue  # the headless Service is not a member's
        by_cluster.setdefault(f"{meta['namespace']}/{meta['labels'][LABEL_CLUSTER]}", []).append(
            svc
        )
    rng = random.Random(14)
    picks: list[dict[str, Any]] = []
    keys = sorted(by_cluster)
    rng.shuffle(keys)
    while len(picks) < args.drift and any(by_cluster[k] for k in keys):
        for k in keys:
            if by_cluster[k] and len(picks) < args.drift:
                picks.append(by_cluster[k].pop(rng.randrange(len(by_cluster[k]))))
    log(f"drift: deleting {len(picks)} member Services")
    for svc in picks:
        meta = svc["metadata"]
        # Noted before the request: the operator may put it back before the answer arrives.
        with drift.lock:
            drift.deleted[f"{meta['namespace']}/{meta['name']}"] = (meta["uid"], time.monotonic())
        request_json(
            api,
            "DELETE",
            resource_path("", "v1", "services", namespace=meta["namespace"], name=meta["name"]),
        )
    deadline = time.monotonic() + args.drift_timeout
    while time.monotonic() < deadline:
        with drift.lock:
            if len(drift.back) == len(drift.deleted):
                break
        time.sleep(0.1)
    with drift.lock:
        run.drift = sorted(drift.back.values())
        run.drift_missing = len(drift.deleted) - len(drift.back)
    log(
        f"drift: {len(run.drift)} back (median {percentile(run.drift, 0.5):.2f}s), "
        f"{run.drift_missing} not back in {args.drift_timeout:.0f}s"
    )


def delete_all(
    args: argparse.Namespace, cluster: BenchCluster, api: Any, namespaces: set[str]
) -> float | None:
    """Delete every cluster; seconds until their clusters, pods, StatefulSets, Services are gone."""
    log("deleting every cluster")
    began = time.monotonic()
    for ns in sorted(namespaces):
        cluster.kubectl("delete", "kubedirectorclusters", "--all", "-n", ns, "--wait=false")
    while time.monotonic() - began < args.timeout:
        left = count_left(api, namespaces)
        if not any(left.values()):
            seconds = time.monotonic() - began
            log(f"everything gone after {seconds:.1f}s")
            return seconds
        time.sleep(1.0)
    log(f"still there after {args.timeout:.0f}s: {count_left(api, namespaces)}")
    return None


def floor_run(args: argparse.Namespace, cluster: BenchCluster, size_run: SizeRun) -> None:
    """The floor once per `--floor-threads`; the fastest complete one is the floor."""
    names = namespace_names("floor", size_run.namespaces)
    for threads in args.floor_threads:
        cluster.create_namespaces(names)
        tried = run_floor(
            cluster.kubeconfig, cluster_docs(size_run.size, names), threads, args.timeout
        )
        size_run.floor_tries.append(tried)
        size_run.floor_delete_seconds = cluster.delete_namespaces(names, 900)
        log(f"floor namespaces deleted in {size_run.floor_delete_seconds:.0f}s")
    complete = [f for f in size_run.floor_tries if f.ready_count == f.clusters and not f.errors]
    size_run.floor = min(complete or size_run.floor_tries, key=lambda f: f.ready_seconds)
    args.floor_threads = [size_run.floor.threads]  # the larger sizes: the fastest only


# --------------------------------------------------------------------------- cache sizes


@dataclass
class CacheSize:
    """What one of the operator's informers holds, rebuilt in this process."""

    resource: str
    objects: int
    bytes: int  # tracemalloc: the store, its indexes, the objects after the transform


def cache_sizes(kubeconfig: str) -> list[CacheSize]:
    """The operator's cluster-wide informers (same resources, selectors, transforms),
    each synced alone under tracemalloc: where the operator's memory per cluster goes."""
    watched = [
        *((kind, OWNED_SELECTOR) for kind in OWNED_KINDS),
        (CLUSTERS, None),
        (STATUS_BACKUPS, None),
        (CONFIGMAPS, CONNECTED_CONFIGMAP_SELECTOR),
        (SECRETS, CONNECTED_SECRET_SELECTOR),
        (APPS, None),
        (CONFIGS, None),
    ]
    api = new_api_client(kubeconfig)
    out: list[CacheSize] = []
    try:
        for resource, selector in watched:
            gc.collect()
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            informer = InformerFactory(api).informers(resource, selector)[0]
            informer.start()
            synced = informer.wait_for_sync(300)
            informer.stop()
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            if not synced:
                log(f"caches: {resource.plural} did not sync")
            out.append(CacheSize(resource.plural, len(informer.store), held - base))
            del informer
    finally:
        api.close()
    log(
        "caches: "
        + ", ".join(f"{c.resource} {c.objects:,} in {c.bytes / 1024:,.0f} KiB" for c in out)
    )
    return out


# --------------------------------------------------------------------------- report


def ratio(value: float, floor: float | None) -> str:
    return f" ({value / floor:.2f}x)" if floor else ""


def seconds_cell(value: float, floor: float | None) -> str:
    return f"{value:.1f} s{ratio(value, floor)}"


def size_table(s: SizeRun) -> list[str]:
    f = s.floor
    header = [
        "| " + f"{s.size:,} clusters ({s.size * MEMBERS_PER_CLUSTER:,} members)",
        f"floor, {f.threads} threads" if f else "floor",
    ] + [f"operator, {r.label()}" + (" (x floor)" if f else "") for r in s.runs]
    rows: list[list[str]] = []

    def row(label: str, floor_cell: str, cells: list[str]) -> None:
        rows.append([label, floor_cell, *cells])

    complete = f is not None and f.ready_count == f.clusters
    fs = f.ready_seconds if f is not None and complete else None
    f50 = f.ready_p50 if f is not None and complete else None
    f90 = f.ready_p90 if f is not None and complete else None
    row(
        "clusters Ready", f"{f.ready_count:,}" if f else "-", [f"{r.ready_count:,}" for r in s.runs]
    )
    row(
        "wall, first create to last Ready",
        f"{f.ready_seconds:.1f} s" if f else "-",
        [seconds_cell(r.ready_seconds, fs) for r in s.runs],
    )
    row(
        "median cluster, create to Ready",
        f"{f.ready_p50:.1f} s" if f else "-",
        [seconds_cell(r.ready_p50, f50) for r in s.runs],
    )
    row(
        "90th percentile cluster",
        f"{f.ready_p90:.1f} s" if f else "-",
        [seconds_cell(r.ready_p90, f90) for r in s.runs],
    )
    row(
        "the creates took",
        f"{f.create_seconds:.1f} s (and the derived objects)" if f else "-",
        [f"{r.create_seconds:.1f} s" for r in s.runs],
    )
    for verb in VERBS:
        fv = (f.requests.get(verb, 0.0) / s.size) if f else 0.0
        ops = [(r.busy.requests.get(verb, 0.0) / s.size) if r.busy else 0.0 for r in s.runs]
        if fv or any(ops):
            row(
                f"{verb} requests per cluster",
                f"{fv:.1f}" if f else "-",
                [f"{v:.1f}{ratio(v, fv)}" for v in ops],
            )
    row(
        "CPU seconds (floor: its client only)",
        f"{f.cpu_seconds:.1f} s" if f else "-",
        [
            f"{r.busy.cpu_seconds:.1f} s ({r.busy.cpu_seconds / s.size:.3f} s per cluster)"
            if r.busy
            else "-"
            for r in s.runs
        ],
    )
    row("peak RSS (VmHWM)", "-", [f"{r.peak_rss_kib / 1024:.0f} MiB" for r in s.runs])
    row("RSS once settled", "-", [f"{r.rss_kib / 1024:.0f} MiB" for r in s.runs])
    row(
        "base: RSS, CPU with no cluster",
        "-",
        [f"{r.base_rss_kib / 1024:.0f} MiB, {r.base_cpu_percent:.2f} % of a core" for r in s.runs],
    )

    def recs(r: OperatorRun) -> str:
        if r.busy is None:
            return "-"
        n = sum(r.busy.reconciles.values())
        mean = r.busy.reconcile_seconds / max(n, 1)
        errors = sum(r.busy.errors.values())
        return f"{n:,.0f} (mean {mean:.2f} s, {errors:,.0f} errors)"

    row("reconciles", "-", [recs(r) for r in s.runs])
    row(
        "requests' waits on the client-side rate limiter",
        "-",
        [f"{r.busy.throttled_seconds:,.1f} s in all" if r.busy else "-" for r in s.runs],
    )
    row("queues empty after the last Ready", "-", [f"{r.settle_seconds:.1f} s" for r in s.runs])
    row("load average when the last was Ready", "-", [f"{r.load_at_ready:.1f}" for r in s.runs])

    def idle_cell(r: OperatorRun) -> str:
        if r.idle is None:
            return "not measured"
        total = sum(r.idle.requests.values())
        return (
            f"{r.idle_seconds:.0f} s: {total:,.0f} requests, {r.idle.writes():,.0f} writes, "
            f"{sum(r.idle.reconciles.values()):,.0f} reconciles, "
            f"{100 * r.idle.cpu_seconds / max(r.idle.at, 1):.2f} % of a core "
            f"(with the bench's {len(r.idle_timeline)} scrapes of /metrics)"
        )

    row("idle", "-", [idle_cell(r) for r in s.runs])
    row(
        "drift repair (member Services deleted)",
        "-",
        [
            f"{len(r.drift) + r.drift_missing}: median {percentile(r.drift, 0.5):.2f} s, max "
            f"{max(r.drift, default=0):.2f} s"
            + (f", {r.drift_missing} not back" if r.drift_missing else "")
            if r.drift or r.drift_missing
            else "not measured"
            for r in s.runs
        ],
    )
    row(
        "delete all, until every object is gone",
        "-",
        [
            f"{r.delete_seconds:.1f} s" if r.delete_seconds is not None else "not done"
            for r in s.runs
        ],
    )
    row(
        "caches (the operator's informers, rebuilt by the bench)",
        "-",
        [
            "; ".join(
                f"{c.resource} {c.objects:,}: {c.bytes / 1024:,.0f} KiB"
                for c in r.caches
                if c.objects
            )
            + f"; in all {sum(c.bytes for c in r.caches) / 1024:,.0f} KiB"
            if r.caches
            else "not measured"
            for r in s.runs
        ],
    )
    if f is None:  # --no-floor: no floor column
        header = [header[0], *header[2:]]
        rows = [[r[0], *r[2:]] for r in rows]
    lines = [" | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def targets(sizes: list[SizeRun]) -> list[str]:
    """Issue 14's targets beside what was measured (printed, not asserted)."""
    out = ["| target | measured | met |", "|---|---|---|"]

    def line(target: str, measured: str, met: bool | None) -> None:
        out.append(
            f"| {target} | {measured} | "
            f"{'yes' if met else 'no' if met is not None else 'not measured'} |"
        )

    for s in sizes:
        for r in s.runs:
            f = s.floor
            if f and f.ready_count == f.clusters and r.ready_count == r.size:
                x = r.ready_seconds / f.ready_seconds
                line(
                    f"{s.size:,} clusters, {r.label()}: wall within "
                    f"{TARGET_FLOOR_RATIO}x of the floor",
                    f"{x:.2f}x",
                    x <= TARGET_FLOOR_RATIO,
                )
            else:
                why = "no floor (--no-floor)" if f is None else "floor or operator incomplete"
                line(
                    f"{s.size:,} clusters, {r.label()}: wall within "
                    f"{TARGET_FLOOR_RATIO}x of the floor",
                    why,
                    None,
                )
    big = max(sizes, key=lambda s: s.size)
    if big.runs:
        r = big.runs[0]
        rss = r.peak_rss_kib / 1024
        line(
            f"peak RSS under {TARGET_PEAK_RSS_MIB:.0f} MiB at 1,000 clusters",
            f"{rss:.0f} MiB at {big.size:,}",
            rss < TARGET_PEAK_RSS_MIB if big.size >= 1000 else None,
        )
    measured = [s for s in sizes if s.runs and s.runs[0].ready_count == s.size]
    if len(measured) >= 2:
        lo, hi = min(measured, key=lambda s: s.size), max(measured, key=lambda s: s.size)
        per = (hi.runs[0].rss_kib - lo.runs[0].rss_kib) / (hi.size - lo.size)
        line(
            f"memory per cluster under {TARGET_KIB_PER_CLUSTER:.0f} KiB (RSS once settled, "
            f"{lo.size:,} vs {hi.size:,})",
            f"{per:.0f} KiB",
            per < TARGET_KIB_PER_CLUSTER,
        )
    else:
        line(f"memory per cluster under {TARGET_KIB_PER_CLUSTER:.0f} KiB", "needs two sizes", None)
    for s in sizes:
        for r in s.runs[:1]:
            line(
                f"base ({s.size:,}-cluster run): an idle operator with no cluster",
                f"RSS {r.base_rss_kib / 1024:.0f} MiB, {r.base_cpu_percent:.2f} % of a core",
                True,
            )
            if r.idle is not None:
                cpu = 100 * r.idle.cpu_seconds / max(r.idle.at, 1)
                line(
                    f"{s.size:,} clusters idle: zero writes",
                    f"{r.idle.writes():,.0f}",
                    r.idle.writes() == 0,
                )
                line(
                    f"{s.size:,} clusters idle: under {TARGET_IDLE_CPU_PERCENT} % of a core",
                    f"{cpu:.2f} %",
                    cpu < TARGET_IDLE_CPU_PERCENT,
                )
            if r.drift:
                med = percentile(r.drift, 0.5)
                line(
                    f"{s.size:,} clusters: drift repaired within {TARGET_DRIFT_MEDIAN:.0f} s "
                    "at the median",
                    f"{med:.2f} s",
                    med < TARGET_DRIFT_MEDIAN and not r.drift_missing,
                )
    return out


def report(args: argparse.Namespace, sizes: list[SizeRun], command: str, host: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        args.section,
        "",
        "`hack/bench_clusters.py`: copies of `cr-cluster-spark221e2.yaml` (catalog app",
        "`spark221e2` with its setup package, so every member runs `--configure` through",
        f"exec; 4 members of 2 CPU / 4Gi each), {args.per_namespace} to a namespace. Its own",
        f"local cluster: {args.nodes} simulated nodes of {args.cpu} CPU, {args.memory}, "
        f"{args.pods} pods, in a separate state directory. The floor is",
        *(
            [
                "`hack/bench_floor.py` in the same run and cluster (a raw client that makes only",
                "the requests the outcome needs, its members' setups on "
                f"{', '.join(map(str, sorted({t.threads for z in sizes for t in z.floor_tries})))}"
                " threads: at the first size each, the fastest kept for the others); every",
                "operator figure in parentheses is its ratio to the floor's.",
            ]
            if not args.no_floor
            else ["skipped in this run (`--no-floor`)."]
        ),
        "The operator is a local process",
        "with `--no-leader-elect` (so no Lease requests), a fresh one per size.",
        f"{stamp}; {host}.",
        *([args.note] if args.note else []),
        "",
        "```",
        command,
        "```",
        "",
    ]
    for s in sizes:
        lines += [*size_table(s), ""]
        for r in s.runs:
            for title, prof in (("creation", r.profile_busy), ("idle", r.profile_idle)):
                if prof:
                    lines += [
                        f"py-spy, {s.size:,} clusters, {title} ({r.label()}):",
                        "",
                        "```",
                        *prof,
                        "```",
                        "",
                    ]
            if r.log_problems:
                lines += [
                    f"Operator log warnings/errors ({r.label()}): "
                    + "; ".join(f"{k} x{v}" for k, v in r.log_problems.most_common(8))
                    + ".",
                    "",
                ]
            if r.idle is not None and r.idle.writes():
                lines += [
                    "Idle writes by window (seconds into the idle period: writes): "
                    + ", ".join(f"{t:.0f}: {w:.0f}" for t, w, _ in r.idle_timeline if w)
                    + ".",
                    "",
                ]
            lines += [*(f"{note}" for note in r.notes), ""] if r.notes else []
        if len(s.floor_tries) > 1:
            lines += [
                "The floor by setup threads (first create to last Ready): "
                + ", ".join(
                    f"{t.threads}: {t.ready_seconds:.1f} s"
                    + ("" if t.ready_count == t.clusters else f" ({t.ready_count:,} Ready)")
                    for t in s.floor_tries
                )
                + ".",
                "",
            ]
        if s.floor and s.floor.exec_retries:
            lines += [f"The floor retried {s.floor.exec_retries} execs that failed under load.", ""]
        if s.floor and s.floor.errors:
            lines += [f"Floor errors ({len(s.floor.errors)}): " + "; ".join(s.floor.errors[:3]), ""]
    lines += ["Targets (issue 14; printed, not asserted):", "", *targets(sizes), ""]
    return "\n".join(lines)


def record(section: str, heading: str) -> None:
    """Replace (or append) the section under `heading` in BENCHMARKS.md, leaving the others."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(text.rstrip("\n") + "\n")


def machine() -> str:
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    load = os.getloadavg()
    try:
        tree = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        tree = ""
    return (
        (f"commit {tree}, " if tree else "")
        + f"{os.cpu_count()} cores, {mem_kib / 2**20:.0f} GiB, CPython "
        f"{platform.python_version()}, load average {load[0]:.1f} at the start"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int_list,
        default=[100, 1000],
        help="cluster counts, comma-separated (default 100,1000)",
    )
    parser.add_argument("--per-namespace", type=int, default=10, help="clusters per namespace")
    parser.add_argument(
        "--workers",
        type=int_list,
        default=[16],
        help="the operator's --workers; several (comma-separated) run each",
    )
    parser.add_argument(
        "--operator-arg",
        action="append",
        default=[],
        help="one more argument for `kubedirector run` (repeat)",
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the floor")
    parser.add_argument(
        "--floor-threads",
        type=int_list,
        default=[32, 64],
        help="the floor's setup threads; several (comma-separated): each once, fastest kept",
    )
    parser.add_argument(
        "--kube-api-qps",
        type=float_list,
        default=[],
        help="the operator's --kube-api-qps; several (comma-separated) run each (default: its own)",
    )
    parser.add_argument(
        "--no-caches",
        dest="caches",
        action="store_false",
        help="skip measuring the operator's informer caches by resource (measured by default)",
    )
    parser.add_argument(
        "--base-window",
        type=float,
        default=20,
        help="seconds the operator idles with no cluster (its base)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=300,
        help="idle window at the largest size, seconds (0: skip)",
    )
    parser.add_argument(
        "--idle-small",
        type=float,
        default=60,
        help="idle window at the other sizes, seconds (at most --idle)",
    )
    parser.add_argument(
        "--sample", type=float, default=30, help="seconds between metric readings while idle"
    )
    parser.add_argument(
        "--drift",
        type=int,
        default=20,
        help="member Services deleted to time drift repair (0: skip)",
    )
    parser.add_argument("--drift-timeout", type=float, default=120)
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="give up waiting for Ready (or for deletion) after this many seconds",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="simulated nodes (default: enough for the largest size)",
    )
    parser.add_argument("--cpu", default="256")
    parser.add_argument("--memory", default="1Ti")
    parser.add_argument("--pods", type=int, default=PODS_PER_NODE)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the operator with py-spy during creation and idle",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE,
        help="the bench cluster's KD_CLUSTER_DIR (default %(default)s)",
    )
    parser.add_argument(
        "--operator-log",
        type=Path,
        default=CACHE / "bench-operator.log",
        help="outside the state dir, so it outlives the cluster",
    )
    parser.add_argument("--keep", action="store_true", help="leave the bench cluster running")
    parser.add_argument(
        "--down",
        action="store_true",
        help="only tear down the bench cluster (after --keep) and exit",
    )
    parser.add_argument("--no-record", action="store_true", help="don't update BENCHMARKS.md")
    parser.add_argument(
        "--section", default=SECTION, help="the BENCHMARKS.md heading to write (%(default)s)"
    )
    parser.add_argument("--note", default="", help="a sentence added to the recorded section")
    args = parser.parse_args()
    configure_logging("warning", "console")
    if not args.nodes:  # room for the largest size's members, one in ten spare, plus two
        args.nodes = math.ceil(max(args.sizes) * MEMBERS_PER_CLUSTER * 1.1 / args.pods) + 2

    cluster = BenchCluster(args.state_dir)
    if args.down:
        cluster.down()
        return 0

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    command = shlex.join([".venv/bin/python", "hack/bench_clusters.py", *sys.argv[1:]])
    host = machine()
    sizes: list[SizeRun] = []
    failed = False
    try:
        if args.state_dir.exists():
            log(f"removing a leftover bench cluster in {args.state_dir}")
            cluster.down()
        cluster.up(args.nodes, args.cpu, args.memory, args.pods)
        cluster.install()
        for size in args.sizes:
            s = SizeRun(size, math.ceil(size / args.per_namespace))
            sizes.append(s)
            if not args.no_floor:
                floor_run(args, cluster, s)
            for workers in args.workers:
                for qps in args.kube_api_qps or [None]:
                    s.runs.append(operator_run(args, cluster, size, workers, qps))
    except BaseException as e:
        failed = True
        log(f"failed: {e!r}")
        if not isinstance(e, (SystemExit, KeyboardInterrupt)):
            raise
    finally:
        if args.keep:
            log(
                f"keeping the bench cluster: KD_CLUSTER_DIR={args.state_dir}, "
                f"KUBECONFIG={cluster.kubeconfig}"
            )
        else:
            cluster.down()
            log("bench cluster removed")
    section = report(args, sizes, command, host)
    print(section)
    if sizes and not args.no_record and not failed:
        record(section, args.section)
        print(f"recorded in {BENCHMARKS}")
    complete = all(r.ready_count == r.size for s in sizes for r in s.runs)
    return 1 if failed or not complete else 0


if __name__ == "__main__":
    raise SystemExit(main())
