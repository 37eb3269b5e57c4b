"""Monitoring end to end: a real Prometheus scrapes the operator (a local process serving
/metrics over HTTPS to a ServiceAccount token bound to kubedirector-metrics-reader, as the
ServiceMonitor does) and evaluates the shipped rules, loaded unchanged from the
PrometheusRule.  Every alert's signal and every dashboard query returns series, a failed
app setup fires KubeDirectorSetupFailures, and the leader alerts stay quiet."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.support.operator import free_port, start_operator, wait_until
from tests.e2e.support.prometheus import (
    alert_rules,
    dashboard_queries,
    rule_groups,
    signal,
    start_prometheus,
)
from tests.e2e.support.users import sa_token
from tests.e2e.support.webhook import delete_surely, registered
from tests.e2e.test_setup import (
    apply,
    package_server,  # noqa: F401 - the fixture
    recorder_app,
    recorder_cluster,
)

READER_ROLE = REPO / "manifests" / "base" / "rbac-metrics.yaml"


@pytest.fixture
def scraper_token(kubectl, api_client, namespace: str) -> Iterator[str]:
    """A token of a ServiceAccount bound to the shipped kubedirector-metrics-reader (the
    role is applied as shipped and left, like the CRDs; the binding is the test's)."""
    binding = f"kd-test-scraper-{namespace}"[:63]
    reader = next(
        d
        for d in yaml.safe_load_all(READER_ROLE.read_text())
        if d["metadata"]["name"] == "kubedirector-metrics-reader"
    )
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(reader))
    kubectl("create", "serviceaccount", "prometheus", "-n", namespace)
    kubectl(
        "create",
        "clusterrolebinding",
        binding,
        "--clusterrole=kubedirector-metrics-reader",
        f"--serviceaccount={namespace}:prometheus",
    )
    try:
        yield sa_token(api_client, namespace, "prometheus")
    finally:
        delete_surely(kubectl, "clusterrolebinding", binding)


def firing(prom, alertname: str) -> list[dict]:
    return [
        a for a in prom.alerts() if a["labels"]["alertname"] == alertname and a["state"] == "firing"
    ]


def test_prometheus_scrapes_the_operator_and_evaluates_the_shipped_rules(
    local_cluster,
    kubectl,
    namespace,
    package_server,  # noqa: F811 - test_setup's fixture, imported above
    scraper_token,
    tmp_path,
):
    webhook_port, metrics_port = free_port(), free_port()
    with registered(kubectl, namespace, webhook_port) as webhook_config:
        operator = start_operator(
            local_cluster.kubeconfig,
            namespace,
            tmp_path / "operator.log",
            "--webhook-address",
            f"127.0.0.1:{webhook_port}",
            "--webhook-url",
            f"https://127.0.0.1:{webhook_port}",
            "--webhook-config-name",
            webhook_config,
            "--webhook-cert-secret",
            "kd-webhook-cert",
            "--secure-metrics-address",
            f"127.0.0.1:{metrics_port}",
        )
        prom = None
        try:
            wait_until(lambda: operator.get("/readyz")[0] == 200, 60, "operator ready")
            prom = start_prometheus(
                tmp_path / "prometheus",
                [f"127.0.0.1:{metrics_port}"],
                scheme="https",
                bearer_token=scraper_token,
            )
            app = recorder_app("failing", f"{package_server}/recorder.tgz", "fail")
            apply(kubectl, namespace, app)
            apply(kubectl, namespace, recorder_cluster("bad", "failing", {"a": 1}))

            wait_until(
                lambda: [s for s in prom.query('up{job="kubedirector-metrics"} == 1')],
                60,
                "target up",
            )
            loaded = prom.api("rules")["groups"]
            assert [len(g["rules"]) for g in loaded] == [
                len(g["rules"]) for g in rule_groups()["groups"]
            ]
            assert all(r["health"] == "ok" for g in loaded for r in g["rules"]), loaded

            def empty_signals() -> list[str]:
                queries = [(r["alert"], signal(r["expr"])) for r in alert_rules()]
                queries += dashboard_queries("30s")
                return [f"{what}: {expr}" for what, expr in queries if not prom.query(expr)]

            try:
                wait_until(lambda: not empty_signals(), 120, "series", interval=2)
            except AssertionError:
                raise AssertionError(f"no series after 120 s: {empty_signals()}") from None
            alert = wait_until(
                lambda: firing(prom, "KubeDirectorSetupFailures"),
                120,
                "KubeDirectorSetupFailures firing",
                interval=2,
            )
            assert alert[0]["labels"]["severity"] == "warning"
            assert float(alert[0]["value"]) >= 1
            states = {a["labels"]["alertname"]: a["state"] for a in prom.alerts()}
            for quiet in (
                "KubeDirectorNoLeader",
                "KubeDirectorMetricsAbsent",
                "KubeDirectorWebhookCertificateExpiring",
            ):
                assert quiet not in states, states
            degraded = prom.query('kubedirector_cluster_condition{type="Degraded"} == 1')
            assert {
                (s["metric"]["cluster_namespace"], s["metric"]["cluster_name"]) for s in degraded
            } == {(namespace, "bad")}
        finally:
            if prom is not None:
                prom.stop()
            kubectl(
                "delete",
                "kdcluster",
                "--all",
                "-n",
                namespace,
                "--timeout=60s",
                timeout=90,
                check=False,
            )
            operator.stop()
