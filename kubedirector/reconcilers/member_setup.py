"""The exec-driven part of a cluster reconcile: setup steps and notifications.

The cluster reconciler hands over a draft status (membership planned, states
advanced from the pods); this runs one short step of setup per member that
needs one, delivers pending `--addnodes/--delnodes/--reconnect` commands, and
returns the updated roles with how soon the reconcile should come back.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.constants import ContainerState, MemberState
from kubedirector.api.status import ClusterStatus, MemberStatus, RoleStatus
from kubedirector.setup import configcli_install
from kubedirector.setup.runner import SetupRunner, SetupSpec

ConfigmetaFor = Callable[[ClusterStatus, MemberStatus], str]
# Setup execs of one reconcile run side by side (each has its own timeout), so a
# large cluster is not set up one member at a time.
PARALLEL_EXECS = 8


@dataclass
class StepOutcome:
    """What the setup pass changed and learnt."""

    roles: list[RoleStatus]
    requeue_after: list[float] = field(default_factory=list)
    notify_errors: list[str] = field(default_factory=list)


def _running(member: MemberStatus) -> bool:
    return member.state_detail.last_known_container_state == ContainerState.RUNNING


class MemberSetup:
    """Runs setup and notifications for one cluster's members."""

    def __init__(self, runner: SetupRunner) -> None:
        self.runner = runner

    def setup(self, cluster: Cluster, app: App, draft: ClusterStatus,
              configmeta: ConfigmetaFor) -> StepOutcome:
        """One setup step for every member that needs one, the execs side by side."""
        outcome = StepOutcome(roles=[])
        steps: list[tuple[int, int, MemberStatus, SetupSpec]] = []
        roles: list[list[MemberStatus]] = []
        for r, role in enumerate(draft.roles):
            app_role = app.role(role.id)
            spec_role = cluster.role(role.id)
            package = app_role.config_package if app_role else None
            injections = spec_role.file_injections if spec_role else ()
            roles.append(list(role.members))
            if app_role is None or (package is None and not injections):
                continue
            for m, member in enumerate(role.members):
                current = member
                if current.state == MemberState.CONFIG_ERROR and _running(current):
                    due, wait = self.runner.retry_due(current, cluster.generation)
                    if wait is not None:
                        outcome.requeue_after.append(wait)
                    if due:
                        current = self.runner.retried(current)
                roles[r][m] = current
                if current.state == MemberState.CREATING and _running(current):
                    restarted = current.state_detail.last_configured_container is not None
                    steps.append((r, m, current, SetupSpec(
                        namespace=cluster.namespace,
                        package_url=package.package_url if package else None,
                        injections=injections, max_log_size=app_role.max_log_size_dump,
                        configmeta=configmeta(draft, current), generation=cluster.generation,
                        keep_configured=restarted and spec_role is not None
                        and spec_role.storage is not None,
                        configcli=configcli_install.Layout.of(package) if package else None)))
        for (r, m, _, _), (stepped, again) in zip(steps, self._run_steps(steps), strict=True):
            roles[r][m] = stepped
            if again is not None:
                outcome.requeue_after.append(again)
        outcome.roles = [replace(role, members=tuple(members))
                         for role, members in zip(draft.roles, roles, strict=True)]
        return outcome

    def _run_steps(self, steps: list[tuple[int, int, MemberStatus, SetupSpec]]
                   ) -> list[tuple[MemberStatus, float | None]]:
        if len(steps) <= 1:
            return [self.runner.step(member, spec) for _, _, member, spec in steps]
        # Each task runs in a copy of this reconcile's context: its logs keep the
        # reconcile id and key.
        contexts = [contextvars.copy_context() for _ in steps]
        with ThreadPoolExecutor(max_workers=min(PARALLEL_EXECS, len(steps)),
                                thread_name_prefix="kd-setup") as pool:
            return list(pool.map(lambda c, s: c.run(self.runner.step, s[2], s[3]),
                                 contexts, steps))

    def notify(self, cluster: Cluster, draft: ClusterStatus,
               configmeta: ConfigmetaFor) -> StepOutcome:
        """Deliver each configured member's first pending command."""
        outcome = StepOutcome(roles=[])
        for role in draft.roles:
            members = []
            for member in role.members:
                current = member
                if (current.state == MemberState.CONFIGURED and _running(current)
                        and current.state_detail.pending_notify_cmds):
                    current, again, error = self.runner.notify(
                        current, namespace=cluster.namespace,
                        configmeta=configmeta(draft, current))
                    if error:
                        outcome.notify_errors.append(f"{current.pod}: {error}")
                    if again is not None:
                        outcome.requeue_after.append(again)
                    elif current.state_detail.pending_notify_cmds:
                        outcome.requeue_after.append(0.1)
                members.append(current)
            outcome.roles.append(replace(role, members=tuple(members)))
        return outcome
