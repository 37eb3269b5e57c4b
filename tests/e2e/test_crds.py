"""The CRDs in the real local API server: what users see from `kubectl apply` and `kubectl get`.

The unit tests check the schemas offline; only the API server can say whether
it takes the CRDs as structural, refuses malformed objects with field errors,
keeps every field of the upstream files (no silent pruning), and prints the
columns. Each compat file gets its EXPECTATIONS.md outcome at the schema stage.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.crd_cases import (
    CATALOG,
    COMPAT,
    EXAMPLES,
    GROUP,
    load_docs,
    mutate,
)
from tests.crd_cases import MALFORMED as ALL_MALFORMED
from tests.e2e.support.kdcluster import patch

CRD_NAMES = [
    f"{p}.{GROUP}"
    for p in (
        "kubedirectorapps",
        "kubedirectorclusters",
        "kubedirectorconfigs",
        "kubedirectorstatusbackups",
    )
]

Kubectl = Callable[..., subprocess.CompletedProcess]


def _upstream_apps() -> dict[str, Path]:
    apps = {}
    for path in sorted((COMPAT / "example_catalog").iterdir()):
        (doc,) = load_docs(path)
        apps[doc["metadata"]["name"]] = path
    return apps


UPSTREAM_APPS = _upstream_apps()
DATAFABRIC = "cr-cluster-datafabric610.yaml"
TRAINING_ENGINE = "cr-cluster-training-engine.yaml"


def contains(expected: Any, actual: Any) -> bool:
    """Whether `actual` holds all of `expected` (admission may add defaults, never change)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return expected == actual


