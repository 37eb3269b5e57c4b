"""The KubeDirectorConfig reconciler: checks the global config and reports it in status.

Clusters read the config from the cache when they reconcile; a config that is
misplaced or malformed is reported here (status and an Event) instead.
"""

from __future__ import annotations

from typing import Any

import structlog

from kubedirector.api.validation import validate_config
from kubedirector.cache.factory import InformerFactory
from kubedirector.controller.result import Result
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.reconcilers.writer import Writer
from kubedirector.resources import CONFIGS

log = structlog.get_logger(__name__)


class ConfigReconciler:
    """Writes `status.state` (`valid` or `invalid`) and `status.message`."""

    def __init__(self, *, informers: InformerFactory, writer: Writer, events: EventRecorder,
                 operator_namespace: str) -> None:
        self.informers = informers
        self.writer = writer
        self.events = events
        self.operator_namespace = operator_namespace

    def reconcile(self, key: str) -> Result:
        raw: dict[str, Any] | None = self.informers.get(CONFIGS, key)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            return Result.success()
        errors = validate_config(raw, self.operator_namespace)
        message = "; ".join(str(e) for e in errors)
        status = {"state": "invalid" if errors else "valid", "message": message}
        old = raw.get("status") or {}
        if {k: old.get(k, "") for k in status} == status:
            return Result.success()
        meta = raw["metadata"]
        self.writer.merge_patch(CONFIGS, meta["namespace"], meta["name"], {"status": status},
                                subresource="status")
        if errors:
            self.events.record(raw, "Warning", "InvalidConfig", message)
            log.warning("config_invalid", errors=message)
        return Result.success()
