"""Invalid apps, clusters and configs, each with the field its refusal must name.

Shared by the unit tests (through `admission.review`) and the end-to-end tests
(through kubectl and the registered webhook).  Every case lives in one namespace
that is also the operator's, holding the apps `spark221e2` and `spark-min` (with
minimum resources and storage) and a config requiring the secret prefix `kd-`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.unit.kd_fixtures import spark_app, spark_cluster

Doc = dict[str, Any]
SECRET_PREFIX = "kd-"
STORAGE_CLASS = "local-path"


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # kdapp | kdcluster | kdconfig
    change: Callable[[Doc], Any]
    field: str  # must appear in the refusal
    e2e: bool = True  # False where the local setup cannot express it


def app(namespace: str) -> Doc:
    doc = spark_app()
    doc["metadata"] = {"name": "spark221e2", "namespace": namespace}
    return doc


def min_app(namespace: str) -> Doc:
    """spark221e2 whose controller needs 1 CPU and whose workers need 10Gi of storage."""
    doc = app(namespace)
    doc["metadata"]["name"] = "spark-min"
    doc["spec"]["roles"][0]["minResources"] = {"cpu": "1", "memory": "1Gi"}
    doc["spec"]["roles"][1]["minStorage"] = {"size": "10Gi"}
    return doc


def cluster(namespace: str, name: str = "bad") -> Doc:
    doc = spark_cluster()
    doc["metadata"] = {"name": name, "namespace": namespace}
    return doc


def config(namespace: str) -> Doc:
    return {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorConfig",
        "metadata": {"name": "kd-global-config", "namespace": namespace},
        "spec": {"requiredSecretPrefix": SECRET_PREFIX, "defaultServiceType": "NodePort"},
    }


def storage_class() -> Doc:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS},
        "provisioner": "example.com/local",
    }


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """Set a dotted path (numbers index lists, `\\.` is a dot inside a key) in the document."""

    def change(doc: Doc) -> None:
        *parents, last = [p.replace("\0", ".") for p in path.replace("\\.", "\0").split(".")]
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _do(*changes: Callable[[Doc], Any]) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        for c in changes:
            c(doc)

    return change


def _uses_min_app(doc: Doc) -> None:
    doc["spec"]["app"] = "spark-min"
    doc["spec"]["roles"][1]["storage"] = {"size": "20Gi"}


R0, R1, R2 = "spec.roles.0", "spec.roles.1", "spec.roles.2"
SECRET = {"name": "plain-secret", "mountPath": "/etc/secret"}

APP_CASES = [
    Case("app-duplicate-role", "kdapp", _set("spec.roles.1.id", "controller"), "spec.roles[1].id"),
    Case(
        "app-duplicate-service", "kdapp", _set("spec.services.1.id", "ssh"), "spec.services[1].id"
    ),
    Case(
        "app-selected-unknown-role",
        "kdapp",
        lambda d: d["spec"]["config"]["selectedRoles"].append("ghost"),
        "spec.config.selectedRoles[3]",
    ),
    Case(
        "app-roleservices-unknown-role",
        "kdapp",
        _set("spec.config.roleServices.0.roleID", "ghost"),
        "spec.config.roleServices[0].roleID",
    ),
    Case(
        "app-roleservices-unknown-service",
        "kdapp",
        lambda d: d["spec"]["config"]["roleServices"][1]["serviceIDs"].append("nope"),
        "spec.config.roleServices[1].serviceIDs[2]",
    ),
    Case(
        "app-no-image",
        "kdapp",
        lambda d: d["spec"].pop("defaultImageRepoTag"),
        "spec.roles[0].imageRepoTag",
    ),
    Case(
        "app-tty-without-stdin",
        "kdapp",
        _set("spec.roles.0.containerSpec", {"tty": True}),
        "spec.roles[0].containerSpec.tty",
    ),
    Case(
        "app-dashboard-without-scheme",
        "kdapp",
        lambda d: d["spec"]["services"][1]["endpoint"].pop("urlScheme"),
        "spec.services[1].endpoint.isDashboard",
    ),
    Case(
        "app-persist-root",
        "kdapp",
        _set("spec.roles.0.persistDirs", ["/"]),
        "spec.roles[0].persistDirs[0]",
    ),
    Case(
        "app-default-persist-root",
        "kdapp",
        _set("spec.defaultPersistDirs", ["/data", "/"]),
        "spec.defaultPersistDirs[1]",
    ),
    Case(
        "app-schema-version",
        "kdapp",
        _set("spec.configSchemaVersion", 6),
        "spec.configSchemaVersion",
    ),
    Case(
        "app-liveness-empty-program",
        "kdapp",
        _set("spec.roles.1.livenessCheck", {"exec": {"command": ["", "-c", "true"]}}),
        "spec.roles[1].livenessCheck.exec.command[0]",
    ),
    Case(
        "app-liveness-period-zero",
        "kdapp",
        _set("spec.roles.1.livenessCheck", {"exec": {"command": ["true"]}, "periodSeconds": 0}),
        "spec.roles[1].livenessCheck.periodSeconds",
    ),
]

CLUSTER_CASES = [
    Case("cluster-unknown-app", "kdcluster", _set("spec.app", "nope"), "spec.app"),
    Case("cluster-unknown-role", "kdcluster", _set(f"{R2}.id", "ghost"), "spec.roles[2].id"),
    Case("cluster-duplicate-role", "kdcluster", _set(f"{R2}.id", "worker"), "spec.roles[2].id"),
    Case(
        "cluster-required-role-missing",
        "kdcluster",
        lambda d: d["spec"]["roles"].pop(0),
        "spec.roles",
    ),
    Case(
        "cluster-members-cardinality",
        "kdcluster",
        _set(f"{R0}.members", 2),
        "spec.roles[0].members",
    ),
    Case("cluster-too-many-members", "kdcluster", _set(f"{R1}.members", 1001), "spec.roles"),
    Case(
        "cluster-below-min-cpu",
        "kdcluster",
        _do(_uses_min_app, _set(f"{R0}.resources.requests.cpu", "500m")),
        "spec.roles[0].resources.requests.cpu",
    ),
    Case(
        "cluster-storage-missing",
        "kdcluster",
        _do(_uses_min_app, lambda d: d["spec"]["roles"][1].pop("storage")),
        "spec.roles[1].storage",
    ),
    Case(
        "cluster-storage-below-min",
        "kdcluster",
        _do(_uses_min_app, _set(f"{R1}.storage", {"size": "1Gi"})),
        "spec.roles[1].storage.size",
    ),
    Case(
        "cluster-unknown-storage-class",
        "kdcluster",
        _set(f"{R0}.storage", {"size": "1Gi", "storageClassName": "gold"}),
        "spec.roles[0].storage.storageClassName",
    ),
    Case(
        "cluster-bad-pod-label-key",
        "kdcluster",
        _set(f"{R0}.podLabels", {"bad key!": "x"}),
        "spec.roles[0].podLabels",
    ),
    Case(
        "cluster-bad-pod-label-value",
        "kdcluster",
        _set(f"{R0}.podLabels", {"team": "not a label value"}),
        "spec.roles[0].podLabels",
    ),
    Case(
        "cluster-bad-service-annotation",
        "kdcluster",
        _set(f"{R1}.serviceAnnotations", {"/x": "y"}),
        "spec.roles[1].serviceAnnotations",
    ),
    Case(
        "cluster-secret-prefix",
        "kdcluster",
        _set(f"{R0}.secret", SECRET),
        "spec.roles[0].secret.name",
    ),
    Case(
        "cluster-default-secret-prefix",
        "kdcluster",
        _set("spec.defaultSecret", SECRET),
        "spec.defaultSecret.name",
    ),
    Case(
        "cluster-limits-cpu-missing",
        "kdcluster",
        lambda d: d["spec"]["roles"][0]["resources"]["limits"].pop("cpu"),
        "spec.roles[0].resources.limits.cpu",
    ),
    Case(
        "cluster-request-over-limit",
        "kdcluster",
        _set(f"{R1}.resources.requests.memory", "8Gi"),
        "spec.roles[1].resources.requests.memory",
    ),
    Case(
        "cluster-injection-scheme",
        "kdcluster",
        _set(f"{R0}.fileInjections", [{"srcURL": "ftp://host/f", "destDir": "/opt"}]),
        "spec.roles[0].fileInjections[0].srcURL",
    ),
    Case(
        "cluster-injection-relative-dir",
        "kdcluster",
        _set(f"{R0}.fileInjections", [{"srcURL": "file:///f", "destDir": "opt"}]),
        "spec.roles[0].fileInjections[0].destDir",
    ),
    Case("cluster-name-too-long", "kdcluster", _set("metadata.name", "c" * 64), "metadata.name"),
    Case(
        "cluster-secret-key-empty",
        "kdcluster",
        _set(f"{R0}.secretKeys", [{"name": "k"}]),
        "spec.roles[0].secretKeys[0]",
    ),
    Case(
        "cluster-shared-memory-zero",
        "kdcluster",
        _set(f"{R0}.sharedMemory", "0"),
        "spec.roles[0].sharedMemory",
    ),
    Case(
        "cluster-mount-path-clash",
        "kdcluster",
        _do(
            _set(f"{R0}.sharedMemory", "64Mi"),
            _set(f"{R0}.secret", {"name": "kd-shm", "mountPath": "/dev/shm/"}),
        ),
        "spec.roles[0].secret.mountPath",
    ),
    Case(
        "cluster-projection-mount-clash",
        "kdcluster",
        _set(
            f"{R1}.volumeProjections",
            [{"pvcName": "a", "mountPath": "/data"}, {"pvcName": "b", "mountPath": "/data"}],
        ),
        "spec.roles[1].volumeProjections[1].mountPath",
    ),
]

CONFIG_CASES = [
    Case("config-wrong-name", "kdconfig", _set("metadata.name", "other-config"), "metadata.name"),
    Case(
        "config-wrong-namespace",
        "kdconfig",
        _set("metadata.namespace", "elsewhere"),
        "metadata.namespace",
        e2e=False,
    ),
    Case(
        "config-bad-key",
        "kdconfig",
        _set("spec.masterEncryptionKey", "xyz"),
        "spec.masterEncryptionKey",
    ),
    Case(
        "config-domain-base",
        "kdconfig",
        _set("spec.clusterSvcDomainBase", "svc.local"),
        "spec.clusterSvcDomainBase",
    ),
    Case(
        "config-bad-pod-label", "kdconfig", _set("spec.podLabels", {"a/b/c": "x"}), "spec.podLabels"
    ),
]

CASES = APP_CASES + CLUSTER_CASES + CONFIG_CASES
BASE = {"kdapp": app, "kdcluster": cluster, "kdconfig": config}


def document(case: Case, namespace: str) -> Doc:
    """The case's invalid document in `namespace`."""
    doc = copy.deepcopy(BASE[case.kind](namespace))
    if case.kind != "kdconfig":
        doc["metadata"]["name"] = case.id
    case.change(doc)
    return doc


