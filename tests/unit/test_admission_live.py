"""The live half of cluster admission, as pure logic: which lookups and dry runs a
cluster needs, and how their replies become refusals or warnings. (The same paths
against the real API server: tests/e2e/test_webhook.py.)"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.desired.statefulset import (
    PROJECTION_VOLUME_PREFIX,
    SECRET_VOLUME_PREFIX,
    SHM_VOLUME,
)
from kubedirector.resources import PVCS, SECRETS, SERVICES, STATEFULSETS
from kubedirector.webhook import derived, references
from kubedirector.webhook.admission import review
from kubedirector.webhook.live import NO_ANSWER, Reply, Request
from tests.admission_cases import (
    SERVER_CASES,
    ServerCase,
    app,
    cluster,
    config,
    min_app,
    ports_app,
    server_document,
    storage_class,
)
from tests.unit.static_view import StaticView

REPO = Path(__file__).resolve().parents[2]
NS = "apps"
USER = {"username": "alice", "uid": "u-1", "groups": ["devs"]}


class ScriptedLive:
    """Answers each request with `answer(request)` and records what was asked."""

    def __init__(self, answer: Callable[[Request], Reply]) -> None:
        self.answer = answer
        self.sent: list[Request] = []

    def send(self, requests: Sequence[Request]) -> list[Reply]:
        self.sent += requests
        return [self.answer(r) for r in requests]


def ok(request: Request) -> Reply:
    if "subjectaccessreviews" in request.path:
        return Reply(201, {"status": {"allowed": True}})
    return Reply(201 if request.method == "POST" else 200, {"spec": {}})


def invalid(field: str, message: str) -> Reply:
    return Reply(
        422, {"reason": "Invalid", "details": {"causes": [{"field": field, "message": message}]}}
    )


def parsed(doc: dict[str, Any]) -> tuple[App, Cluster, Config]:
    a = App.from_dict(app(NS))
    return a, Cluster.from_dict(doc, Config(), a), Config()


def admit(
    doc: dict[str, Any],
    live: ScriptedLive | None,
    old: dict[str, Any] | None = None,
    *,
    dry_run: bool = False,
) -> dict:
    v = StaticView(
        operator_namespace=NS,
        apps=[app(NS), min_app(NS), ports_app(NS)],
        config_doc=config(NS),
        classes=[storage_class()],
    )
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "1",
            "operation": "UPDATE" if old else "CREATE",
            "kind": {
                "group": "kubedirector.hpe.com",
                "version": "v1beta1",
                "kind": "KubeDirectorCluster",
            },
            "namespace": NS,
            "name": doc["metadata"]["name"],
            "object": doc,
            "oldObject": old,
            "userInfo": USER,
            "dryRun": dry_run,
        },
    }
    return review(body, v, "validate", live)["response"]


@pytest.mark.parametrize("case", SERVER_CASES, ids=lambda c: c.id)
def test_server_only_rules_pass_every_cached_check(case: ServerCase):
    """Without the API server's judgement each of these would be admitted (and fail later)."""
    resp = admit(server_document(case, NS), None)
    assert resp["allowed"] is True, resp


# ---- derived objects ---------------------------------------------------------------------


def test_one_statefulset_and_one_member_service_per_role_all_generated():
    a, c, cfg = parsed(cluster(NS, "big"))
    objects = derived.derived_objects(a, c, cfg)
    kinds = [(d.resource, d.role) for d in objects]
    assert kinds[0] == (SERVICES, None)
    for i in range(len(c.roles)):
        assert (STATEFULSETS, i) in kinds
        assert kinds.count((SERVICES, i)) == 1  # not one per member
    for d in objects:
        meta = d.obj["metadata"]
        assert "name" not in meta and "ownerReferences" not in meta
        assert meta["generateName"].endswith("-") and meta["namespace"] == NS
    sts = next(d for d in objects if d.resource == STATEFULSETS)
    assert sts.obj["metadata"]["generateName"] == "big-controller-"
    assert all(
        r.method == "POST" and r.query == (("dryRun", "All"),) for r in derived.requests(objects)
    )


def _role_objects(doc: dict[str, Any], role: int) -> tuple[derived.Derived, derived.Derived]:
    objects = derived.derived_objects(*parsed(doc))
    sts = next(d for d in objects if d.resource == STATEFULSETS and d.role == role)
    svc = next(d for d in objects if d.resource == SERVICES and d.role == role)
    return sts, svc


