"""Adopting or choosing the names of a cluster's headless Service and StatefulSets.

A name recorded in status is kept forever.  Otherwise an object this cluster
made (its name may not have reached status before a crash) is adopted, else a
new random name is chosen and remembered as an expectation until status holds it.
Nothing is written here: the owned objects are created with everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from kubedirector.api.constants import LABEL_ROLE
from kubedirector.desired import naming
from kubedirector.reconcilers.cluster.expectations import HEADLESS_SLOT, Expectations
from kubedirector.reconcilers.cluster.observe import Observation

RandomSource = Callable[[int], str]


class Names:
    """Picks names once per cluster incarnation; safe for concurrent workers."""

    def __init__(self, expectations: Expectations, rand: RandomSource) -> None:
        self.expectations = expectations
        self.rand = rand

    def headless(self, seen: Observation) -> str:
        assert seen.cluster is not None
        if seen.status.cluster_service:
            return seen.status.cluster_service
        for svc in seen.derived.services.values():
            if (
                seen.owned_by_cluster(svc)
                and svc["spec"].get("clusterIP") == "None"
                and LABEL_ROLE not in (svc["metadata"].get("labels") or {})
            ):
                return str(svc["metadata"]["name"])
        scheme = seen.cluster.naming_scheme
        return self.expectations.name_for(
            seen.key,
            seen.uid,
            HEADLESS_SLOT,
            lambda: naming.headless_service_name(scheme, seen.name, self.rand),
        )

    def statefulsets(self, seen: Observation) -> dict[str, str]:
        """The StatefulSet name of every role in the spec."""
        assert seen.cluster is not None
        recorded = {r.id: r.stateful_set for r in seen.status.roles}
        adopted = {
            str((s["metadata"].get("labels") or {}).get(LABEL_ROLE)): str(s["metadata"]["name"])
            for s in seen.derived.statefulsets.values()
            if seen.owned_by_cluster(s)
        }
        scheme = seen.cluster.naming_scheme
        return {
            role.id: recorded.get(role.id)
            or adopted.get(role.id)
            or self.expectations.name_for(
                seen.key,
                seen.uid,
                role.id,
                partial(naming.statefulset_name, scheme, seen.name, role.id, self.rand),
            )
            for role in seen.cluster.roles
        }
