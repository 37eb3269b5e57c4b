"""SetupRunner: setup steps, config-error retries and notifications through a fake executor."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypedDict

import pytest

from kubedirector.api.cluster import FileInjection
from kubedirector.api.constants import APP_CONTAINER_NAME, MemberState
from kubedirector.api.fields import FieldReader
from kubedirector.api.status import MemberStateDetail, MemberStatus, NotifyProgress, SetupProgress
from kubedirector.setup import runner as runner_mod
from kubedirector.setup import scripts
from kubedirector.setup.executor import ExecError, ExecResult
from kubedirector.setup.runner import (
    EXEC_RETRY_BASE,
    EXEC_RETRY_MAX,
    NOTIFY_LIMIT,
    NOTIFY_RETRY_BASE,
    NOTIFY_RETRY_MAX,
    POLL_INTERVAL,
    RETRY_BASE,
    RETRY_LIMIT,
    RETRY_MAX,
    SetupRunner,
    SetupSpec,
    SetupTimeouts,
)
from tests.unit.fake_exec import Call, FakeExec
from tests.unit.guest_root import make_package, run_guest

# The progress keys as stored in stateDetail (SetupProgress, NotifyProgress).
RUN_ID = "setupRunId"
STARTED_AT = "setupStartedAt"
ATTEMPT = "setupAttempt"
RETRY_AT = "setupRetryAt"
ERROR_GENERATION = "configErrorGeneration"
EXEC_FAILURES = "setupExecFailures"
EXEC_ERROR = "setupExecError"
NOTIFY_FAILURES = "notifyFailures"
NOTIFY_ERROR = "lastNotifyError"

CID = "containerd://0123456789abcdef"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
NS = "apps"
POD = "spark221e2-worker-bcdfg-0"
ADD = ("--addnodes", "--nodegroup", "1", "--role", "worker", "--fqdns", "a.x,b.x")
DEL = ("--delnodes", "--nodegroup", "1", "--role", "worker", "--fqdns", "c.x")


# ---------------------------------------------------------------- fakes


@dataclass
class FakeExecutor(FakeExec):
    """Answers execs from a queue of results (or errors to raise), recording the calls."""

    answers: list[ExecResult | ExecError] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def answer(self, call: Call) -> ExecResult:
        assert call.script.rstrip().splitlines()[-1].startswith("exit")
        self.calls.append(call)
        assert self.answers, f"unexpected exec:\n{call.script}"
        answer = self.answers.pop(0)
        if isinstance(answer, ExecError):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ok(stdout: str = "", stderr: str = "", code: int = 0) -> ExecResult:
    return ExecResult(code, stdout, stderr)


RUNNING = ok(f"{scripts.MARK_RUNNING}\n")


def done(code: int, out: str = "", err: str = "") -> ExecResult:
    return ok(
        f"{scripts.MARK_DONE} {code}\n{scripts.MARK_STDOUT}\n{out}\n{scripts.MARK_STDERR}\n{err}\n"
    )


def progress(member: MemberStatus) -> dict[str, object]:
    """The member's setup and notification progress as stored."""
    return member.state_detail.setup.to_dict() | member.state_detail.notify.to_dict()


class _Progress(TypedDict):
    """The typed stateDetail fields the stored progress keys parse into."""

    setup: SetupProgress
    notify: NotifyProgress


def _typed(stored: dict[str, object]) -> _Progress:
    r = FieldReader()
    typed = _Progress(
        setup=SetupProgress.from_dict(r, stored, "stateDetail"),
        notify=NotifyProgress.from_dict(r, stored, "stateDetail"),
    )
    r.raise_if_failed()
    return typed


def stored_seconds(member: MemberStatus, key: str) -> float:
    """A time the member's progress holds, in epoch seconds."""
    stamp = progress(member)[key]
    assert isinstance(stamp, str)
    seconds = runner_mod._seconds(stamp)
    assert seconds is not None
    return seconds


def creating(**stored: object) -> MemberStatus:
    return MemberStatus(
        pod=POD,
        service=POD,
        node_id=3,
        state=MemberState.CREATING,
        state_detail=MemberStateDetail(
            configuring_container=CID, last_known_container_state="running", **_typed(stored)
        ),
    )


