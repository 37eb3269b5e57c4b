"""Unresponsive members: judged from the pod's Ready condition and the role's policy."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.cluster import Cluster, UnresponsiveAction, UnresponsivePolicy
from kubedirector.api.constants import MemberState
from kubedirector.api.errors import SpecError
from kubedirector.api.status import MemberStatus
from kubedirector.lifecycle.unresponsive import judge, not_ready_since
from tests.unit.kd_fixtures import spark_cluster

NOW = datetime.datetime(2026, 11, 30, 7, 0, 0, tzinfo=datetime.UTC)
RESTART = UnresponsivePolicy(UnresponsiveAction.RESTART, 60)


def pod(ready: str | None, since: str = "2026-11-30T06:58:00Z", **meta: Any) -> dict[str, Any]:
    conditions = (
        [] if ready is None else [{"type": "Ready", "status": ready, "lastTransitionTime": since}]
    )
    return {"metadata": {"name": "p-0", "uid": "u", **meta}, "status": {"conditions": conditions}}


def member(state: str = MemberState.CONFIGURED) -> MemberStatus:
    return MemberStatus(pod="p-0", service="p-0", node_id=1, state=state)


def test_not_ready_past_the_bound_is_unresponsive_and_restarted():
    verdict = judge(member(), pod("False"), RESTART, NOW)
    assert verdict.unresponsive == "pod not Ready since 2026-11-30T06:58:00Z (more than 60s)"
    assert verdict.restart and verdict.recheck_after is None


def test_action_none_only_reports():
    verdict = judge(member(), pod("False"), UnresponsivePolicy(UnresponsiveAction.NONE, 60), NOW)
    assert verdict.unresponsive and not verdict.restart


def test_within_the_bound_a_recheck_is_due_when_it_passes():
    verdict = judge(member(), pod("False", "2026-11-30T06:59:30Z"), RESTART, NOW)
    assert verdict.unresponsive is None and not verdict.restart
    assert verdict.recheck_after == 31.0


@pytest.mark.parametrize(
    "the_pod",
    [None, pod("True"), pod(None), pod("False", deletionTimestamp="2026-11-30T06:59:00Z")],
    ids=["gone", "ready", "no-condition-yet", "terminating"],
)
def test_nothing_to_judge(the_pod):
    assert judge(member(), the_pod, RESTART, NOW).unresponsive is None


@pytest.mark.parametrize(
    "state", [MemberState.CREATE_PENDING, MemberState.DELETE_PENDING, MemberState.DELETING]
)
def test_members_arriving_or_leaving_are_not_judged(state):
    assert judge(member(state), pod("False"), RESTART, NOW).unresponsive is None


@given(after=st.integers(1, 10_000), waited=st.integers(0, 20_000))
def test_unresponsive_exactly_once_the_bound_has_passed(after: int, waited: int):
    since = (NOW - datetime.timedelta(seconds=waited)).strftime("%Y-%m-%dT%H:%M:%SZ")
    verdict = judge(
        member(), pod("False", since), UnresponsivePolicy(UnresponsiveAction.NONE, after), NOW
    )
    assert (verdict.unresponsive is not None) == (waited >= after)
    assert (verdict.recheck_after is not None) == (waited < after)


def test_not_ready_since_reads_the_ready_condition():
    assert not_ready_since(pod("False", "2026-01-01T00:00:00Z")) == "2026-01-01T00:00:00Z"
    assert not_ready_since(pod("Unknown", "2026-01-01T00:00:00Z")) == "2026-01-01T00:00:00Z"


def test_policy_is_parsed_with_defaults():
    doc = spark_cluster()
    doc["spec"]["roles"][1]["unresponsivePolicy"] = {"action": "restart", "afterSeconds": 120}
    cluster = Cluster.from_dict(doc)
    assert cluster.roles[1].unresponsive_policy == UnresponsivePolicy(
        UnresponsiveAction.RESTART, 120
    )
    assert cluster.roles[0].unresponsive_policy == UnresponsivePolicy(UnresponsiveAction.NONE, 300)


@pytest.mark.parametrize(
    ("policy", "path"),
    [
        ({"action": "reboot"}, "spec.roles[1].unresponsivePolicy.action"),
        ({"afterSeconds": 0}, "spec.roles[1].unresponsivePolicy.afterSeconds"),
        ({"afterSeconds": "5m"}, "spec.roles[1].unresponsivePolicy.afterSeconds"),
        ("restart", "spec.roles[1].unresponsivePolicy"),
    ],
)
def test_bad_policy_names_the_field(policy, path):
    doc = spark_cluster()
    doc["spec"]["roles"][1]["unresponsivePolicy"] = policy
    with pytest.raises(SpecError) as info:
        Cluster.from_dict(doc)
    assert path in [e.path for e in info.value.errors]
