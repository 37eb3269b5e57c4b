"""Offline checks of the CRDs in manifests/crds, the example catalog and the examples.

The API server validates every KubeDirector object against these schemas: a
mistake refuses a user's valid upstream file or lets a malformed one reach the
operator. Each openAPIV3Schema is converted to JSON Schema the way the API
server reads it (`nullable`, int-or-string, unknown fields refused as kubectl's
default `--validate=strict` does) and checked with `jsonschema`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.crd_cases import (
    CASSANDRA,
    CASSANDRA_CLUSTER,
    CATALOG,
    COMPAT,
    CONFIG,
    EXAMPLES,
    GROUP,
    MALFORMED,
    REPO,
    load_docs,
    mutate,
)

CRDS = REPO / "manifests" / "crds"

KINDS = {
    "KubeDirectorApp": ("kubedirectorapps", "kdapp", False),
    "KubeDirectorCluster": ("kubedirectorclusters", "kdcluster", True),
    "KubeDirectorConfig": ("kubedirectorconfigs", "kdconfig", True),
    "KubeDirectorStatusBackup": ("kubedirectorstatusbackups", "kdstatusbackup", False),
}
# Upstream files that are not schema-valid KubeDirector objects (EXPECTATIONS.md).
UNPARSABLE = {"example_clusters/cr-cluster-datafabric610.yaml"}
NOT_OURS = {"example_configs/eks-gp2-for-kd.yaml"}


def load_crd(kind: str) -> dict[str, Any]:
    plural = KINDS[kind][0]
    return yaml.safe_load((CRDS / f"{plural}.yaml").read_text())


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """Translate one OpenAPI v3 (Kubernetes dialect) schema node to JSON Schema."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [to_json_schema(v) for v in value]
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "format"):
            continue
        elif key == "pattern":
            # Go's `$` ends the text; Python's also matches before a final newline.
            out[key] = re.sub(r"(?<!\\)\$", r"\\Z", value)
        else:
            out[key] = value
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = load_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return jsonschema.Draft202012Validator(to_json_schema(schema))


