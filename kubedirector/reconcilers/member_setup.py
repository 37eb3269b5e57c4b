"""The exec-driven part of a cluster reconcile: setup steps and notifications.

The cluster reconciler hands over a draft status (membership planned, states
advanced from the pods); this runs one short step of setup per member that
needs one, delivers pending `--addnodes/--delnodes/--reconnect` commands, and
returns the updated roles with how soon the reconcile should come back.

Crash safety: the lasting effect of an exec in the guest is in the status
before the next exec of the cluster.  Setup steps are safe to repeat (the start
script starts nothing for a run already marked in configure.status; a poll only
reads), so the starts and polls of one round are recorded together: by the
pass's own status write when no notification follows in the pass (one write
less per round), else by the reconciler's `checkpoint` just before the first
delivery, and at once if a step of the round raised.  A notification is not
safe to repeat (the app would be told twice), so each is recorded as soon as it
is back, with any others back by then.  Together with the announced flags of
`kubedirector.lifecycle.notifications`, a crash at any point runs
`--configure` at most once per container and run, and delivers every
notification at least once.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.constants import CONFIGURE_ARGS, ContainerState, Event, MemberState
from kubedirector.api.status import ClusterStatus, MemberStatus, RoleStatus
from kubedirector.lifecycle import notifications
from kubedirector.setup import configcli_install, crashpoint
from kubedirector.setup.runner import SetupRunner, SetupSpec

ConfigmetaFor = Callable[[ClusterStatus, MemberStatus], str]
Checkpoint = Callable[[ClusterStatus], None]
GuestFor = Callable[[str, MemberStatus], tuple[App, tuple[str, ...]]]
T = TypeVar("T")
# Execs of one reconcile run side by side (each has its own timeout), so a large
# cluster is not set up or told one member at a time.
PARALLEL_EXECS = 8


@dataclass
class StepOutcome:
    """What the setup pass changed and learnt."""

    roles: list[RoleStatus]
    requeue_after: list[float] = field(default_factory=list)
    notify_errors: list[str] = field(default_factory=list)
    # A step had a lasting effect not yet in any status write (see the module's
    # crash safety): the caller records it before its next exec or in its own write.
    unrecorded: bool = False


def _running(member: MemberStatus) -> bool:
    return member.state_detail.last_known_container_state == ContainerState.RUNNING


def setup_milestone(before: MemberStatus, after: MemberStatus) -> str | None:
    """The crash point a setup step passed, if its exec had a lasting effect."""
    if after.state_detail.setup.run_id != before.state_detail.setup.run_id:
        return crashpoint.SETUP_STARTED
    if after.state != before.state:
        return crashpoint.SETUP_ENDED
    return None


def _with_members(draft: ClusterStatus, members: Sequence[list[MemberStatus]]) -> ClusterStatus:
    """The draft with each role's members replaced by the current ones."""
    return replace(
        draft,
        roles=tuple(
            replace(role, members=tuple(current))
            for role, current in zip(draft.roles, members, strict=True)
        ),
    )


def _run_all(
    tasks: Sequence[Callable[[], T]],
    done: Callable[[int, T], bool],
    record: Callable[[], None],
    *,
    batch: str,
) -> None:
    """Run `tasks` side by side (at most PARALLEL_EXECS at once).  `done(index,
    result)` is called in this thread for each result and says whether it must be
    recorded; `record()` then writes status once for the batch: with `batch`
    ALL_COMPLETED once every task is back, with FIRST_COMPLETED as soon as any is
    (with every other one back by then).  A task that raised is raised after that."""
    if len(tasks) <= 1:
        for index, task in enumerate(tasks):
            if done(index, task()):
                record()
        return
    # Each task runs in a copy of this reconcile's context: its logs keep the
    # reconcile id and key.
    with ThreadPoolExecutor(
        max_workers=min(PARALLEL_EXECS, len(tasks)), thread_name_prefix="kd-exec"
    ) as pool:
        futures = {
            pool.submit(contextvars.copy_context().run, task): i for i, task in enumerate(tasks)
        }
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=batch)
            dirty, failed = False, None
            for future in sorted(finished, key=futures.__getitem__):
                if future.exception() is not None:
                    failed = failed or future.exception()
                    continue
                dirty = done(futures[future], future.result()) or dirty
            if dirty:
                record()  # what did happen is recorded even when a task failed
            if failed is not None:
                raise failed