def without_nulls(value: Any) -> Any:
    """What client-side `kubectl apply` sends: a null field means "remove", so it never arrives."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def get_json(kubectl: Kubectl, namespace: str, resource: str, name: str) -> dict[str, Any]:
    return json.loads(kubectl("get", resource, name, "-n", namespace, "-o", "json").stdout)


def names(kubectl: Kubectl, namespace: str, resource: str) -> list[str]:
    out = kubectl("get", resource, "-n", namespace, "-o", "name").stdout
    return sorted(out.split())


def apply_file(kubectl: Kubectl, namespace: str, path: Path) -> subprocess.CompletedProcess:
    return kubectl("apply", "-n", namespace, "-f", str(path), check=False)


def apply_doc(kubectl: Kubectl, namespace: str, doc: dict[str, Any]) -> subprocess.CompletedProcess:
    return kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc), check=False)


def prepare_cluster_deps(kubectl: Kubectl, namespace: str, cluster: dict[str, Any]) -> None:
    """Its app and connected Secrets/ConfigMaps first, so only the cluster itself is judged."""
    app = UPSTREAM_APPS[cluster["spec"]["app"]]
    kubectl("apply", "-n", namespace, "-f", str(app))
    connections = cluster["spec"].get("connections") or {}
    for secret in connections.get("secrets") or []:
        kubectl("create", "secret", "generic", secret, "-n", namespace)
    for configmap in connections.get("configmaps") or []:
        kubectl("create", "configmap", configmap, "-n", namespace)


# --- the CRDs are installed as written -----------------------------------------------------------


@pytest.mark.parametrize("crd", CRD_NAMES)
def test_crd_is_established_and_structural(kubectl: Kubectl, crd: str) -> None:
    """A non-structural schema still installs, flagged by a condition: it must be absent."""
    obj = json.loads(kubectl("get", "crd", crd, "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conditions.get("Established") == "True"
    assert conditions.get("NamesAccepted") == "True"
    assert "NonStructuralSchema" not in conditions
    assert obj["status"]["acceptedNames"]["categories"] == ["kubedirector"]


def test_api_resources(kubectl: Kubectl) -> None:
    """Discovery lists the four kinds, namespaced, with their short names and category."""
    out = kubectl("api-resources", f"--api-group={GROUP}", "-o", "wide").stdout
    rows = {line.split()[0]: line.split() for line in out.strip().splitlines()[1:]}
    for plural, short, kind in (
        ("kubedirectorapps", "kdapp", "KubeDirectorApp"),
        ("kubedirectorclusters", "kdcluster", "KubeDirectorCluster"),
        ("kubedirectorconfigs", "kdconfig", "KubeDirectorConfig"),
        ("kubedirectorstatusbackups", "kdstatusbackup", "KubeDirectorStatusBackup"),
    ):
        row = rows[plural]
        assert row[1:5] == [short, f"{GROUP}/v1beta1", "true", kind], row
        assert row[-1] == "kubedirector", row


def test_schema_is_published(kubectl: Kubectl) -> None:
    """`kubectl explain` reads the published schema: field help works for users."""
    kubectl("api-resources", f"--api-group={GROUP}")  # refreshes kubectl's discovery cache
    out = kubectl("explain", "kdapp.spec.roles").stdout
    assert "cardinality" in out
    out = kubectl("explain", "kdcluster.spec.roles.resources").stdout
    assert "limits" in out


# --- every upstream file gets its EXPECTATIONS.md outcome ---------------------------------------


@pytest.mark.parametrize("path", sorted(UPSTREAM_APPS.values()), ids=lambda p: p.name)
def test_upstream_app_is_accepted_unchanged(kubectl: Kubectl, namespace: str, path: Path) -> None:
    """Accepted, and stored as written: nothing pruned, nothing defaulted into the app."""
    proc = apply_file(kubectl, namespace, path)
    assert proc.returncode == 0, proc.stderr
    (doc,) = load_docs(path)
    stored = get_json(kubectl, namespace, "kdapp", doc["metadata"]["name"])
    assert stored["spec"] == without_nulls(doc["spec"])


def test_explicit_null_setup_package_is_kept(kubectl: Kubectl, namespace: str) -> None:
    """`kubectl create` keeps `defaultConfigPackage: null` (nullable); without it, it is pruned."""
    path = COMPAT / "example_catalog" / "cr-app-gitlab-ee.json"
    kubectl("create", "-n", namespace, "-f", str(path))
    stored = get_json(kubectl, namespace, "kdapp", "gitlab")
    assert "defaultConfigPackage" in stored["spec"]
    assert stored["spec"]["defaultConfigPackage"] is None


UPSTREAM_CLUSTERS = sorted(
    p for p in (COMPAT / "example_clusters").iterdir() if p.name != DATAFABRIC
)


@pytest.mark.parametrize("path", UPSTREAM_CLUSTERS, ids=lambda p: p.name)
def test_upstream_cluster_is_accepted(kubectl: Kubectl, namespace: str, path: Path) -> None:
    """Accepted with every field kept. training-engine passes the schema; only admission
    (once installed) may refuse it, and then it must name role `controller`."""
    (doc,) = load_docs(path)
    prepare_cluster_deps(kubectl, namespace, doc)
    proc = apply_file(kubectl, namespace, path)
    if path.name == TRAINING_ENGINE and proc.returncode != 0:
        assert "admission webhook" in proc.stderr, proc.stderr
        assert "controller" in proc.stderr, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    stored = get_json(kubectl, namespace, "kdcluster", doc["metadata"]["name"])
    assert contains(without_nulls(doc["spec"]), stored["spec"]), stored["spec"]


def test_upstream_datafabric_cluster_is_a_yaml_error(kubectl: Kubectl, namespace: str) -> None:
    """Upstream's file is malformed YAML: kubectl says so and nothing is created."""
    proc = apply_file(kubectl, namespace, COMPAT / "example_clusters" / DATAFABRIC)
    assert proc.returncode != 0
    assert re.search(r"error converting YAML to JSON: yaml: line \d+", proc.stderr), proc.stderr
    assert names(kubectl, namespace, "kdcluster") == []


