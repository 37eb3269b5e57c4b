"""One PodDisruptionBudget per role, so a node drain takes a role's members one at a time.

A role without `disruptionBudget` gets `maxUnavailable: 1` once it has two or more
members; a single member gets none (a budget would block every drain of its node).
Setting the field asks for a budget whatever the size; `enabled: false` for none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster, ClusterRole, DisruptionBudget
from kubedirector.desired.labels import metadata, role_labels, role_selector

DEFAULT_BUDGET = DisruptionBudget()


def role_budget(role: ClusterRole) -> DisruptionBudget | None:
    """The budget the role should have, or None for no PodDisruptionBudget."""
    members = role.members or 0
    budget = role.disruption_budget
    if budget is None:
        return DEFAULT_BUDGET if members > 1 else None
    return budget if budget.enabled and members > 0 else None


def build_pdb(
    app: App, cluster: Cluster, role_id: str, name: str, budget: DisruptionBudget
) -> dict[str, Any]:
    """The role's budget; it selects the same pods as the role's StatefulSet."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(cluster, name, role_labels(cluster, app, role_id)),
        "spec": {
            "maxUnavailable": budget.max_unavailable,
            "selector": {"matchLabels": role_selector(cluster, role_id)},
        },
    }


def desired_pdbs(
    app: App, cluster: Cluster, statefulsets: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Every budget the cluster should have. `statefulsets` maps a role id to its
    StatefulSet's name, which the role's budget shares (unique, and stable for the
    role's life).
    """
    out = []
    for role in cluster.roles:
        budget = role_budget(role)
        name = statefulsets.get(role.id)
        if budget is not None and name:
            out.append(build_pdb(app, cluster, role.id, name, budget))
    return out
