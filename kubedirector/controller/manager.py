"""The manager: starts every informer, waits for the caches, runs controllers while leading.

Shutdown order matters: stop the workers first (bounded), then release the lease,
so two replicas never reconcile at the same time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

import structlog
from kubernetes.client import ApiClient

from kubedirector.cache.informer import Informer
from kubedirector.controller.controller import Controller
from kubedirector.controller.leaderelection import (
    ApiLeaseStore,
    LeaderElectionConfig,
    LeaderElector,
)

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
POLL = 0.1
# `stop` sets the event the main loop waits on: the timeout only bounds the wait.
IDLE_WAIT = 60.0
# After losing the lease another replica may lead within seconds: don't wait on reconciles.
LOST_LEASE_GRACE = 1.0


class Manager:
    """Runs informers on every replica and the controllers' workers only on the leader."""

    def __init__(
        self,
        api: ApiClient,
        controllers: Sequence[Controller],
        *,
        informers: Iterable[Informer] = (),
        leader_election: LeaderElectionConfig | None = None,
        sync_timeout: float = 120.0,
        shutdown_timeout: float = 30.0,
    ) -> None:
        self.controllers = list(controllers)
        self.informers: list[Informer] = []
        for informer in [*informers, *(i for c in self.controllers for i in c.informers)]:
            if informer not in self.informers:
                self.informers.append(informer)
        self.sync_timeout = sync_timeout
        self.shutdown_timeout = shutdown_timeout
        self._stop = threading.Event()
        self._failed = False
        self._elector_stop = threading.Event()
        self.elector: LeaderElector | None = None
        if leader_election is not None:
            leases = ApiLeaseStore(
                api,
                leader_election.namespace,
                leader_election.name,
                timeout=leader_election.renew_deadline / 2,
            )
            self.elector = LeaderElector(
                leader_election,
                leases,
                on_started_leading=self._start_controllers,
                on_stopped_leading=self._leadership_lost,
            )

    def synced(self) -> bool:
        """True once every informer has listed once (the readiness check)."""
        return all(informer.has_synced() for informer in self.informers)

    def stop(self) -> None:
        """Ask `run` to shut down gracefully (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> int:
        """Run until `stop()`; exit code non-zero if leadership was lost or caches never synced."""
        for informer in self.informers:
            informer.start()
        elector_thread: threading.Thread | None = None
        if self._wait_for_sync():
            if self.elector is not None:
                elector_thread = threading.Thread(
                    target=self.elector.run,
                    args=(self._elector_stop,),
                    name="leader-election",
                    daemon=True,
                )
                elector_thread.start()
            else:
                self._start_controllers()
            while not self._stop.wait(IDLE_WAIT):
                pass
        elif not self._stop.is_set():
            self._failed = True
        self._shutdown(elector_thread)
        code = EXIT_FAILED if self._failed else EXIT_OK
        log.info("manager_exited", code=code)
        return code

    def _wait_for_sync(self) -> bool:
        deadline = time.monotonic() + self.sync_timeout
        while not self.synced():
            if self._stop.wait(POLL):
                return False
            if time.monotonic() > deadline:
                pending = [i.name for i in self.informers if not i.has_synced()]
                log.error("manager_cache_sync_timeout", pending=pending)
                return False
        log.info("manager_caches_synced", informers=len(self.informers))
        return True

    def _start_controllers(self) -> None:
        for controller in self.controllers:
            controller.start()

    def _leadership_lost(self) -> None:
        self._failed = True
        self._stop.set()

    def _shutdown(self, elector_thread: threading.Thread | None) -> None:
        grace = LOST_LEASE_GRACE if self._failed else self.shutdown_timeout
        deadline = time.monotonic() + grace
        log.info("manager_shutting_down")
        for controller in self.controllers:
            controller.stop(max(0.0, deadline - time.monotonic()))
        self._elector_stop.set()
        if elector_thread is not None:
            elector_thread.join(max(0.0, deadline - time.monotonic()))
        for informer in self.informers:
            informer.stop(timeout=max(0.1, min(2.0, deadline - time.monotonic())))
