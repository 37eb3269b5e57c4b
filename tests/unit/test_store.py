"""The cache store and its indexers."""

from __future__ import annotations

import threading

import pytest

from kubedirector.cache.indexers import (
    KDCLUSTER_INDEX,
    KDCLUSTER_LABEL,
    by_kdcluster_label,
    default_indexers,
)
from kubedirector.cache.store import Store, object_key, split_key

OWNER_UID_INDEX = "owner-uid"


def obj(name, namespace="ns1", *, labels=None, owners=(), uid=None, rv="1"):
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{namespace}-{name}",
            "resourceVersion": rv,
            "labels": labels or {},
            "ownerReferences": [{"uid": o, "kind": "X", "name": o} for o in owners],
        }
    }


def by_owner_uid(o):
    """A second index, so the tests see indexes kept apart."""
    return [ref["uid"] for ref in o["metadata"]["ownerReferences"]]


def indexed(store, name, value):
    return [object_key(o) for o in store.by_index(name, value)]


def test_keys_are_namespace_slash_name_and_split_back():
    assert object_key(obj("a", "ns")) == "ns/a"
    assert object_key({"metadata": {"name": "node1"}}) == "node1"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("node1") == (None, "node1")


def test_upsert_returns_the_replaced_object_and_delete_removes_it():
    store = Store(default_indexers())
    first = obj("a", rv="1")
    assert store.upsert(first) is None
    second = obj("a", rv="2")
    assert store.upsert(second) is first
    assert store.get("ns1/a") is second
    assert len(store) == 1 and "ns1/a" in store
    assert store.delete("ns1/a") is second
    assert store.delete("ns1/a") is None
    assert store.list() == [] and store.keys() == []


def test_indexes_follow_updates_and_deletes():
    store = Store(default_indexers() | {OWNER_UID_INDEX: by_owner_uid})
    store.upsert(obj("m0", labels={KDCLUSTER_LABEL: "c1"}, owners=["sts-uid"]))
    store.upsert(obj("m1", labels={KDCLUSTER_LABEL: "c1"}, owners=["sts-uid"]))
    store.upsert(obj("other", "ns2", labels={KDCLUSTER_LABEL: "c1"}))
    assert indexed(store, KDCLUSTER_INDEX, "ns1/c1") == ["ns1/m0", "ns1/m1"]
    assert indexed(store, KDCLUSTER_INDEX, "ns2/c1") == ["ns2/other"]
    assert [o["metadata"]["name"] for o in store.by_index(OWNER_UID_INDEX, "sts-uid")] == [
        "m0",
        "m1",
    ]

    store.upsert(obj("m1", labels={KDCLUSTER_LABEL: "c2"}, rv="2"))
    assert indexed(store, KDCLUSTER_INDEX, "ns1/c1") == ["ns1/m0"]
    assert indexed(store, KDCLUSTER_INDEX, "ns1/c2") == ["ns1/m1"]
    assert indexed(store, OWNER_UID_INDEX, "sts-uid") == ["ns1/m0"]

    store.delete("ns1/m0")
    assert store.by_index(KDCLUSTER_INDEX, "ns1/c1") == []
    assert store.by_index(OWNER_UID_INDEX, "sts-uid") == []


def test_added_indexer_covers_existing_objects():
    store = Store()
    store.upsert(obj("a", labels={"app": "x"}))
    store.upsert(obj("b", labels={"app": "y"}))
    store.add_indexer("app", lambda o: [o["metadata"]["labels"].get("app", "")])
    assert indexed(store, "app", "x") == ["ns1/a"]
    store.upsert(obj("c", labels={"app": "x"}))
    assert indexed(store, "app", "x") == ["ns1/a", "ns1/c"]
    with pytest.raises(ValueError, match="already exists"):
        store.add_indexer("app", lambda o: [])


def test_unknown_index_is_an_error():
    with pytest.raises(KeyError, match="nope"):
        Store().by_index("nope", "x")


def test_kdcluster_indexer_ignores_unlabelled_objects():
    assert by_kdcluster_label(obj("a")) == []
    assert by_kdcluster_label(obj("a", labels={KDCLUSTER_LABEL: "c"})) == ["ns1/c"]


def test_concurrent_writers_keep_store_and_indexes_consistent():
    store = Store(default_indexers())

    def writer(worker: int) -> None:
        for i in range(300):
            store.upsert(obj(f"o{i % 30}", labels={KDCLUSTER_LABEL: f"c{worker}"}, rv=str(i)))
            if i % 7 == 0:
                store.delete(f"ns1/o{(i + worker) % 30}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    in_index = {k for w in range(4) for k in indexed(store, KDCLUSTER_INDEX, f"ns1/c{w}")}
    assert in_index == set(store.keys())
