import pytest

from kubedirector.api.app import App, Cardinality
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.constants import MemberState
from kubedirector.api.errors import FieldError, SpecError
from kubedirector.api.status import ClusterStatus
from tests.unit.kd_fixtures import (
    BROKEN_YAML,
    compat_apps,
    compat_files,
    load_docs,
    present,
    spark_app,
    spark_cluster,
)

APP_FILES = compat_files("example_catalog")
CLUSTER_FILES = [p for p in compat_files("example_clusters") if p.name not in BROKEN_YAML]
CONFIG_FILES = compat_files("example_configs")


@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: p.name)
def test_every_upstream_app_parses(path):
    (doc,) = load_docs(path)
    app = App.from_dict(doc)
    assert app.name == doc["metadata"]["name"]
    assert len(app.roles) == len(doc["spec"]["roles"])
    for role in app.roles:
        assert role.image
        assert role.cardinality is not None


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name)
def test_every_upstream_cluster_parses(path):
    apps = {name: App.from_dict(doc) for name, doc in compat_apps().items()}
    (doc,) = load_docs(path)
    cluster = Cluster.from_dict(doc, Config(), apps.get(doc["spec"]["app"]))
    assert cluster.name == doc["metadata"]["name"]
    assert [r.id for r in cluster.roles] == [r["id"] for r in doc["spec"]["roles"]]
    assert all(r.limits for r in cluster.roles)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_every_upstream_config_parses(path):
    (doc,) = load_docs(path)
    config = Config.from_dict(doc)
    assert config.name == "kd-global-config"


def test_onprem_config_values_and_defaults():
    (doc,) = load_docs(next(p for p in CONFIG_FILES if p.name == "cr-config-onprem.yaml"))
    config = Config.from_dict(doc)
    assert config.default_service_type == "NodePort"
    assert config.native_systemd_support is True
    assert config.default_naming_scheme == "CrNameRole"
    assert config.default_storage_class_name is None


def test_config_defaults_without_a_config():
    config = Config.from_dict(None)
    assert config.default_service_type == "LoadBalancer"
    assert config.cluster_svc_domain_base == ".svc.cluster.local"
    assert config.default_naming_scheme == "CrNameRole"
    assert config.native_systemd_support is False
    assert config.required_secret_prefix == ""


def test_app_role_defaults_resolved():
    app = App.from_dict(compat_apps()["cdh632"])
    cmserver, primary = present(app.role("cmserver")), present(app.role("primary"))
    assert cmserver.image == "bluedata/cdh632multi:1.4"
    assert cmserver.persist_dirs == ("/opt", "/var")
    assert primary.persist_dirs == ("/opt", "/var", "/data")
    assert cmserver.event_list == ("configure", "addnodes", "delnodes")
    assert present(app.role("hbase")).event_list == ("configure",)
    assert cmserver.max_log_size_dump == 256
    assert present(cmserver.config_package).package_url == "file:///opt/configscripts/appconfig.tgz"
    assert [s.id for s in cmserver.services] == [
        "cdh-scm-srvr",
        "cdh-scm-srvr-db",
        "cdh-scm-agent",
        "mysqld",
        "ssh",
    ]


def test_role_level_values_override_defaults():
    app = App.from_dict(compat_apps()["mapr610-secure"])
    assert present(app.role("edge")).image == "bluedata/mapr610edge:1.3"
    assert present(app.role("cldb")).image == "bluedata/mapr610:1.3"


def test_null_default_config_package_means_none():
    app = App.from_dict(compat_apps()["centos7x"])
    assert app.default_config_package is None
    assert all(r.config_package is None for r in app.roles)


def test_explicit_null_role_package_overrides_the_default():
    doc = spark_app()
    doc["spec"]["roles"][2]["configPackage"] = None
    app = App.from_dict(doc)
    assert present(app.role("jupyter")).config_package is None
    assert present(present(app.role("worker")).config_package).use_new_setup_layout is True


def test_event_list_defaults_to_every_event_including_reconnect():
    app = App.from_dict(spark_app())
    assert present(app.role("worker")).event_list == (
        "configure",
        "addnodes",
        "delnodes",
        "reconnect",
    )


def test_min_resources_storage_and_container_spec():
    ngc = App.from_dict(compat_apps()["ngc-tensorflow"])
    role = present(ngc.role("tensorflow"))
    assert role.min_resources == {"memory": "2000Mi", "cpu": "2"}
    assert role.stdin and role.tty
    doc = spark_app()
    doc["spec"]["roles"][0]["minStorage"] = {"size": "10Gi"}
    controller = present(App.from_dict(doc).role("controller"))
    assert present(controller.min_storage).size == "10Gi"
    assert controller.needs_storage


@pytest.mark.parametrize(
    ("text", "count", "at_least"), [("1", 1, False), ("0+", 0, True), ("12+", 12, True)]
)
def test_cardinality(text, count, at_least):
    card = present(Cardinality.parse(text))
    assert (card.count, card.at_least) == (count, at_least)
    assert str(card) == text


