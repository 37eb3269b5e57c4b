"""The KubeDirectorCluster reconciler: observe, plan, act, report, once per key.

Observe (`observe.py`): the cluster, its app, the config and derived objects,
parsed once.  Plan (`names.py`, `membership.py`, `owned.py`): names, members and
the objects they call for.  Act (`owned.py`, `member_work.py`): write what
differs, run the members' execs, remove what left.  Report (`status.py`):
status and Events, truthfully, including a failure that keeps coming back.
"""

from __future__ import annotations

import datetime
from dataclasses import replace

import structlog
from kubernetes.client import ApiException

from kubedirector.api.constants import FINALIZER
from kubedirector.api.errors import FieldError
from kubedirector.api.secretkeys import SecretKeyError
from kubedirector.api.status import ClusterStatus
from kubedirector.controller.result import Result
from kubedirector.desired import naming
from kubedirector.desired.auth_token import new_auth_token
from kubedirector.lifecycle import unresponsive, upgrade
from kubedirector.lifecycle.cluster_state import RECONCILE_FAILING
from kubedirector.metrics.registry import CLUSTER_TIME_TO_READY
from kubedirector.reconcilers.cluster import adoption, membership, rollout
from kubedirector.reconcilers.cluster.backup import StatusBackups, awaiting_restore
from kubedirector.reconcilers.cluster.expectations import Expectations
from kubedirector.reconcilers.cluster.failures import PERSISTENT, Failures, describe
from kubedirector.reconcilers.cluster.first_ready import FirstReady
from kubedirector.reconcilers.cluster.member_work import MemberWork, run_members
from kubedirector.reconcilers.cluster.names import Names, RandomSource
from kubedirector.reconcilers.cluster.observe import Caches, Observation, Observer
from kubedirector.reconcilers.cluster.owned import (
    DISRUPTION_BUDGET,
    OwnedObjects,
    member_objects,
    role_objects,
)
from kubedirector.reconcilers.cluster.status import StatusReport, now, rolling_out, summarise
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.reconcilers.member_setup import MemberSetup
from kubedirector.reconcilers.writer import ObjectWriter
from kubedirector.resources import CLUSTERS, PODS, PVCS

log = structlog.get_logger(__name__)