def test_upstream_config_is_accepted_unchanged(kubectl: Kubectl, namespace: str) -> None:
    path = COMPAT / "example_configs" / "cr-config-onprem.yaml"
    proc = apply_file(kubectl, namespace, path)
    assert proc.returncode == 0, proc.stderr
    (doc,) = load_docs(path)
    stored = get_json(kubectl, namespace, "kdconfig", "kd-global-config")
    assert stored["spec"] == without_nulls(doc["spec"])


# --- malformed documents are refused by the API server, naming the field ------------------------


# A sample of the schema cases (tests/crd_cases.py, each checked by the schema in
# tests/unit/test_crd_schemas.py), sent to the API server: its message must name the field.
LIVE = (
    "app-cardinality-word",
    "app-schema-version-string",
    "app-schema-version-too-old",
    "app-no-label-name",
    "app-no-distro",
    "app-no-roles",
    "app-service-id-too-long",
    "app-port-too-big",
    "app-persist-dir-relative",
    "app-event-unknown",
    "app-unknown-field",
    "cluster-no-app",
    "cluster-no-cpu-limit",
    "cluster-bad-memory",
    "cluster-service-type",
    "cluster-naming-scheme",
    "cluster-app-catalog",
    "cluster-members-negative",
    "config-service-type",
)
MALFORMED = [m for m in ALL_MALFORMED if m[0] in LIVE]
assert len(MALFORMED) == len(LIVE), "every LIVE id names a case in tests/crd_cases.py"
RESOURCE = {
    "KubeDirectorApp": "kdapp",
    "KubeDirectorCluster": "kdcluster",
    "KubeDirectorConfig": "kdconfig",
}