def test_statefulset_paths_map_back_to_role_fields():
    doc = cluster(NS)
    worker = doc["spec"]["roles"][1]
    worker["sharedMemory"] = "64Mi"
    worker["secret"] = {"name": "kd-s", "mountPath": "/etc/s"}
    worker["volumeProjections"] = [{"pvcName": "data", "mountPath": "/data"}]
    worker["storage"] = {"size": "1Gi"}
    sts, svc = _role_objects(doc, 1)
    pod = "spec.template.spec."
    volumes = [v["name"] for v in sts.obj["spec"]["template"]["spec"]["volumes"]]
    mounts = [
        m["name"] for m in sts.obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    ]
    shm, projection = volumes.index(SHM_VOLUME), volumes.index(f"{PROJECTION_VOLUME_PREFIX}0")
    secret_mount = mounts.index(f"{SECRET_VOLUME_PREFIX}kd-s")
    required = "nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    expected = [  # (StatefulSet path, role field), both after their prefixes
        ("containers[0].resources.limits[nvidia.com/gpu]", "resources.limits[nvidia.com/gpu]"),
        (
            "initContainers[0].resources.requests[hugepages-2Mi]",
            "resources.requests[hugepages-2Mi]",
        ),
        ("containers[0].env[0].name", "env[0].name"),
        (f"affinity.{required}", f"affinity.{required}"),
        ("serviceAccountName", "serviceAccountName"),
        (f"volumes[{shm}].emptyDir.sizeLimit", "sharedMemory"),
        (f"volumes[{projection}].persistentVolumeClaim.claimName", "volumeProjections[0]"),
        (f"containers[0].volumeMounts[{secret_mount}].mountPath", "secret"),
    ]
    for path, field in expected:
        assert derived.cluster_field(sts, pod + path) == f"spec.roles[1].{field}", path
    for path, field in [
        ("spec.template.metadata.labels", "podLabels"),
        ("spec.template.metadata.annotations", "podAnnotations"),
        ("spec.template.annotations", "podAnnotations"),
        ("spec.template.labels", "podLabels"),
        ("spec.volumeClaimTemplates[0].spec.resources.requests[storage]", "storage.size"),
    ]:
        assert derived.cluster_field(sts, path) == f"spec.roles[1].{field}", path
    assert derived.cluster_field(sts, "spec.selector") is None
    assert derived.cluster_field(sts, f"{pod}volumes[99].name") is None
    assert derived.cluster_field(svc, "metadata.labels") == "spec.roles[1].serviceLabels"
    assert derived.cluster_field(svc, "spec.ports[1]") == "spec.roles[1]"
    assert derived.cluster_field(svc, "spec.type") == "spec.serviceType"
    headless = derived.derived_objects(*parsed(doc))[0]
    assert derived.cluster_field(headless, "metadata.labels") is None


def test_judge_refuses_only_causes_it_can_place():
    sts, svc = _role_objects(cluster(NS), 0)
    verdict = derived.judge(
        [sts, svc, sts, svc],
        [
            invalid("spec.template.spec.containers[0].env[0].name", 'Invalid value: "A=B"'),
            invalid("spec.clusterIP", "odd"),
            Reply(NO_ANSWER),
            Reply(201),
        ],
    )
    assert [str(e) for e in verdict.errors] == [
        'spec.roles[0].env[0].name: Invalid value: "A=B" (the API server refuses the '
        "StatefulSet of role 'controller' at spec.template.spec.containers[0].env[0].name)"
    ]
    assert len(verdict.warnings) == 2
    assert "spec.clusterIP: odd" in verdict.warnings[0]
    assert "no answer in time" in verdict.warnings[1]


# ---- through admission -------------------------------------------------------------------


def test_cluster_the_server_accepts_is_admitted_without_warnings():
    live = ScriptedLive(ok)
    resp = admit(cluster(NS, "fine"), live)
    assert resp["allowed"] is True and "warnings" not in resp
    assert sum(r.method == "POST" for r in live.sent) == len(live.sent)  # no refs: dry runs only


def test_server_refusal_names_the_cluster_field():
    def answer(request: Request) -> Reply:
        body = request.body or {}
        if body.get("kind") == "StatefulSet" and "worker" in body["metadata"]["generateName"]:
            return invalid(
                "spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]",
                'Invalid value: "500m": must be an integer',
            )
        return ok(request)

    resp = admit(cluster(NS, "gpu"), ScriptedLive(answer))
    assert resp["allowed"] is False
    assert resp["status"]["message"].startswith(
        'spec.roles[1].resources.limits[nvidia.com/gpu]: Invalid value: "500m"'
    )
    assert resp["status"]["details"]["causes"][0]["field"] == (
        "spec.roles[1].resources.limits[nvidia.com/gpu]"
    )


def test_no_answer_admits_with_a_warning():
    resp = admit(cluster(NS, "slow"), ScriptedLive(lambda r: Reply(NO_ANSWER)))
    assert resp["allowed"] is True
    assert resp["warnings"] and all("no answer in time" in w for w in resp["warnings"])


def test_invalid_cluster_is_refused_before_any_live_request():
    live = ScriptedLive(ok)
    doc = cluster(NS)
    doc["spec"]["roles"][0]["members"] = 5
    assert admit(doc, live)["allowed"] is False
    assert live.sent == []


# ---- references --------------------------------------------------------------------------