class ClusterReconciler:
    """Turns a KubeDirectorCluster into its Services, StatefulSets and status."""

    def __init__(
        self,
        *,
        informers: Caches,
        system: Caches,
        writer: ObjectWriter,
        events: EventRecorder,
        member_setup: MemberSetup,
        operator_namespace: str,
        rand: RandomSource = naming.random_chars,
    ) -> None:
        self.informers = informers
        self.writer = writer
        self.member_setup = member_setup
        self.expectations = Expectations()
        self.failures = Failures()
        self.observer = Observer(informers, system, operator_namespace)
        self.names = Names(self.expectations, rand)
        self.owned = OwnedObjects(writer)
        self.report = StatusReport(writer, events, self.expectations)
        self.first_ready = FirstReady()
        self.backups = StatusBackups(writer, informers, self.expectations)

    def reconcile(self, key: str) -> Result:
        raw = self.expectations.latest(key, self.informers.get(CLUSTERS, key))
        if raw is None:
            self.failures.succeeded(key)
            self.first_ready.forget(key)
            return Result.success()
        seen = self.observer.observe(key, raw)
        try:
            result = self.finalize(seen) if seen.deleting else self.converge(seen)
        except Exception as error:
            self.failed(seen, error)
            raise
        self.failures.succeeded(key)
        return result

    def converge(self, seen: Observation) -> Result:
        self.ensure_finalizer(seen)
        if awaiting_restore(seen):
            self.backups.restore(seen)
            return Result.success()
        if seen.problems:
            self.report.spec_problem(seen)
            return Result.success()
        seen = adoption.continued(seen)
        cluster = seen.cluster
        assert cluster is not None
        try:
            draft = membership.plan(
                seen, self.names.headless(seen), self.names.statefulsets(seen), new_auth_token
            )
            checked = unresponsive.review(
                cluster, draft, seen.derived.pods, datetime.datetime.now(datetime.UTC)
            )
            draft = rollout.step(seen, checked.status)
            if draft.upgrade != seen.status.upgrade:
                # A rollout step is recorded before its StatefulSet moves a pod.
                self.report.write(seen, summarise(seen, draft, ["live app upgrade in progress"]))
            self.restart(seen, checked.status, checked.restart)
            wanted = role_objects(seen, draft)
            written = adoption.mark(seen, self.writer)
            written += self.owned.ensure(seen, wanted)
            written += self.owned.prune(seen, wanted, DISRUPTION_BUDGET)

            def checkpoint(progress: ClusterStatus) -> None:
                # Crash safety: what an exec did is saved before the next exec
                # (kubedirector/reconcilers/member_setup.py), else by this pass's write.
                self.report.write(seen, summarise(seen, progress, ["member setup in progress"]))

            # A paused cluster has no pods to run execs in.
            work = (
                MemberWork(status=draft, requeue_after=(), notify_errors=())
                if cluster.paused
                else run_members(
                    self.member_setup, seen, draft, checkpoint, rollout.guest(seen, draft.upgrade)
                )
            )
            written += self.owned.ensure(seen, member_objects(seen, work.status))
            status, removed = self.owned.remove_departed(seen, work.status)
        except SecretKeyError as e:
            problem = FieldError("spec.roles[].secretKeys", str(e))
            self.report.spec_problem(replace(seen, problems=(problem,)))
            return Result.success()
        new = summarise(
            seen,
            status,
            written + removed + rolling_out(seen, [r.stateful_set for r in status.roles]),
        )
        if self.report.write(seen, new):
            self.report.membership_events(seen, new)
            took = self.first_ready.passed(seen.key, seen.raw["metadata"], seen.status, new, now())
            if took is not None:
                CLUSTER_TIME_TO_READY.observe(took)
                log.info("cluster_first_ready", seconds=took)
        self.backups.sync(seen, new)
        for error in work.notify_errors:
            self.report.event(seen, "Warning", "NotifyFailed", error)
        again = work.requeue_after + checked.recheck_after
        if upgrade.moving_member(status.upgrade) is not None:
            again += (rollout.RECHECK,)
        return Result.after(min(again)) if again else Result.success()

    def restart(self, seen: Observation, status: ClusterStatus, pods: tuple[str, ...]) -> None:
        """Delete unresponsive members' pods (their policy says restart): the StatefulSet
        re-creates each, and the restart rule sets the member up again."""
        why = {m.pod: m.state_detail.unresponsive for r in status.roles for m in r.members}
        for pod in pods:
            uid = seen.derived.pods[pod]["metadata"]["uid"]
            if not self.writer.delete(PODS, seen.namespace, pod, uid=uid):
                continue  # already gone or replaced
            log.warning("member_restarted", pod=pod, reason=why[pod])
            self.report.event(seen, "Warning", "MemberRestarted", f"{pod}: {why[pod]}; restarted")

    def ensure_finalizer(self, seen: Observation) -> None:
        meta = seen.raw["metadata"]
        finalizers = meta.get("finalizers") or []
        if FINALIZER not in finalizers:
            self.expectations.wrote(
                self.writer.merge_patch(
                    CLUSTERS,
                    seen.namespace,
                    seen.name,
                    {
                        "metadata": {
                            "finalizers": [*finalizers, FINALIZER],
                            "resourceVersion": meta["resourceVersion"],
                        }
                    },
                )
            )

    def failed(self, seen: Observation, error: Exception) -> None:
        """Record a failed pass: an aggregated Event each time; `Degraded` once it persists."""
        attempts = self.failures.failed(seen.key)
        message = describe(error)
        log.warning("reconcile_failed", attempts=attempts, error=message)
        self.report.event(seen, "Warning", "ReconcileError", message)
        if attempts < PERSISTENT:
            return
        try:
            self.report.conditions_only(seen, RECONCILE_FAILING, message, observed=False)
        except ApiException as e:
            log.warning("reconcile_failure_not_reported", status=e.status)

    def finalize(self, seen: Observation) -> Result:
        """Delete the cluster's claims (garbage collection removes the rest), then let go."""
        meta = seen.raw["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return Result.success()
        for name, claim in seen.derived.claims.items():
            if not claim["metadata"].get("deletionTimestamp"):
                self.writer.delete(PVCS, seen.namespace, name)
        try:
            self.writer.merge_patch(
                CLUSTERS,
                seen.namespace,
                seen.name,
                {
                    "metadata": {
                        "finalizers": [f for f in meta["finalizers"] if f != FINALIZER] or None,
                        "resourceVersion": meta["resourceVersion"],
                    }
                },
            )
        except ApiException as e:
            if e.status != 404:  # a 409 means a newer version is on its way: retry then
                raise
        self.expectations.forget(seen.key)
        self.first_ready.forget(seen.key)
        log.info("cluster_finalized")
        return Result.success()
