"""configmeta: the document app images parse, checked against hand-written JSON."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.secretkeys import SecretKeyError, encrypt
from kubedirector.api.status import ClusterStatus
from kubedirector.desired.headless_service import member_fqdn
from kubedirector.setup.configmeta import (
    CONFIGMAP_TYPE_LABEL,
    SECRET_TYPE_LABEL,
    ConfigmetaError,
    ConnectedCluster,
    ConnectionsData,
    build_configmeta,
    configmeta_json,
)
from tests.unit.kd_fixtures import spark_app, spark_cluster

pytestmark = pytest.mark.unit

EXPECTED = Path(__file__).parent / "data" / "configmeta_spark_controller.json"
KEY = "00112233445566778899aabbccddeeff" * 2
CONFIG = Config(master_encryption_key=KEY)
JUPYTER_TOKEN_0 = "a" * 32
JUPYTER_TOKEN_1 = "b" * 32
DOMAIN = "kdhs-spark.apps.svc.cluster.local"
CONTROLLER = "spark221e2-controller-abcde-0"


def _member(pod: str, node_id: int, state: str, **extra: Any) -> dict[str, Any]:
    return {"pod": pod, "service": pod, "nodeID": node_id, "state": state, **extra}


def _spark_app_doc() -> dict[str, Any]:
    doc = spark_app()
    jupyter = next(s for s in doc["spec"]["services"] if s["id"] == "jupyter")
    jupyter["endpoint"]["hasAuthToken"] = True
    doc["spec"]["config"]["configMeta"] = {"spark_version": "2.2.1"}
    return doc


def _spark_cluster_doc() -> dict[str, Any]:
    doc = spark_cluster()
    spec = doc["spec"]
    spec["connections"] = {
        "clusters": ["centos", "gone-cluster"],
        "configmaps": ["source-control-info", "unlabelled", "gone-cm"],
        "secrets": ["db-creds"],
    }
    controller, worker, jupyter = spec["roles"]
    controller["resources"]["limits"] = {"cpu": "1500m", "memory": "4Gi"}
    controller["secretKeys"] = [
        {"name": "db-password", "encryptedValue": encrypt("hunter2", KEY, nonce=bytes(12))},
        {"name": "plain", "value": "not-yet-encrypted"},
    ]
    worker["resources"]["limits"] = {"cpu": "2", "memory": "8Gi"}
    worker["blockStorage"] = {"size": "10Gi", "pathPrefix": "/dev/kdblock", "numDevices": 2}
    jupyter["members"] = 2
    jupyter["resources"] = {"requests": {"cpu": "500m", "memory": "1G"}}
    doc["status"] = {
        "state": "updating",
        "clusterService": "kdhs-spark",
        "lastNodeID": 6,
        "roles": [
            {
                "id": "controller",
                "statefulSet": "spark221e2-controller-abcde",
                "members": [_member("spark221e2-controller-abcde-0", 1, "configured")],
            },
            {
                "id": "worker",
                "statefulSet": "spark221e2-worker-fghij",
                "members": [
                    _member(
                        "spark221e2-worker-fghij-0",
                        2,
                        "configured",
                        blockDevicePaths=["/dev/kdblock0", "/dev/kdblock1"],
                    ),
                    _member("spark221e2-worker-fghij-1", 3, "config error"),
                    _member("spark221e2-worker-fghij-2", 6, "delete pending"),
                ],
            },
            {
                "id": "jupyter",
                "statefulSet": "spark221e2-jupyter-klmno",
                "members": [
                    _member("spark221e2-jupyter-klmno-0", 4, "creating", authToken=JUPYTER_TOKEN_0),
                    _member(
                        "spark221e2-jupyter-klmno-1", 5, "create pending", authToken=JUPYTER_TOKEN_1
                    ),
                ],
            },
        ],
    }
    return doc


CENTOS_APP: dict[str, Any] = {
    "metadata": {"name": "centos7", "namespace": "apps"},
    "spec": {
        "label": {"name": "CentOS 7"},
        "distroID": "bluedata/centos7",
        "version": "1.0",
        "configSchemaVersion": 7,
        "defaultImageRepoTag": "docker.io/bluedata/centos7:1.0",
        "defaultConfigPackage": None,
        "services": [
            {"id": "ssh", "label": {"name": "SSH"}, "endpoint": {"port": 22, "urlScheme": "ssh"}}
        ],
        "roles": [{"id": "vanilla_centos", "cardinality": "1+"}],
        "config": {
            "selectedRoles": ["vanilla_centos"],
            "roleServices": [{"roleID": "vanilla_centos", "serviceIDs": ["ssh"]}],
        },
    },
}

CENTOS_CLUSTER: dict[str, Any] = {
    "metadata": {"name": "centos", "namespace": "apps", "uid": "uid-centos", "generation": 3},
    "spec": {
        "app": "centos7",
        "roles": [
            {
                "id": "vanilla_centos",
                "members": 1,
                "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                "secretKeys": [{"name": "centos-only", "value": "not-for-spark"}],
            }
        ],
    },
    "status": {
        "clusterService": "kdhs-centos",
        "roles": [
            {
                "id": "vanilla_centos",
                "statefulSet": "centos-vanilla-centos-pqrst",
                "members": [
                    _member("centos-vanilla-centos-pqrst-0", 1, "configured"),
                    _member("centos-vanilla-centos-pqrst-1", 2, "deleting"),
                ],
            }
        ],
    },
}

CONFIGMAPS: dict[str, dict[str, Any]] = {
    "source-control-info": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "source-control-info",
            "namespace": "apps",
            "resourceVersion": "77",
            "labels": {CONFIGMAP_TYPE_LABEL: "source-control", "team": "ml"},
            "annotations": {"note": "shared"},
        },
        "data": {"branch": "main", "repo-url": "http://repo:8080/scm/test.git"},
    },
    "unlabelled": {
        "metadata": {"name": "unlabelled", "namespace": "apps"},
        "data": {"ignored": "yes"},
    },
}

SECRETS: dict[str, dict[str, Any]] = {
    "db-creds": {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db-creds",
            "namespace": "apps",
            "labels": {SECRET_TYPE_LABEL: "database"},
        },
        "data": {"password": "czNjcmV0"},
    }
}


def _inputs(
    app_doc: dict[str, Any] | None = None, cluster_doc: dict[str, Any] | None = None
) -> tuple[App, Cluster, ConnectionsData]:
    app = App.from_dict(app_doc or _spark_app_doc())
    cluster = Cluster.from_dict(cluster_doc or _spark_cluster_doc(), CONFIG, app)
    centos_app = App.from_dict(copy.deepcopy(CENTOS_APP))
    centos = Cluster.from_dict(copy.deepcopy(CENTOS_CLUSTER), CONFIG, centos_app)
    connections = ConnectionsData(
        clusters={"centos": ConnectedCluster(cluster=centos, app=centos_app)},
        configmaps=copy.deepcopy(CONFIGMAPS),
        secrets=copy.deepcopy(SECRETS),
    )
    return app, cluster, connections


def _configmeta(
    app: App,
    cluster: Cluster,
    connections: ConnectionsData,
    *,
    pod: str = CONTROLLER,
    config: Config = CONFIG,
    status: ClusterStatus | None = None,
) -> dict[str, Any]:
    """The member's configmeta from these inputs, with the cluster's stored status
    unless another is given."""
    return build_configmeta(
        app,
        cluster,
        config,
        cluster.status if status is None else status,
        member_pod=pod,
        connections=connections,
    )


def _build(pod: str) -> dict[str, Any]:
    return _configmeta(*_inputs(), pod=pod)


def test_matches_hand_written_document():
    doc = _build("spark221e2-controller-abcde-0")
    assert doc == json.loads(EXPECTED.read_text())


def test_leaving_members_are_left_out():
    doc = _build("spark221e2-controller-abcde-0")
    worker = doc["nodegroups"]["1"]["roles"]["worker"]
    assert worker["node_ids"] == ["2", "3"]
    assert not any("fghij-2" in f for f in worker["fqdns"])
    centos = doc["connections"]["clusters"]["centos"]["nodegroups"]["1"]["roles"]
    assert centos["vanilla_centos"]["node_ids"] == ["1"]


def test_leaving_member_gets_no_configmeta():
    with pytest.raises(ConfigmetaError, match="fghij-2"):
        _build("spark221e2-worker-fghij-2")
    with pytest.raises(ConfigmetaError, match="nobody"):
        _build("nobody-0")


def test_role_without_listed_members_is_absent():
    cluster_doc = _spark_cluster_doc()
    for member in cluster_doc["status"]["roles"][2]["members"]:
        member["state"] = "deleting"
    app, cluster, connections = _inputs(cluster_doc=cluster_doc)
    doc = _configmeta(app, cluster, connections)
    assert set(doc["nodegroups"]["1"]["roles"]) == {"controller", "worker"}
    assert "jupyter" not in doc["services"]
    assert set(doc["services"]["ssh"]["1"]) == {"controller", "worker"}


def test_endpoints_use_member_fqdn_and_scheme():
    doc = _build("spark221e2-worker-fghij-1")
    fqdn = member_fqdn("spark221e2-worker-fghij-1", "kdhs-spark", "apps", CONFIG)
    assert doc["node"]["fqdn"] == doc["node"]["hostname"] == fqdn
    assert doc["node"]["domain"] == DOMAIN
    services = doc["nodegroups"]["1"]["roles"]["worker"]["services"]
    assert services["spark-worker"]["endpoints"][1] == f"http://{fqdn}:8081"
    # No urlScheme: the original still wrote the separator, and images expect it.
    assert services["ssh"]["endpoints"][1] == f"://{fqdn}:22"


def test_endpoints_follow_cluster_svc_domain_base():
    app, cluster, connections = _inputs()
    config = Config(master_encryption_key=KEY, cluster_svc_domain_base=".svc.example.org")
    doc = _configmeta(app, cluster, connections, config=config)
    spark = doc["nodegroups"]["1"]["roles"]["controller"]["services"]["spark"]
    assert spark["endpoints"] == [
        "http://spark221e2-controller-abcde-0.kdhs-spark.apps.svc.example.org:8080"
    ]
    assert doc["node"]["domain"] == "kdhs-spark.apps.svc.example.org"


def test_auth_token_is_the_members_own_in_its_role():
    jupyter0 = _build("spark221e2-jupyter-klmno-0")["nodegroups"]["1"]["roles"]
    jupyter1 = _build("spark221e2-jupyter-klmno-1")["nodegroups"]["1"]["roles"]
    assert jupyter0["jupyter"]["services"]["jupyter"]["authToken"] == JUPYTER_TOKEN_0
    assert jupyter1["jupyter"]["services"]["jupyter"]["authToken"] == JUPYTER_TOKEN_1
    # Services without hasAuthToken carry an empty token, as in the original.
    assert jupyter0["jupyter"]["services"]["ssh"]["authToken"] == ""


def test_auth_token_seen_from_another_role_is_the_last_members():
    roles = _build("spark221e2-controller-abcde-0")["nodegroups"]["1"]["roles"]
    assert roles["jupyter"]["services"]["jupyter"]["authToken"] == JUPYTER_TOKEN_1


def test_block_device_paths_from_status():
    node = _build("spark221e2-worker-fghij-0")["node"]
    assert node["block_device_paths"] == ["/dev/kdblock0", "/dev/kdblock1"]


def test_block_device_paths_from_role_when_status_has_none():
    node = _build("spark221e2-worker-fghij-1")["node"]
    assert node["block_device_paths"] == ["/dev/kdblock0", "/dev/kdblock1"]
    assert _build("spark221e2-controller-abcde-0")["node"]["block_device_paths"] == []


def test_secret_keys_decrypted_for_own_role_only():
    controller = _build("spark221e2-controller-abcde-0")
    roles = controller["nodegroups"]["1"]["roles"]
    assert roles["controller"]["secret_keys"] == {
        "db-password": "hunter2",
        "plain": "not-yet-encrypted",
    }
    worker = _build("spark221e2-worker-fghij-0")["nodegroups"]["1"]["roles"]
    assert worker["worker"]["secret_keys"] == {}
    assert "secret_keys" not in worker["controller"]
    text = configmeta_json(_build("spark221e2-worker-fghij-0"))
    assert "hunter2" not in text
    # A connected cluster's secret keys never reach this cluster's members.
    assert "not-for-spark" not in configmeta_json(controller)


def test_secret_key_needs_the_matching_master_key():
    app, cluster, connections = _inputs()
    for config in (Config(), Config(master_encryption_key="ff" * 32)):
        with pytest.raises(SecretKeyError):
            _configmeta(app, cluster, connections, config=config)


def test_connections_follow_the_spec_and_skip_missing_or_unlabelled():
    app, cluster, connections = _inputs()
    extra = ConnectionsData(
        clusters=connections.clusters,
        configmaps={**connections.configmaps, "not-in-spec": CONFIGMAPS["source-control-info"]},
        secrets={},
    )
    doc = _configmeta(app, cluster, extra)
    conns = doc["connections"]
    assert list(conns["clusters"]) == ["centos"]
    assert [cm["metadata"]["name"] for cm in conns["configmaps"]["source-control"]] == [
        "source-control-info"
    ]
    assert conns["secrets"] == {}


def test_configmaps_of_one_type_are_listed_in_spec_order():
    cluster_doc = _spark_cluster_doc()
    cluster_doc["spec"]["connections"]["configmaps"] = ["second", "first"]
    app, cluster, _ = _inputs(cluster_doc=cluster_doc)
    cms = {
        name: {
            "metadata": {"name": name, "labels": {CONFIGMAP_TYPE_LABEL: "kind"}},
            "data": {"n": name},
        }
        for name in ("first", "second")
    }
    doc = _configmeta(app, cluster, ConnectionsData(configmaps=cms))
    assert [cm["data"]["n"] for cm in doc["connections"]["configmaps"]["kind"]] == [
        "second",
        "first",
    ]


def test_changed_connection_changes_the_document():
    app, cluster, connections = _inputs()
    before = _configmeta(app, cluster, connections)
    changed = copy.deepcopy(CONFIGMAPS)
    changed["source-control-info"]["data"]["branch"] = "release"
    after = _configmeta(
        app,
        cluster,
        ConnectionsData(
            clusters=connections.clusters, configmaps=changed, secrets=connections.secrets
        ),
    )
    assert configmeta_json(before) != configmeta_json(after)


def test_json_is_canonical():
    doc = _build("spark221e2-controller-abcde-0")
    text = configmeta_json(doc)
    assert json.loads(text) == doc
    assert configmeta_json(json.loads(text)) == text


UPSTREAM_SAMPLE = Path(__file__).parents[2] / "docs" / "spec" / "upstream-configmeta.sample.json"


def test_key_order_is_the_originals():
    """Struct fields in Go declaration order, map keys sorted: configcli lists keys
    in file order, so `configcli --get node` answers as under the original."""
    sample = json.loads(UPSTREAM_SAMPLE.read_text())
    # The sample's one hand-ordered map; Go sorts map keys.
    data = sample["connections"]["secrets"]["extAuth"][0]["data"]
    sample["connections"]["secrets"]["extAuth"][0]["data"] = dict(sorted(data.items()))
    expected = json.dumps(sample, separators=(",", ":"))
    assert configmeta_json(_reordered(sample, random.Random(7))) == expected
    ours = json.loads(configmeta_json(_build("spark221e2-worker-fghij-0")))
    assert list(ours) == list(sample)
    assert list(ours["node"]) == [*sample["node"], "block_device_paths"]
    assert list(ours["cluster"]) == list(sample["cluster"])
    role = ours["nodegroups"]["1"]["roles"]["worker"]
    assert list(role) == list(sample["nodegroups"]["1"]["roles"]["controller"])
    assert list(role["services"]["ssh"]) == list(
        sample["nodegroups"]["1"]["roles"]["worker"]["services"]["ssh"]
    )
    assert list(role["flavor"]) == ["storage", "name", "memory", "description", "cores"]
    assert list(ours["nodegroups"]["1"]["roles"]) == sorted(ours["nodegroups"]["1"]["roles"])
    centos = ours["connections"]["clusters"]["centos"]
    assert list(centos) == ["version", "services", "nodegroups", "distros", "cluster"]


def _reordered(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _reordered(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_reordered(v, rng) for v in value]
    return value


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_same_inputs_in_any_order_give_the_same_bytes(seed):
    rng = random.Random(seed)
    reference = _build("spark221e2-worker-fghij-0")
    app_doc = _reordered(_spark_app_doc(), rng)
    cluster_doc = _reordered(_spark_cluster_doc(), rng)
    for role in cluster_doc["status"]["roles"]:
        rng.shuffle(role["members"])
    rng.shuffle(cluster_doc["status"]["roles"])
    rng.shuffle(cluster_doc["spec"]["roles"])
    app, cluster, connections = _inputs(app_doc, cluster_doc)
    doc = _configmeta(
        app,
        cluster,
        ConnectionsData(
            clusters=connections.clusters,
            configmaps=_reordered(CONFIGMAPS, rng),
            secrets=_reordered(SECRETS, rng),
        ),
        pod="spark221e2-worker-fghij-0",
    )
    assert configmeta_json(doc) == configmeta_json(reference)
    assert configmeta_json(_reordered(doc, rng)) == configmeta_json(reference)


def test_json_differs_between_members():
    texts = {
        configmeta_json(_build(pod))
        for pod in ("spark221e2-controller-abcde-0", "spark221e2-worker-fghij-0")
    }
    assert len(texts) == 2


def test_status_argument_wins_over_the_stored_one():
    app, cluster, connections = _inputs()
    newer = _spark_cluster_doc()["status"]
    newer["roles"][1]["members"][1]["state"] = "delete pending"
    doc = _configmeta(app, cluster, connections, status=ClusterStatus.from_dict(newer))
    assert doc["nodegroups"]["1"]["roles"]["worker"]["node_ids"] == ["2"]
