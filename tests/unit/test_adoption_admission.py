"""An adopted cluster stays editable: this operator's admission accepts scaling the
clusters the original operator stored (its webhook's mutated form, with its status)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from kubedirector.webhook.admission import review
from tests.unit.static_view import StaticView
from tests.unit.test_admission import request

UPSTREAM = Path(__file__).resolve().parents[1] / "compat" / "upstream-made"


def _load(case: str, kind: str) -> dict:
    return dict(yaml.safe_load((UPSTREAM / case / f"{kind}.yaml").read_text()))


@pytest.mark.parametrize("case", ["A", "A-scaled", "B", "C", "D-probe"])
def test_scaling_a_cluster_the_original_stored_is_allowed(case: str):
    stored = _load(case, "kubedirectorcluster")
    app = _load(case, "kubedirectorapp")
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "local-path"},
        "provisioner": "kubedirector.local/simulated",
    }
    view = StaticView(
        operator_namespace=app["metadata"]["namespace"], apps=[app], classes=[storage_class]
    )
    scaled = copy.deepcopy(stored)
    scaled["spec"]["roles"][-1]["members"] += 1
    namespace = stored["metadata"]["namespace"]
    for mode in ("mutate", "validate"):
        body = request("kdcluster", "UPDATE", scaled, stored, namespace=namespace)
        resp = review(body, view, mode)["response"]
        assert resp["allowed"] is True, resp.get("status")
