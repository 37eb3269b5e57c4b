"""The in-cluster path, for real: the image built from the Dockerfile runs as the
Deployment from `manifests/` on the machine's real node (docs/realnode.md).

`hack/deploy.sh deploy --real-node` builds the image (hack/build-image.sh), imports it
into the node, and applies manifests/overlays/realnode: the base manifests with only
what this machine forces changed.  Then: the pod reads its ServiceAccount token, its
probes pass, the API server reaches the webhook through its Service, the leader's
pod can be force-deleted and the work still finishes, and a spark221e2 cluster made
through it reaches Ready with its members on the simulated nodes.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import REPO, LocalCluster
from tests.e2e.support.operator import wait_until
from tests.e2e.support.prometheus import start_prometheus
from tests.e2e.test_monitoring import scraper_token  # noqa: F401 - a fixture

pytestmark = pytest.mark.realnode

NS = "kubedirector"
OVERLAY = REPO / "manifests" / "overlays" / "realnode"
SELECTOR = "app.kubernetes.io/name=kubedirector,app.kubernetes.io/component=operator"
SPARK = REPO / "manifests" / "examples" / "clusters" / "cr-cluster-spark221e2.yaml"
PROBES = "http://127.0.0.1:28080"  # the overlay's loopback probes address (hostNetwork)
NODE = "127.0.0.1"
LEASE = "kubedirector-leader"


def _get(kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def operator_pods(kubectl) -> list[dict]:
    """The operator's pods that are not going away."""
    return [
        p
        for p in _get(kubectl, "pods", "-n", NS, "-l", SELECTOR)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


def ready_pod(kubectl) -> dict | None:
    for pod in operator_pods(kubectl):
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        if conditions.get("Ready") == "True":
            return pod
    return None


def exec_python(kubectl, pod: str, code: str) -> str:
    """Run Python inside the operator's container (the image has no shell tools)."""
    return kubectl(
        "exec", "-n", NS, pod, "-c", "operator", "--", "python", "-c", code, timeout=60
    ).stdout


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def deployed(real_node: str, local_cluster: LocalCluster, kubectl) -> Iterator[dict]:
    """`hack/deploy.sh deploy --real-node` (what `make deploy` runs); removed afterwards,
    leaving the CRDs the rest of the suite uses."""
    env = {
        **os.environ,
        "KUBECONFIG": str(local_cluster.kubeconfig),
        "KUBECTL": str(local_cluster.kubectl_path),
        "PYTHON": sys.executable,
        "KD_CLUSTER_DIR": str(local_cluster.state_dir),
    }
    started = time.monotonic()
    try:
        proc = subprocess.run(
            ["bash", str(REPO / "hack" / "deploy.sh"), "deploy", "--real-node"],
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        pod = ready_pod(kubectl)
        assert pod is not None, kubectl("get", "pods", "-n", NS, "-o", "wide").stdout
        print(f"deploy --real-node took {time.monotonic() - started:.0f}s")
        yield pod
    finally:  # also after a failed deploy: nothing may leak into the rest of the suite
        kubectl(
            "delete",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            "kubedirector-webhook",
            "--ignore-not-found",
            check=False,
        )
        kubectl(
            "delete",
            "-k",
            str(OVERLAY),
            "--ignore-not-found",
            "--wait",
            "--timeout=120s",
            check=False,
            timeout=150,
        )


def test_deploys_the_manifests_on_the_real_node(deployed: dict, kubectl):
    rendered = list(yaml.safe_load_all(kubectl("kustomize", str(OVERLAY)).stdout))
    for obj in rendered:
        meta = obj["metadata"]
        ns = ["-n", meta["namespace"]] if meta.get("namespace") else []
        kubectl("get", obj["kind"], meta["name"], *ns)
    base = next(
        o
        for o in yaml.safe_load_all(kubectl("kustomize", str(REPO / "manifests" / "base")).stdout)
        if o["kind"] == "Deployment"
    )
    pod = deployed
    assert pod["spec"]["nodeName"] == NODE
    container = pod["spec"]["containers"][0]
    base_container = base["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == base_container["image"]
    # What a real cluster gets, unchanged: security, resources, probes, the token.
    for key in ("securityContext", "resources"):
        assert container[key] == base_container[key], key
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == base_container[probe]["httpGet"]["path"]
    assert pod["spec"]["serviceAccountName"] == "kubedirector"
    assert pod["spec"]["securityContext"]["runAsUser"] == 65532
    # Catalog members cannot land on the real node: it is tainted.
    node = _get(kubectl, "node", NODE)
    assert {
        "key": "kubedirector.hpe.com/real-node",
        "value": "true",
        "effect": "NoSchedule",
    } in node["spec"]["taints"]


def test_image_is_non_root_read_only_and_byte_compiled(deployed: dict, kubectl):
    out = exec_python(
        kubectl,
        deployed["metadata"]["name"],
        """
import errno, importlib.util, json, os, sys
import kubedirector.cmd_run, kubedirector.cli  # everything `kubedirector run` loads
try:
    open("/opt/kubedirector/probe", "w")
    read_only = False
except OSError as e:
    read_only = e.errno == errno.EROFS
uncompiled = sorted(m.__file__ for m in list(sys.modules.values())
                    if getattr(m, "__file__", None) and m.__file__.endswith(".py")
                    and not os.path.exists(importlib.util.cache_from_source(m.__file__)))
print(json.dumps({"uid": os.getuid(), "read_only": read_only, "uncompiled": uncompiled,
                  "modules": len(sys.modules)}))
""",
    )
    facts = json.loads(out)
    assert facts["uid"] == 65532
    assert facts["read_only"] is True
    assert facts["modules"] > 100
    assert facts["uncompiled"] == []


def test_operator_uses_its_in_cluster_service_account_token(
    deployed: dict, kubectl, local_cluster: LocalCluster
):
    pod = deployed["metadata"]["name"]
    out = exec_python(
        kubectl,
        pod,
        """
import json, os
from kubernetes.client import AuthenticationV1Api, V1SelfSubjectReview
from kubedirector.kube import in_cluster, load_configuration, new_api_client
cfg = load_configuration(None)  # what `kubedirector run` does without --kubeconfig
review = AuthenticationV1Api(new_api_client(None)).create_self_subject_review(
    V1SelfSubjectReview())
print(json.dumps({"in_cluster": in_cluster(), "host": cfg.host,
                  "kubeconfig": os.environ.get("KUBECONFIG"),
                  "user": review.status.user_info.username}))
""",
    )
    facts = json.loads(out)
    server = yaml.safe_load(local_cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    assert facts == {
        "in_cluster": True,
        "host": server["server"],
        "kubeconfig": None,
        "user": "system:serviceaccount:kubedirector:kubedirector",
    }
    # The operator itself holds and renews the Lease with that identity (it has no
    # other credential): the renewal is newer than its pod.
    lease = _get(kubectl, "lease", LEASE, "-n", NS)
    wait_until(
        lambda: (
            _time(_get(kubectl, "lease", LEASE, "-n", NS)["spec"]["renewTime"])
            > _time(deployed["metadata"]["creationTimestamp"])
        ),
        60,
        "a Lease renewal",
    )
    assert lease["spec"]["holderIdentity"]


def test_probes_pass_and_start_to_ready_is_measured(deployed: dict, kubectl):
    pod = _get(kubectl, "pod", deployed["metadata"]["name"], "-n", NS)
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] is True
    assert status["restartCount"] == 0, "a probe failed or the operator crashed"
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"{PROBES}{path}", timeout=5) as resp:
            assert resp.status == 200, path
    started = _time(status["state"]["running"]["startedAt"])
    ready = next(
        _time(c["lastTransitionTime"]) for c in pod["status"]["conditions"] if c["type"] == "Ready"
    )
    seconds = (ready - started).total_seconds()
    print(f"operator container start to pod Ready: {seconds:.0f}s")
    assert 0 <= seconds < 120


def test_api_server_reaches_the_webhook_through_its_service(deployed: dict, kubectl):
    service = _get(kubectl, "service", "kubedirector-webhook", "-n", NS)
    assert service["spec"]["type"] == "ExternalName"
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        for hook in _get(kubectl, kind, "kubedirector-webhook")["webhooks"]:
            assert "url" not in hook["clientConfig"]
            assert hook["clientConfig"]["service"]["name"] == "kubedirector-webhook"
            assert hook["clientConfig"].get("caBundle"), "the operator fills in caBundle"
    probe = {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorConfig",
        "metadata": {"name": "not-the-global-config"},
        "spec": {},
    }
    proc = kubectl(
        "create", "--dry-run=server", "-n", NS, "-f", "-", input=json.dumps(probe), check=False
    )
    assert proc.returncode != 0
    assert "must be 'kd-global-config'" in proc.stderr, proc.stderr


def _wait_cluster_ready(kubectl, namespace: str, timeout: int = 240) -> dict:
    kubectl(
        "wait",
        "--for=condition=Ready",
        "kdcluster/spark221e2",
        "-n",
        namespace,
        f"--timeout={timeout}s",
        timeout=timeout + 10,
    )
    return _get(kubectl, "kdcluster", "spark221e2", "-n", namespace)


def _members_on_simulated_nodes(kubectl, namespace: str) -> None:
    pods = _get(
        kubectl, "pods", "-n", namespace, "-l", "kubedirector.hpe.com/kdcluster=spark221e2"
    )["items"]
    assert len(pods) == 4
    assert all(p["spec"]["nodeName"].startswith("kd-node-") for p in pods), [
        p["spec"]["nodeName"] for p in pods
    ]


def _delete_clusters(kubectl, namespace: str) -> None:
    """Remove the test's clusters while the operator still runs, so its finalizers go."""
    kubectl(
        "delete",
        "kdcluster",
        "--all",
        "-n",
        namespace,
        "--timeout=120s",
        timeout=150,
        check=False,
    )


def test_a_cluster_made_through_it_reaches_ready(deployed: dict, kubectl, namespace: str):
    kubectl("apply", "-n", namespace, "-f", str(SPARK))
    try:
        cluster = _wait_cluster_ready(kubectl, namespace)
        assert cluster["status"]["state"] == "configured"
        _members_on_simulated_nodes(kubectl, namespace)
    finally:
        _delete_clusters(kubectl, namespace)


def test_force_deleting_the_leader_pod_moves_the_lease_and_the_work_finishes(
    deployed: dict, kubectl, namespace: str
):
    leader = ready_pod(kubectl)
    assert leader is not None
    before = _get(kubectl, "lease", LEASE, "-n", NS)["spec"]
    kubectl("apply", "-n", namespace, "-f", str(SPARK))
    try:
        kubectl(
            "delete",
            "pod",
            leader["metadata"]["name"],
            "-n",
            NS,
            "--grace-period=0",
            "--force",
            "--wait=false",
        )
        replacement = wait_until(
            lambda: (
                (p := ready_pod(kubectl))
                and p["metadata"]["uid"] != leader["metadata"]["uid"]
                and p
            ),
            180,
            "a replacement operator pod to be Ready",
        )
        assert replacement["spec"]["nodeName"] == NODE
        after = wait_until(
            lambda: (
                (s := _get(kubectl, "lease", LEASE, "-n", NS)["spec"]).get("holderIdentity")
                not in (None, "", before["holderIdentity"])
                and s
            ),
            120,
            "the Lease to move to the new pod",
        )
        assert after["leaseTransitions"] > before.get("leaseTransitions", 0)
        _wait_cluster_ready(kubectl, namespace)
        _members_on_simulated_nodes(kubectl, namespace)
    finally:
        _delete_clusters(kubectl, namespace)


SECURE_METRICS = "127.0.0.1:28444"  # the overlay's /metrics over HTTPS (hostNetwork)


def test_a_real_prometheus_scrapes_the_in_cluster_operator(
    deployed: dict,
    scraper_token: str,  # noqa: F811 - test_monitoring's fixture, imported above
    tmp_path,
):
    """The Deployment's /metrics, over HTTPS with a ServiceAccount token bound to the
    shipped kubedirector-metrics-reader (TokenReview and SubjectAccessReview made by the
    pod with its own token), is what a real Prometheus scrapes: the target is up, the
    pod reports itself the leader, and its work queue and reconcile series are there."""
    prom = start_prometheus(
        tmp_path / "prometheus", [SECURE_METRICS], scheme="https", bearer_token=scraper_token
    )
    try:
        wait_until(
            lambda: prom.query('up{job="kubedirector-metrics"} == 1'), 60, "target up", interval=2
        )
        for expr in (
            "leader_election_master_status == 1",
            'workqueue_depth{name="kubedirectorcluster"}',
            "controller_runtime_reconcile_total",
        ):

            def series(e: str = expr) -> list[dict]:
                return prom.query(e)

            assert wait_until(series, 60, expr, interval=2), expr
    finally:
        prom.stop()
