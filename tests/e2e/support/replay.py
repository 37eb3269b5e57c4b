"""Replay a cluster the original (Go) operator made into a namespace, as
tests/compat/upstream-made/replay-notes.md describes: the kdcluster, its Services,
claims and StatefulSets as recorded (owner uids remapped), pods made by the
StatefulSet controller from the recorded templates, then the recorded status with
each member's container identity mapped to its new pod's.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from kubedirector.lifecycle.members import container_identity
from tests.e2e.support.kdcluster import Kubectl, get
from tests.e2e.support.operator import REPO, wait_until

FIXTURES = REPO / "tests" / "compat" / "upstream-made"
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")
CLAIM_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
)
# The package the recorded apps named before it was removed (README.md); the
# simulated kubelet seeds a stand-in that logs its calls in every pod naming it.
PACKAGE = "file:///opt/configscripts/appconfig-2.6.tgz"

Obj = dict[str, Any]


def recorded(case: str, kind: str) -> list[Obj]:
    doc = yaml.safe_load((FIXTURES / case / f"{kind}.yaml").read_text())
    return list(doc["items"]) if "items" in doc else [doc]


def _fresh(obj: Obj, namespace: str, owner_uid: str | None = None) -> Obj:
    obj = json.loads(json.dumps(obj))
    meta = obj["metadata"]
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    meta["namespace"] = namespace
    for ref in meta.get("ownerReferences") or []:
        assert owner_uid is not None
        ref["uid"] = owner_uid
    obj.pop("status", None)
    return obj


def _create(kubectl: Kubectl, obj: Obj) -> Obj:
    out = kubectl("create", "-o", "json", "-f", "-", input=json.dumps(obj)).stdout
    return dict(json.loads(out))


def app_with_setup(case: str, namespace: str) -> Obj:
    """The recorded app, with the setup package it had before the capture removed it."""
    app = _fresh(recorded(case, "kubedirectorapp")[0], namespace)
    for role in app["spec"]["roles"]:
        role["configPackage"] = {"packageURL": PACKAGE}
    return app


def replay(kubectl: Kubectl, case: str, namespace: str) -> Obj:
    """Replay `case`; returns the status it ends with (container identities mapped)."""
    _create(kubectl, app_with_setup(case, namespace))
    recorded_cluster = recorded(case, "kubedirectorcluster")[0]
    cluster = _create(kubectl, _fresh(recorded_cluster, namespace))
    uid = cluster["metadata"]["uid"]
    for raw_svc in recorded(case, "services"):
        svc = _fresh(raw_svc, namespace, uid)
        spec = svc["spec"]
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
        _create(kubectl, svc)
    for raw_claim in recorded(case, "persistentvolumeclaims"):
        claim = _fresh(raw_claim, namespace, uid)
        claim["spec"].pop("volumeName", None)
        annotations = claim["metadata"].get("annotations") or {}
        for key in CLAIM_ANNOTATIONS:
            annotations.pop(key, None)
        _create(kubectl, claim)
    for sts in recorded(case, "statefulsets"):
        _create(kubectl, _fresh(sts, namespace, uid))
    old_pods = {p["metadata"]["name"]: p for p in recorded(case, "pods")}

    def identities() -> dict[str, str] | None:
        pods = get(kubectl, namespace, "pods")["items"]
        found = {p["metadata"]["name"]: container_identity(p) for p in pods}
        if set(found) != set(old_pods) or None in found.values():
            return None
        return {container_identity(old_pods[name]) or "": str(v) for name, v in found.items()}

    mapped = wait_until(identities, 120, f"the replayed pods of case {case} running")
    assert isinstance(mapped, dict)
    status = json.loads(json.dumps(recorded_cluster["status"]))
    for role in status["roles"]:
        for member in role["members"]:
            detail = member.get("stateDetail") or {}
            for key in ("lastConfiguredContainer", "configuringContainer"):
                if key in detail:
                    detail[key] = mapped[detail[key]]
    kubectl(
        "patch",
        "kdcluster",
        cluster["metadata"]["name"],
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    return status
