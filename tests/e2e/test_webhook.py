"""Scenario D and the admission parts of B through the real API server: the webhook
runs in-process on 127.0.0.1, registered from the manifests for the test namespace."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from kubernetes.client import ApiException

from kubedirector.api.constants import ANNOTATION_STATUS_BACKUP_EXISTS
from kubedirector.api.secretkeys import encrypt, key_error
from kubedirector.kube import new_api_client, request_json, resource_path
from kubedirector.webhook import pki
from kubedirector.webhook.certs import CertSettings, CertStore
from kubedirector.webhook.start import Webhook
from tests.admission_cases import (
    CASES,
    SERVER_CASES,
    app,
    cluster,
    config,
    document,
    min_app,
    ports_app,
    server_document,
)
from tests.conftest import LocalCluster
from tests.e2e.support.kdcluster import patch, set_workers
from tests.e2e.support.operator import wait_until
from tests.e2e.support.webhook import delete_surely, webhook_in_namespace
from tests.unit.kd_fixtures import BROKEN_YAML, compat_files


@pytest.fixture
def webhook(local_cluster: LocalCluster, kubectl, namespace: str) -> Iterator[Webhook]:
    with webhook_in_namespace(local_cluster.kubeconfig, kubectl, namespace) as hook:
        yield hook


def create(kubectl, doc: dict, *args: str, check: bool = True):
    return kubectl("create", *args, "-f", "-", input=json.dumps(doc), check=check)


def get(kubectl, kind: str, namespace: str, name: str) -> dict:
    return json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)


@pytest.fixture
def catalog(kubectl, namespace: str, webhook: Webhook) -> None:
    """The cases' context: two apps and a config requiring secret prefix `kd-`."""
    for doc in (config(namespace), app(namespace), min_app(namespace)):
        create(kubectl, doc)
    # Admission must see them before judging clusters against them.
    wait_until(
        lambda: webhook.view.app(namespace, "spark-min") and webhook.view.config(),
        10,
        "apps and config in the webhook's cache",
    )


def test_invalid_documents_refused_naming_the_field(kubectl, namespace: str, catalog: None):
    cases = [c for c in CASES if c.e2e]
    assert len(cases) >= 30
    for case in cases:
        out = create(kubectl, document(case, namespace), check=False)
        assert out.returncode != 0, f"{case.id} was accepted"
        assert case.field in out.stderr, f"{case.id}: {out.stderr}"
    names = kubectl("get", "kdapp,kdcluster,kdconfig", "-n", namespace, "-o", "name").stdout
    assert sorted(names.split()) == sorted(
        [
            "kubedirectorapp.kubedirector.hpe.com/spark221e2",
            "kubedirectorapp.kubedirector.hpe.com/spark-min",
            "kubedirectorconfig.kubedirector.hpe.com/kd-global-config",
        ]
    )
    # Still serving: a valid cluster goes through.
    create(kubectl, cluster(namespace, "good"))


def test_defaults_visible_on_created_cluster(kubectl, namespace: str, catalog: None):
    kubectl("create", "secret", "generic", "kd-shared", "-n", namespace)
    doc = cluster(namespace, "defaults")
    del doc["spec"]["roles"][1]["members"]
    doc["spec"]["roles"][1]["storage"] = {"size": "1Gi"}
    doc["spec"]["defaultSecret"] = {"name": "kd-shared", "mountPath": "/etc/kd"}
    create(kubectl, doc)
    spec = get(kubectl, "kdcluster", namespace, "defaults")["spec"]
    assert spec["appCatalog"] == "local"
    assert spec["serviceType"] == "NodePort"  # the config's default
    assert spec["namingScheme"] == "CrNameRole"
    worker = spec["roles"][1]
    assert worker["members"] == 0
    assert worker["storage"]["storageClassName"] == "local-path"  # the cluster default class
    assert all(r["secret"]["name"] == "kd-shared" for r in spec["roles"])


def test_dry_run_applies_defaults_and_creates_nothing(kubectl, namespace: str, catalog: None):
    out = create(kubectl, cluster(namespace, "dry"), "--dry-run=server", "-o", "json")
    assert json.loads(out.stdout)["spec"]["serviceType"] == "NodePort"
    bad = create(kubectl, document(CASES[0], namespace), "--dry-run=server", check=False)
    assert CASES[0].field in bad.stderr
    assert kubectl("get", "kdcluster", "dry", "-n", namespace, check=False).returncode != 0


