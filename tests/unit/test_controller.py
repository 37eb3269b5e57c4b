"""How a controller maps events to keys and turns reconcile outcomes into queue actions."""

from __future__ import annotations

import threading
import time

import pytest
import structlog

from kubedirector.controller.controller import Controller, label_key, own_key, owner_key
from kubedirector.controller.queue import RateLimitingQueue
from kubedirector.controller.result import Result, TerminalError
from kubedirector.metrics.registry import RECONCILE_ERRORS, RECONCILE_TOTAL


def obj(name, namespace="ns", owners=(), labels=None):
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "ownerReferences": list(owners),
        }
    }


def test_mappers():
    assert own_key(obj("a")) == ["ns/a"]
    ref = {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorCluster",
        "name": "c1",
        "uid": "u",
        "controller": True,
    }
    not_controller = dict(ref, name="c0", controller=False)
    member = obj("pod", owners=[not_controller, ref])
    assert owner_key("KubeDirectorCluster")(member) == ["ns/c1"]
    assert owner_key("KubeDirectorCluster", "kubedirector.hpe.com")(member) == ["ns/c1"]
    assert owner_key("KubeDirectorCluster", "apps")(member) == []
    assert owner_key("StatefulSet")(member) == []
    labelled = obj("pod", labels={"kubedirector.hpe.com/kdcluster": "c2"})
    assert label_key()(labelled) == ["ns/c2"]
    assert label_key()(obj("pod")) == []


class Scripted:
    """A reconciler that replays outcomes and records the log context it ran with."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.contexts = []

    def reconcile(self, key):
        self.contexts.append(structlog.contextvars.get_contextvars())
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def counted(controller, result):
    return RECONCILE_TOTAL.labels(controller=controller, result=result)._value.get()


@pytest.mark.parametrize(
    ("outcome", "result", "requeued", "failures"),
    [
        (Result.success(), "success", False, 0),
        (Result.after(0.05), "requeue_after", True, 0),
        (Result.rate_limited(), "requeue", True, 1),
        (RuntimeError("boom"), "error", True, 1),
        (TerminalError("bad spec"), "error", False, 0),
    ],
)
def test_outcomes_decide_requeue(outcome, result, requeued, failures):
    name = f"test-{result}-{type(outcome).__name__}"
    queue: RateLimitingQueue[str] = RateLimitingQueue(name, metrics=False)
    controller = Controller(name, Scripted(outcome), queue=queue)
    before = counted(name, result)
    queue.add("ns/a")
    key, _ = queue.get(timeout=1)
    assert key is not None
    controller.process(key)
    queue.done(key)
    assert counted(name, result) == before + 1
    assert queue.num_requeues("ns/a") == failures
    again, _ = queue.get(timeout=0.5)
    assert (again == "ns/a") is requeued
    if result == "error":
        assert RECONCILE_ERRORS.labels(controller=name)._value.get() == 1


def test_each_reconcile_gets_its_own_id_and_key_in_the_log_context():
    reconciler = Scripted(Result.success(), Result.success())
    controller = Controller(
        "test-context", reconciler, queue=RateLimitingQueue("test-context", metrics=False)
    )
    controller.process("ns/a")
    controller.process("ns/b")
    first, second = reconciler.contexts
    assert first["key"] == "ns/a" and second["key"] == "ns/b"
    assert first["controller"] == "test-context"
    assert first["reconcile_id"] != second["reconcile_id"]
    assert structlog.contextvars.get_contextvars() == {}


def test_workers_survive_exceptions_and_stop_promptly():
    done = threading.Event()

    class Flaky:
        calls = 0

        def reconcile(self, key):
            Flaky.calls += 1
            if Flaky.calls < 3:
                raise RuntimeError("transient")
            done.set()
            return Result.success()

    controller = Controller(
        "test-flaky", Flaky(), workers=2, queue=RateLimitingQueue("test-flaky", metrics=False)
    )
    controller.start()
    controller.queue.add("ns/a")
    assert done.wait(5)
    began = time.monotonic()
    assert controller.stop(timeout=5)
    assert time.monotonic() - began < 2


def test_idle_workers_block_instead_of_polling():
    """An idle operator must cost no CPU: each idle worker waits in one `get` until a key
    comes or the controller stops, rather than waking every fraction of a second."""

    class CountingQueue(RateLimitingQueue[str]):
        calls = 0

        def get(self, timeout: float | None = None) -> tuple[str | None, bool]:
            CountingQueue.calls += 1
            return super().get(timeout)

    controller = Controller(
        "test-idle", Scripted(), workers=4, queue=CountingQueue("test-idle", metrics=False)
    )
    controller.start()
    time.sleep(1.5)
    assert CountingQueue.calls == 4  # one blocked call per worker
    assert controller.stop(timeout=5)


def test_at_least_one_worker():
    with pytest.raises(ValueError, match="at least one worker"):
        Controller("x", Scripted(), workers=0)
