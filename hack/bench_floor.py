#!/usr/bin/env python3
"""The floor: N spark221e2 clusters to Ready with no reconcile logic, only the requests needed.

What the operator's outcome requires, done by a raw client that already knows the
answer: per cluster one POST of the KubeDirectorCluster, one POST per derived
object (the headless Service, a StatefulSet per role with its final replicas, a
Service per member; built by the same pure builders in kubedirector/desired/), and
per member what setup needs (kubedirector/setup/runner.py): one exec that starts
`--configure` (configcli install is part of that script), then exec polls until the
run is done (the first right away, then every `POLL` seconds), and one status
write per member state change (all members `create pending` at once, then each
member's `creating` and `configured`; the last one carries Ready=True).  The exec
scripts come from the operator's own pure builders (kubedirector/setup/scripts.py),
so the floor sends the same payload; requests go as raw JSON (kubedirector/kube.py's
`request_json`), no client models.

Ordered for the critical path, which is the pods: every cluster's object, first
status and StatefulSets are written before any Service (`CREATE_THREADS` threads of
their own).  Pods are noticed through one watch, and each member's setup (on
`--threads` threads) starts the moment its container runs and its kwok Exec exists
(a second watch): in this simulated cluster an exec into a pod works only once
hack/simkubelet.py has made that Exec, and one tried earlier fails for nothing (the
operator, which cannot know, retries those after a backoff).  The API server, the
controller-manager, kwok and the exec'd shells set the pace: the time this control
plane needs at the least for the job, which hack/bench_clusters.py divides the
operator's figures by.  Given several `--threads`, it runs once with each and keeps
the fastest.

    .venv/bin/python hack/bench_floor.py [--clusters 100] [--namespaces 10] [--threads 16,32,64]

(its own bench cluster; hack/bench_clusters.py runs it in the same cluster as the operator)
"""

from __future__ import annotations

import argparse
import datetime
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from benchlib import (
    DEFAULT_STATE,
    KDCLUSTERS,
    OPERATOR_NS,
    BenchCluster,
    ReadyWatch,
    cluster_docs,
    int_list,
    log,
    minus,
    namespace_names,
    own_requests,
    percentile,
)
from kubernetes.client import ApiClient
from simkubelet import POD_UID

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import GLOBAL_CONFIG_NAME, LABEL_CLUSTER, MemberState
from kubedirector.api.status import ClusterStatus, MemberStatus, RoleStatus
from kubedirector.cache.informer import Informer, Resource
from kubedirector.desired import naming
from kubedirector.desired.headless_service import build_headless_service
from kubedirector.desired.member_service import build_member_service
from kubedirector.desired.statefulset import build_statefulset, replicas_for
from kubedirector.kube import MERGE_PATCH, new_api_client, request_json, resource_path
from kubedirector.lifecycle import cluster_state, members
from kubedirector.logging import configure_logging
from kubedirector.resources import APPS, CONFIGS, OWNED_SELECTOR, PODS, SERVICES, STATEFULSETS
from kubedirector.setup import configcli_install, scripts
from kubedirector.setup.configmeta import ConnectionsData, build_configmeta, configmeta_json
from kubedirector.setup.executor import ExecError, ExecResult, GuestExecutor

CREATE_THREADS = 16  # POSTs are short; more only queue at the API server
POLL = 0.25  # seconds between configure polls after the first (immediate) one
START_TIMEOUT = scripts.FETCH_TIMEOUT + 30.0
POLL_TIMEOUT = 30.0
EXEC_TRIES = 5
KWOK_EXECS = Resource("kwok.x-k8s.io", "v1alpha1", "execs", "Exec")
T = TypeVar("T")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(res: Any, namespace: str, name: str | None = None, sub: str | None = None) -> str:
    return resource_path(
        res.group, res.version, res.plural, namespace=namespace, name=name, subresource=sub
    )


@dataclass
class FloorCluster:
    """One cluster as the floor knows it: parsed spec and the status it last wrote."""

    raw: dict[str, Any]
    cluster: Cluster
    status: ClusterStatus
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class FloorResult:
    clusters: int
    threads: int
    ready_count: int = 0
    create_seconds: float = 0.0  # until every cluster's objects were POSTed
    ready_seconds: float = 0.0
    ready_p50: float = 0.0
    ready_p90: float = 0.0
    cpu_seconds: float = 0.0  # this process (client side only)
    requests: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    exec_retries: int = 0


