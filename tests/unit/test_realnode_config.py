"""What hack/realnode.py writes for the real node: the settings docs/spec/realnode.md
found necessary on this machine type, and a pause image containerd can import."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
import tarfile
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

HACK = Path(__file__).resolve().parents[2] / "hack"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("realnode", HACK / "realnode.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["realnode"] = module
    spec.loader.exec_module(module)
    return module


realnode = _load()


@pytest.fixture
def cfg(tmp_path: Path):
    return realnode.NodeConfig(
        cluster_dir=str(tmp_path),
        node_bin_dir="/bins",
        kubelet="/bins/kubelet",
        kube_version="1.36.3",
        ca_cert="/pki/ca.crt",
        ca_key="/pki/ca.key",
        apiserver="https://127.0.0.1:6443",
        kubelet_port=10250,
        healthz_port=10248,
    )


def test_kubelet_config_is_loopback_only_authenticated_and_tainted(cfg, tmp_path: Path):
    kc = realnode.kubelet_config(realnode.Layout(tmp_path), cfg)
    assert kc["failCgroupV1"] is False and kc["cgroupDriver"] == "cgroupfs"
    assert kc["address"] == kc["healthzBindAddress"] == "127.0.0.1"
    assert kc["readOnlyPort"] == 0
    assert kc["authentication"]["anonymous"]["enabled"] is False
    assert kc["authentication"]["x509"]["clientCAFile"] == "/pki/ca.crt"
    assert kc["authorization"]["mode"] == "Webhook"
    assert kc["rotateCertificates"] is False
    assert kc["registerWithTaints"] == [
        {"key": realnode.ROLE_LABEL, "value": "true", "effect": "NoSchedule"}
    ]
    assert kc["containerRuntimeEndpoint"] == f"unix://{tmp_path}/realnode/containerd.sock"


def test_containerd_config_restricts_oom_score_adj_and_pins_the_local_pause(cfg, tmp_path: Path):
    toml = tomllib.loads(realnode.containerd_config(realnode.Layout(tmp_path), cfg))
    assert toml["version"] == 3
    assert toml["root"].startswith(f"{tmp_path}/realnode/")
    assert toml["grpc"]["address"] == f"{tmp_path}/realnode/containerd.sock"
    runtime = toml["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    runc = runtime["containerd"]["runtimes"]["runc"]["options"]
    assert runc == {"BinaryName": "/bins/runc", "SystemdCgroup": False}
    images = toml["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "localhost/kubedirector-pause:v1.36.3"
    assert toml["plugins"]["io.containerd.grpc.v1.cri"]["stream_server_address"] == "127.0.0.1"


def test_cni_bridge_is_isolated(tmp_path: Path):
    bridge = realnode.cni_config(realnode.Layout(tmp_path))["plugins"][0]
    assert bridge["type"] == "bridge"
    assert bridge["isGateway"] is False and bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"].startswith(str(tmp_path))


def member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A regular file's content (extractfile gives None for anything else)."""
    data = tar.extractfile(member)
    assert data is not None, member.name
    return data.read()


def test_pause_image_archive_is_a_consistent_oci_layout(tmp_path: Path):
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF not really")
    archive = realnode.pause_image_archive(binary, "localhost/kubedirector-pause:v1.2.3")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        files = {m.name: member_bytes(tar, m) for m in tar.getmembers()}

    def blob(descriptor: dict) -> bytes:
        data = files[f"blobs/sha256/{descriptor['digest'].split(':')[1]}"]
        assert descriptor["digest"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
        assert descriptor["size"] == len(data)
        return data

    index = json.loads(files["index.json"])
    [entry] = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == (
        "localhost/kubedirector-pause:v1.2.3"
    )
    manifest = json.loads(blob(entry))
    config = json.loads(blob(manifest["config"]))
    [layer] = manifest["layers"]
    layer_bytes = blob(layer)
    assert config["rootfs"]["diff_ids"] == [layer["digest"]]
    assert config["config"]["Entrypoint"] == ["/pause"]
    with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as tar:
        member = tar.getmember("pause")
        assert member.mode == 0o755
        assert member_bytes(tar, member) == binary.read_bytes()
