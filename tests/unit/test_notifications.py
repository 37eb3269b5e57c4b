"""Who is told what (api.md section 4, steps 4, 5 and 7): tell, reconnect, release_leaving."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.constants import ContainerState, MemberState
from kubedirector.api.status import MemberStateDetail, MemberStatus, NotifyProgress, RoleStatus
from kubedirector.lifecycle.notifications import (
    announce,
    is_news,
    mark_known,
    membership_args,
    reconnect,
    release_leaving,
    tell,
)
from tests.unit.kd_fixtures import spark_app

Cmd = tuple[str, ...]


def make_app(events: dict[str, list[str]]) -> App:
    """spark221e2 with the given roles' eventList (others keep the default: every event)."""
    doc = spark_app()
    for role in doc["spec"]["roles"]:
        if role["id"] in events:
            role["eventList"] = events[role["id"]]
    return App.from_dict(doc)


APP = make_app({"jupyter": ["configure"], "worker": ["configure", "addnodes", "delnodes"]})


def member(
    pod: str,
    node_id: int,
    state: str = MemberState.CONFIGURED,
    cmds: Sequence[Cmd] = (),
    known: int | None = None,
    container: str = ContainerState.RUNNING,
) -> MemberStatus:
    return MemberStatus(
        pod=pod,
        service=pod,
        node_id=node_id,
        state=state,
        state_detail=MemberStateDetail(
            pending_notify_cmds=tuple(cmds),
            last_known_container_state=container,
            notify=NotifyProgress(known_node_id=known),
        ),
    )


def fqdn(m: MemberStatus) -> str:
    return f"{m.pod}.kdhs.apps.svc.cluster.local"


def f(pod: str) -> str:
    return f"{pod}.kdhs.apps.svc.cluster.local"


def cmds(roles: Sequence[RoleStatus]) -> dict[str, tuple[Cmd, ...]]:
    return {m.pod: m.state_detail.pending_notify_cmds for r in roles for m in r.members}


def states(roles: Sequence[RoleStatus]) -> dict[str, str]:
    return {m.pod: m.state for r in roles for m in r.members}


CTRL = member("ctrl-0", 1)
W0 = member("w-0", 2)
W1 = member("w-1", 3)
JUP = member("jup-0", 4)


def cluster(*workers: MemberStatus) -> list[RoleStatus]:
    return [
        RoleStatus("controller", "ctrl", (CTRL,)),
        RoleStatus("worker", "w", (W0, W1, *workers)),
        RoleStatus("jupyter", "jup", (JUP,)),
    ]


# ---------------------------------------------------------------- membership_args


def test_membership_args_format() -> None:
    assert membership_args("addnodes", "worker", ["a.x", "b.x"]) == (
        "--addnodes",
        "--nodegroup",
        "1",
        "--role",
        "worker",
        "--fqdns",
        "a.x,b.x",
    )
    assert membership_args("delnodes", "RESTServer", ["c.x"]) == (
        "--delnodes",
        "--nodegroup",
        "1",
        "--role",
        "RESTServer",
        "--fqdns",
        "c.x",
    )


# ---------------------------------------------------------------- tell


def test_addnodes_goes_to_configured_and_creating_members_whose_role_wants_it() -> None:
    new = member("w-2", 5)
    creating = member("w-3", 6, MemberState.CREATING)
    error = member("w-4", 7, MemberState.CONFIG_ERROR)
    leaving = member("w-5", 8, MemberState.DELETE_PENDING)
    roles = tell(cluster(new, creating, error, leaving), APP, "addnodes", {"worker": [new]}, fqdn)
    told = membership_args("addnodes", "worker", [f("w-2")])
    assert cmds(roles) == {
        "ctrl-0": (told,),
        "w-0": (told,),
        "w-1": (told,),
        "w-2": (),
        "w-3": (told,),
        "w-4": (),
        "w-5": (),
        "jup-0": (),
    }
    assert states(roles) == states(cluster(new, creating, error, leaving))


def test_roles_without_a_setup_package_are_not_told() -> None:
    doc = spark_app()
    doc["spec"]["defaultConfigPackage"] = None
    app = App.from_dict(doc)
    roles = tell(cluster(member("w-2", 5)), app, "addnodes", {"worker": [member("w-2", 5)]}, fqdn)
    assert all(not c for c in cmds(roles).values())


