"""The member state machine (api.md section 4): plan_role, advance_member and pod reading."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import ContainerState, MemberState
from kubedirector.api.status import (
    MemberStateDetail,
    MemberStatus,
    NotifyProgress,
    RoleStatus,
    SetupProgress,
)
from kubedirector.desired.statefulset import replicas_for
from kubedirector.lifecycle.members import (
    LEAVING,
    advance_member,
    container_identity,
    container_state,
    plan_role,
    role_has_setup,
    scheduling_error,
)
from kubedirector.lifecycle.notifications import release_leaving
from tests.unit.kd_fixtures import spark_app, spark_cluster

STS = "spark221e2-worker-bcdfg"
CID = "containerd://0123456789abcdef"
CID2 = "containerd://fedcba9876543210"
STARTED = "2026-11-27T07:00:00Z"


# ---------------------------------------------------------------- helpers


def parse_cluster(
    *,
    scheme: str | None = None,
    storage_role: str | None = None,
    app_doc: dict[str, Any] | None = None,
) -> Cluster:
    doc = spark_cluster()
    if scheme is not None:
        doc["spec"]["namingScheme"] = scheme
    if storage_role is not None:
        for role in doc["spec"]["roles"]:
            if role["id"] == storage_role:
                role["storage"] = {"size": "10Gi"}
    return Cluster.from_dict(doc, Config(), App.from_dict(app_doc or spark_app()))


def counter_tokens(prefix: str = "tok") -> tuple[Callable[[], str], list[str]]:
    """An auth token source that records what it handed out."""
    issued: list[str] = []
    numbers = itertools.count(1)

    def token() -> str:
        issued.append(f"{prefix}-{next(numbers)}")
        return issued[-1]

    return token, issued


def no_token() -> str | None:
    return None


def member(
    ordinal: int,
    state: str = MemberState.CONFIGURED,
    *,
    node_id: int | None = None,
    sts: str = STS,
    detail: MemberStateDetail | None = None,
) -> MemberStatus:
    return MemberStatus(
        pod=f"{sts}-{ordinal}",
        service=f"{sts}-{ordinal}",
        node_id=ordinal + 1 if node_id is None else node_id,
        state=state,
        state_detail=detail or MemberStateDetail(),
    )


def role_of(*members: MemberStatus, extra: dict[str, Any] | None = None) -> RoleStatus:
    return RoleStatus(id="worker", stateful_set=STS, members=tuple(members), extra=extra or {})


def plan(
    existing: RoleStatus | None,
    wanted: int,
    next_node_id: int = 1,
    *,
    cluster: Cluster | None = None,
    sts: str = STS,
    token: Callable[[], str | None] = no_token,
) -> tuple[RoleStatus, int]:
    return plan_role(
        cluster or parse_cluster(),
        "worker",
        statefulset=sts,
        existing=existing,
        wanted=wanted,
        next_node_id=next_node_id,
        auth_token=token,
    )


def make_pod(
    name: str = f"{STS}-0",
    *,
    uid: str = "pod-uid-1",
    container: str = "app",
    state: dict[str, Any] | None = None,
    container_id: str | None = CID,
    restart_count: int | None = 0,
    deleting: bool = False,
    init: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    statuses: bool = True,
) -> dict[str, Any]:
    """A pod as the informer cache holds it (raw JSON: unset keys are absent)."""
    meta: dict[str, Any] = {"name": name, "namespace": "apps", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-27T07:30:00Z"
    cstatus: dict[str, Any] = {
        "name": container,
        "state": {"running": {"startedAt": STARTED}} if state is None else state,
    }
    if container_id is not None:
        cstatus["containerID"] = container_id
    if restart_count is not None:
        cstatus["restartCount"] = restart_count
    status: dict[str, Any] = {"phase": "Running"}
    if statuses:
        status["containerStatuses"] = [cstatus]
    if init is not None:
        status["initContainerStatuses"] = init
    if conditions is not None:
        status["conditions"] = conditions
    return {"metadata": meta, "spec": {}, "status": status}


def running_pod(container_id: str | None = CID, **kw: Any) -> dict[str, Any]:
    return make_pod(container_id=container_id, **kw)


def waiting_pod(reason: str = "ContainerCreating", **kw: Any) -> dict[str, Any]:
    return make_pod(state={"waiting": {"reason": reason}}, container_id=None, **kw)


def unscheduled_pod(
    message: str | None = "0/3 nodes are available: 3 Insufficient cpu.",
    reason: str | None = "Unschedulable",
) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": "PodScheduled", "status": "False"}
    if message is not None:
        cond["message"] = message
    if reason is not None:
        cond["reason"] = reason
    pod = make_pod(statuses=False, conditions=[cond])
    pod["status"]["phase"] = "Pending"
    return pod


# ---------------------------------------------------------------- container_identity


def test_identity_is_the_container_id() -> None:
    assert container_identity(running_pod()) == CID


def test_identity_without_container_id_is_uid_restarts_and_start_time() -> None:
    """kwok's default stages report no containerID."""
    pod = running_pod(container_id=None, uid="u-42", restart_count=3)
    assert container_identity(pod) == f"u-42/3/{STARTED}"