class MemberSetup:
    """Runs setup and notifications for one cluster's members."""

    def __init__(self, runner: SetupRunner) -> None:
        self.runner = runner

    def setup(
        self,
        cluster: Cluster,
        app: App,
        draft: ClusterStatus,
        configmeta: ConfigmetaFor,
        checkpoint: Checkpoint,
        *,
        guest: GuestFor | None = None,
    ) -> StepOutcome:
        """One setup step for every member that needs one, the execs side by side.
        `guest`: which app a member's container runs and the startscript arguments
        its setup gets (a live upgrade); by default `app` and `--configure`."""
        outcome = StepOutcome(roles=[])
        steps: list[tuple[int, int, MemberStatus, SetupSpec]] = []
        # A member set up now (or configured without setup) knows every member so far.
        draft = replace(
            draft, roles=tuple(notifications.mark_known(draft.roles, draft.last_node_id))
        )
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
                    guest_app, event = guest(role.id, current) if guest else (app, CONFIGURE_ARGS)
                    own_role = guest_app.role(role.id) or app_role
                    own_package = own_role.config_package
                    # A live upgrade's event runs in place of --configure, with the new
                    # app's package fetched even where the last configure persisted.
                    upgrading = event != CONFIGURE_ARGS
                    steps.append(
                        (
                            r,
                            m,
                            current,
                            SetupSpec(
                                namespace=cluster.namespace,
                                package_url=own_package.package_url if own_package else None,
                                injections=injections,
                                max_log_size=own_role.max_log_size_dump,
                                configmeta=configmeta(draft, current),
                                generation=cluster.generation,
                                keep_configured=restarted
                                and not upgrading
                                and spec_role is not None
                                and spec_role.storage is not None,
                                configcli=(
                                    configcli_install.Layout.of(own_package)
                                    if own_package
                                    else None
                                ),
                                configure=upgrading or Event.CONFIGURE in own_role.event_list,
                                wait_for_journald=guest_app.systemd_required
                                and own_package is not None,
                                event=event,
                            ),
                        )
                    )

        def done(index: int, result: tuple[MemberStatus, float | None]) -> bool:
            r, m, before, _ = steps[index]
            stepped, again = result
            roles[r][m] = stepped
            if again is not None:
                outcome.requeue_after.append(again)
            milestone = setup_milestone(before, stepped)
            if milestone is not None:
                crashpoint.reached(milestone)
            return milestone is not None

        def left_to_caller() -> None:
            # Recorded by the caller (see the module's crash safety), not here.
            outcome.unrecorded = True

        try:
            _run_all(
                [partial(self.runner.step, member, spec) for _, _, member, spec in steps],
                done,
                left_to_caller,
                batch=ALL_COMPLETED,
            )
        except Exception:
            if outcome.unrecorded:  # the pass will not get to its own write
                checkpoint(_with_members(draft, roles))
            raise
        outcome.roles = list(_with_members(draft, roles).roles)
        return outcome

    def notify(
        self,
        cluster: Cluster,
        draft: ClusterStatus,
        configmeta: ConfigmetaFor,
        checkpoint: Checkpoint,
        *,
        unrecorded: bool = False,
    ) -> StepOutcome:
        """Deliver each configured member's first pending command, members side by side.
        `unrecorded`: `draft` holds setup progress no status has yet; it is written
        before the first delivery."""
        outcome = StepOutcome(roles=[])
        roles = [list(role.members) for role in draft.roles]
        due = [
            (r, m)
            for r, role in enumerate(draft.roles)
            for m, member in enumerate(role.members)
            if member.state == MemberState.CONFIGURED
            and _running(member)
            and member.state_detail.pending_notify_cmds
        ]

        if due and unrecorded:
            checkpoint(draft)

        def send(member: MemberStatus) -> tuple[MemberStatus, float | None, str | None]:
            return self.runner.notify(
                member, namespace=cluster.namespace, configmeta=configmeta(draft, member)
            )

        def done(index: int, result: tuple[MemberStatus, float | None, str | None]) -> bool:
            r, m = due[index]
            before = roles[r][m]
            told, again, error = result
            roles[r][m] = told
            if error:
                outcome.notify_errors.append(f"{told.pod}: {error}")
            if again is not None:
                outcome.requeue_after.append(again)
            elif told.state_detail.pending_notify_cmds:
                outcome.requeue_after.append(0.1)
            changed = (
                told.state_detail.pending_notify_cmds != before.state_detail.pending_notify_cmds
            )
            if changed and error is None:
                crashpoint.reached(crashpoint.NOTIFIED)
            return changed

        _run_all(
            [partial(send, roles[r][m]) for r, m in due],
            done,
            lambda: checkpoint(_with_members(draft, roles)),
            batch=FIRST_COMPLETED,
        )
        outcome.roles = list(_with_members(draft, roles).roles)
        return outcome