def test_tell_appends_after_pending_commands_one_per_role_sorted() -> None:
    earlier = ("--reconnect",)
    ctrl = member("ctrl-0", 1, cmds=[earlier])
    w2, w3, j1 = member("w-2", 5), member("w-3", 6), member("jup-1", 7)
    roles = [
        RoleStatus("controller", "ctrl", (ctrl,)),
        RoleStatus("worker", "w", (W0, w2, w3)),
        RoleStatus("jupyter", "jup", (JUP, j1)),
    ]
    roles = tell(roles, APP, "addnodes", {"worker": [w2, w3], "jupyter": [j1]}, fqdn)
    assert cmds(roles)["ctrl-0"] == (
        earlier,
        membership_args("addnodes", "jupyter", [f("jup-1")]),
        membership_args("addnodes", "worker", [f("w-2"), f("w-3")]),
    )
    assert cmds(roles)["w-0"] == cmds(roles)["ctrl-0"][1:]
    assert cmds(roles)["jup-0"] == ()
    assert [r.id for r in roles] == ["controller", "worker", "jupyter"]


def test_delnodes_not_told_to_the_leaving_members() -> None:
    gone = member("w-1", 3, MemberState.DELETE_PENDING)
    roles = [RoleStatus("controller", "ctrl", (CTRL,)), RoleStatus("worker", "w", (W0, gone))]
    roles = tell(roles, APP, "delnodes", {"worker": [gone]}, fqdn)
    told = membership_args("delnodes", "worker", [f("w-1")])
    assert cmds(roles) == {"ctrl-0": (told,), "w-0": (told,), "w-1": ()}


def test_concerned_configured_member_is_not_told_about_itself() -> None:
    roles = tell(cluster(), APP, "addnodes", {"worker": [W1]}, fqdn)
    assert cmds(roles)["w-1"] == ()
    assert cmds(roles)["w-0"] == (membership_args("addnodes", "worker", [f("w-1")]),)


def test_event_missing_from_every_event_list_tells_no_one() -> None:
    app = make_app(
        {
            "controller": ["configure"],
            "worker": ["configure"],
            "jupyter": ["configure", "reconnect"],
        }
    )
    new = member("w-2", 5)
    assert all(
        c == () for c in cmds(tell(cluster(new), app, "addnodes", {"worker": [new]}, fqdn)).values()
    )


def test_empty_changes_tell_no_one() -> None:
    roles = tell(cluster(), APP, "delnodes", {"worker": [], "controller": []}, fqdn)
    assert all(c == () for c in cmds(roles).values())


def test_role_unknown_to_the_app_is_not_told() -> None:
    stray = RoleStatus("gone-role", "g", (member("g-0", 9),))
    new = member("w-2", 5)
    roles = tell([*cluster(new), stray], APP, "addnodes", {"worker": [new]}, fqdn)
    assert cmds(roles)["g-0"] == ()
    assert cmds(roles)["ctrl-0"] != ()


def test_is_news_by_known_node_id() -> None:
    old, new = member("w-2", 5), member("w-3", 6)
    assert is_news(member("x", 1), old)
    assert is_news(member("x", 1, known=5), new)
    assert not is_news(member("x", 1, known=5), old)
    assert not is_news(member("x", 1, known=6), new)


def test_joins_only_told_to_members_that_do_not_know_them() -> None:
    old, new = member("w-2", 5), member("w-3", 6)
    ctrl = member("ctrl-0", 1, known=5)  # its configmeta has w-2, not w-3
    w0 = member("w-0", 2, known=6)  # knows both
    w1 = member("w-1", 3)  # no record: told about both
    roles = [
        RoleStatus("controller", "ctrl", (ctrl,)),
        RoleStatus("worker", "w", (w0, w1, old, new)),
    ]
    roles = tell(roles, APP, "addnodes", {"worker": [old, new]}, fqdn, concerns=is_news)
    assert cmds(roles) == {
        "ctrl-0": (membership_args("addnodes", "worker", [f("w-3")]),),
        "w-0": (),
        "w-1": (membership_args("addnodes", "worker", [f("w-2"), f("w-3")]),),
        "w-2": (),
        "w-3": (),
    }


