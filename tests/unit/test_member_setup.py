"""MemberSetup: what an exec did is in the status before the next exec (a setup round
left to the pass's own write unless a notification follows, each notification written
as it is back), the crash hook fires before that write, and notifications run side by
side (fake executor)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import pytest

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.constants import MemberState
from kubedirector.api.status import ClusterStatus, MemberStateDetail, MemberStatus, RoleStatus
from kubedirector.reconcilers.member_setup import MemberSetup
from kubedirector.setup import crashpoint, scripts
from kubedirector.setup.executor import ExecResult
from kubedirector.setup.runner import SetupRunner
from tests.unit.fake_exec import Call, FakeExec
from tests.unit.kd_fixtures import spark_app, spark_cluster

ADD = ("--addnodes", "--nodegroup", "1", "--role", "worker", "--fqdns", "w-9.x")
APP = App.from_dict(spark_app())
CLUSTER = Cluster.from_dict(spark_cluster(), None, APP)


@dataclass
class GuestSim(FakeExec):
    """Answers the setup scripts as a guest would: start ok, poll as told, notify ok.
    `notify_barrier`, when set, makes each notification wait for the others."""

    poll_answer: str = f"{scripts.MARK_DONE} 0\n"
    notify_barrier: threading.Barrier | None = None
    scripts_run: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, call: Call) -> ExecResult:
        kind = (
            "start"
            if "--configure" in call.script
            else "poll"
            if scripts.MARK_DONE in call.script
            else "notify"
        )
        with self.lock:
            self.scripts_run.append((call.pod, kind))
        if kind == "poll":
            return ExecResult(0, self.poll_answer, "")
        if kind == "notify" and self.notify_barrier is not None:
            self.notify_barrier.wait(timeout=10)  # broken (raises) unless run side by side
        return ExecResult(0, "", "")


def member(
    pod: str, node_id: int, state: str, *cmds: tuple[str, ...], run_id: str | None = None
) -> MemberStatus:
    detail = MemberStateDetail(
        configuring_container=f"cid-{pod}",
        last_configured_container=(f"cid-{pod}" if state == MemberState.CONFIGURED else None),
        last_known_container_state="running",
        pending_notify_cmds=tuple(cmds),
    )
    if run_id is not None:
        detail = replace(detail, setup=replace(detail.setup, run_id=run_id))
    return MemberStatus(pod=pod, service=pod, node_id=node_id, state=state, state_detail=detail)


def draft(*workers: MemberStatus) -> ClusterStatus:
    return ClusterStatus(
        cluster_service="kdhs",
        last_node_id=9,
        roles=(RoleStatus(id="worker", stateful_set="w", members=workers),),
    )


def configmeta(_status: ClusterStatus, m: MemberStatus) -> str:
    return f'{{"for": "{m.pod}"}}'


def by_pod(status: ClusterStatus) -> dict[str, MemberStatus]:
    return {m.pod: m for r in status.roles for m in r.members}


def test_the_started_runs_of_a_round_are_left_to_the_passs_own_write() -> None:
    """Starts are safe to repeat: with no notification after them, the round is not
    written here but handed back, unrecorded, for the pass's status write."""
    guest = GuestSim()
    saved: list[ClusterStatus] = []
    pods = [f"w-{i}" for i in range(5)]
    out = MemberSetup(SetupRunner(guest)).setup(
        CLUSTER,
        APP,
        draft(*(member(p, i + 1, MemberState.CREATING) for i, p in enumerate(pods))),
        configmeta,
        saved.append,
    )
    assert saved == [] and out.unrecorded
    members = {m.pod: m for m in out.roles[0].members}
    assert sorted(p for p, m in members.items() if m.state_detail.setup.run_id) == pods
    for m in members.values():
        assert m.state_detail.notify.known_node_id == 9  # what its configmeta names


