"""Lease-based leader election (coordination.k8s.io/v1), following client-go.

Expiry is judged by *our* monotonic clock from the moment we last saw the lease
record change, never by comparing the holder's timestamps with our wall clock,
so clock skew between replicas cannot hand the lease to two holders.
Writes carry the resourceVersion last read, so concurrent writers get 409.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from kubernetes.client import ApiClient, ApiException

from kubedirector.kube import request_json, resource_path
from kubedirector.metrics.registry import LEADER_STATUS

log = structlog.get_logger(__name__)

JITTER_FACTOR = 1.2


def default_identity() -> str:
    """`hostname_<uuid>`: unique even when two replicas share a hostname."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def validate_timings(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """Refuse timings that could let two replicas lead at once (client-go's rules)."""
    if retry_period <= 0:
        raise ValueError("retry period must be greater than zero")
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise ValueError(
            f"renew deadline ({renew_deadline:g}s) must be greater than "
            f"{JITTER_FACTOR} x retry period ({JITTER_FACTOR * retry_period:g}s)"
        )
    if lease_duration <= renew_deadline:
        raise ValueError(
            f"lease duration ({lease_duration:g}s) must be greater than "
            f"renew deadline ({renew_deadline:g}s)"
        )


@dataclass(frozen=True)
class LeaderElectionConfig:
    """Where the Lease lives, who we are, and the timing (validated on creation)."""

    namespace: str
    name: str
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        validate_timings(self.lease_duration, self.renew_deadline, self.retry_period)


class LeaseStore(Protocol):
    """Reads and writes one Lease; raises `ApiException` (409 on a stale write)."""

    def get(self) -> dict[str, Any] | None: ...

    def create(self, spec: dict[str, Any]) -> dict[str, Any]: ...

    def update(self, lease: dict[str, Any]) -> dict[str, Any]: ...


class ApiLeaseStore:
    """The Lease in the API server, as raw dicts."""

    def __init__(self, api: ApiClient, namespace: str, name: str, timeout: float) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.timeout = (min(timeout, 5.0), timeout)

    def get(self) -> dict[str, Any] | None:
        try:
            return request_json(self.api, "GET", self._path(self.name), timeout=self.timeout)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }
        return request_json(self.api, "POST", self._path(None), body=body, timeout=self.timeout)

    def update(self, lease: dict[str, Any]) -> dict[str, Any]:
        return request_json(
            self.api, "PUT", self._path(self.name), body=lease, timeout=self.timeout
        )

    def _path(self, name: str | None) -> str:
        return resource_path(
            "coordination.k8s.io", "v1", "leases", namespace=self.namespace, name=name
        )


def micro_time(now: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Acquires and renews the Lease; reports gaining and losing it through callbacks."""

    def __init__(
        self,
        config: LeaderElectionConfig,
        leases: LeaseStore,
        *,
        on_started_leading: Callable[[], None],
        on_stopped_leading: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.leases = leases
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.clock = clock
        self.wall_clock = wall_clock
        self._observed_spec: dict[str, Any] | None = None
        self._observed_time = 0.0
        self._observed_lease: dict[str, Any] | None = None
        self._leading = False
        self._log = log.bind(lease=f"{config.namespace}/{config.name}", identity=config.identity)
        LEADER_STATUS.labels(name=config.name).set(0)

    def is_leader(self) -> bool:
        return self._leading

    def observed_holder(self) -> str:
        """The holder in the last lease record we saw ("" if none)."""
        return (self._observed_spec or {}).get("holderIdentity") or ""

    def run(self, stop: threading.Event) -> None:
        """Acquire, then renew until `stop` is set (then release) or renewal fails.

        Losing the lease calls `on_stopped_leading` (the process should exit).
        """
        if not self._acquire(stop):
            return
        self._set_leading(True)
        self._log.info("leader_acquired")
        self.on_started_leading()
        if self._renew(stop):
            self.release()
            return
        self._set_leading(False)
        self._log.error("leader_lost")
        self.on_stopped_leading()

    def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the lease; False if another holds it or we lost a race."""
        now = self.clock()
        stamp = micro_time(self.wall_clock())
        try:
            lease = self.leases.get()
            if lease is None:
                spec = self._spec(stamp, stamp, transitions=0)
                self._observe(self.leases.create(spec), now)
                return True
            spec = lease.get("spec") or {}
            if spec != self._observed_spec:
                self._observe(lease, now)
            holder = spec.get("holderIdentity") or ""
            if holder and holder != self.config.identity and not self._expired(spec, now):
                return False
            transitions = int(spec.get("leaseTransitions") or 0)
            if holder == self.config.identity:
                new_spec = self._spec(spec.get("acquireTime") or stamp, stamp, transitions)
            else:
                new_spec = self._spec(stamp, stamp, transitions + 1)
            updated = dict(lease, spec=new_spec)
            self._observe(self.leases.update(updated), now)
            return True
        except ApiException as e:
            self._log.info("leader_election_attempt_failed", status=e.status, reason=e.reason)
            return False
        except Exception as e:
            self._log.warning("leader_election_attempt_error", error=repr(e))
            return False

    def release(self) -> bool:
        """Give the lease up (empty holder, 1 s duration) so a standby takes it at its next try."""
        lease = self._observed_lease
        if lease is None or self.observed_holder() != self.config.identity:
            return False
        spec = dict(lease.get("spec") or {})
        stamp = micro_time(self.wall_clock())
        spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=stamp, acquireTime=stamp)
        self._set_leading(False)
        try:
            self.leases.update(dict(lease, spec=spec))
        except Exception as e:
            self._log.warning("leader_release_failed", error=repr(e))
            return False
        self._log.info("leader_released")
        return True

    def _acquire(self, stop: threading.Event) -> bool:
        self._log.info("leader_election_waiting")
        while not stop.is_set():
            if self.try_acquire_or_renew():
                return True
            stop.wait(self.config.retry_period * random.uniform(1.0, JITTER_FACTOR))
        return False

    def _renew(self, stop: threading.Event) -> bool:
        """Renew every retry period; True when asked to stop, False when the deadline passed."""
        last_renewed = self.clock()
        while not stop.wait(self.config.retry_period):
            if self.try_acquire_or_renew():
                last_renewed = self.clock()
            elif self.clock() - last_renewed >= self.config.renew_deadline:
                return False
        return True

    def _expired(self, spec: dict[str, Any], now: float) -> bool:
        duration = spec.get("leaseDurationSeconds") or self.config.lease_duration
        return self._observed_time + float(duration) <= now

    def _observe(self, lease: dict[str, Any], now: float) -> None:
        self._observed_lease = lease
        self._observed_spec = lease.get("spec") or {}
        self._observed_time = now

    def _spec(self, acquire_time: str, renew_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": round(self.config.lease_duration),
            "acquireTime": acquire_time,
            "renewTime": renew_time,
            "leaseTransitions": transitions,
        }

    def _set_leading(self, leading: bool) -> None:
        self._leading = leading
        LEADER_STATUS.labels(name=self.config.name).set(1 if leading else 0)
