"""Advance app setup inside members one short step at a time.

A reconcile never waits for a setup: it starts `--configure` in the background
(one quick exec), and later reconciles poll it (another quick exec each),
asking to be requeued meanwhile.  Every exec has a timeout.

Config errors are retried, unlike the original (which waited for a container
restart): after `RETRY_BASE` seconds, doubling up to `RETRY_MAX`, at most
`RETRY_LIMIT` automatic attempts; a changed cluster spec (generation) retries
at once.  Each attempt has its own run id (`<container>` then
`<container>#<n>`), the key of its line in configure.status.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import structlog

from kubedirector.api.cluster import FileInjection
from kubedirector.api.constants import MemberState
from kubedirector.api.status import MemberStateDetail, MemberStatus
from kubedirector.lifecycle.notifications import NOTIFY_ERROR, NOTIFY_FAILURES
from kubedirector.metrics.registry import SETUP_DURATION, SETUP_RUNS
from kubedirector.setup import configcli_install, scripts
from kubedirector.setup.executor import ExecError, GuestExecutor

log = structlog.get_logger(__name__)
POLL_INTERVAL = 2.0
EXEC_RETRY = 5.0
START_MARGIN = 30.0
RETRY_BASE = 30.0
RETRY_MAX = 600.0
RETRY_LIMIT = 5
NOTIFY_RETRY_BASE = 5.0
NOTIFY_RETRY_MAX = 300.0
NOTIFY_LIMIT = 5

# Keys this module keeps in stateDetail beside the API's fields.
RUN_ID = "setupRunId"
STARTED_AT = "setupStartedAt"
ATTEMPT = "setupAttempt"
RETRY_AT = "setupRetryAt"
ERROR_GENERATION = "configErrorGeneration"


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


def _now(clock: Callable[[], float]) -> str:
    return datetime.datetime.fromtimestamp(clock(), datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _seconds(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC).timestamp()


def _with(detail: MemberStateDetail, **extra: object) -> MemberStateDetail:
    merged = {k: v for k, v in (detail.extra | extra).items() if v is not None}
    return replace(detail, extra=merged)


class SetupRunner:
    """Runs the setup steps of api.md section 4 through a GuestExecutor."""

    def __init__(self, executor: GuestExecutor, clock: Callable[[], float] = time.time) -> None:
        self.executor = executor
        self.clock = clock

    def step(self, member: MemberStatus, spec: SetupSpec) -> tuple[MemberStatus, float | None]:
        """One step for a `creating` member whose container runs: (member, requeue after)."""
        detail = member.state_detail
        identity = detail.configuring_container or ""
        attempt = int(detail.extra.get(ATTEMPT, 0))
        run_id = identity if attempt == 0 else f"{identity}#{attempt}"
        if detail.extra.get(RUN_ID) != run_id:
            return self._start(member, spec, run_id)
        return self._poll(member, spec, run_id)

    def _start(self, member: MemberStatus, spec: SetupSpec,
               run_id: str) -> tuple[MemberStatus, float | None]:
        script = scripts.start_configure(configmeta=spec.configmeta,
                                         package_url=spec.package_url, run_id=run_id,
                                         injections=spec.injections,
                                         keep_configured=spec.keep_configured,
                                         configcli=spec.configcli)
        try:
            # Long enough for every fetch (each curl has its own --max-time): an exec
            # given up on early would leave its fetch running beside the next attempt's.
            result = self.executor.run(spec.namespace, member.pod, script, timeout=(
                scripts.FETCH_TIMEOUT * (1 + len(spec.injections)) + START_MARGIN))
        except ExecError as e:
            detail = replace(member.state_detail, config_error_detail=f"waiting to start app "
                             f"setup: {e}")
            return replace(member, state_detail=detail), EXEC_RETRY
        if result.exit_code != 0:
            SETUP_RUNS.labels(result="error").inc()
            return self._config_error(
                member, spec, f"app setup could not start (exit status {result.exit_code}): "
                f"{result.stderr.strip()[-spec.max_log_size:]}",
                stdout=result.stdout, stderr=result.stderr), None
        detail = _with(replace(member.state_detail, config_error_detail=None),
                       **{RUN_ID: run_id, STARTED_AT: _now(self.clock)})
        log.info("setup_started", member=member.pod, run_id=run_id)
        return replace(member, state_detail=detail), POLL_INTERVAL

    def _poll(self, member: MemberStatus, spec: SetupSpec,
              run_id: str) -> tuple[MemberStatus, float | None]:
        try:
            result = self.executor.run(spec.namespace, member.pod, scripts.poll_configure(
                run_id=run_id, max_chars=spec.max_log_size))
        except ExecError as e:
            detail = replace(member.state_detail, config_error_detail=f"cannot poll app "
                             f"setup: {e}")
            return replace(member, state_detail=detail), EXEC_RETRY
        polled = scripts.parse_poll(result.stdout)
        started = _seconds(member.state_detail.extra.get(STARTED_AT)) or self.clock()
        if polled.running:
            running_for = int(self.clock() - started)
            detail = replace(member.state_detail,
                             config_error_detail=f"app setup (--configure) running for "
                             f"{running_for}s")
            return replace(member, state_detail=detail), POLL_INTERVAL
        SETUP_DURATION.observe(max(0.0, self.clock() - started))
        if polled.exit_code == 0:
            SETUP_RUNS.labels(result="success").inc()
            detail = _with(replace(
                member.state_detail, config_error_detail=None,
                last_configured_container=member.state_detail.configuring_container,
                start_script_stdout_message=polled.stdout[-spec.max_log_size:] or None,
                start_script_stderr_message=polled.stderr[-spec.max_log_size:] or None,
                last_setup_generation=spec.generation),
                **{ATTEMPT: None, RETRY_AT: None, ERROR_GENERATION: None})
            log.info("setup_configured", member=member.pod)
            return replace(member, state=MemberState.CONFIGURED, state_detail=detail), None
        SETUP_RUNS.labels(result="error").inc()
        return self._config_error(
            member, spec, f"app setup (--configure) exited with status {polled.exit_code}",
            stdout=polled.stdout, stderr=polled.stderr), None

    def _config_error(self, member: MemberStatus, spec: SetupSpec, message: str, *,
                      stdout: str, stderr: str) -> MemberStatus:
        attempt = int(member.state_detail.extra.get(ATTEMPT, 0))
        retry_at = None
        if attempt < RETRY_LIMIT:
            delay = min(RETRY_MAX, RETRY_BASE * 2 ** attempt)
            retry_at = _now(lambda: self.clock() + delay)
        detail = _with(replace(
            member.state_detail, config_error_detail=message,
            start_script_stdout_message=stdout[-spec.max_log_size:] or None,
            start_script_stderr_message=stderr[-spec.max_log_size:] or None),
            **{RETRY_AT: retry_at, ERROR_GENERATION: spec.generation})
        log.warning("setup_config_error", member=member.pod, message=message)
        return replace(member, state=MemberState.CONFIG_ERROR, state_detail=detail)

    def retry_due(self, member: MemberStatus, generation: int) -> tuple[bool, float | None]:
        """Whether a `config error` member should run setup again now, else when to look."""
        detail = member.state_detail
        if detail.extra.get(ERROR_GENERATION) not in (None, generation):
            return True, None
        retry_at = _seconds(detail.extra.get(RETRY_AT))
        if retry_at is None:
            return False, None
        wait = retry_at - self.clock()
        return (True, None) if wait <= 0 else (False, wait)

    @staticmethod
    def retried(member: MemberStatus) -> MemberStatus:
        """The member sent back to `creating` for its next setup attempt."""
        detail = member.state_detail
        attempt = int(detail.extra.get(ATTEMPT, 0)) + 1
        detail = _with(replace(detail, config_error_detail=None),
                       **{ATTEMPT: attempt, RETRY_AT: None, ERROR_GENERATION: None})
        return replace(member, state=MemberState.CREATING, state_detail=detail)

    def notify(self, member: MemberStatus, *, namespace: str,
               configmeta: str) -> tuple[MemberStatus, float | None, str | None]:
        """Run the member's first pending notification: (member, requeue after, error)."""
        detail = member.state_detail
        args = detail.pending_notify_cmds[0]
        what = f"startscript {' '.join(args)}" if args else "configmeta refresh"
        failures = int(detail.extra.get(NOTIFY_FAILURES, 0))
        if failures >= NOTIFY_LIMIT:
            failures = 0  # the count of a command given up on (kept for Degraded)
        try:
            result = self.executor.run(namespace, member.pod, scripts.notify(
                configmeta=configmeta, arguments=args), timeout=scripts.NOTIFY_TIMEOUT + 10)
            error = None if result.exit_code == 0 else (
                f"{what} exited with status {result.exit_code}: "
                f"{result.stderr.strip()[-256:]}")
        except ExecError as e:
            error = f"{what}: {e}"
        if error is None:
            detail = _with(replace(detail, pending_notify_cmds=detail.pending_notify_cmds[1:]),
                           **{NOTIFY_FAILURES: None})
            return replace(member, state_detail=detail), None, None
        failures += 1
        if failures >= NOTIFY_LIMIT:
            detail = _with(replace(detail, pending_notify_cmds=detail.pending_notify_cmds[1:]),
                           **{NOTIFY_FAILURES: failures, NOTIFY_ERROR: f"gave up: {error}"})
            return replace(member, state_detail=detail), None, error
        detail = _with(detail, **{NOTIFY_FAILURES: failures, NOTIFY_ERROR: error})
        delay = min(NOTIFY_RETRY_MAX, NOTIFY_RETRY_BASE * 2 ** (failures - 1))
        return replace(member, state_detail=detail), delay, error
