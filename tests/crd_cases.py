"""What the CRD tests share: where the upstream files are, how kubectl reads them,
and how a malformed document is made from a good one (unit and e2e tests alike)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPAT = REPO / "tests" / "compat" / "upstream-v0.11"
CATALOG = REPO / "manifests" / "catalog"
EXAMPLES = REPO / "manifests" / "examples"
GROUP = "kubedirector.hpe.com"

CASSANDRA = "example_catalog/cr-app-cassandra-3.11.json"
CASSANDRA_CLUSTER = "example_clusters/cr-cluster-cassandra311-stor.yaml"
CONFIG = "example_configs/cr-config-onprem.yaml"
QWEN2 = "example_catalog/cr-app-qwen2.yaml"


def load_docs(path: Path) -> list[dict[str, Any]]:
    """The documents of a file as kubectl reads them (JSON files may hold tabs)."""
    text = path.read_text()
    if path.suffix == ".json":
        return [json.loads(text)]
    return [d for d in yaml.safe_load_all(text) if d is not None]


def mutate(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted path (`[n]` indexes lists; missing objects are made),
    or delete it if `value` is `...`."""
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
    node: Any = doc
    for key in keys[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


# (id, source file, field, bad value or ... to delete it): the error must name that field.
MALFORMED: list[tuple[str, str, str, Any]] = [
    ("app-schema-version-string", CASSANDRA, "spec.configSchemaVersion", "7"),
    ("app-schema-version-too-old", CASSANDRA, "spec.configSchemaVersion", 6),
    ("app-no-label-name", CASSANDRA, "spec.label.name", ...),
    ("app-no-label", CASSANDRA, "spec.label", ...),
    ("app-no-distro", CASSANDRA, "spec.distroID", ...),
    ("app-no-version", CASSANDRA, "spec.version", ...),
    ("app-no-roles", CASSANDRA, "spec.roles", ...),
    ("app-no-config", CASSANDRA, "spec.config", ...),
    ("app-no-schema-version", CASSANDRA, "spec.configSchemaVersion", ...),
    ("app-no-selected-roles", CASSANDRA, "spec.config.selectedRoles", ...),
    ("app-role-no-cardinality", CASSANDRA, "spec.roles[1].cardinality", ...),
    ("app-cardinality-word", CASSANDRA, "spec.roles[0].cardinality", "two"),
    ("app-cardinality-double-plus", CASSANDRA, "spec.roles[1].cardinality", "0++"),
    ("app-cardinality-number", CASSANDRA, "spec.roles[0].cardinality", 2),
    ("app-role-id-too-long", CASSANDRA, "spec.roles[0].id", "r" * 64),
    ("app-role-id-space", CASSANDRA, "spec.roles[0].id", "my seed"),
    ("app-service-id-too-long", CASSANDRA, "spec.services[1].id", "cassandra-native"),
    ("app-service-id-upper-case", CASSANDRA, "spec.services[0].id", "SSH"),
    ("app-port-zero", CASSANDRA, "spec.services[0].endpoint.port", 0),
    ("app-port-too-big", CASSANDRA, "spec.services[1].endpoint.port", 65536),
    ("app-port-string", CASSANDRA, "spec.services[0].endpoint.port", "22"),
    ("app-endpoint-no-port", CASSANDRA, "spec.services[0].endpoint.port", ...),
    ("app-persist-dir-relative", CASSANDRA, "spec.defaultPersistDirs[2]", "data"),
    ("app-role-persist-dir-relative", QWEN2, "spec.roles[0].persistDirs[0]", "root/.x"),
    ("app-event-unknown", CASSANDRA, "spec.defaultEventList[1]", "restart"),
    ("app-systemd-string", CASSANDRA, "spec.systemdRequired", "yes"),
    ("app-unknown-field", CASSANDRA, "spec.replicas", 3),
    ("app-package-no-url", CASSANDRA, "spec.defaultConfigPackage.packageURL", ...),
    ("app-config-meta-not-string", CASSANDRA, "spec.config.configMeta.n", 3),
    ("app-min-resources-bad-quantity", QWEN2, "spec.roles[0].minResources.memory", "1 GB"),
    ("cluster-no-app", CASSANDRA_CLUSTER, "spec.app", ...),
    ("cluster-no-roles", CASSANDRA_CLUSTER, "spec.roles", ...),
    ("cluster-role-no-id", CASSANDRA_CLUSTER, "spec.roles[0].id", ...),
    ("cluster-role-no-resources", CASSANDRA_CLUSTER, "spec.roles[0].resources", ...),
    ("cluster-no-limits", CASSANDRA_CLUSTER, "spec.roles[0].resources.limits", ...),
    ("cluster-no-cpu-limit", CASSANDRA_CLUSTER, "spec.roles[0].resources.limits.cpu", ...),
    ("cluster-no-memory-limit", CASSANDRA_CLUSTER, "spec.roles[1].resources.limits.memory", ...),
    ("cluster-bad-memory", CASSANDRA_CLUSTER, "spec.roles[0].resources.limits.memory", "4 GB"),
    ("cluster-service-type", CASSANDRA_CLUSTER, "spec.serviceType", "External"),
    ("cluster-naming-scheme", CASSANDRA_CLUSTER, "spec.namingScheme", "Random"),
    ("cluster-app-catalog", CASSANDRA_CLUSTER, "spec.appCatalog", "global"),
    ("cluster-members-negative", CASSANDRA_CLUSTER, "spec.roles[0].members", -1),
    ("cluster-members-string", CASSANDRA_CLUSTER, "spec.roles[1].members", "two"),
    ("cluster-storage-no-size", CASSANDRA_CLUSTER, "spec.roles[0].storage.size", ...),
    ("cluster-pod-label-not-string", CASSANDRA_CLUSTER, "spec.roles[0].podLabels.t", 1),
    ("cluster-secrets-not-list", CASSANDRA_CLUSTER, "spec.connections.secrets", "s"),
    ("cluster-unknown-role-field", CASSANDRA_CLUSTER, "spec.roles[0].replicas", 2),
    ("cluster-empty-app", CASSANDRA_CLUSTER, "spec.app", ""),
    ("cluster-paused-string", CASSANDRA_CLUSTER, "spec.paused", "yes"),
    ("config-service-type", CONFIG, "spec.defaultServiceType", "Ingress"),
    ("config-naming-scheme", CONFIG, "spec.defaultNamingScheme", "uid"),
    ("config-systemd-string", CONFIG, "spec.nativeSystemdSupport", "true"),
    ("config-key-not-hex", CONFIG, "spec.masterEncryptionKey", "not-a-key"),
]