VALIDATORS = {kind: _validator(kind) for kind in KINDS}


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _child(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def field_errors(doc: dict[str, Any]) -> set[str]:
    """The fields the API server would name, e.g. `spec.roles[0].cardinality`."""
    fields: set[str] = set()
    for err in VALIDATORS[doc["kind"]].iter_errors(doc):
        base = _path(err.absolute_path)
        if err.validator == "required":
            fields |= {_child(base, r) for r in err.validator_value if r not in err.instance}
        elif err.validator == "additionalProperties":
            known = set(err.schema.get("properties", {}))
            fields |= {_child(base, k) for k in err.instance if k not in known}
        else:
            fields.add(base)
    return fields


def compat_files(folder: str) -> list[str]:
    return sorted(f"{folder}/{p.name}" for p in (COMPAT / folder).iterdir())


# --- every upstream file gets its EXPECTATIONS.md schema outcome --------------------------------


@pytest.mark.parametrize(
    "name",
    [
        f
        for d in ("example_catalog", "example_clusters", "example_configs")
        for f in compat_files(d)
        if f not in UNPARSABLE | NOT_OURS
    ],
)
def test_upstream_file_is_schema_valid(name: str) -> None:
    """Every upstream app, cluster and config must be accepted unchanged (api.md section 1)."""
    docs = load_docs(COMPAT / name)
    assert docs
    for doc in docs:
        assert doc["kind"] in KINDS
        assert doc["apiVersion"] == f"{GROUP}/v1beta1"
        assert field_errors(doc) == set(), name


def test_upstream_training_engine_cluster_passes_the_schema() -> None:
    """Its unknown role `controller` is for admission to refuse, with the role named."""
    (doc,) = load_docs(COMPAT / "example_clusters/cr-cluster-training-engine.yaml")
    assert "controller" in [r["id"] for r in doc["spec"]["roles"]]
    assert field_errors(doc) == set()


def test_upstream_datafabric_cluster_is_not_yaml() -> None:
    """The mis-indented `members:` under role oozie makes the file unparsable."""
    with pytest.raises(yaml.YAMLError):
        load_docs(COMPAT / "example_clusters/cr-cluster-datafabric610.yaml")


def test_eks_file_is_a_storage_class_plus_a_valid_config() -> None:
    """The EKS StorageClass is not ours; the config in the same file still fits the schema."""
    docs = load_docs(COMPAT / "example_configs/eks-gp2-for-kd.yaml")
    assert [d["kind"] for d in docs] == ["StorageClass", "KubeDirectorConfig"]
    assert field_errors(docs[1]) == set()


def test_upstream_null_values_are_accepted() -> None:
    """Upstream has `defaultConfigPackage: null` (gitlab) and an empty `secrets:` (mlflow)."""
    (gitlab,) = load_docs(COMPAT / "example_catalog/cr-app-gitlab-ee.json")
    assert gitlab["spec"]["defaultConfigPackage"] is None
    (mlflow,) = load_docs(COMPAT / "example_clusters/cr-cluster-mlflow.yaml")
    assert mlflow["spec"]["connections"]["secrets"] is None
    assert field_errors(gitlab) == field_errors(mlflow) == set()


# --- malformed documents are refused, naming the field ------------------------------------------


def _compat(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_docs(COMPAT / name)[0])


@pytest.mark.parametrize(
    ("source", "field", "value"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_document_is_refused_naming_the_field(
    source: str, field: str, value: Any
) -> None:
    """One wrong field gives an error that names exactly that field."""
    doc = _compat(source)
    assert field_errors(doc) == set()
    mutate(doc, field, value)
    assert field_errors(doc) == {field}


@settings(max_examples=60, deadline=None)
@given(port=st.integers(min_value=-(2**40), max_value=2**40))
def test_port_range(port: int) -> None:
    """Ports outside 1-65535 are refused, all others accepted."""
    doc = _compat(CASSANDRA)
    doc["spec"]["services"][0]["endpoint"]["port"] = port
    assert (field_errors(doc) == set()) == (1 <= port <= 65535)


@settings(max_examples=80, deadline=None)
@given(card=st.one_of(st.from_regex(r"\A[0-9]{1,4}\+?\Z"), st.text(max_size=6)))
@example(card="1\n")
@example(card="\u0663")
@example(card="+")
@example(card="")
def test_cardinality_syntax(card: str) -> None:
    """Cardinality is `N` or `N+` with N a decimal number; anything else is refused."""
    doc = _compat(CASSANDRA)
    doc["spec"]["roles"][0]["cardinality"] = card
    expected = re.fullmatch(r"[0-9]+\+?", card) is not None
    assert (field_errors(doc) == set()) == expected


@settings(max_examples=60, deadline=None)
@given(members=st.integers(min_value=-1000, max_value=1000))
def test_members_minimum(members: int) -> None:
    """`members` may be 0 (a role scaled to nothing) but never negative."""
    doc = _compat(CASSANDRA_CLUSTER)
    doc["spec"]["roles"][1]["members"] = members
    assert (field_errors(doc) == set()) == (members >= 0)


@pytest.mark.parametrize("role_id", ["RESTServer", "vanilla_centos", "a.b", "x" * 63, "0"])
def test_upstream_style_role_ids_are_valid(role_id: str) -> None:
    """Upper case, `_` and `.` occur in upstream role ids (api.md section 3)."""
    doc = _compat(CASSANDRA_CLUSTER)
    doc["spec"]["roles"][0]["id"] = role_id
    assert field_errors(doc) == set()


@pytest.mark.parametrize("quantity", [2, "500m", "1.5", "4Gi", "1e3", "+1"])
def test_quantities_may_be_numbers_or_strings(quantity: int | str) -> None:
    """Resource quantities are int-or-string, like core/v1 ResourceRequirements."""
    doc = _compat(CASSANDRA_CLUSTER)
    doc["spec"]["roles"][0]["resources"]["limits"]["cpu"] = quantity
    doc["spec"]["roles"][0]["resources"]["requests"]["cpu"] = quantity
    assert field_errors(doc) == set()


def test_free_form_kubernetes_types_are_kept() -> None:
    """affinity and env entries are core/v1 types: every field of theirs is accepted."""
    doc = _compat(CASSANDRA_CLUSTER)
    role = doc["spec"]["roles"][0]
    role["affinity"] = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}
            ]
        }
    }
    role["env"] = [
        {"name": "A", "value": "1"},
        {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    assert field_errors(doc) == set()
    role["env"].append({"value": "no name"})
    assert field_errors(doc) == {"spec.roles[0].env[2].name"}


def test_full_cluster_spec_is_valid() -> None:
    """Every documented cluster field (api.md section 1) has a place in the schema."""
    doc = _compat(CASSANDRA_CLUSTER)
    doc["spec"] |= {
        "appCatalog": "system",
        "serviceType": "NodePort",
        "namingScheme": "UID",
        "defaultSecret": {
            "name": "s",
            "mountPath": "/etc/s",
            "defaultMode": 0o644,
            "readOnly": True,
        },
        "connections": {"clusters": ["c"], "configmaps": ["m"], "secrets": ["s"]},
    }
    doc["spec"]["roles"][0] |= {
        "blockStorage": {
            "storageClassName": "local-path",
            "pathPrefix": "/dev/kd",
            "numDevices": 2,
            "size": "10Gi",
        },
        "podLabels": {"a": "b"},
        "podAnnotations": {"a": "b"},
        "serviceLabels": {"a": "b"},
        "serviceAnnotations": {"a": "b"},
        "secret": {"name": "s", "mountPath": "/s"},
        "serviceAccountName": "sa",
        "fileInjections": [
            {
                "srcURL": "https://example.com/f",
                "destDir": "/opt",
                "permissions": {"fileMode": 0o755, "fileOwner": "root", "fileGroup": "root"},
            }
        ],
        "secretKeys": [{"name": "k", "value": "v"}, {"name": "e", "encryptedValue": "00ff"}],
        "volumeProjections": [{"pvcName": "p", "mountPath": "/p", "readOnly": True}],
        "sharedMemory": "64Mi",
    }
    assert field_errors(doc) == set()


def test_full_app_spec_is_valid() -> None:
    """Every documented app field, including `reconnect` events, has a place in the schema."""
    doc = _compat(CASSANDRA)
    doc["spec"] |= {
        "defaultMaxLogSizeDump": 512,
        "defaultEventList": ["configure", "addnodes", "delnodes", "reconnect"],
    }
    doc["spec"]["services"][1] |= {"exported_service": "cql"}
    doc["spec"]["services"][1]["endpoint"] |= {"path": "/", "hasAuthToken": True}
    doc["spec"]["roles"][0] |= {
        "imageRepoTag": "img:1",
        "configPackage": None,
        "persistDirs": ["/x"],
        "eventList": ["reconnect"],
        "minResources": {"cpu": 1, "memory": "1Gi"},
        "minStorage": {"size": "1Gi", "ephemeralModeSupported": True},
        "containerSpec": {"stdin": True, "tty": True},
        "maxLogSizeDump": 256,
        "livenessCheck": {
            "exec": {"command": ["/bin/healthy"]},
            "initialDelaySeconds": 0,
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "failureThreshold": 3,
        },
    }
    assert field_errors(doc) == set()


def test_full_config_spec_is_valid() -> None:
    doc = _compat(CONFIG)
    doc["spec"] |= {
        "defaultStorageClassName": "local-path",
        "defaultNamingScheme": "UID",
        "requiredSecretPrefix": "hpecp-",
        "masterEncryptionKey": "0f" * 32,
        "podLabels": {"a": "b"},
        "podAnnotations": {"a": "b"},
        "serviceLabels": {"a": "b"},
        "serviceAnnotations": {"a": "b"},
        "backupClusterStatus": True,
        "allowRestoreWithoutConnections": False,
        "forceSharedMemorySizeSupport": True,
    }
    assert field_errors(doc) == set()


def test_cluster_status_shape() -> None:
    """A status as the operator writes it fits; a wrongly typed rollup does not."""
    doc = _compat(CASSANDRA_CLUSTER)
    doc["status"] = {
        "state": "configured",
        "observedGeneration": 3,
        "memberSummary": "3/4",
        "clusterService": "kdhs-abc",
        "lastNodeID": 4,
        "specGenerationToProcess": None,
        "lastConnectionHash": "h",
        "generationUID": "u",
        "memberStateRollup": {
            "membershipChanging": False,
            "membersDown": True,
            "membersInitializing": False,
            "membersWaiting": False,
            "membersRestarting": False,
            "configErrors": False,
            "membersNotScheduled": False,
        },
        "roles": [
            {
                "id": "seed",
                "statefulSet": "cassandra-seed-x",
                "members": [
                    {
                        "pod": "cassandra-seed-x-0",
                        "service": "cassandra-seed-x-0",
                        "pvc": "p-x-0",
                        "nodeID": 1,
                        "authToken": "t",
                        "blockDevicePaths": [],
                        "state": "config error",
                        "stateDetail": {
                            "configErrorDetail": "exit 1",
                            "lastConfigDataGeneration": 2,
                            "lastSetupGeneration": 2,
                            "configuringContainer": "c",
                            "lastConfiguredContainer": "c",
                            "lastKnownContainerState": "running",
                            "pendingNotifyCmds": [{"arguments": ["--addnodes"]}],
                            "lastConnectionVersion": 1,
                            "startScriptStdoutMessage": "",
                            "startScriptStderrMessage": "",
                            "schedulingErrorMessage": "",
                            "storageInitProgress": "50%",
                        },
                    }
                ],
            }
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "observedGeneration": 3,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "reason": "ConfigError",
                "message": "member cassandra-seed-x-0 is in config error",
            }
        ],
    }
    assert field_errors(doc) == set()
    doc["status"]["memberStateRollup"]["membersDown"] = "yes"
    doc["status"]["conditions"][0]["status"] = "Maybe"
    assert field_errors(doc) == {
        "status.memberStateRollup.membersDown",
        "status.conditions[0].status",
    }


# --- the CRDs themselves -------------------------------------------------------------------------


ALLOWED_SCHEMA_KEYS = {
    "type",
    "description",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "format",
    "nullable",
    "anyOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}
# The only places whose content is free-form: core/v1 types and operator-written status.
PRESERVE_UNKNOWN = {
    "KubeDirectorCluster": {
        "spec.roles[].env[]",
        "spec.roles[].affinity",
        "status",
        "status.roles[]",
        "status.roles[].members[]",
        "status.roles[].members[].stateDetail",
    },
    "KubeDirectorConfig": {"status"},
    "KubeDirectorStatusBackup": {"spec.statusBackup"},
    "KubeDirectorApp": set(),
}


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, _child(path, name))
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], path + "[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], path + "{}")