def test_an_unrecorded_round_is_written_before_the_first_notification() -> None:
    """A delivery is not safe to repeat, and what the round did must be saved before
    any further exec: one write with the round's progress comes first."""
    guest = GuestSim()
    saved: list[ClusterStatus] = []
    execs_before: list[int] = []
    started = member("w-0", 1, MemberState.CREATING, run_id="cid-w-0")
    pending = draft(started, member("w-1", 2, MemberState.CONFIGURED, ADD))

    def checkpoint(status: ClusterStatus) -> None:
        saved.append(status)
        execs_before.append(len(guest.scripts_run))

    MemberSetup(SetupRunner(guest)).notify(
        CLUSTER, pending, configmeta, checkpoint, unrecorded=True
    )
    first, delivered = saved
    assert first == pending and execs_before == [0, 1]  # the round's, before any delivery
    assert by_pod(delivered)["w-1"].state_detail.pending_notify_cmds == ()
    assert guest.scripts_run == [("w-1", "notify")]


def test_an_unrecorded_round_with_nothing_to_deliver_adds_no_write() -> None:
    guest = GuestSim()
    saved: list[ClusterStatus] = []
    setup = MemberSetup(SetupRunner(guest))
    setup.notify(
        CLUSTER, draft(member("w-1", 2, MemberState.CONFIGURED, ADD)), configmeta, saved.append
    )
    assert len(saved) == 1  # the delivery's own
    setup.notify(
        CLUSTER,
        draft(member("w-1", 2, MemberState.CONFIGURED)),
        configmeta,
        saved.append,
        unrecorded=True,
    )
    assert len(saved) == 1  # nothing to deliver: the pass's own write records the round


def test_a_round_with_a_failed_step_still_records_the_others() -> None:
    """A step that raises does not lose what the other steps of the round did."""

    @dataclass
    class Failing(GuestSim):
        def run(self, namespace: str, pod: str, script: str, **kw: object) -> ExecResult:
            if pod == "w-1":
                raise RuntimeError("boom")
            return super().run(namespace, pod, script)

    saved: list[ClusterStatus] = []
    with pytest.raises(RuntimeError, match="boom"):
        MemberSetup(SetupRunner(Failing())).setup(
            CLUSTER,
            APP,
            draft(*(member(f"w-{i}", i + 1, MemberState.CREATING) for i in range(3))),
            configmeta,
            saved.append,
        )
    (written,) = saved
    started = sorted(p for p, m in by_pod(written).items() if m.state_detail.setup.run_id)
    assert started == ["w-0", "w-2"]


def test_a_poll_still_running_leaves_nothing_to_record_a_finished_one_does() -> None:
    guest = GuestSim(poll_answer=f"{scripts.MARK_RUNNING}\n")
    saved: list[ClusterStatus] = []
    setup = MemberSetup(SetupRunner(guest))
    started = member("w-0", 1, MemberState.CREATING, run_id="cid-w-0")
    assert not setup.setup(CLUSTER, APP, draft(started), configmeta, saved.append).unrecorded
    guest.poll_answer = f"{scripts.MARK_DONE} 0\n"
    out = setup.setup(CLUSTER, APP, draft(started), configmeta, saved.append)
    assert out.unrecorded and out.roles[0].members[0].state == MemberState.CONFIGURED
    assert saved == []


class CrashedError(Exception):
    pass


@pytest.mark.parametrize(
    ("point", "start"),
    [
        (crashpoint.SETUP_STARTED, member("w-0", 1, MemberState.CREATING)),
        (crashpoint.SETUP_ENDED, member("w-0", 1, MemberState.CREATING, run_id="cid-w-0")),
        (crashpoint.NOTIFIED, member("w-0", 1, MemberState.CONFIGURED, ADD)),
    ],
)
def test_the_crash_hook_fires_after_the_exec_and_before_the_write(
    monkeypatch: pytest.MonkeyPatch, point: str, start: MemberStatus
) -> None:
    def exit_now(code: int) -> None:
        raise CrashedError(code)

    monkeypatch.setenv(crashpoint.CRASH_ENV, point)
    monkeypatch.setattr(crashpoint.os, "_exit", exit_now)
    guest = GuestSim()
    saved: list[ClusterStatus] = []
    setup = MemberSetup(SetupRunner(guest))
    with pytest.raises(CrashedError):
        if point == crashpoint.NOTIFIED:
            setup.notify(CLUSTER, draft(start), configmeta, saved.append)
        else:
            setup.setup(CLUSTER, APP, draft(start), configmeta, saved.append)
    assert len(guest.scripts_run) == 1  # the exec ran ...
    assert saved == []  # ... and its status write did not


