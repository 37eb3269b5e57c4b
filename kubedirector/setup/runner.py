"""Advance app setup inside members one short step at a time.

A reconcile never waits for a setup: it starts `--configure` in the background
(one quick exec), and later reconciles poll it (another quick exec each),
asking to be requeued meanwhile.  Every exec has a timeout, and so has the
configure run itself (`SetupTimeouts.configure`): one that overruns is stopped
and becomes a config error.

Config errors are retried, unlike the original (which waited for a container
restart): after `RETRY_BASE` seconds, doubling up to `RETRY_MAX`, at most
`RETRY_LIMIT` automatic attempts; a changed cluster spec (generation) retries
at once.  Each attempt has its own run id (`<container>` then
`<container>#<n>`), the key of its lines in configure.status.  An exec that
fails (no exit code) is retried with backoff (`EXEC_RETRY_BASE` doubling to
`EXEC_RETRY_MAX`) and counted in `SetupProgress.exec_failures`, which surfaces
as `Degraded`/`SetupFailing`.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import structlog

from kubedirector.api.cluster import FileInjection
from kubedirector.api.constants import CONFIGURE_ARGS, MemberState
from kubedirector.api.status import MemberStatus, SetupProgress
from kubedirector.metrics.registry import SETUP_DURATION, SETUP_RUNS
from kubedirector.setup import configcli_install, scripts
from kubedirector.setup.executor import ExecError, ScriptRunner

log = structlog.get_logger(__name__)
POLL_INTERVAL = 2.0
EXEC_RETRY_BASE = 5.0
EXEC_RETRY_MAX = 300.0
START_MARGIN = 30.0
RETRY_BASE = 30.0
RETRY_MAX = 600.0
RETRY_LIMIT = 5
NOTIFY_RETRY_BASE = 5.0
NOTIFY_RETRY_MAX = 300.0
NOTIFY_LIMIT = 5


@dataclass(frozen=True)
class SetupTimeouts:
    """How long each guest phase may take, in seconds."""

    fetch: float = scripts.FETCH_TIMEOUT  # each download (package, file injection)
    configure: float = 3600.0  # the whole `--configure` run, from its start
    notify: float = scripts.NOTIFY_TIMEOUT  # one `--addnodes/--delnodes/--reconnect`
    journald: float = 600.0  # systemd apps: for systemd-journald to come up, first look on

    def __post_init__(self) -> None:
        for name in ("fetch", "configure", "notify", "journald"):
            if getattr(self, name) <= 0:
                raise ValueError(f"the {name} timeout must be more than 0 seconds")


@dataclass(frozen=True)
class SetupSpec:
    """What setting up one member needs, beyond the member itself."""

    namespace: str
    package_url: str | None
    injections: Sequence[FileInjection]
    max_log_size: int
    configmeta: str
    generation: int
    keep_configured: bool = False
    configcli: configcli_install.Layout | None = None
    configure: bool = True  # the role's eventList holds `configure`
    wait_for_journald: bool = False  # the app is `systemdRequired`
    event: tuple[str, ...] = CONFIGURE_ARGS  # the startscript's arguments

    @property
    def event_name(self) -> str:
        return self.event[0]


def _now(clock: Callable[[], float]) -> str:
    return datetime.datetime.fromtimestamp(clock(), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return (
        datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
        .replace(tzinfo=datetime.UTC)
        .timestamp()
    )


def _setup(member: MemberStatus, progress: SetupProgress) -> MemberStatus:
    """The member with its setup progress replaced."""
    return replace(member, state_detail=replace(member.state_detail, setup=progress))


def _exec_retry(failures: int) -> float:
    return min(EXEC_RETRY_MAX, EXEC_RETRY_BASE * 2 ** max(0, failures - 1))


class SetupRunner:
    """Runs the setup steps of api.md section 4 through an executor (GuestExecutor)."""

    def __init__(
        self,
        executor: ScriptRunner,
        clock: Callable[[], float] = time.time,
        timeouts: SetupTimeouts | None = None,
    ) -> None:
        self.executor = executor
        self.clock = clock
        self.timeouts = timeouts or SetupTimeouts()

    def step(self, member: MemberStatus, spec: SetupSpec) -> tuple[MemberStatus, float | None]:
        """One step for a `creating` member whose container runs: (member, requeue after)."""
        progress = member.state_detail.setup
        identity = member.state_detail.configuring_container or ""
        run_id = identity if progress.attempt == 0 else f"{identity}#{progress.attempt}"
        if progress.run_id != run_id:
            return self._start(member, spec, run_id)
        return self._poll(member, spec, run_id)

    def _exec_failed(
        self, member: MemberStatus, what: str, error: ExecError
    ) -> tuple[MemberStatus, float]:
        """An exec that brought no exit code: try again later, counting the failures."""
        failures = member.state_detail.setup.exec_failures + 1
        message = f"{what}: {error}"
        log.warning("setup_exec_failed", member=member.pod, failures=failures, error=str(error))
        progress = replace(
            member.state_detail.setup, exec_failures=failures, last_exec_error=message
        )
        member = _setup(member, progress)
        detail = replace(member.state_detail, config_error_detail=message)
        return replace(member, state_detail=detail), _exec_retry(failures)

    def _start(
        self, member: MemberStatus, spec: SetupSpec, run_id: str
    ) -> tuple[MemberStatus, float | None]:
        fetch = self.timeouts.fetch
        script = scripts.start_configure(
            configmeta=spec.configmeta,
            package_url=spec.package_url,
            run_id=run_id,
            injections=spec.injections,
            keep_configured=spec.keep_configured,
            configure=spec.configure,
            wait_for_journald=spec.wait_for_journald,
            fetch_timeout=fetch,
            configcli=spec.configcli,
            event=spec.event,
        )
        try:
            # Long enough for every fetch (each curl has its own --max-time): an exec
            # given up on early would leave its fetch running beside the next attempt's.
            result = self.executor.run(
                spec.namespace,
                member.pod,
                script,
                timeout=fetch * (1 + len(spec.injections)) + START_MARGIN,
            )
        except ExecError as e:
            return self._exec_failed(member, "waiting to start app setup", e)
        if spec.wait_for_journald and result.exit_code == scripts.NOT_READY_EXIT:
            return self._journald_not_up(member, spec)
        if result.exit_code == 0 and not spec.configure:
            # The role's eventList lacks `configure`: unpacked, nothing to run.
            SETUP_RUNS.labels(result="success").inc()
            log.info("setup_configured", member=member.pod, configure_event=False)
            return self._configured(
                _setup(
                    member,
                    replace(member.state_detail.setup, exec_failures=0, last_exec_error=None),
                ),
                spec,
                scripts.ConfigureResult(running=False, exit_code=0),
            ), None
        if result.exit_code != 0:
            SETUP_RUNS.labels(result="error").inc()
            return self._config_error(
                _setup(
                    member,
                    replace(member.state_detail.setup, exec_failures=0, last_exec_error=None),
                ),
                spec,
                f"app setup could not start (exit status {result.exit_code}): "
                f"{result.stderr.strip()[-spec.max_log_size :]}",
                stdout=result.stdout,
                stderr=result.stderr,
            ), None
        member = _setup(
            member,
            replace(
                member.state_detail.setup,
                run_id=run_id,
                started_at=_now(self.clock),
                exec_failures=0,
                last_exec_error=None,
            ),
        )
        member = replace(
            member, state_detail=replace(member.state_detail, config_error_detail=None)
        )
        log.info("setup_started", member=member.pod, run_id=run_id)
        return member, POLL_INTERVAL

    def _poll(
        self, member: MemberStatus, spec: SetupSpec, run_id: str
    ) -> tuple[MemberStatus, float | None]:
        try:
            result = self.executor.run(
                spec.namespace,
                member.pod,
                scripts.poll_configure(run_id=run_id, max_chars=spec.max_log_size),
            )
        except ExecError as e:
            return self._exec_failed(member, "cannot poll app setup", e)
        member = _setup(
            member, replace(member.state_detail.setup, exec_failures=0, last_exec_error=None)
        )
        polled = scripts.parse_poll(result.stdout)
        started = _seconds(member.state_detail.setup.started_at) or self.clock()
        running_for = self.clock() - started
        if polled.running and running_for < self.timeouts.configure:
            running = f"app setup ({spec.event_name}) running for {int(running_for)}s"
            detail = replace(member.state_detail, config_error_detail=running)
            return replace(member, state_detail=detail), POLL_INTERVAL
        SETUP_DURATION.observe(max(0.0, running_for))
        if polled.running:
            return self._overran(member, spec)
        if polled.exit_code == 0:
            SETUP_RUNS.labels(result="success").inc()
            log.info("setup_configured", member=member.pod)
            return self._configured(member, spec, polled), None
        SETUP_RUNS.labels(result="error").inc()
        return self._config_error(
            member,
            spec,
            f"app setup ({spec.event_name}) exited with status {polled.exit_code}",
            stdout=polled.stdout,
            stderr=polled.stderr,
        ), None

    @staticmethod
    def _configured(
        member: MemberStatus, spec: SetupSpec, polled: scripts.ConfigureResult
    ) -> MemberStatus:
        detail = replace(
            member.state_detail,
            config_error_detail=None,
            last_configured_container=member.state_detail.configuring_container,
            start_script_stdout_message=polled.stdout[-spec.max_log_size :] or None,
            start_script_stderr_message=polled.stderr[-spec.max_log_size :] or None,
            last_setup_generation=spec.generation,
            setup=replace(
                member.state_detail.setup, attempt=0, retry_at=None, error_generation=None
            ),
        )
        return replace(member, state=MemberState.CONFIGURED, state_detail=detail)

    def _journald_not_up(
        self, member: MemberStatus, spec: SetupSpec
    ) -> tuple[MemberStatus, float | None]:
        """systemd-journald is not up yet: look again shortly, as the original did,
        but only until the journald timeout (from the first look) has passed."""
        since = _seconds(member.state_detail.setup.started_at)
        if since is None:
            member = _setup(member, replace(member.state_detail.setup, started_at=_now(self.clock)))
            since = self.clock()
        waited = self.clock() - since
        member = _setup(
            member, replace(member.state_detail.setup, exec_failures=0, last_exec_error=None)
        )
        if waited >= self.timeouts.journald:
            SETUP_RUNS.labels(result="error").inc()
            return self._config_error(
                member,
                spec,
                f"systemd-journald did not come up within "
                f"{self.timeouts.journald:.0f}s (systemctl status systemd-journald)",
                stdout="",
                stderr="",
            ), None
        detail = replace(
            member.state_detail,
            config_error_detail=(f"waiting for systemd-journald before app setup ({int(waited)}s)"),
        )
        return replace(member, state_detail=detail), POLL_INTERVAL

    def _overran(self, member: MemberStatus, spec: SetupSpec) -> tuple[MemberStatus, float | None]:
        """`--configure` ran past its deadline: stop it, then it is a config error."""
        try:
            self.executor.run(spec.namespace, member.pod, scripts.stop_configure())
        except ExecError as e:
            return self._exec_failed(member, "cannot stop the overrunning app setup", e)
        SETUP_RUNS.labels(result="error").inc()
        return self._config_error(
            member,
            spec,
            f"app setup ({spec.event_name}) did not finish within "
            f"{self.timeouts.configure:.0f}s and was stopped",
            stdout="",
            stderr="",
        ), None

    def _config_error(
        self, member: MemberStatus, spec: SetupSpec, message: str, *, stdout: str, stderr: str
    ) -> MemberStatus:
        attempt = member.state_detail.setup.attempt
        retry_at = None
        if attempt < RETRY_LIMIT:
            delay = min(RETRY_MAX, RETRY_BASE * 2**attempt)
            retry_at = _now(lambda: self.clock() + delay)
        member = _setup(
            member,
            replace(member.state_detail.setup, retry_at=retry_at, error_generation=spec.generation),
        )
        detail = replace(
            member.state_detail,
            config_error_detail=message,
            start_script_stdout_message=stdout[-spec.max_log_size :] or None,
            start_script_stderr_message=stderr[-spec.max_log_size :] or None,
        )
        log.warning("setup_config_error", member=member.pod, message=message)
        return replace(member, state=MemberState.CONFIG_ERROR, state_detail=detail)

    def retry_due(self, member: MemberStatus, generation: int) -> tuple[bool, float | None]:
        """Whether a `config error` member should run setup again now, else when to look."""
        progress = member.state_detail.setup
        if progress.error_generation not in (None, generation):
            return True, None
        retry_at = _seconds(progress.retry_at)
        if retry_at is None:
            return False, None
        wait = retry_at - self.clock()
        return (True, None) if wait <= 0 else (False, wait)

    @staticmethod
    def retried(member: MemberStatus) -> MemberStatus:
        """The member sent back to `creating` for its next setup attempt."""
        progress = member.state_detail.setup
        member = _setup(
            member,
            replace(
                progress,
                attempt=progress.attempt + 1,
                retry_at=None,
                error_generation=None,
                started_at=None,
            ),
        )
        detail = replace(member.state_detail, config_error_detail=None)
        return replace(member, state=MemberState.CREATING, state_detail=detail)

    def notify(
        self, member: MemberStatus, *, namespace: str, configmeta: str
    ) -> tuple[MemberStatus, float | None, str | None]:
        """Run the member's first pending notification: (member, requeue after, error)."""
        detail = member.state_detail
        args = detail.pending_notify_cmds[0]
        what = f"startscript {' '.join(args)}" if args else "configmeta refresh"
        failures = detail.notify.failures
        if failures >= NOTIFY_LIMIT:
            failures = 0  # the count of a command given up on (kept for Degraded)
        timeout = self.timeouts.notify
        try:
            result = self.executor.run(
                namespace,
                member.pod,
                scripts.notify(configmeta=configmeta, arguments=args, timeout=timeout),
                timeout=timeout + 10,
            )
            error = (
                None
                if result.exit_code == 0
                else (
                    f"{what} exited with status {result.exit_code}: {result.stderr.strip()[-256:]}"
                )
            )
        except ExecError as e:
            error = f"{what}: {e}"
        if error is None:
            detail = replace(
                detail,
                pending_notify_cmds=detail.pending_notify_cmds[1:],
                notify=replace(detail.notify, failures=0, last_error=None),
            )
            return replace(member, state_detail=detail), None, None
        failures += 1
        if failures >= NOTIFY_LIMIT:
            detail = replace(
                detail,
                pending_notify_cmds=detail.pending_notify_cmds[1:],
                notify=replace(detail.notify, failures=failures, last_error=f"gave up: {error}"),
            )
            return replace(member, state_detail=detail), None, error
        detail = replace(detail, notify=replace(detail.notify, failures=failures, last_error=error))
        delay = min(NOTIFY_RETRY_MAX, NOTIFY_RETRY_BASE * 2 ** (failures - 1))
        return replace(member, state_detail=detail), delay, error
