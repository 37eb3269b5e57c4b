import copy
import posixpath
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.mounts import ALWAYS_PERSISTED, NEW_LAYOUT_DIRS, persisted_dirs, union_dirs
from kubedirector.api.status import MemberStatus
from kubedirector.desired import storage
from kubedirector.desired.auth_token import needs_auth_token, new_auth_token
from kubedirector.desired.diff import semantic_diff
from kubedirector.desired.headless_service import build_headless_service, member_fqdn
from kubedirector.desired.labels import owner_reference
from kubedirector.desired.member_service import build_member_service
from kubedirector.desired.statefulset import (
    RoleNotInAppError,
    build_statefulset,
    mutable_part,
    replicas_for,
)
from tests.unit.kd_fixtures import compat_apps, present, spark_app, spark_cluster

REPO = Path(__file__).resolve().parents[2]
NODEPORT = Config(default_service_type="NodePort")
PRETTY = "Spark 2.2.1 with Jupyter"
NEW_LAYOUT_ENV = [
    {"name": "PYTHONUSERBASE", "value": "/usr/local"},
    {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"},
]
KD_LABELS = {
    "kubedirector.hpe.com/kdcluster": "spark221e2",
    "kubedirector.hpe.com/kdapp": "spark221e2",
    "kubedirector.hpe.com/appCatalog": "local",
}


def parse(
    app_doc: dict[str, Any], cluster_doc: dict[str, Any], config: Config = NODEPORT
) -> tuple[App, Cluster]:
    app = App.from_dict(app_doc)
    return app, Cluster.from_dict(cluster_doc, config, app)


def statefulset(
    role_id: str = "controller",
    app_doc: dict[str, Any] | None = None,
    cluster_doc: dict[str, Any] | None = None,
    config: Config = NODEPORT,
) -> dict[str, Any]:
    app, cluster = parse(app_doc or spark_app(), cluster_doc or spark_cluster(), config)
    return build_statefulset(
        app,
        cluster,
        config,
        role_id=role_id,
        name=f"ss-{role_id}",
        headless_service="spark221e2-hs",
        replicas=1,
    )


def container(sts: dict[str, Any]) -> dict[str, Any]:
    (app_container,) = sts["spec"]["template"]["spec"]["containers"]
    return app_container


def volumes(sts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}


def mounts(sts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container(sts)["volumeMounts"]}


def member_service_ports(
    role_id: str, app_doc: dict[str, Any] | None = None, cluster_doc: dict[str, Any] | None = None
) -> list[tuple[str, int]]:
    app, cluster = parse(app_doc or spark_app(), cluster_doc or spark_cluster())
    svc = present(
        build_member_service(app, cluster, NODEPORT, role_id=role_id, pod="p-0", name="p-0")
    )
    return [(p["name"], p["port"]) for p in svc["spec"]["ports"]]


# ---- headless service -------------------------------------------------------------------


def test_headless_service():
    config = Config(service_labels={"team": "x"}, service_annotations={"a": "b"})
    app, cluster = parse(spark_app(), spark_cluster(), config)
    svc = build_headless_service(app, cluster, config, "spark221e2-hs")
    assert svc["metadata"]["name"] == "spark221e2-hs"
    assert svc["metadata"]["namespace"] == "apps"
    assert svc["metadata"]["labels"] == KD_LABELS | {"team": "x"}
    assert svc["metadata"]["annotations"] == {"a": "b"}
    assert svc["metadata"]["ownerReferences"] == [owner_reference(cluster)]
    assert svc["spec"] == {
        "clusterIP": "None",
        "publishNotReadyAddresses": True,
        "selector": {"kubedirector.hpe.com/kdcluster": "spark221e2"},
    }


def test_owner_reference():
    _, cluster = parse(spark_app(), spark_cluster())
    assert owner_reference(cluster) == {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorCluster",
        "name": "spark221e2",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_member_fqdn():
    assert member_fqdn("p-0", "hs", "ns", Config()) == "p-0.hs.ns.svc.cluster.local"


# ---- member services --------------------------------------------------------------------


def test_spark_member_service_ports_per_role():
    assert member_service_ports("controller") == [
        ("generic-ssh", 22),
        ("http-spark", 8080),
        ("spark-spark-master", 7077),
        ("http-spark-worker", 8081),
    ]
    assert member_service_ports("worker") == [("generic-ssh", 22), ("http-spark-worker", 8081)]
    assert member_service_ports("jupyter") == [("generic-ssh", 22), ("http-jupyter", 8888)]


def test_walkthrough_catalog_ports_match_acceptance_a3():
    app_doc = yaml.safe_load((REPO / "manifests/catalog/spark221e2.yaml").read_text())
    cluster_doc = yaml.safe_load(
        (REPO / "manifests/examples/clusters/cr-cluster-spark221e2.yaml").read_text()
    )
    cluster_doc["metadata"] |= {"namespace": "default", "uid": "u"}
    ports = {
        role: [p for _, p in member_service_ports(role, app_doc, cluster_doc)]
        for role in ("controller", "worker", "jupyter")
    }
    assert ports == {
        "controller": [22, 8080, 7077, 8081],
        "worker": [22, 8081],
        "jupyter": [22, 8888],
    }


def test_member_service_spec_and_labels():
    doc = spark_cluster()
    doc["spec"]["roles"][0] |= {
        "serviceLabels": {"tier": "front"},
        "serviceAnnotations": {"note": "x"},
    }
    config = Config(default_service_type="NodePort", service_labels={"team": "x"})
    app, cluster = parse(spark_app(), doc, config)
    svc = present(
        build_member_service(
            app,
            cluster,
            config,
            role_id="controller",
            pod="spark221e2-controller-zbg4d-0",
            name="spark221e2-controller-zbg4d-0",
        )
    )
    assert svc["metadata"]["name"] == "spark221e2-controller-zbg4d-0"
    assert svc["metadata"]["labels"] == KD_LABELS | {
        "kubedirector.hpe.com/role": "controller",
        "tier": "front",
        "team": "x",
    }
    assert svc["metadata"]["annotations"] == {"note": "x"}
    assert svc["metadata"]["ownerReferences"][0]["controller"] is True
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["selector"] == {
        "statefulset.kubernetes.io/pod-name": "spark221e2-controller-zbg4d-0"
    }
    assert svc["spec"]["publishNotReadyAddresses"] is True
    assert svc["spec"]["ports"][1] == {
        "name": "http-spark",
        "port": 8080,
        "targetPort": 8080,
        "protocol": "TCP",
    }


def test_cluster_service_type_overrides_config():
    doc = spark_cluster()
    doc["spec"]["serviceType"] = "ClusterIP"
    app, cluster = parse(spark_app(), doc)
    svc = present(
        build_member_service(app, cluster, NODEPORT, role_id="worker", pod="w-0", name="w-0")
    )
    assert svc["spec"]["type"] == "ClusterIP"


def test_no_member_service_without_endpoints():
    app_doc = spark_app()
    app_doc["spec"]["services"].append({"id": "agent", "label": {"name": "agent"}})
    app_doc["spec"]["config"]["roleServices"][1]["serviceIDs"] = ["agent"]
    app, cluster = parse(app_doc, spark_cluster())
    assert (
        build_member_service(app, cluster, NODEPORT, role_id="worker", pod="w-0", name="w-0")
        is None
    )


# ---- statefulset ------------------------------------------------------------------------


def test_statefulset_shape():
    sts = statefulset()
    assert sts["apiVersion"] == "apps/v1"
    assert sts["metadata"]["name"] == "ss-controller"
    assert sts["metadata"]["labels"] == KD_LABELS | {
        "kubedirector.hpe.com/role": "controller",
        "kubedirector.hpe.com/headless": "spark221e2",
    }
    assert sts["metadata"]["annotations"] == {"kubedirector.hpe.com/kdapp-prettyName": PRETTY}
    assert sts["metadata"]["ownerReferences"][0]["kind"] == "KubeDirectorCluster"
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == "spark221e2-hs"
    assert spec["replicas"] == 1
    assert spec["selector"] == {
        "matchLabels": {
            "kubedirector.hpe.com/kdcluster": "spark221e2",
            "kubedirector.hpe.com/role": "controller",
        }
    }
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()
    assert "volumeClaimTemplates" not in spec


def test_app_container():
    app_container = container(statefulset())
    assert app_container["name"] == "app"
    assert app_container["image"] == "docker.io/bluedata/sparkbase:2.0"
    assert app_container["resources"] == {
        "limits": {"cpu": "2", "memory": "4Gi"},
        "requests": {"cpu": "2", "memory": "4Gi"},
    }
    assert app_container["ports"] == [
        {"name": "ssh", "containerPort": 22, "protocol": "TCP"},
        {"name": "spark", "containerPort": 8080, "protocol": "TCP"},
        {"name": "spark-master", "containerPort": 7077, "protocol": "TCP"},
        {"name": "spark-worker", "containerPort": 8081, "protocol": "TCP"},
    ]
    assert app_container["securityContext"] == {"capabilities": {"add": ["SYS_RESOURCE"]}}
    assert (app_container["stdin"], app_container["tty"]) == (False, False)
    assert app_container["env"] == NEW_LAYOUT_ENV
    assert app_container["lifecycle"]["postStart"]["exec"]["command"][:2] == ["/bin/bash", "-c"]
    assert "search spark221e2-hs." in app_container["lifecycle"]["postStart"]["exec"]["command"][2]


def test_role_image_overrides_default():
    assert container(statefulset("jupyter"))["image"] == "docker.io/bluedata/jupyter:2.0"


def test_stdin_tty_env():
    app_doc = spark_app()
    app_doc["spec"]["roles"][1]["containerSpec"] = {"stdin": True, "tty": True}
    doc = spark_cluster()
    doc["spec"]["roles"][1]["env"] = [{"name": "MODE", "value": "batch"}]
    app_container = container(statefulset("worker", app_doc, doc))
    assert (app_container["stdin"], app_container["tty"]) == (True, True)
    assert app_container["env"] == [{"name": "MODE", "value": "batch"}, *NEW_LAYOUT_ENV]


def test_no_security_context_without_capabilities():
    app_doc = spark_app()
    app_doc["spec"]["capabilities"] = []
    assert "securityContext" not in container(statefulset(app_doc=app_doc))


def test_pod_labels_annotations_affinity_service_account():
    doc = spark_cluster()
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["yes"]}]}
                ]
            }
        }
    }
    doc["spec"]["roles"][0] |= {
        "podLabels": {"team": "data", "kubedirector.hpe.com/role": "spoofed"},
        "podAnnotations": {"a": "1"},
        "affinity": affinity,
        "serviceAccountName": "spark-sa",
    }
    config = Config(pod_labels={"global": "yes"}, pod_annotations={"g": "2"})
    sts = statefulset(cluster_doc=doc, config=config)
    template = sts["spec"]["template"]
    assert template["metadata"]["labels"] == KD_LABELS | {
        "kubedirector.hpe.com/role": "controller",
        "kubedirector.hpe.com/headless": "spark221e2",
        "team": "data",
        "global": "yes",
    }
    assert template["metadata"]["annotations"] == {
        "kubedirector.hpe.com/kdapp-prettyName": PRETTY,
        "g": "2",
        "a": "1",
    }
    assert template["spec"]["affinity"] == affinity
    assert template["spec"]["serviceAccountName"] == "spark-sa"
    assert template["spec"]["automountServiceAccountToken"] is True


