"""Index functions: answer "which objects belong to X" without scanning the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

KDCLUSTER_LABEL = "kubedirector.hpe.com/kdcluster"

NAMESPACE_INDEX = "namespace"
KDCLUSTER_INDEX = "kdcluster"
OWNER_UID_INDEX = "owner-uid"

IndexFunc = Callable[[dict[str, Any]], Iterable[str]]


def by_namespace(obj: dict[str, Any]) -> list[str]:
    """The object's namespace (none for cluster-scoped objects)."""
    namespace = obj.get("metadata", {}).get("namespace")
    return [namespace] if namespace else []


def by_kdcluster_label(obj: dict[str, Any]) -> list[str]:
    """ "namespace/cluster" from the kdcluster label, so it can be used as a work-queue key."""
    metadata = obj.get("metadata", {})
    cluster = (metadata.get("labels") or {}).get(KDCLUSTER_LABEL)
    if not cluster:
        return []
    namespace = metadata.get("namespace")
    return [f"{namespace}/{cluster}" if namespace else cluster]


def by_owner_uid(obj: dict[str, Any]) -> list[str]:
    """The UIDs of every owner reference."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return [ref["uid"] for ref in refs if ref.get("uid")]


def default_indexers() -> dict[str, IndexFunc]:
    """The indexers every informer gets unless told otherwise."""
    return {
        NAMESPACE_INDEX: by_namespace,
        KDCLUSTER_INDEX: by_kdcluster_label,
        OWNER_UID_INDEX: by_owner_uid,
    }
