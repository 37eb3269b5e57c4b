"""A controller: watches that map cache events to keys, a work queue, and workers.

Events from the primary kind's informer enqueue the object's own key; events from
owned kinds enqueue their owner's key (via the controller ownerReference or a label).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from kubedirector.cache.indexers import KDCLUSTER_LABEL
from kubedirector.cache.informer import Informer
from kubedirector.cache.store import object_key
from kubedirector.controller.queue import RateLimitingQueue
from kubedirector.controller.result import Reconciler, TerminalError
from kubedirector.metrics.registry import (
    ACTIVE_WORKERS,
    MAX_CONCURRENT_RECONCILES,
    RECONCILE_ERRORS,
    RECONCILE_TIME,
    RECONCILE_TOTAL,
)

log = structlog.get_logger(__name__)

Mapper = Callable[[dict[str, Any]], Iterable[str]]
RESULTS = ("success", "error", "requeue", "requeue_after")
# `stop` shuts the queue down, which wakes every idle worker at once: the timeout only bounds
# the wait. Short ones cost an idle operator CPU (16 workers polling twice a second).
GET_TIMEOUT = 60.0


def own_key(obj: dict[str, Any]) -> list[str]:
    """The object's own key: for the controller's primary kind."""
    return [object_key(obj)]


def owner_key(kind: str, group: str | None = None) -> Mapper:
    """Map an object to its controller owner of `kind` (and API group, if given)."""

    def mapper(obj: dict[str, Any]) -> list[str]:
        metadata = obj.get("metadata", {})
        for ref in metadata.get("ownerReferences") or []:
            if not ref.get("controller") or ref.get("kind") != kind:
                continue
            if group is not None and ref.get("apiVersion", "").rpartition("/")[0] != group:
                continue
            namespace = metadata.get("namespace")
            return [f"{namespace}/{ref['name']}" if namespace else ref["name"]]
        return []

    return mapper


def label_key(label: str = KDCLUSTER_LABEL) -> Mapper:
    """Map an object to "namespace/<value of label>" (e.g. members to their KubeDirectorCluster)."""

    def mapper(obj: dict[str, Any]) -> list[str]:
        metadata = obj.get("metadata", {})
        value = (metadata.get("labels") or {}).get(label)
        if not value:
            return []
        namespace = metadata.get("namespace")
        return [f"{namespace}/{value}" if namespace else value]

    return mapper


class Controller:
    """One reconciler fed by one queue; `workers` threads run it, never two on one key."""

    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        *,
        workers: int = 1,
        queue: RateLimitingQueue[str] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a controller needs at least one worker")
        self.name = name
        self.reconciler = reconciler
        self.workers = workers
        self.queue: RateLimitingQueue[str] = queue if queue is not None else RateLimitingQueue(name)
        self.informers: list[Informer] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._log = log.bind(controller=name)
        # Zero-valued series from the start, as controller-runtime does, so dashboards see them.
        for result in RESULTS:
            RECONCILE_TOTAL.labels(controller=name, result=result)
        RECONCILE_ERRORS.labels(controller=name)
        RECONCILE_TIME.labels(controller=name)
        MAX_CONCURRENT_RECONCILES.labels(controller=name).set(workers)
        ACTIVE_WORKERS.labels(controller=name).set(0)

    def watch(self, informer: Informer, mapper: Mapper = own_key) -> None:
        """Enqueue the keys `mapper` returns for each add, update (old and new) and delete."""

        def on_add(obj: dict[str, Any]) -> None:
            self._enqueue(mapper(obj))

        def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            self._enqueue({*mapper(old), *mapper(new)})

        informer.add_handlers(on_add=on_add, on_update=on_update, on_delete=on_add)
        if informer not in self.informers:
            self.informers.append(informer)

    def start(self) -> None:
        """Start the worker threads."""
        for i in range(self.workers):
            thread = threading.Thread(
                target=self._work, name=f"{self.name}-worker-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self._log.info("controller_started", workers=self.workers)

    def stop(self, timeout: float) -> bool:
        """Stop taking keys and wait (at most `timeout` s) for running reconciles to finish."""
        self._stopping.set()
        self.queue.shutdown()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        finished = not any(t.is_alive() for t in self._threads)
        self._log.info("controller_stopped", finished=finished)
        return finished

    def process(self, key: str) -> None:
        """Reconcile `key` once and decide from the outcome whether and when to requeue."""
        bound = structlog.contextvars.bound_contextvars(
            controller=self.name, reconcile_id=uuid.uuid4().hex[:8], key=key
        )
        active = ACTIVE_WORKERS.labels(controller=self.name)
        with bound:
            active.inc()
            started = time.monotonic()
            try:
                outcome = self._reconcile(key)
            finally:
                elapsed = time.monotonic() - started
                RECONCILE_TIME.labels(controller=self.name).observe(elapsed)
                active.dec()
            RECONCILE_TOTAL.labels(controller=self.name, result=outcome).inc()
            log.debug("reconcile_done", result=outcome, seconds=round(elapsed, 4))

    def _reconcile(self, key: str) -> str:
        try:
            result = self.reconciler.reconcile(key)
        except TerminalError as e:
            RECONCILE_ERRORS.labels(controller=self.name).inc()
            self.queue.forget(key)
            self._log.error("reconcile_terminal_error", error=str(e))
            return "error"
        except Exception:
            RECONCILE_ERRORS.labels(controller=self.name).inc()
            self.queue.add_rate_limited(key)
            self._log.exception("reconcile_error", requeues=self.queue.num_requeues(key))
            return "error"
        if result.requeue_after is not None:
            self.queue.forget(key)
            self.queue.add_after(key, result.requeue_after)
            return "requeue_after"
        if result.requeue:
            self.queue.add_rate_limited(key)
            return "requeue"
        self.queue.forget(key)
        return "success"

    def _enqueue(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.queue.add(key)

    def _work(self) -> None:
        while not self._stopping.is_set():
            key, shutdown = self.queue.get(timeout=GET_TIMEOUT)
            if shutdown:
                return
            if key is None:
                continue
            try:
                if not self._stopping.is_set():
                    self.process(key)
            finally:
                self.queue.done(key)
