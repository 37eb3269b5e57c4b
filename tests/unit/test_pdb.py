"""The per-role PodDisruptionBudget builder (kubedirector/desired/pdb.py)."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster, ClusterRole, DisruptionBudget
from kubedirector.desired.labels import owner_reference
from kubedirector.desired.pdb import build_pdb, desired_pdbs, role_budget
from tests.unit.kd_fixtures import spark_app, spark_cluster

STATEFULSETS = {"controller": "ss-c", "worker": "ss-w", "jupyter": "ss-j"}


def pdbs(cluster_doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    app = App.from_dict(spark_app())
    cluster = Cluster.from_dict(cluster_doc, None, app)
    return {p["metadata"]["name"]: p for p in desired_pdbs(app, cluster, STATEFULSETS)}


def test_default_budget_only_for_roles_of_two_or_more():
    out = pdbs(spark_cluster())  # controller 1, worker 2, jupyter 1
    assert list(out) == ["ss-w"]
    pdb = out["ss-w"]
    assert pdb["apiVersion"] == "policy/v1" and pdb["kind"] == "PodDisruptionBudget"
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {
                "kubedirector.hpe.com/kdcluster": "spark221e2",
                "kubedirector.hpe.com/role": "worker",
            }
        },
    }
    assert pdb["metadata"]["namespace"] == "apps"
    assert pdb["metadata"]["labels"]["kubedirector.hpe.com/role"] == "worker"
    assert pdb["metadata"]["labels"]["kubedirector.hpe.com/kdcluster"] == "spark221e2"


def test_budget_is_owned_by_the_cluster():
    app = App.from_dict(spark_app())
    cluster = Cluster.from_dict(spark_cluster(), None, app)
    pdb = build_pdb(app, cluster, "worker", "ss-w", DisruptionBudget())
    assert pdb["metadata"]["ownerReferences"] == [owner_reference(cluster)]


def test_configured_value_and_single_member_on_request():
    doc = spark_cluster()
    doc["spec"]["roles"][0]["disruptionBudget"] = {}  # asked for: one member still gets one
    doc["spec"]["roles"][1]["disruptionBudget"] = {"maxUnavailable": "50%"}
    out = pdbs(doc)
    assert sorted(out) == ["ss-c", "ss-w"]
    assert out["ss-c"]["spec"]["maxUnavailable"] == 1
    assert out["ss-w"]["spec"]["maxUnavailable"] == "50%"


def test_disabled_or_empty_role_has_no_budget():
    doc = spark_cluster()
    doc["spec"]["roles"][1]["disruptionBudget"] = {"enabled": False, "maxUnavailable": 2}
    doc["spec"]["roles"][0]["disruptionBudget"] = {"maxUnavailable": 1}
    doc["spec"]["roles"][0]["members"] = 0
    assert pdbs(doc) == {}


def test_role_without_a_statefulset_name_yet_is_skipped():
    app = App.from_dict(spark_app())
    cluster = Cluster.from_dict(spark_cluster(), None, app)
    assert desired_pdbs(app, cluster, {"controller": "ss-c"}) == []


@given(
    members=st.integers(min_value=0, max_value=1000),
    budget=st.none()
    | st.builds(
        DisruptionBudget,
        enabled=st.booleans(),
        max_unavailable=st.integers(min_value=0, max_value=9),
    ),
)
def test_role_budget_rules(members, budget):
    role = ClusterRole(id="r", members=members, disruption_budget=budget)
    got = role_budget(role)
    if members == 0 or (budget is not None and not budget.enabled):
        assert got is None
    elif budget is None:
        assert got == (DisruptionBudget() if members > 1 else None)
    else:
        assert got == budget


@pytest.mark.parametrize("raw", [None, {"maxUnavailable": None}])
def test_unset_max_unavailable_reads_as_one(raw):
    doc = spark_cluster()
    doc["spec"]["roles"][1]["disruptionBudget"] = raw
    assert pdbs(doc)["ss-w"]["spec"]["maxUnavailable"] == 1
