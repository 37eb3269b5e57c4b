"""Members and their setup: the one place a cluster pass runs execs in its pods.

Setup steps first, then who must be told what (`--delnodes`, `--addnodes`,
`--reconnect`), then delivery.  Every call into `MemberSetup` is here, so what
wraps those execs (e.g. writing status after each phase) is wired in one spot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from kubedirector.api.status import ClusterStatus, MemberStatus
from kubedirector.desired.headless_service import member_fqdn
from kubedirector.lifecycle import notifications
from kubedirector.reconcilers.cluster.observe import Observation
from kubedirector.reconcilers.member_setup import Checkpoint, GuestFor, MemberSetup
from kubedirector.setup.configmeta import ConnectionsData, build_configmeta, configmeta_json


@dataclass(frozen=True)
class MemberWork:
    """What the execs of one pass changed, how soon to look again, what failed."""

    status: ClusterStatus
    requeue_after: tuple[float, ...]
    notify_errors: tuple[str, ...]


def connection_digest(connections: ConnectionsData) -> str:
    """Changes when a connected cluster's spec, ConfigMap or Secret changes (api.md 4.7)."""
    parts = sorted(
        [f"cluster/{n}/{c.cluster.generation}" for n, c in connections.clusters.items()]
        + [
            f"configmap/{n}/{o['metadata']['resourceVersion']}"
            for n, o in connections.configmaps.items()
        ]
        + [f"secret/{n}/{o['metadata']['resourceVersion']}" for n, o in connections.secrets.items()]
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def run_members(
    member_setup: MemberSetup,
    seen: Observation,
    draft: ClusterStatus,
    checkpoint: Checkpoint,
    guest: GuestFor | None = None,
) -> MemberWork:
    """Setup steps, then who must be told what, then delivery (all through exec)."""
    cluster, app, config = seen.cluster, seen.app, seen.config
    assert cluster is not None and app is not None

    def fqdn(member: MemberStatus) -> str:
        return member_fqdn(member.pod, draft.cluster_service, cluster.namespace, config)

    def configmeta(current: ClusterStatus, member: MemberStatus) -> str:
        return configmeta_json(
            build_configmeta(
                app, cluster, config, current, member_pod=member.pod, connections=seen.connections
            )
        )

    setup = member_setup.setup(cluster, app, draft, configmeta, checkpoint, guest=guest)
    # Joins and departures are queued and flagged as announced in one status.
    roles = notifications.announce(setup.roles, app, fqdn)
    connection_hash = connection_digest(seen.connections)
    if draft.last_connection_hash not in (None, connection_hash):
        roles = notifications.reconnect(roles, app)
    draft = replace(draft, roles=tuple(roles), last_connection_hash=connection_hash)
    told = member_setup.notify(cluster, draft, configmeta, checkpoint, unrecorded=setup.unrecorded)
    draft = replace(draft, roles=tuple(notifications.release_leaving(told.roles, fqdn)))
    return MemberWork(
        status=draft,
        requeue_after=tuple(setup.requeue_after + told.requeue_after),
        notify_errors=tuple(told.notify_errors),
    )
