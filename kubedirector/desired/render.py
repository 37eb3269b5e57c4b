"""Everything a new cluster gets, from the same builders the reconciler uses.

For `kubedirector render`: the headless Service, then per role its StatefulSet,
its PodDisruptionBudget, each member's Service and the claims the StatefulSet
controller makes from its templates. The random part of each name comes from
`rand` (the operator draws it at creation), and the owner's UID is whatever the
cluster document carries (none before it is created).
"""

from __future__ import annotations

import random
from typing import Any

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import LABEL_ROLE
from kubedirector.desired import naming
from kubedirector.desired.headless_service import build_headless_service
from kubedirector.desired.member_service import build_member_service
from kubedirector.desired.pdb import desired_pdbs
from kubedirector.desired.statefulset import build_statefulset


def seeded_chars(seed: str) -> naming.RandomSource:
    """A repeatable random source: the same input renders the same names."""
    rng = random.Random(seed)
    return lambda count: "".join(rng.choice(naming.RANDOM_ALPHABET) for _ in range(count))


def member_claims(statefulset: dict[str, Any], pod: str) -> list[dict[str, Any]]:
    """The claims the StatefulSet controller makes for `pod`: `<template>-<pod>` each,
    with the template's labels and the StatefulSet's selector labels.
    """
    spec = statefulset["spec"]
    selector = spec["selector"]["matchLabels"]
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": f"{template['metadata']['name']}-{pod}",
                "namespace": statefulset["metadata"]["namespace"],
                "labels": template["metadata"].get("labels", {}) | selector,
            },
            "spec": template["spec"],
        }
        for template in spec.get("volumeClaimTemplates", [])
    ]


def render_cluster(
    app: App, cluster: Cluster, config: Config, rand: naming.RandomSource
) -> list[dict[str, Any]]:
    """The objects of a new cluster with every role at its spec's size."""
    scheme = cluster.naming_scheme
    headless = naming.headless_service_name(scheme, cluster.name, rand)
    out = [build_headless_service(app, cluster, config, headless)]
    statefulsets = {
        role.id: naming.statefulset_name(scheme, cluster.name, role.id, rand)
        for role in cluster.roles
    }
    pdbs = {
        p["metadata"]["labels"][LABEL_ROLE]: p for p in desired_pdbs(app, cluster, statefulsets)
    }
    for role in cluster.roles:
        name = statefulsets[role.id]
        members = role.members or 0
        sts = build_statefulset(
            app,
            cluster,
            config,
            role_id=role.id,
            name=name,
            headless_service=headless,
            replicas=members,
        )
        out.append(sts)
        if role.id in pdbs:
            out.append(pdbs[role.id])
        for ordinal in range(members):
            pod = naming.pod_name(name, ordinal)
            service = build_member_service(
                app,
                cluster,
                config,
                role_id=role.id,
                pod=pod,
                name=naming.member_service_name(scheme, name, ordinal),
            )
            if service is not None:
                out.append(service)
            out += member_claims(sts, pod)
    return out
