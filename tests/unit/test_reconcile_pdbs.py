"""kubedirector/reconcilers/pdbs.py with a recording ensure and delete (no API server)."""

from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.cache.informer import Resource
from kubedirector.reconcilers.pdbs import sync_disruption_budgets
from kubedirector.resources import PDBS
from tests.unit.kd_fixtures import spark_app, spark_cluster


class Recorder:
    def __init__(self) -> None:
        self.ensured: list[tuple[Resource, dict[str, Any], dict[str, Any]]] = []
        self.deleted: list[tuple[Resource, str, str, str | None]] = []

    def ensure(self, resource: Resource, desired: dict[str, Any], compared: dict[str, Any]) -> None:
        self.ensured.append((resource, desired, compared))

    def delete(self, resource: Resource, namespace: str, name: str, uid: str | None) -> bool:
        self.deleted.append((resource, namespace, name, uid))
        return True


def owned(name: str, uid: str, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "apps", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta}


def sync(doc: dict[str, Any], existing: list[dict[str, Any]]) -> Recorder:
    app = App.from_dict(spark_app())
    cluster = Cluster.from_dict(doc, None, app)
    rec = Recorder()
    sync_disruption_budgets(
        cluster,
        app,
        {"controller": "ss-c", "worker": "ss-w", "jupyter": "ss-j"},
        owned=existing,
        ensure=rec.ensure,
        delete=rec.delete,
    )
    return rec


def test_ensures_wanted_budgets_and_compares_labels_and_spec():
    rec = sync(spark_cluster(), [owned("ss-w", "u1")])
    ((resource, desired, compared),) = rec.ensured
    assert resource == PDBS and desired["metadata"]["name"] == "ss-w"
    assert compared == {
        "metadata": {"labels": desired["metadata"]["labels"]},
        "spec": desired["spec"],
    }
    assert rec.deleted == []


def test_deletes_budgets_no_role_should_have():
    doc = spark_cluster()
    doc["spec"]["roles"][1]["members"] = 1  # the worker budget goes
    existing = [owned("ss-w", "u1"), owned("ss-old", "u2"), owned("ss-gone", "u3", deleting=True)]
    rec = sync(doc, existing)
    assert rec.ensured == []
    assert rec.deleted == [(PDBS, "apps", "ss-w", "u1"), (PDBS, "apps", "ss-old", "u2")]
