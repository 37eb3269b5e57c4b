"""A live app upgrade within a cluster pass: what the pods and StatefulSets show,
handed to the pure rollout (`kubedirector.lifecycle.upgrade`), and which app and
startscript event each member's setup gets."""

from __future__ import annotations

from dataclasses import replace

from kubedirector.api.app import App
from kubedirector.api.constants import LABEL_APP
from kubedirector.api.status import ClusterStatus, MemberStatus, UpgradeStatus
from kubedirector.lifecycle import upgrade
from kubedirector.lifecycle.members import container_identity
from kubedirector.lifecycle.upgrade import AppVersion, PodView
from kubedirector.reconcilers.cluster.observe import Observation
from kubedirector.reconcilers.member_setup import GuestFor

# While a member moves, look again this soon even if no watch event comes.
RECHECK = 5.0


def pod_views(seen: Observation) -> dict[str, PodView]:
    out = {}
    for name, pod in seen.derived.pods.items():
        conditions = (pod.get("status") or {}).get("conditions") or []
        out[name] = PodView(
            app=(pod["metadata"].get("labels") or {}).get(LABEL_APP),
            ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
            container=container_identity(pod),
        )
    return out


def running_app(seen: Observation) -> AppVersion | None:
    """The app the cluster's StatefulSets run when it is not the spec's (a rollout is
    due); None when they run the spec's app, or run an app no longer found."""
    assert seen.app is not None
    labels = {
        (sts["metadata"].get("labels") or {}).get(LABEL_APP)
        for sts in seen.derived.statefulsets.values()
    }
    for name in sorted(n for n in labels if n and n != seen.app.name):
        if name in seen.apps:
            return AppVersion(name, seen.apps[name].version)
    return None


def step(seen: Observation, draft: ClusterStatus) -> ClusterStatus:
    """The draft with the rollout moved on as far as the pods allow."""
    app = seen.app
    assert app is not None
    views = pod_views(seen)
    record = upgrade.begin(
        draft.upgrade,
        running=running_app(seen),
        target=AppVersion(app.name, app.version),
        status=draft,
        pods=views,
        role_order=[r.id for r in app.roles],
    )
    if record is None:
        return draft
    record = upgrade.advance(record, draft, views)
    return upgrade.hold_retries(record, replace(draft, upgrade=record))


def guest(seen: Observation, record: UpgradeStatus | None) -> GuestFor:
    """Each member is set up from the app its pod runs; the member the rollout moved
    gets the upgrade (or rollback) event."""
    assert seen.app is not None
    target = seen.app
    views = pod_views(seen)

    def guest_for(_: str, member: MemberStatus) -> tuple[App, tuple[str, ...]]:
        label = views[member.pod].app if member.pod in views else None
        app = seen.apps.get(label or "", target)
        return app, upgrade.event_for(record, member.pod, label)

    return guest_for
