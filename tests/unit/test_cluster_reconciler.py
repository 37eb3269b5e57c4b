"""The cluster reconciler, one pass at a time, against in-memory caches and a recording
writer: from an observed state to the writes and the status it produces."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client import Configuration

from kubedirector.api.constants import FINALIZER
from kubedirector.metrics import registry
from kubedirector.reconcilers.cluster import ClusterReconciler
from kubedirector.reconcilers.cluster.failures import PERSISTENT
from kubedirector.reconcilers.cluster.owned import STATEFULSET, Action, Desired, decide
from kubedirector.reconcilers.events import EventRecorder
from kubedirector.reconcilers.member_setup import MemberSetup
from kubedirector.reconcilers.writer import WriteRefused
from kubedirector.resources import APPS, CLUSTERS, PDBS, PODS, PVCS, SERVICES, STATEFULSETS
from kubedirector.setup.executor import GuestExecutor
from kubedirector.setup.runner import SetupRunner
from tests.unit.fake_api import World, Write
from tests.unit.kd_fixtures import spark_app, spark_cluster

KEY = "apps/spark221e2"
FIXED = ("selector", "serviceName", "podManagementPolicy")


def new_world() -> tuple[World, ClusterReconciler]:
    """A cluster of spark221e2 without a setup package (members configure as they run)."""
    world = World()
    app = spark_app()
    del app["spec"]["defaultConfigPackage"]
    world.caches.put(APPS, app)
    cluster = spark_cluster()
    cluster["metadata"]["resourceVersion"] = "1"
    world.caches.put(CLUSTERS, cluster)
    names = iter(f"n{i:04d}" for i in range(1000))
    reconciler = ClusterReconciler(
        informers=world.caches,
        system=world.caches,
        writer=world.writer,
        events=EventRecorder(world.writer),
        member_setup=MemberSetup(SetupRunner(GuestExecutor(Configuration()))),
        operator_namespace="kubedirector",
        rand=lambda n: next(names)[:n],
    )
    return world, reconciler


def one_pass(world: World, reconciler: ClusterReconciler) -> list[Write]:
    """Reconcile once; the caches then show the writes, pods follow the StatefulSets."""
    reconciler.reconcile(KEY)
    writes = world.writer.take()
    world.absorb(writes)
    world.run_statefulsets()
    return writes


def settle(world: World, reconciler: ClusterReconciler) -> list[Write]:
    """Passes until one writes nothing; every write on the way."""
    seen: list[Write] = []
    for _ in range(12):
        writes = one_pass(world, reconciler)
        if not writes:
            return seen
        seen += writes
    raise AssertionError(f"no convergence; last writes {writes}")


def stored(world: World) -> dict[str, Any]:
    found = world.caches.get(CLUSTERS, KEY)
    assert found is not None
    return found


def condition(world: World, ctype: str) -> tuple[str, str, str]:
    c = next(c for c in stored(world)["status"]["conditions"] if c["type"] == ctype)
    return c["status"], c["reason"], c["message"]


def statefulset_name(world: World, role: str) -> str:
    return next(r["statefulSet"] for r in stored(world)["status"]["roles"] if r["id"] == role)


def edit_spec(world: World, edit: Callable[[dict[str, Any]], None]) -> None:
    cluster = stored(world)
    edit(cluster["spec"])
    cluster["metadata"]["generation"] += 1
    cluster["metadata"]["resourceVersion"] = str(int(cluster["metadata"]["resourceVersion"]) + 1)
    world.caches.put(CLUSTERS, cluster)


def set_members(role: int, count: int) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["roles"][role].update(members=count)


def sts_writes(writes: list[Write]) -> list[Write]:
    return [w for w in writes if w.kind == "StatefulSet" and w.verb != "delete"]


def assert_whole(write: Write) -> None:
    """A StatefulSet write carries the whole object, fixed fields too."""
    assert write.verb == "apply", write
    assert write.body is not None
    assert all(k in write.sent()["spec"] for k in FIXED), write.sent()["spec"].keys()
    assert write.sent()["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.fixture
def converged() -> tuple[World, ClusterReconciler]:
    world, reconciler = new_world()
    settle(world, reconciler)
    return world, reconciler


def test_create_writes_every_object_whole_then_becomes_ready():
    world, reconciler = new_world()
    first = one_pass(world, reconciler)
    assert first[0] == Write(
        "merge_patch",
        "KubeDirectorCluster",
        "spark221e2",
        {"metadata": {"finalizers": [FINALIZER], "resourceVersion": "1"}},
    )
    kinds = [(w.verb, w.kind) for w in first[1:]]
    assert kinds.count(("apply", "StatefulSet")) == 3
    assert kinds.count(("apply", "Service")) == 1 + 4  # headless + one per member
    assert kinds[-1] == ("merge_patch", "KubeDirectorCluster")
    for write in sts_writes(first):
        assert_whole(write)
    assert {w.sent()["spec"]["replicas"] for w in sts_writes(first)} == {1, 2}
    assert condition(world, "Ready")[0] == "False"
    assert condition(world, "Progressing")[:2] == ("True", "MembershipChanging")
    settle(world, reconciler)
    status = stored(world)["status"]
    assert status["state"] == "configured" and status["memberSummary"] == "4/4"
    assert status["observedGeneration"] == 1
    assert condition(world, "Ready")[:2] == ("True", "MembersConfigured")
    assert condition(world, "Progressing")[0] == "False"
    assert one_pass(world, reconciler) == [], "a converged cluster costs no write"


def test_scale_up_and_down_write_the_whole_statefulset(converged):
    world, reconciler = converged
    worker = statefulset_name(world, "worker")
    edit_spec(world, set_members(1, 3))
    writes = settle(world, reconciler)
    up = [w for w in sts_writes(writes) if w.name == worker]
    assert up and all(w.sent()["spec"]["replicas"] == 3 for w in up)
    for write in up:
        assert_whole(write)
    status = stored(world)["status"]
    assert status["memberSummary"] == "5/5" and status["observedGeneration"] == 2
    assert condition(world, "Ready")[0] == "True"

    edit_spec(world, set_members(1, 1))
    writes = settle(world, reconciler)
    down = [w for w in sts_writes(writes) if w.name == worker]
    assert [w.sent()["spec"]["replicas"] for w in down] == [1]
    assert_whole(down[0])
    removed = {(w.kind, w.name) for w in writes if w.verb == "delete"}
    assert removed == {
        ("Service", f"{worker}-1"),
        ("Service", f"{worker}-2"),
        ("PodDisruptionBudget", worker),
    }, "the leaving members' services, and the budget a single member does not get"
    assert stored(world)["status"]["memberSummary"] == "3/3"
    assert condition(world, "Ready")[0] == "True"


def test_drift_is_reverted_with_the_whole_object(converged):
    world, reconciler = converged
    worker = statefulset_name(world, "worker")
    sts = world.caches.get(STATEFULSETS, f"apps/{worker}")
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/image:1"
    world.caches.put(STATEFULSETS, sts)
    writes = one_pass(world, reconciler)
    [write] = sts_writes(writes)
    assert_whole(write)
    assert write.sent()["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "docker.io/bluedata/sparkbase:2.0"
    )
    assert condition(world, "Ready")[:2] == ("False", "Reconciling"), "just written"
    settle(world, reconciler)
    assert condition(world, "Ready")[0] == "True"


def test_recreated_statefulset_stays_manageable(converged):
    """The issue's scenario: re-created, then scaled up, down, and its template changed."""
    world, reconciler = converged
    worker = statefulset_name(world, "worker")
    world.caches.remove(STATEFULSETS, "apps", worker)
    for pod in (f"{worker}-0", f"{worker}-1"):
        world.caches.remove(PODS, "apps", pod)
    writes = settle(world, reconciler)
    again = [w for w in sts_writes(writes) if w.name == worker]
    assert again, "re-created under its recorded name"
    for edit in (
        set_members(1, 3),
        set_members(1, 1),
        lambda spec: spec["roles"][1].update(env=[{"name": "A", "value": "1"}]),
    ):
        edit_spec(world, edit)
        writes = settle(world, reconciler)
        for write in [w for w in sts_writes(writes) if w.name == worker]:
            assert_whole(write)
        assert condition(world, "Ready")[0] == "True"
        assert (
            stored(world)["status"]["observedGeneration"] == stored(world)["metadata"]["generation"]
        )
    sts = world.caches.get(STATEFULSETS, f"apps/{worker}")
    assert sts["spec"]["replicas"] == 1
    env = sts["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "A", "value": "1"}, "the role's env comes first, as in the original"


def test_rolling_out_statefulset_keeps_ready_false(converged):
    world, reconciler = converged
    worker = statefulset_name(world, "worker")
    edit_spec(world, lambda spec: spec["roles"][1].update(env=[{"name": "A", "value": "1"}]))
    one_pass(world, reconciler)
    sts = world.caches.get(STATEFULSETS, f"apps/{worker}")
    sts["status"]["updatedReplicas"] = 1  # one pod of two rolled so far
    world.caches.put(STATEFULSETS, sts)
    reconciler.reconcile(KEY)
    world.absorb(world.writer.take())
    assert condition(world, "Ready") == (
        "False",
        "Reconciling",
        f"StatefulSet {worker} is rolling out",
    )
    assert condition(world, "Progressing")[:2] == ("True", "Reconciling")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c["spec"].update(app="nope"), "spec.app"),
        (lambda c: c["spec"]["roles"][0].update(id="driver"), "spec.roles[0].id"),
        (lambda c: c["spec"]["roles"][0].update(members=2), "spec.roles[0].members"),
    ],
)
def test_spec_problem_reports_and_writes_nothing_else(edit, field):
    world, reconciler = new_world()
    cluster = stored(world)
    edit(cluster)
    world.caches.put(CLUSTERS, cluster)
    writes = one_pass(world, reconciler)
    assert [(w.verb, w.kind, w.subresource) for w in writes] == [
        ("merge_patch", "KubeDirectorCluster", None),
        ("merge_patch", "KubeDirectorCluster", "status"),
    ]
    assert condition(world, "Degraded")[:2] == ("True", "InvalidSpec")
    assert field in condition(world, "Degraded")[2]
    assert condition(world, "Ready")[0] == "False"
    assert [e.sent()["reason"] for e in world.writer.events()] == ["InvalidSpec"]