@pytest.mark.parametrize(
    ("source", "field", "value"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_document_is_refused_naming_the_field(
    kubectl: Kubectl, namespace: str, source: str, field: str, value: Any
) -> None:
    """The API server refuses it, its message names the field, and nothing is stored."""
    (doc,) = load_docs(COMPAT / source)
    if doc["kind"] == "KubeDirectorCluster":
        prepare_cluster_deps(kubectl, namespace, doc)
    mutate(doc, field, value)
    proc = apply_doc(kubectl, namespace, doc)
    assert proc.returncode != 0
    assert field in proc.stderr, proc.stderr
    assert names(kubectl, namespace, RESOURCE[doc["kind"]]) == []


# --- listing: printer columns, short names, the category ----------------------------------------


def _table(kubectl: Kubectl, namespace: str, resource: str) -> list[list[str]]:
    out = kubectl("get", resource, "-n", namespace).stdout
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines()]


def _spark_cluster(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", str(CATALOG / "spark221e2.yaml"))
    kubectl(
        "apply", "-n", namespace, "-f", str(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    )


def test_app_printer_columns(kubectl: Kubectl, namespace: str) -> None:
    _spark_cluster(kubectl, namespace)
    header, row = _table(kubectl, namespace, "kdapp")
    assert header == ["NAME", "LABEL", "DISTRO", "VERSION", "AGE"]
    assert row[:4] == ["spark221e2", "Spark 2.2.1 + Jupyter", "bluedata/spark221e2", "2.7"]


def test_cluster_printer_columns_show_status(kubectl: Kubectl, namespace: str) -> None:
    """The status subresource takes what the operator writes; the columns show it."""
    _spark_cluster(kubectl, namespace)
    header, row = _table(kubectl, namespace, "kdcluster")
    assert header == ["NAME", "APP", "STATE", "READY", "MEMBERS", "DOWN", "CONFIG-ERRORS", "AGE"]
    assert row[:2] == ["spark221e2", "spark221e2"]
    status = {
        "status": {
            "state": "configured",
            "memberSummary": "3/4",
            "memberStateRollup": {"membersDown": False, "configErrors": True},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "MembersNotReady",
                    "message": "3/4 members configured and running",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        }
    }
    patch(kubectl, namespace, "kdcluster/spark221e2", status, status=True)
    header, row = _table(kubectl, namespace, "kdcluster")
    assert row[:7] == ["spark221e2", "spark221e2", "configured", "False", "3/4", "false", "true"]
    stored = get_json(kubectl, namespace, "kdcluster", "spark221e2")
    assert stored["metadata"]["generation"] == 1


def test_cluster_status_is_validated(kubectl: Kubectl, namespace: str) -> None:
    """A wrongly typed status field is refused, so a buggy operator write shows at once."""
    _spark_cluster(kubectl, namespace)
    bad = {"status": {"memberStateRollup": {"membersDown": "yes"}}}
    proc = patch(kubectl, namespace, "kdcluster/spark221e2", bad, status=True, check=False)
    assert proc.returncode != 0
    assert "status.memberStateRollup.membersDown" in proc.stderr, proc.stderr


def test_spec_writes_ignore_status(kubectl: Kubectl, namespace: str) -> None:
    """With a status subresource, users cannot forge status through the main resource."""
    _spark_cluster(kubectl, namespace)
    patch(kubectl, namespace, "kdcluster/spark221e2", {"status": {"state": "configured"}})
    stored = get_json(kubectl, namespace, "kdcluster", "spark221e2")
    assert "state" not in stored.get("status", {})


def test_short_names_and_category(kubectl: Kubectl, namespace: str) -> None:
    """`kubectl get kubedirector` lists all four kinds; each answers to its short name."""
    _spark_cluster(kubectl, namespace)
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "config" / "kd-global-config.yaml"))
    backup = {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "KubeDirectorStatusBackup",
        "metadata": {"name": "spark221e2"},
        "spec": {"statusBackup": {"state": "configured", "lastNodeID": 4}},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(backup))
    expected = [
        f"kubedirectorapp.{GROUP}/spark221e2",
        f"kubedirectorcluster.{GROUP}/spark221e2",
        f"kubedirectorconfig.{GROUP}/kd-global-config",
        f"kubedirectorstatusbackup.{GROUP}/spark221e2",
    ]
    assert names(kubectl, namespace, "kubedirector") == expected
    assert names(kubectl, namespace, "kdapp,kdcluster,kdconfig,kdstatusbackup") == expected
    stored = get_json(kubectl, namespace, "kdstatusbackup", "spark221e2")
    assert stored["spec"] == backup["spec"]


# --- what the project ships ---------------------------------------------------------------------


def test_catalog_applies_with_and_without_kustomize(kubectl: Kubectl, namespace: str) -> None:
    """`-k` uses the Kustomization; `-f` on the folder must skip it (it is no resource)."""
    kubectl("apply", "-n", namespace, "-k", str(CATALOG))
    proc = kubectl("apply", "-n", namespace, "-f", str(CATALOG), check=False)
    assert proc.returncode == 0, proc.stderr
    catalog = sorted(
        f"kubedirectorapp.{GROUP}/{load_docs(p)[0]['metadata']['name']}"
        for p in CATALOG.iterdir()
        if p.suffix in (".json", ".yaml")
    )
    assert names(kubectl, namespace, "kdapp") == catalog
    for name in ("spark221e2", "spark211up", "cassandra311"):
        assert f"kubedirectorapp.{GROUP}/{name}" in catalog


def test_examples_apply(kubectl: Kubectl, namespace: str) -> None:
    """The example clusters and global config are accepted next to the catalog."""
    kubectl("apply", "-n", namespace, "-k", str(CATALOG))
    proc = kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "clusters"), check=False)
    assert proc.returncode == 0, proc.stderr
    proc = kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "config"), check=False)
    assert proc.returncode == 0, proc.stderr
    clusters = sorted(
        f"kubedirectorcluster.{GROUP}/{load_docs(p)[0]['metadata']['name']}"
        for p in (EXAMPLES / "clusters").glob("*.yaml")
    )
    assert names(kubectl, namespace, "kdcluster") == clusters