def test_identity_with_empty_container_id_falls_back() -> None:
    assert container_identity(running_pod(container_id="", uid="u-1")) == f"u-1/0/{STARTED}"


def test_identity_fallback_defaults_restart_count_to_zero() -> None:
    pod = running_pod(container_id=None, uid="u-7", restart_count=None)
    assert container_identity(pod) == f"u-7/0/{STARTED}"


def test_identity_fallback_changes_with_each_restart_and_start_and_pod() -> None:
    base = container_identity(running_pod(container_id=None, uid="u"))
    restarted = container_identity(running_pod(container_id=None, uid="u", restart_count=1))
    recreated = container_identity(running_pod(container_id=None, uid="v"))
    later = running_pod(container_id=None, uid="u")
    later["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] = "2026-11-28T00:00Z"
    assert len({base, restarted, recreated, container_identity(later)}) == 4


@pytest.mark.parametrize(
    "pod",
    [
        None,
        waiting_pod(),
        make_pod(state={"terminated": {"exitCode": 1}}),
        make_pod(state={}),
        make_pod(statuses=False),
        make_pod(container="sidecar"),
    ],
    ids=["absent", "waiting", "terminated", "no-state", "no-statuses", "other-container"],
)
def test_no_identity_unless_the_app_container_runs(pod: dict[str, Any] | None) -> None:
    assert container_identity(pod) is None


def test_identity_picks_the_app_container_among_others() -> None:
    pod = running_pod()
    pod["status"]["containerStatuses"].insert(
        0,
        {
            "name": "sidecar",
            "containerID": "containerd://sidecar",
            "state": {"running": {"startedAt": STARTED}},
        },
    )
    assert container_identity(pod) == CID


# ---------------------------------------------------------------- container_state


def test_state_of_absent_pod() -> None:
    assert container_state(None) == ContainerState.ABSENT


def test_state_of_terminating_pod_even_if_still_running() -> None:
    assert container_state(running_pod(deleting=True)) == ContainerState.TERMINATED


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"running": {"startedAt": STARTED}}, ContainerState.RUNNING),
        ({"waiting": {"reason": "CrashLoopBackOff"}}, ContainerState.WAITING),
        ({"waiting": {"reason": "ContainerCreating"}}, ContainerState.WAITING),
        ({"terminated": {"exitCode": 137}}, ContainerState.TERMINATED),
        ({}, ContainerState.UNKNOWN),
    ],
)
def test_state_of_app_container(state: dict[str, Any], expected: ContainerState) -> None:
    assert container_state(make_pod(state=state)) == expected


def test_state_without_container_statuses_is_waiting() -> None:
    assert container_state(make_pod(statuses=False)) == ContainerState.WAITING


def test_state_while_init_containers_run_before_app_status_exists() -> None:
    init = [{"name": "storage-init", "state": {"running": {"startedAt": STARTED}}}]
    assert container_state(make_pod(statuses=False, init=init)) == ContainerState.INITIALIZING


def test_state_while_kubelet_reports_pod_initializing() -> None:
    """A real kubelet shows the app container `waiting: PodInitializing` during init."""
    init = [{"name": "storage-init", "state": {"running": {"startedAt": STARTED}}}]
    pod = waiting_pod("PodInitializing", init=init)
    assert container_state(pod) == ContainerState.INITIALIZING


def test_state_ignores_other_containers() -> None:
    pod = make_pod(container="sidecar")
    assert container_state(pod) == ContainerState.WAITING


def test_state_values_are_api_strings() -> None:
    assert str(container_state(None)) == "absent"
    assert str(container_state(running_pod())) == "running"


# ---------------------------------------------------------------- scheduling_error


def test_scheduling_error_message() -> None:
    assert scheduling_error(unscheduled_pod()) == "0/3 nodes are available: 3 Insufficient cpu."


def test_scheduling_error_falls_back_to_reason_then_default() -> None:
    assert scheduling_error(unscheduled_pod(message=None)) == "Unschedulable"
    assert scheduling_error(unscheduled_pod(message=None, reason=None)) == "not scheduled"