def test_global_pod_labels_beat_the_roles():
    doc = spark_cluster()
    doc["spec"]["roles"][0] |= {"podLabels": {"tier": "role"}, "podAnnotations": {"n": "role"}}
    config = Config(pod_labels={"tier": "global"}, pod_annotations={"n": "global"})
    template = statefulset(cluster_doc=doc, config=config)["spec"]["template"]
    assert template["metadata"]["labels"]["tier"] == "global"
    assert template["metadata"]["annotations"]["n"] == "global"


def test_no_service_account_no_token():
    pod = statefulset()["spec"]["template"]["spec"]
    assert "serviceAccountName" not in pod
    assert pod["automountServiceAccountToken"] is False


def test_systemd_cgroup_mounts_unless_native():
    sts = statefulset()
    assert volumes(sts)["cgroupfs"]["hostPath"] == {"path": "/sys/fs/cgroup"}
    assert mounts(sts)["/sys/fs/cgroup"]["readOnly"] is True
    assert "/sys/fs/cgroup/systemd" in mounts(sts)
    native = statefulset(config=Config(native_systemd_support=True))
    assert "cgroupfs" not in volumes(native)
    app_doc = spark_app()
    app_doc["spec"]["systemdRequired"] = False
    assert list(volumes(statefulset(app_doc=app_doc))) == [
        "tmpfs-tmp",
        "tmpfs-run",
        "tmpfs-run-lock",
    ]


