"""Rate limiters for requeues, with client-go's semantics.

A failing key backs off exponentially on its own, and the controller as a whole
is held to a token bucket, so one broken object cannot starve the others and a
mass failure cannot hammer the API server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Protocol

Clock = Callable[[], float]


class RateLimiter(Protocol):
    """What the work queue needs from a limiter; delays are in seconds."""

    def when(self, key: Hashable) -> float:
        """Record one more failure of `key` and return how long to wait before retrying it."""
        ...

    def forget(self, key: Hashable) -> None:
        """Stop tracking `key` (it succeeded), so its next failure starts from scratch."""
        ...

    def num_requeues(self, key: Hashable) -> int:
        """How many failures of `key` are being tracked."""
        ...


class ItemExponentialFailureRateLimiter:
    """Per key: base * 2**failures, capped at max_delay."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self._base = base
        self._max_delay = max_delay
        self._failures: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def when(self, key: Hashable) -> float:
        with self._lock:
            exp = self._failures.get(key, 0)
            self._failures[key] = exp + 1
        try:
            delay = self._base * 2.0**exp
        except OverflowError:
            return self._max_delay
        return min(delay, self._max_delay)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)


class BucketRateLimiter:
    """An overall token bucket (golang.org/x/time/rate's Reserve): keys are not told apart.

    The bucket starts full; each `when` takes a token, possibly borrowing against
    the future, and returns how long until that token exists.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = time.monotonic) -> None:
        self._qps = qps
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def when(self, key: Hashable) -> float:
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._last)
            self._tokens = min(float(self._burst), self._tokens + elapsed * self._qps)
            self._last = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self._qps

    def forget(self, key: Hashable) -> None:
        """Nothing to forget: the bucket does not track keys."""

    def num_requeues(self, key: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of the limiters asks for."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, key: Hashable) -> float:
        return max(limiter.when(key) for limiter in self._limiters)

    def forget(self, key: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self._limiters)


def default_controller_rate_limiter(clock: Clock = time.monotonic) -> RateLimiter:
    """client-go's DefaultControllerRateLimiter: 5 ms doubling to 1000 s, and 10 qps burst 100."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(qps=10.0, burst=100, clock=clock),
    )