@pytest.mark.parametrize(
    "pod",
    [
        None,
        running_pod(),
        make_pod(conditions=[{"type": "PodScheduled", "status": "True"}]),
        make_pod(conditions=[{"type": "PodScheduled", "status": "Unknown", "message": "?"}]),
        make_pod(conditions=[{"type": "Ready", "status": "False", "message": "not ready"}]),
        make_pod(conditions=[]),
    ],
)
def test_no_scheduling_error(pod: dict[str, Any] | None) -> None:
    assert scheduling_error(pod) is None


# ---------------------------------------------------------------- plan_role: growth


def test_growth_from_nothing_appends_create_pending_members() -> None:
    role, next_id = plan(None, 3, next_node_id=5)
    assert [m.pod for m in role.members] == [f"{STS}-0", f"{STS}-1", f"{STS}-2"]
    assert [m.node_id for m in role.members] == [5, 6, 7]
    assert next_id == 8
    assert {m.state for m in role.members} == {MemberState.CREATE_PENDING}
    assert role.id == "worker"
    assert role.stateful_set == STS


def test_growth_appends_after_existing_members_with_fresh_node_ids() -> None:
    existing = role_of(member(0, node_id=1), member(1, node_id=4))
    role, next_id = plan(existing, 4, next_node_id=10)
    assert role.members[:2] == existing.members
    assert [(m.pod, m.node_id, m.state) for m in role.members[2:]] == [
        (f"{STS}-2", 10, MemberState.CREATE_PENDING),
        (f"{STS}-3", 11, MemberState.CREATE_PENDING),
    ]
    assert next_id == 12


def test_crnamerole_member_service_is_the_pod_name() -> None:
    role, _ = plan(None, 2, cluster=parse_cluster(scheme="CrNameRole"))
    assert [m.service for m in role.members] == [m.pod for m in role.members]


def test_uid_member_service_is_s_dash_pod() -> None:
    role, _ = plan(None, 2, cluster=parse_cluster(scheme="UID"), sts="kdss-x2b4c")
    assert [(m.pod, m.service) for m in role.members] == [
        ("kdss-x2b4c-0", "s-kdss-x2b4c-0"),
        ("kdss-x2b4c-1", "s-kdss-x2b4c-1"),
    ]


def test_pvc_only_when_the_role_has_storage() -> None:
    with_storage, _ = plan(None, 2, cluster=parse_cluster(storage_role="worker"))
    assert [m.pvc for m in with_storage.members] == [f"p-{STS}-0", f"p-{STS}-1"]
    other_storage, _ = plan(None, 2, cluster=parse_cluster(storage_role="controller"))
    assert [m.pvc for m in other_storage.members] == [None, None]


def test_auth_token_per_new_member_when_asked() -> None:
    token, issued = counter_tokens()
    role, _ = plan(role_of(member(0)), 3, next_node_id=2, token=token)
    assert issued == ["tok-1", "tok-2"]
    assert [m.auth_token for m in role.members] == [None, "tok-1", "tok-2"]


def test_no_auth_token_when_not_asked() -> None:
    role, _ = plan(None, 2)
    assert [m.auth_token for m in role.members] == [None, None]


def test_new_members_start_with_a_blank_state_detail() -> None:
    role, _ = plan(None, 1)
    assert role.members[0].state_detail == MemberStateDetail()
    assert role.members[0].block_device_paths == ()


def test_growth_waits_while_members_are_leaving() -> None:
    token, issued = counter_tokens()
    existing = role_of(
        member(0), member(1, MemberState.DELETE_PENDING), member(2, MemberState.DELETING)
    )
    role, next_id = plan(existing, 5, next_node_id=9, token=token)
    assert role.members == existing.members
    assert next_id == 9
    assert issued == []


def test_growth_resumes_at_the_freed_ordinals_with_new_node_ids() -> None:
    # members 1 and 2 (node ids 2, 3) have left; growth reuses the ordinals, not the ids.
    role, next_id = plan(role_of(member(0, node_id=1)), 3, next_node_id=4)
    assert [(m.pod, m.node_id) for m in role.members] == [
        (f"{STS}-0", 1),
        (f"{STS}-1", 4),
        (f"{STS}-2", 5),
    ]
    assert next_id == 6


def test_regrowth_after_scaling_to_zero_never_reuses_node_ids() -> None:
    first, next_id = plan(None, 2, next_node_id=1)
    assert [m.node_id for m in first.members] == [1, 2]
    second, next_id = plan(role_of(), 2, next_node_id=next_id)
    assert [m.node_id for m in second.members] == [3, 4]
    assert [m.pod for m in second.members] == [m.pod for m in first.members]
    assert next_id == 5