def test_role_secret_and_default_secret():
    doc = spark_cluster()
    doc["spec"]["defaultSecret"] = {"name": "shared", "mountPath": "/etc/shared"}
    doc["spec"]["roles"][0]["secret"] = {
        "name": "own",
        "mountPath": "/etc/own",
        "defaultMode": 0o400,
        "readOnly": True,
    }
    controller = statefulset("controller", cluster_doc=doc)
    assert volumes(controller)["secret-vol-own"]["secret"] == {
        "secretName": "own",
        "defaultMode": 0o400,
    }
    assert mounts(controller)["/etc/own"] == {
        "name": "secret-vol-own",
        "mountPath": "/etc/own",
        "readOnly": True,
    }
    worker = statefulset("worker", cluster_doc=doc)
    assert volumes(worker)["secret-vol-shared"]["secret"] == {"secretName": "shared"}
    assert mounts(worker)["/etc/shared"]["readOnly"] is False


def test_volume_projections_and_shared_memory():
    doc = spark_cluster()
    doc["spec"]["roles"][0] |= {
        "volumeProjections": [{"pvcName": "datasets", "mountPath": "/data", "readOnly": True}],
        "sharedMemory": "2Gi",
    }
    sts = statefulset(cluster_doc=doc)
    assert volumes(sts)["projected-vol-0"]["persistentVolumeClaim"] == {
        "claimName": "datasets",
        "readOnly": True,
    }
    assert mounts(sts)["/data"]["name"] == "projected-vol-0"
    assert volumes(sts)["shmem"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}
    assert mounts(sts)["/dev/shm"]["name"] == "shmem"
    # The original's order: tmpfs, secret, projections, shared memory, cgroups.
    assert list(volumes(sts)) == [
        "tmpfs-tmp",
        "tmpfs-run",
        "tmpfs-run-lock",
        "projected-vol-0",
        "shmem",
        "cgroupfs",
        "systemd",
    ]