def test_a_refused_write_sets_degraded_with_the_object_and_answer(converged):
    world, reconciler = converged
    worker = statefulset_name(world, "worker")
    answer = "spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid"
    world.writer.refuse("StatefulSet", worker, 422, answer)
    edit_spec(world, set_members(1, 3))
    for attempt in range(1, PERSISTENT + 2):
        with pytest.raises(WriteRefused):
            reconciler.reconcile(KEY)
        world.absorb(world.writer.take())
        degraded = condition(world, "Degraded")
        assert (degraded[0] == "True") == (attempt >= PERSISTENT), attempt
    _, reason, message = degraded
    assert reason == "ReconcileFailing"
    assert f"StatefulSet apps/{worker}" in message and answer in message
    assert condition(world, "Ready")[:2] == ("False", "ReconcileFailing")
    assert condition(world, "Progressing")[0] == "True"
    assert stored(world)["status"]["observedGeneration"] == 1, "generation 2 not realised"
    events = [
        e
        for e in world.writer.events()
        if e.verb == "create" and e.sent()["reason"] == "ReconcileError"
    ]
    counts = [e.sent()["count"] for e in world.writer.events() if e.verb == "merge_patch"]
    assert len(events) == 1 and counts == list(range(2, PERSISTENT + 2)), "aggregated"

    world.writer.refusals.clear()
    settle(world, reconciler)
    assert condition(world, "Degraded")[:2] == ("False", "AsExpected")
    assert condition(world, "Ready")[0] == "True"