def _with_references() -> dict[str, Any]:
    doc = cluster(NS, "refs")
    doc["spec"]["defaultSecret"] = {"name": "kd-shared", "mountPath": "/etc/kd"}
    worker = doc["spec"]["roles"][1]
    worker["serviceAccountName"] = "runner"
    worker["volumeProjections"] = [{"pvcName": "data", "mountPath": "/data"}]
    return doc


def test_a_create_checks_every_reference_an_update_only_new_ones():
    doc = _with_references()
    _, c, _ = parsed(doc)
    checks = references.reference_checks(doc, c, None, USER)
    assert [(ch.field, ch.rule) for ch in checks] == [
        ("spec.defaultSecret.name", references.Rule.EXISTS),
        ("spec.roles[1].serviceAccountName", references.Rule.EXISTS),
        ("spec.roles[1].serviceAccountName", references.Rule.MAY_USE),
        ("spec.roles[1].volumeProjections[0].pvcName", references.Rule.FILESYSTEM_CLAIM),
    ]
    assert checks[0].request.path == f"/api/v1/namespaces/{NS}/secrets/kd-shared"
    assert "PartialObjectMetadata" in checks[0].request.accept  # never the Secret's data
    review_spec = (checks[2].request.body or {})["spec"]
    assert review_spec["user"] == "alice" and review_spec["groups"] == ["devs"]
    assert review_spec["resourceAttributes"] == {
        "namespace": NS,
        "verb": "impersonate",
        "resource": "serviceaccounts",
        "name": "runner",
    }
    scaled = copy.deepcopy(doc)
    scaled["spec"]["roles"][1]["members"] = 4
    assert references.reference_checks(scaled, parsed(scaled)[1], (doc, c), USER) == []
    scaled["spec"]["roles"][1]["serviceAccountName"] = "other"
    changed = references.reference_checks(scaled, parsed(scaled)[1], (doc, c), USER)
    assert [ch.what for ch in changed] == ["ServiceAccount 'other'"] * 2


def test_reference_replies_become_refusals_or_warnings():
    doc = _with_references()
    checks = references.reference_checks(doc, parsed(doc)[1], None, USER)
    errors, warnings = references.judge(
        checks,
        [
            Reply(404),
            Reply(403),
            Reply(201, {"status": {"allowed": False}}),
            Reply(200, {"spec": {"volumeMode": "Block"}}),
        ],
        NS,
        "alice",
    )
    assert [e.path for e in errors] == [
        "spec.defaultSecret.name",
        "spec.roles[1].serviceAccountName",
        "spec.roles[1].volumeProjections[0].pvcName",
    ]
    assert "does not exist" in errors[0].message
    assert "user 'alice' may not use ServiceAccount 'runner'" in errors[1].message
    assert "volumeMode Block" in errors[2].message
    assert warnings == [
        "spec.roles[1].serviceAccountName: could not check ServiceAccount 'runner' (status 403)"
    ]


def test_missing_claim_refused_through_admission():
    def answer(request: Request) -> Reply:
        if request.method == "GET" and f"/{PVCS.plural}/" in request.path:
            return Reply(404)
        if request.method == "GET" and f"/{SECRETS.plural}/" in request.path:
            return Reply(200, {"metadata": {"name": "kd-shared"}})
        return ok(request)

    resp = admit(_with_references(), ScriptedLive(answer))
    assert resp["allowed"] is False
    assert resp["status"]["message"] == (
        "spec.roles[1].volumeProjections[0].pvcName: PersistentVolumeClaim 'data' "
        f"does not exist in namespace {NS!r}"
    )


def _side_effect_free(request: Request) -> bool:
    """A read, a dry-run create, or an access review (the API server never stores one)."""
    return (
        request.method == "GET"
        or ("dryRun", "All") in request.query
        or request.path.endswith("/subjectaccessreviews")
    )


def test_a_dry_run_is_reviewed_with_side_effect_free_requests_only():
    """The webhooks are registered with `sideEffects: None`, so the API server sends
    them `dryRun` requests too: answering one must change nothing, so every request
    a review makes is side-effect free, and it is answered as the real one."""
    configs = list(yaml.safe_load_all((REPO / "manifests/base/webhook.yaml").read_text()))
    hooks = [hook for doc in configs for hook in doc["webhooks"]]
    assert hooks and all(hook["sideEffects"] == "None" for hook in hooks)
    wet, dry = ScriptedLive(ok), ScriptedLive(ok)
    assert admit(_with_references(), dry, dry_run=True) == admit(_with_references(), wet)
    assert dry.sent == wet.sent
    assert {r.method for r in dry.sent} == {"GET", "POST"}  # lookups and dry runs were made
    assert [r for r in dry.sent if not _side_effect_free(r)] == []


def test_roles_an_unusable_app_cannot_run_are_left_to_the_cached_checks():
    broken = app(NS)
    del broken["spec"]["defaultImageRepoTag"]  # only the jupyter role keeps an image
    a = App.from_dict(broken)
    objects = derived.derived_objects(a, Cluster.from_dict(cluster(NS), Config(), a), Config())
    assert {d.role_id for d in objects if d.role is not None} == {"jupyter"}
