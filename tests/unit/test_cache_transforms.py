"""What the caches keep of pods and Services: everything the reconcilers read, nothing more."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from kubernetes.client import ApiClient

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.status import MemberStatus
from kubedirector.cache.factory import InformerFactory
from kubedirector.cache.transforms import (
    INTERN_MAX,
    Compacted,
    compact,
    for_resource,
    strip_managed_fields,
    trim_pod,
    trim_service,
)
from kubedirector.desired.diff import semantic_diff
from kubedirector.desired.headless_service import build_headless_service
from kubedirector.desired.member_service import build_member_service
from kubedirector.lifecycle.members import (
    advance_member,
    container_identity,
    container_state,
    scheduling_error,
)
from kubedirector.resources import APPS, CLUSTERS, CONFIGS, PODS, SERVICES, STATEFULSETS
from kubedirector.webhook.start import system_factory
from tests.unit.kd_fixtures import spark_app, spark_cluster

MANAGED = [{"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:x": {}}}]


def pod(container_state: dict[str, Any], *, scheduled: bool = True) -> dict[str, Any]:
    """A pod as the API server returns it, with the spec and status a kubelet fills in."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "spark-worker-abcde-0",
            "namespace": "ns1",
            "uid": "pod-uid",
            "resourceVersion": "42",
            "labels": {"kubedirector.hpe.com/kdcluster": "spark"},
            "ownerReferences": [{"kind": "StatefulSet", "name": "sts", "uid": "sts-uid"}],
            "managedFields": copy.deepcopy(MANAGED),
        },
        "spec": {
            "nodeName": "kwok-node-3",
            "containers": [{"name": "app", "image": "x", "env": [{"name": "A", "value": "b"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.1",
            "hostIP": "10.1.0.1",
            "qosClass": "Guaranteed",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True" if scheduled else "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available",
                },
            ],
            "containerStatuses": [
                {"name": "sidecar", "state": {"running": {}}, "restartCount": 0},
                {
                    "name": "app",
                    "state": container_state,
                    "restartCount": 2,
                    "containerID": "containerd://abc",
                },
            ],
        },
    }


STATES = st.sampled_from(
    [
        {"running": {"startedAt": "2026-11-30T07:00:00Z"}},
        {"waiting": {"reason": "ContainerCreating"}},
        {"waiting": {"reason": "PodInitializing"}},
        {"terminated": {"exitCode": 1}},
        {},
    ]
)


@given(state=STATES, scheduled=st.booleans(), deleting=st.booleans(), setup=st.booleans())
def test_trimmed_pod_reads_the_same_to_the_member_lifecycle(
    state: dict[str, Any], scheduled: bool, deleting: bool, setup: bool
) -> None:
    full = pod(state, scheduled=scheduled)
    if deleting:
        full["metadata"]["deletionTimestamp"] = "2026-11-30T07:01:00Z"
    trimmed = trim_pod(copy.deepcopy(full))
    assert container_state(trimmed) == container_state(full)
    assert container_identity(trimmed) == container_identity(full)
    assert scheduling_error(trimmed) == scheduling_error(full)
    member = MemberStatus(
        pod="spark-worker-abcde-0", service="s", node_id=1, state="create pending"
    )
    assert advance_member(member, trimmed, setup) == advance_member(member, full, setup)


def test_trimmed_pod_drops_spec_and_unread_status() -> None:
    full = pod({"running": {}})
    trimmed = trim_pod(copy.deepcopy(full))
    assert trimmed["spec"] == {"nodeName": "kwok-node-3"}
    assert set(trimmed["status"]) == {"phase", "conditions", "containerStatuses"}
    assert "managedFields" not in trimmed["metadata"]
    assert {k: v for k, v in trimmed["metadata"].items()} == {
        k: v for k, v in full["metadata"].items() if k != "managedFields"
    }
    assert len(json.dumps(trimmed)) < len(json.dumps(full))


def test_trim_pod_takes_a_pod_without_spec_or_status() -> None:
    bare = {"metadata": {"name": "p", "namespace": "n"}}
    assert trim_pod(copy.deepcopy(bare)) == bare


def served(desired: dict[str, Any]) -> dict[str, Any]:
    """The Service as the API server returns it: defaults and allocations filled in."""
    live = copy.deepcopy(desired)
    live["metadata"] |= {"uid": "svc-uid", "resourceVersion": "7", "managedFields": MANAGED}
    spec = live["spec"]
    spec.setdefault("clusterIP", "10.96.0.12")
    spec |= {
        "clusterIPs": [spec["clusterIP"]],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
        "sessionAffinity": "None",
    }
    spec.setdefault("type", "ClusterIP")
    live["status"] = {"loadBalancer": {}}
    return live


def test_trimmed_services_still_match_what_the_builders_want() -> None:
    """Nothing the reconcilers compare is dropped: no diff, hence no write, on trimmed Services."""
    config = Config()
    app = App.from_dict(spark_app())
    raw = spark_cluster()
    raw["metadata"] |= {"namespace": "ns1", "uid": "c-uid", "generation": 1}
    cluster = Cluster.from_dict(raw, config, app)
    headless = build_headless_service(app, cluster, config, "kdhs-abcde")
    member = build_member_service(
        app, cluster, config, role_id="controller", pod="kdss-x-0", name="s-kdss-x-0"
    )
    assert member is not None
    for desired in (headless, member):
        trimmed = trim_service(served(desired))
        compared = {"metadata": {"labels": desired["metadata"]["labels"]}, "spec": desired["spec"]}
        assert semantic_diff(compared, trimmed) == []
        assert "status" not in trimmed and "managedFields" not in trimmed["metadata"]
        assert "sessionAffinity" not in trimmed["spec"]
    assert trim_service(served(headless))["spec"]["clusterIP"] == "None"


def test_each_resource_gets_its_transform() -> None:
    assert for_resource(PODS.group, PODS.plural) == Compacted(trim_pod)
    assert for_resource(SERVICES.group, SERVICES.plural) == Compacted(trim_service)
    for other in (STATEFULSETS, CLUSTERS, APPS, CONFIGS):
        assert for_resource(other.group, other.plural) == Compacted(strip_managed_fields)
    assert for_resource("apps", "pods") == Compacted(strip_managed_fields)


def test_factory_informers_use_the_transforms() -> None:
    factory = InformerFactory(ApiClient())
    assert factory.informers(PODS, "l")[0].transform == Compacted(trim_pod)
    assert factory.informers(CLUSTERS)[0].transform == Compacted(strip_managed_fields)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(JSON)
def test_compact_keeps_every_value(value: Any) -> None:
    assert compact(value) == value


def test_compacted_objects_share_keys_and_short_values() -> None:
    text = json.dumps(pod({"running": {}}))
    one, two = (Compacted(trim_pod)(json.loads(text)) for _ in range(2))
    assert one == trim_pod(json.loads(text))
    key_one = next(k for k in one["metadata"] if k == "namespace")
    key_two = next(k for k in two["metadata"] if k == "namespace")
    assert key_one is key_two
    assert one["metadata"]["namespace"] is two["metadata"]["namespace"]
    long = "x" * (INTERN_MAX + 1)
    assert compact({"a": long})["a"] is long  # long strings are left alone, not interned


def test_covering_shares_one_factory_per_namespace() -> None:
    api = ApiClient()
    everywhere = InformerFactory(api)
    assert everywhere.covering("kubedirector") is everywhere
    some = InformerFactory(api, ("team-a",))
    assert some.covering("team-a") is some
    system = some.covering("kubedirector")
    assert system is not some and system.namespaces == ("kubedirector",)
    assert some.covering("kubedirector") is system
    assert system.informers(APPS)[0] is some.covering("kubedirector").informers(APPS)[0]


def test_webhook_and_controllers_share_the_system_informers() -> None:
    api = ApiClient()
    watched = InformerFactory(api, ("team-a",))
    assert system_factory(api, watched, "kubedirector") is watched.covering("kubedirector")