def _sts(replicas: int, claims: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": "s", "labels": {}},
        "spec": {
            "replicas": replicas,
            "serviceName": "h",
            "volumeClaimTemplates": claims,
            "template": {"spec": {}},
        },
    }


@pytest.mark.parametrize(("live_replicas", "action"), [(0, Action.REPLACE), (2, Action.APPLY)])
def test_a_changed_fixed_field(live_replicas, action):
    """Storage changed on a role: replaced while it has no pods, else the server answers."""
    desired = Desired(STATEFULSET, _sts(live_replicas, [{"metadata": {"name": "p"}}]))
    actual = _sts(live_replicas, [])
    assert decide(desired, actual)[0] == action
    assert decide(desired, copy.deepcopy(desired.obj)) == (Action.KEEP, [])


def test_a_role_removed_from_the_spec_winds_down(converged):
    world, reconciler = converged
    jupyter = statefulset_name(world, "jupyter")
    edit_spec(world, lambda spec: spec.update(roles=spec["roles"][:2]))
    writes = settle(world, reconciler)
    assert Write("merge_patch", "StatefulSet", jupyter, {"spec": {"replicas": 0}}) in writes
    assert Write("delete", "StatefulSet", jupyter) in writes
    assert Write("delete", "Service", f"{jupyter}-0") in writes
    assert [r["id"] for r in stored(world)["status"]["roles"]] == ["controller", "worker"]
    assert world.caches.get(STATEFULSETS, f"apps/{jupyter}") is None
    assert condition(world, "Ready")[0] == "True"


