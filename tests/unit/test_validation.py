import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.config import Config
from kubedirector.api.errors import FieldError
from kubedirector.api.validation import (
    validate_app,
    validate_app_delete,
    validate_app_update,
    validate_cluster,
    validate_cluster_update,
    validate_config,
    validate_config_delete,
)
from tests.unit.kd_fixtures import (
    BROKEN_YAML,
    compat_apps,
    compat_files,
    load_docs,
    spark_app,
    spark_cluster,
)

Mutation = Callable[[dict[str, Any]], Any]


def paths(errors: list[FieldError]) -> list[str]:
    return [e.path for e in errors]


def only_error(errors: list[FieldError], path: str) -> FieldError:
    assert paths(errors) == [path], errors
    return errors[0]


# ---- apps -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(compat_apps()))
def test_upstream_apps_are_valid(name):
    assert validate_app(compat_apps()[name]) == []


def test_spark_fixture_is_valid():
    assert validate_app(spark_app()) == []


def _role(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d["spec"]["roles"][i]


def _service(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d["spec"]["services"][i]


APP_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "duplicate role",
        lambda d: _role(1)(d).update(id="controller"),
        "spec.roles[1].id",
        "duplicate role id 'controller'",
    ),
    (
        "duplicate service",
        lambda d: _service(1)(d).update(id="ssh"),
        "spec.services[1].id",
        "duplicate service id 'ssh'",
    ),
    (
        "roleServices unknown role",
        lambda d: d["spec"]["config"]["roleServices"][0].update(roleID="boss"),
        "spec.config.roleServices[0].roleID",
        "unknown role 'boss'",
    ),
    (
        "roleServices unknown service",
        lambda d: d["spec"]["config"]["roleServices"][1]["serviceIDs"].append("nope"),
        "spec.config.roleServices[1].serviceIDs[2]",
        "unknown service 'nope'",
    ),
    (
        "selectedRoles unknown role",
        lambda d: d["spec"]["config"]["selectedRoles"].append("x"),
        "spec.config.selectedRoles[3]",
        "unknown role 'x'",
    ),
    (
        "no image",
        lambda d: d["spec"].pop("defaultImageRepoTag"),
        "spec.roles[0].imageRepoTag",
        "no image",
    ),
    (
        "tty without stdin",
        lambda d: _role(0)(d).update(containerSpec={"tty": True}),
        "spec.roles[0].containerSpec.tty",
        "tty needs stdin",
    ),
    (
        "unparsable minStorage",
        lambda d: _role(0)(d).update(minStorage={"size": "lots"}),
        "spec.roles[0].minStorage.size",
        "'lots' is not a quantity",
    ),
    (
        "dashboard without scheme",
        lambda d: _service(0)(d)["endpoint"].update(isDashboard=True),
        "spec.services[0].endpoint.isDashboard",
        "needs a urlScheme",
    ),
    (
        "schema version",
        lambda d: d["spec"].update(configSchemaVersion=6),
        "spec.configSchemaVersion",
        "at least 7",
    ),
    (
        "long service id",
        lambda d: _service(4)(d).update(id="jupyter-notebook-x"),
        "spec.services[4].id",
        "at most 15",
    ),
    (
        "port range",
        lambda d: _service(0)(d)["endpoint"].update(port=70000),
        "spec.services[0].endpoint.port",
        "not a port",
    ),
    (
        "unknown event",
        lambda d: _role(0)(d).update(eventList=["configure", "explode"]),
        "spec.roles[0].eventList[1]",
        "'explode' is not one of",
    ),
    (
        "relative persist dir",
        lambda d: d["spec"].update(defaultPersistDirs=["data"]),
        "spec.defaultPersistDirs[0]",
        "absolute path",
    ),
    (
        "root persist dir",
        lambda d: _role(1)(d).update(persistDirs=["/"]),
        "spec.roles[1].persistDirs[0]",
        "root directory",
    ),
    (
        "bad minResources",
        lambda d: _role(0)(d).update(minResources={"cpu": "two"}),
        "spec.roles[0].minResources.cpu",
        "not a quantity",
    ),
    (
        "bad package URL",
        lambda d: d["spec"]["defaultConfigPackage"].update(packageURL="ftp://x/y.tgz"),
        "spec.defaultConfigPackage.packageURL",
        "file://, http:// or https://",
    ),
    ("long role id", lambda d: _role(2)(d).update(id="j" * 64), "spec.roles[2].id", "at most 63"),
    (
        "role id not a label value",
        lambda d: _role(2)(d).update(id="jupyter notebook"),
        "spec.roles[2].id",
        "the role id is a label value",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"), [c[1:] for c in APP_CASES], ids=[c[0] for c in APP_CASES]
)
def test_app_rule(mutate, path, reason):
    doc = spark_app()
    mutate(doc)
    errors = validate_app(doc)
    assert path in paths(errors), errors
    assert any(reason in e.message for e in errors if e.path == path), errors


def test_no_image_names_every_role_without_one():
    doc = spark_app()
    doc["spec"].pop("defaultImageRepoTag")
    assert paths(validate_app(doc)) == ["spec.roles[0].imageRepoTag", "spec.roles[1].imageRepoTag"]


def test_unparsable_app_reports_parse_errors():
    doc = spark_app()
    doc["spec"]["roles"] = "x"
    assert paths(validate_app(doc)) == ["spec.roles"]


def test_app_update_refused_while_in_use():
    old, new = spark_app(), spark_app()
    new["spec"]["version"] = "9"
    error = only_error(validate_app_update(old, new, in_use=True), "spec")
    assert "in use" in error.message
    assert validate_app_update(old, new, in_use=False) == []
    assert validate_app_update(old, spark_app(), in_use=True) == []


def test_app_update_still_validates_the_new_spec():
    new = spark_app()
    new["spec"]["configSchemaVersion"] = 1
    assert paths(validate_app_update(spark_app(), new, in_use=False)) == [
        "spec.configSchemaVersion"
    ]


def test_app_delete_refused_while_in_use():
    error = only_error(validate_app_delete("spark221e2", ["b", "a"]), "metadata.name")
    assert "a, b" in error.message
    assert validate_app_delete("spark221e2", []) == []


# ---- clusters ---------------------------------------------------------------------------


def check_cluster(
    doc: dict[str, Any],
    app_doc: dict[str, Any] | None = None,
    config: Config | None = None,
    storage_classes: set[str] | None = None,
) -> list[FieldError]:
    app = App.from_dict(app_doc or spark_app())
    return validate_cluster(doc, app, config or Config(), storage_classes)


UPSTREAM_CLUSTERS = [
    p
    for p in compat_files("example_clusters")
    if p.name not in BROKEN_YAML | {"cr-cluster-training-engine.yaml"}
]


@pytest.mark.parametrize("path", UPSTREAM_CLUSTERS, ids=lambda p: p.name)
def test_upstream_clusters_are_valid(path):
    apps = compat_apps()
    (doc,) = load_docs(path)
    app = App.from_dict(apps[doc["spec"]["app"]])
    assert validate_cluster(doc, app, Config(), storage_classes={"local-path"}) == []


def test_training_engine_cluster_names_the_unknown_role():
    path = next(
        p for p in compat_files("example_clusters") if p.name == "cr-cluster-training-engine.yaml"
    )
    (doc,) = load_docs(path)
    app = App.from_dict(compat_apps()["training-engine"])
    error = only_error(validate_cluster(doc, app, Config()), "spec.roles[2].id")
    assert "'controller'" in error.message
    assert "LoadBalancer, RESTServer" in error.message


def test_spark_cluster_is_valid():
    assert check_cluster(spark_cluster()) == []


def test_unknown_app():
    doc = spark_cluster()
    doc["spec"]["appCatalog"] = "system"
    error = only_error(validate_cluster(doc, None, Config()), "spec.app")
    assert "unknown app 'spark221e2' in catalog 'system'" in error.message


def _croles(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d["spec"]["roles"][i]


def _with_app_change(change: Mutation) -> dict[str, Any]:
    doc = spark_app()
    change(doc)
    return doc


def _many_workers(d: dict[str, Any]) -> None:
    _croles(1)(d)["members"] = 999


CLUSTER_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "duplicate role",
        lambda d: _croles(2)(d).update(id="worker"),
        "spec.roles[2].id",
        "duplicate role 'worker'",
    ),
    (
        "unknown role",
        lambda d: _croles(2)(d).update(id="gpu"),
        "spec.roles[2].id",
        "not a role of app",
    ),
    (
        "required role missing",
        lambda d: d["spec"]["roles"].pop(0),
        "spec.roles",
        "role 'controller' (cardinality '1')",
    ),
    (
        "members outside cardinality",
        lambda d: _croles(0)(d).update(members=2),
        "spec.roles[0].members",
        "do not fit the cardinality '1'",
    ),
    (
        "negative members",
        lambda d: _croles(1)(d).update(members=-1),
        "spec.roles[1].members",
        "negative",
    ),
    ("too many members", _many_workers, "spec.roles", "1001 members in all"),
    (
        "missing cpu limit",
        lambda d: _croles(0)(d)["resources"]["limits"].pop("cpu"),
        "spec.roles[0].resources.limits.cpu",
        "is required",
    ),
    (
        "request above limit",
        lambda d: _croles(0)(d)["resources"]["requests"].update(cpu="3"),
        "spec.roles[0].resources.requests.cpu",
        "exceeds the limit",
    ),
    (
        "bad quantity",
        lambda d: _croles(0)(d)["resources"]["requests"].update(memory="4 GB"),
        "spec.roles[0].resources.requests.memory",
        "not a quantity",
    ),
    (
        "bad label key",
        lambda d: _croles(0)(d).update(podLabels={"-bad": "x"}),
        "spec.roles[0].podLabels.-bad",
        "label key",
    ),
    (
        "bad label value",
        lambda d: _croles(0)(d).update(serviceLabels={"ok": "not ok"}),
        "spec.roles[0].serviceLabels.ok",
        "label value",
    ),
    (
        "bad annotation key",
        lambda d: _croles(0)(d).update(podAnnotations={"a/b/c": "x"}),
        "spec.roles[0].podAnnotations.a/b/c",
        "annotation key",
    ),
    (
        "bad service type",
        lambda d: d["spec"].update(serviceType="External"),
        "spec.serviceType",
        "not one of ClusterIP, NodePort, LoadBalancer",
    ),
    (
        "bad naming scheme",
        lambda d: d["spec"].update(namingScheme="Pretty"),
        "spec.namingScheme",
        "not one of",
    ),
    (
        "bad catalog",
        lambda d: d["spec"].update(appCatalog="global"),
        "spec.appCatalog",
        "not one of local, system",
    ),
    (
        "zero block devices",
        lambda d: _croles(0)(d).update(
            blockStorage={"pathPrefix": "/dev/x", "numDevices": 0, "size": "1Gi"}
        ),
        "spec.roles[0].blockStorage.numDevices",
        "at least 1",
    ),
    (
        "relative secret mount",
        lambda d: _croles(0)(d).update(secret={"name": "s", "mountPath": "etc"}),
        "spec.roles[0].secret.mountPath",
        "absolute",
    ),
    (
        "bad injection URL",
        lambda d: _croles(0)(d).update(fileInjections=[{"srcURL": "s3://x", "destDir": "/opt"}]),
        "spec.roles[0].fileInjections[0].srcURL",
        "URL",
    ),
    (
        "secret key without value",
        lambda d: _croles(0)(d).update(secretKeys=[{"name": "k"}]),
        "spec.roles[0].secretKeys[0]",
        "needs a value",
    ),
    (
        "bad shared memory",
        lambda d: _croles(0)(d).update(sharedMemory="big"),
        "spec.roles[0].sharedMemory",
        "not a quantity",
    ),
    (
        "negative disruption budget",
        lambda d: _croles(0)(d).update(disruptionBudget={"maxUnavailable": -1}),
        "spec.roles[0].disruptionBudget.maxUnavailable",
        "must not be negative",
    ),
    (
        "disruption budget above 100%",
        lambda d: _croles(0)(d).update(disruptionBudget={"maxUnavailable": "150%"}),
        "spec.roles[0].disruptionBudget.maxUnavailable",
        "percentage from '0%' to '100%'",
    ),
    (
        "disruption budget not a number",
        lambda d: _croles(0)(d).update(disruptionBudget={"maxUnavailable": "one"}),
        "spec.roles[0].disruptionBudget.maxUnavailable",
        "must be an integer or a percentage",
    ),
    (
        "disruption budget enabled not a boolean",
        lambda d: _croles(0)(d).update(disruptionBudget={"enabled": "yes"}),
        "spec.roles[0].disruptionBudget.enabled",
        "true or false",
    ),
    (
        "env without name",
        lambda d: _croles(0)(d).update(env=[{"value": "1"}]),
        "spec.roles[0].env[0].name",
        "is required",
    ),
    (
        "long cluster name",
        lambda d: d["metadata"].update(name="c" * 64),
        "metadata.name",
        "label value",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"), [c[1:] for c in CLUSTER_CASES], ids=[c[0] for c in CLUSTER_CASES]
)
def test_cluster_rule(mutate, path, reason):
    doc = spark_cluster()
    mutate(doc)
    error = only_error(check_cluster(doc), path)
    assert reason in error.message


def _min_resources(cpu: str) -> dict[str, Any]:
    return _with_app_change(lambda d: d["spec"]["roles"][0].update(minResources={"cpu": cpu}))


def _controller_cpu(request: str | None, limit: str = "2") -> dict[str, Any]:
    doc = spark_cluster()
    resources = doc["spec"]["roles"][0]["resources"]
    resources["limits"]["cpu"] = limit
    if request is None:
        resources["requests"].pop("cpu")
    else:
        resources["requests"]["cpu"] = request
    return doc


def test_request_below_min_resources_compared_exactly():
    error = only_error(
        check_cluster(_controller_cpu("500m"), _min_resources("1")),
        "spec.roles[0].resources.requests.cpu",
    )
    assert "500m is below the minimum 1" in error.message
    assert check_cluster(_controller_cpu("999m"), _min_resources("1")) != []


@pytest.mark.parametrize(("request_", "minimum"), [("1", "1"), ("0.5", "500m"), ("1001m", "1")])
def test_request_at_or_above_min_resources(request_, minimum):
    assert check_cluster(_controller_cpu(request_), _min_resources(minimum)) == []


def test_min_resources_falls_back_to_the_limit():
    assert check_cluster(_controller_cpu(None, limit="2"), _min_resources("2")) == []
    errors = check_cluster(_controller_cpu(None, limit="1"), _min_resources("2"))
    assert paths(errors) == ["spec.roles[0].resources.requests.cpu"]


def test_min_resource_not_requested_at_all():
    app = _with_app_change(
        lambda d: d["spec"]["roles"][0].update(minResources={"nvidia.com/gpu": "1"})
    )
    error = only_error(
        check_cluster(spark_cluster(), app), "spec.roles[0].resources.requests.nvidia.com/gpu"
    )
    assert "is required" in error.message


def _min_storage(ephemeral: bool) -> dict[str, Any]:
    return _with_app_change(
        lambda d: d["spec"]["roles"][0].update(
            minStorage={"size": "10Gi", "ephemeralModeSupported": ephemeral}
        )
    )


def _controller_storage(size: str, storage_class: str | None = None) -> dict[str, Any]:
    doc = spark_cluster()
    doc["spec"]["roles"][0]["storage"] = {"size": size}
    if storage_class:
        doc["spec"]["roles"][0]["storage"]["storageClassName"] = storage_class
    return doc


def test_storage_required_by_min_storage():
    error = only_error(check_cluster(spark_cluster(), _min_storage(False)), "spec.roles[0].storage")
    assert "needs at least 10Gi" in error.message
    assert check_cluster(spark_cluster(), _min_storage(True)) == []


def test_storage_below_min_storage():
    error = only_error(
        check_cluster(_controller_storage("9Gi"), _min_storage(True)), "spec.roles[0].storage.size"
    )
    assert "below the minimum 10Gi" in error.message
    assert check_cluster(_controller_storage("10240Mi"), _min_storage(False)) == []


def test_storage_size_must_parse():
    errors = check_cluster(_controller_storage("ten"))
    assert paths(errors) == ["spec.roles[0].storage.size"]


def test_unknown_storage_class():
    doc = _controller_storage("1Gi", "gold")
    error = only_error(
        check_cluster(doc, storage_classes={"standard"}), "spec.roles[0].storage.storageClassName"
    )
    assert "StorageClass 'gold' does not exist" in error.message
    assert check_cluster(doc, storage_classes={"gold"}) == []
    assert check_cluster(doc, storage_classes=None) == []


def test_unknown_default_storage_class_from_config():
    config = Config(default_storage_class_name="gp2-for-kd")
    error = only_error(
        check_cluster(_controller_storage("1Gi"), config=config, storage_classes={"standard"}),
        "spec.roles[0].storage.storageClassName",
    )
    assert "defaultStorageClassName" in error.message


def test_secret_prefix():
    config = Config(required_secret_prefix="kd-")
    doc = spark_cluster()
    doc["spec"]["defaultSecret"] = {"name": "mine", "mountPath": "/etc/s"}
    doc["spec"]["roles"][1]["secret"] = {"name": "other", "mountPath": "/etc/s"}
    errors = check_cluster(doc, config=config)
    assert paths(errors) == ["spec.defaultSecret.name", "spec.roles[1].secret.name"]
    assert "must start with 'kd-'" in errors[0].message
    doc["spec"]["defaultSecret"]["name"] = "kd-mine"
    doc["spec"]["roles"][1]["secret"]["name"] = "kd-other"
    assert check_cluster(doc, config=config) == []


def test_members_default_to_cardinality():
    doc = spark_cluster()
    doc["spec"]["roles"][0].pop("members")
    assert check_cluster(doc) == []


def _with_status(doc: dict[str, Any], role_members: dict[str, int]) -> dict[str, Any]:
    doc["status"] = {
        "roles": [
            {
                "id": rid,
                "statefulSet": f"ss-{rid}",
                "members": [
                    {"pod": f"ss-{rid}-{i}", "service": "", "nodeID": i, "state": "configured"}
                    for i in range(n)
                ],
            }
            for rid, n in role_members.items()
        ]
    }
    return doc


def test_cluster_update_cannot_change_app_catalog_or_scheme():
    old = spark_cluster()
    old["spec"] |= {"appCatalog": "local", "namingScheme": "CrNameRole"}
    new = spark_cluster()
    new["spec"] |= {"app": "other", "appCatalog": "system", "namingScheme": "UID"}
    errors = validate_cluster_update(old, new, App.from_dict(spark_app()))
    assert paths(errors) == ["spec.app", "spec.appCatalog", "spec.namingScheme"]
    assert "cannot change from 'spark221e2' to 'other'" in errors[0].message


def test_cluster_update_may_fill_in_defaults():
    new = spark_cluster()
    new["spec"] |= {"appCatalog": "local", "namingScheme": "CrNameRole"}
    assert validate_cluster_update(spark_cluster(), new, None) == []


def test_cluster_update_role_property_frozen_while_role_has_members():
    old = _with_status(spark_cluster(), {"controller": 1, "worker": 0})
    new = spark_cluster()
    new["spec"]["roles"][0]["resources"]["limits"]["memory"] = "8Gi"
    new["spec"]["roles"][1]["storage"] = {"size": "1Gi"}
    new["spec"]["roles"][1]["members"] = 5
    error = only_error(validate_cluster_update(old, new, None), "spec.roles[0].resources")
    assert "only members, disruptionBudget and unresponsivePolicy may change" in error.message


def test_cluster_update_members_may_change():
    old = _with_status(spark_cluster(), {"controller": 1, "worker": 2})
    new = spark_cluster()
    new["spec"]["roles"][1]["members"] = 4
    assert validate_cluster_update(old, new, None) == []


@pytest.mark.parametrize(
    "budget", [{"maxUnavailable": 2}, {"maxUnavailable": "50%"}, {"enabled": False}]
)
def test_cluster_disruption_budget_is_valid_and_may_change_with_members(budget):
    old = _with_status(spark_cluster(), {"controller": 1, "worker": 2})
    new = spark_cluster()
    new["spec"]["roles"][1]["disruptionBudget"] = budget
    assert check_cluster(new) == []
    assert validate_cluster_update(old, new, None) == []


def test_cluster_update_judges_members_from_spec_without_status():
    app = App.from_dict(spark_app())
    old = spark_cluster()
    old["spec"]["roles"][1]["members"] = 0
    old["spec"]["roles"][0].pop("members")
    new = spark_cluster()
    new["spec"]["roles"][0].pop("members")
    for i in (0, 1):
        new["spec"]["roles"][i]["env"] = [{"name": "X", "value": "1"}]
    assert paths(validate_cluster_update(old, new, app)) == ["spec.roles[0].env"]


def test_cluster_update_compares_quantities_and_secret_keys_by_meaning():
    old = _with_status(spark_cluster(), {"controller": 1})
    old["spec"]["roles"][0]["secretKeys"] = [{"name": "k", "encryptedValue": "aa"}]
    new = spark_cluster()
    new["spec"]["roles"][0]["resources"]["requests"]["cpu"] = "2000m"
    new["spec"]["roles"][0]["secretKeys"] = [{"name": "k", "encryptedValue": "bb"}]
    assert validate_cluster_update(old, new, None) == []
    new["spec"]["roles"][0]["secretKeys"] = [{"name": "j", "encryptedValue": "bb"}]
    assert paths(validate_cluster_update(old, new, None)) == ["spec.roles[0].secretKeys"]


# ---- config -----------------------------------------------------------------------------


def config_doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorConfig",
        "metadata": {"name": "kd-global-config", "namespace": "kd"},
        "spec": spec,
    }