# ---------------------------------------------------------------- plan_role: steady and shrink


def test_same_size_changes_nothing() -> None:
    token, issued = counter_tokens()
    existing = role_of(
        member(0),
        member(1, MemberState.CREATING),
        member(2, MemberState.CONFIG_ERROR),
        extra={"futureField": 1},
    )
    role, next_id = plan(existing, 3, next_node_id=7, token=token)
    assert role == existing
    assert next_id == 7
    assert issued == []


def test_shrink_marks_highest_ordinals_delete_pending() -> None:
    existing = role_of(*(member(i) for i in range(4)))
    role, next_id = plan(existing, 2, next_node_id=5)
    assert [m.state for m in role.members] == [
        MemberState.CONFIGURED,
        MemberState.CONFIGURED,
        MemberState.DELETE_PENDING,
        MemberState.DELETE_PENDING,
    ]
    assert role.members[:2] == existing.members[:2]
    for before, after in zip(existing.members[2:], role.members[2:], strict=True):
        assert after == replace(before, state=MemberState.DELETE_PENDING)
    assert next_id == 5


def test_shrink_goes_by_ordinal_not_by_list_position() -> None:
    existing = role_of(member(2), member(0), member(3), member(1))
    role, _ = plan(existing, 2)
    states = {m.ordinal: m.state for m in role.members}
    assert states == {
        0: MemberState.CONFIGURED,
        1: MemberState.CONFIGURED,
        2: MemberState.DELETE_PENDING,
        3: MemberState.DELETE_PENDING,
    }
    assert [m.pod for m in role.members] == [m.pod for m in existing.members]


def test_shrink_to_zero() -> None:
    role, _ = plan(role_of(member(0), member(1, MemberState.CREATE_PENDING)), 0)
    assert {m.state for m in role.members} == {MemberState.DELETE_PENDING}


def test_shrink_leaves_already_leaving_members_alone() -> None:
    existing = role_of(member(0), member(1), member(2, MemberState.DELETING))
    role, _ = plan(existing, 1)
    assert [m.state for m in role.members] == [
        MemberState.CONFIGURED,
        MemberState.DELETE_PENDING,
        MemberState.DELETING,
    ]


def test_shrink_while_leaving_counts_only_staying_members() -> None:
    existing = role_of(member(0), member(1), member(2, MemberState.DELETE_PENDING))
    role, _ = plan(existing, 2)
    assert role == existing


def test_shrink_never_touches_detail_or_other_fields() -> None:
    detail = MemberStateDetail(last_configured_container=CID, last_known_container_state="running")
    existing = role_of(member(0), replace(member(1, detail=detail), pvc="p-x", auth_token="t"))
    role, _ = plan(existing, 1)
    assert role.members[1] == replace(existing.members[1], state=MemberState.DELETE_PENDING)


def test_plan_keeps_role_extra() -> None:
    role, _ = plan(role_of(extra={"unknownKey": "kept"}), 1)
    assert role.extra == {"unknownKey": "kept"}
    fresh, _ = plan(None, 1)
    assert fresh.extra == {}


def test_plan_for_role_gone_from_spec_has_no_storage() -> None:
    """The reconciler shrinks roles removed from the spec to 0 with this function."""
    cluster = parse_cluster()
    role, _ = plan_role(
        cluster,
        "gone",
        statefulset="gone-sts",
        existing=RoleStatus(
            id="gone", stateful_set="gone-sts", members=(member(0, sts="gone-sts"),)
        ),
        wanted=0,
        next_node_id=3,
        auth_token=no_token,
    )
    assert role.id == "gone"
    assert [m.state for m in role.members] == [MemberState.DELETE_PENDING]


# ---------------------------------------------------------------- advance_member


def test_create_pending_waits_without_a_pod() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), None, False)
    assert m.state == MemberState.CREATE_PENDING
    assert m.state_detail.last_known_container_state == "absent"
    assert m.state_detail.configuring_container is None


@pytest.mark.parametrize(
    "pod",
    [
        waiting_pod(),
        make_pod(statuses=False),
        make_pod(state={"terminated": {"exitCode": 0}}),
        waiting_pod("PodInitializing"),
    ],
)
def test_create_pending_waits_until_the_app_container_runs(pod: dict[str, Any]) -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), pod, False)
    assert m.state == MemberState.CREATE_PENDING
    assert m.state_detail.configuring_container is None
    assert m.state_detail.last_configured_container is None


