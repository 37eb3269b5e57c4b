"""Documents the unit tests share (the upstream compat corpus and spark221e2), and the
narrowing helper for the optional values the parsed types hold."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, TypeVar

import yaml

COMPAT = Path(__file__).resolve().parents[1] / "compat" / "upstream-v0.11"
BROKEN_YAML = {"cr-cluster-datafabric610.yaml"}

T = TypeVar("T")


def present(value: T | None) -> T:
    """`value`, which the test expects to be set (a role the app has, a parsed optional
    field): a missing one fails the test right here instead of as an AttributeError later."""
    assert value is not None
    return value


def load_docs(path: Path) -> list[dict[str, Any]]:
    """The KubeDirector documents in a compat file (other kinds skipped)."""
    text = path.read_text()
    docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    return [d for d in docs if d and d.get("apiVersion", "").startswith("kubedirector.hpe.com/")]


def compat_files(kind: str) -> list[Path]:
    return sorted((COMPAT / kind).iterdir())


def compat_apps() -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for path in compat_files("example_catalog")
        for d in load_docs(path)
    }


SPARK_APP: dict[str, Any] = {
    "apiVersion": "kubedirector.hpe.com/v1beta1",
    "kind": "KubeDirectorApp",
    "metadata": {"name": "spark221e2", "namespace": "apps"},
    "spec": {
        "label": {"name": "Spark 2.2.1 with Jupyter"},
        "distroID": "bluedata/spark221e2",
        "version": "2.0",
        "configSchemaVersion": 7,
        "systemdRequired": True,
        "defaultImageRepoTag": "docker.io/bluedata/sparkbase:2.0",
        "defaultConfigPackage": {
            "packageURL": "file:///opt/configscripts/appconfig.tgz",
            "useNewSetupLayout": True,
        },
        "capabilities": ["SYS_RESOURCE"],
        "services": [
            {"id": "ssh", "label": {"name": "SSH"}, "endpoint": {"port": 22}},
            {
                "id": "spark",
                "label": {"name": "Spark master UI"},
                "endpoint": {"port": 8080, "urlScheme": "http", "isDashboard": True},
            },
            {
                "id": "spark-master",
                "label": {"name": "Spark master"},
                "endpoint": {"port": 7077, "urlScheme": "spark"},
            },
            {
                "id": "spark-worker",
                "label": {"name": "Spark worker UI"},
                "endpoint": {"port": 8081, "urlScheme": "http", "isDashboard": True},
            },
            {
                "id": "jupyter",
                "label": {"name": "Jupyter"},
                "endpoint": {"port": 8888, "urlScheme": "http", "isDashboard": True},
            },
        ],
        "roles": [
            {"id": "controller", "cardinality": "1"},
            {"id": "worker", "cardinality": "0+"},
            {
                "id": "jupyter",
                "cardinality": "0+",
                "imageRepoTag": "docker.io/bluedata/jupyter:2.0",
            },
        ],
        "config": {
            "selectedRoles": ["controller", "worker", "jupyter"],
            "roleServices": [
                {
                    "roleID": "controller",
                    "serviceIDs": ["ssh", "spark", "spark-master", "spark-worker"],
                },
                {"roleID": "worker", "serviceIDs": ["ssh", "spark-worker"]},
                {"roleID": "jupyter", "serviceIDs": ["ssh", "jupyter"]},
            ],
        },
    },
}


def _resources() -> dict[str, Any]:
    return {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }


SPARK_CLUSTER: dict[str, Any] = {
    "apiVersion": "kubedirector.hpe.com/v1beta1",
    "kind": "KubeDirectorCluster",
    "metadata": {"name": "spark221e2", "namespace": "apps", "uid": "uid-1", "generation": 1},
    "spec": {
        "app": "spark221e2",
        "roles": [
            {"id": "controller", "members": 1, "resources": _resources()},
            {"id": "worker", "members": 2, "resources": _resources()},
            {"id": "jupyter", "members": 1, "resources": _resources()},
        ],
    },
}


def spark_app() -> dict[str, Any]:
    return copy.deepcopy(SPARK_APP)


def spark_cluster() -> dict[str, Any]:
    return copy.deepcopy(SPARK_CLUSTER)
