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
