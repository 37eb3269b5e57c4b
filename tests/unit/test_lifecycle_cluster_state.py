"""Cluster state, member rollup, member summary and conditions (api.md section 1, status)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubedirector.api.constants import ClusterState, ContainerState, MemberState
from kubedirector.api.status import (
    Condition,
    MemberStateDetail,
    MemberStateRollup,
    MemberStatus,
    NotifyProgress,
    SetupProgress,
)
from kubedirector.lifecycle.cluster_state import (
    SpecProblem,
    cluster_state,
    conditions,
    member_summary,
    rollup,
)
from kubedirector.lifecycle.members import advance_member

STS = "spark221e2-worker-bcdfg"
T0 = "2026-11-27T07:00:00Z"
T1 = "2026-11-27T08:00:00Z"
T2 = "2026-11-27T09:00:00Z"
LIVE_STATES = (
    MemberState.CREATE_PENDING,
    MemberState.CREATING,
    MemberState.CONFIGURED,
    MemberState.CONFIG_ERROR,
)
LEAVING_STATES = (MemberState.DELETE_PENDING, MemberState.DELETING)
PENDING_STATES = (MemberState.CREATE_PENDING, MemberState.CREATING, *LEAVING_STATES)
ROLLUP_FLAGS = tuple(f.name for f in fields(MemberStateRollup))


def m(
    ordinal: int,
    state: str = MemberState.CONFIGURED,
    container: str | None = ContainerState.RUNNING,
    *,
    sched: str | None = None,
    notify: NotifyProgress | None = None,
    setup: SetupProgress | None = None,
) -> MemberStatus:
    return MemberStatus(
        pod=f"{STS}-{ordinal}",
        service=f"{STS}-{ordinal}",
        node_id=ordinal + 1,
        state=state,
        state_detail=MemberStateDetail(
            last_known_container_state=container,
            scheduling_error_message=sched,
            notify=notify or NotifyProgress(),
            setup=setup or SetupProgress(),
        ),
    )


def failing(ordinal: int, error: str = "exit 1", failures: int = 2) -> MemberStatus:
    """A configured member whose pending notification keeps failing."""
    return m(ordinal, notify=NotifyProgress(failures=failures, last_error=error))


def true_flags(r: MemberStateRollup) -> set[str]:
    return {name for name in ROLLUP_FLAGS if getattr(r, name)}


def by_type(conds: tuple[Condition, ...]) -> dict[str, Condition]:
    return {c.type: c for c in conds}


def conds(
    state: str,
    members: list[MemberStatus],
    *,
    problem: SpecProblem | None = None,
    previous: tuple[Condition, ...] = (),
    generation: int = 3,
    now: str = T1,
) -> dict[str, Condition]:
    out = conditions(
        previous=previous,
        generation=generation,
        state=ClusterState(state),
        members=members,
        problem=problem,
        now=now,
    )
    assert [c.type for c in out] == ["Ready", "Progressing", "Degraded"]
    return by_type(out)


def summary(c: Condition) -> tuple[str, str]:
    return c.status, c.reason


# ---------------------------------------------------------------- rollup


def test_rollup_of_no_members_is_all_false() -> None:
    assert rollup([]) == MemberStateRollup()
    assert true_flags(rollup([])) == set()


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (m(0, MemberState.CREATE_PENDING, None), {"membership_changing", "members_waiting"}),
        (
            m(0, MemberState.CREATE_PENDING, ContainerState.WAITING),
            {"membership_changing", "members_waiting"},
        ),
        (
            m(0, MemberState.CREATE_PENDING, ContainerState.WAITING, sched="0/3 nodes"),
            {"membership_changing", "members_waiting", "members_not_scheduled"},
        ),
        (m(0, MemberState.CREATING), {"members_initializing"}),
        (
            m(0, MemberState.CREATING, ContainerState.WAITING),
            {"members_initializing", "members_restarting"},
        ),
        (m(0, MemberState.CONFIGURED), set()),
        (m(0, MemberState.CONFIGURED, ContainerState.ABSENT), {"members_down"}),
        (m(0, MemberState.CONFIGURED, ContainerState.TERMINATED), {"members_down"}),
        (m(0, MemberState.CONFIGURED, None), {"members_down"}),
        (
            m(0, MemberState.CONFIGURED, ContainerState.WAITING),
            {"members_down", "members_restarting"},
        ),
        (m(0, MemberState.CONFIGURED, ContainerState.INITIALIZING), {"members_down"}),
        (m(0, MemberState.CONFIG_ERROR), {"config_errors"}),
        (m(0, MemberState.CONFIG_ERROR, ContainerState.ABSENT), {"config_errors", "members_down"}),
        (m(0, MemberState.DELETE_PENDING), {"membership_changing"}),
        (m(0, MemberState.DELETING, ContainerState.ABSENT), {"membership_changing"}),
        (m(0, MemberState.DELETING, ContainerState.TERMINATED), {"membership_changing"}),
    ],
)
def test_rollup_flags_for_one_member(member: MemberStatus, expected: set[str]) -> None:
    assert true_flags(rollup([member])) == expected


def test_rollup_of_a_mixed_cluster() -> None:
    r = rollup([m(0), m(1, MemberState.CREATE_PENDING, None), m(2, MemberState.CONFIG_ERROR)])
    assert r == MemberStateRollup(
        membership_changing=True, members_waiting=True, config_errors=True
    )
    assert r.to_dict() == {
        "membershipChanging": True,
        "membersDown": False,
        "membersInitializing": False,
        "membersWaiting": True,
        "membersRestarting": False,
        "configErrors": True,
        "membersNotScheduled": False,
    }


member_strategy = st.builds(
    m,
    st.integers(0, 20),
    st.sampled_from(list(MemberState)),
    st.one_of(st.none(), st.sampled_from(list(ContainerState))),
    sched=st.one_of(st.none(), st.just(""), st.just("0/1 nodes are available")),
    notify=st.sampled_from([NotifyProgress(), NotifyProgress(failures=3, last_error="x")]),
    setup=st.sampled_from(
        [SetupProgress(), SetupProgress(exec_failures=2, last_exec_error="refused")]
    ),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(a=st.lists(member_strategy, max_size=6), b=st.lists(member_strategy, max_size=6))
def test_rollup_is_the_or_of_its_parts(a: list[MemberStatus], b: list[MemberStatus]) -> None:
    assert true_flags(rollup(a + b)) == true_flags(rollup(a)) | true_flags(rollup(b))
    assert true_flags(rollup(a)) == set().union(*(true_flags(rollup([x])) for x in a))


# ---------------------------------------------------------------- cluster_state


@pytest.mark.parametrize("previous", ["", ClusterState.CREATING])
@pytest.mark.parametrize("pending", PENDING_STATES)
def test_creating_until_first_configured(previous: str, pending: str) -> None:
    assert cluster_state(previous, [m(0), m(1, pending)]) == ClusterState.CREATING


@pytest.mark.parametrize("previous", [ClusterState.CONFIGURED, ClusterState.UPDATING])
@pytest.mark.parametrize("pending", PENDING_STATES)
def test_updating_after_first_configured(previous: str, pending: str) -> None:
    assert cluster_state(previous, [m(0), m(1, pending)]) == ClusterState.UPDATING


@pytest.mark.parametrize("previous", ["", *ClusterState])
@pytest.mark.parametrize(
    "members",
    [
        [],
        [m(0)],
        [m(0), m(1, MemberState.CONFIG_ERROR)],
        [m(0, MemberState.CONFIG_ERROR)],
        [m(0, MemberState.CONFIGURED, ContainerState.ABSENT)],
    ],
    ids=["empty", "configured", "mixed", "config-error", "down"],
)
def test_configured_when_settled(previous: str, members: list[MemberStatus]) -> None:
    assert cluster_state(previous, members) == ClusterState.CONFIGURED


def test_cluster_state_through_a_lifetime() -> None:
    state = ""
    history = []
    for members in (
        [m(0, MemberState.CREATE_PENDING, None)],
        [m(0, MemberState.CREATING)],
        [m(0)],
        [m(0), m(1, MemberState.CREATE_PENDING, None)],
        [m(0), m(1)],
        [m(0), m(1, MemberState.DELETE_PENDING)],
        [m(0), m(1, MemberState.DELETING, ContainerState.ABSENT)],
        [m(0)],
    ):
        state = cluster_state(state, members)
        history.append(str(state))
    assert history == [
        "creating",
        "creating",
        "configured",
        "updating",
        "configured",
        "updating",
        "updating",
        "configured",
    ]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(previous=st.sampled_from(["", *ClusterState]), members=st.lists(member_strategy, max_size=8))
def test_cluster_state_rule(previous: str, members: list[MemberStatus]) -> None:
    state = cluster_state(previous, members)
    pending = any(x.state in PENDING_STATES for x in members)
    if not pending:
        assert state == ClusterState.CONFIGURED
    elif previous in (ClusterState.CONFIGURED, ClusterState.UPDATING, ClusterState.PAUSED):
        assert state == ClusterState.UPDATING
    else:
        assert state == ClusterState.CREATING


@given(previous=st.sampled_from(["", *ClusterState]), members=st.lists(member_strategy, max_size=8))
def test_paused_whatever_the_members(previous: str, members: list[MemberStatus]) -> None:
    assert cluster_state(previous, members, paused=True) == ClusterState.PAUSED


def test_resumed_cluster_is_updating_while_members_restart() -> None:
    assert cluster_state("paused", [m(0, MemberState.CREATING)]) == ClusterState.UPDATING
    assert cluster_state("paused", [m(0)]) == ClusterState.CONFIGURED


# ---------------------------------------------------------------- member_summary


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([], "0/0"),
        ([m(0), m(1), m(2)], "3/3"),
        ([m(0), m(1, MemberState.CREATE_PENDING, None), m(2, MemberState.CREATING)], "1/3"),
        ([m(0), m(1, MemberState.CONFIG_ERROR)], "1/2"),
        ([m(0), m(1, MemberState.CONFIGURED, ContainerState.WAITING)], "1/2"),
        ([m(0), m(1, MemberState.CONFIGURED, None)], "1/2"),
        ([m(0), m(1, MemberState.DELETE_PENDING), m(2, MemberState.DELETING)], "1/1"),
        ([m(0, MemberState.DELETING, ContainerState.ABSENT)], "0/0"),
    ],
)
def test_member_summary(members: list[MemberStatus], expected: str) -> None:
    assert member_summary(members) == expected


@settings(max_examples=200, deadline=None, derandomize=True)
@given(members=st.lists(member_strategy, max_size=10))
def test_member_summary_counts(members: list[MemberStatus]) -> None:
    ready, total = (int(x) for x in member_summary(members).split("/"))
    live = [x for x in members if x.state in LIVE_STATES]
    assert total == len(live)
    assert ready == sum(
        x.state == MemberState.CONFIGURED and x.state_detail.last_known_container_state == "running"
        for x in live
    )


# ---------------------------------------------------------------- conditions


def test_conditions_when_everything_is_configured_and_running() -> None:
    c = conds("configured", [m(0), m(1)])
    assert summary(c["Ready"]) == ("True", "MembersConfigured")
    assert c["Ready"].message == "all 2 members are configured"
    assert summary(c["Progressing"]) == ("False", "Stable")
    assert summary(c["Degraded"]) == ("False", "AsExpected")


def test_ready_with_no_members() -> None:
    assert summary(conds("configured", [])["Ready"]) == ("True", "MembersConfigured")


def test_conditions_while_creating() -> None:
    c = conds("creating", [m(0), m(1, MemberState.CREATE_PENDING, None)])
    assert summary(c["Ready"]) == ("False", "MembersNotReady")
    assert c["Ready"].message == "1/2 members configured and running"
    assert summary(c["Progressing"]) == ("True", "MembershipChanging")
    assert c["Progressing"].message == "cluster is creating"
    assert summary(c["Degraded"]) == ("False", "AsExpected")


def test_conditions_while_updating() -> None:
    c = conds("updating", [m(0), m(1), m(2, MemberState.DELETE_PENDING)])
    assert summary(c["Ready"]) == ("False", "MembersNotReady")
    assert c["Ready"].message == "2/2 members configured and running"
    assert summary(c["Progressing"]) == ("True", "MembershipChanging")
    assert c["Progressing"].message == "cluster is updating"


def test_pausing_progresses_until_every_pod_is_gone() -> None:
    c = conds(
        "paused", [m(0, container=ContainerState.ABSENT), m(1, container=ContainerState.TERMINATED)]
    )
    assert summary(c["Ready"]) == ("False", "Paused")
    assert summary(c["Progressing"]) == ("True", "Pausing")
    assert c["Progressing"].message == "1 member pods still stopping"
    assert summary(c["Degraded"]) == ("False", "Paused"), "stopped members are not down"


def test_paused_is_neither_ready_progressing_nor_degraded() -> None:
    c = conds(
        "paused",
        [
            m(0, container=ContainerState.ABSENT),
            m(1, MemberState.CONFIG_ERROR, ContainerState.ABSENT),
        ],
    )
    assert {k: summary(v) for k, v in c.items()} == {
        "Ready": ("False", "Paused"),
        "Progressing": ("False", "Paused"),
        "Degraded": ("False", "Paused"),
    }


def test_a_spec_problem_outranks_paused() -> None:
    c = conds(
        "paused",
        [m(0, container=ContainerState.ABSENT)],
        problem=SpecProblem("InvalidSpec", "spec.app: missing"),
    )
    assert summary(c["Degraded"]) == ("True", "InvalidSpec")


def test_not_ready_unless_state_is_configured_even_if_members_are() -> None:
    for state in ("creating", "updating"):
        assert conds(state, [m(0)])["Ready"].status == "False"


def test_member_down_is_degraded_and_not_ready() -> None:
    c = conds(
        "configured",
        [
            m(0),
            m(1, MemberState.CONFIGURED, ContainerState.WAITING),
            m(2, MemberState.CONFIGURED, ContainerState.ABSENT),
        ],
    )
    assert summary(c["Ready"]) == ("False", "MembersNotReady")
    assert c["Ready"].message == "1/3 members configured and running"
    assert summary(c["Degraded"]) == ("True", "MembersDown")
    assert c["Degraded"].message == f"members down: {STS}-1, {STS}-2"
    assert summary(c["Progressing"]) == ("False", "Stable")


def test_config_error_is_degraded_and_wins_over_down() -> None:
    c = conds(
        "configured",
        [
            m(0, MemberState.CONFIGURED, ContainerState.ABSENT),
            m(1, MemberState.CONFIG_ERROR),
            m(2, MemberState.CONFIG_ERROR),
        ],
    )
    assert summary(c["Ready"]) == ("False", "MembersNotReady")
    assert summary(c["Degraded"]) == ("True", "ConfigError")
    assert c["Degraded"].message == f"members in config error: {STS}-1, {STS}-2"


def test_leaving_members_neither_degrade_nor_block_ready_counts() -> None:
    members = [
        m(0),
        m(1, MemberState.DELETING, ContainerState.ABSENT),
        m(2, MemberState.DELETE_PENDING, ContainerState.WAITING),
    ]
    c = conds("updating", members)
    assert summary(c["Degraded"]) == ("False", "AsExpected")
    assert c["Ready"].message == "1/1 members configured and running"


def test_creating_members_are_not_down() -> None:
    c = conds(
        "creating",
        [
            m(0, MemberState.CREATING, ContainerState.WAITING),
            m(1, MemberState.CREATE_PENDING, ContainerState.ABSENT),
        ],
    )
    assert summary(c["Degraded"]) == ("False", "AsExpected")


def test_failing_notifications_are_degraded() -> None:
    c = conds("configured", [m(0), failing(1, "exit 4"), failing(2, "gave up: exit 5")])
    assert summary(c["Degraded"]) == ("True", "NotifyFailing")
    assert c["Degraded"].message == (
        f"notifications failing: {STS}-1: exit 4; {STS}-2: gave up: exit 5"
    )
    assert summary(c["Ready"]) == ("True", "MembersConfigured")


def test_notification_failures_rank_below_config_errors_and_down_members() -> None:
    down = m(0, MemberState.CONFIGURED, ContainerState.ABSENT)
    assert conds("configured", [down, failing(1)])["Degraded"].reason == "MembersDown"
    error = m(0, MemberState.CONFIG_ERROR)
    assert conds("configured", [error, failing(1)])["Degraded"].reason == "ConfigError"


def test_failing_setup_execs_are_degraded_naming_the_member() -> None:
    stuck = m(
        1,
        MemberState.CREATING,
        setup=SetupProgress(exec_failures=3, last_exec_error="cannot poll: refused"),
    )
    c = conds("creating", [m(0), stuck])["Degraded"]
    assert (c.status, c.reason) == ("True", "SetupFailing")
    assert f"{STS}-1: cannot poll: refused" in c.message
    assert (
        conds("creating", [m(0, MemberState.CONFIG_ERROR), stuck])["Degraded"].reason
        == "ConfigError"
    )
    assert conds("creating", [stuck, failing(0)])["Degraded"].reason == "SetupFailing"


def test_no_notification_failures_is_not_degraded() -> None:
    members = [m(0), m(1, notify=NotifyProgress(last_error="old"))]
    assert conds("configured", members)["Degraded"].status == "False"


def test_spec_problem_is_degraded_and_not_ready() -> None:
    problem = SpecProblem("InvalidSpec", "spec.app: no KubeDirectorApp 'nope'")
    c = conds("configured", [m(0), m(1)], problem=problem)
    assert summary(c["Ready"]) == ("False", "InvalidSpec")
    assert c["Ready"].message == problem.message
    assert summary(c["Degraded"]) == ("True", "InvalidSpec")
    assert c["Degraded"].message == problem.message
    assert summary(c["Progressing"]) == ("False", "Stable")


def test_spec_problem_on_a_new_cluster() -> None:
    c = conds("creating", [], problem=SpecProblem("InvalidSpec", "role 'x' is not in the app"))
    assert summary(c["Ready"]) == ("False", "InvalidSpec")
    assert summary(c["Degraded"]) == ("True", "InvalidSpec")
    assert c["Progressing"].status == "False"


def test_observed_generation_on_every_condition() -> None:
    c = conds("configured", [m(0)], generation=17)
    assert {x.observed_generation for x in c.values()} == {17}
    problem = conds("creating", [], generation=4, problem=SpecProblem("InvalidSpec", "x"))
    assert {x.observed_generation for x in problem.values()} == {4}


def test_new_conditions_take_now_as_transition_time() -> None:
    c = conds("configured", [m(0)], now=T1)
    assert {x.last_transition_time for x in c.values()} == {T1}


def test_transition_time_kept_while_status_unchanged() -> None:
    first = tuple(conds("creating", [m(0, MemberState.CREATE_PENDING, None)], now=T0).values())
    # still not ready, still progressing, not degraded: reasons/messages may change, times not
    second = conds("updating", [m(0), m(1, MemberState.CONFIG_ERROR)], previous=first, now=T1)
    assert second["Ready"].last_transition_time == T0
    assert second["Progressing"].last_transition_time == T0
    assert second["Progressing"].message == "cluster is updating"
    assert second["Degraded"].status == "True"
    assert second["Degraded"].last_transition_time == T1


def test_transition_time_changes_with_status() -> None:
    first = tuple(conds("creating", [m(0, MemberState.CREATING)], now=T0).values())
    second = conds("configured", [m(0)], previous=first, now=T1)
    assert second["Ready"].status == "True"
    assert second["Ready"].last_transition_time == T1
    assert second["Progressing"].status == "False"
    assert second["Progressing"].last_transition_time == T1
    assert second["Degraded"].last_transition_time == T0
    third = conds("configured", [m(0)], previous=tuple(second.values()), now=T2)
    assert {x.last_transition_time for x in third.values()} == {T1, T0}
    assert third["Ready"].last_transition_time == T1


def test_previous_conditions_of_other_types_do_not_leak_times() -> None:
    other = Condition(
        type="Available", status="True", reason="x", message="y", last_transition_time=T0
    )
    c = conds("configured", [m(0)], previous=(other,), now=T1)
    assert {x.last_transition_time for x in c.values()} == {T1}


def test_conditions_serialise_with_observed_generation() -> None:
    ready = conds("configured", [m(0)], generation=2)["Ready"]
    assert ready.to_dict() == {
        "type": "Ready",
        "status": "True",
        "reason": "MembersConfigured",
        "message": "all 1 members are configured",
        "lastTransitionTime": T1,
        "observedGeneration": 2,
    }


condition_strategy = st.builds(
    Condition,
    type=st.sampled_from(["Ready", "Progressing", "Degraded"]),
    status=st.sampled_from(["True", "False", "Unknown"]),
    reason=st.just("Old"),
    message=st.just("old"),
    last_transition_time=st.just(T0),
    observed_generation=st.integers(0, 5),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    state=st.sampled_from(list(ClusterState)),
    members=st.lists(member_strategy, max_size=8),
    previous=st.lists(condition_strategy, max_size=3, unique_by=lambda c: c.type),
    problem=st.one_of(st.none(), st.just(SpecProblem("InvalidSpec", "bad"))),
    generation=st.integers(1, 50),
)
def test_condition_rules(
    state: ClusterState,
    members: list[MemberStatus],
    previous: list[Condition],
    problem: SpecProblem | None,
    generation: int,
) -> None:
    c = conds(
        state, members, problem=problem, previous=tuple(previous), generation=generation, now=T1
    )
    live = [x for x in members if x.state in LIVE_STATES]

    def running(x: MemberStatus) -> bool:
        return x.state_detail.last_known_container_state == "running"

    ready = (
        problem is None
        and state == ClusterState.CONFIGURED
        and all(x.state == MemberState.CONFIGURED and running(x) for x in live)
    )
    assert c["Ready"].status == ("True" if ready else "False")
    if state == ClusterState.PAUSED and problem is None:
        stopping = any(x.state_detail.last_known_container_state != "absent" for x in members)
        assert c["Progressing"].status == ("True" if stopping else "False")
        assert c["Degraded"].status == "False", "a paused cluster's members are not down"
        return
    assert c["Progressing"].status == (
        "True" if problem is None and state != ClusterState.CONFIGURED else "False"
    )
    degraded = (
        problem is not None
        or any(
            x.state == MemberState.CONFIG_ERROR
            or (x.state == MemberState.CONFIGURED and not running(x))
            for x in live
        )
        or any(x.state_detail.notify.failures for x in members)
        or any(x.state == MemberState.CREATING and x.state_detail.setup.exec_failures for x in live)
    )
    assert c["Degraded"].status == ("True" if degraded else "False")
    if ready:
        # Only a notification failing (delivery to a ready member) may degrade a ready cluster.
        assert c["Degraded"].status == "False" or c["Degraded"].reason == "NotifyFailing"
        assert c["Progressing"].status == "False"
    before = {p.type: p for p in previous}
    for ctype, cond in c.items():
        kept = ctype in before and before[ctype].status == cond.status
        assert cond.last_transition_time == (T0 if kept else T1)
        assert cond.observed_generation == generation
        assert cond.reason and cond.message


# ---------------------------------------------------------------- together


def running_pod(uid: str, cid: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "uid": uid},
        "status": {
            "containerStatuses": [
                {"name": "app", "containerID": cid, "state": {"running": {"startedAt": T0}}}
            ]
        },
    }


def test_status_summary_through_creation_and_a_restart() -> None:
    """advance_member feeding cluster_state and conditions as the reconciler does."""
    members = [m(i, MemberState.CREATE_PENDING, None) for i in range(2)]
    state = ""
    previous: tuple[Condition, ...] = ()
    seen = []
    pods: list[dict[str, Any] | None] = [None, None]
    for step, now in enumerate((T0, T1, T2, "2026-11-27T10:00:00Z")):
        if step == 1:
            pods = [running_pod("u0", "c0"), None]
        elif step == 2:
            pods = [running_pod("u0", "c0"), running_pod("u1", "c1")]
        elif step == 3:
            pods = [running_pod("u0", "c0"), running_pod("u1", "c1-restarted")]
        members = [advance_member(x, p, False) for x, p in zip(members, pods, strict=True)]
        state = cluster_state(state, members)
        previous = conditions(
            previous=previous, generation=1, state=state, members=members, problem=None, now=now
        )
        seen.append((str(state), member_summary(members), by_type(previous)["Ready"].status))
    assert seen == [
        ("creating", "0/2", "False"),
        ("creating", "1/2", "False"),
        ("configured", "2/2", "True"),
        ("configured", "2/2", "True"),
    ]
    ready = by_type(previous)["Ready"]
    assert ready.last_transition_time == T2
    assert members[1].state_detail.last_configured_container == "c1-restarted"


def test_setup_package_keeps_the_cluster_creating() -> None:
    members = [
        advance_member(m(0, MemberState.CREATE_PENDING, None), running_pod("u0", "c0"), True)
    ]
    state = cluster_state("", members)
    c = by_type(
        conditions(previous=(), generation=1, state=state, members=members, problem=None, now=T0)
    )
    assert state == ClusterState.CREATING
    assert rollup(members) == replace(MemberStateRollup(), members_initializing=True)
    assert summary(c["Ready"]) == ("False", "MembersNotReady")
    assert summary(c["Progressing"]) == ("True", "MembershipChanging")
