"""What this process wrote that its caches may not show yet, per cluster key.

As client-go's controllers keep expectations: the names chosen for a cluster's
headless Service and StatefulSets (so a lagging cache never makes a second
one) and the cluster object our last write returned (newer than the cache).
Workers reconcile different keys at once, so every access holds the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEADLESS_SLOT = ""


@dataclass
class _KeyExpectations:
    uid: str
    names: dict[str, str] = field(default_factory=dict)
    written: dict[str, Any] | None = None


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether `a` is a later version of the object than `b`.

    resourceVersions are etcd revisions here; where one is not a number the
    cache is trusted, as clients are told to.
    """
    try:
        return int(a["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return False


class Expectations:
    """Per cluster key: chosen names (slot: a role id, or "" for the headless
    Service) and the last written cluster.  A new uid under the same key (the
    cluster was deleted and made again) starts afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _KeyExpectations] = {}

    def _for(self, key: str, uid: str) -> _KeyExpectations:
        found = self._keys.get(key)
        if found is None or found.uid != uid:
            found = self._keys[key] = _KeyExpectations(uid)
        return found

    def name_for(self, key: str, uid: str, slot: str, new: Callable[[], str]) -> str:
        """The name expected in `slot`; `new()` chooses (and remembers) one if none is."""
        with self._lock:
            names = self._for(key, uid).names
            if slot not in names:
                names[slot] = new()
            return names[slot]

    def wrote(self, written: dict[str, Any]) -> dict[str, Any]:
        """Remember the cluster a write returned; returns it."""
        meta = written["metadata"]
        with self._lock:
            self._for(f"{meta['namespace']}/{meta['name']}", meta["uid"]).written = written
        return written

    def latest(self, key: str, cached: dict[str, Any] | None) -> dict[str, Any] | None:
        """The cached cluster, or what our last write returned if the cache lags behind it."""
        with self._lock:
            if cached is None:
                self._keys.pop(key, None)
                return None
            found = self._for(key, cached["metadata"]["uid"])
            if found.written is not None and _newer(found.written, cached):
                return found.written
            found.written = None
            return cached

    def forget(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)
