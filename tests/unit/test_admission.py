"""Admission as the API server sees it: AdmissionReview v1 in, response out."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from kubedirector.api.constants import ANNOTATION_STATUS_BACKUP_EXISTS
from kubedirector.api.secretkeys import decrypt, encrypt
from kubedirector.webhook.admission import NOT_READY, Mode, review
from kubedirector.webhook.view import DEFAULT_CLASS_ANNOTATION
from tests.admission_cases import (
    CASES,
    STORAGE_CLASS,
    Case,
    app,
    cluster,
    config,
    document,
    min_app,
    storage_class,
)
from tests.unit.kd_fixtures import BROKEN_YAML, compat_apps, compat_files, load_docs
from tests.unit.static_view import StaticView

NS = "apps"
KINDS = {
    "kdapp": "KubeDirectorApp",
    "kdcluster": "KubeDirectorCluster",
    "kdconfig": "KubeDirectorConfig",
}
KEY = "00112233445566778899aabbccddeeff"


def request(
    kind: str,
    operation: str,
    obj: dict | None,
    old: dict | None = None,
    *,
    namespace: str = NS,
) -> dict[str, Any]:
    meta = (obj or old or {}).get("metadata", {})
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "uid-42",
            "operation": operation,
            "kind": {"group": "kubedirector.hpe.com", "version": "v1beta1", "kind": KINDS[kind]},
            "namespace": meta.get("namespace", namespace),
            "name": meta.get("name", ""),
            "object": obj,
            "oldObject": old,
        },
    }


def view(**overrides: Any) -> StaticView:
    settings: dict[str, Any] = {
        "operator_namespace": NS,
        "apps": [app(NS), min_app(NS)],
        "config_doc": config(NS),
        "classes": [storage_class()],
    }
    settings.update(overrides)
    return StaticView(**settings)


def response(body: dict, v: StaticView | None = None, mode: Mode = "validate") -> dict:
    return review(body, v or view(), mode)["response"]


def patch_of(resp: dict) -> list[dict]:
    assert resp["allowed"], resp
    assert resp.get("patchType", "JSONPatch") == "JSONPatch"
    return json.loads(base64.b64decode(resp["patch"])) if "patch" in resp else []


def ops(resp: dict) -> dict[str, Any]:
    return {op["path"]: op["value"] for op in patch_of(resp)}


# ---- refusals ----------------------------------------------------------------------------


def _causes(case: Case) -> tuple[tuple[str, str], ...]:
    resp = response(request(case.kind, "CREATE", document(case, NS)))
    assert resp["allowed"] is False, case.id
    return tuple(sorted((c["field"], c["message"]) for c in resp["status"]["details"]["causes"]))


def test_admission_tells_at_least_30_refusals_apart():
    """Each case is refused with causes no other case gets: admission names at least 30
    distinct problems, rather than lumping them into a few generic refusals."""
    refusals = {_causes(case) for case in CASES}
    assert len(refusals) == len(CASES)
    assert len(refusals) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_invalid_document_refused_naming_the_field(case: Case):
    resp = response(request(case.kind, "CREATE", document(case, NS)))
    assert resp["allowed"] is False
    assert resp["uid"] == "uid-42"
    assert case.field in resp["status"]["message"], resp["status"]["message"]
    assert any(c["field"].startswith(case.field) for c in resp["status"]["details"]["causes"])
    assert resp["status"]["code"] == 422


@pytest.mark.parametrize(
    "doc",
    [app(NS), min_app(NS), cluster(NS, "good"), config(NS)],
    ids=["app", "min-app", "cluster", "config"],
)
def test_valid_documents_allowed(doc: dict):
    kind = {"KubeDirectorApp": "kdapp", "KubeDirectorCluster": "kdcluster"}.get(
        doc["kind"], "kdconfig"
    )
    assert response(request(kind, "CREATE", doc))["allowed"] is True


def _compat_clusters() -> list[tuple[str, dict]]:
    return [
        (p.name, d)
        for p in compat_files("example_clusters")
        if p.name not in BROKEN_YAML
        for d in load_docs(p)
        if d["kind"] == "KubeDirectorCluster"
    ]


@pytest.mark.parametrize(
    ("name", "doc"), _compat_clusters(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_upstream_clusters_against_the_system_catalog(name: str, doc: dict):
    """Clusters in a user namespace; their apps in the operator's namespace (system
    catalog) unless the cluster asks for the local one."""
    where = "users" if doc["spec"].get("appCatalog") == "local" else "kd-system"
    catalog = [
        dict(a, metadata={**a["metadata"], "namespace": where}) for a in compat_apps().values()
    ]
    v = view(operator_namespace="kd-system", apps=catalog, config_doc=None)
    resp = response(request("kdcluster", "CREATE", copy.deepcopy(doc), namespace="users"), v)
    if name == "cr-cluster-training-engine.yaml":
        assert resp["allowed"] is False
        assert "role 'controller'" in resp["status"]["message"]
        assert "spec.roles[2].id" in resp["status"]["message"]
    else:
        assert resp["allowed"] is True, resp.get("status")
        assert (
            ops(
                response(
                    request("kdcluster", "CREATE", copy.deepcopy(doc), namespace="users"),
                    v,
                    "mutate",
                )
            ).get("/spec/appCatalog", "system")
            == "system"
        )  # unset, found in the system catalog


def test_unknown_app_in_the_named_catalog():
    doc = cluster(NS)
    doc["spec"]["appCatalog"] = "system"
    resp = response(request("kdcluster", "CREATE", doc), view(operator_namespace="kd-system"))
    assert "spec.app: unknown app 'spark221e2' in catalog 'system'" in resp["status"]["message"]


# ---- defaults ----------------------------------------------------------------------------


def test_defaults_filled_where_unset():
    doc = cluster(NS)
    del doc["spec"]["roles"][1]["members"]
    doc["spec"]["roles"][0]["storage"] = {"size": "1Gi"}
    doc["spec"]["defaultSecret"] = {"name": "kd-s", "mountPath": "/etc/s"}
    doc["spec"]["roles"][2]["secret"] = {"name": "kd-own", "mountPath": "/own"}
    classes = [
        dict(
            storage_class(),
            metadata={"name": STORAGE_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        )
    ]
    got = ops(response(request("kdcluster", "CREATE", doc), view(classes=classes), "mutate"))
    assert got == {
        "/spec/appCatalog": "local",
        "/spec/serviceType": "NodePort",  # from the config
        "/spec/namingScheme": "CrNameRole",
        "/spec/roles/1/members": 0,  # worker is "0+"
        "/spec/roles/0/storage/storageClassName": STORAGE_CLASS,  # the cluster's default class
        "/spec/roles/0/secret": {"name": "kd-s", "mountPath": "/etc/s"},
        "/spec/roles/1/secret": {"name": "kd-s", "mountPath": "/etc/s"},
    }


def test_set_values_are_kept():
    doc = cluster(NS)
    doc["spec"].update(appCatalog="local", serviceType="ClusterIP", namingScheme="UID")
    doc["spec"]["roles"][0]["storage"] = {"size": "1Gi", "storageClassName": STORAGE_CLASS}
    assert patch_of(response(request("kdcluster", "CREATE", doc), mode="mutate")) == []


def test_config_storage_class_and_system_catalog():
    cfg = config("kd-system")
    cfg["spec"]["defaultStorageClassName"] = "fast"
    v = view(operator_namespace="kd-system", config_doc=cfg, apps=[app("kd-system")])
    doc = cluster(NS)
    doc["spec"]["roles"][1]["blockStorage"] = {"size": "1Gi", "pathPrefix": "/dev/kd"}
    got = ops(response(request("kdcluster", "CREATE", doc), v, "mutate"))
    assert got["/spec/appCatalog"] == "system"
    assert got["/spec/roles/1/blockStorage/storageClassName"] == "fast"


def test_without_config_the_built_in_defaults_apply():
    got = ops(
        response(request("kdcluster", "CREATE", cluster(NS)), view(config_doc=None), "mutate")
    )
    assert got["/spec/serviceType"] == "LoadBalancer"
    assert got["/spec/namingScheme"] == "CrNameRole"


def test_update_keeps_the_stored_naming_scheme_and_catalog():
    old = cluster(NS)
    old["spec"].update(namingScheme="UID", appCatalog="local", serviceType="ClusterIP")
    new = cluster(NS)
    new["spec"]["roles"][1]["members"] = 3
    got = ops(response(request("kdcluster", "UPDATE", new, old), mode="mutate"))
    assert got == {
        "/spec/namingScheme": "UID",
        "/spec/appCatalog": "local",
        "/spec/serviceType": "ClusterIP",
    }


def _keyed_config() -> dict:
    cfg = config(NS)
    cfg["spec"]["masterEncryptionKey"] = KEY
    return cfg


def test_secret_key_values_are_encrypted():
    doc = cluster(NS)
    doc["spec"]["roles"][0]["secretKeys"] = [{"name": "token", "value": "s3cret"}]
    got = ops(
        response(request("kdcluster", "CREATE", doc), view(config_doc=_keyed_config()), "mutate")
    )
    stored = got["/spec/roles/0/secretKeys/0"]
    assert set(stored) == {"name", "encryptedValue"}
    assert decrypt(stored["encryptedValue"], KEY) == "s3cret"


def _with_encrypted(value: str, *, restore: bool = False) -> dict:
    doc = cluster(NS)
    doc["spec"]["roles"][0]["secretKeys"] = [
        {"name": "token", "value": "new"},
        {"name": "kept", "encryptedValue": value},
    ]
    if restore:
        doc["metadata"]["annotations"] = {ANNOTATION_STATUS_BACKUP_EXISTS: "true"}
    return doc


def test_hand_written_encrypted_value_refused_on_create():
    doc = _with_encrypted(encrypt("copied", KEY))
    resp = response(request("kdcluster", "CREATE", doc), view(config_doc=_keyed_config()), "mutate")
    assert resp["allowed"] is False
    assert "spec.roles[0].secretKeys[1].encryptedValue" in resp["status"]["message"]


def test_restored_cluster_keeps_encrypted_values_that_decrypt():
    v = view(config_doc=_keyed_config())
    doc = _with_encrypted(encrypt("kept", KEY), restore=True)
    got = ops(response(request("kdcluster", "CREATE", doc), v, "mutate"))
    assert "/spec/roles/0/secretKeys/1" not in got  # kept as it is
    assert decrypt(got["/spec/roles/0/secretKeys/0"]["encryptedValue"], KEY) == "new"
    other_key = "ff" * 16
    doc = _with_encrypted(encrypt("elsewhere", other_key), restore=True)
    resp = response(request("kdcluster", "CREATE", doc), v, "mutate")
    assert resp["allowed"] is False
    message = resp["status"]["message"]
    assert "spec.roles[0].secretKeys[1].encryptedValue: cannot be restored" in message


def test_update_keeps_stored_encrypted_values_but_refuses_changed_ones():
    v = view(config_doc=_keyed_config())
    old = _with_encrypted(encrypt("kept", KEY))
    new = copy.deepcopy(old)
    new["spec"]["roles"][1]["members"] = 3
    assert patch_of(response(request("kdcluster", "UPDATE", new, old), v, "mutate"))
    new["spec"]["roles"][0]["secretKeys"][1]["encryptedValue"] = encrypt("other", KEY)
    resp = response(request("kdcluster", "UPDATE", new, old), v, "mutate")
    assert resp["allowed"] is False
    message = resp["status"]["message"]
    assert "spec.roles[0].secretKeys[1].encryptedValue: cannot change" in message


def test_master_key_cannot_change_while_clusters_hold_encrypted_values():
    old = _keyed_config()
    new = copy.deepcopy(old)
    new["spec"]["masterEncryptionKey"] = "ee" * 32
    holder = _with_encrypted(encrypt("kept", KEY))
    holder["metadata"]["name"] = "holder"
    plain = cluster(NS, "plain")
    resp = response(request("kdconfig", "UPDATE", new, old), view(cluster_list=[holder, plain]))
    assert resp["allowed"] is False
    assert resp["status"]["message"] == (
        f"spec.masterEncryptionKey: cannot change while clusters hold values encrypted "
        f"with it: {NS}/holder"
    )
    assert response(request("kdconfig", "UPDATE", new, old), view(cluster_list=[plain]))["allowed"]


def test_apps_and_configs_get_no_patch():
    for kind, doc in (("kdapp", app(NS)), ("kdconfig", config(NS))):
        resp = response(request(kind, "CREATE", doc), mode="mutate")
        assert resp["allowed"] is True and "patch" not in resp


# ---- updates and deletes -----------------------------------------------------------------


def _in_use_view(**kw: Any) -> StaticView:
    user = cluster(NS, "user")
    return view(cluster_list=[user], **kw)


def test_app_in_use_cannot_change_or_go():
    v = _in_use_view()
    changed = app(NS)
    changed["spec"]["version"] = "3.0"
    resp = response(request("kdapp", "UPDATE", changed, app(NS)), v)
    assert resp["allowed"] is False and "in use" in resp["status"]["message"]
    resp = response(request("kdapp", "DELETE", None, app(NS)), v)
    assert resp["allowed"] is False
    assert f"{NS}/user" in resp["status"]["message"] and resp["status"]["code"] == 403


def test_app_metadata_change_allowed_while_in_use():
    labelled = app(NS)
    labelled["metadata"]["labels"] = {"team": "a"}
    assert response(request("kdapp", "UPDATE", labelled, app(NS)), _in_use_view())["allowed"]


def test_app_not_in_use_can_change_and_go():
    changed = app(NS)
    changed["spec"]["version"] = "3.0"
    assert response(request("kdapp", "UPDATE", changed, app(NS)))["allowed"]
    assert response(request("kdapp", "DELETE", None, app(NS)))["allowed"]


def test_deleting_clusters_and_other_catalogs_do_not_hold_an_app():
    leaving = cluster(NS, "leaving")
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert response(request("kdapp", "DELETE", None, app(NS)), view(cluster_list=[leaving]))[
        "allowed"
    ]
    elsewhere = cluster("other", "elsewhere")  # its app resolves to the system catalog
    v = view(
        operator_namespace="kd-system", cluster_list=[elsewhere], apps=[app(NS), app("kd-system")]
    )
    assert response(request("kdapp", "DELETE", None, app(NS)), v)["allowed"]
    assert not response(request("kdapp", "DELETE", None, app("kd-system")), v)["allowed"]


def test_cluster_app_and_catalog_cannot_change():
    old = cluster(NS)
    old["spec"]["appCatalog"] = "local"
    for key, value in (("app", "spark-min"), ("appCatalog", "system")):
        new = copy.deepcopy(old)
        new["spec"][key] = value
        resp = response(
            request("kdcluster", "UPDATE", new, old),
            view(apps=[app(NS), min_app(NS), app("kd-system")]),
        )
        assert resp["allowed"] is False
        assert f"spec.{key}: cannot change" in resp["status"]["message"]


def test_cluster_members_may_change_but_not_other_role_properties():
    old = cluster(NS)
    scaled = copy.deepcopy(old)
    scaled["spec"]["roles"][1]["members"] = 4
    assert response(request("kdcluster", "UPDATE", scaled, old))["allowed"]
    resized = copy.deepcopy(old)
    resized["spec"]["roles"][1]["resources"]["limits"]["memory"] = "8Gi"
    resp = response(request("kdcluster", "UPDATE", resized, old))
    assert "spec.roles[1].resources: cannot change" in resp["status"]["message"]


def test_finalizer_removal_never_refused():
    """Even when the cluster's app is gone and the operator could not validate it."""
    old = cluster(NS)
    old["spec"]["app"] = "gone"
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = []
    assert response(request("kdcluster", "UPDATE", new, old), view(apps=[]))["allowed"]
    new["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    new["spec"]["roles"][0]["members"] = 0
    assert response(request("kdcluster", "UPDATE", new, old), view(apps=[]))["allowed"]


def test_config_delete_refused_while_clusters_exist():
    resp = response(request("kdconfig", "DELETE", None, config(NS)), _in_use_view())
    assert resp["allowed"] is False and f"{NS}/user" in resp["status"]["message"]
    assert response(request("kdconfig", "DELETE", None, config(NS)))["allowed"]


def test_cluster_delete_allowed():
    assert response(request("kdcluster", "DELETE", None, cluster(NS)), _in_use_view())["allowed"]


# ---- before the caches sync, and foreign input -------------------------------------------


def test_before_sync_writes_refused_and_deletes_allowed_with_a_warning():
    v = _in_use_view(is_synced=False)
    for mode in ("validate", "mutate"):
        resp = response(request("kdcluster", "CREATE", cluster(NS)), v, mode)
        assert resp["allowed"] is False and resp["status"]["code"] == 503
        assert resp["status"]["reason"] == "ServiceUnavailable"
        assert NOT_READY in resp["status"]["message"]
    resp = response(request("kdapp", "DELETE", None, app(NS)), v)
    assert resp["allowed"] is True and NOT_READY in resp["warnings"][0]


def test_other_kinds_allowed_untouched():
    body = request("kdapp", "CREATE", {"metadata": {"name": "x"}})
    body["request"]["kind"] = {"group": "", "version": "v1", "kind": "Pod"}
    assert response(body) == {"uid": "uid-42", "allowed": True}


def test_not_an_admission_review():
    with pytest.raises(ValueError, match="AdmissionReview"):
        review({"kind": "Pod"}, view(), "validate")


def test_response_envelope():
    out = review(request("kdapp", "CREATE", app(NS)), view(), "validate")
    assert out == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "uid-42", "allowed": True},
    }
