"""Event aggregation (as client-go's recorder) and the reconciler's shared expectations."""

from __future__ import annotations

import threading

from kubernetes.client import ApiException

from kubedirector.reconcilers.cluster.expectations import Expectations
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.resources import EVENTS
from tests.unit.fake_api import RecordingWriter

CLUSTER = {
    "apiVersion": "kubedirector.hpe.com/v1beta1",
    "kind": "KubeDirectorCluster",
    "metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
}


def test_identical_events_are_counted_on_one_event():
    writer = RecordingWriter()
    events = EventRecorder(writer)
    for _ in range(5):
        events.record(CLUSTER, "Warning", "ReconcileError", "apply StatefulSet ns/x refused")
    events.record(CLUSTER, "Warning", "ReconcileError", "another answer")
    creates = [w for w in writer.events() if w.verb == "create"]
    patches = [w.sent()["count"] for w in writer.events() if w.verb == "merge_patch"]
    assert [w.sent()["message"] for w in creates] == [
        "apply StatefulSet ns/x refused",
        "another answer",
    ]
    assert patches == [2, 3, 4, 5]


def test_an_expired_event_is_created_again():
    writer = RecordingWriter()
    events = EventRecorder(writer)
    events.record(CLUSTER, "Normal", "MemberAdded", "member p-0 added")
    [created] = writer.events()
    writer.refuse("Event", created.name, 404, "not found")
    events.record(CLUSTER, "Normal", "MemberAdded", "member p-0 added")
    assert [w.verb for w in writer.events()] == ["create", "create"]


def test_a_failing_event_write_is_not_raised():
    writer = RecordingWriter()
    writer.refuse("Event", "c.1000", 403, "forbidden")
    EventRecorder(writer).record(CLUSTER, "Normal", "X", "y")  # logged, not raised
    assert writer.events() == []


def test_expectations_choose_one_name_per_slot_under_concurrency():
    expectations = Expectations()
    chosen: list[str] = []
    lock = threading.Lock()

    def new() -> str:
        with lock:
            chosen.append(f"n{len(chosen)}")
            return chosen[-1]

    names: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: names.append(expectations.name_for("ns/c", "u1", "worker", new))
        )
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(chosen) == 1 and set(names) == {"n0"}
    assert expectations.name_for("ns/c", "u2", "worker", new) == "n1", "a new uid starts afresh"


def test_expectations_prefer_a_newer_written_cluster():
    expectations = Expectations()
    cached = {"metadata": {"name": "c", "namespace": "ns", "uid": "u1", "resourceVersion": "5"}}
    written = {"metadata": {**cached["metadata"], "resourceVersion": "7"}}
    expectations.wrote(written)
    assert expectations.latest("ns/c", cached) is written
    newer = {"metadata": {**cached["metadata"], "resourceVersion": "8"}}
    assert expectations.latest("ns/c", newer) is newer
    assert expectations.latest("ns/c", None) is None


def test_refusal_names_the_object_and_the_answer():
    writer = RecordingWriter()
    writer.refuse("Event", "c.1000", 422, "bad")
    try:
        writer.create(EVENTS, {"metadata": {"generateName": "c.", "namespace": "ns"}})
    except ApiException as e:
        assert str(e) == "create Event ns/c.1000 refused (422 Unprocessable Entity): bad"
    else:
        raise AssertionError("not refused")