def test_unknown_role_raises():
    app, cluster = parse(spark_app(), spark_cluster())
    with pytest.raises(RoleNotInAppError):
        build_statefulset(
            app, cluster, NODEPORT, role_id="gpu", name="x", headless_service="h", replicas=0
        )


# ---- persistent storage -----------------------------------------------------------------


def cassandra_with_storage(storage_spec: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    cluster = {
        "metadata": {"name": "cass", "namespace": "db", "uid": "u"},
        "spec": {
            "app": "cassandra311",
            "roles": [
                {
                    "id": "seed",
                    "members": 2,
                    "storage": storage_spec,
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                }
            ],
        },
    }
    return compat_apps()["cassandra311"], cluster


def test_persistent_storage_claim_and_mounts():
    app_doc, doc = cassandra_with_storage({"size": "40Gi", "storageClassName": "fast"})
    sts = statefulset("seed", app_doc, doc)
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "p"
    assert claim["metadata"]["labels"]["kubedirector.hpe.com/role"] == "seed"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "40Gi"}},
        "storageClassName": "fast",
    }
    persisted = [m for m in container(sts)["volumeMounts"] if m["name"] == "p"]
    # The original's order: defaults, then the app's dirs.
    assert [m["mountPath"] for m in persisted] == [
        "/etc",
        "/opt/guestconfig",
        "/var/log/guestconfig",
        "/usr/local/bin",
        "/usr/local/lib",
        "/var/lib/cassandra",
        "/var/log/cassandra",
        "/data",
    ]
    assert persisted[-1] == {"name": "p", "mountPath": "/data", "subPath": "data"}


def test_storage_class_from_config_default():
    app_doc, doc = cassandra_with_storage({"size": "40Gi"})
    sts = statefulset("seed", app_doc, doc, config=Config(default_storage_class_name="gp2"))
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "gp2"
    sts = statefulset("seed", app_doc, doc)
    assert "storageClassName" not in sts["spec"]["volumeClaimTemplates"][0]["spec"]


def test_old_layout_dirs_collapse_into_parents():
    role = present(App.from_dict(compat_apps()["cdh632"]).role("primary"))
    assert persisted_dirs(role) == ["/etc", "/opt", "/usr", "/var", "/data"]


def test_no_package_persists_etc_and_app_dirs_only():
    role = present(App.from_dict(compat_apps()["qwen2-server"]).role("inference-server"))
    assert persisted_dirs(role) == ["/etc", "/root/.ollama"]