def test_app_in_use_and_cluster_app_are_frozen(kubectl, namespace: str, catalog: None):
    create(kubectl, cluster(namespace, "user"))
    out = patch(kubectl, namespace, "kdapp/spark221e2", {"spec": {"version": "9.9"}}, check=False)
    assert out.returncode != 0 and "in use" in out.stderr, out.stderr
    out = kubectl("delete", "kdapp", "spark221e2", "-n", namespace, check=False)
    assert out.returncode != 0 and f"{namespace}/user" in out.stderr, out.stderr
    out = patch(kubectl, namespace, "kdcluster/user", {"spec": {"app": "spark-min"}}, check=False)
    assert out.returncode != 0 and "spec.app: cannot change" in out.stderr, out.stderr
    # Labels and scaling stay possible; the app can go once its cluster has.
    kubectl("label", "kdapp", "spark221e2", "-n", namespace, "team=data")
    set_workers(kubectl, namespace, "user", 3)
    out = kubectl("delete", "kdconfig", "kd-global-config", "-n", namespace, check=False)
    assert out.returncode != 0 and "clusters still exist" in out.stderr, out.stderr
    kubectl("delete", "kdcluster", "user", "-n", namespace, "--timeout=30s")
    deadline = time.monotonic() + 10
    while (
        kubectl("delete", "kdapp", "spark221e2", "-n", namespace, check=False).returncode != 0
    ):  # until the webhook's cache saw the deletion
        assert time.monotonic() < deadline, "app still refused after its cluster went"
        time.sleep(0.2)


def _compat(kind: str) -> list[Path]:
    return [p for p in compat_files(kind) if p.name != "eks-gp2-for-kd.yaml"]


def test_upstream_compat_outcomes_under_admission(kubectl, namespace: str, webhook: Webhook):
    """EXPECTATIONS.md, at admission: the catalog and every example cluster and config
    accepted (server-side dry run), the training-engine cluster refused naming role
    `controller`, the malformed datafabric610 file not parseable."""
    for path in compat_files("example_catalog"):
        kubectl("create", "-n", namespace, "-f", str(path))
    wait_until(lambda: webhook.view.app(namespace, "training-engine"), 10, "catalog cached")
    for path in _compat("example_clusters") + _compat("example_configs"):
        out = kubectl("create", "--dry-run=server", "-n", namespace, "-f", str(path), check=False)
        if path.name in BROKEN_YAML:
            assert out.returncode != 0 and "yaml" in out.stderr.lower(), out.stderr
        elif path.name == "cr-cluster-training-engine.yaml":
            assert out.returncode != 0
            assert "spec.roles[2].id: role 'controller' is not a role of app" in out.stderr, (
                out.stderr
            )
        else:
            assert out.returncode == 0, f"{path.name}: {out.stderr}"


def test_certificate_rotation_without_failed_requests(
    local_cluster: LocalCluster, kubectl, namespace: str, api_client
):
    """A serving certificate valid 12 s is renewed about every 8 s while admission
    requests keep flowing; every one of them must get its normal answer."""
    with webhook_in_namespace(
        local_cluster.kubeconfig,
        kubectl,
        namespace,
        leaf_validity=datetime.timedelta(seconds=12),
        check_interval=0.5,
    ) as hook:
        create(kubectl, app(namespace))
        path = resource_path(
            "kubedirector.hpe.com", "v1beta1", "kubedirectorclusters", namespace=namespace
        )
        serials: set[int] = set()
        stop = threading.Event()

        def watch_serials() -> None:
            while not stop.is_set():
                pem = ssl.get_server_certificate(("127.0.0.1", hook.port), timeout=5)
                serials.add(x509.load_pem_x509_certificate(pem.encode()).serial_number)
                stop.wait(0.5)

        watcher = threading.Thread(target=watch_serials, daemon=True)
        watcher.start()
        failures: list[str] = []
        good, bad = cluster(namespace, "rotating"), cluster(namespace, "rotating-bad")
        bad["spec"]["roles"][0]["members"] = 5
        requests = 0
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                requests += 1
                try:
                    out = request_json(api_client, "POST", path, query={"dryRun": "All"}, body=good)
                    if out["spec"].get("namingScheme") != "CrNameRole":
                        failures.append("mutation missing")
                except ApiException as e:
                    failures.append(f"valid cluster: {e.status} {e.body}"[:300])
                try:
                    request_json(api_client, "POST", path, query={"dryRun": "All"}, body=bad)
                    failures.append("invalid cluster accepted")
                except ApiException as e:
                    if "spec.roles[0].members" not in str(e.body):
                        failures.append(f"invalid cluster: {e.status} {e.body}"[:300])
        finally:
            stop.set()
            watcher.join(10)
    assert failures == [], failures
    assert requests > 20
    assert len(serials) >= 3, f"only {len(serials)} serving certificates seen"