def summarise(cluster: Cluster, status: ClusterStatus) -> ClusterStatus:
    """State, rollup and conditions from the members, as the operator reports them."""
    all_members = [m for r in status.roles for m in r.members]
    state = cluster_state.cluster_state(status.state, all_members)
    return replace(
        status,
        state=state,
        member_state_rollup=cluster_state.rollup(all_members),
        conditions=cluster_state.conditions(
            previous=status.conditions,
            generation=cluster.generation,
            state=state,
            members=all_members,
            problem=None,
            now=_now(),
        ),
        observed_generation=cluster.generation,
        member_summary=cluster_state.member_summary(all_members),
    )


class ExecGate(Generic[T]):
    """Which members' setups may start: in this cluster an exec into a pod works only once
    hack/simkubelet.py's kwok Exec for it (the pod's UID) exists; one tried earlier fails
    and is retried, which costs the API server and kwok a request for nothing. Each key
    (namespace/name/uid) is let through once, when both its container runs and its Exec
    is there, whichever came first. Not thread-safe: the caller holds a lock."""

    def __init__(self) -> None:
        self.running: dict[str, T] = {}
        self.execs: set[str] = set()
        self.started: set[str] = set()

    def _open(self, key: str) -> T | None:
        if key in self.started or key not in self.execs or key not in self.running:
            return None
        self.started.add(key)
        return self.running.pop(key)

    def pod_running(self, key: str, item: T) -> T | None:
        """The pod's container runs: `item` if its setup may start now, else None."""
        if key not in self.started:
            self.running[key] = item
        return self._open(key)

    def exec_ready(self, key: str) -> T | None:
        """The pod's Exec exists: the item its running pod left, if its setup may start now."""
        self.execs.add(key)
        return self._open(key)


