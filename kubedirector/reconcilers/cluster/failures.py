"""Persistent reconcile failures: counted per cluster, described for users.

One failed pass may be a blip (a conflict, a restarting API server); the same
key failing `PERSISTENT` passes in a row is reported in status as
`Degraded`/`ReconcileFailing`, naming the object and the server's answer.
"""

from __future__ import annotations

import threading

from kubedirector.reconcilers.writer import WriteRefused

PERSISTENT = 3


def describe(error: BaseException) -> str:
    """What failed, for status and Events: the refused write, or the error itself."""
    if isinstance(error, WriteRefused):
        return str(error)
    return f"{type(error).__name__}: {error}"


class Failures:
    """Consecutive failed passes per cluster key; workers share it, so it is locked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[str, int] = {}

    def failed(self, key: str) -> int:
        """Count one more failed pass; returns how many in a row."""
        with self._lock:
            self._count[key] = self._count.get(key, 0) + 1
            return self._count[key]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._count.pop(key, None)
