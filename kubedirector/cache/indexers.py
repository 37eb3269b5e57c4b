"""Index functions: answer "which objects belong to X" without scanning the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

KDCLUSTER_LABEL = "kubedirector.hpe.com/kdcluster"

KDCLUSTER_INDEX = "kdcluster"

IndexFunc = Callable[[dict[str, Any]], Iterable[str]]


def by_kdcluster_label(obj: dict[str, Any]) -> list[str]:
    """ "namespace/cluster" from the kdcluster label, so it can be used as a work-queue key."""
    metadata = obj.get("metadata", {})
    cluster = (metadata.get("labels") or {}).get(KDCLUSTER_LABEL)
    if not cluster:
        return []
    namespace = metadata.get("namespace")
    return [f"{namespace}/{cluster}" if namespace else cluster]


def default_indexers() -> dict[str, IndexFunc]:
    """The indexers every informer gets unless told otherwise."""
    return {KDCLUSTER_INDEX: by_kdcluster_label}
