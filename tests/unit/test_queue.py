"""The work queue keeps client-go's contract."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kubedirector.controller.queue import RateLimitingQueue
from kubedirector.controller.ratelimiter import ItemExponentialFailureRateLimiter


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock):
    q: RateLimitingQueue[str] = RateLimitingQueue("test", metrics=False, clock=clock)
    yield q
    q.shutdown()


def drain(q: RateLimitingQueue[str]) -> list[str]:
    """Get and finish every key that is ready now (a runaway queue fails, not hangs)."""
    out: list[str] = []
    for _ in range(100):
        key, _ = q.get(timeout=0)
        if key is None:
            return out
        out.append(key)
        q.done(key)
    raise AssertionError(f"the queue keeps handing out keys: {out[:10]}...")


def test_fifo_order_and_deduplication(queue):
    for key in ["a", "b", "a", "c", "b"]:
        queue.add(key)
    assert len(queue) == queue.len() == 3
    assert drain(queue) == ["a", "b", "c"]


def test_add_during_processing_is_held_back_then_requeued(queue):
    queue.add("a")
    key, _ = queue.get(timeout=0)
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0
    assert queue.get(timeout=0) == (None, False)
    queue.done(key)
    assert drain(queue) == ["a"]
    assert drain(queue) == []


def test_done_for_a_key_not_being_processed_is_ignored(queue):
    queue.add("a")
    queue.done("a")
    queue.done("a")
    assert len(queue) == 1
    assert drain(queue) == ["a"]


def test_get_times_out_empty_handed(queue):
    start = time.monotonic()
    assert queue.get(timeout=0.05) == (None, False)
    assert time.monotonic() - start >= 0.04


def test_blocked_get_wakes_on_add_from_another_thread(queue):
    threading.Timer(0.02, queue.add, args=("a",)).start()
    assert queue.get(timeout=5) == ("a", False)


def test_shutdown_hands_out_queued_keys_first(queue):
    queue.add("a")
    queue.add("b")
    queue.shutdown()
    queue.add("c")
    assert queue.shutting_down()
    assert queue.get(timeout=5) == ("a", False)
    assert queue.get(timeout=5) == ("b", False)
    assert queue.get(timeout=5) == (None, True)


def test_shutdown_wakes_blocked_getters(queue):
    results = []
    getters = [
        threading.Thread(target=lambda: results.append(queue.get(timeout=5))) for _ in range(3)
    ]
    for t in getters:
        t.start()
    time.sleep(0.02)
    queue.shutdown()
    for t in getters:
        t.join(timeout=5)
    assert results == [(None, True)] * 3


def test_key_re_added_during_processing_is_still_handed_out_after_shutdown(queue):
    queue.add("a")
    key, _ = queue.get(timeout=5)
    queue.add("a")
    queue.shutdown()
    queue.done(key)
    assert queue.get(timeout=5) == ("a", False)
    queue.done("a")
    assert queue.get(timeout=5) == (None, True)


def test_shutdown_with_drain_waits_for_work_in_flight(queue):
    queue.add("a")
    key, _ = queue.get(timeout=5)
    threading.Timer(0.05, queue.done, args=(key,)).start()
    start = time.monotonic()
    assert queue.shutdown_with_drain(5.0) is True
    assert time.monotonic() - start >= 0.04
    assert queue.get(timeout=5) == (None, True)


def test_shutdown_with_drain_is_bounded(queue):
    queue.add("a")
    queue.get(timeout=5)
    start = time.monotonic()
    assert queue.shutdown_with_drain(0.05) is False
    assert time.monotonic() - start < 2


def test_shutdown_cuts_a_drain_short(queue):
    queue.add("a")
    queue.get(timeout=5)
    result = []
    waiter = threading.Thread(target=lambda: result.append(queue.shutdown_with_drain(30)))
    waiter.start()
    time.sleep(0.02)
    queue.shutdown()
    waiter.join(timeout=5)
    assert result == [False]


def test_shutdown_with_drain_without_work_returns_at_once(queue):
    assert queue.shutdown_with_drain(30) is True


def test_add_after_waits_for_the_clock(queue, clock):
    queue.add_after("a", 5)
    assert queue.get(timeout=0) == (None, False)
    clock.now += 4.9
    assert len(queue) == 0
    clock.now += 0.1
    assert drain(queue) == ["a"]


def test_add_after_keeps_the_earlier_time(queue, clock):
    queue.add_after("a", 5)
    queue.add_after("a", 10)
    queue.add_after("b", 10)
    queue.add_after("b", 2)
    clock.now += 2
    assert drain(queue) == ["b"]
    clock.now += 3
    assert drain(queue) == ["a"]
    clock.now += 10
    assert drain(queue) == []


def test_delayed_keys_come_out_in_ready_time_order(queue, clock):
    queue.add_after("late", 3)
    queue.add_after("early", 1)
    queue.add_after("middle", 2)
    clock.now += 3
    assert drain(queue) == ["early", "middle", "late"]


def test_add_after_without_delay_adds_now(queue):
    queue.add_after("a", 0)
    queue.add_after("b", -1)
    assert drain(queue) == ["a", "b"]


def test_shutdown_drops_delayed_keys_not_yet_due(queue, clock):
    queue.add_after("due", 1)
    queue.add_after("later", 2)
    clock.now += 1
    queue.shutdown()
    queue.add_after("b", 0)
    clock.now += 5
    assert queue.get(timeout=0) == ("due", False)
    assert queue.get(timeout=0) == (None, True)


def test_waiting_thread_moves_a_delayed_key_to_a_blocked_getter():
    queue: RateLimitingQueue[str] = RateLimitingQueue("real-clock", metrics=False)
    try:
        start = time.monotonic()
        queue.add_after("a", 0.05)
        assert queue.get(timeout=5) == ("a", False)
        assert time.monotonic() - start >= 0.04
    finally:
        queue.shutdown()


def test_add_rate_limited_backs_off_per_key_until_forgotten(clock):
    limiter = ItemExponentialFailureRateLimiter(base=1.0, max_delay=100.0)
    queue: RateLimitingQueue[str] = RateLimitingQueue(
        "limited", rate_limiter=limiter, metrics=False, clock=clock
    )
    try:
        queue.add_rate_limited("a")
        queue.add_rate_limited("a")
        assert queue.num_requeues("a") == 2
        clock.now += 0.99
        assert drain(queue) == []
        clock.now += 0.01
        assert drain(queue) == ["a"]
        queue.forget("a")
        assert queue.num_requeues("a") == 0
        queue.add_rate_limited("a")
        clock.now += 1
        assert drain(queue) == ["a"]
    finally:
        queue.shutdown()


def test_default_rate_limiter_is_client_gos(clock):
    queue: RateLimitingQueue[str] = RateLimitingQueue("default", metrics=False, clock=clock)
    try:
        queue.add_rate_limited("a")
        clock.now += 0.004
        assert drain(queue) == []
        clock.now += 0.001
        assert drain(queue) == ["a"]
    finally:
        queue.shutdown()


KEYS = ["a", "b", "c"]


class QueueModel(RuleBasedStateMachine):
    """Sequential model of client-go's queue: FIFO, dirty, processing, delayed."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(
            "model", metrics=False, clock=self.clock
        )
        self.fifo: list[str] = []
        self.dirty: set[str] = set()
        self.processing: set[str] = set()
        self.waiting: dict[str, tuple[float, int]] = {}
        self.seq = 0
        self.shut = False

    def _add(self, key: str) -> None:
        if self.shut or key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.processing:
            self.fifo.append(key)

    def _promote(self) -> None:
        ready = sorted((t, s, k) for k, (t, s) in self.waiting.items() if t <= self.clock.now)
        for _, _, key in ready:
            del self.waiting[key]
            self._add(key)

    @rule(key=st.sampled_from(KEYS))
    def add(self, key):
        self._promote()
        self._add(key)
        self.queue.add(key)

    @rule(key=st.sampled_from(KEYS), delay=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, 5.0]))
    def add_after(self, key, delay):
        self.queue.add_after(key, delay)
        if self.shut:
            return
        self._promote()
        if delay <= 0:
            self._add(key)
            return
        ready_at = self.clock.now + delay
        if key not in self.waiting or ready_at < self.waiting[key][0]:
            self.seq += 1
            self.waiting[key] = (ready_at, self.seq)

    @rule(seconds=st.sampled_from([0.25, 0.5, 1.0, 3.0]))
    def advance(self, seconds):
        self.clock.now += seconds

    @rule()
    def get(self):
        self._promote()
        got = self.queue.get(timeout=0)
        if self.fifo:
            key = self.fifo.pop(0)
            assert key not in self.processing, "a key was handed to two workers"
            self.processing.add(key)
            self.dirty.discard(key)
            assert got == (key, False)
        else:
            assert got == (None, self.shut)

    @rule(key=st.sampled_from(KEYS))
    def done(self, key):
        self._promote()
        self.queue.done(key)
        if key not in self.processing:
            return
        self.processing.discard(key)
        if key in self.dirty:
            self.fifo.append(key)

    @precondition(lambda self: not self.shut)
    @rule()
    def shutdown(self):
        self._promote()
        self.queue.shutdown()
        self.shut = True
        self.waiting.clear()

    @invariant()
    def same_length(self):
        self._promote()
        assert self.queue.len() == len(self.fifo)
        assert self.queue.shutting_down() == self.shut

    def teardown(self) -> None:
        """Every pending add is still handed out: nothing was lost."""
        self.clock.now += 100
        self.same_length()
        for key in list(self.processing):
            self.done(key)
        expected = list(self.fifo)
        self.queue.shutdown()
        assert drain(self.queue) == expected


