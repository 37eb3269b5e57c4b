"""Secure metrics against the real API server: the operator (as the manifests' ServiceAccount
with their RBAC) serves /metrics over HTTPS only to tokens the API server authenticates and
authorizes for get /metrics; the probes stay on their own plain port."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.support.kdcluster import apply_list
from tests.e2e.support.operator import free_port, start_operator, wait_until
from tests.e2e.support.users import sa_token, token_kubeconfig
from tests.e2e.support.webhook import delete_surely

BASE = REPO / "manifests" / "base"


def shipped(path: Path, namespace: str, suffix: str) -> list[dict]:
    """The manifests' objects, cluster-scoped names made unique, subjects in `namespace`."""
    docs = list(yaml.safe_load_all(path.read_text()))
    for doc in docs:
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            doc["metadata"]["name"] += suffix
        else:
            doc["metadata"]["namespace"] = namespace
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] += suffix
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
    return docs


def scrape(port: int, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"https://127.0.0.1:{port}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed, as scrapers are told to accept
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def metrics_rbac(kubectl, namespace: str) -> Iterator[str]:
    """The operator's ServiceAccount with the shipped operator and metrics-auth roles, two
    scrapers (one bound to the shipped kubedirector-metrics-reader), all made unique."""
    suffix = f"-{namespace}"[:40]
    docs = [
        *shipped(BASE / "serviceaccount.yaml", namespace, suffix),
        *shipped(BASE / "rbac.yaml", namespace, suffix),
        *shipped(BASE / "rbac-metrics.yaml", namespace, suffix),
    ]
    for name in ("scraper", "stranger"):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace},
            }
        )
    docs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"kubedirector-metrics-reader{suffix}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"kubedirector-metrics-reader{suffix}",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "scraper", "namespace": namespace}],
        }
    )
    apply_list(kubectl, docs)
    try:
        yield suffix
    finally:
        for doc in docs:
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                delete_surely(kubectl, doc["kind"].lower(), doc["metadata"]["name"])


def test_only_authorized_scrapers_read_metrics(
    local_cluster, kubectl, api_client, namespace, metrics_rbac, tmp_path
):
    identity = token_kubeconfig(
        local_cluster.kubeconfig,
        sa_token(api_client, namespace, "kubedirector"),
        tmp_path / "operator.kubeconfig",
    )
    secure_port = free_port()
    operator = start_operator(
        identity,
        namespace,
        tmp_path / "operator.log",
        "--no-leader-elect",
        "--no-webhook",
        "--secure-metrics-address",
        f"127.0.0.1:{secure_port}",
    )
    try:
        wait_until(lambda: scrape(secure_port, None)[0] == 401, 30, "secure metrics up")
        assert scrape(secure_port, "not-a-token")[0] == 401
        status, body = scrape(secure_port, sa_token(api_client, namespace, "stranger"))
        assert status == 403, body
        assert f"system:serviceaccount:{namespace}:stranger may not get /metrics" in body
        status, body = scrape(secure_port, sa_token(api_client, namespace, "scraper"))
        assert status == 200, body
        assert "controller_runtime_reconcile_total" in body
        # the plain port keeps the probes and no longer serves metrics
        assert operator.get("/healthz")[0] == 200
        wait_until(lambda: operator.get("/readyz")[0] == 200, 30, "ready")
        assert operator.get("/metrics")[0] == 404
        assert "forbidden" not in operator.log.read_text().lower()
    finally:
        operator.stop()
