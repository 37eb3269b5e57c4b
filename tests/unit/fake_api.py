"""The one place a fake stands in for the API: in-memory caches and a recording writer,
for unit tests of the cluster reconciler.

`World` keeps the caches and plays the cluster's other controllers just enough
(StatefulSet status, pods whose `app` container runs), so a test can take an
observed state to its next pass and look at the writes and status it produced.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiException

from kubedirector.cache.indexers import KDCLUSTER_INDEX, by_kdcluster_label
from kubedirector.cache.informer import Resource
from kubedirector.desired.diff import semantic_diff
from kubedirector.reconcilers.writer import WriteRefused
from kubedirector.resources import (
    CLUSTERS,
    EVENTS,
    PDBS,
    PODS,
    PVCS,
    SERVICES,
    STATEFULSETS,
)

Obj = dict[str, Any]
_REASONS = {403: "Forbidden", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity"}


@dataclass(frozen=True)
class Write:
    verb: str  # create | apply | merge_patch | delete
    kind: str
    name: str
    body: Obj | None = None
    subresource: str | None = None

    def sent(self) -> Obj:
        """The body written; every verb but delete sends one."""
        assert self.body is not None, self
        return self.body


class MemoryCaches:
    """Objects by resource and "namespace/name", read as the reconciler reads informers."""

    def __init__(self) -> None:
        self.objects: dict[Resource, dict[str, Obj]] = {}

    def put(self, resource: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.objects.setdefault(resource, {})[f"{meta['namespace']}/{meta['name']}"] = obj
        return obj

    def remove(self, resource: Resource, namespace: str, name: str) -> None:
        self.objects.get(resource, {}).pop(f"{namespace}/{name}", None)

    def get(self, resource: Resource, key: str, label_selector: str | None = None) -> Obj | None:
        found = self.objects.get(resource, {}).get(key)
        return copy.deepcopy(found) if found is not None else None

    def by_index(
        self, resource: Resource, index: str, value: str, label_selector: str | None = None
    ) -> list[Obj]:
        assert index == KDCLUSTER_INDEX
        return [
            copy.deepcopy(o)
            for o in self.objects.get(resource, {}).values()
            if value in by_kdcluster_label(o)
        ]

    def list(self, resource: Resource) -> list[Obj]:
        return list(self.objects.get(resource, {}).values())


class RecordingWriter:
    """Records every write; `refuse` makes writes of one object fail as the server would.
    Writes are not applied to the caches: `World.absorb` does that when a test wants."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self.refusals: dict[tuple[str, str], tuple[int, str]] = {}
        self._versions = itertools.count(1000)
        self.caches: MemoryCaches | None = None

    def refuse(self, kind: str, name: str, status: int, message: str) -> None:
        self.refusals[(kind, name)] = (status, message)

    def _check(self, verb: str, resource: Resource, namespace: str, name: str) -> None:
        refused = self.refusals.get((resource.kind, name))
        if refused is not None:
            status, message = refused
            error = ApiException(status=status, reason=_REASONS.get(status, "Error"))
            error.body = f'{{"message": "{message}"}}'
            raise WriteRefused(verb, resource, namespace, name, error)

    def create(self, resource: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        name = meta.get("name") or f"{meta['generateName']}{next(self._versions)}"
        self._check("create", resource, meta["namespace"], name)
        self.writes.append(Write("create", resource.kind, name, copy.deepcopy(obj)))
        return {**obj, "metadata": {**meta, "name": name}}

    def apply(self, resource: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self._check("apply", resource, meta["namespace"], meta["name"])
        self.writes.append(Write("apply", resource.kind, meta["name"], copy.deepcopy(obj)))
        return obj

    def merge_patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Obj,
        subresource: str | None = None,
    ) -> Obj:
        assert namespace is not None
        self._check("patch", resource, namespace, name)
        self.writes.append(
            Write("merge_patch", resource.kind, name, copy.deepcopy(patch), subresource)
        )
        if resource != CLUSTERS or self.caches is None:
            return patch
        current = self.caches.get(resource, f"{namespace}/{name}")
        assert current is not None
        merged = _merge(current, patch)
        merged["metadata"]["resourceVersion"] = str(next(self._versions))
        return merged

    def delete(
        self, resource: Resource, namespace: str | None, name: str, uid: str | None = None
    ) -> bool:
        assert namespace is not None
        self._check("delete", resource, namespace, name)
        self.writes.append(Write("delete", resource.kind, name))
        return True

    def take(self) -> list[Write]:
        """The writes so far other than Events, and forget them."""
        out = [w for w in self.writes if w.kind != EVENTS.kind]
        self.writes = [w for w in self.writes if w.kind == EVENTS.kind]
        return out

    def events(self) -> list[Write]:
        """Every Event write so far (`take` leaves them)."""
        return [w for w in self.writes if w.kind == EVENTS.kind]


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def running_pod(namespace: str, name: str, cluster: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"pod-{name}",
            "labels": {"kubedirector.hpe.com/kdcluster": cluster},
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "containerID": f"kwok://{name}",
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        },
    }