QueueModel.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, derandomize=True
)
TestQueueModel = QueueModel.TestCase


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    adds=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.sampled_from([0.0, 0.0, 0.0, 0.001, 0.004])),
        min_size=1,
        max_size=200,
    ),
    workers=st.integers(min_value=1, max_value=4),
    producers=st.integers(min_value=1, max_value=3),
)
def test_concurrent_workers_never_share_a_key_and_lose_no_add(adds, workers, producers):
    """Whatever the interleaving, each key's last add is seen by a later reconcile."""
    queue: RateLimitingQueue[str] = RateLimitingQueue("stress", metrics=False)
    lock = threading.Lock()
    version: Counter[str] = Counter()
    seen: dict[str, int] = {}
    held: set[str] = set()
    overlaps: list[str] = []

    def work() -> None:
        while True:
            key, shutdown = queue.get()
            if shutdown:
                return
            assert key is not None  # not shut down: get() blocked until a key came
            with lock:
                if key in held:
                    overlaps.append(key)
                held.add(key)
                seen[key] = version[key]
            time.sleep(0)
            with lock:
                held.discard(key)
            queue.done(key)

    def produce(share: list[tuple[str, float]]) -> None:
        for key, delay in share:
            with lock:
                version[key] += 1
            if delay:
                queue.add_after(key, delay)
            else:
                queue.add(key)

    worker_threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    producer_threads = [
        threading.Thread(target=produce, args=(adds[i::producers],), daemon=True)
        for i in range(producers)
    ]
    for t in worker_threads + producer_threads:
        t.start()
    for t in producer_threads:
        t.join()
    time.sleep(0.01)
    queue.len()  # moves every delayed key, now all due, onto the queue
    queue.shutdown()
    for t in worker_threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in worker_threads)
    assert overlaps == []
    assert seen == dict(version)