class Floor:
    """Drives N clusters to Ready with the fewest requests; see the module docstring."""

    def __init__(self, api: ApiClient, threads: int, deadline: float) -> None:
        self.api = api
        self.executor = GuestExecutor(api.configuration)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="floor-setup")
        self.creators = ThreadPoolExecutor(
            max_workers=CREATE_THREADS, thread_name_prefix="floor-create"
        )
        self.deadline = deadline
        self.config = Config.from_dict(
            request_json(api, "GET", _path(CONFIGS, OPERATOR_NS, GLOBAL_CONFIG_NAME))
        )
        self.app = App.from_dict(request_json(api, "GET", _path(APPS, OPERATOR_NS, "spark221e2")))
        self.clusters: dict[str, FloorCluster] = {}
        self.gate: ExecGate[tuple[FloorCluster, dict[str, Any]]] = ExecGate()
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.exec_retries = 0

    def _post(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return request_json(self.api, "POST", _path(res, obj["metadata"]["namespace"]), body=obj)

    def _write_status(self, fc: FloorCluster) -> None:
        """Caller holds fc.lock: status writes of one cluster go in order."""
        fc.status = summarise(fc.cluster, fc.status)
        meta = fc.raw["metadata"]
        request_json(
            self.api,
            "PATCH",
            _path(KDCLUSTERS, meta["namespace"], meta["name"], "status"),
            body={"status": fc.status.to_dict()},
            content_type=MERGE_PATCH,
        )

    def _guard(self, what: str, fn: Any, *args: Any) -> Any:
        """`fn(*args)`, or None when it failed (the failure recorded)."""
        try:
            return fn(*args)
        except Exception as e:  # a benchmark reports failures, it does not stop at one
            with self.lock:
                self.errors.append(f"{what}: {e!r}"[:300])
                if len(self.errors) <= 5:
                    log(f"floor: {self.errors[-1]}")
            return None

    def _exec(self, namespace: str, pod: str, script: str, timeout: float) -> ExecResult:
        """An exec, tried again (at most EXEC_TRIES times) when it brought no exit code,
        as the operator does under load."""
        for attempt in range(1, EXEC_TRIES + 1):
            try:
                return self.executor.run(namespace, pod, script, timeout=timeout)
            except ExecError:
                if attempt == EXEC_TRIES or time.monotonic() > self.deadline:
                    raise
                with self.lock:
                    self.exec_retries += 1
                time.sleep(attempt)
        raise AssertionError("unreachable")

    def submit(self, what: str, fn: Any, *args: Any) -> None:
        self.pool.submit(self._guard, what, fn, *args)

    # Per cluster: the cluster itself, its derived objects, its first status.

    def create(self, doc: dict[str, Any]) -> FloorCluster:
        """What the cluster's pods wait for: the cluster, its first status (every member
        `create pending`, written before any pod can exist, so it is always the first
        state) and its StatefulSets."""
        raw = self._post(KDCLUSTERS, doc)
        cluster = Cluster.from_dict(raw, self.config, self.app)
        headless = naming.headless_service_name(
            cluster.naming_scheme, cluster.name, naming.random_chars
        )
        roles: list[RoleStatus] = []
        next_id = 1
        for spec_role in cluster.roles:
            sts = naming.statefulset_name(
                cluster.naming_scheme, cluster.name, spec_role.id, naming.random_chars
            )
            role, next_id = members.plan_role(
                cluster,
                spec_role.id,
                statefulset=sts,
                existing=None,
                wanted=spec_role.members or 0,
                next_node_id=next_id,
                auth_token=lambda: None,
            )
            roles.append(role)
        fc = FloorCluster(
            raw,
            cluster,
            ClusterStatus(cluster_service=headless, last_node_id=next_id - 1, roles=tuple(roles)),
        )
        with fc.lock:
            self._write_status(fc)
        with self.lock:
            self.clusters[f"{cluster.namespace}/{cluster.name}"] = fc
        for role in roles:
            self._post(
                STATEFULSETS,
                build_statefulset(
                    self.app,
                    cluster,
                    self.config,
                    role_id=role.id,
                    name=role.stateful_set,
                    headless_service=headless,
                    replicas=replicas_for(role.members),
                ),
            )
        return fc

    def create_services(self, fc: FloorCluster) -> None:
        """The headless Service and the member Services, which no setup waits for."""
        cluster = fc.cluster
        self._post(
            SERVICES,
            build_headless_service(self.app, cluster, self.config, fc.status.cluster_service),
        )
        for role in fc.status.roles:
            for member in role.members:
                svc = build_member_service(
                    self.app,
                    cluster,
                    self.config,
                    role_id=role.id,
                    pod=member.pod,
                    name=member.service,
                )
                if svc is not None:
                    self._post(SERVICES, svc)

    # Per member: creating, setup through exec, configured.

    def on_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if members.container_identity(pod) is None:
            return
        with self.lock:
            fc = self.clusters.get(
                f"{meta['namespace']}/{(meta.get('labels') or {}).get(LABEL_CLUSTER)}"
            )
            if fc is None:
                return
            ready = self.gate.pod_running(
                f"{meta['namespace']}/{meta['name']}/{meta['uid']}", (fc, pod)
            )
        if ready is not None:
            self.submit(f"member {meta['namespace']}/{meta['name']}", self.set_up, *ready)

    def on_exec(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        uid = (meta.get("annotations") or {}).get(POD_UID)
        if not uid:
            return
        with self.lock:
            ready = self.gate.exec_ready(f"{meta['namespace']}/{meta['name']}/{uid}")
        if ready is not None:
            self.submit(f"member {meta['namespace']}/{meta['name']}", self.set_up, *ready)

    def _update_member(self, fc: FloorCluster, pod: str, change: Any) -> MemberStatus:
        """Replace member `pod` with `change(member)` and write status; the new member."""
        with fc.lock:
            roles = []
            changed: MemberStatus | None = None
            for role in fc.status.roles:
                ms: list[MemberStatus] = []
                for m in role.members:
                    if m.pod == pod:
                        changed = change(m)
                        ms.append(changed)
                    else:
                        ms.append(m)
                roles.append(replace(role, members=tuple(ms)))
            assert changed is not None, pod
            fc.status = replace(fc.status, roles=tuple(roles))
            self._write_status(fc)
            return changed

    def set_up(self, fc: FloorCluster, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        member = self._update_member(fc, name, lambda m: members.advance_member(m, pod, True))
        role = next(r for r in fc.status.roles if any(m.pod == name for m in r.members))
        app_role = self.app.role(role.id)
        assert app_role is not None and app_role.config_package is not None
        package = app_role.config_package
        run_id = member.state_detail.configuring_container or ""
        with fc.lock:
            status = fc.status
        configmeta = configmeta_json(
            build_configmeta(
                self.app,
                fc.cluster,
                self.config,
                status,
                member_pod=name,
                connections=ConnectionsData(),
            )
        )
        ns = fc.cluster.namespace
        started = self._exec(
            ns,
            name,
            scripts.start_configure(
                configmeta=configmeta,
                package_url=package.package_url,
                run_id=run_id,
                configcli=configcli_install.Layout.of(package),
                wait_for_journald=self.app.systemd_required,
            ),
            timeout=START_TIMEOUT,
        )
        if started.exit_code != 0:
            raise RuntimeError(f"start exited {started.exit_code}: {started.stderr[-200:]}")
        while True:
            polled = scripts.parse_poll(
                self._exec(
                    ns,
                    name,
                    scripts.poll_configure(run_id=run_id, max_chars=app_role.max_log_size_dump),
                    POLL_TIMEOUT,
                ).stdout
            )
            if not polled.running:
                break
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"{ns}/{name}: configure still running")
            time.sleep(POLL)
        if polled.exit_code != 0:
            raise RuntimeError(f"configure exited {polled.exit_code}: {polled.stderr[-200:]}")

        def configured(m: MemberStatus) -> MemberStatus:
            detail = replace(
                m.state_detail,
                last_configured_container=run_id,
                last_setup_generation=fc.cluster.generation,
            )
            return replace(m, state=MemberState.CONFIGURED, state_detail=detail)

        self._update_member(fc, name, configured)


def run_floor(
    kubeconfig: str, docs: list[dict[str, Any]], threads: int, timeout: float
) -> FloorResult:
    """Create `docs` (namespaces must exist) and drive them to Ready; measured like the operator."""
    res = FloorResult(clusters=len(docs), threads=threads)
    api = new_api_client(kubeconfig)
    watch = ReadyWatch({(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs})
    ready = Informer(api, KDCLUSTERS, name="floor-ready")
    ready.add_handlers(on_add=watch.observe, on_update=watch.on_update)
    pods = Informer(api, PODS, label_selector=OWNED_SELECTOR, name="floor-pods")
    floor = Floor(api, threads, time.monotonic() + timeout)
    pods.add_handlers(on_add=floor.on_pod, on_update=lambda _old, new: floor.on_pod(new))
    execs = Informer(api, KWOK_EXECS, name="floor-execs")
    execs.add_handlers(on_add=floor.on_exec, on_update=lambda _old, new: floor.on_exec(new))
    for informer in (ready, pods, execs):
        informer.start()
        if not informer.wait_for_sync(60):
            raise SystemExit(f"the floor's {informer.name} watch did not sync")
    try:
        before, cpu_before = own_requests(), _cpu()
        log(f"floor: creating {len(docs)} clusters on {threads} threads")
        watch.began = time.monotonic()
        # Every cluster's StatefulSets before any Service: the pods take longest.
        created = floor.creators.map(lambda d: floor._guard("create", floor.create, d), docs)
        services = [
            floor.creators.submit(floor._guard, "services", floor.create_services, fc)
            for fc in created
            if fc is not None
        ]
        for f in services:
            f.result()
        res.create_seconds = time.monotonic() - watch.began
        while not watch.done.wait(15):
            log(f"floor: {watch.summary()}; errors {len(floor.errors)}")
            if time.monotonic() > watch.began + timeout:
                floor.errors.append(f"timed out after {timeout:.0f}s: {watch.summary()}")
                break
        res.cpu_seconds = _cpu() - cpu_before
        res.requests = {k: v for k, v in minus(own_requests(), before).items() if v}
        times = watch.times()
        res.ready_count = len(times)
        res.ready_seconds = times[-1] if times else 0.0
        res.ready_p50 = percentile(times, 0.5)
        res.ready_p90 = percentile(times, 0.9)
        res.errors = list(floor.errors)
        res.exec_retries = floor.exec_retries
        log(
            f"floor: {res.ready_count}/{len(docs)} Ready after {res.ready_seconds:.1f}s "
            f"(median {res.ready_p50:.1f}s, p90 {res.ready_p90:.1f}s); "
            f"requests {res.requests}; errors {len(res.errors)}"
        )
    finally:
        floor.pool.shutdown(wait=False, cancel_futures=True)
        floor.creators.shutdown(wait=False, cancel_futures=True)
        ready.stop()
        pods.stop()
        execs.stop()
        api.close()
    return res


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument(
        "--threads",
        type=int_list,
        default=[32, 64],
        help="setup threads; several (comma-separated): once with each",
    )
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--nodes", type=int, default=30, help="simulated nodes (256 CPU, 1Ti)")
    args = parser.parse_args()
    configure_logging("warning", "console")
    cluster = BenchCluster(DEFAULT_STATE)
    cluster.down()
    try:
        cluster.up(args.nodes, "256", "1Ti", 110)
        cluster.install()
        names = namespace_names("floor", args.namespaces)
        results = []
        for threads in args.threads:
            cluster.create_namespaces(names)
            results.append(
                run_floor(
                    cluster.kubeconfig, cluster_docs(args.clusters, names), threads, args.timeout
                )
            )
            cluster.delete_namespaces(names, 900)
    finally:
        cluster.down()
    for res in results:
        print(res)
    return 0 if all(r.ready_count == args.clusters and not r.errors for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
