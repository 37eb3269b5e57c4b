"""When a cluster this process saw being created becomes Ready for the first time.

`state: creating` means "never configured yet", so a cluster seen in it has
never been Ready; the first status write that turns `Ready` True afterwards
ends its creation.  Kept in memory: a cluster whose first Ready falls between
an operator restart and that restart's first look at it is not measured.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from kubedirector.api.constants import ClusterState
from kubedirector.api.status import ClusterStatus


def _ready(status: ClusterStatus) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in status.conditions)


def _parse(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


class FirstReady:
    """Remembers the clusters seen creating; `passed` says how long the first Ready took."""

    def __init__(self) -> None:
        self._creating: set[str] = set()

    def passed(
        self, key: str, meta: Mapping[str, Any], old: ClusterStatus, new: ClusterStatus, now: str
    ) -> float | None:
        """Seconds from `metadata.creationTimestamp` to `now`, once per creation: when
        `new` is the first Ready status of a cluster seen without one while creating."""
        if not old.state or old.state == ClusterState.CREATING:
            self._creating.add(key)
        if key not in self._creating or not _ready(new) or _ready(old):
            return None
        self._creating.discard(key)
        created = meta.get("creationTimestamp")
        if not created:
            return None
        return max(0.0, (_parse(now) - _parse(str(created))).total_seconds())

    def forget(self, key: str) -> None:
        self._creating.discard(key)