# ------------------------------------------------------------------ one pass, as a table
# From a converged cluster, one change to what the caches show; the writes of the next
# pass (`{role}` is that role's StatefulSet) and the conditions it leaves.


def _drift(world: World) -> None:
    sts = world.caches.get(STATEFULSETS, f"apps/{statefulset_name(world, 'worker')}")
    assert sts is not None
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/image:1"
    world.caches.put(STATEFULSETS, sts)


def _statefulset_deleted(world: World) -> None:
    worker = statefulset_name(world, "worker")
    world.caches.remove(STATEFULSETS, "apps", worker)
    for pod in (f"{worker}-0", f"{worker}-1"):
        world.caches.remove(PODS, "apps", pod)


def _member_service_deleted(world: World) -> None:
    world.caches.remove(SERVICES, "apps", f"{statefulset_name(world, 'worker')}-1")


def _app_deleted(world: World) -> None:
    world.caches.remove(APPS, "apps", "spark221e2")


def _deleted(world: World) -> None:
    world.caches.put(
        PVCS,
        {
            "metadata": {
                "name": f"p-{statefulset_name(world, 'worker')}-0",
                "namespace": "apps",
                "labels": {"kubedirector.hpe.com/kdcluster": "spark221e2"},
            }
        },
    )
    cluster = stored(world)
    cluster["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    world.caches.put(CLUSTERS, cluster)


STATUS = ("merge_patch", "KubeDirectorCluster", "spark221e2")
READY = (
    ("Ready", "True", "MembersConfigured"),
    ("Progressing", "False", "Stable"),
    ("Degraded", "False", "AsExpected"),
)
CHANGING = (
    ("Ready", "False", "MembersNotReady"),
    ("Progressing", "True", "MembershipChanging"),
    ("Degraded", "False", "AsExpected"),
)
TABLE = {
    "nothing changed": (lambda w: None, [], READY),
    "scale up": (
        lambda w: edit_spec(w, set_members(1, 3)),
        [("apply", "StatefulSet", "{worker}"), ("apply", "Service", "{worker}-2"), STATUS],
        CHANGING,
    ),
    # The leaver is `deleting` at once (no setup package, nobody to tell); its pod goes
    # when the next pass lowers the replicas.  One member gets no disruption budget.
    "scale down": (
        lambda w: edit_spec(w, set_members(1, 1)),
        [("delete", "PodDisruptionBudget", "{worker}"), STATUS],
        CHANGING,
    ),
    "budget deleted": (
        lambda w: w.caches.remove(PDBS, "apps", statefulset_name(w, "worker")),
        [("apply", "PodDisruptionBudget", "{worker}"), STATUS],
        (
            ("Ready", "False", "Reconciling"),
            ("Progressing", "True", "Reconciling"),
            ("Degraded", "False", "AsExpected"),
        ),
    ),
    "drift": (
        _drift,
        [("apply", "StatefulSet", "{worker}"), STATUS],
        (
            ("Ready", "False", "Reconciling"),
            ("Progressing", "True", "Reconciling"),
            ("Degraded", "False", "AsExpected"),
        ),
    ),
    "statefulset deleted": (
        _statefulset_deleted,
        [("apply", "StatefulSet", "{worker}"), STATUS],
        (
            ("Ready", "False", "MembersNotReady"),
            ("Progressing", "True", "Reconciling"),
            ("Degraded", "True", "MembersDown"),
        ),
    ),
    "member service deleted": (
        _member_service_deleted,
        [("apply", "Service", "{worker}-1"), STATUS],
        (
            ("Ready", "False", "Reconciling"),
            ("Progressing", "True", "Reconciling"),
            ("Degraded", "False", "AsExpected"),
        ),
    ),
    "app deleted": (
        _app_deleted,
        [STATUS],
        (
            ("Ready", "False", "InvalidSpec"),
            ("Progressing", "False", "Stable"),
            ("Degraded", "True", "InvalidSpec"),
        ),
    ),
    "cluster deleted": (
        _deleted,
        [
            ("delete", "PersistentVolumeClaim", "p-{worker}-0"),
            ("merge_patch", "KubeDirectorCluster", "spark221e2"),
        ],
        READY,
    ),
}


@pytest.mark.parametrize("case", list(TABLE))
def test_one_pass(converged, case):
    world, reconciler = converged
    change, expected, conditions = TABLE[case]
    names = {r["id"]: r["statefulSet"] for r in stored(world)["status"]["roles"]}
    change(world)
    reconciler.reconcile(KEY)
    writes = world.writer.take()
    assert [(w.verb, w.kind, w.name) for w in writes] == [
        (verb, kind, name.format(**names)) for verb, kind, name in expected
    ]
    for write in sts_writes(writes):
        assert_whole(write)
    world.absorb(writes)
    assert tuple((t, *condition(world, t)[:2]) for t in ("Ready", "Progressing", "Degraded")) == (
        conditions
    )


def identities(world: World) -> list[tuple[str, str, str, int]]:
    """Each member's role, pod, Service and node id: what pausing must not change."""
    return [
        (r["id"], m["pod"], m["service"], m["nodeID"])
        for r in stored(world)["status"]["roles"]
        for m in r["members"]
    ]


def set_paused(paused: bool) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.update(paused=paused)


def test_pause_stops_the_pods_and_keeps_every_identity(converged):
    world, reconciler = converged
    before = identities(world)
    last_node_id = stored(world)["status"]["lastNodeID"]
    edit_spec(world, set_paused(True))
    writes = settle(world, reconciler)
    assert {w.sent()["spec"]["replicas"] for w in sts_writes(writes)} == {0}
    for write in sts_writes(writes):
        assert_whole(write)
    assert not [w for w in writes if w.verb == "delete"], "Services, claims and budgets stay"
    assert world.caches.list(PODS) == []
    status = stored(world)["status"]
    assert identities(world) == before and status["lastNodeID"] == last_node_id
    assert status["state"] == "paused" and status["memberSummary"] == "0/4"
    assert {
        m["stateDetail"]["lastKnownContainerState"] for r in status["roles"] for m in r["members"]
    } == {"absent"}
    assert {m["state"] for r in status["roles"] for m in r["members"]} == {"configured"}
    assert condition(world, "Ready")[:2] == ("False", "Paused")
    assert condition(world, "Progressing")[:2] == ("False", "Paused")
    assert condition(world, "Degraded")[:2] == ("False", "Paused")
    assert one_pass(world, reconciler) == [], "a paused cluster costs no write"


def test_membership_waits_for_the_resume(converged):
    """A scale while paused changes nothing until the cluster runs again; then the
    same members come back with their names and node ids, and the new one joins."""
    world, reconciler = converged
    before = identities(world)
    edit_spec(world, set_paused(True))
    settle(world, reconciler)
    edit_spec(world, set_members(1, 3))
    writes = settle(world, reconciler)
    assert {w.sent()["spec"]["replicas"] for w in sts_writes(writes)} <= {0}
    assert identities(world) == before
    assert world.caches.list(PODS) == []

    edit_spec(world, set_paused(False))
    settle(world, reconciler)
    after = identities(world)
    assert set(before) < set(after), "same pods, Services and node ids"
    [(role, pod, _, node_id)] = set(after) - set(before)
    assert role == "worker" and pod.endswith("-2")
    assert node_id == max(n for *_, n in before) + 1, "node ids are never reused"
    status = stored(world)["status"]
    assert status["state"] == "configured" and status["memberSummary"] == "5/5"
    assert condition(world, "Ready")[:2] == ("True", "MembersConfigured")


def test_resumed_members_count_as_restarted(converged):
    """Pods that come back are new containers: setup's restart rule applies to them."""
    world, reconciler = converged
    edit_spec(world, set_paused(True))
    settle(world, reconciler)
    edit_spec(world, set_paused(False))
    one_pass(world, reconciler)
    for pod in world.caches.list(PODS):
        pod["status"]["containerStatuses"][0]["containerID"] = (
            "kwok://new-" + pod["metadata"]["name"]
        )
        world.caches.put(PODS, pod)
    settle(world, reconciler)
    members = [m for r in stored(world)["status"]["roles"] for m in r["members"]]
    assert {m["stateDetail"]["lastConfiguredContainer"] for m in members} == {
        "kwok://new-" + m["pod"] for m in members
    }
    assert stored(world)["status"]["state"] == "configured"


def time_to_ready_count() -> float:
    [family] = registry.CLUSTER_TIME_TO_READY.collect()
    return next(s.value for s in family.samples if s.name.endswith("_count"))


def test_time_to_first_ready_is_observed_once():
    world, reconciler = new_world()
    cluster = stored(world)
    cluster["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    world.caches.put(CLUSTERS, cluster)
    before = time_to_ready_count()
    settle(world, reconciler)
    assert condition(world, "Ready")[0] == "True"
    assert time_to_ready_count() == before + 1
    edit_spec(world, set_members(1, 3))
    settle(world, reconciler)
    assert condition(world, "Ready")[0] == "True"
    assert time_to_ready_count() == before + 1, "a scale is not a creation"


def not_ready(world: World, pod: str, since: str) -> None:
    found = world.caches.get(PODS, f"apps/{pod}")
    assert found is not None
    found["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "lastTransitionTime": since}
    ]
    world.caches.put(PODS, found)


def member_detail(world: World, pod: str) -> dict[str, Any]:
    return next(
        m["stateDetail"]
        for r in stored(world)["status"]["roles"]
        for m in r["members"]
        if m["pod"] == pod
    )


def test_unresponsive_member_is_reported_and_restarted_by_policy(converged):
    world, reconciler = converged
    worker = statefulset_name(world, "worker")
    edit_spec(
        world,
        lambda spec: spec["roles"][1].update(
            unresponsivePolicy={"action": "none", "afterSeconds": 60}
        ),
    )
    settle(world, reconciler)
    not_ready(world, f"{worker}-1", "2026-01-01T00:00:00Z")
    writes = one_pass(world, reconciler)
    assert not [w for w in writes if w.kind == "Pod"], "action none only reports"
    assert member_detail(world, f"{worker}-1")["unresponsive"].startswith(
        "pod not Ready since 2026-01-01T00:00:00Z"
    )
    assert condition(world, "Degraded")[:2] == ("True", "MemberUnresponsive")
    assert condition(world, "Ready")[0] == "False"

    edit_spec(
        world,
        lambda spec: spec["roles"][1].update(
            unresponsivePolicy={"action": "restart", "afterSeconds": 60}
        ),
    )
    writes = one_pass(world, reconciler)
    assert [(w.verb, w.kind, w.name) for w in writes if w.kind == "Pod"] == [
        ("delete", "Pod", f"{worker}-1")
    ]
    assert any(w.body and w.body.get("reason") == "MemberRestarted" for w in world.writer.events())
    settle(world, reconciler)  # the StatefulSet re-creates it, Ready
    assert "unresponsive" not in member_detail(world, f"{worker}-1")
    assert condition(world, "Degraded")[0] == "False"
    assert condition(world, "Ready")[0] == "True"


def test_not_ready_within_the_bound_asks_for_a_recheck(converged):
    world, reconciler = converged
    worker = statefulset_name(world, "worker")
    recent = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    not_ready(world, f"{worker}-0", recent)
    result = reconciler.reconcile(KEY)
    assert result.requeue_after is not None and 290 <= result.requeue_after <= 301


def test_an_app_change_moves_one_member_recording_it_before_its_statefulset(converged):
    """Crash safety of a live upgrade: the step (first member `moving`) is in status
    before the StatefulSet write that re-creates its pod; the other roles keep the old
    app, and the moving role's partition leaves every other pod alone."""
    world, reconciler = converged
    new = spark_app()
    del new["spec"]["defaultConfigPackage"]
    new["metadata"]["name"] = "spark-next"
    new["spec"]["version"] = "9"
    new["spec"]["upgradableFrom"] = [{"distroID": new["spec"]["distroID"]}]
    world.caches.put(APPS, new)
    edit_spec(world, lambda spec: spec.update(app="spark-next"))
    writes = one_pass(world, reconciler)
    status_writes = [
        i
        for i, w in enumerate(writes)
        if w.kind == "KubeDirectorCluster" and w.verb == "merge_patch"
    ]
    moved = [i for i, w in enumerate(writes) if w.kind == "StatefulSet"]
    assert status_writes and moved and status_writes[0] < moved[0]
    record = stored(world)["status"]["upgrade"]
    assert (record["fromApp"], record["toApp"], record["phase"]) == (
        "spark221e2",
        "spark-next",
        "Upgrading",
    )
    order = [(e["role"], e["state"]) for e in record["members"]]
    assert order[0] == ("controller", "moving")
    assert {s for _, s in order[1:]} == {"pending"}
    labels = {
        s["metadata"]["name"]: (
            s["spec"]["template"]["metadata"]["labels"]["kubedirector.hpe.com/kdapp"],
            s["spec"].get("updateStrategy", {}).get("rollingUpdate", {}).get("partition"),
        )
        for s in world.caches.list(STATEFULSETS)
    }
    assert labels == {
        statefulset_name(world, "controller"): ("spark-next", 0),
        statefulset_name(world, "worker"): ("spark221e2", 0),
        statefulset_name(world, "jupyter"): ("spark221e2", 0),
    }
    assert condition(world, "Progressing")[:2] == ("True", "Upgrading")
    assert stored(world)["status"]["state"] == "updating"