def test_create_pending_records_scheduling_error() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), unscheduled_pod(), False)
    assert m.state == MemberState.CREATE_PENDING
    assert m.state_detail.scheduling_error_message == (
        "0/3 nodes are available: 3 Insufficient cpu."
    )
    assert m.state_detail.last_known_container_state == "waiting"


def test_scheduling_error_clears_once_scheduled() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), unscheduled_pod(), False)
    m = advance_member(m, waiting_pod(), False)
    assert m.state_detail.scheduling_error_message is None


def test_running_without_setup_package_is_configured_at_once() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), running_pod(), False)
    assert m.state == MemberState.CONFIGURED
    assert m.state_detail.last_configured_container == CID
    assert m.state_detail.configuring_container == CID
    assert m.state_detail.config_error_detail is None
    assert m.state_detail.last_known_container_state == "running"


def test_running_with_setup_package_enters_creating_for_that_container() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), running_pod(), True)
    assert m.state == MemberState.CREATING
    assert m.state_detail.configuring_container == CID
    assert m.state_detail.last_configured_container is None
    # and stays there on later passes: the setup runner moves it on
    assert advance_member(m, running_pod(), True) == m


def test_creating_keeps_the_setup_runners_progress() -> None:
    detail = MemberStateDetail(
        configuring_container=CID,
        config_error_detail="running for 4s",
        setup=SetupProgress(run_id=CID, attempt=1),
    )
    m = member(0, MemberState.CREATING, detail=detail)
    after = advance_member(m, running_pod(), True)
    assert after.state == MemberState.CREATING
    assert after.state_detail.setup == detail.setup
    assert after.state_detail.config_error_detail == "running for 4s"


def test_creating_records_the_kwok_identity() -> None:
    pod = running_pod(container_id=None, uid="u-9", restart_count=0)
    m = advance_member(member(0, MemberState.CREATE_PENDING), pod, True)
    assert m.state == MemberState.CREATING
    assert m.state_detail.configuring_container == f"u-9/0/{STARTED}"


def test_creating_member_completes_when_setup_package_goes_away() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), running_pod(), True)
    m = advance_member(m, running_pod(), False)
    assert m.state == MemberState.CONFIGURED
    assert m.state_detail.last_configured_container == CID
    assert m.state_detail.config_error_detail is None


def test_creating_member_follows_a_restarted_container() -> None:
    """Setup must run in the container that is there now, so it starts over there."""
    detail = MemberStateDetail(
        configuring_container=CID,
        config_error_detail="running for 9s",
        setup=SetupProgress(run_id=CID, started_at=STARTED, attempt=2),
        notify=NotifyProgress(announced=True, known_node_id=4),
    )
    m = advance_member(
        member(0, MemberState.CREATING, detail=detail), running_pod(container_id=CID2), True
    )
    assert m.state == MemberState.CREATING
    assert m.state_detail.configuring_container == CID2
    assert m.state_detail.config_error_detail is None
    assert m.state_detail.setup == SetupProgress()
    assert m.state_detail.notify == NotifyProgress(announced=True)


def test_creating_member_whose_pod_is_gone_stays_creating() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), running_pod(), True)
    m = advance_member(m, None, True)
    assert m.state == MemberState.CREATING
    assert m.state_detail.configuring_container == CID
    assert m.state_detail.last_known_container_state == "absent"


def configured(
    identity: str = CID,
    *,
    configuring: str | None = CID,
    extra: dict[str, Any] | None = None,
    setup: SetupProgress | None = None,
    notify: NotifyProgress | None = None,
) -> MemberStatus:
    return member(
        0,
        detail=MemberStateDetail(
            configuring_container=configuring,
            last_configured_container=identity,
            last_known_container_state="running",
            extra=extra or {},
            setup=setup or SetupProgress(),
            notify=notify or NotifyProgress(),
        ),
    )


def test_configured_member_with_same_container_stays_configured() -> None:
    for has_setup in (False, True):
        assert advance_member(configured(), running_pod(), has_setup) == configured()


def test_member_configured_by_the_original_operator_is_not_restarted() -> None:
    """The Go operator cleared configuringContainer after setup; lastConfiguredContainer
    names the container then."""
    old = configured(configuring=None)
    assert advance_member(old, running_pod(), True) == old
    moved = advance_member(old, running_pod(container_id=CID2), True)
    assert moved.state == MemberState.CREATING
    assert moved.state_detail.configuring_container == CID2


@pytest.mark.parametrize(
    "pod",
    [
        None,
        waiting_pod("CrashLoopBackOff"),
        make_pod(state={"terminated": {"exitCode": 2}}),
        make_pod(deleting=True, container_id=None, state={"terminated": {"exitCode": 0}}),
    ],
)
def test_configured_member_whose_container_is_down_stays_configured(
    pod: dict[str, Any] | None,
) -> None:
    m = advance_member(configured(), pod, True)
    assert m.state == MemberState.CONFIGURED
    assert m.state_detail.last_configured_container == CID
    assert m.state_detail.last_known_container_state != "running"


