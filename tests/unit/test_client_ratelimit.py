"""The API client's own rate limiter (client-go's QPS and burst): every request waits for
a token; a full bucket lets `burst` through at once, then `qps` a second."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes.client import ApiClient, Configuration

from kubedirector.controller.ratelimiter import BucketRateLimiter
from kubedirector.kube import InstrumentedApiClient, new_api_client


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Response:
    status = 200


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(ApiClient, "request", lambda self, *a, **kw: Response())


def limited_client(qps: float, burst: int, fake: FakeTime) -> InstrumentedApiClient:
    limiter = BucketRateLimiter(qps=qps, burst=burst, clock=fake.clock)
    return InstrumentedApiClient(Configuration(), limiter=limiter, sleep=fake.sleep)


def test_a_burst_goes_at_once_then_requests_are_paced():
    fake = FakeTime()
    client = limited_client(10, 3, fake)
    for _ in range(5):
        client.request("GET", "https://api/x")
    assert fake.slept == pytest.approx([0.1, 0.1])
    assert fake.now == pytest.approx(0.2)


def test_an_idle_client_gets_its_burst_back():
    fake = FakeTime()
    client = limited_client(10, 2, fake)
    for _ in range(2):
        client.request("GET", "https://api/x")
    fake.now += 60
    for _ in range(2):
        client.request("PATCH", "https://api/x")
    assert fake.slept == []


@given(qps=st.floats(0.5, 500), burst=st.integers(1, 50), n=st.integers(1, 300))
def test_never_more_than_burst_plus_qps_times_elapsed(qps, burst, n):
    fake = FakeTime()
    client = limited_client(qps, burst, fake)
    for _ in range(n):
        client.request("GET", "https://api/x")
    assert n <= burst + qps * fake.now + 1e-6
    # and no slower than needed: the wait is exactly what the excess requires
    assert fake.now == pytest.approx(max(0.0, (n - burst) / qps), rel=1e-6, abs=1e-6)


def test_qps_zero_means_unlimited(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    assert new_api_client(str(kubeconfig)).limiter is None
    limited = new_api_client(str(kubeconfig), qps=5, burst=7)
    assert isinstance(limited.limiter, BucketRateLimiter)