class World:
    """Caches plus the writer, and the stand-ins for the other controllers."""

    def __init__(self) -> None:
        self.caches = MemoryCaches()
        self.writer = RecordingWriter()
        self.writer.caches = self.caches
        self._versions = itertools.count(1)

    def absorb(self, writes: list[Write]) -> None:
        """Make the caches show what the writes did (as watches would)."""
        for write in writes:
            resource = next(r for r in _RESOURCES if r.kind == write.kind)
            namespace = "apps"
            if write.verb == "delete":
                self.caches.remove(resource, namespace, write.name)
            elif write.verb == "apply":
                self._applied(resource, copy.deepcopy(write.body or {}))
            elif write.verb == "merge_patch" and write.kind == CLUSTERS.kind:
                key = f"{namespace}/{write.name}"
                current = self.caches.objects[CLUSTERS][key]
                merged = _merge(current, write.body)
                merged["metadata"]["resourceVersion"] = str(10_000 + next(self._versions))
                self.caches.put(CLUSTERS, merged)
            elif write.verb == "merge_patch" and write.kind == STATEFULSETS.kind:
                sts = self.caches.get(STATEFULSETS, f"{namespace}/{write.name}")
                assert sts is not None
                self._applied(STATEFULSETS, _merge(sts, write.body))

    def _applied(self, resource: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        old = self.caches.get(resource, f"{meta['namespace']}/{meta['name']}")
        meta["uid"] = old["metadata"]["uid"] if old else f"uid-{meta['name']}"
        generation = old["metadata"].get("generation", 1) if old else 1
        if old is not None and semantic_diff(obj.get("spec"), old.get("spec")):
            generation += 1
        meta["generation"] = generation
        obj["status"] = old.get("status", {}) if old else {}
        self.caches.put(resource, obj)

    def run_statefulsets(self) -> None:
        """The StatefulSet controller and kubelets: pods for every replica, running."""
        for sts in self.caches.list(STATEFULSETS):
            meta, replicas = sts["metadata"], sts["spec"]["replicas"]
            cluster = meta["labels"]["kubedirector.hpe.com/kdcluster"]
            wanted = {f"{meta['name']}-{i}" for i in range(replicas)}
            for pod in self.caches.list(PODS):
                if pod["metadata"]["name"].startswith(meta["name"] + "-") and (
                    pod["metadata"]["name"] not in wanted
                ):
                    self.caches.remove(PODS, meta["namespace"], pod["metadata"]["name"])
            for name in wanted:
                if self.caches.get(PODS, f"{meta['namespace']}/{name}") is None:
                    self.caches.put(PODS, running_pod(meta["namespace"], name, cluster))
            sts["status"] = {
                "observedGeneration": meta["generation"],
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
            }


_RESOURCES = (CLUSTERS, STATEFULSETS, PODS, EVENTS, SERVICES, PVCS, PDBS)