def test_cardinality_allows():
    assert Cardinality(2, True).allows(5)
    assert not Cardinality(2, True).allows(1)
    assert Cardinality(1, False).allows(1)
    assert not Cardinality(1, False).allows(2)


def test_service_port_names():
    app = App.from_dict(spark_app())
    assert [s.port_name for s in present(app.role("controller")).services] == [
        "generic-ssh",
        "http-spark",
        "spark-spark-master",
        "http-spark-worker",
    ]


def test_app_flags():
    app = App.from_dict(spark_app())
    assert app.systemd_required
    assert app.capabilities == ("SYS_RESOURCE",)


def test_cluster_defaults_from_config_and_app():
    app = App.from_dict(compat_apps()["cdh5142cm"])
    (doc,) = load_docs(next(p for p in CLUSTER_FILES if p.name == "cr-cluster-cdh5142cm-stor.yaml"))
    config = Config(default_service_type="NodePort", default_storage_class_name="fast")
    cluster = Cluster.from_dict(doc, config, app)
    assert cluster.service_type == "NodePort"
    assert cluster.naming_scheme == "CrNameRole"
    assert present(cluster.role("controller")).members == 1
    assert present(cluster.role("worker")).members == 2
    assert present(present(cluster.role("controller")).storage).storage_class_name == "fast"
    assert present(Cluster.from_dict(doc).role("controller")).members is None


def test_cluster_catalog_resolution():
    app = App.from_dict(spark_app())
    cluster = Cluster.from_dict(spark_cluster())
    assert cluster.catalog_for(app) == "local"
    doc = spark_cluster()
    doc["metadata"]["namespace"] = "elsewhere"
    assert Cluster.from_dict(doc).catalog_for(app) == "system"
    doc["spec"]["appCatalog"] = "local"
    assert Cluster.from_dict(doc).catalog_for(app) == "local"


def test_cluster_role_fields():
    doc = spark_cluster()
    doc["spec"]["defaultSecret"] = {"name": "s1", "mountPath": "/etc/s1"}
    doc["spec"]["roles"][0] |= {
        "secret": {"name": "own", "mountPath": "/etc/own", "defaultMode": 0o400, "readOnly": True},
        "env": [{"name": "A", "value": "1"}],
        "podLabels": {"a": "b"},
        "serviceAnnotations": {"x/y": "z"},
        "affinity": {"nodeAffinity": {}},
        "serviceAccountName": "sa",
        "fileInjections": [
            {"srcURL": "https://x/y", "destDir": "/opt", "permissions": {"fileMode": "0755"}}
        ],
        "secretKeys": [{"name": "k", "encryptedValue": "abc"}],
        "volumeProjections": [{"pvcName": "data", "mountPath": "/data", "readOnly": True}],
        "sharedMemory": "1Gi",
        "blockStorage": {"pathPrefix": "/dev/xdb", "numDevices": 2, "size": "10Gi"},
    }
    cluster = Cluster.from_dict(doc)
    controller, worker = present(cluster.role("controller")), present(cluster.role("worker"))
    secret = present(controller.secret)
    assert secret.name == "own" and secret.default_mode == 0o400
    assert present(worker.secret).name == "s1"
    assert controller.env == ({"name": "A", "value": "1"},)
    assert controller.pod_labels == {"a": "b"}
    assert controller.service_annotations == {"x/y": "z"}
    assert controller.affinity == {"nodeAffinity": {}}
    assert controller.service_account_name == "sa"
    assert controller.file_injections[0].file_mode == "0755"
    assert controller.secret_keys[0].encrypted_value == "abc"
    assert controller.volume_projections[0].read_only
    assert controller.shared_memory == "1Gi"
    assert present(controller.block_storage).num_devices == 2
    assert controller.resources() == {
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "2", "memory": "4Gi"},
    }


