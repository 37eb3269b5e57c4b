"""The committed install bundle is what `manifests/` renders to, and names the
release's image (the package version) in its one place."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib

import yaml

from tests.conftest import REPO, LocalCluster

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
BUNDLE = REPO / "dist" / f"kubedirector-{VERSION}.yaml"


def bundle_sh(local_cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECTL": str(local_cluster.kubectl_path)}
    return subprocess.run(
        ["bash", str(REPO / "hack" / "bundle.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_committed_bundle_equals_a_fresh_render(local_cluster: LocalCluster):
    proc = bundle_sh(local_cluster, "--check")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_bundle_names_the_release_image_and_labels_every_object():
    docs = [d for d in yaml.safe_load_all(BUNDLE.read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert {
        "CustomResourceDefinition",
        "Namespace",
        "Deployment",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    } <= kinds
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    images = {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert images == {f"ghcr.io/kubedirector/kubedirector:{VERSION}"}
    operator = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    assert all(
        d["metadata"]["labels"]["app.kubernetes.io/name"] == "kubedirector" for d in operator
    )


def test_check_fails_on_a_stale_bundle(local_cluster: LocalCluster, tmp_path):
    """The check can fail: a copy of the repository with an edited bundle is refused."""
    copy = tmp_path / "repo"
    for part in ("hack", "manifests", "dist"):
        shutil.copytree(REPO / part, copy / part)
    (copy / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    stale = copy / "dist" / BUNDLE.name
    stale.write_text(stale.read_text().replace("replicas: 2", "replicas: 3"))
    env = {**os.environ, "KUBECTL": str(local_cluster.kubectl_path)}
    proc = subprocess.run(
        ["bash", str(copy / "hack" / "bundle.sh"), "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "make bundle" in proc.stderr
