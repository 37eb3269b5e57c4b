#!/usr/bin/env python3
"""Benchmark the informer against the local cluster: how fast caches fill, and their memory.

Creates N ConfigMaps (default 5,000) in a scratch namespace and measures
  - watch: time from the first create until an already-synced informer has them all;
  - list: time for a fresh informer's paginated LIST to fill its cache;
  - memory: bytes per cached object (tracemalloc), and the process RSS growth.
Prints the figures and records them under "## Informer" in BENCHMARKS.md.

    .venv/bin/python hack/bench_informer.py [--count 5000] [--kubeconfig PATH] [--no-record]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from kubedirector.cache.informer import Informer, Resource
from kubedirector.kube import new_api_client, request_json, resource_path
from kubedirector.logging import configure_logging

REPO = Path(__file__).resolve().parent.parent
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
BENCHMARKS = REPO / "BENCHMARKS.md"
SECTION = "## Informer"


def rss_bytes() -> int:
    """Resident set size from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def local_kubeconfig() -> str:
    out = subprocess.run(
        [sys.executable, str(REPO / "hack" / "localcluster.py"), "status", "--json"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=60,
    ).stdout
    info = json.loads(out.strip().splitlines()[-1])
    if info.get("running") != "true":
        raise SystemExit("the local cluster is not running: hack/localcluster.py up")
    return info["kubeconfig"]


def run(count: int, kubeconfig: str, workers: int) -> dict[str, float]:
    api = new_api_client(kubeconfig)
    namespace = f"kd-bench-informer-{uuid.uuid4().hex[:6]}"
    request_json(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    figures: dict[str, float] = {"count": count}
    try:
        watcher = Informer(api, CONFIGMAPS, namespace=namespace, name="watch-bench")
        seen = threading.Event()
        added = [0]

        def on_add(obj: dict) -> None:
            if obj["metadata"]["name"].startswith("bench-"):
                added[0] += 1
                if added[0] == count:
                    seen.set()

        watcher.add_handlers(on_add=on_add)
        watcher.start()
        if not watcher.wait_for_sync(60):
            raise SystemExit("watch informer did not sync")

        path = resource_path("", "v1", "configmaps", namespace=namespace)

        def create(i: int) -> None:
            body = {
                "metadata": {"name": f"bench-{i:05d}", "labels": {"bench": "informer"}},
                "data": {"index": str(i), "payload": "x" * 64},
            }
            request_json(api, "POST", path, body=body)

        began = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(create, range(count)))
        created = time.monotonic()
        if not seen.wait(300):
            raise SystemExit(f"watch saw {added[0]} of {count}")
        done = time.monotonic()
        watcher.stop()
        figures["create_seconds"] = created - began
        figures["watch_seconds"] = done - began
        figures["watch_lag_seconds"] = done - created
        figures["watch_events_per_second"] = count / (done - began)

        rss_before = rss_bytes()
        lister = Informer(api, CONFIGMAPS, namespace=namespace, name="list-bench")
        began = time.monotonic()
        lister.start()
        if not lister.wait_for_sync(300):
            raise SystemExit("list informer did not sync")
        figures["list_seconds"] = time.monotonic() - began
        figures["list_objects_per_second"] = len(lister.store) / figures["list_seconds"]
        figures["rss_delta_bytes_per_object"] = (rss_bytes() - rss_before) / len(lister.store)
        lister.stop()

        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        traced = Informer(api, CONFIGMAPS, namespace=namespace, name="memory-bench")
        traced.start()
        if not traced.wait_for_sync(300):
            raise SystemExit("memory informer did not sync")
        traced.stop()
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures["bytes_per_object"] = (held - base) / len(traced.store)
        del traced
    finally:
        request_json(api, "DELETE", f"/api/v1/namespaces/{namespace}")
        api.close()
    return figures


def report(figures: dict[str, float]) -> str:
    count = int(figures["count"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return "\n".join(
        [
            SECTION,
            "",
            f"`hack/bench_informer.py`, {count:,} ConfigMaps (about 300 bytes of JSON each) in the",
            f"local cluster, {os.cpu_count()} cores, Python {platform.python_version()}, {stamp}.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| create {count:,} (parallel POSTs) | {figures['create_seconds']:.1f} s |",
            f"| watch: first create until all cached | {figures['watch_seconds']:.1f} s "
            f"({figures['watch_events_per_second']:,.0f} events/s; "
            f"{figures['watch_lag_seconds']:.2f} s after the last create) |",
            f"| list: fresh informer synced (pages of 500) | {figures['list_seconds']:.2f} s "
            f"({figures['list_objects_per_second']:,.0f} objects/s) |",
            f"| memory per cached object (tracemalloc) | {figures['bytes_per_object']:,.0f} B |",
            f"| RSS growth per cached object | {figures['rss_delta_bytes_per_object']:,.0f} B |",
            "",
            "The watch figure is bounded by how fast the API server accepts creates; the",
            "lag after the last create is the informer's own delay. Memory is for raw dicts",
            "(managedFields stripped) plus the store's three indexes (namespace, kdcluster",
            "label, owner UID); RSS also holds freed parse buffers the allocator keeps.",
            "",
        ]
    )


def record(section: str) -> None:
    """Replace (or append) the Informer section of BENCHMARKS.md, leaving the others alone."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(text.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="ConfigMaps to create")
    parser.add_argument("--kubeconfig", help="default: the running local cluster's")
    parser.add_argument("--workers", type=int, default=8, help="parallel creates")
    parser.add_argument("--no-record", action="store_true", help="don't update BENCHMARKS.md")
    args = parser.parse_args()
    configure_logging("warning", "console")
    figures = run(args.count, args.kubeconfig or local_kubeconfig(), args.workers)
    section = report(figures)
    print(section)
    if not args.no_record:
        record(section)
        print(f"recorded in {BENCHMARKS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