@pytest.mark.parametrize("path", compat_files("example_configs"), ids=lambda p: p.name)
def test_upstream_configs_are_valid(path):
    (doc,) = load_docs(path)
    doc["metadata"]["namespace"] = "kd"
    assert validate_config(doc, "kd") == []


def test_config_name_and_namespace():
    doc = config_doc()
    doc["metadata"] = {"name": "mine", "namespace": "default"}
    errors = validate_config(doc, "kd")
    assert paths(errors) == ["metadata.name", "metadata.namespace"]
    assert "'kd-global-config'" in errors[0].message
    assert "operator's namespace 'kd'" in errors[1].message


CONFIG_CASES = [
    ({"defaultServiceType": "Ingress"}, "spec.defaultServiceType", "not one of"),
    ({"defaultNamingScheme": "Fancy"}, "spec.defaultNamingScheme", "not one of"),
    ({"masterEncryptionKey": "xyz"}, "spec.masterEncryptionKey", "hexadecimal"),
    ({"masterEncryptionKey": "00" * 10}, "spec.masterEncryptionKey", "AES key"),
    ({"clusterSvcDomainBase": "svc.cluster.local"}, "spec.clusterSvcDomainBase", "start with"),
    ({"podLabels": {"a b": "c"}}, "spec.podLabels.a b", "label key"),
    ({"serviceAnnotations": {"/x": "c"}}, "spec.serviceAnnotations./x", "empty prefix"),
    ({"nativeSystemdSupport": "yes"}, "spec.nativeSystemdSupport", "true or false"),
]