def test_unknown_crash_point_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown crash point"):
        crashpoint.reached("nowhere")


def test_notifications_run_side_by_side_each_written_when_delivered() -> None:
    guest = GuestSim(notify_barrier=threading.Barrier(3))
    saved: list[ClusterStatus] = []
    members = [member(f"w-{i}", i + 1, MemberState.CONFIGURED, ADD) for i in range(3)]
    out = MemberSetup(SetupRunner(guest)).notify(CLUSTER, draft(*members), configmeta, saved.append)
    assert out.notify_errors == []
    assert all(m.state_detail.pending_notify_cmds == () for m in out.roles[0].members)
    told = [sum(not m.state_detail.pending_notify_cmds for m in by_pod(s).values()) for s in saved]
    # Each write adds what came back since the last one; the last has all three.
    assert told == sorted(set(told)) and told[-1] == 3


def test_a_delivered_notification_is_written_before_a_slow_one_is_back() -> None:
    """Deliveries are not safe to repeat: one is recorded without waiting for the others."""
    release = threading.Event()
    saved: list[ClusterStatus] = []

    @dataclass
    class Slow(GuestSim):
        def run(self, namespace: str, pod: str, script: str, **kw: object) -> ExecResult:
            if pod == "w-1":
                assert release.wait(timeout=10)
            return super().run(namespace, pod, script)

    def checkpoint(status: ClusterStatus) -> None:
        saved.append(status)
        release.set()  # the slow one comes back only after the first write

    members = [member(f"w-{i}", i + 1, MemberState.CONFIGURED, ADD) for i in range(2)]
    MemberSetup(SetupRunner(Slow())).notify(CLUSTER, draft(*members), configmeta, checkpoint)
    told = [
        sorted(p for p, m in by_pod(s).items() if not m.state_detail.pending_notify_cmds)
        for s in saved
    ]
    assert told == [["w-0"], ["w-0", "w-1"]]


@dataclass
class Recorder(FakeExec):
    """Records every script sent and answers exit 0."""

    sent: list[str] = field(default_factory=list)

    def answer(self, call: Call) -> ExecResult:
        self.sent.append(call.script)
        return ExecResult(0, "", "")


def test_the_apps_event_list_and_systemd_reach_the_start_script() -> None:
    """A role whose eventList lacks `configure` is configured after the unpack, without
    a startscript run; a systemd app's start waits for journald."""
    doc = spark_app()
    doc["spec"]["systemdRequired"] = True
    for role in doc["spec"]["roles"]:
        role["eventList"] = ["addnodes"]
    app = App.from_dict(doc)
    guest = Recorder()
    out = MemberSetup(SetupRunner(guest)).setup(
        Cluster.from_dict(spark_cluster(), None, app),
        app,
        draft(member("w-1", 1, MemberState.CREATING)),
        configmeta,
        lambda _s: None,
    )
    (script,) = guest.sent
    assert "systemctl status systemd-journald" in script
    assert "--configure" not in script
    assert out.roles[0].members[0].state == MemberState.CONFIGURED


def test_no_journald_wait_without_a_setup_package() -> None:
    """As in the original, a role without a package (here: only a file injection) is
    not held back by the systemd gate."""
    doc = spark_app()
    doc["spec"]["systemdRequired"] = True
    doc["spec"].pop("defaultConfigPackage", None)
    for role in doc["spec"]["roles"]:
        role["configPackage"] = None
    app = App.from_dict(doc)
    cluster_doc = spark_cluster()
    for role in cluster_doc["spec"]["roles"]:
        role["fileInjections"] = [{"srcURL": "file:///a.conf", "destDir": "/etc"}]
    guest = Recorder()
    MemberSetup(SetupRunner(guest)).setup(
        Cluster.from_dict(cluster_doc, None, app),
        app,
        draft(member("w-1", 1, MemberState.CREATING)),
        configmeta,
        lambda _s: None,
    )
    (script,) = guest.sent
    assert "systemctl" not in script
    assert "a.conf" in script
