"""The deduplicating, delaying, rate-limited work queue of client-go.

Three structures make its guarantees: a FIFO of keys to hand out, a `dirty` set
of keys that need processing, and a `processing` set of keys held by workers.
A key is never held by two workers at once, and an add while it is held is not
lost: the key goes back on the FIFO when the worker calls `done`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from kubedirector.controller.ratelimiter import RateLimiter, default_controller_rate_limiter
from kubedirector.metrics.registry import WORKQUEUE
from kubedirector.metrics.workqueue import NoopQueueMetrics, QueueMetrics, QueueMetricsProvider

T = TypeVar("T", bound=Hashable)
Clock = Callable[[], float]

# Insurance against a clock that moves without the waiting thread noticing (client-go's maxWait).
_MAX_TIMER_WAIT = 10.0


class RateLimitingQueue(Generic[T]):
    """Hands keys to workers; see the module docstring for the contract.

    `metrics` is True for the operator's registry, False for none, or a provider.
    Delayed keys become ready either through a lazily started waiting thread or
    at the start of any queue operation, whichever comes first; the latter keeps
    tests with a fake clock deterministic. The waiting thread lives until shutdown.
    """

    def __init__(
        self,
        name: str,
        rate_limiter: RateLimiter | None = None,
        metrics: bool | QueueMetricsProvider = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self._rate_limiter = (
            rate_limiter if rate_limiter is not None else default_controller_rate_limiter(clock)
        )
        self._clock = clock
        self._metrics = _queue_metrics(name, metrics, clock)
        self._lock = threading.Lock()
        self._has_items = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._timer_wake = threading.Condition(self._lock)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        # Delayed keys: a heap of (ready_at, seq, key); `_waiting` maps each key to its live
        # entry's (ready_at, seq), so an entry replaced by an earlier one is skipped when popped.
        self._heap: list[tuple[float, int, T]] = []
        self._waiting: dict[T, tuple[float, int]] = {}
        self._seq = itertools.count()
        self._timer: threading.Thread | None = None
        self._shutting_down = False
        self._draining = False

    def add(self, key: T) -> None:
        """Mark `key` as needing processing; a no-op if it already does."""
        with self._lock:
            self._promote_ready()
            self._add(key)

    def get(self, timeout: float | None = None) -> tuple[T | None, bool]:
        """Block for the next key: (key, False); (None, True) once shut down and empty.

        With a timeout (real seconds, whatever the clock), (None, False) if nothing came in time.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._promote_ready()
            while not self._queue and not self._shutting_down:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None, False
                self._has_items.wait(remaining)
                self._promote_ready()
            if not self._queue:
                return None, True
            key = self._queue.popleft()
            self._metrics.get(key)
            self._processing.add(key)
            self._dirty.discard(key)
            return key, False

    def done(self, key: T) -> None:
        """The worker is finished with `key`; requeue it if it was added meanwhile.

        Unlike client-go, a `done` for a key not being processed is ignored, so a
        double `done` cannot put a key on the FIFO twice.
        """
        with self._lock:
            self._promote_ready()
            if key not in self._processing:
                return
            self._metrics.done(key)
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._has_items.notify()
            elif not self._processing:
                self._idle.notify_all()

    def len(self) -> int:
        """Keys waiting to be handed out (not delayed ones, not those being processed)."""
        with self._lock:
            self._promote_ready()
            return len(self._queue)

    def __len__(self) -> int:
        return self.len()

    def add_after(self, key: T, delay: float) -> None:
        """Add `key` once `delay` seconds have passed; an earlier pending time wins."""
        with self._lock:
            if self._shutting_down:
                return
            self._metrics.retry()
            self._promote_ready()
            if delay <= 0:
                self._add(key)
                return
            ready_at = self._clock() + delay
            pending = self._waiting.get(key)
            if pending is not None and pending[0] <= ready_at:
                return
            seq = next(self._seq)
            self._waiting[key] = (ready_at, seq)
            heapq.heappush(self._heap, (ready_at, seq, key))
            self._start_timer()
            self._timer_wake.notify()

    def add_rate_limited(self, key: T) -> None:
        """Add `key` after the delay the rate limiter asks for (it counts as a failure)."""
        self.add_after(key, self._rate_limiter.when(key))

    def forget(self, key: T) -> None:
        """Reset the rate limiter's failure count for `key` (it succeeded)."""
        self._rate_limiter.forget(key)

    def num_requeues(self, key: T) -> int:
        """The rate limiter's failure count for `key`."""
        return self._rate_limiter.num_requeues(key)

    def shutdown(self) -> None:
        """Refuse new keys; `get` still hands out queued keys, then reports shutdown.

        Delayed keys whose time has not come are dropped, as in client-go.
        """
        with self._lock:
            self._draining = False
            self._shut_down()

    def shutdown_with_drain(self, timeout: float) -> bool:
        """Shut down, then wait up to `timeout` s for keys being processed to be done.

        Returns whether they all were. A concurrent `shutdown` stops the wait.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._draining = True
            self._shut_down()
            while self._processing and self._draining:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._idle.wait(remaining)
            return not self._processing

    def shutting_down(self) -> bool:
        """Whether shutdown has begun."""
        with self._lock:
            return self._shutting_down

    def _add(self, key: T) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._metrics.add(key)
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._has_items.notify()

    def _shut_down(self) -> None:
        self._promote_ready()
        self._shutting_down = True
        self._heap.clear()
        self._waiting.clear()
        self._has_items.notify_all()
        self._idle.notify_all()
        self._timer_wake.notify_all()

    def _promote_ready(self) -> None:
        """Move delayed keys whose time has come onto the queue, earliest first."""
        if not self._heap:
            return
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            ready_at, seq, key = heapq.heappop(self._heap)
            if self._waiting.get(key) == (ready_at, seq):
                del self._waiting[key]
                self._add(key)

    def _start_timer(self) -> None:
        if self._timer is None:
            self._timer = threading.Thread(
                target=self._wait_loop, name=f"queue-{self.name}-delay", daemon=True
            )
            self._timer.start()

    def _wait_loop(self) -> None:
        """Wakes at the earliest ready time, so delayed keys move even if no one calls in."""
        with self._lock:
            while not self._shutting_down:
                self._promote_ready()
                if self._heap:
                    wait = min(self._heap[0][0] - self._clock(), _MAX_TIMER_WAIT)
                    self._timer_wake.wait(max(wait, 0.0))
                else:
                    self._timer_wake.wait()


def _queue_metrics(name: str, metrics: bool | QueueMetricsProvider, clock: Clock) -> QueueMetrics:
    if metrics is False:
        return NoopQueueMetrics()
    provider = WORKQUEUE if metrics is True else metrics
    return provider.new_queue_metrics(name, clock)
