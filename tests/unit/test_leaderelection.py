"""Leader election timing rules, against an in-memory Lease with resourceVersion semantics."""

from __future__ import annotations

import copy
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes.client import ApiException

from kubedirector.controller.leaderelection import (
    LeaderElectionConfig,
    LeaderElector,
    default_identity,
    micro_time,
    validate_timings,
)
from kubedirector.metrics.registry import LEADER_STATUS


class FakeLeases:
    """One Lease; writes with a stale resourceVersion get 409 like the API server."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 0
        self.fail = False
        self.lock = threading.Lock()

    def get(self) -> dict[str, Any] | None:
        with self.lock:
            if self.fail:
                raise ApiException(status=503, reason="unavailable")
            return copy.deepcopy(self.lease)

    def stored(self) -> dict[str, Any]:
        """The Lease as stored; the tests that read it expect one to have been created."""
        assert self.lease is not None
        return self.lease

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.lease is not None:
                raise ApiException(status=409, reason="AlreadyExists")
            self.rv += 1
            self.lease = {"metadata": {"resourceVersion": str(self.rv)}, "spec": spec}
            return copy.deepcopy(self.lease)

    def update(self, lease: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.fail:
                raise ApiException(status=503, reason="unavailable")
            if lease["metadata"]["resourceVersion"] != self.stored()["metadata"]["resourceVersion"]:
                raise ApiException(status=409, reason="Conflict")
            self.rv += 1
            self.lease = copy.deepcopy(lease)
            self.lease["metadata"]["resourceVersion"] = str(self.rv)
            return copy.deepcopy(self.lease)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(leases, clock, identity, **timing):
    config = LeaderElectionConfig(namespace="ns", name="test-lease", identity=identity, **timing)
    return LeaderElector(
        config,
        leases,
        on_started_leading=lambda: None,
        on_stopped_leading=lambda: None,
        clock=clock,
        wall_clock=lambda: datetime.fromtimestamp(clock.now, UTC),
    )


@pytest.mark.parametrize(
    ("duration", "deadline", "retry", "message"),
    [
        (10, 10, 2, "lease duration"),
        (15, 2.4, 2, "renew deadline"),
        (15, 10, 0, "retry period"),
        (15, 10, -1, "retry period"),
    ],
)
def test_unsafe_timings_are_refused(duration, deadline, retry, message):
    with pytest.raises(ValueError, match=message):
        validate_timings(duration, deadline, retry)
    with pytest.raises(ValueError, match=message):
        LeaderElectionConfig(
            "ns", "x", lease_duration=duration, renew_deadline=deadline, retry_period=retry
        )


def test_defaults_are_15_10_2_and_identity_is_hostname_uuid():
    config = LeaderElectionConfig("ns", "x")
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (15, 10, 2)
    host, _, suffix = default_identity().rpartition("_")
    assert host and len(suffix) == 36
    validate_timings(15, 10, 2)
    validate_timings(15, 2.41, 2)


def test_first_elector_creates_the_lease():
    leases, clock = FakeLeases(), Clock()
    a = elector(leases, clock, "a")
    assert a.try_acquire_or_renew()
    spec = leases.stored()["spec"]
    assert spec["holderIdentity"] == "a"
    assert spec["leaseTransitions"] == 0
    assert spec["leaseDurationSeconds"] == 15
    assert spec["acquireTime"] == spec["renewTime"]


def test_standby_waits_a_full_lease_duration_from_when_it_last_saw_a_change():
    leases, clock = FakeLeases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.try_acquire_or_renew()
    acquired_at = leases.stored()["spec"]["acquireTime"]
    clock.now += 5
    assert not b.try_acquire_or_renew()  # b first sees the record now: t=1005
    assert b.observed_holder() == "a"
    clock.now += 14.9  # 1019.9: unchanged record, but b saw it only 14.9 s ago
    assert not b.try_acquire_or_renew()
    clock.now += 0.2  # 1020.1: 15 s after b saw it change
    assert b.try_acquire_or_renew()
    spec = leases.stored()["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == spec["renewTime"]
    assert spec["acquireTime"] > acquired_at


def test_renewals_push_the_standbys_expiry_back():
    leases, clock = FakeLeases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    for _ in range(20):  # 40 s of renewals every 2 s: never expires for b
        clock.now += 2
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert leases.stored()["spec"]["holderIdentity"] == "a"
    assert leases.stored()["spec"]["leaseTransitions"] == 0


def test_renewal_keeps_acquire_time_and_transitions():
    leases, clock = FakeLeases(), Clock()
    a = elector(leases, clock, "a")
    assert a.try_acquire_or_renew()
    first = copy.deepcopy(leases.stored()["spec"])
    clock.now += 2
    assert a.try_acquire_or_renew()
    spec = leases.stored()["spec"]
    assert spec["acquireTime"] == first["acquireTime"]
    assert spec["renewTime"] != first["renewTime"]
    assert spec["leaseTransitions"] == 0


def test_a_write_from_a_stale_read_gets_a_conflict_and_does_not_lead(monkeypatch):
    leases, clock = FakeLeases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    clock.now += 16  # expired for b
    stale = leases.get()
    assert a.try_acquire_or_renew()  # a renews after b's read, before b's write
    monkeypatch.setattr(leases, "get", lambda: copy.deepcopy(stale))
    assert not b.try_acquire_or_renew()
    assert leases.stored()["spec"]["holderIdentity"] == "a"
    assert leases.stored()["spec"]["leaseTransitions"] == 0


def test_released_lease_is_taken_at_the_next_try():
    leases, clock = FakeLeases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.release()
    assert leases.stored()["spec"]["holderIdentity"] == ""
    assert leases.stored()["spec"]["leaseDurationSeconds"] == 1
    assert b.try_acquire_or_renew()  # same instant: an empty holder is free
    assert leases.stored()["spec"]["holderIdentity"] == "b"
    assert leases.stored()["spec"]["leaseTransitions"] == 1


def test_leader_that_cannot_renew_within_the_deadline_stops_leading():
    leases = FakeLeases()
    lost, started = threading.Event(), threading.Event()
    config = LeaderElectionConfig(
        namespace="ns",
        name="run-lease",
        identity="a",
        lease_duration=1.0,
        renew_deadline=0.6,
        retry_period=0.1,
    )
    a = LeaderElector(config, leases, on_started_leading=started.set, on_stopped_leading=lost.set)
    stop = threading.Event()
    thread = threading.Thread(target=a.run, args=(stop,), daemon=True)
    thread.start()
    assert started.wait(5)
    assert a.is_leader()
    assert LEADER_STATUS.labels(name="run-lease")._value.get() == 1
    leases.fail = True
    began = time.monotonic()
    assert lost.wait(5)
    assert 0.5 <= time.monotonic() - began < 2.0
    thread.join(5)
    assert not thread.is_alive()
    assert not a.is_leader()
    assert LEADER_STATUS.labels(name="run-lease")._value.get() == 0


def test_stopping_a_leader_releases_the_lease():
    leases = FakeLeases()
    started = threading.Event()
    config = LeaderElectionConfig(
        namespace="ns",
        name="stop-lease",
        identity="a",
        lease_duration=1.0,
        renew_deadline=0.6,
        retry_period=0.1,
    )
    a = LeaderElector(
        config,
        leases,
        on_started_leading=started.set,
        on_stopped_leading=lambda: pytest.fail("not a lost lease"),
    )
    stop = threading.Event()
    thread = threading.Thread(target=a.run, args=(stop,), daemon=True)
    thread.start()
    assert started.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert leases.stored()["spec"]["holderIdentity"] == ""
    assert LEADER_STATUS.labels(name="stop-lease")._value.get() == 0


def test_micro_time_is_rfc3339_with_microseconds():
    stamp = micro_time(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert stamp == "2026-01-02T03:04:05.000006Z"
