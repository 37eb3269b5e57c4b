"""A thread-safe cache of raw API objects keyed "namespace/name", with indexes.

Objects handed out are the cached dicts themselves: callers must treat them as
read-only (copy before changing), as with client-go's listers.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kubedirector.cache.indexers import IndexFunc


def object_key(obj: Mapping[str, Any]) -> str:
    """The cache and work-queue key: "namespace/name", or "name" if cluster-scoped."""
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else metadata["name"]


def split_key(key: str) -> tuple[str | None, str]:
    """(namespace, name) from a key made by `object_key`."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else (None, namespace)


class Store:
    """Objects by key, plus named indexes from index values to keys."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, dict[str, Any]] = {}
        self._indexers: dict[str, IndexFunc] = dict(indexers or {})
        # index name -> index value -> keys
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Add an index and build it over the objects already cached."""
        with self._lock:
            if name in self._indexers:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = fn
            self._indices[name] = {}
            for key, obj in self._items.items():
                self._index_one(name, key, obj)

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(key)

    def list(self) -> builtins.list[dict[str, Any]]:
        with self._lock:
            return [*self._items.values()]

    def keys(self) -> builtins.list[str]:
        with self._lock:
            return list(self._items)

    def by_index(self, name: str, value: str) -> builtins.list[dict[str, Any]]:
        """The objects whose index function `name` yields `value`."""
        with self._lock:
            return [self._items[key] for key in sorted(self._index(name).get(value, ()))]

    def upsert(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Cache `obj`; return the object it replaced, if any."""
        key = object_key(obj)
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                self._unindex(key, old)
            self._items[key] = obj
            for name in self._indexers:
                self._index_one(name, key, obj)
            return old

    def delete(self, key: str) -> dict[str, Any] | None:
        """Drop the object at `key`; return it, if it was cached."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def _index(self, name: str) -> dict[str, set[str]]:
        try:
            return self._indices[name]
        except KeyError:
            raise KeyError(f"no indexer named {name!r}") from None

    def _index_one(self, name: str, key: str, obj: dict[str, Any]) -> None:
        index = self._indices[name]
        for value in _values(self._indexers[name], obj):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: dict[str, Any]) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in _values(fn, obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


def _values(fn: IndexFunc, obj: dict[str, Any]) -> Iterable[str]:
    return set(fn(obj))