def test_restart_without_setup_package_is_configured_again_with_new_identity() -> None:
    m = advance_member(configured(), running_pod(container_id=CID2), False)
    assert m.state == MemberState.CONFIGURED
    assert m.state_detail.last_configured_container == CID2
    assert m.state_detail.configuring_container == CID2


def test_restart_with_setup_package_goes_back_through_setup() -> None:
    start = configured(
        extra={"future": 1},
        setup=SetupProgress(run_id=CID, started_at=STARTED),
        notify=NotifyProgress(announced=True),
    )
    m = advance_member(start, running_pod(container_id=CID2), True)
    assert m.state == MemberState.CREATING
    assert m.state_detail.configuring_container == CID2
    assert m.state_detail.last_configured_container == CID
    # the old container's setup bookkeeping is forgotten, the rest kept
    assert m.state_detail.extra == {"future": 1}
    assert m.state_detail.setup == SetupProgress()
    assert m.state_detail.notify == NotifyProgress(announced=True)


def test_kwok_restart_is_seen_through_restart_count() -> None:
    first = running_pod(container_id=None, uid="u", restart_count=0)
    m = advance_member(member(0, MemberState.CREATE_PENDING), first, False)
    assert advance_member(m, first, True) == m
    restarted = running_pod(container_id=None, uid="u", restart_count=1)
    m2 = advance_member(m, restarted, True)
    assert m2.state == MemberState.CREATING
    assert m2.state_detail.configuring_container == f"u/1/{STARTED}"


def config_error() -> MemberStatus:
    return member(
        0,
        MemberState.CONFIG_ERROR,
        detail=MemberStateDetail(
            configuring_container=CID,
            config_error_detail="exit 3",
            setup=SetupProgress(retry_at=STARTED, error_generation=2),
        ),
    )


def test_config_error_with_same_container_stays() -> None:
    for has_setup in (False, True):
        m = advance_member(config_error(), running_pod(), has_setup)
        assert m.state == MemberState.CONFIG_ERROR
        assert m.state_detail.config_error_detail == "exit 3"
        assert m.state_detail.setup == config_error().state_detail.setup


def test_config_error_with_restarted_container_goes_back_through_setup() -> None:
    m = advance_member(config_error(), running_pod(container_id=CID2), True)
    assert m.state == MemberState.CREATING
    assert m.state_detail.configuring_container == CID2
    assert m.state_detail.config_error_detail is None
    assert m.state_detail.setup == SetupProgress()
    m = advance_member(config_error(), running_pod(container_id=CID2), False)
    assert m.state == MemberState.CONFIGURED
    assert m.state_detail.last_configured_container == CID2
    assert m.state_detail.config_error_detail is None


@pytest.mark.parametrize(
    "pod", [None, running_pod(), running_pod(container_id=CID2), running_pod(deleting=True)]
)
@pytest.mark.parametrize("state", [MemberState.DELETE_PENDING, MemberState.DELETING])
def test_leaving_members_keep_their_state(state: str, pod: dict[str, Any] | None) -> None:
    """`delete pending` becomes `deleting` only once the others were told
    (notifications.release_leaving); a restart does not bring a member back."""
    for has_setup in (False, True):
        m = advance_member(replace(configured(), state=state), pod, has_setup)
        assert m.state == state
        assert m.state_detail.last_configured_container == CID
        assert m.state_detail.configuring_container == CID


def test_advance_records_the_container_state() -> None:
    m = member(0, MemberState.DELETING)
    assert advance_member(m, None, False).state_detail.last_known_container_state == "absent"
    assert (
        advance_member(m, running_pod(deleting=True), False).state_detail.last_known_container_state
        == "terminated"
    )


def test_advance_keeps_identity_fields_and_unknown_detail_keys() -> None:
    start = replace(
        member(0, MemberState.CREATE_PENDING),
        pvc="p-x",
        auth_token="tok",
        block_device_paths=("/dev/xvdb",),
        extra={"k": "v"},
        state_detail=MemberStateDetail(extra={"future": True}, last_config_data_generation=4),
    )
    m = advance_member(start, running_pod(), False)
    assert (m.pod, m.service, m.node_id, m.pvc, m.auth_token, m.block_device_paths, m.extra) == (
        start.pod,
        start.service,
        start.node_id,
        "p-x",
        "tok",
        ("/dev/xvdb",),
        {"k": "v"},
    )
    assert m.state_detail.extra == {"future": True}
    assert m.state_detail.last_config_data_generation == 4


