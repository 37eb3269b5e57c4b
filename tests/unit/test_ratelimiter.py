"""Rate limiters: client-go's delays, per key and overall."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubedirector.controller.ratelimiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_exponential_doubles_per_key_until_the_cap():
    limiter = ItemExponentialFailureRateLimiter(base=0.005, max_delay=1000.0)
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[17] == pytest.approx(655.36)
    assert delays[18:] == [1000.0, 1000.0]
    assert limiter.num_requeues("a") == 20
    assert limiter.when("b") == 0.005
    assert limiter.num_requeues("b") == 1


def test_exponential_forget_starts_over():
    limiter = ItemExponentialFailureRateLimiter(base=1.0, max_delay=60.0)
    limiter.when("a")
    limiter.when("a")
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 1.0


def test_exponential_survives_huge_failure_counts():
    limiter = ItemExponentialFailureRateLimiter(base=0.005, max_delay=1000.0)
    for _ in range(1100):
        last = limiter.when("a")
    assert last == 1000.0


def test_bucket_allows_a_burst_then_spaces_requests():
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=10, burst=3, clock=clock)
    assert [limiter.when(k) for k in "abc"] == [0.0, 0.0, 0.0]
    assert limiter.when("d") == pytest.approx(0.1)
    assert limiter.when("e") == pytest.approx(0.2)
    clock.now += 0.2
    assert limiter.when("f") == pytest.approx(0.1)


def test_bucket_refills_up_to_burst_only():
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=10, burst=2, clock=clock)
    limiter.when("a")
    limiter.when("b")
    clock.now += 3600
    assert [limiter.when(k) for k in "abc"] == [0.0, 0.0, pytest.approx(0.1)]
    assert limiter.num_requeues("a") == 0


def test_max_of_needs_a_limiter():
    with pytest.raises(ValueError, match="at least one"):
        MaxOfRateLimiter()


def test_max_of_forgets_in_all_and_reports_the_most_requeues():
    slow = ItemExponentialFailureRateLimiter(base=1.0, max_delay=100.0)
    fast = ItemExponentialFailureRateLimiter(base=0.001, max_delay=100.0)
    limiter = MaxOfRateLimiter(slow, fast)
    fast.when("a")
    assert limiter.when("a") == 1.0
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert (slow.num_requeues("a"), fast.num_requeues("a")) == (0, 0)


def test_default_controller_limiter_matches_client_go():
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    assert [limiter.when("a") for _ in range(3)] == [0.005, 0.01, 0.02]
    for i in range(97):
        assert limiter.when(f"k{i}") == 0.005
    # The bucket (burst 100) is empty now: 10 per second from here.
    assert limiter.when("b") == pytest.approx(0.1)
    assert limiter.when("a") == pytest.approx(0.2)
    assert limiter.num_requeues("a") == 4


# A step is (key, seconds the clock moves before the call).
steps = st.lists(
    st.tuples(st.sampled_from("abc"), st.sampled_from([0.0, 0.0, 0.01, 0.05, 0.3, 2.0])),
    max_size=60,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    steps=steps,
    base=st.sampled_from([0.001, 0.005, 0.5]),
    cap=st.sampled_from([0.1, 3.0, 1000.0]),
    qps=st.sampled_from([1.0, 10.0]),
    burst=st.integers(min_value=1, max_value=5),
    forget_at=st.sets(st.integers(min_value=0, max_value=59)),
)
def test_max_of_follows_the_model(steps, base, cap, qps, burst, forget_at):
    """The delay is max(base * 2**failures capped, the token bucket's wait)."""
    clock = FakeClock()
    limiter = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base, cap),
        BucketRateLimiter(qps=qps, burst=burst, clock=clock),
    )
    failures: dict[str, int] = {}
    tokens, last = float(burst), clock.now
    for i, (key, advance) in enumerate(steps):
        clock.now += advance
        if i in forget_at:
            limiter.forget(key)
            failures.pop(key, None)
        tokens = min(burst, tokens + (clock.now - last) * qps) - 1
        last = clock.now
        bucket_wait = max(0.0, -tokens / qps)
        expected = max(min(base * 2 ** failures.get(key, 0), cap), bucket_wait)
        failures[key] = failures.get(key, 0) + 1
        assert limiter.when(key) == pytest.approx(expected)
        assert limiter.num_requeues(key) == failures[key]
