"""Kubernetes Events on the objects the operator manages (`kubectl describe` shows them)."""

from __future__ import annotations

import datetime
import socket
from typing import Any

import structlog
from kubernetes.client import ApiException

from kubedirector.reconcilers.writer import Writer
from kubedirector.resources import EVENTS

COMPONENT = "kubedirector"
log = structlog.get_logger(__name__)


class EventRecorder:
    """Records core/v1 Events; a failure to record is logged, never raised."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.instance = socket.gethostname()

    def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                               "name": meta["name"], "namespace": meta["namespace"],
                               "uid": meta["uid"]},
            "type": event_type, "reason": reason, "message": message[:1024],
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "reportingInstance": self.instance, "firstTimestamp": now, "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.writer.create(EVENTS, event)
        except ApiException as e:
            log.warning("event_not_recorded", reason=reason, status=e.status)