def test_advance_is_idempotent_once_settled() -> None:
    for has_setup in (False, True):
        for pod in (None, running_pod(), waiting_pod(), unscheduled_pod()):
            once = advance_member(member(0, MemberState.CREATE_PENDING), pod, has_setup)
            twice = advance_member(once, pod, has_setup)
            assert advance_member(twice, pod, has_setup) == twice


def test_advance_member_output_round_trips_through_status_dict() -> None:
    m = advance_member(member(0, MemberState.CREATE_PENDING), running_pod(), True)
    assert m.to_dict()["state"] == "creating"
    assert m.to_dict()["stateDetail"]["configuringContainer"] == CID
    assert m.to_dict()["stateDetail"]["lastKnownContainerState"] == "running"


# ---------------------------------------------------------------- role_has_setup


def test_role_has_setup_from_app_default_package() -> None:
    app = App.from_dict(spark_app())
    assert all(role_has_setup(app, r) for r in ("controller", "worker", "jupyter"))


def test_role_without_setup_package() -> None:
    doc = spark_app()
    doc["spec"]["roles"][1]["configPackage"] = None
    app = App.from_dict(doc)
    assert role_has_setup(app, "controller")
    assert not role_has_setup(app, "worker")


def test_no_setup_when_app_has_no_default_package() -> None:
    doc = spark_app()
    doc["spec"]["defaultConfigPackage"] = None
    doc["spec"]["roles"][2]["configPackage"] = {"packageURL": "file:///opt/j.tgz"}
    app = App.from_dict(doc)
    assert not role_has_setup(app, "controller")
    assert role_has_setup(app, "jupyter")


def test_unknown_role_has_no_setup() -> None:
    assert not role_has_setup(App.from_dict(spark_app()), "nope")


# ---------------------------------------------------------------- property: resizing


