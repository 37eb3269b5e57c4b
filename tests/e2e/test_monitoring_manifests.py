"""The monitoring component against the real Prometheus Operator CRDs (pinned in
hack/versions.env, fetched from its Go module by hack/build-binaries.sh monitoring-crds):
the API server validates the ServiceMonitor, PodMonitor and PrometheusRule strictly, and
their selectors and port names match the shipped Service, Deployment and pods."""

from __future__ import annotations

import json

import yaml

from tests.conftest import REPO
from tests.e2e.support.prometheus import DASHBOARD, monitoring_crd_dir

BASE = REPO / "manifests" / "base"
OVERLAY = REPO / "manifests" / "overlays" / "monitoring"
PODMONITOR = REPO / "manifests" / "components" / "monitoring-podmonitor" / "podmonitor.yaml"
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def docs_of(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def subset(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_monitors_select_the_shipped_service_and_pods():
    base = [*docs_of(BASE / "services.yaml"), *docs_of(BASE / "deployment.yaml")]
    service = one(base, "Service", "kubedirector-metrics")
    pod = one(base, "Deployment")["spec"]["template"]
    container_ports = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
    service_monitor = one(
        docs_of(OVERLAY.parent.parent / "components" / "monitoring" / "servicemonitor.yaml"),
        "ServiceMonitor",
    )
    spec = service_monitor["spec"]
    assert subset(spec["selector"]["matchLabels"], service["metadata"]["labels"])
    assert service["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
    service_ports = {p["name"]: p["targetPort"] for p in service["spec"]["ports"]}
    for endpoint in spec["endpoints"]:
        assert endpoint["port"] in service_ports
        assert service_ports[endpoint["port"]] in container_ports
        assert endpoint["scheme"] == "https"
    assert subset(service["spec"]["selector"], pod["metadata"]["labels"])

    pod_monitor = one(docs_of(PODMONITOR), "PodMonitor")["spec"]
    assert subset(pod_monitor["selector"]["matchLabels"], pod["metadata"]["labels"])
    assert "kubedirector" in pod_monitor["namespaceSelector"]["matchNames"]
    for endpoint in pod_monitor["podMetricsEndpoints"]:
        assert endpoint["port"] in container_ports
    secret = one(docs_of(PODMONITOR), "Secret")
    token_ref = pod_monitor["podMetricsEndpoints"][0]["authorization"]["credentials"]
    assert token_ref["name"] == secret["metadata"]["name"]


def test_monitoring_objects_pass_the_prometheus_operator_crds(kubectl, namespace):
    crds = monitoring_crd_dir()
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crds))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(crds))
    rendered = [d for d in yaml.safe_load_all(kubectl("kustomize", str(OVERLAY)).stdout) if d]
    objects = [d for d in rendered if d["kind"] in MONITORING_KINDS]
    objects += [d for d in docs_of(PODMONITOR) if d["kind"] in MONITORING_KINDS]
    assert sorted(d["kind"] for d in objects) == sorted(MONITORING_KINDS)
    dashboard = one(rendered, "ConfigMap", "kubedirector-grafana-dashboard")
    assert json.loads(dashboard["data"]["kubedirector-dashboard.json"]) == json.loads(
        DASHBOARD.read_text()
    )
    for doc in objects:
        doc["metadata"]["namespace"] = namespace
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    kubectl("create", "--dry-run=server", "--validate=strict", "-f", "-", input=body)

    broken = json.loads(json.dumps(objects[0]))
    broken["spec"]["notAField"] = True
    refused = kubectl(
        "create",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        "-",
        input=json.dumps(broken),
        check=False,
    )
    assert refused.returncode != 0 and "notAField" in refused.stderr


def test_the_dashboard_is_grafana_json():
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert all(t["expr"] and t["refId"] for t in panel["targets"])