def configured(*cmds: tuple[str, ...], **stored: object) -> MemberStatus:
    return MemberStatus(
        pod=POD,
        service=POD,
        node_id=3,
        state=MemberState.CONFIGURED,
        state_detail=MemberStateDetail(
            configuring_container=CID,
            last_configured_container=CID,
            pending_notify_cmds=tuple(cmds),
            **_typed(stored),
        ),
    )


def setup_spec(
    max_log_size: int = 256, generation: int = 4, injections: tuple[FileInjection, ...] = ()
) -> SetupSpec:
    return SetupSpec(
        namespace=NS,
        package_url="file:///opt/configscripts/appconfig.tgz",
        injections=injections,
        max_log_size=max_log_size,
        configmeta='{"version": 7}',
        generation=generation,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def runner(fake: FakeExecutor, clock: Clock) -> SetupRunner:
    return SetupRunner(fake, clock)


def stamp(seconds: float) -> str:
    return runner_mod._now(lambda: seconds)


def run_to_config_error(
    runner: SetupRunner, fake: FakeExecutor, member: MemberStatus, code: int = 7
) -> MemberStatus:
    """Start and poll one attempt that ends with `code`."""
    fake.answers += [ok(), done(code, "out", "err")]
    member, again = runner.step(member, setup_spec())
    assert again == POLL_INTERVAL
    member, again = runner.step(member, setup_spec())
    assert again is None
    assert member.state == MemberState.CONFIG_ERROR
    return member


# ---------------------------------------------------------------- eventList, journald


def test_event_list_without_configure_is_configured_after_the_unpack(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    """The original unpacked the package and stopped there: no `--configure`, no poll."""
    fake.answers.append(ok())
    spec = replace(setup_spec(), configure=False)
    member, again = runner.step(creating(), spec)
    assert (member.state, again) == (MemberState.CONFIGURED, None)
    assert member.state_detail.last_configured_container == CID
    (call,) = fake.calls
    assert "--configure" not in call.script
    assert call.script == scripts.start_configure(
        configmeta='{"version": 7}',
        package_url="file:///opt/configscripts/appconfig.tgz",
        run_id=CID,
        configure=False,
    )


def test_journald_is_waited_for_then_setup_starts(
    runner: SetupRunner, fake: FakeExecutor, clock: Clock
) -> None:
    spec = replace(setup_spec(), wait_for_journald=True)
    fake.answers += [ok(code=scripts.NOT_READY_EXIT), ok(code=scripts.NOT_READY_EXIT), ok()]
    member, again = runner.step(creating(), spec)
    assert (member.state, again) == (MemberState.CREATING, POLL_INTERVAL)
    assert "systemd-journald" in (member.state_detail.config_error_detail or "")
    assert "systemctl status systemd-journald" in fake.calls[0].script
    clock.advance(30)
    member, again = runner.step(member, spec)
    assert progress(member) == {STARTED_AT: stamp(T0)}, "the wait counts from the first look"
    clock.advance(5)
    member, again = runner.step(member, spec)
    assert progress(member) == {RUN_ID: CID, STARTED_AT: stamp(T0 + 35)}
    assert member.state_detail.config_error_detail is None


def test_journald_that_never_comes_up_is_a_config_error(
    runner: SetupRunner, fake: FakeExecutor, clock: Clock
) -> None:
    spec = replace(setup_spec(), wait_for_journald=True)
    fake.answers += [ok(code=scripts.NOT_READY_EXIT)] * 2
    member, _ = runner.step(creating(), spec)
    clock.advance(SetupTimeouts().journald)
    member, again = runner.step(member, spec)
    assert (member.state, again) == (MemberState.CONFIG_ERROR, None)
    assert "systemd-journald did not come up" in (member.state_detail.config_error_detail or "")
    retried = runner.retried(member)
    assert retried.state_detail.setup.started_at is None, "the next attempt waits afresh"


def test_exit_92_is_an_error_when_journald_is_not_waited_for(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    fake.answers.append(ok(code=scripts.NOT_READY_EXIT))
    member, _ = runner.step(creating(), setup_spec())
    assert member.state == MemberState.CONFIG_ERROR


# ---------------------------------------------------------------- start, poll, done


def test_first_step_starts_the_configure_run(runner: SetupRunner, fake: FakeExecutor) -> None:
    fake.answers.append(ok())
    member, again = runner.step(creating(), setup_spec())
    assert again == POLL_INTERVAL
    assert member.state == MemberState.CREATING
    assert progress(member) == {RUN_ID: CID, STARTED_AT: stamp(T0)}
    assert member.state_detail.config_error_detail is None
    (call,) = fake.calls
    assert (call.namespace, call.pod, call.container) == (NS, POD, APP_CONTAINER_NAME)
    assert call.script == scripts.start_configure(
        configmeta='{"version": 7}',
        package_url="file:///opt/configscripts/appconfig.tgz",
        run_id=CID,
    )


def test_start_waits_long_enough_for_every_fetch(runner: SetupRunner, fake: FakeExecutor) -> None:
    """An exec abandoned during a slow fetch would restart it beside the running one."""
    injections = (FileInjection("https://e.x/a", "/etc"), FileInjection("https://e.x/b", "/etc"))
    fake.answers.append(ok())
    runner.step(creating(), setup_spec(injections=injections))
    assert fake.calls[0].timeout > 3 * scripts.FETCH_TIMEOUT


def test_poll_while_running_then_configured(
    runner: SetupRunner, fake: FakeExecutor, clock: Clock
) -> None:
    fake.answers += [ok(), RUNNING, RUNNING, done(0, "all good", "a warning")]
    member, _ = runner.step(creating(), setup_spec(generation=9))
    clock.advance(2)
    member, again = runner.step(member, setup_spec(generation=9))
    assert again == POLL_INTERVAL
    assert member.state == MemberState.CREATING
    assert member.state_detail.config_error_detail == "app setup (--configure) running for 2s"
    clock.advance(10.7)
    member, again = runner.step(member, setup_spec(generation=9))
    assert (again, member.state_detail.config_error_detail) == (
        POLL_INTERVAL,
        "app setup (--configure) running for 12s",
    )
    assert fake.calls[1].script == scripts.poll_configure(run_id=CID, max_chars=256)

    member, again = runner.step(member, setup_spec(generation=9))
    assert again is None
    assert member.state == MemberState.CONFIGURED
    d = member.state_detail
    assert d.last_configured_container == CID
    assert d.config_error_detail is None
    assert (d.start_script_stdout_message, d.start_script_stderr_message) == (
        "all good",
        "a warning",
    )
    assert d.last_setup_generation == 9
    assert progress(member) == {RUN_ID: CID, STARTED_AT: stamp(T0)}
    assert len(fake.calls) == 4


def test_configured_without_output_leaves_the_messages_unset(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    fake.answers += [ok(), done(0)]
    member, _ = runner.step(creating(), setup_spec())
    member, _ = runner.step(member, setup_spec())
    assert member.state == MemberState.CONFIGURED
    assert member.state_detail.start_script_stdout_message is None
    assert member.state_detail.start_script_stderr_message is None


def test_failed_configure_is_a_config_error_with_tails(
    runner: SetupRunner, fake: FakeExecutor, clock: Clock
) -> None:
    fake.answers += [ok(), done(7, "o" * 100 + "OUT-END", "e" * 100 + "ERR-END")]
    member, _ = runner.step(creating(), setup_spec(max_log_size=20, generation=5))
    member, again = runner.step(member, setup_spec(max_log_size=20, generation=5))
    assert again is None
    assert member.state == MemberState.CONFIG_ERROR
    d = member.state_detail
    assert d.config_error_detail == "app setup (--configure) exited with status 7"
    assert d.start_script_stdout_message == ("o" * 100 + "OUT-END")[-20:]
    assert d.start_script_stderr_message == ("e" * 100 + "ERR-END")[-20:]
    assert fake.calls[1].script == scripts.poll_configure(run_id=CID, max_chars=20)
    assert progress(member)[RETRY_AT] == stamp(T0 + RETRY_BASE)
    assert progress(member)[ERROR_GENERATION] == 5
    assert d.last_configured_container is None


def test_setup_that_cannot_start_is_a_config_error(runner: SetupRunner, fake: FakeExecutor) -> None:
    fake.answers.append(ok(code=95, stderr="setup package file:///x.tgz: no such file\n"))
    member, again = runner.step(creating(), setup_spec())
    assert again is None
    assert member.state == MemberState.CONFIG_ERROR
    assert member.state_detail.config_error_detail == (
        "app setup could not start (exit status 95): setup package file:///x.tgz: no such file"
    )
    assert RUN_ID not in progress(member)
    # its retry starts again, under the next run id
    fake.answers.append(ok())
    member, again = runner.step(SetupRunner.retried(member), setup_spec())
    assert again == POLL_INTERVAL
    assert progress(member)[RUN_ID] == f"{CID}#1"
    assert f"{CID}#1" in fake.calls[1].script


# ---------------------------------------------------------------- exec errors


def test_exec_error_at_start_keeps_the_member_creating(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    fake.answers.append(ExecError("exec into apps/pod failed: connection refused"))
    member, again = runner.step(creating(), setup_spec())
    assert again == EXEC_RETRY_BASE
    assert member.state == MemberState.CREATING
    assert member.state_detail.config_error_detail == (
        "waiting to start app setup: exec into apps/pod failed: connection refused"
    )
    assert RUN_ID not in progress(member)
    fake.answers.append(ok())
    member, again = runner.step(member, setup_spec())
    assert again == POLL_INTERVAL
    assert fake.calls[1].script == fake.calls[0].script
    assert member.state_detail.config_error_detail is None


def test_exec_error_while_polling_keeps_polling(runner: SetupRunner, fake: FakeExecutor) -> None:
    fake.answers += [ok(), ExecError("timed out after 30s"), done(0)]
    member, _ = runner.step(creating(), setup_spec())
    member, again = runner.step(member, setup_spec())
    assert again == EXEC_RETRY_BASE
    assert member.state == MemberState.CREATING
    assert member.state_detail.config_error_detail == "cannot poll app setup: timed out after 30s"
    assert progress(member)[RUN_ID] == CID
    member, again = runner.step(member, setup_spec())
    assert again is None
    assert member.state == MemberState.CONFIGURED
    assert fake.calls[2].script == fake.calls[1].script  # polled again, not restarted


def test_exec_errors_back_off_and_are_counted_until_one_works(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    """No exit code: retried later and later (capped), each failure counted and named, so
    the cluster can say `SetupFailing`; the first exec that works clears the count."""
    member = creating()
    delays = []
    for failures in range(1, 10):
        fake.answers.append(ExecError("connection refused"))
        member, again = runner.step(member, setup_spec())
        delays.append(again)
        assert progress(member)[EXEC_FAILURES] == failures
        assert progress(member)[EXEC_ERROR] == "waiting to start app setup: connection refused"
        assert RUN_ID not in progress(member)
    assert delays == [min(EXEC_RETRY_MAX, EXEC_RETRY_BASE * 2**n) for n in range(9)]
    assert delays[-1] == EXEC_RETRY_MAX
    fake.answers.append(ok())
    member, again = runner.step(member, setup_spec())
    assert again == POLL_INTERVAL
    assert progress(member) == {RUN_ID: CID, STARTED_AT: stamp(T0)}


def test_configure_past_its_deadline_is_stopped_and_a_config_error(
    fake: FakeExecutor, clock: Clock
) -> None:
    runner = SetupRunner(fake, clock, SetupTimeouts(configure=60))
    fake.answers += [ok(), RUNNING]
    member, _ = runner.step(creating(), setup_spec())
    clock.advance(59)
    member, again = runner.step(member, setup_spec())
    assert (member.state, again) == (MemberState.CREATING, POLL_INTERVAL)
    clock.advance(1)
    fake.answers += [RUNNING, ok()]
    member, again = runner.step(member, setup_spec())
    assert again is None
    assert member.state == MemberState.CONFIG_ERROR
    assert member.state_detail.config_error_detail == (
        "app setup (--configure) did not finish within 60s and was stopped"
    )
    assert fake.calls[-1].script == scripts.stop_configure()
    assert progress(member)[RETRY_AT] == stamp(clock.now + RETRY_BASE)


def test_timeouts_reach_the_guest_scripts(fake: FakeExecutor, clock: Clock) -> None:
    runner = SetupRunner(fake, clock, SetupTimeouts(fetch=7, notify=9))
    fake.answers += [ok(), ok()]
    runner.step(creating(), replace(setup_spec(), package_url="http://pkg.example/a.tgz"))
    assert "--max-time 7 " in fake.calls[0].script
    assert fake.calls[0].timeout == 7 + runner_mod.START_MARGIN
    runner.notify(configured(ADD), namespace=NS, configmeta="{}")
    assert "timeout -k 5 9 " in fake.calls[1].script
    assert fake.calls[1].timeout == 19
    with pytest.raises(ValueError, match="configure timeout"):
        SetupTimeouts(configure=0)


# ---------------------------------------------------------------- retries


def test_retries_back_off_and_stop_at_the_limit(
    runner: SetupRunner, fake: FakeExecutor, clock: Clock
) -> None:
    member = run_to_config_error(runner, fake, creating())
    retries = 0
    while True:
        attempt = member.state_detail.setup.attempt
        due, wait = runner.retry_due(member, generation=4)
        if wait is None:
            assert not due
            break
        delay = min(RETRY_MAX, RETRY_BASE * 2**attempt)
        assert (due, wait) == (False, delay)
        clock.advance(delay - 1)
        assert runner.retry_due(member, generation=4) == (False, 1)
        clock.advance(1)
        assert runner.retry_due(member, generation=4) == (True, None)
        member = SetupRunner.retried(member)
        retries += 1
        assert member.state == MemberState.CREATING
        assert progress(member)[ATTEMPT] == retries
        assert member.state_detail.config_error_detail is None
        assert RETRY_AT not in progress(member)
        member = run_to_config_error(runner, fake, member)
        assert progress(member)[RUN_ID] == f"{CID}#{retries}"
        assert f"{CID}#{retries}" in fake.calls[-2].script  # started under its own run id
    assert retries == RETRY_LIMIT
    assert RETRY_AT not in progress(member)
    clock.advance(10 * RETRY_MAX)
    assert runner.retry_due(member, generation=4) == (False, None)


def test_retry_delay_is_capped(
    runner: SetupRunner, fake: FakeExecutor, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_mod, "RETRY_LIMIT", 10)
    delays = []
    for attempt in range(10):
        member = run_to_config_error(runner, fake, creating(**{ATTEMPT: attempt}))
        delays.append(stored_seconds(member, RETRY_AT) - clock.now)
    assert delays == [min(RETRY_MAX, RETRY_BASE * 2**a) for a in range(10)]
    assert delays[-1] == RETRY_MAX


def test_a_new_generation_retries_at_once(runner: SetupRunner, fake: FakeExecutor) -> None:
    member = run_to_config_error(runner, fake, creating())
    assert runner.retry_due(member, generation=4) == (False, RETRY_BASE)
    assert runner.retry_due(member, generation=5) == (True, None)
    exhausted = run_to_config_error(runner, fake, creating(**{ATTEMPT: RETRY_LIMIT}))
    assert runner.retry_due(exhausted, generation=4) == (False, None)
    assert runner.retry_due(exhausted, generation=5) == (True, None)


def test_success_after_retries_forgets_them(runner: SetupRunner, fake: FakeExecutor) -> None:
    member = SetupRunner.retried(run_to_config_error(runner, fake, creating()))
    fake.answers += [ok(), done(0)]
    member, _ = runner.step(member, setup_spec())
    member, _ = runner.step(member, setup_spec())
    assert member.state == MemberState.CONFIGURED
    assert progress(member) == {RUN_ID: f"{CID}#1", STARTED_AT: stamp(T0)}


# ---------------------------------------------------------------- notifications


def test_notify_success_pops_the_command(runner: SetupRunner, fake: FakeExecutor) -> None:
    fake.answers.append(ok("told"))
    member, again, error = runner.notify(configured(ADD, DEL), namespace=NS, configmeta='{"v": 2}')
    assert (again, error) == (None, None)
    assert member.state_detail.pending_notify_cmds == (DEL,)
    (call,) = fake.calls
    assert call.script == scripts.notify(configmeta='{"v": 2}', arguments=ADD)
    assert call.timeout > scripts.NOTIFY_TIMEOUT
    assert (call.namespace, call.pod) == (NS, POD)


def test_notify_failure_keeps_the_command_with_backoff(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    member = configured(ADD, DEL)
    delays = []
    for failures in range(1, NOTIFY_LIMIT):
        fake.answers.append(ok(code=3, stderr="cannot reach a.x\n"))
        member, again, error = runner.notify(member, namespace=NS, configmeta="{}")
        assert error == f"startscript {' '.join(ADD)} exited with status 3: cannot reach a.x"
        assert member.state_detail.pending_notify_cmds == (ADD, DEL)
        assert progress(member)[NOTIFY_FAILURES] == failures
        assert progress(member)[NOTIFY_ERROR] == error
        delays.append(again)
    assert delays == [
        min(NOTIFY_RETRY_MAX, NOTIFY_RETRY_BASE * 2**n) for n in range(NOTIFY_LIMIT - 1)
    ]
    # the last allowed failure gives the command up
    fake.answers.append(ExecError("timed out after 70s"))
    member, again, error = runner.notify(member, namespace=NS, configmeta="{}")
    assert again is None
    assert error == f"startscript {' '.join(ADD)}: timed out after 70s"
    assert member.state_detail.pending_notify_cmds == (DEL,)
    assert progress(member)[NOTIFY_ERROR] == f"gave up: {error}"
    assert progress(member)[NOTIFY_FAILURES] == NOTIFY_LIMIT
    assert len(fake.calls) == NOTIFY_LIMIT


def test_next_command_gets_its_own_attempts_after_a_give_up(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    member = configured(
        DEL, **{NOTIFY_FAILURES: NOTIFY_LIMIT, NOTIFY_ERROR: "gave up: startscript --addnodes ..."}
    )
    fake.answers.append(ok(code=1))
    member, again, error = runner.notify(member, namespace=NS, configmeta="{}")
    assert error is not None
    assert member.state_detail.pending_notify_cmds == (DEL,)
    assert progress(member)[NOTIFY_FAILURES] == 1
    assert again == NOTIFY_RETRY_BASE


def test_notify_success_after_failures_clears_the_count(
    runner: SetupRunner, fake: FakeExecutor
) -> None:
    fake.answers += [ok(code=2), ok()]
    member, _, _ = runner.notify(configured(ADD), namespace=NS, configmeta="{}")
    assert progress(member)[NOTIFY_FAILURES] == 1
    member, again, error = runner.notify(member, namespace=NS, configmeta="{}")
    assert (again, error) == (None, None)
    assert member.state_detail.pending_notify_cmds == ()
    assert NOTIFY_FAILURES not in progress(member)


# ---------------------------------------------------------------- with real bash


@dataclass
class BashExecutor(FakeExec):
    """Runs the scripts with bash in a temp guest root, as the simulated cluster does."""

    root: Path

    def answer(self, call: Call) -> ExecResult:
        proc = run_guest(self.root, call.script, timeout=min(call.timeout, 10))
        return ExecResult(proc.returncode, proc.stdout, proc.stderr)


def test_setup_and_notify_in_a_real_guest(tmp_path: Path, clock: Clock) -> None:
    startscript = (
        '#!/bin/bash\necho "ran $*" >>"$KD_GUEST_ROOT/calls"\n'
        '[ "$1" = --configure ] && { echo set up; exit 0; }\nexit 0\n'
    )
    make_package(
        tmp_path / "opt/configscripts/appconfig.tgz", {"appconfig/startscript": startscript}
    )
    runner = SetupRunner(BashExecutor(tmp_path), clock)
    member, again = runner.step(creating(), setup_spec())
    assert again == POLL_INTERVAL
    for _ in range(100):
        member, again = runner.step(member, setup_spec())
        if again is None:
            break
        clock.advance(again)
    assert member.state == MemberState.CONFIGURED
    assert member.state_detail.start_script_stdout_message == "set up"
    member = replace(member, state_detail=replace(member.state_detail, pending_notify_cmds=(ADD,)))
    member, again, error = runner.notify(member, namespace=NS, configmeta="{}")
    assert (again, error, member.state_detail.pending_notify_cmds) == (None, None, ())
    assert (tmp_path / "calls").read_text() == f"ran --configure\nran {' '.join(ADD)}\n"