class FakeStatefulSet:
    """Pods of a Parallel StatefulSet: each pass creates missing pods (pending, then running
    on a later pass), and deletes pods at or above replicas (terminating, then gone)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pods: dict[int, dict[str, Any]] = {}
        self.uids = itertools.count(1)

    def pod(self, name: str) -> dict[str, Any] | None:
        ordinal = int(name.rpartition("-")[2])
        return self.pods.get(ordinal) if name.startswith(self.name + "-") else None

    def restart(self, ordinal: int) -> None:
        """The app container of a running pod restarts (kwok style: no containerID)."""
        status = self.pods.get(ordinal, {}).get("status", {}).get("containerStatuses")
        if status:
            status[0]["restartCount"] += 1
            status[0]["state"]["running"]["startedAt"] = f"restart-{status[0]['restartCount']}"

    def step(self, replicas: int, progress: bool) -> None:
        for ordinal, pod in list(self.pods.items()):
            if ordinal >= replicas:
                if pod["metadata"].get("deletionTimestamp"):
                    del self.pods[ordinal]
                else:
                    pod["metadata"]["deletionTimestamp"] = "2026-11-27T07:30:00Z"
            elif progress and "containerStatuses" not in pod["status"]:
                pod["status"]["containerStatuses"] = [
                    {"name": "app", "restartCount": 0, "state": {"running": {"startedAt": STARTED}}}
                ]
        for ordinal in range(replicas):
            if ordinal not in self.pods:
                self.pods[ordinal] = {
                    "metadata": {"name": f"{self.name}-{ordinal}", "uid": f"uid-{next(self.uids)}"},
                    "status": {"phase": "Pending"},
                }


def reconcile_pass(
    cluster: Cluster,
    role: RoleStatus | None,
    wanted: int,
    next_id: int,
    sts: FakeStatefulSet,
    has_setup: bool,
    token: Callable[[], str | None],
) -> tuple[RoleStatus, int]:
    """What the cluster reconciler does for one role: plan, advance, drop departed."""
    planned, next_id = plan_role(
        cluster,
        "worker",
        statefulset=sts.name,
        existing=role,
        wanted=wanted,
        next_node_id=next_id,
        auth_token=token,
    )
    staying = [m for m in planned.members if m.state not in LEAVING]
    assert len(staying) <= wanted, "shrinking is immediate"
    if role is None or not any(m.state in LEAVING for m in role.members):
        assert len(staying) == wanted, "growth is immediate when nothing is leaving"
    advanced = replace(
        planned,
        members=tuple(advance_member(m, sts.pod(m.pod), has_setup) for m in planned.members),
    )
    (released,) = release_leaving([advanced], lambda m: m.pod)
    kept = tuple(
        m for m in released.members if m.state != MemberState.DELETING or sts.pod(m.pod) is not None
    )
    return replace(released, members=kept), next_id


def check_invariants(role: RoleStatus, wanted: int) -> None:
    ordinals = sorted(m.ordinal for m in role.members)
    assert ordinals == list(range(len(role.members))), "ordinals are 0..n-1, no gaps"
    staying = [m for m in role.members if m.state not in LEAVING]
    leaving = [m for m in role.members if m.state in LEAVING]
    assert len(staying) <= wanted
    assert all(s.ordinal < lv.ordinal for s in staying for lv in leaving), (
        "leaving members hold the highest ordinals"
    )
    node_ids = [m.node_id for m in role.members]
    assert len(set(node_ids)) == len(node_ids)
    for m in role.members:
        if m.state == MemberState.CONFIGURED:
            assert m.state_detail.last_configured_container is not None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    start=st.integers(0, 4),
    steps=st.lists(
        st.tuples(st.integers(0, 6), st.booleans(), st.one_of(st.none(), st.integers(0, 5))),
        min_size=1,
        max_size=12,
    ),
    has_setup=st.booleans(),
    storage=st.booleans(),
)
def test_resizing_keeps_node_ids_unique_and_settles_at_wanted(
    start: int, steps: list[tuple[int, bool, int | None]], has_setup: bool, storage: bool
) -> None:
    cluster = parse_cluster(storage_role="worker" if storage else None)
    sts = FakeStatefulSet(STS)
    token, issued = counter_tokens()
    role: RoleStatus | None = None
    next_id = start + 1  # lastNodeID == start
    created: list[int] = []  # node ids in the order they were handed out

    def run(wanted: int, progress: bool) -> None:
        nonlocal role, next_id
        before = next_id
        role, next_id = reconcile_pass(cluster, role, wanted, next_id, sts, has_setup, token)
        new_ids = [m.node_id for m in role.members if m.node_id >= before]
        assert sorted(new_ids) == list(range(before, next_id))
        created.extend(sorted(new_ids))
        for m in role.members:
            assert m.pvc == (f"p-{m.pod}" if storage else None)
            identity = container_identity(sts.pod(m.pod))
            if m.state in (MemberState.CREATING, MemberState.CONFIGURED) and identity:
                assert m.state_detail.configuring_container == identity
            if m.state == MemberState.CONFIGURED and identity:
                assert m.state_detail.last_configured_container == identity
        check_invariants(role, wanted)
        sts.step(replicas_for(role.members), progress)

    for wanted, progress, restart in steps:
        run(wanted, progress)
        if restart is not None:
            sts.restart(restart)
    final = steps[-1][0]
    for _ in range(8):  # enough passes for pods to leave and new ones to come
        run(final, True)

    assert role is not None
    assert created == sorted(created)
    assert len(set(created)) == len(created)
    assert all(i > start for i in created), "ids start after lastNodeID"
    assert next_id == start + 1 + len(created)
    assert len(issued) == len(created)
    assert len(role.members) == final
    assert [m.ordinal for m in sorted(role.members, key=lambda m: m.ordinal)] == list(range(final))
    expected = MemberState.CREATING if has_setup else MemberState.CONFIGURED
    assert {m.state for m in role.members} <= {expected}
    assert sorted(sts.pods) == list(range(final))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(size=st.integers(0, 8), wanted=st.integers(0, 8))
def test_plan_is_idempotent(size: int, wanted: int) -> None:
    role, next_id = plan(None, size, next_node_id=1)
    once, next_once = plan(role, wanted, next_node_id=next_id)
    twice, next_twice = plan(once, wanted, next_node_id=next_once)
    assert twice == once
    assert next_twice == next_once
    live = [m for m in once.members if m.state not in LEAVING]
    assert len(live) == wanted
    assert len(once.members) == max(size, wanted)


def test_new_members_record_their_block_device_paths() -> None:
    doc = spark_cluster()
    for role in doc["spec"]["roles"]:
        if role["id"] == "worker":
            role["blockStorage"] = {
                "numDevices": 2,
                "size": "1Gi",
                "pathPrefix": "/dev/kdblk",
                "storageClassName": "local-path",
            }
    cluster = Cluster.from_dict(doc, Config(), App.from_dict(spark_app()))
    with_devices, _ = plan(None, 2, cluster=cluster)
    assert [m.block_device_paths for m in with_devices.members] == [
        ("/dev/kdblk0", "/dev/kdblk1")
    ] * 2
    without, _ = plan(None, 1, cluster=parse_cluster())
    assert without.members[0].block_device_paths == ()