def test_down_webhook_never_blocks_deletion(
    local_cluster: LocalCluster, kubectl, namespace: str, catalog: None, webhook: Webhook
):
    """With no replica answering: new specs are refused (failurePolicy Fail), but deleting
    a cluster, removing its finalizer and deleting apps and configs all still work."""
    create(kubectl, cluster(namespace, "held"))
    patch(
        kubectl,
        namespace,
        "kdcluster/held",
        {"metadata": {"finalizers": ["kubedirector.hpe.com/cleanup"]}},
    )
    webhook.stop()
    out = create(kubectl, cluster(namespace, "new"), check=False)
    assert out.returncode != 0, out.stdout
    assert 'failed calling webhook "mutate.kubedirector.hpe.com"' in out.stderr, out.stderr
    kubectl("delete", "kdcluster", "held", "-n", namespace, "--wait=false")
    patch(kubectl, namespace, "kdcluster/held", {"metadata": {"finalizers": None}})
    kubectl("delete", "kdapp", "spark221e2", "spark-min", "-n", namespace, "--timeout=30s")
    kubectl("delete", "kdconfig", "kd-global-config", "-n", namespace, "--timeout=30s")
    left = kubectl("get", "kdapp,kdcluster,kdconfig", "-n", namespace, "-o", "name").stdout
    assert left.strip() == ""


def test_replicas_agree_on_one_certificate(local_cluster: LocalCluster, namespace: str):
    """Replicas racing to create, then to renew, the Secret end up serving the same one:
    the losers of each write (409) adopt the winner's."""
    settings = CertSettings(
        namespace=namespace,
        secret="kd-webhook-cert",
        hosts=pki.service_hosts("kubedirector-webhook", namespace),
        webhook_configs=(),
    )
    apis = [new_api_client(str(local_cluster.kubeconfig)) for _ in range(3)]
    stores = [CertStore(api, settings) for api in apis]

    def race(now: datetime.datetime | None) -> list[pki.Bundle]:
        with ThreadPoolExecutor(len(stores)) as pool:
            return list(pool.map(lambda s: s.current(now), stores))

    try:
        created = race(None)
        assert len(set(created)) == 1
        later = datetime.datetime.now(datetime.UTC) + pki.LEAF_VALIDITY * 0.8
        renewed = race(later)
        assert len(set(renewed)) == 1
        assert renewed[0].tls_crt != created[0].tls_crt
        assert renewed[0].ca_crt == created[0].ca_crt
    finally:
        for api in apis:
            api.close()


# ---- what only the API server knows ------------------------------------------------------


def refused(kubectl, doc: dict, *args: str) -> str:
    out = create(kubectl, doc, *args, check=False)
    assert out.returncode != 0, f"{doc['metadata']['name']} was accepted"
    return out.stderr