def openapi_schema(kind: str) -> dict[str, Any]:
    return load_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_is_structural(kind: str) -> None:
    """The rules the API server applies to a v1 CRD schema, checked before it refuses the CRD."""
    preserved = set()
    for path, node in walk(openapi_schema(kind)):
        where = f"{kind} {path or '<root>'}"
        assert set(node) <= ALLOWED_SCHEMA_KEYS, where
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, where
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], where
        else:
            assert node.get("type") in {"object", "array", "string", "integer", "boolean"}, where
            assert "anyOf" not in node, where
        assert not ("properties" in node and "additionalProperties" in node), where
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), where
        if node.get("type") == "object" and "properties" in node:
            assert set(node.get("required", [])) <= set(node["properties"]), where
        if node.get("x-kubernetes-list-type") == "map":
            keys = node["x-kubernetes-list-map-keys"]
            assert set(keys) <= set(node["items"].get("required", [])), where
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert node.get("type") == "object", where
            preserved.add(path)
        if "pattern" in node:
            re.compile(node["pattern"])
    assert preserved == PRESERVE_UNKNOWN[kind]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_crd_names_and_version(kind: str) -> None:
    """Group, version, names, scope and subresources as api.md section 1 lists them."""
    plural, short, has_status = KINDS[kind]
    crd = load_crd(kind)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.{GROUP}"
    spec = crd["spec"]
    assert spec["group"] == GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": plural[:-1],
        "shortNames": [short],
        "categories": ["kubedirector"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1beta1", True, True)
    assert ("status" in version.get("subresources", {})) == has_status
    assert ("status" in openapi_schema(kind)["properties"]) == has_status


def _column_node(kind: str, json_path: str) -> dict[str, Any]:
    node = openapi_schema(kind)
    # A filter (`conditions[?(@.type=="Ready")]`) selects items of a list.
    for name in re.sub(r"\[\?\(.*?\)\]", "", json_path).lstrip(".").split("."):
        if node.get("type") == "array":
            node = node["items"]
        if (
            name == "creationTimestamp"
            and node.get("type") == "object"
            and not node.get("properties")
        ):
            return {"type": "string", "format": "date-time"}
        node = node["properties"][name]
    return node


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        (
            "KubeDirectorApp",
            [
                ("Label", ".spec.label.name"),
                ("Distro", ".spec.distroID"),
                ("Version", ".spec.version"),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
        (
            "KubeDirectorCluster",
            [
                ("App", ".spec.app"),
                ("State", ".status.state"),
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Paused", ".spec.paused"),
                ("Members", ".status.memberSummary"),
                ("Down", ".status.memberStateRollup.membersDown"),
                ("Config-Errors", ".status.memberStateRollup.configErrors"),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
    ],
)
def test_printer_columns(kind: str, columns: list[tuple[str, str]]) -> None:
    """Columns name existing fields, with the field's type (a typo shows an empty column)."""
    got = load_crd(kind)["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [(c["name"], c["jsonPath"]) for c in got] == columns
    for col in got:
        node = _column_node(kind, col["jsonPath"])
        expected = "date" if node.get("format") == "date-time" else node["type"]
        assert col["type"] == expected, col


def test_crd_kustomization_lists_every_crd() -> None:
    """`Kustomization`, not kustomization.yaml: `kubectl apply -f manifests/crds` must work too."""
    assert not (CRDS / "kustomization.yaml").exists()
    listed = yaml.safe_load((CRDS / "Kustomization").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in CRDS.glob("*.yaml"))
    assert sorted(listed) == sorted(f"{v[0]}.yaml" for v in KINDS.values())


# --- the example catalog and example clusters ----------------------------------------------------


def catalog_files() -> list[Path]:
    return sorted(p for p in CATALOG.iterdir() if p.suffix in (".json", ".yaml"))


def example_cluster_files() -> list[Path]:
    return sorted((EXAMPLES / "clusters").glob("*.yaml"))


def catalog_apps() -> dict[str, dict[str, Any]]:
    apps = {}
    for path in catalog_files():
        (doc,) = load_docs(path)
        assert doc["metadata"]["name"] not in apps, path
        apps[doc["metadata"]["name"]] = doc
    return apps


@pytest.mark.parametrize(
    "path",
    catalog_files() + example_cluster_files() + [EXAMPLES / "config" / "kd-global-config.yaml"],
    ids=lambda p: p.name,
)
def test_shipped_manifest_is_schema_valid(path: Path) -> None:
    docs = load_docs(path)
    assert len(docs) == 1
    assert field_errors(docs[0]) == set()


def test_catalog_kustomization_lists_every_app() -> None:
    listed = yaml.safe_load((CATALOG / "Kustomization").read_text())["resources"]
    assert sorted(listed) == [p.name for p in catalog_files()]


def test_catalog_holds_every_upstream_app_unchanged() -> None:
    """The upstream apps ship as they are; cassandra311.json is upstream's cassandra-3.11."""
    apps = catalog_apps()
    for name in compat_files("example_catalog"):
        (upstream,) = load_docs(COMPAT / name)
        assert apps[upstream["metadata"]["name"]] == upstream, name
    assert (CATALOG / "cassandra311.json").read_bytes() == (COMPAT / CASSANDRA).read_bytes()
    assert {"spark221e2", "spark211up", "cassandra311"} <= set(apps)


def _roles(app: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["cardinality"] for r in app["spec"]["roles"]}


def _endpoints(app: dict[str, Any]) -> dict[str, tuple[int, str | None, bool]]:
    return {
        s["id"]: (
            s["endpoint"]["port"],
            s["endpoint"].get("urlScheme"),
            s["endpoint"].get("isDashboard", False),
        )
        for s in app["spec"]["services"]
    }


def _role_services(app: dict[str, Any]) -> dict[str, list[str]]:
    return {rs["roleID"]: rs["serviceIDs"] for rs in app["spec"]["config"]["roleServices"]}


SPARK_SERVICES = {
    "ssh": (22, None, False),
    "spark": (8080, "http", True),
    "spark-master": (7077, "spark", False),
    "spark-worker": (8081, "http", True),
}


def test_spark221e2_is_as_acceptance_a2_says() -> None:
    app = catalog_apps()["spark221e2"]
    spec = app["spec"]
    assert _roles(app) == {"controller": "1", "worker": "0+", "jupyter": "0+"}
    jupyter = next(r for r in spec["roles"] if r["id"] == "jupyter")
    assert jupyter["imageRepoTag"] != spec["defaultImageRepoTag"]
    assert _endpoints(app) == SPARK_SERVICES | {"jupyter-nb": (8888, "http", True)}
    assert _role_services(app) == {
        "controller": ["ssh", "spark", "spark-master", "spark-worker"],
        "worker": ["ssh", "spark-worker"],
        "jupyter": ["ssh", "jupyter-nb"],
    }
    assert spec["systemdRequired"] is True
    assert spec["configSchemaVersion"] == 7
    assert re.fullmatch(r"file:///.+\.tgz", spec["defaultConfigPackage"]["packageURL"])


def test_spark211up_is_as_acceptance_a2_says() -> None:
    app = catalog_apps()["spark211up"]
    spec = app["spec"]
    assert _roles(app) == {"controller": "1", "worker": "0+"}
    assert _endpoints(app) == SPARK_SERVICES
    assert _role_services(app) == {
        "controller": ["ssh", "spark", "spark-master", "spark-worker"],
        "worker": ["ssh", "spark-worker"],
    }
    assert re.fullmatch(r"file:///.+\.tgz", spec["defaultConfigPackage"]["packageURL"])


def test_cassandra311_is_as_acceptance_a2_says() -> None:
    app = catalog_apps()["cassandra311"]
    assert _roles(app) == {"seed": "2+", "worker": "0+"}
    assert {p for p, _, _ in _endpoints(app).values()} == {22, 9042}


@pytest.mark.parametrize("name", sorted(catalog_apps()))
def test_catalog_app_is_self_consistent(name: str) -> None:
    """What admission checks across fields: role and service ids that resolve, an image per role."""
    spec = catalog_apps()[name]["spec"]
    roles = [r["id"] for r in spec["roles"]]
    services = [s["id"] for s in spec.get("services", [])]
    assert len(set(roles)) == len(roles)
    assert len(set(services)) == len(services)
    assert set(spec["config"]["selectedRoles"]) <= set(roles)
    for rs in spec["config"]["roleServices"]:
        assert rs["roleID"] in roles
        assert set(rs["serviceIDs"]) <= set(services)
    for role in spec["roles"]:
        assert role.get("imageRepoTag") or spec.get("defaultImageRepoTag"), role["id"]


def _cardinality_allows(cardinality: str, members: int) -> bool:
    n = int(cardinality.rstrip("+"))
    return members >= n if cardinality.endswith("+") else members == n


def test_one_example_cluster_per_catalog_app() -> None:
    apps = [load_docs(p)[0]["spec"]["app"] for p in example_cluster_files()]
    assert sorted(apps) == sorted(catalog_apps())


@pytest.mark.parametrize("path", example_cluster_files(), ids=lambda p: p.name)
def test_example_cluster_fits_its_app(path: Path) -> None:
    """Known roles, members within the cardinality, every required role present."""
    (cluster,) = load_docs(path)
    app = catalog_apps()[cluster["spec"]["app"]]
    cardinality = _roles(app)
    ids = [r["id"] for r in cluster["spec"]["roles"]]
    assert len(set(ids)) == len(ids)
    for role in cluster["spec"]["roles"]:
        card = cardinality[role["id"]]
        assert _cardinality_allows(card, role.get("members", int(card.rstrip("+")))), role["id"]
    for rid, card in cardinality.items():
        if rid in app["spec"]["config"]["selectedRoles"] and int(card.rstrip("+")) > 0:
            assert rid in ids, rid


def test_spark221e2_example_cluster() -> None:
    """The walkthrough's cluster: controller 1, worker 2, jupyter 1, each 2 CPU / 4Gi."""
    (doc,) = load_docs(EXAMPLES / "clusters" / "cr-cluster-spark221e2.yaml")
    assert doc["metadata"]["name"] == "spark221e2"
    assert doc["spec"]["app"] == "spark221e2"
    size = {"cpu": "2", "memory": "4Gi"}
    assert [(r["id"], r["members"], r["resources"]) for r in doc["spec"]["roles"]] == [
        (rid, n, {"requests": size, "limits": size})
        for rid, n in (("controller", 1), ("worker", 2), ("jupyter", 1))
    ]


def test_example_global_config() -> None:
    (doc,) = load_docs(EXAMPLES / "config" / "kd-global-config.yaml")
    assert doc["kind"] == "KubeDirectorConfig"
    assert doc["metadata"]["name"] == "kd-global-config"
    assert doc["spec"] == {
        "defaultServiceType": "NodePort",
        "defaultNamingScheme": "CrNameRole",
        "defaultStorageClassName": "local-path",
    }
