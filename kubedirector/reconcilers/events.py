"""Kubernetes Events on the objects the operator manages (`kubectl describe` shows them).

Repeats are aggregated as client-go's recorder does: an Event identical to one
already recorded (same object, type, reason and message) is not created again;
the existing Event's `count` and `lastTimestamp` are patched instead.  So a
reconcile failing on every retry leaves one Event with a growing count, not one
Event per retry.
"""

from __future__ import annotations

import datetime
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import structlog
from kubernetes.client import ApiException

from kubedirector.reconcilers.writer import ObjectWriter
from kubedirector.resources import EVENTS

COMPONENT = "kubedirector"
MESSAGE_LIMIT = 1024
# As client-go's event correlator: the most recent distinct events are remembered.
REMEMBERED = 4096
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EventKey:
    """What makes two Events the same one: the object, the type, the reason, the message."""

    uid: str
    event_type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Recorded:
    """The stored Event an `EventKey` was last written to, and its count."""

    namespace: str
    name: str
    count: int


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Records core/v1 Events, aggregated; a failure to record is logged, never raised."""

    def __init__(self, writer: ObjectWriter) -> None:
        self.writer = writer
        self.instance = socket.gethostname()
        self._lock = threading.Lock()
        self._recorded: OrderedDict[EventKey, Recorded] = OrderedDict()

    def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        key = EventKey(meta["uid"], event_type, reason, message[:MESSAGE_LIMIT])
        with self._lock:
            previous = self._recorded.get(key)
        try:
            if previous is not None and self._repeat(key, previous):
                return
            self._create(obj, key)
        except ApiException as e:
            log.warning("event_not_recorded", reason=reason, status=e.status)

    def _repeat(self, key: EventKey, previous: Recorded) -> bool:
        """Bump the existing Event's count; False if it is gone (Events expire)."""
        count = previous.count + 1
        try:
            self.writer.merge_patch(
                EVENTS, previous.namespace, previous.name, {"count": count, "lastTimestamp": _now()}
            )
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        self._remember(key, Recorded(previous.namespace, previous.name, count))
        return True

    def _remember(self, key: EventKey, recorded: Recorded) -> None:
        with self._lock:
            self._recorded[key] = recorded
            self._recorded.move_to_end(key)
            while len(self._recorded) > REMEMBERED:
                self._recorded.popitem(last=False)

    def _create(self, obj: dict[str, Any], key: EventKey) -> None:
        meta = obj["metadata"]
        now = _now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "type": key.event_type,
            "reason": key.reason,
            "message": key.message,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        created = self.writer.create(EVENTS, event)
        self._remember(key, Recorded(meta["namespace"], created["metadata"]["name"], 1))