def test_server_rules_refused_naming_the_cluster_field(
    kubectl, namespace: str, catalog: None, webhook: Webhook
):
    """One cluster per kind of rule the API server enforces on the derived objects;
    each is admitted by every cached check (tests/unit/test_admission_live.py)."""
    create(kubectl, ports_app(namespace))
    wait_until(lambda: webhook.view.app(namespace, "spark-ports"), 10, "spark-ports cached")
    for case in SERVER_CASES:
        stderr = refused(kubectl, server_document(case, namespace))
        assert case.field in stderr and case.says in stderr, f"{case.id}: {stderr}"
    create(kubectl, cluster(namespace, "good"))
    # The dry runs left nothing behind.
    derived = kubectl("get", "statefulsets,services", "-n", namespace, "-o", "name").stdout
    assert derived.strip() == ""


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections (the kernel completes the handshake) and never
    answers: a webhook there hangs until its caller's timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("webhook_port", "reason"),
    [("refusing", "failed calling webhook"), ("hanging", "no answer in time")],
)
def test_cluster_admitted_with_a_warning_when_dry_runs_cannot_be_made(
    kubectl, namespace: str, catalog: None, webhook_port: str, reason: str
):
    """Another webhook on StatefulSets (failurePolicy Fail) that is unreachable, or that
    hangs past admission's deadline, makes every dry run of one fail: admission cannot
    ask, so it admits the cluster and says so, in time."""
    name = f"kd-test-other-{webhook_port}-{namespace}"[:63]
    unchecked = cluster(namespace, "unchecked")
    with silent_listener() as silent:
        port = 9 if webhook_port == "refusing" else silent  # 9: nothing listens
        registration = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [
                {
                    "name": "other.example.com",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 8,
                    "clientConfig": {"url": f"https://127.0.0.1:{port}/validate"},
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": namespace}
                    },
                    "rules": [
                        {
                            "apiGroups": ["apps"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["statefulsets"],
                        }
                    ],
                }
            ],
        }
        try:
            create(kubectl, registration)
            wait_until(
                lambda: (
                    "could not check the StatefulSet of role"
                    in create(kubectl, unchecked, "--dry-run=server", check=False).stderr
                ),
                30,
                "the other webhook in force",
            )
            started = time.monotonic()
            out = create(kubectl, unchecked)
            elapsed = time.monotonic() - started
            assert "Warning: the API server could not check the StatefulSet of role" in out.stderr
            assert reason in out.stderr and "admitted unchecked by it" in out.stderr, out.stderr
            # Generous bound: within the registration's 10 s, or the API server gives up.
            assert elapsed < 9, elapsed
            assert get(kubectl, "kdcluster", namespace, "unchecked")["metadata"]["uid"]
        finally:
            delete_surely(kubectl, "validatingwebhookconfiguration", name)


def _claim(namespace: str, name: str, mode: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "volumeMode": mode,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


def test_referenced_objects_must_exist(kubectl, namespace: str, catalog: None):
    create(kubectl, _claim(namespace, "raw", "Block"))
    doc = cluster(namespace, "refs")
    cases = [
        (
            lambda d: d["spec"].update(defaultSecret={"name": "kd-gone", "mountPath": "/etc/s"}),
            "spec.defaultSecret.name: Secret 'kd-gone' does not exist",
        ),
        (
            lambda d: d["spec"]["roles"][1].update(serviceAccountName="ghost"),
            "spec.roles[1].serviceAccountName: ServiceAccount 'ghost' does not exist",
        ),
        (
            lambda d: d["spec"]["roles"][1].update(
                volumeProjections=[{"pvcName": "nothing", "mountPath": "/data"}]
            ),
            "spec.roles[1].volumeProjections[0].pvcName: PersistentVolumeClaim 'nothing' "
            "does not exist",
        ),
        (
            lambda d: d["spec"]["roles"][1].update(
                volumeProjections=[{"pvcName": "raw", "mountPath": "/data"}]
            ),
            "spec.roles[1].volumeProjections[0].pvcName: PersistentVolumeClaim 'raw' has "
            "volumeMode Block",
        ),
    ]
    for change, message in cases:
        bad = json.loads(json.dumps(doc))
        change(bad)
        stderr = refused(kubectl, bad)
        assert message in stderr, stderr
    # Once they exist, the same references are admitted.
    kubectl("create", "secret", "generic", "kd-here", "-n", namespace)
    kubectl("create", "serviceaccount", "runner", "-n", namespace)
    create(kubectl, _claim(namespace, "data", "Filesystem"))
    doc["spec"]["defaultSecret"] = {"name": "kd-here", "mountPath": "/etc/s"}
    doc["spec"]["roles"][1]["serviceAccountName"] = "runner"
    doc["spec"]["roles"][1]["volumeProjections"] = [{"pvcName": "data", "mountPath": "/data"}]
    create(kubectl, doc)


def test_service_account_only_for_users_who_may_impersonate_it(
    kubectl, namespace: str, catalog: None
):
    kubectl("create", "serviceaccount", "runner", "-n", namespace)
    rules = [
        {
            "apiGroups": ["kubedirector.hpe.com"],
            "resources": ["kubedirectorclusters"],
            "verbs": ["create", "get"],
        }
    ]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "cluster-maker", "namespace": namespace},
        "rules": rules,
    }
    create(kubectl, role)
    kubectl(
        "create", "rolebinding", "alice", "--role=cluster-maker", "--user=alice", "-n", namespace
    )
    doc = cluster(namespace, "alices")
    doc["spec"]["roles"][1]["serviceAccountName"] = "runner"
    stderr = refused(kubectl, doc, "--as=alice")
    assert (
        "spec.roles[1].serviceAccountName: user 'alice' may not use ServiceAccount 'runner'"
        in stderr
    ), stderr
    role["rules"] = [
        *rules,
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts"],
            "resourceNames": ["runner"],
            "verbs": ["impersonate"],
        },
    ]
    kubectl("apply", "-f", "-", input=json.dumps(role))
    wait_until(
        lambda: create(kubectl, doc, "--as=alice", check=False).returncode == 0,
        10,
        "alice may use runner",
    )