@pytest.mark.parametrize(("spec", "path", "reason"), CONFIG_CASES)
def test_config_rule(spec, path, reason):
    error = only_error(validate_config(config_doc(**spec), "kd"), path)
    assert reason in error.message


def test_config_with_valid_key():
    assert validate_config(config_doc(masterEncryptionKey="ab" * 32), "kd") == []


def test_config_delete_refused_while_clusters_exist():
    error = only_error(validate_config_delete(["ns/a"]), "metadata.name")
    assert "ns/a" in error.message
    assert validate_config_delete([]) == []


# ---- malformed input never crashes ------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=8), children, max_size=3),
    ),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def _corrupted(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.tuples(st.sampled_from(_paths(base)), json_values).map(
        lambda pv: _replace(copy.deepcopy(base), pv[0], pv[1])
    )


def _status_doc() -> dict[str, Any]:
    return _with_status(spark_cluster(), {"controller": 1, "worker": 2})


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_corrupted(spark_app()))
def test_corrupted_app_gives_field_errors_not_crashes(doc):
    if not isinstance(doc, dict):
        doc = {"spec": doc}
    assert all(isinstance(e, FieldError) for e in validate_app(doc))
    assert all(isinstance(e, FieldError) for e in validate_app_update(spark_app(), doc, True))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_corrupted(_status_doc()))
def test_corrupted_cluster_gives_field_errors_not_crashes(doc):
    if not isinstance(doc, dict):
        doc = {"spec": doc}
    app = App.from_dict(spark_app())
    for errors in (
        validate_cluster(doc, app, Config(required_secret_prefix="kd-"), {"standard"}),
        validate_cluster_update(_status_doc(), doc, app),
        validate_cluster_update(doc, spark_cluster(), app),
    ):
        assert all(isinstance(e, FieldError) for e in errors)


@settings(max_examples=100)
@given(_corrupted(config_doc(defaultServiceType="NodePort", podLabels={"a": "b"})))
def test_corrupted_config_gives_field_errors_not_crashes(doc):
    if not isinstance(doc, dict):
        doc = {"spec": doc}
    assert all(isinstance(e, FieldError) for e in validate_config(doc, "kd"))


def test_pause_and_unresponsive_policy_may_change_while_roles_have_members():
    old = _with_status(spark_cluster(), {"controller": 1, "worker": 2})
    new = spark_cluster()
    new["spec"]["paused"] = True
    new["spec"]["roles"][1]["unresponsivePolicy"] = {"action": "restart", "afterSeconds": 90}
    assert validate_cluster_update(old, new, None) == []