def test_null_connection_lists_parse():
    (doc,) = load_docs(next(p for p in CLUSTER_FILES if p.name == "cr-cluster-mlflow.yaml"))
    assert Cluster.from_dict(doc).connections.secrets == ()


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["spec"].pop("roles"), "spec.roles"),
        (lambda d: d["spec"]["roles"][1].update(cardinality="many"), "spec.roles[1].cardinality"),
        (lambda d: d["spec"]["roles"][1].update(cardinality=3), "spec.roles[1].cardinality"),
        (lambda d: d["spec"].update(roles="x"), "spec.roles"),
        (lambda d: d["spec"]["roles"].append(7), "spec.roles[3]"),
        (
            lambda d: d["spec"]["services"][0]["endpoint"].pop("port"),
            "spec.services[0].endpoint.port",
        ),
        (lambda d: d["spec"].update(label=None), "spec.label.name"),
        (lambda d: d["spec"].pop("configSchemaVersion"), "spec.configSchemaVersion"),
        (lambda d: d["spec"]["config"].update(selectedRoles=[1]), "spec.config.selectedRoles[0]"),
        (lambda d: d.update(spec=[]), "spec"),
    ],
)
def test_bad_app_raises_spec_error_with_path(mutate, path):
    doc = spark_app()
    mutate(doc)
    with pytest.raises(SpecError) as info:
        App.from_dict(doc)
    assert path in [e.path for e in info.value.errors]
    assert path in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["spec"].pop("app"), "spec.app"),
        (lambda d: d["spec"]["roles"][0].update(members="1"), "spec.roles[0].members"),
        (lambda d: d["spec"]["roles"][0].update(resources=[]), "spec.roles[0].resources"),
        (lambda d: d["spec"]["roles"][0].update(storage={}), "spec.roles[0].storage.size"),
        (lambda d: d["spec"]["roles"][0].update(env=["A=1"]), "spec.roles[0].env[0]"),
        (lambda d: d.update(status={"roles": [{"members": "x"}]}), "status.roles[0].members"),
        (lambda d: d.update(status={"lastNodeID": "7"}), "status.lastNodeID"),
        (lambda d: d["spec"].update(paused="yes"), "spec.paused"),
    ],
)
def test_bad_cluster_raises_spec_error_with_path(mutate, path):
    doc = spark_cluster()
    mutate(doc)
    with pytest.raises(SpecError) as info:
        Cluster.from_dict(doc)
    assert path in [e.path for e in info.value.errors]


def test_bad_config_raises_spec_error():
    with pytest.raises(SpecError) as info:
        Config.from_dict({"metadata": {"name": "kd-global-config"}, "spec": {"podLabels": []}})
    assert info.value.errors == [FieldError("spec.podLabels", "must be an object, not list")]


STATUS = {
    "state": "configured",
    "memberStateRollup": {
        "membershipChanging": False,
        "membersDown": False,
        "membersInitializing": False,
        "membersWaiting": False,
        "membersRestarting": False,
        "configErrors": True,
        "membersNotScheduled": False,
    },
    "clusterService": "spark221e2-zbg4d",
    "lastNodeID": 4,
    "specGenerationToProcess": 3,
    "lastConnectionHash": "abc",
    "observedGeneration": 3,
    "memberSummary": "3/4",
    "generationUID": "kept-as-is",
    "conditions": [
        {
            "type": "Ready",
            "status": "False",
            "reason": "ConfigError",
            "message": "1 member in config error",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 3,
        }
    ],
    "roles": [
        {
            "id": "controller",
            "statefulSet": "spark221e2-controller-zbg4d",
            "members": [
                {
                    "pod": "spark221e2-controller-zbg4d-0",
                    "service": "spark221e2-controller-zbg4d-0",
                    "pvc": "p-spark221e2-controller-zbg4d-0",
                    "nodeID": 1,
                    "authToken": "t0k",
                    "blockDevicePaths": ["/dev/xdb0"],
                    "state": "config error",
                    "stateDetail": {
                        "configErrorDetail": "exit 3",
                        "lastConfigDataGeneration": 2,
                        "lastSetupGeneration": 2,
                        "configuringContainer": "containerd://a",
                        "lastConfiguredContainer": "containerd://a",
                        "lastKnownContainerState": "running",
                        "pendingNotifyCmds": [{"arguments": ["--addnodes", "--role", "worker"]}],
                        "lastConnectionVersion": 5,
                        "startScriptStdoutMessage": "out",
                        "startScriptStderrMessage": "err",
                        "schedulingErrorMessage": "no nodes",
                        "storageInitProgress": "2/5",
                    },
                },
                {
                    "pod": "spark221e2-controller-zbg4d-1",
                    "service": "n/a",
                    "nodeID": 4,
                    "state": "create pending",
                    "stateDetail": {},
                },
            ],
        }
    ],
}


def test_status_round_trips():
    status = ClusterStatus.from_dict(STATUS)
    assert status.to_dict() == STATUS
    assert ClusterStatus.from_dict(status.to_dict()) == status


def test_status_typed_view():
    status = ClusterStatus.from_dict(STATUS)
    role = present(status.role("controller"))
    first, second = role.members
    assert first.state == MemberState.CONFIG_ERROR
    assert second.state == MemberState.CREATE_PENDING
    assert (first.ordinal, second.ordinal) == (0, 1)
    assert first.state_detail.pending_notify_cmds == (("--addnodes", "--role", "worker"),)
    assert status.member_state_rollup.config_errors
    assert status.conditions[0].type == "Ready"
    assert status.extra == {"generationUID": "kept-as-is"}


def test_empty_status():
    status = ClusterStatus.from_dict(None)
    assert status.roles == ()
    assert status.to_dict()["lastNodeID"] == 0
    assert Cluster.from_dict(spark_cluster()).status == status


def test_cluster_with_status_parses_it():
    doc = spark_cluster() | {"status": STATUS}
    assert Cluster.from_dict(doc).status.last_node_id == 4


def test_member_states_are_the_api_strings():
    assert [s.value for s in MemberState] == [
        "create pending",
        "creating",
        "configured",
        "config error",
        "delete pending",
        "deleting",
    ]
