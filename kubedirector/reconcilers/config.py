"""The KubeDirectorConfig reconciler: checks the global config, reports it in status,
and gives it a `masterEncryptionKey` when it has none.

Clusters read the config from the cache when they reconcile; a config that is
misplaced or malformed is reported here (status and an Event) instead.
The key is written into the config itself, which stays the one place it lives:
every replica's admission reads it from there, and a backup of the config is a
backup of the key.
"""

from __future__ import annotations

import secrets
from typing import Any

import structlog

from kubedirector.api.validation import validate_config
from kubedirector.cache.factory import InformerFactory
from kubedirector.controller.result import Result
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.reconcilers.writer import Writer
from kubedirector.resources import CONFIGS

log = structlog.get_logger(__name__)

MASTER_KEY_BYTES = 32  # AES-256


def new_master_key() -> str:
    """A fresh AES-256 key, hex-encoded as `masterEncryptionKey` holds it."""
    return secrets.token_hex(MASTER_KEY_BYTES)


class ConfigReconciler:
    """Writes `status.state` (`valid` or `invalid`) and `status.message`, and a
    generated `spec.masterEncryptionKey` into a valid config that sets none."""

    def __init__(
        self,
        *,
        informers: InformerFactory,
        writer: Writer,
        events: EventRecorder,
        operator_namespace: str,
    ) -> None:
        self.informers = informers
        self.writer = writer
        self.events = events
        self.operator_namespace = operator_namespace

    def reconcile(self, key: str) -> Result:
        raw: dict[str, Any] | None = self.informers.get(CONFIGS, key)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            return Result.success()
        errors = validate_config(raw, self.operator_namespace)
        meta = raw["metadata"]
        if not errors and not (raw.get("spec") or {}).get("masterEncryptionKey"):
            # At the version read: a concurrent edit makes this fail (409) and retry
            # on the new version, never overwrite it.
            self.writer.merge_patch(
                CONFIGS,
                meta["namespace"],
                meta["name"],
                {
                    "metadata": {"resourceVersion": meta["resourceVersion"]},
                    "spec": {"masterEncryptionKey": new_master_key()},
                },
            )
            self.events.record(
                raw, "Normal", "MasterKeyGenerated", "generated spec.masterEncryptionKey"
            )
            log.info("config_master_key_generated", name=meta["name"])
        message = "; ".join(str(e) for e in errors)
        status = {"state": "invalid" if errors else "valid", "message": message}
        old = raw.get("status") or {}
        if {k: old.get(k, "") for k in status} == status:
            return Result.success()
        self.writer.merge_patch(
            CONFIGS, meta["namespace"], meta["name"], {"status": status}, subresource="status"
        )
        if errors:
            self.events.record(raw, "Warning", "InvalidConfig", message)
            log.warning("config_invalid", errors=message)
        return Result.success()
