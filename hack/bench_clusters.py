#!/usr/bin/env python3
"""Benchmark the operator at scale: 100 spark221e2 clusters from creation to Ready, then idle.

Brings up its own local cluster in a separate state directory (never the shared
dev/test one), sized for the load; installs the CRDs, the catalog and
kd-global-config in namespace `kubedirector`; starts the operator as a local
process; creates N copies of manifests/examples/clusters/cr-cluster-spark221e2.yaml
(`bench-000`... spread round-robin over `--namespaces` namespaces `bench-00`...);
and measures
  - wall time from the first create until every cluster has condition Ready=True
    (a watch, with observedGeneration current);
  - API requests the operator sent, per cluster and by verb (its /metrics
    `rest_client_requests_total`; pods/exec websockets, which the operator counts
    as GET with code 101, are shown as "exec"), the reconciles and their errors;
  - operator CPU seconds (/proc/<pid>/stat utime+stime) and peak RSS (VmHWM);
  - once the work queues are empty, the same clusters idle for `--idle` seconds:
    requests by verb, reconciles and CPU.
Prints a table and records it under "## Clusters" in BENCHMARKS.md.

    .venv/bin/python hack/bench_clusters.py [--clusters 100] [--namespaces 10]
        [--workers 4] [--idle 300] [--keep] [--no-record]
    .venv/bin/python hack/bench_clusters.py --down      # remove a --keep'd bench cluster
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from kubedirector.cache.informer import Informer, Resource
from kubedirector.kube import new_api_client
from kubedirector.logging import configure_logging

REPO = Path(__file__).resolve().parent.parent

PY = REPO / ".venv" / "bin" / "python"
LOCALCLUSTER = REPO / "hack" / "localcluster.py"
CACHE = Path(os.environ.get("KD_CACHE_DIR", Path.home() / ".cache" / "kubedirector"))
DEFAULT_STATE = CACHE / "bench-cluster"
SHARED_STATE = Path(os.environ.get("KD_CLUSTER_DIR", CACHE / "cluster"))
EXAMPLE = REPO / "manifests" / "examples" / "clusters" / "cr-cluster-spark221e2.yaml"
OPERATOR_NS = "kubedirector"
KDCLUSTERS = Resource(
    "kubedirector.hpe.com", "v1beta1", "kubedirectorclusters", "KubeDirectorCluster"
)
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")
EXEC = "exec"
VERBS = ("GET", EXEC, "LIST", "WATCH", *WRITE_VERBS)
BENCHMARKS = REPO / "BENCHMARKS.md"
SECTION = "## Clusters"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[bench] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        self.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-n",
            OPERATOR_NS,
            "-f",
            str(m / "catalog"),
        )
        self.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-n",
            OPERATOR_NS,
            "-f",
            str(m / "examples" / "config" / "kd-global-config.yaml"),
        )
        log("CRDs, catalog and kd-global-config installed")


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
        )

    def writes(self) -> float:
        return sum(self.requests.get(v, 0.0) for v in WRITE_VERBS)


@dataclass
class Operator:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @classmethod
    def start(cls, kubeconfig: str, workers: int, log_path: Path) -> Operator:
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


# --------------------------------------------------------------------------- the clusters


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


def is_ready(obj: dict[str, Any]) -> bool:
    generation = obj["metadata"].get("generation")
    for c in obj.get("status", {}).get("conditions", []) or []:
        if c.get("type") == "Ready":
            return (
                c.get("status") == "True" and c.get("observedGeneration", generation) == generation
            )
    return False


def cluster_docs(count: int, namespaces: int) -> tuple[list[str], list[dict[str, Any]]]:
    template = yaml.safe_load(EXAMPLE.read_text())
    ns_names = [f"bench-{i:02d}" for i in range(namespaces)]
    docs = []
    for i in range(count):
        doc = copy.deepcopy(template)
        doc["metadata"] = {"name": f"bench-{i:03d}", "namespace": ns_names[i % namespaces]}
        docs.append(doc)
    return ns_names, docs


def state_summary(watch: ReadyWatch) -> str:
    with watch.lock:
        states = Counter(str(o.get("status", {}).get("state", "-")) for o in watch.latest.values())
        members: Counter[str] = Counter()
        for o in watch.latest.values():
            for role in o.get("status", {}).get("roles", []) or []:
                for m in role.get("members", []) or []:
                    members[str(m.get("state", "-"))] += 1
    return (
        f"{len(watch.ready_at)}/{len(watch.expected)} Ready; clusters "
        f"{dict(states)}; members {dict(members)}"
    )


# --------------------------------------------------------------------------- the run


@dataclass
class Results:
    clusters: int
    namespaces: int
    workers: int
    idle_seconds: float
    create_seconds: float = 0.0
    ready_seconds: float = 0.0
    ready_p50: float = 0.0
    ready_p90: float = 0.0
    ready_count: int = 0
    settle_seconds: float = 0.0
    load_at_ready: float = 0.0
    busy: Usage | None = None
    idle: Usage | None = None
    idle_timeline: list[tuple[float, float, float]] = field(default_factory=list)
    peak_rss_kib: int = 0
    rss_kib: int = 0
    log_problems: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def run_bench(args: argparse.Namespace, cluster: BenchCluster, res: Results) -> Operator:
    assert cluster.kubeconfig
    op = Operator.start(cluster.kubeconfig, args.workers, args.operator_log)
    try:
        measure(args, cluster, op, res)
    finally:
        res.peak_rss_kib = op.status_kib("VmHWM") if op.proc.poll() is None else res.peak_rss_kib
        res.rss_kib = op.status_kib("VmRSS") if op.proc.poll() is None else res.rss_kib
        op.stop()
        res.log_problems = op.log_problems()
    return op


def measure(args: argparse.Namespace, cluster: BenchCluster, op: Operator, res: Results) -> None:
    ns_names, docs = cluster_docs(args.clusters, args.namespaces)
    cluster.kubectl(
        "create",
        "-f",
        "-",
        stdin="".join(
            yaml.safe_dump(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}},
                explicit_start=True,
            )
            for n in ns_names
        ),
    )
    api = new_api_client(cluster.kubeconfig)
    watch = ReadyWatch({(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs})
    informer = Informer(api, KDCLUSTERS, name="bench-ready")
    informer.add_handlers(on_add=watch.observe, on_update=watch.on_update)
    informer.start()
    if not informer.wait_for_sync(60):
        raise SystemExit("the bench's own kdcluster watch did not sync")
    try:
        op.settle(30)  # the start-up reconciles (config, empty cluster list) done
        before = op.usage()
        log(f"creating {args.clusters} clusters in {args.namespaces} namespace(s)")
        watch.began = time.monotonic()
        cluster.kubectl(
            "create", "-f", "-", stdin="".join(yaml.safe_dump(d, explicit_start=True) for d in docs)
        )
        res.create_seconds = time.monotonic() - watch.began
        log(f"created in {res.create_seconds:.1f}s; waiting for Ready")
        deadline = watch.began + args.timeout
        while not watch.done.wait(30):
            if op.proc.poll() is not None:
                raise SystemExit(f"the operator exited ({op.proc.returncode}); see {op.log_path}")
            log(state_summary(watch))
            if time.monotonic() > deadline:
                res.notes.append(f"timed out after {args.timeout}s: {state_summary(watch)}")
                log(res.notes[-1])
                break
        # The reconcile that reports a cluster Ready still writes its Events afterwards:
        # count that tail with the creation, and start the idle window once all is quiet.
        res.load_at_ready = os.getloadavg()[0]
        res.settle_seconds, settled = op.settle(120)
        if not settled:
            res.notes.append(
                f"the work queues were still busy {res.settle_seconds:.0f} s after the last Ready"
            )
        after = op.usage()
        res.peak_rss_kib = op.status_kib("VmHWM")
        res.rss_kib = op.status_kib("VmRSS")
        res.busy = after.minus(before)
        res.ready_count = len(watch.ready_at)
        times = sorted(t - watch.began for t in watch.ready_at.values())
        if times:
            res.ready_seconds = times[-1]
            res.ready_p50 = times[len(times) // 2]
            res.ready_p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        log(
            f"{res.ready_count}/{args.clusters} Ready after {res.ready_seconds:.1f}s; "
            f"idle for {args.idle}s"
        )
        if args.idle > 0:
            start = prev = op.usage()
            end = start.at + args.idle
            while True:
                time.sleep(max(0.0, min(args.sample, end - time.monotonic())))
                now = op.usage()
                step = now.minus(prev)
                res.idle_timeline.append(
                    (now.at - start.at, step.writes(), sum(step.requests.values()))
                )
                if step.writes():
                    log(
                        f"  {step.writes():.0f} writes in the last {step.at:.0f}s: "
                        f"{ {k: v for k, v in step.requests.items() if v} }"
                    )
                prev = now
                if now.at >= end:
                    break
            res.idle = prev.minus(start)
        res.peak_rss_kib = op.status_kib("VmHWM")
        res.rss_kib = op.status_kib("VmRSS")
    finally:
        informer.stop()
        api.close()


# --------------------------------------------------------------------------- report


def per_cluster(u: Usage, n: int, verb: str) -> str:
    return f"{u.requests.get(verb, 0.0) / max(n, 1):.1f}"


def report(args: argparse.Namespace, res: Results, command: str, host: str) -> str:
    n = res.clusters
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        SECTION,
        "",
        f"`hack/bench_clusters.py`: {n} copies of `cr-cluster-spark221e2.yaml` (catalog app",
        "`spark221e2` with its setup package, so every member runs `--configure` through",
        "exec; 4 members of 2 CPU / 4Gi each), "
        f"{n // max(res.namespaces, 1)} per namespace in {res.namespaces} namespace(s).",
        f"Its own local cluster: {args.nodes} simulated nodes of {args.cpu} CPU, {args.memory},",
        f"{args.pods} pods, in a separate state directory. The operator is a local process",
        f"with `--workers {res.workers} --no-leader-elect` (so no Lease requests).",
        f"{stamp}; {host}, {res.load_at_ready:.1f} when the last cluster was Ready.",
        *([args.note] if args.note else []),
        "",
        "```",
        command,
        "```",
        "",
    ]
    busy, idle = res.busy, res.idle
    if busy is not None:
        lines += [
            "| creation until all Ready | value |",
            "|---|---|",
            f"| clusters Ready | {res.ready_count} / {n} |",
            f"| wall time, first create to last Ready | {res.ready_seconds:.1f} s "
            f"(median cluster {res.ready_p50:.1f} s, 90th percentile {res.ready_p90:.1f} s; "
            f"the {n} creates took {res.create_seconds:.1f} s; queues empty "
            f"{res.settle_seconds:.1f} s after the last Ready) |",
            f"| operator CPU | {busy.cpu_seconds:.1f} s "
            f"({busy.cpu_seconds / max(n, 1):.2f} s per cluster) |",
            f"| operator peak RSS (VmHWM) | {res.peak_rss_kib / 1024:.0f} MiB "
            f"(RSS at the end {res.rss_kib / 1024:.0f} MiB) |",
        ]
        for verb in VERBS:
            if busy.requests.get(verb, 0.0) or verb in ("GET", "POST", "PATCH"):
                lines.append(
                    f"| {verb} requests per cluster | {per_cluster(busy, n, verb)} "
                    f"({busy.requests.get(verb, 0.0):,.0f} in all) |"
                )
        others = sorted(v for v in busy.requests if v not in VERBS and busy.requests[v])
        for verb in others:
            lines.append(f"| {verb} requests per cluster | {per_cluster(busy, n, verb)} |")
        rec = sorted((k, v) for k, v in busy.reconciles.items() if v)
        lines.append(
            "| reconciles (controller/result) | "
            + ", ".join(f"{c}/{r} {v:,.0f}" for (c, r), v in rec)
            + " |"
        )
        count = sum(v for _, v in rec)
        lines.append(
            f"| time in reconciles | {busy.reconcile_seconds:,.0f} s "
            f"(mean {busy.reconcile_seconds / max(count, 1):.2f} s; {res.workers} workers) |"
        )
        lines.append(
            "| reconcile errors | "
            + (", ".join(f"{c} {v:,.0f}" for c, v in sorted(busy.errors.items()) if v) or "0")
            + " |"
        )
        if busy.setup_runs:
            lines.append(
                "| setup runs (result) | "
                + ", ".join(f"{r} {v:,.0f}" for r, v in sorted(busy.setup_runs.items()) if v)
                + " |"
            )
        lines.append("")
    if idle is not None:
        total = sum(idle.requests.values())
        lines += [
            f"| idle, {res.idle_seconds:.0f} s | value |",
            "|---|---|",
            f"| API requests | {total:,.0f}"
            + (
                " ("
                + ", ".join(f"{v} {c:,.0f}" for v, c in sorted(idle.requests.items()) if c)
                + ")"
                if total
                else ""
            )
            + " |",
            f"| write requests (target 0) | {idle.writes():,.0f} |",
            f"| operator CPU | {idle.cpu_seconds:.2f} s "
            f"({100 * idle.cpu_seconds / max(idle.at, 1):.2f} % of one core) |",
            "| reconciles | "
            + (
                ", ".join(f"{c}/{r} {v:,.0f}" for (c, r), v in sorted(idle.reconciles.items()) if v)
                or "0"
            )
            + " |",
            "",
        ]
    if idle is not None and idle.writes():
        lines.append(
            "Idle writes by window (seconds into the idle period: writes): "
            + ", ".join(f"{t:.0f}: {w:.0f}" for t, w, _ in res.idle_timeline if w)
            + "."
        )
        lines.append("")
    if res.log_problems:
        lines.append(
            "Operator log warnings/errors: "
            + "; ".join(f"{k} x{v}" for k, v in res.log_problems.most_common(8))
            + "."
        )
        lines.append("")
    for note in res.notes:
        lines += [note, ""]
    return "\n".join(lines)


def record(section: str) -> None:
    """Replace (or append) the Clusters section of BENCHMARKS.md, leaving the others alone."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
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
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument(
        "--namespaces",
        type=int,
        default=10,
        help="spread the clusters round-robin over this many namespaces",
    )
    parser.add_argument("--workers", type=int, default=4, help="the operator's --workers")
    parser.add_argument("--idle", type=float, default=300, help="idle window, seconds")
    parser.add_argument(
        "--sample", type=float, default=30, help="seconds between metric readings while idle"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="give up waiting for Ready after this many seconds",
    )
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--cpu", default="32")
    parser.add_argument("--memory", default="128Gi")
    parser.add_argument("--pods", type=int, default=110)
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
    parser.add_argument("--note", default="", help="a sentence added to the recorded section")
    args = parser.parse_args()
    configure_logging("warning", "console")

    cluster = BenchCluster(args.state_dir)
    if args.down:
        cluster.down()
        return 0

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    command = shlex.join([".venv/bin/python", "hack/bench_clusters.py", *sys.argv[1:]])
    res = Results(args.clusters, args.namespaces, args.workers, args.idle)
    host = machine()
    failed = False
    try:
        if args.state_dir.exists():
            log(f"removing a leftover bench cluster in {args.state_dir}")
            cluster.down()
        cluster.up(args.nodes, args.cpu, args.memory, args.pods)
        cluster.install()
        run_bench(args, cluster, res)
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
    section = report(args, res, command, host)
    print(section)
    if res.busy is not None and not args.no_record and not failed:
        record(section)
        print(f"recorded in {BENCHMARKS}")
    return 1 if failed or res.ready_count < args.clusters else 0


if __name__ == "__main__":
    raise SystemExit(main())
