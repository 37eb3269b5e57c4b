"""manifests/overlays/realnode changes only what the local real node forces
(docs/realnode.md): the same objects as manifests/base, and no other field."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO

# (kind, name) -> the fields the overlay may change, as path prefixes.
ALLOWED = {
    ("Namespace", "kubedirector"): ["metadata.labels.pod-security.kubernetes.io/enforce"],
    ("Deployment", "kubedirector"): [
        "spec.replicas",
        "spec.strategy",
        "spec.template.spec.hostNetwork",
        "spec.template.spec.nodeSelector",
        "spec.template.spec.tolerations",
        "spec.template.spec.containers.0.imagePullPolicy",
        "spec.template.spec.containers.0.args",
        "spec.template.spec.containers.0.ports",
        "spec.template.spec.containers.0.envFrom",
    ],
    ("Service", "kubedirector-webhook"): [
        "spec.selector",
        "spec.type",
        "spec.externalName",
        "spec.ports",
    ],
    ("Service", "kubedirector-metrics"): ["spec.ports"],
    ("ValidatingWebhookConfiguration", "kubedirector-webhook"): [
        "webhooks.0.clientConfig.service.port",
        "webhooks.1.clientConfig.service.port",
    ],
    ("MutatingWebhookConfiguration", "kubedirector-webhook"): [
        "webhooks.0.clientConfig.service.port"
    ],
}


def changed_paths(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            p
            for k in sorted(set(a) | set(b), key=str)
            for p in changed_paths(a.get(k), b.get(k), f"{prefix}{k}.")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in changed_paths(x, y, f"{prefix}{i}.")
        ]
    return [] if a == b else [prefix.rstrip(".")]


def render(kubectl, folder: str) -> dict[tuple[str, str], dict]:
    docs = yaml.safe_load_all(kubectl("kustomize", str(REPO / "manifests" / folder)).stdout)
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_changed_paths_finds_each_difference():
    a = {"x": 1, "l": [{"y": 2}], "same": [1]}
    assert changed_paths(a, {"x": 2, "l": [{"y": 3}], "same": [1], "new": 0}) == [
        "l.0.y",
        "new",
        "x",
    ]


def test_the_overlay_changes_only_what_this_machine_forces(kubectl):
    base, overlay = render(kubectl, "base"), render(kubectl, "overlays/realnode")
    assert sorted(overlay) == sorted(base)
    for key, obj in overlay.items():
        allowed = ALLOWED.get(key, [])
        for path in changed_paths(base[key], obj):
            assert any(path == p or path.startswith(f"{p}.") for p in allowed), (key, path)
    deployment = overlay[("Deployment", "kubedirector")]["spec"]["template"]["spec"]
    assert deployment["containers"][0]["imagePullPolicy"] == "Never"
    assert deployment["hostNetwork"] is True


def test_the_overlay_keeps_every_named_port_the_base_refers_to(kubectl):
    """The overlay moves the listeners to loopback ports; the probes and Services name
    ports, so every name the base's container has must survive (a renamed port left
    the probes pointing at nothing once)."""
    for folder in ("base", "overlays/realnode"):
        objects = render(kubectl, folder)
        pod = objects[("Deployment", "kubedirector")]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        names = {p["name"] for p in container["ports"]}
        probes = [container["readinessProbe"], container["livenessProbe"]]
        assert {p["httpGet"]["port"] for p in probes} <= names, folder
        service = objects[("Service", "kubedirector-metrics")]
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names, folder
    base = render(kubectl, "base")[("Deployment", "kubedirector")]["spec"]["template"]["spec"]
    assert names == {p["name"] for p in base["containers"][0]["ports"]}
