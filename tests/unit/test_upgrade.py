"""The live app upgrade rollout (kubedirector.lifecycle.upgrade): order, one member at a
time, the StatefulSet partitions, failure and rollback, simulated against pods."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.constants import ClusterState, ContainerState, MemberState
from kubedirector.api.errors import SpecError
from kubedirector.api.status import (
    ClusterStatus,
    MemberStateDetail,
    MemberStatus,
    MemberUpgrade,
    RoleStatus,
    SetupProgress,
    UpgradePhase,
    UpgradeStatus,
)
from kubedirector.api.validation import validate_app, validate_app_change
from kubedirector.lifecycle import cluster_state, upgrade
from kubedirector.lifecycle.upgrade import AppVersion, PodView, Template
from kubedirector.webhook.view import apps_named
from tests.unit.kd_fixtures import spark_app, spark_cluster

pytestmark = pytest.mark.unit

OLD = AppVersion("app-1", "1.0")
NEW = AppVersion("app-2", "2.0")
RUNNING = str(ContainerState.RUNNING)


def member(role: str, ordinal: int, state: str = MemberState.CONFIGURED) -> MemberStatus:
    return MemberStatus(
        pod=f"c-{role}-x-{ordinal}",
        service=f"s-{role}-{ordinal}",
        node_id=ordinal,
        state=state,
        state_detail=MemberStateDetail(last_known_container_state=RUNNING),
    )


def cluster(sizes: dict[str, int]) -> ClusterStatus:
    return ClusterStatus(
        roles=tuple(
            RoleStatus(id=r, stateful_set=f"c-{r}-x", members=tuple(member(r, i) for i in range(n)))
            for r, n in sizes.items()
        )
    )


def on(status: ClusterStatus, app: str) -> dict[str, PodView]:
    return {m.pod: PodView(app, True) for r in status.roles for m in r.members}


def start(status: ClusterStatus, order: list[str]) -> UpgradeStatus:
    record = upgrade.begin(
        None, running=OLD, target=NEW, status=status, pods=on(status, OLD.name), role_order=order
    )
    assert record is not None
    return record


def pods_for(record: UpgradeStatus, status: ClusterStatus, source: str) -> dict[str, PodView]:
    """What the StatefulSet controller makes of the templates: each pod at or above its
    role's partition runs the template's app, the others keep theirs."""
    plan = upgrade.templates(record, [r.id for r in status.roles])
    views = {}
    for role in status.roles:
        t = plan.get(role.id, Template(record.to_app))
        for m in role.members:
            moved = t.app == record.to_app and m.ordinal >= t.partition
            views[m.pod] = PodView(record.to_app if moved else source, True)
    return views


def run(
    record: UpgradeStatus, status: ClusterStatus, source: str, fail: str | None = None
) -> tuple[UpgradeStatus, list[str]]:
    """Drive the rollout to its end: returns it and the order members moved in."""
    moved: list[str] = []
    for _ in range(100):
        record = upgrade.advance(record, status, pods_for(record, status, source))
        moving = upgrade.moving_member(record)
        assert sum(1 for e in record.members if e.state == MemberUpgrade.MOVING) <= 1
        if moving is None:
            return record, moved
        moved.append(moving)
        assert upgrade.event_for(record, moving, record.to_app)[0] in ("--upgrade", "--rollback")
        # The pod comes back on the new app; its setup (the upgrade event) succeeds or not.
        state = MemberState.CONFIG_ERROR if moving == fail else MemberState.CONFIGURED
        status = replace(
            status,
            roles=tuple(
                replace(
                    r,
                    members=tuple(
                        replace(m, state=state) if m.pod == moving else m for m in r.members
                    ),
                )
                for r in status.roles
            ),
        )
    raise AssertionError("the rollout did not end")


def test_order_is_roles_in_app_order_then_highest_ordinal_first():
    status = cluster({"worker": 3, "controller": 1})
    record, moved = run(start(status, ["controller", "worker"]), status, OLD.name)
    assert moved == ["c-controller-x-0", "c-worker-x-2", "c-worker-x-1", "c-worker-x-0"]
    assert record.phase == UpgradePhase.UPGRADED
    assert upgrade.templates(record, ["controller", "worker"]) == {}


def test_only_the_moving_member_is_past_its_partition():
    status = cluster({"worker": 4})
    record = upgrade.advance(start(status, ["worker"]), status, on(status, OLD.name))
    assert upgrade.moving_member(record) == "c-worker-x-3"
    assert upgrade.templates(record, ["worker"]) == {"worker": Template(NEW.name, 3)}
    untouched = upgrade.templates(start(status, ["worker"]), ["worker"])
    assert untouched == {"worker": Template(OLD.name)}


def test_a_member_waits_for_its_readiness_gate():
    status = cluster({"worker": 2})
    record = upgrade.advance(start(status, ["worker"]), status, on(status, OLD.name))
    not_ready = on(status, NEW.name) | {"c-worker-x-1": PodView(NEW.name, False)}
    assert upgrade.advance(record, status, not_ready) == record
    still_old = on(status, OLD.name)  # the pod has not been re-created yet
    assert upgrade.advance(record, status, still_old) == record


def test_a_failed_upgrade_event_stops_the_rollout_at_that_member():
    status = cluster({"worker": 4})
    record, moved = run(start(status, ["worker"]), status, OLD.name, fail="c-worker-x-2")
    assert moved == ["c-worker-x-3", "c-worker-x-2"]
    assert record.phase == UpgradePhase.FAILED
    assert record.failed_member == "c-worker-x-2"
    assert [e.state for e in record.members] == [
        MemberUpgrade.DONE,
        MemberUpgrade.FAILED,
        MemberUpgrade.PENDING,
        MemberUpgrade.PENDING,
    ]
    assert upgrade.templates(record, ["worker"]) == {"worker": Template(NEW.name, 2)}
    assert upgrade.advance(record, status, on(status, NEW.name)) == record


def test_a_stopped_rollout_holds_its_failed_member_from_retrying():
    status = cluster({"worker": 1})
    failed = replace(
        status.roles[0].members[0],
        state=MemberState.CONFIG_ERROR,
        state_detail=MemberStateDetail(setup=SetupProgress(retry_at="2026-01-01T00:00:00Z")),
    )
    status = replace(status, roles=(replace(status.roles[0], members=(failed,)),))
    record = UpgradeStatus(
        OLD.name, OLD.version, NEW.name, NEW.version, UpgradePhase.FAILED, (), failed.pod, "x"
    )
    held = upgrade.hold_retries(record, status)
    assert held.roles[0].members[0].state_detail.setup.retry_at is None


def test_rollback_moves_back_only_the_members_that_moved_last_role_first():
    status = cluster({"controller": 1, "worker": 3})
    order = ["controller", "worker"]
    failed, _ = run(start(status, order), status, OLD.name, fail="c-worker-x-1")
    # The pods as they are after the stop: controller-0, worker-2, worker-1 on the new app.
    views = pods_for(failed, status, OLD.name)
    back = upgrade.begin(
        failed, running=NEW, target=OLD, status=status, pods=views, role_order=order
    )
    assert back is not None and back.phase == UpgradePhase.ROLLING_BACK
    assert (back.from_app, back.to_app) == (NEW.name, OLD.name)
    assert [(e.pod, e.state) for e in back.members] == [
        ("c-worker-x-2", MemberUpgrade.PENDING),
        ("c-worker-x-1", MemberUpgrade.PENDING),
        ("c-worker-x-0", MemberUpgrade.UNCHANGED),
        ("c-controller-x-0", MemberUpgrade.PENDING),
    ]
    # Before anything moves back, no pod changes revision.
    assert upgrade.templates(back, order) == {
        "controller": Template(NEW.name),
        "worker": Template(OLD.name, 3),
    }
    done, moved = run(back, status, NEW.name)
    assert moved == ["c-worker-x-2", "c-worker-x-1", "c-controller-x-0"]
    assert done.phase == UpgradePhase.ROLLED_BACK


def test_no_rollout_when_the_cluster_runs_its_spec_app():
    status = cluster({"worker": 2})
    pods = on(status, NEW.name)
    assert (
        upgrade.begin(None, running=None, target=NEW, status=status, pods=pods, role_order=[])
        is None
    )
    assert upgrade.event_for(None, "c-worker-x-0", NEW.name) == ("--configure",)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.integers(min_value=0, max_value=5), min_size=1
    ),
    data=st.data(),
)
def test_any_rollout_moves_every_member_once_in_order(sizes, data):
    status = cluster(sizes)
    order = data.draw(st.permutations(sorted(sizes)))
    pods = [m.pod for r in status.roles for m in r.members]
    fail = data.draw(st.sampled_from([None, *pods]))
    record, moved = run(start(status, list(order)), status, OLD.name, fail=fail)
    expected = [f"c-{r}-x-{i}" for r in order for i in reversed(range(sizes[r]))]
    if fail is None:
        assert moved == expected
        assert record.phase == UpgradePhase.UPGRADED
    else:
        assert moved == expected[: expected.index(fail) + 1]
        assert record.phase == UpgradePhase.FAILED and record.failed_member == fail


def spark(name: str, version: str, sources: list[dict] | None = None) -> App:
    doc = spark_app()
    doc["metadata"]["name"] = name
    doc["spec"]["version"] = version
    if sources is not None:
        doc["spec"]["upgradableFrom"] = sources
    return App.from_dict(doc)


def running(app: str, record: dict | None = None) -> dict:
    doc = spark_cluster()
    doc["spec"]["app"] = app
    if record is not None:
        doc["status"] = {"upgrade": record}
    return doc


def moving_to(app: str) -> dict:
    doc = spark_cluster()
    doc["spec"]["app"] = app
    return doc


def test_admission_allows_an_app_change_only_as_a_live_upgrade_or_its_rollback():
    old = spark("spark-1", "2.7")
    distro = old.distro_id
    new = spark("spark-2", "2.8", [{"distroID": distro, "versions": ["2.7"]}])
    any_version = spark("spark-3", "3.0", [{"distroID": distro}])
    assert validate_app_change(running("spark-1"), moving_to("spark-2"), new, old) == []
    assert validate_app_change(running("spark-1"), moving_to("spark-3"), any_version, old) == []
    wrong = spark("spark-9", "9", [{"distroID": distro, "versions": ["1.0"]}])
    (refused,) = validate_app_change(running("spark-1"), moving_to("spark-9"), wrong, old)
    assert refused.path == "spec.app"
    assert "spec.upgradableFrom" in refused.message and "'2.7'" in refused.message
    (missing,) = validate_app_change(running("spark-1"), moving_to("nope"), None, old)
    assert missing.path == "spec.app" and "no such app" in missing.message
    # Back to where the latest upgrade came from: a rollback, whatever that app declares.
    record = {"fromApp": "spark-1", "toApp": "spark-2", "phase": "Failed"}
    assert validate_app_change(running("spark-2", record), moving_to("spark-1"), old, new) == []
    # Mid-rollout, only the rollback is possible.
    record = {"fromApp": "spark-1", "toApp": "spark-2", "phase": "Upgrading"}
    (busy,) = validate_app_change(
        running("spark-2", record), moving_to("spark-3"), any_version, new
    )
    assert "only a rollback" in busy.message


def conditions_of(record: UpgradeStatus | None) -> dict[str, tuple[str, str]]:
    members = [member("worker", i) for i in range(2)]
    out = cluster_state.conditions(
        previous=(),
        generation=2,
        state=ClusterState.CONFIGURED,
        members=members,
        problem=None,
        now="2026-01-01T00:00:00Z",
        upgrade=record,
    )
    return {c.type: (c.status, c.reason) for c in out}


def test_conditions_say_upgrading_and_a_stopped_upgrade_truthfully():
    record = UpgradeStatus(OLD.name, OLD.version, NEW.name, NEW.version, UpgradePhase.UPGRADING)
    assert conditions_of(record) == {
        "Ready": ("False", "Upgrading"),
        "Progressing": ("True", "Upgrading"),
        "Degraded": ("False", "AsExpected"),
    }
    failed = replace(record, phase=UpgradePhase.FAILED, failed_member="m-1", failure="exit 5")
    assert conditions_of(failed) == {
        "Ready": ("False", "UpgradeFailed"),
        "Progressing": ("False", "UpgradeFailed"),
        "Degraded": ("True", "UpgradeFailed"),
    }
    done = replace(record, phase=UpgradePhase.UPGRADED)
    assert conditions_of(done) == conditions_of(None)
    assert conditions_of(None)["Ready"] == ("True", "MembersConfigured")


def test_status_upgrade_round_trips_and_bad_values_name_the_field():
    record = {
        "fromApp": "a",
        "fromVersion": "1",
        "toApp": "b",
        "toVersion": "2",
        "phase": "Failed",
        "members": [{"pod": "p-0", "role": "r", "state": "failed", "message": "exit 5"}],
        "failedMember": "p-0",
        "failure": "exit 5",
    }
    assert ClusterStatus.from_dict({"upgrade": record}).to_dict()["upgrade"] == record
    bad = {**record, "phase": "Halfway", "members": [{"pod": "p", "role": "r", "state": "x"}]}
    with pytest.raises(SpecError) as e:
        ClusterStatus.from_dict({"upgrade": bad})
    assert [err.path for err in e.value.errors] == [
        "status.upgrade.phase",
        "status.upgrade.members[0].state",
    ]


def test_an_unfinished_upgrade_keeps_both_apps_in_use():
    """Admission refuses to delete an app a cluster still needs: the old one until
    the rollout ended (a stopped one can still roll back), the new one while it moves."""
    doc = running("spark-2", {"fromApp": "spark-1", "toApp": "spark-2", "phase": "Failed"})
    assert apps_named(doc) == {"spark-1", "spark-2"}
    for phase in ("Upgraded", "RolledBack"):
        doc["status"]["upgrade"]["phase"] = phase
        assert apps_named(doc) == {"spark-2"}
    assert apps_named(running("spark-1")) == {"spark-1"}


def test_a_config_error_from_before_the_move_is_not_a_failed_upgrade():
    """Rolling back a member whose upgrade failed: its new pod already shows the old
    app while the member still carries the config error of its previous container."""
    status = cluster({"worker": 1})
    old = replace(
        status.roles[0].members[0],
        state=MemberState.CONFIG_ERROR,
        state_detail=MemberStateDetail(
            configuring_container="c1", last_known_container_state=RUNNING
        ),
    )
    status = replace(status, roles=(replace(status.roles[0], members=(old,)),))
    record = upgrade.advance(start(status, ["worker"]), status, on(status, OLD.name))
    not_started = {old.pod: PodView(NEW.name, False, None)}
    assert upgrade.advance(record, status, not_started).phase == UpgradePhase.UPGRADING
    failed_here = {old.pod: PodView(NEW.name, True, "c1")}
    assert upgrade.advance(record, status, failed_here).phase == UpgradePhase.FAILED


def test_an_upgradable_from_entry_needs_a_distro_id():
    doc = spark_app()
    doc["spec"]["upgradableFrom"] = [{"versions": ["1"]}]
    assert [e.path for e in validate_app(doc)] == ["spec.upgradableFrom[0].distroID"]