_STATES = st.sampled_from(list(MemberState))


@given(
    worker_states=st.lists(_STATES, min_size=1, max_size=6),
    ctrl_state=_STATES,
    changed=st.sets(st.integers(0, 5)),
    event=st.sampled_from(["addnodes", "delnodes", "reconnect", "configure"]),
)
def test_tell_invariants(
    worker_states: list[str], ctrl_state: str, changed: set[int], event: str
) -> None:
    workers = tuple(member(f"w-{i}", 10 + i, s) for i, s in enumerate(worker_states))
    ctrl = member("ctrl-0", 1, ctrl_state)
    roles = [
        RoleStatus("controller", "ctrl", (ctrl,)),
        RoleStatus("worker", "w", workers),
        RoleStatus("jupyter", "jup", (JUP,)),
    ]
    concerned = [w for i, w in enumerate(workers) if i in changed]
    out = tell(roles, APP, event, {"worker": concerned}, fqdn)
    wants = {
        "controller": True,
        "worker": event in ("addnodes", "delnodes", "configure"),
        "jupyter": event == "configure",
    }
    expected_cmd = membership_args(event, "worker", [fqdn(w) for w in concerned])
    for before, after in zip(roles, out, strict=True):
        for b, a in zip(before.members, after.members, strict=True):
            assert (a.pod, a.state) == (b.pod, b.state)
            should = (
                bool(concerned)
                and wants[before.id]
                and b not in concerned
                and b.state in (MemberState.CONFIGURED, MemberState.CREATING)
            )
            assert a.state_detail.pending_notify_cmds == ((expected_cmd,) if should else ())


# ---------------------------------------------------------------- reconnect


def test_reconnect_where_the_role_allows_it() -> None:
    app = make_app({"worker": ["configure", "reconnect"], "jupyter": ["configure"]})
    creating = member("w-2", 5, MemberState.CREATING)
    w0 = member("w-0", 2, cmds=[("--delnodes", "--fqdns", "x")])
    roles = [
        RoleStatus("controller", "ctrl", (CTRL,)),
        RoleStatus("worker", "w", (w0, W1, creating)),
        RoleStatus("jupyter", "jup", (JUP,)),
    ]
    assert cmds(reconnect(roles, app)) == {
        "ctrl-0": (("--reconnect",),),
        "w-0": (("--delnodes", "--fqdns", "x"), ("--reconnect",)),
        "w-1": (("--reconnect",),),
        "w-2": (("--reconnect",),),  # its configmeta may predate the change
        "jup-0": ((),),  # no reconnect event: an empty command only refreshes configmeta
    }


def test_reconnect_not_in_the_event_list() -> None:
    roles = reconnect(cluster(), APP)
    assert cmds(roles)["w-0"] == ((),)  # worker's eventList has no reconnect: refresh only
    assert cmds(roles)["jup-0"] == ((),)
    assert cmds(roles)["ctrl-0"] == (("--reconnect",),)  # default eventList: every event


# ---------------------------------------------------------------- release_leaving


@pytest.mark.parametrize(
    ("pending", "released"),
    [
        ((), True),
        ((membership_args("delnodes", "worker", [f("w-1")]),), False),
        ((membership_args("delnodes", "worker", [f("w-9"), f("w-1")]),), False),
        ((membership_args("addnodes", "worker", [f("w-1")]),), False),
        ((membership_args("delnodes", "worker", [f("w-10")]),), True),
        ((membership_args("delnodes", "worker", [f("w-1") + "x"]),), True),
        ((("--reconnect",),), True),
    ],
)
def test_delete_pending_released_when_no_command_names_it(
    pending: tuple[Cmd, ...], released: bool
) -> None:
    leaving = member("w-1", 3, MemberState.DELETE_PENDING)
    roles = [
        RoleStatus("controller", "ctrl", (member("ctrl-0", 1, cmds=pending),)),
        RoleStatus("worker", "w", (W0, leaving)),
    ]
    out = release_leaving(roles, fqdn)
    expected = MemberState.DELETING if released else MemberState.DELETE_PENDING
    assert states(out) == {
        "ctrl-0": MemberState.CONFIGURED,
        "w-0": MemberState.CONFIGURED,
        "w-1": expected,
    }
    assert cmds(out) == cmds(roles)