@pytest.mark.parametrize(
    ("defaults", "app_dirs", "expected"),
    [
        # upstream-pods.md 1.5's example.
        (
            ALWAYS_PERSISTED + NEW_LAYOUT_DIRS,
            ["/usr/local", "/var/lib/x"],
            ["/etc", "/opt/guestconfig", "/var/log/guestconfig", "/usr/local", "/var/lib/x"],
        ),
        # An app dir equal to a default goes; the default stays in its place.
        (["/etc", "/opt", "/usr"], ["/opt", "/var"], ["/etc", "/opt", "/usr", "/var"]),
        # Nested and repeated, cleaned first.
        (["/etc", "/etc/"], ["/a/b", "/a", "/x/../a/c", "/a"], ["/etc", "/a"]),
        (["/etc"], ["/etc/x", "/etcx"], ["/etc", "/etcx"]),
    ],
)
def test_union_dirs(defaults, app_dirs, expected):
    assert union_dirs(defaults, app_dirs) == expected


def test_storage_init_container():
    app_doc, doc = cassandra_with_storage({"size": "40Gi"})
    sts = statefulset("seed", app_doc, doc)
    (init,) = sts["spec"]["template"]["spec"]["initContainers"]
    assert init["name"] == "init"
    assert init["image"] == "docker.io/bluedata/cassandra:4.0"
    assert init["volumeMounts"] == [{"name": "p", "mountPath": "/mnt"}]
    assert init["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert init["securityContext"] == {"runAsUser": 0}
    assert init["command"] == ["/bin/bash"]
    script = init["args"][1]
    assert script.startswith(
        "[ -f /mnt/.kd-storage-initialized ] && mkdir -p /mnt/etc && "
        "touch /mnt/etc/kubedirector.init; rsync "
    )
    assert "cp --parent -ax /etc /opt/guestconfig" in script
    assert script.endswith("touch /mnt/etc/kubedirector.init;")


def test_no_storage_no_init_container():
    sts = statefulset()
    assert sts["spec"]["template"]["spec"]["initContainers"] == []
    assert not [m for m in container(sts)["volumeMounts"] if m["name"] == "p"]


# ---- block storage ----------------------------------------------------------------------


def test_block_storage():
    doc = spark_cluster()
    doc["spec"]["roles"][1]["blockStorage"] = {
        "pathPrefix": "/dev/xdb",
        "numDevices": 2,
        "size": "100Gi",
        "storageClassName": "kd-block-storage",
    }
    sts = statefulset("worker", cluster_doc=doc)
    claims = sts["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["b0", "b1"]
    assert claims[0]["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "100Gi"}},
        "storageClassName": "kd-block-storage",
        "volumeMode": "Block",
    }
    assert container(sts)["volumeDevices"] == [
        {"name": "b0", "devicePath": "/dev/xdb0"},
        {"name": "b1", "devicePath": "/dev/xdb1"},
    ]
    _, cluster = parse(spark_app(), doc)
    assert storage.block_device_paths(present(present(cluster.role("worker")).block_storage)) == [
        "/dev/xdb0",
        "/dev/xdb1",
    ]


# ---- replicas, updates, convergence -----------------------------------------------------


def member(ordinal: int, state: str) -> MemberStatus:
    return MemberStatus(
        pod=f"ss-{ordinal}", service=f"ss-{ordinal}", node_id=ordinal + 1, state=state
    )


@pytest.mark.parametrize(
    ("states", "replicas"),
    [
        ([], 0),
        (["configured", "create pending"], 2),
        (["configured", "configured", "delete pending"], 3),
        (["configured", "configured", "deleting", "deleting"], 2),
        (["deleting"], 0),
        (["creating", "config error"], 2),
    ],
)
def test_replicas_follow_member_states(states, replicas):
    assert replicas_for([member(i, s) for i, s in enumerate(states)]) == replicas


def test_mutable_part_leaves_immutable_fields_out():
    app_doc, doc = cassandra_with_storage({"size": "1Gi"})
    sts = statefulset("seed", app_doc, doc)
    part = mutable_part(sts)
    assert set(part["spec"]) == {"replicas", "template"}
    assert part["metadata"] == {"labels": sts["metadata"]["labels"]}


def _as_the_server_returns_it(sts: dict[str, Any]) -> dict[str, Any]:
    actual = copy.deepcopy(sts)
    actual["metadata"] |= {"uid": "x", "resourceVersion": "7", "generation": 1}
    spec = actual["spec"]
    spec |= {"revisionHistoryLimit": 10, "updateStrategy": {"type": "RollingUpdate"}}
    pod = spec["template"]["spec"]
    pod |= {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "x"}
    pod.pop("affinity")
    pod.pop("initContainers")
    for vol in pod["volumes"]:
        vol.get("hostPath", {}).setdefault("type", "")
    app_container = pod["containers"][0]
    for key in ("stdin", "tty"):
        app_container.pop(key)
    app_container["terminationMessagePath"] = "/dev/termination-log"
    app_container["resources"] = {
        "limits": {"cpu": "2000m", "memory": "4Gi"},
        "requests": {"cpu": "2", "memory": "4294967296"},
    }
    for claim in spec.get("volumeClaimTemplates", []):
        claim["spec"]["volumeMode"] = "Filesystem"
        claim["status"] = {"phase": "Pending"}
    actual["status"] = {"replicas": 1}
    return actual


def test_converged_statefulset_has_no_difference():
    sts = statefulset()
    assert semantic_diff(sts, _as_the_server_returns_it(sts)) == []


def test_drift_in_the_pod_template_is_found():
    sts = statefulset()
    actual = _as_the_server_returns_it(sts)
    actual["spec"]["template"]["spec"]["containers"][0]["image"] = "old:1"
    actual["spec"]["template"]["metadata"]["labels"].pop("kubedirector.hpe.com/role")
    assert semantic_diff(mutable_part(sts), actual) == [
        "spec.template.metadata.labels.kubedirector.hpe.com/role",
        "spec.template.spec.containers[0].image",
    ]


# ---- auth tokens ------------------------------------------------------------------------


def test_auth_tokens():
    training = App.from_dict(compat_apps()["training-engine"])
    assert needs_auth_token(present(training.role("RESTServer")))
    assert not needs_auth_token(present(App.from_dict(spark_app()).role("controller")))
    assert new_auth_token(lambda n: bytes(range(n))) == bytes(range(16)).hex()
    assert len(new_auth_token()) == 32
    assert new_auth_token() != new_auth_token()


def _run_init(tmp_path: Path, volume_files: dict[str, str]) -> Path:
    """Run the init script with /mnt moved to a scratch volume, copying a scratch
    source directory; returns the volume."""

    src = tmp_path / "image" / "etc"
    src.mkdir(parents=True)
    (src / "app.conf").write_text("from the image")
    volume = tmp_path / "volume"
    volume.mkdir()
    for name, text in volume_files.items():
        (volume / name).parent.mkdir(parents=True, exist_ok=True)
        (volume / name).write_text(text)
    script = storage.init_script([str(src)]).replace("/mnt", str(volume))
    subprocess.run(["/bin/bash", "-c", script], cwd=tmp_path, check=True, timeout=30)
    return volume


def test_init_copies_a_fresh_volume_and_marks_it(tmp_path):
    volume = _run_init(tmp_path, {})
    copied = volume / str(tmp_path / "image" / "etc" / "app.conf").lstrip("/")
    assert copied.read_text() == "from the image"
    assert (volume / "etc" / "kubedirector.init").exists()


@pytest.mark.parametrize(
    "marker", ["etc/kubedirector.init", ".kd-storage-initialized"], ids=["original", "previous"]
)
def test_init_leaves_an_initialised_volume_alone(tmp_path, marker):
    volume = _run_init(tmp_path, {marker: ""})
    assert not (volume / str(tmp_path).lstrip("/")).exists()
    assert (volume / "etc" / "kubedirector.init").exists()


@pytest.mark.parametrize(
    ("resources", "void"),
    [
        ({"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}, False),
        ({"requests": {"nvidia.com/mig-1g.5gb": "2"}}, False),
        ({"requests": {"nvidia.com/gpu": "0"}}, True),
        ({"limits": {"nvidia.com/gpu": "1"}}, True),  # only requests count, as in the original
        ({"requests": {"cpu": "1"}}, True),
    ],
)
def test_nvidia_visible_devices_void_unless_a_gpu_is_requested(resources, void):
    doc = spark_cluster()
    doc["spec"]["roles"][0]["resources"] = resources
    env = container(statefulset(cluster_doc=doc))["env"]
    assert ({"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in env) is void


_SEGMENTS = st.sampled_from(["etc", "opt", "usr", "local", "x", "..", "."])
_DIRS = st.lists(
    st.lists(_SEGMENTS, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)), max_size=6
)


@given(defaults=_DIRS, app_dirs=_DIRS)
def test_union_dirs_covers_every_dir_once(defaults, app_dirs):
    kept = union_dirs(defaults, app_dirs)
    clean = [posixpath.normpath(posixpath.join("/", d)) for d in [*defaults, *app_dirs]]
    assert len(kept) == len(set(kept))
    for d in clean:
        assert any(d == k or d.startswith(k.rstrip("/") + "/") for k in kept), d
    for a in kept:
        assert not any(a != b and a.startswith(b.rstrip("/") + "/") for b in kept), a
