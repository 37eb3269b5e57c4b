"""The informer against the real API server: events, resuming after a restart, 410 Gone.

These restart the API server (through `hack/localcluster.py restart-apiserver`),
so other tests' clients see a short outage, as they would in a real cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kubedirector.cache.informer import Informer, Resource
from kubedirector.kube import (
    InstrumentedApiClient,
    load_configuration,
    requests_by_verb,
    write_count,
)
from tests.e2e.support.operator import wait_until
from tests.e2e.support.tcpproxy import TcpProxy

# They restart the API server: run last, so no other test meets a recovering cluster.
pytestmark = pytest.mark.disruptive

REPO = Path(__file__).resolve().parents[2]
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")


def localcluster(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(REPO / "hack" / "localcluster.py"), *args, "--json"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


class Recorder:
    """Collects handler calls as (event, name, uid, data)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, dict]] = []
        self.lock = threading.Lock()

    def attach(self, informer: Informer) -> None:
        informer.add_handlers(
            on_add=lambda o: self._record("add", o),
            on_update=lambda old, new: self._record("update", new),
            on_delete=lambda o: self._record("delete", o),
        )

    def _record(self, event: str, obj: dict) -> None:
        meta = obj["metadata"]
        with self.lock:
            self.events.append((event, meta["name"], meta["uid"], obj.get("data") or {}))

    def of(self, name: str) -> list[tuple[str, str, dict]]:
        with self.lock:
            return [(e, uid, data) for e, n, uid, data in self.events if n == name]


def create_cm(kubectl, namespace: str, name: str, **data: str) -> str:
    args = [f"--from-literal={k}={v}" for k, v in data.items()]
    kubectl("-n", namespace, "create", "configmap", name, *args)
    return kubectl(
        "-n", namespace, "get", "configmap", name, "-o", "jsonpath={.metadata.uid}"
    ).stdout


def set_data(kubectl, namespace: str, name: str, **data: str) -> None:
    kubectl(
        "-n",
        namespace,
        "patch",
        "configmap",
        name,
        "--type=merge",
        "-p",
        json.dumps({"data": data}),
    )


@pytest.fixture
def informer_client(local_cluster) -> Iterator[Callable[[str | None], InstrumentedApiClient]]:
    """Counted API clients for the test cluster, optionally through another server URL."""
    made: list[InstrumentedApiClient] = []

    def make(server: str | None = None) -> InstrumentedApiClient:
        cfg = load_configuration(str(local_cluster.kubeconfig))
        if server:
            cfg.host = server
        api = InstrumentedApiClient(cfg)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def started() -> Iterator[Callable[[Informer], Informer]]:
    informers: list[Informer] = []

    def start(informer: Informer) -> Informer:
        informers.append(informer)
        informer.start()
        assert informer.wait_for_sync(30), "informer never synced"
        return informer

    yield start
    for informer in informers:
        assert informer.stop(timeout=5), "informer thread did not stop"


def test_events_reach_handlers_and_selectors_filter(kubectl, namespace, informer_client, started):
    create_cm(kubectl, namespace, "before", k="0")
    writes, gets = write_count(), requests_by_verb().get("GET", 0)
    recorder = Recorder()
    informer = Informer(informer_client(), CONFIGMAPS, namespace=namespace, page_size=1)
    recorder.attach(informer)
    labelled = Informer(
        informer_client(), CONFIGMAPS, namespace=namespace, label_selector="pick=me"
    )
    picked = Recorder()
    picked.attach(labelled)
    started(informer)
    started(labelled)
    assert [e for e, _, _ in recorder.of("before")] == ["add"]
    # Pages of one object: "before" and kube-root-ca.crt take two LIST requests, plus a WATCH.
    assert requests_by_verb()["GET"] - gets >= 3

    uid = create_cm(kubectl, namespace, "a", k="1")
    set_data(kubectl, namespace, "a", k="2")
    kubectl("-n", namespace, "label", "configmap", "a", "pick=me")
    kubectl("-n", namespace, "delete", "configmap", "a")
    wait_until(lambda: len(recorder.of("a")) == 4, 20, "four events for a")
    assert [e for e, _, _ in recorder.of("a")] == ["add", "update", "update", "delete"]
    assert recorder.of("a")[1][2] == {"k": "2"}
    assert all(u == uid for _, u, _ in recorder.of("a"))
    wait_until(lambda: len(picked.of("a")) == 2, 20, "the labelled informer's events")
    assert [e for e, _, _ in picked.of("a")] == ["add", "delete"]
    assert picked.of("before") == []

    # Re-creation under the same name is a delete and an add, never an update.
    create_cm(kubectl, namespace, "b", v="1")
    wait_until(lambda: f"{namespace}/b" in informer.store, 20, "b cached")
    kubectl("-n", namespace, "delete", "configmap", "b")
    create_cm(kubectl, namespace, "b", v="2")
    wait_until(lambda: len(recorder.of("b")) >= 3, 20, "b re-created")
    kinds = [e for e, _, _ in recorder.of("b")]
    assert kinds == ["add", "delete", "add"]
    assert recorder.of("b")[0][1] != recorder.of("b")[2][1]

    count = len(recorder.events)
    informer.resync()
    replayed = recorder.events[count:]
    cached = {obj["metadata"]["name"] for obj in informer.store.list()}
    assert {"before", "b", "kube-root-ca.crt"} <= cached
    assert sorted(n for _, n, _, _ in replayed) == sorted(cached)
    assert {e for e, _, _, _ in replayed} == {"update"}
    assert write_count() == writes  # informers only read
    assert all("managedFields" not in o["metadata"] for o in informer.store.list())


