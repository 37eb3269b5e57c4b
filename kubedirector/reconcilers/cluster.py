"""The KubeDirectorCluster reconciler: one level-triggered pass per key.

Each pass reads the cluster, its app, the global config and the derived
objects from the informer caches, then:
1. on deletion, removes what garbage collection would not (member PVCs) and
   the finalizer; otherwise makes sure the finalizer is there;
2. validates the spec against the app; a spec that cannot work sets
   `Degraded` with an Event and waits for the spec or the app to change;
3. picks (or adopts, or reuses from status) the names of the headless
   Service and each role's StatefulSet;
4. plans membership (grow, shrink) and advances each member's state from
   what its pod shows (`kubedirector.lifecycle`);
5. writes only the derived objects whose semantic diff is non-empty (PodDisruptionBudgets
   through `kubedirector.reconcilers.pdbs`);
6. removes leaving members' services and claims once their pods are gone;
7. writes status (and Events for membership changes) only if it changed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog
from kubernetes.client import ApiException

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import (
    FINALIZER,
    GLOBAL_CONFIG_NAME,
    LABEL_ROLE,
    AppCatalog,
    ClusterState,
    MemberState,
)
from kubedirector.api.errors import FieldError, SpecError
from kubedirector.api.secretkeys import SecretKeyError
from kubedirector.api.status import ClusterStatus, MemberStatus, RoleStatus
from kubedirector.api.validation import validate_app, validate_cluster
from kubedirector.cache.factory import InformerFactory
from kubedirector.cache.indexers import KDCLUSTER_INDEX
from kubedirector.controller.result import Result
from kubedirector.desired import naming
from kubedirector.desired.auth_token import needs_auth_token, new_auth_token
from kubedirector.desired.diff import semantic_diff
from kubedirector.desired.headless_service import build_headless_service, member_fqdn
from kubedirector.desired.member_service import build_member_service
from kubedirector.desired.statefulset import build_statefulset, mutable_part, replicas_for
from kubedirector.lifecycle import cluster_state, members, notifications
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.reconcilers.member_setup import Checkpoint, MemberSetup
from kubedirector.reconcilers.pdbs import sync_disruption_budgets
from kubedirector.reconcilers.writer import Writer
from kubedirector.resources import (
    APPS,
    CLUSTERS,
    CONFIGMAPS,
    CONFIGS,
    CONNECTED_CONFIGMAP_SELECTOR,
    CONNECTED_SECRET_SELECTOR,
    OWNED_SELECTOR,
    PDBS,
    PODS,
    PVCS,
    SECRETS,
    SERVICES,
    STATEFULSETS,
)
from kubedirector.setup.configmeta import (
    ConnectedCluster,
    ConnectionsData,
    build_configmeta,
    configmeta_json,
)

log = structlog.get_logger(__name__)
RandomSource = Callable[[int], str]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClusterReconciler:
    """Turns a KubeDirectorCluster into its Services, StatefulSets and status."""

    def __init__(self, *, informers: InformerFactory, system: InformerFactory, writer: Writer,
                 events: EventRecorder, member_setup: MemberSetup, operator_namespace: str,
                 rand: RandomSource = naming.random_chars) -> None:
        self.informers = informers
        self.system = system
        self.writer = writer
        self.events = events
        self.member_setup = member_setup
        self.operator_namespace = operator_namespace
        self.rand = rand
        # Expectations, as client-go's controllers keep them: what this process wrote
        # and its caches may not show yet.  Names chosen per (key, uid, role) and the
        # cluster object returned by our last write, newer than a lagging cache.
        self._names: dict[tuple[str, str, str], str] = {}
        self._written: dict[str, dict[str, Any]] = {}

    # ----------------------------------------------------------------- lookups

    def config(self) -> Config:
        raw = self.system.get(CONFIGS, f"{self.operator_namespace}/{GLOBAL_CONFIG_NAME}")
        try:
            return Config.from_dict(raw)
        except SpecError:
            return Config()

    def find_app(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        """The cluster's KubeDirectorApp as stored: its own namespace, then the system catalog."""
        spec = raw.get("spec") or {}
        name, catalog = spec.get("app"), spec.get("appCatalog")
        places = {AppCatalog.LOCAL: [(self.informers, raw["metadata"]["namespace"])],
                  AppCatalog.SYSTEM: [(self.system, self.operator_namespace)]}
        order = places.get(catalog) or places[AppCatalog.LOCAL] + places[AppCatalog.SYSTEM]
        for factory, namespace in order:
            found = factory.get(APPS, f"{namespace}/{name}")
            if found is not None:
                return found
        return None

    def _owned(self, resource: Any, cluster: Cluster) -> list[dict[str, Any]]:
        return [o for o in self.informers.by_index(resource, KDCLUSTER_INDEX,
                                                   f"{cluster.namespace}/{cluster.name}",
                                                   OWNED_SELECTOR)
                if o["metadata"]["namespace"] == cluster.namespace
                and any(r.get("uid") == cluster.uid
                        for r in o["metadata"].get("ownerReferences") or [])]

    def connections(self, cluster: Cluster) -> ConnectionsData:
        """The connected clusters, ConfigMaps and Secrets, as the caches hold them now."""
        ns = cluster.namespace
        clusters = {}
        for name in cluster.connections.clusters:
            raw = self.informers.get(CLUSTERS, f"{ns}/{name}")
            app_raw = self.find_app(raw) if raw else None
            if raw is None or app_raw is None:
                continue
            try:
                app = App.from_dict(app_raw)
                clusters[name] = ConnectedCluster(Cluster.from_dict(raw, self.config(), app), app)
            except SpecError:
                continue
        configmaps = {n: o for n in cluster.connections.configmaps if (o := self.informers.get(
            CONFIGMAPS, f"{ns}/{n}", CONNECTED_CONFIGMAP_SELECTOR)) is not None}
        secrets = {n: o for n in cluster.connections.secrets if (o := self.informers.get(
            SECRETS, f"{ns}/{n}", CONNECTED_SECRET_SELECTOR)) is not None}
        return ConnectionsData(clusters=clusters, configmaps=configmaps, secrets=secrets)

    def _cached(self, resource: Any, namespace: str, name: str) -> dict[str, Any] | None:
        return self.informers.get(resource, f"{namespace}/{name}", OWNED_SELECTOR)

    # ----------------------------------------------------------------- reconcile

    def latest(self, key: str) -> dict[str, Any] | None:
        """The cached cluster, or what our last write returned if the cache lags behind it."""
        raw = self.informers.get(CLUSTERS, key)
        written = self._written.get(key)
        if raw is None or written is None or written["metadata"]["uid"] != raw["metadata"]["uid"]:
            self._written.pop(key, None)
            if raw is None:
                for name_key in [k for k in self._names if k[0] == key]:
                    del self._names[name_key]
            return raw
        if _newer(written, raw):
            return written
        del self._written[key]
        return raw

    def remember(self, written: dict[str, Any]) -> dict[str, Any]:
        meta = written["metadata"]
        self._written[f"{meta['namespace']}/{meta['name']}"] = written
        return written

    def reconcile(self, key: str) -> Result:
        raw = self.latest(key)
        if raw is None:
            return Result.success()
        if raw["metadata"].get("deletionTimestamp"):
            return self.finalize(raw)
        finalizers = raw["metadata"].get("finalizers") or []
        if FINALIZER not in finalizers:
            meta = raw["metadata"]
            raw = self.remember(self.writer.merge_patch(CLUSTERS, meta["namespace"], meta["name"], {
                "metadata": {"finalizers": [*finalizers, FINALIZER],
                             "resourceVersion": meta["resourceVersion"]}}))
        config = self.config()
        app_raw = self.find_app(raw)
        errors = self.spec_errors(raw, app_raw, config)
        if errors:
            return self.spec_problem(raw, errors)
        assert app_raw is not None
        app = App.from_dict(app_raw)
        cluster = Cluster.from_dict(raw, config, app)
        try:
            return self.converge(raw, cluster, app, config)
        except SecretKeyError as e:
            return self.spec_problem(raw, [FieldError("spec.roles[].secretKeys", str(e))])
        except ApiException as e:
            self.events.record(raw, "Warning", "ReconcileError", _api_error(e))
            raise

    def spec_errors(self, raw: dict[str, Any], app_raw: dict[str, Any] | None,
                    config: Config) -> list[FieldError]:
        """What makes the spec unworkable: no app, a broken app, a spec the app refutes."""
        if app_raw is None:
            spec = raw.get("spec") or {}
            where = {AppCatalog.LOCAL: f"namespace {raw['metadata']['namespace']!r}",
                     AppCatalog.SYSTEM: f"the system catalog ({self.operator_namespace!r})"}
            place = where.get(spec.get("appCatalog")) or (
                f"namespace {raw['metadata']['namespace']!r} or the system catalog "
                f"({self.operator_namespace!r})")
            return [FieldError("spec.app", f"no KubeDirectorApp {spec.get('app')!r} in {place}")]
        app_errors = validate_app(app_raw)
        if app_errors:
            name = app_raw["metadata"]["name"]
            return [FieldError(f"app {name}: {e.path}", e.message) for e in app_errors]
        return validate_cluster(raw, App.from_dict(app_raw), config)

    def spec_problem(self, raw: dict[str, Any], errors: list[FieldError]) -> Result:
        """Record why the spec cannot work; the watches on the cluster and apps retry."""
        message = "; ".join(str(e) for e in errors)
        old = raw.get("status") or {}
        try:
            previous = ClusterStatus.from_dict(old)
        except SpecError:
            previous = ClusterStatus()
        all_members = [m for r in previous.roles for m in r.members]
        state = previous.state or ClusterState.CREATING
        conditions = cluster_state.conditions(
            previous=previous.conditions, generation=raw["metadata"].get("generation", 0),
            state=state, members=all_members,
            problem=cluster_state.SpecProblem("InvalidSpec", message), now=_now())
        # Only the conditions change: what the cluster has (members, names) is kept.
        patch = {"state": state, "conditions": [c.to_dict() for c in conditions],
                 "observedGeneration": raw["metadata"].get("generation")}
        if any(old.get(k) != v for k, v in patch.items()):
            meta = raw["metadata"]
            self.remember(self.writer.merge_patch(CLUSTERS, meta["namespace"], meta["name"],
                                                  {"status": patch}, subresource="status"))
            self.events.record(raw, "Warning", "InvalidSpec", message)
        log.warning("cluster_spec_invalid", errors=message)
        return Result.success()

    def converge(self, raw: dict[str, Any], cluster: Cluster, app: App,
                 config: Config) -> Result:
        status = cluster.status
        headless = status.cluster_service or self.adopt_or_create_headless(cluster, app, config)
        statefulsets = {r.id: r.stateful_set for r in status.roles}
        next_node_id = status.last_node_id + 1
        roles: list[RoleStatus] = []
        existing = {r.id: r for r in status.roles}
        for spec_role in cluster.roles:
            name = statefulsets.get(spec_role.id) or self.adopt_or_create_statefulset(
                cluster, app, config, spec_role.id, headless)
            app_role = app.role(spec_role.id)
            tokens = needs_auth_token(app_role) if app_role else False
            role, next_node_id = members.plan_role(
                cluster, spec_role.id, statefulset=name, existing=existing.get(spec_role.id),
                wanted=spec_role.members or 0, next_node_id=next_node_id,
                auth_token=lambda t=tokens: new_auth_token() if t else None)
            roles.append(role)
        for gone in (r for r in status.roles if cluster.role(r.id) is None):
            roles.append(members.plan_role(
                cluster, gone.id, statefulset=gone.stateful_set, existing=gone, wanted=0,
                next_node_id=next_node_id, auth_token=lambda: None)[0])
        self.sync_headless(cluster, app, config, headless)
        for planned in roles:
            self.sync_statefulset(cluster, app, config, planned, headless)
        sync_disruption_budgets(
            cluster, app, {r.id: r.stateful_set for r in roles if cluster.role(r.id)},
            owned=self._owned(PDBS, cluster), ensure=self.ensure, delete=self.writer.delete)
        draft = replace(status, cluster_service=headless, last_node_id=next_node_id - 1,
                        roles=tuple(self.advance_role(cluster, app, r) for r in roles))
        # Crash safety (issue 9): member setup writes status right after each exec phase.
        def checkpoint(progress: ClusterStatus) -> None:
            self.write_status(raw, self.summarise(cluster, progress))

        draft, requeue, notify_errors = self.run_members(cluster, app, config, draft,
                                                         checkpoint)
        advanced: list[RoleStatus] = []
        for role in draft.roles:
            self.sync_member_services(cluster, app, config, role)
            kept = self.remove_departed(cluster, role)
            if kept.members or cluster.role(kept.id) is not None:
                advanced.append(kept)
            else:
                self.writer.delete(STATEFULSETS, cluster.namespace, kept.stateful_set)
        new_status = self.summarise(cluster, replace(draft, roles=tuple(advanced)))
        if self.write_status(raw, new_status):
            self.record_membership_events(raw, status, new_status)
        for error in notify_errors:
            self.events.record(raw, "Warning", "NotifyFailed", error)
        return Result.after(min(requeue)) if requeue else Result.success()

    def run_members(self, cluster: Cluster, app: App, config: Config, draft: ClusterStatus,
                    checkpoint: Checkpoint) -> tuple[ClusterStatus, list[float], list[str]]:
        """Setup steps, then who must be told what, then delivery (all through exec)."""

        def fqdn(member: MemberStatus) -> str:
            return member_fqdn(member.pod, draft.cluster_service, cluster.namespace, config)

        connections = self.connections(cluster)

        def configmeta(current: ClusterStatus, member: MemberStatus) -> str:
            return configmeta_json(build_configmeta(app, cluster, config, current,
                                                    member_pod=member.pod,
                                                    connections=connections))

        setup = self.member_setup.setup(cluster, app, draft, configmeta, checkpoint)
        # Joins and departures are queued and flagged as announced in one status.
        roles = notifications.announce(setup.roles, app, fqdn)
        connection_hash = connection_digest(connections)
        if draft.last_connection_hash not in (None, connection_hash):
            roles = notifications.reconnect(roles, app)
        draft = replace(draft, roles=tuple(roles), last_connection_hash=connection_hash)
        told = self.member_setup.notify(cluster, draft, configmeta, checkpoint)
        draft = replace(draft, roles=tuple(notifications.release_leaving(told.roles, fqdn)))
        return draft, setup.requeue_after + told.requeue_after, told.notify_errors

    # ----------------------------------------------------------------- names

    def adopt_or_create_headless(self, cluster: Cluster, app: App, config: Config) -> str:
        """Reuse a headless Service this cluster made (its name may not have reached status)."""
        remembered = self._names.get((f"{cluster.namespace}/{cluster.name}", cluster.uid, ""))
        if remembered:
            return remembered
        for svc in self._owned(SERVICES, cluster):
            if svc["spec"].get("clusterIP") == "None" and LABEL_ROLE not in (
                    svc["metadata"].get("labels") or {}):
                return str(svc["metadata"]["name"])
        name = naming.headless_service_name(cluster.naming_scheme, cluster.name, self.rand)
        self._names[(f"{cluster.namespace}/{cluster.name}", cluster.uid, "")] = name
        self.writer.create(SERVICES, build_headless_service(app, cluster, config, name))
        return name

    def adopt_or_create_statefulset(self, cluster: Cluster, app: App, config: Config,
                                    role_id: str, headless: str) -> str:
        remembered = self._names.get((f"{cluster.namespace}/{cluster.name}", cluster.uid, role_id))
        if remembered:
            return remembered
        for sts in self._owned(STATEFULSETS, cluster):
            if (sts["metadata"].get("labels") or {}).get(LABEL_ROLE) == role_id:
                return str(sts["metadata"]["name"])
        name = naming.statefulset_name(cluster.naming_scheme, cluster.name, role_id, self.rand)
        self._names[(f"{cluster.namespace}/{cluster.name}", cluster.uid, role_id)] = name
        self.writer.create(STATEFULSETS, build_statefulset(
            app, cluster, config, role_id=role_id, name=name, headless_service=headless,
            replicas=0))
        return name

    # ----------------------------------------------------------------- objects

    def sync_headless(self, cluster: Cluster, app: App, config: Config, name: str) -> None:
        desired = build_headless_service(app, cluster, config, name)
        self.ensure(SERVICES, desired, {"metadata": {"labels": desired["metadata"]["labels"]},
                                        "spec": desired["spec"]})

    def sync_statefulset(self, cluster: Cluster, app: App, config: Config, role: RoleStatus,
                         headless: str) -> None:
        if cluster.role(role.id) is None:
            actual = self._cached(STATEFULSETS, cluster.namespace, role.stateful_set)
            if actual is not None and actual["spec"].get("replicas") != replicas_for(
                    role.members):
                self.writer.merge_patch(STATEFULSETS, cluster.namespace, role.stateful_set,
                                        {"spec": {"replicas": replicas_for(role.members)}})
            return
        desired = build_statefulset(app, cluster, config, role_id=role.id,
                                    name=role.stateful_set, headless_service=headless,
                                    replicas=replicas_for(role.members))
        self.ensure(STATEFULSETS, desired, mutable_part(desired))

    def sync_member_services(self, cluster: Cluster, app: App, config: Config,
                             role: RoleStatus) -> None:
        if cluster.role(role.id) is None:
            return
        for member in role.members:
            if member.state == MemberState.DELETING:
                continue
            desired = build_member_service(app, cluster, config, role_id=role.id,
                                           pod=member.pod, name=member.service)
            if desired is not None:
                self.ensure(SERVICES, desired, {
                    "metadata": {"labels": desired["metadata"]["labels"],
                                 "annotations": desired["metadata"].get("annotations", {})},
                    "spec": desired["spec"]})

    def ensure(self, resource: Any, desired: dict[str, Any], compared: dict[str, Any]) -> None:
        """Create a missing object, or apply it when `compared` differs from the cache."""
        meta = desired["metadata"]
        actual = self._cached(resource, meta["namespace"], meta["name"])
        if actual is None:
            self.writer.apply(resource, desired)
            return
        diff = semantic_diff(compared, actual)
        if diff:
            # Replicas follow membership; anything else differing is drift being undone.
            event = "replicas_changed" if diff == ["spec.replicas"] else "drift_corrected"
            log.info(event, kind=resource.kind, name=meta["name"], fields=diff[:5])
            body = {"metadata": {"name": meta["name"], "namespace": meta["namespace"],
                                 "labels": meta.get("labels", {}),
                                 "ownerReferences": meta["ownerReferences"]},
                    **{k: v for k, v in compared.items() if k != "metadata"}}
            if "annotations" in compared.get("metadata", {}):
                body["metadata"]["annotations"] = compared["metadata"]["annotations"]
            self.writer.apply(resource, body)

    # ----------------------------------------------------------------- members

    def advance_role(self, cluster: Cluster, app: App, role: RoleStatus) -> RoleStatus:
        spec_role = cluster.role(role.id)
        has_setup = members.role_has_setup(app, role.id) or bool(
            spec_role and spec_role.file_injections)
        advanced = tuple(
            members.advance_member(m, self._cached(PODS, cluster.namespace, m.pod), has_setup)
            for m in role.members)
        return replace(role, members=advanced)

    def remove_departed(self, cluster: Cluster, role: RoleStatus) -> RoleStatus:
        """Delete a `deleting` member's service and claims once its pod is gone; drop it."""
        kept: list[MemberStatus] = []
        # Claims made from a StatefulSet's templates carry its labels, not an owner.
        claims = self.informers.by_index(PVCS, KDCLUSTER_INDEX,
                                         f"{cluster.namespace}/{cluster.name}", OWNED_SELECTOR)
        for member in role.members:
            if member.state != MemberState.DELETING or self._cached(
                    PODS, cluster.namespace, member.pod) is not None:
                kept.append(member)
                continue
            for claim in claims:
                if _claim_of(claim["metadata"]["name"], member.pod):
                    self.writer.delete(PVCS, cluster.namespace, claim["metadata"]["name"])
            if self._cached(SERVICES, cluster.namespace, member.service) is not None:
                self.writer.delete(SERVICES, cluster.namespace, member.service)
        return replace(role, members=tuple(kept))

    # ----------------------------------------------------------------- status

    def summarise(self, cluster: Cluster, status: ClusterStatus) -> ClusterStatus:
        all_members = [m for r in status.roles for m in r.members]
        state = cluster_state.cluster_state(status.state, all_members)
        return replace(
            status, state=state,
            member_state_rollup=cluster_state.rollup(all_members),
            conditions=cluster_state.conditions(
                previous=status.conditions, generation=cluster.generation, state=state,
                members=all_members, problem=None, now=_now()),
            observed_generation=cluster.generation,
            member_summary=cluster_state.member_summary(all_members),
        )

    def write_status(self, raw: dict[str, Any], status: ClusterStatus) -> bool:
        """Write status if it differs from what is stored; True when written."""
        new = status.to_dict()
        if new == (raw.get("status") or {}):
            return False
        meta = raw["metadata"]
        self.remember(self.writer.merge_patch(
            CLUSTERS, meta["namespace"], meta["name"],
            {"status": _nulls_for_removed(raw.get("status") or {}, new)}, subresource="status"))
        return True

    def record_membership_events(self, raw: dict[str, Any], old: ClusterStatus,
                                 new: ClusterStatus) -> None:
        before = {m.pod: m.state for r in old.roles for m in r.members}
        after = {m.pod: m.state for r in new.roles for m in r.members}
        for pod, state in after.items():
            if pod not in before:
                self.events.record(raw, "Normal", "MemberAdded", f"member {pod} added ({state})")
            elif before[pod] != state:
                kind = "Warning" if state == MemberState.CONFIG_ERROR else "Normal"
                self.events.record(raw, kind, "MemberStateChanged",
                                   f"member {pod}: {before[pod]} -> {state}")
        for pod in before.keys() - after.keys():
            self.events.record(raw, "Normal", "MemberRemoved", f"member {pod} removed")
        if old.state != new.state:
            self.events.record(raw, "Normal", "ClusterStateChanged",
                               f"cluster {old.state or 'new'} -> {new.state}")

    # ----------------------------------------------------------------- deletion

    def finalize(self, raw: dict[str, Any]) -> Result:
        """Delete the cluster's claims (garbage collection removes the rest), then let go."""
        meta = raw["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return Result.success()
        for pvc in self.informers.by_index(PVCS, KDCLUSTER_INDEX,
                                           f"{meta['namespace']}/{meta['name']}",
                                           OWNED_SELECTOR):
            if pvc["metadata"]["namespace"] == meta["namespace"] and not pvc["metadata"].get(
                    "deletionTimestamp"):
                self.writer.delete(PVCS, meta["namespace"], pvc["metadata"]["name"])
        finalizers = [f for f in meta["finalizers"] if f != FINALIZER]
        key = f"{meta['namespace']}/{meta['name']}"
        try:
            self.writer.merge_patch(CLUSTERS, meta["namespace"], meta["name"], {"metadata": {
                "finalizers": finalizers or None, "resourceVersion": meta["resourceVersion"]}})
        except ApiException as e:
            if e.status != 404:  # a 409 means a newer version is on its way: retry then
                raise
        self._written.pop(key, None)
        for name_key in [k for k in self._names if k[0] == key]:
            del self._names[name_key]
        log.info("cluster_finalized")
        return Result.success()


def connection_digest(connections: ConnectionsData) -> str:
    """Changes when a connected cluster's spec, ConfigMap or Secret changes (api.md 4.7)."""
    parts = sorted(
        [f"cluster/{n}/{c.cluster.generation}" for n, c in connections.clusters.items()]
        + [f"configmap/{n}/{o['metadata']['resourceVersion']}"
           for n, o in connections.configmaps.items()]
        + [f"secret/{n}/{o['metadata']['resourceVersion']}"
           for n, o in connections.secrets.items()])
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _claim_of(claim: str, pod: str) -> bool:
    """Whether a claim is one of the pod's: `p-<pod>` or a block device `b<N>-<pod>`."""
    prefix, _, rest = claim.partition("-")
    return rest == pod and (prefix == naming.PVC_TEMPLATE or (
        prefix[:1] == "b" and prefix[1:].isdigit()))


def _api_error(e: ApiException) -> str:
    """The API server's own message for a failed request, else its status line."""
    try:
        message = json.loads(e.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"API request failed ({e.status} {e.reason}): {message or ''}".strip()


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether `a` is a later version of the object than `b`.

    resourceVersions are etcd revisions here; where one is not a number the
    cache is trusted, as clients are told to.
    """
    try:
        return int(a["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return False


def _nulls_for_removed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch from `old` to `new`: keys that disappeared are set to null."""
    patch: dict[str, Any] = dict(new)
    for key in old.keys() - new.keys():
        patch[key] = None
    return patch