def test_encrypted_values_come_only_from_admission(
    kubectl, namespace: str, catalog: None, webhook: Webhook
):
    key = "ab" * 32

    def set_key(value: str) -> subprocess.CompletedProcess:
        change = {"spec": {"masterEncryptionKey": value}}
        return patch(kubectl, namespace, "kdconfig/kd-global-config", change, check=False)

    assert set_key(key).returncode == 0  # no cluster holds encrypted values yet
    wait_until(
        lambda: (webhook.view.config() or {})["spec"].get("masterEncryptionKey") == key,
        10,
        "key cached",
    )
    doc = cluster(namespace, "hand")
    doc["spec"]["roles"][0]["secretKeys"] = [{"name": "t", "encryptedValue": encrypt("x", key)}]
    stderr = refused(kubectl, doc)
    assert "spec.roles[0].secretKeys[0].encryptedValue: only admission writes" in stderr, stderr
    # A restored (or adopted) cluster keeps its encrypted values.
    doc["metadata"] = {
        "name": "restored",
        "namespace": namespace,
        "annotations": {ANNOTATION_STATUS_BACKUP_EXISTS: "true"},
    }
    create(kubectl, doc)
    stored = get(kubectl, "kdcluster", namespace, "restored")["spec"]["roles"][0]["secretKeys"]
    assert stored == doc["spec"]["roles"][0]["secretKeys"]

    path = "/spec/roles/0/secretKeys/0/encryptedValue"
    ops = [{"op": "replace", "path": path, "value": encrypt("y", key)}]
    out = patch(kubectl, namespace, "kdcluster/restored", ops, patch_type="json", check=False)
    assert "spec.roles[0].secretKeys[0].encryptedValue: cannot change" in out.stderr, out.stderr
    set_workers(kubectl, namespace, "restored", 3)
    # The key they were encrypted with is now fixed.
    wait_until(
        lambda: any(c["metadata"]["name"] == "restored" for c in webhook.view.clusters()),
        10,
        "restored cluster cached",
    )
    out = set_key("cd" * 32)
    assert (
        "spec.masterEncryptionKey: cannot change while clusters hold values encrypted with it: "
        f"{namespace}/restored" in out.stderr
    ), out.stderr


def test_operator_generates_a_missing_master_key(kubectl, namespace: str, operator):
    create(kubectl, config(namespace))

    def generated() -> str:
        spec = get(kubectl, "kdconfig", namespace, "kd-global-config")["spec"]
        return str(spec.get("masterEncryptionKey") or "")

    wait_until(generated, 30, "masterEncryptionKey generated")
    assert key_error(generated()) is None and len(generated()) == 64