def test_release_only_moves_delete_pending_members() -> None:
    members = tuple(member(f"w-{i}", i, s) for i, s in enumerate(MemberState))
    out = release_leaving([RoleStatus("worker", "w", members)], fqdn)
    assert [m.state for m in out[0].members] == [
        MemberState.DELETING if s == MemberState.DELETE_PENDING else s for s in MemberState
    ]


def test_release_after_the_command_is_delivered() -> None:
    gone = member("w-1", 3, MemberState.DELETE_PENDING)
    roles = [RoleStatus("controller", "ctrl", (CTRL,)), RoleStatus("worker", "w", (W0, gone))]
    told = tell(roles, APP, "delnodes", {"worker": [gone]}, fqdn)
    assert states(release_leaving(told, fqdn))["w-1"] == MemberState.DELETE_PENDING
    delivered = [
        RoleStatus(
            r.id,
            r.stateful_set,
            tuple(
                MemberStatus(m.pod, m.service, m.node_id, m.state, state_detail=MemberStateDetail())
                for m in r.members
            ),
        )
        for r in told
    ]
    assert states(release_leaving(delivered, fqdn))["w-1"] == MemberState.DELETING


@pytest.mark.parametrize(
    ("state", "container"),
    [
        (MemberState.CONFIGURED, ContainerState.WAITING),
        (MemberState.CONFIG_ERROR, ContainerState.RUNNING),
        (MemberState.CREATING, ContainerState.RUNNING),
    ],
)
def test_a_recipient_that_cannot_be_told_does_not_block_a_leaver(state, container) -> None:
    leaver = member("w-2", 3, MemberState.DELETE_PENDING)
    blocked = member(
        "w-0",
        1,
        state,
        cmds=[membership_args("delnodes", "worker", [f("w-2")])],
        container=container,
    )
    roles = [RoleStatus(id="worker", stateful_set="w", members=(blocked, leaver))]
    released = release_leaving(roles, fqdn)
    assert released[0].members[1].state == MemberState.DELETING
    assert released[0].members[0].state_detail.pending_notify_cmds, "kept for later"


# ---------------------------------------------------------------- announce, mark_known


def test_announce_queues_each_join_and_departure_once() -> None:
    """Flags travel with the queued commands: a second pass (as after a crash that kept
    either status) queues nothing new, and a status without the flags queues again."""
    old = member("w-0", 1, known=1)
    old = replace(
        old,
        state_detail=replace(
            old.state_detail, notify=replace(old.state_detail.notify, announced=True)
        ),
    )
    roles = [
        RoleStatus(
            id="worker",
            stateful_set="w",
            members=(
                old,
                member("w-1", 2, known=3),
                member("w-2", 3, state=MemberState.DELETE_PENDING, known=3),
            ),
        )
    ]
    once = announce(roles, APP, fqdn)
    queued = cmds(once)
    assert queued["w-0"] == (
        membership_args("delnodes", "worker", [f("w-2")]),
        membership_args("addnodes", "worker", [f("w-1")]),
    )
    assert queued["w-1"] == (membership_args("delnodes", "worker", [f("w-2")]),)
    flags = {m.pod: m.state_detail.notify for r in once for m in r.members}
    assert flags["w-0"].announced and flags["w-1"].announced
    assert flags["w-2"].departure_announced
    assert cmds(announce(once, APP, fqdn)) == queued


def test_mark_known_only_fills_members_without_it() -> None:
    roles = [
        RoleStatus(
            id="worker",
            stateful_set="w",
            members=(
                member("w-0", 1, known=1),
                member("w-1", 2, state=MemberState.CREATING),
                member("w-2", 3, state=MemberState.CREATE_PENDING),
            ),
        )
    ]
    known = {
        m.pod: m.state_detail.notify.known_node_id for r in mark_known(roles, 3) for m in r.members
    }
    assert known == {"w-0": 1, "w-1": 3, "w-2": None}