# ---- rules only the API server knows ------------------------------------------------------


@dataclass(frozen=True)
class ServerCase:
    """A cluster every cached check admits but Kubernetes refuses in a derived object:
    admission must refuse it naming `field`; `says` is part of the server's reason."""

    id: str
    change: Callable[[Doc], Any]
    field: str
    says: str


def ports_app(namespace: str) -> Doc:
    """spark221e2 whose controller exposes two services on port 8080."""
    doc = app(namespace)
    doc["metadata"]["name"] = "spark-ports"
    doc["spec"]["services"][3]["endpoint"]["port"] = 8080
    return doc


_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]}
            ]
        }
    }
}
_TERM = "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"

SERVER_CASES = [
    ServerCase(
        "server-extended-resource",
        _set(f"{R1}.resources.limits.nvidia\\.com/gpu", "500m"),
        "spec.roles[1].resources.limits[nvidia.com/gpu]",
        "integer",
    ),
    ServerCase(
        "server-hugepages",
        _do(
            _set(f"{R1}.resources.limits.hugepages-2Mi", "3Mi"),
            _set(f"{R1}.resources.requests.hugepages-2Mi", "3Mi"),
        ),
        "spec.roles[1].resources.limits[hugepages-2Mi]",
        "not positive integer multiple",
    ),
    ServerCase(
        "server-env-name",
        _set(f"{R1}.env", [{"name": "A=B", "value": "1"}]),
        "spec.roles[1].env[0].name",
        "environment variable name",
    ),
    ServerCase(
        "server-affinity-operator",
        _set(f"{R1}.affinity", _AFFINITY),
        f"spec.roles[1].{_TERM}.matchExpressions[0].operator",
        "Near",
    ),
    ServerCase(
        "server-duplicate-ports",
        _set("spec.app", "spark-ports"),
        "spec.roles[0]: ",
        "Duplicate value",
    ),
    ServerCase(
        "server-annotations-size",
        _set(f"{R1}.podAnnotations", {"big": "x" * 300_000}),
        "spec.roles[1].podAnnotations",
        "Too long",
    ),
]


def server_document(case: ServerCase, namespace: str) -> Doc:
    doc = cluster(namespace, case.id)
    case.change(doc)
    return doc