def test_informer_resumes_after_apiserver_restart(kubectl, namespace, informer_client, started):
    create_cm(kubectl, namespace, "keep", v="1")
    create_cm(kubectl, namespace, "gone", v="1")
    recorder = Recorder()
    informer = Informer(informer_client(), CONFIGMAPS, namespace=namespace)
    recorder.attach(informer)
    started(informer)

    localcluster("restart-apiserver")
    set_data(kubectl, namespace, "keep", v="2")
    kubectl("-n", namespace, "delete", "configmap", "gone")
    create_cm(kubectl, namespace, "new", v="1")

    def converged() -> bool:
        keep = informer.store.get(f"{namespace}/keep")
        return (
            keep is not None
            and keep["data"] == {"v": "2"}
            and f"{namespace}/gone" not in informer.store
            and f"{namespace}/new" in informer.store
        )

    wait_until(converged, 60, "the cache to catch up after the restart")
    assert ("update", recorder.of("keep")[-1][1], {"v": "2"}) in recorder.of("keep")
    assert [e for e, _, _ in recorder.of("gone")] == ["add", "delete"]
    assert [e for e, _, _ in recorder.of("new")] == ["add"]


@pytest.fixture
def apiserver_without_watch_cache(local_cluster) -> Iterator[None]:
    """Watches served straight from etcd, so a compacted resourceVersion answers 410."""
    localcluster("restart-apiserver", "--apiserver-arg=--watch-cache=false")
    yield
    localcluster("restart-apiserver")


def test_relist_after_410_delivers_what_was_missed(
    apiserver_without_watch_cache, local_cluster, kubectl, namespace, informer_client, started
):
    target = urlsplit(load_configuration(str(local_cluster.kubeconfig)).host)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 443)
    try:
        uids = {
            name: create_cm(kubectl, namespace, name, v="1")
            for name in ("deleted", "changed", "recreated", "same")
        }
        recorder = Recorder()
        informer = Informer(
            informer_client(f"https://127.0.0.1:{proxy.port}"),
            CONFIGMAPS,
            namespace=namespace,
            page_size=2,
        )
        recorder.attach(informer)
        started(informer)
        assert informer.gone_relists == 0

        proxy.cut()  # the informer misses everything below
        kubectl("-n", namespace, "delete", "configmap", "deleted")
        set_data(kubectl, namespace, "changed", v="2")
        kubectl("-n", namespace, "delete", "configmap", "recreated")
        new_uid = create_cm(kubectl, namespace, "recreated", v="2")
        create_cm(kubectl, namespace, "added", v="1")
        localcluster("compact-etcd")
        proxy.heal()

        wait_until(lambda: informer.gone_relists >= 1, 60, "a 410 Gone")
        wait_until(lambda: f"{namespace}/added" in informer.store, 30, "the relist")
        assert f"{namespace}/deleted" not in informer.store
        changed = informer.store.get(f"{namespace}/changed")
        recreated = informer.store.get(f"{namespace}/recreated")
        assert changed is not None and changed["data"] == {"v": "2"}
        assert recreated is not None and recreated["metadata"]["uid"] == new_uid
        assert [e for e, _, _ in recorder.of("deleted")] == ["add", "delete"]
        assert recorder.of("changed")[-1] == ("update", uids["changed"], {"v": "2"})
        assert [(e, u) for e, u, _ in recorder.of("recreated")] == [
            ("add", uids["recreated"]),
            ("delete", uids["recreated"]),
            ("add", new_uid),
        ]
        assert [e for e, _, _ in recorder.of("added")] == ["add"]
        assert [e for e, _, _ in recorder.of("same")] == ["add"]
    finally:
        proxy.close()
