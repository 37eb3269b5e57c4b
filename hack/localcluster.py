#!/usr/bin/env python3
"""The local Kubernetes control plane for development and tests.

Runs a real etcd, kube-apiserver, kube-controller-manager and kube-scheduler as
local processes, with kwok simulating the nodes (pods go Running/Ready, exec is
answered on this machine) and `hack/simkubelet.py` doing what a node's tooling
would: a per-pod exec directory (`KD_GUEST_ROOT`) and a PVC provisioner for the
default StorageClass `local-path`.  Everything listens on 127.0.0.1.

    localcluster.py up [--nodes N --cpu C --memory M --pods P --gpu-nodes G --gpus N]
                       [--real-node]
    localcluster.py down | status | logs | binaries [--real-node] | stop-real-node
    localcluster.py load-image ARCHIVE    (an OCI archive into the real node)
    localcluster.py restart-apiserver [--apiserver-arg=--watch-cache=false ...]
    localcluster.py compact-etcd

`--real-node` adds one real node (kubelet, containerd, runc; hack/realnode.py,
docs/realnode.md) named 127.0.0.1, tainted so only the operator's test overlay
lands there.  One per machine: a cluster asking for it takes it over from another.

State (PKI, etcd data, kubeconfig, logs of every component) lives in
$KD_CLUSTER_DIR (default $KD_CACHE_DIR/cluster, KD_CACHE_DIR defaulting to
~/.cache/kubedirector), outside the clone.  `--json` prints one JSON line.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import realnode
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HACK = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("KD_CACHE_DIR", Path.home() / ".cache" / "kubedirector"))
STATE = Path(os.environ.get("KD_CLUSTER_DIR", CACHE / "cluster"))
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
# Start order; stop runs in reverse.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "simkubelet",
)


class ClusterError(Exception):
    """A problem the user can act on; printed without a traceback."""


def log(msg: str) -> None:
    print(f"[localcluster] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- binaries


def _versions() -> dict[str, str]:
    out = {}
    for raw in (HACK / "versions.env").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def default_bin_dir() -> Path:
    v = _versions()
    return (
        CACHE
        / "bin"
        / (f"k8s-{v['KUBE_VERSION']}-etcd-{v['ETCD_VERSION']}-kwok-{v['KWOK_VERSION']}-exitcode")
    )


def _override(name: str) -> Path | None:
    """A binary the user already has: KD_<NAME>_BINARY, TEST_ASSET_<NAME>, KUBEBUILDER_ASSETS."""
    env = name.upper().replace("-", "_")
    for var in (f"KD_{env}_BINARY", f"TEST_ASSET_{env}"):
        if os.environ.get(var):
            return Path(os.environ[var])
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and (Path(assets) / name).is_file():
        return Path(assets) / name
    return None


def node_bin_dir() -> Path:
    """The real node's containerd, runc, CNI plugins and pause (hack/build-binaries.sh)."""
    v = _versions()
    return (
        CACHE
        / "bin"
        / (
            f"node-containerd-{v['CONTAINERD_VERSION']}-runc-"
            f"{v['RUNC_VERSION']}-cni-{v['CNI_PLUGINS_VERSION']}"
        )
    )


NODE_BINARIES = (
    "containerd",
    "ctr",
    "containerd-shim-runc-v2",
    "runc",
    "bridge",
    "host-local",
    "loopback",
    "portmap",
    "pause",
)


def resolve_binaries(build: bool = True, real_node: bool = False) -> dict[str, Path]:
    """Every binary's path: the user's overrides first, then the cache (built if missing).
    With `real_node`, also the kubelet and the node's binaries (keys `node:<name>`)."""
    names = (*KUBE_BINARIES, "etcd", "kwok", *(("kubelet",) if real_node else ()))
    bin_dir = default_bin_dir()
    paths = {n: _override(n) or bin_dir / n for n in names}
    if real_node:
        paths.update({f"node:{n}": node_bin_dir() / n for n in NODE_BINARIES})
    missing = [n for n, p in paths.items() if not os.access(p, os.X_OK)]
    if missing and build:
        log(f"building missing binaries ({', '.join(missing)}) with hack/build-binaries.sh")
        proc = subprocess.run(
            ["bash", str(HACK / "build-binaries.sh"), *(["--real-node"] if real_node else [])],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise ClusterError("hack/build-binaries.sh failed (see its messages above)")
        missing = [n for n, p in paths.items() if not os.access(p, os.X_OK)]
    if missing:
        raise ClusterError(f"binaries not found: {', '.join(str(paths[n]) for n in missing)}")
    return paths


# --------------------------------------------------------------------------- state


@dataclass
class Options:
    """The cluster's shape, chosen at the first `up` and kept in state/cluster.json."""

    nodes: int = 8
    cpu: str = "32"
    memory: str = "128Gi"
    pods: int = 110
    gpu_nodes: int = 2
    gpus: int = 4
    ports: dict[str, int] = field(default_factory=dict)
    apiserver_args: list[str] = field(default_factory=list)


def _state_file() -> Path:
    return STATE / "cluster.json"


def load_options() -> Options | None:
    if not _state_file().exists():
        return None
    return Options(**json.loads(_state_file().read_text()))


def save_options(opts: Options) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    _state_file().write_text(json.dumps(asdict(opts), indent=2))


def kubeconfig_path() -> Path:
    return STATE / "kubeconfig"


def logs_dir() -> Path:
    return STATE / "logs"


def info(paths: dict[str, Path] | None = None) -> dict[str, str]:
    bin_dir = (paths or {}).get("kubectl", default_bin_dir() / "kubectl").parent
    opts = load_options()
    return {
        "kubeconfig": str(kubeconfig_path()),
        "bin_dir": str(bin_dir),
        "state_dir": str(STATE),
        "logs_dir": str(logs_dir()),
        "guest_root": str(STATE / "guests"),
        "apiserver": f"https://127.0.0.1:{opts.ports['apiserver']}" if opts else "",
    }


# --------------------------------------------------------------------------- ports


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def assign_ports(opts: Options, apiserver_port: int | None) -> None:
    wanted = ("etcd", "etcd-peer", "apiserver", "kwok", "controller-manager", "scheduler")
    if apiserver_port:
        opts.ports["apiserver"] = apiserver_port
    for name in wanted:
        if name not in opts.ports:
            opts.ports[name] = pick_port(set(opts.ports.values()))


def check_ports(opts: Options) -> None:
    busy = [f"{name} 127.0.0.1:{port}" for name, port in opts.ports.items() if not port_free(port)]
    if busy:
        raise ClusterError(
            "port(s) in use by another process: " + ", ".join(busy) + ". Stop that process, or "
            "run `hack/localcluster.py down` and `up` again (it then picks free ports; "
            "`--apiserver-port` chooses the API server's)."
        )


# --------------------------------------------------------------------------- PKI


def ensure_pki() -> Path:
    """A CA, one admin certificate (client + serving on 127.0.0.1) and a SA key."""

    pki = STATE / "pki"
    if (pki / "admin.crt").exists():
        return pki
    pki.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    years = datetime.timedelta(days=3650)

    def key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write_key(name: str, k: rsa.RSAPrivateKey) -> None:
        (pki / name).write_bytes(
            k.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )

    ca_key = key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubedirector-local-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + years)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    admin_key = key()
    sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "10.96.0.1")]
    admin = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(admin_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + years)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = key()
    (pki / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (pki / "admin.crt").write_bytes(admin.public_bytes(serialization.Encoding.PEM))
    write_key("ca.key", ca_key)
    write_key("admin.key", admin_key)
    write_key("sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def write_kubeconfig(opts: Options, pki: Path) -> None:
    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kd-local",
        "clusters": [
            {
                "name": "kd-local",
                "cluster": {
                    "server": f"https://127.0.0.1:{opts.ports['apiserver']}",
                    "certificate-authority-data": b64("ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": "kd-admin",
                "user": {
                    "client-certificate-data": b64("admin.crt"),
                    "client-key-data": b64("admin.key"),
                },
            }
        ],
        "contexts": [{"name": "kd-local", "context": {"cluster": "kd-local", "user": "kd-admin"}}],
    }
    kubeconfig_path().write_text(yaml.safe_dump(cfg))
    kubeconfig_path().chmod(0o600)


# --------------------------------------------------------------------------- processes


def _pid_file(name: str) -> Path:
    return STATE / "pids" / f"{name}.pid"


def running_pid(name: str) -> int | None:
    """The component's pid if that process still runs (and is the one we started)."""
    try:
        pid = int(_pid_file(name).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return None
    # An empty cmdline is a process still in exec(): ours, just starting.
    return pid if not cmdline or STATE.as_posix().encode() in cmdline else None


def start(name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    logs_dir().mkdir(parents=True, exist_ok=True)
    _pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    with (logs_dir() / f"{name}.log").open("ab") as out:
        out.write(f"\n==== {datetime.datetime.now().isoformat()} start {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    _pid_file(name).write_text(str(proc.pid))


def stop(name: str, timeout: float = 15) -> None:
    pid = running_pid(name)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while running_pid(name) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if running_pid(name) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while running_pid(name) is not None and time.monotonic() < deadline + 5:
                time.sleep(0.1)
    _pid_file(name).unlink(missing_ok=True)


def wait_until(what: str, check: Callable[[], object], timeout: float, component: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(component) is None:
            raise ClusterError(
                f"{component} exited while waiting for {what}; see "
                f"{logs_dir() / (component + '.log')}"
            )
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise ClusterError(
        f"timed out after {timeout:.0f}s waiting for {what}; see "
        f"{logs_dir() / (component + '.log')}"
    )


def _https_ok(url: str, pki: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    with urllib.request.urlopen(url, context=ctx, timeout=3) as resp:
        return resp.status == 200


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return resp.status == 200


def etcd_argv(bins: dict[str, Path], opts: Options) -> list[str]:
    client, peer = opts.ports["etcd"], opts.ports["etcd-peer"]
    return [
        str(bins["etcd"]),
        "--name=node0",
        f"--data-dir={STATE / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=node0=http://127.0.0.1:{peer}",
        "--auto-compaction-mode=periodic",
        "--auto-compaction-retention=1h",
        "--quota-backend-bytes=8589934592",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def apiserver_argv(bins: dict[str, Path], opts: Options, pki: Path) -> list[str]:
    return [
        str(bins["kube-apiserver"]),
        f"--etcd-servers=http://127.0.0.1:{opts.ports['etcd']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={opts.ports['apiserver']}",
        f"--tls-cert-file={pki / 'admin.crt'}",
        f"--tls-private-key-file={pki / 'admin.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        # The API server reaches kwok's kubelet endpoint (exec, logs) on loopback only.
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        f"--kubelet-client-certificate={pki / 'admin.crt'}",
        f"--kubelet-client-key={pki / 'admin.key'}",
        # 127.0.0.1 may not be an Endpoints address: no reconciler for `kubernetes`.
        "--endpoint-reconciler-type=none",
        "--max-requests-inflight=800",
        "--max-mutating-requests-inflight=400",
        "--profiling=false",
        "--v=1",
        *opts.apiserver_args,
    ]


def controller_manager_argv(bins: dict[str, Path], opts: Options, pki: Path) -> list[str]:
    return [
        str(bins["kube-controller-manager"]),
        f"--kubeconfig={kubeconfig_path()}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={opts.ports['controller-manager']}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--kube-api-qps=500",
        "--kube-api-burst=1000",
        "--concurrent-statefulset-syncs=10",
        "--concurrent-gc-syncs=40",
        "--profiling=false",
        "--v=1",
    ]


def scheduler_argv(bins: dict[str, Path], opts: Options) -> list[str]:
    cfg = STATE / "scheduler.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "clientConnection": {
                    "kubeconfig": str(kubeconfig_path()),
                    "qps": 500,
                    "burst": 1000,
                },
                "leaderElection": {"leaderElect": False},
            }
        )
    )
    return [
        str(bins["kube-scheduler"]),
        f"--config={cfg}",
        "--bind-address=127.0.0.1",
        f"--secure-port={opts.ports['scheduler']}",
        "--profiling=false",
        "--v=1",
    ]


def kwok_argv(bins: dict[str, Path], opts: Options, pki: Path) -> list[str]:
    port = opts.ports["kwok"]
    config = STATE / "kwok.yaml"
    config.write_text((HACK / "kwok" / "kwok.yaml").read_text())
    return [
        str(bins["kwok"]),
        f"--kubeconfig={kubeconfig_path()}",
        f"--config={config}",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--node-ip=127.0.0.1",
        "--node-name=localhost",
        f"--node-port={port}",
        f"--server-address=127.0.0.1:{port}",
        f"--cidr={POD_CIDR}",
        f"--tls-cert-file={pki / 'admin.crt'}",
        f"--tls-private-key-file={pki / 'admin.key'}",
        "--node-lease-duration-seconds=40",
        "--enable-crds=Exec,ClusterExec",
    ]


def simkubelet_argv() -> list[str]:
    return [
        sys.executable,
        str(HACK / "simkubelet.py"),
        f"--kubeconfig={kubeconfig_path()}",
        f"--guest-root={STATE / 'guests'}",
        f"--volume-root={STATE / 'volumes'}",
        f"--state-dir={STATE}",
    ]


def kubectl(
    bins: dict[str, Path],
    *args: str,
    stdin: str | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(bins["kubectl"]), f"--kubeconfig={kubeconfig_path()}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def node_names(opts: Options) -> list[str]:
    return [f"kd-node-{i}" for i in range(opts.nodes)]


def release_node_leases(bins: dict[str, Path], opts: Options) -> None:
    """Delete the simulated nodes' leases before kwok (re)starts.

    A kubelet keeps its node lease across restarts; a new kwok process has a new holder
    identity, waits until its predecessor's leases expire and only then manages the
    nodes' pods: pods scheduled meanwhile stayed Pending for minutes after a restart.
    Without a lease to wait for, the new kwok creates its own and takes over at once."""
    kubectl(
        bins, "delete", "lease", "-n", "kube-node-lease", "--ignore-not-found", *node_names(opts)
    )


def node_manifests(opts: Options) -> str:
    docs = []
    for i, name in enumerate(node_names(opts)):
        capacity = {
            "cpu": opts.cpu,
            "memory": opts.memory,
            "pods": str(opts.pods),
            "ephemeral-storage": "1Ti",
        }
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
        }
        if i < opts.gpu_nodes:
            capacity["nvidia.com/gpu"] = str(opts.gpus)
            labels["nvidia.com/gpu.present"] = "true"
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {
                        "kwok.x-k8s.io/node": "fake",
                        "node.alpha.kubernetes.io/ttl": "0",
                    },
                },
                "status": {"capacity": capacity, "allocatable": capacity},
            }
        )
    return yaml.safe_dump_all(docs)


def bootstrap(bins: dict[str, Path], opts: Options) -> None:
    """Objects a node's tooling would bring: kwok's CRDs, the StorageClass, the nodes."""
    kubectl(bins, "apply", "--server-side", "-f", str(HACK / "kwok" / "crds.yaml"))
    kubectl(bins, "apply", "--server-side", "-f", str(HACK / "kwok" / "storageclass.yaml"))
    kubectl(
        bins,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "-f",
        str(HACK / "kwok" / "crds.yaml"),
    )
    kubectl(bins, "apply", "--server-side", "-f", "-", stdin=node_manifests(opts))


def nodes_ready(bins: dict[str, Path], count: int) -> bool:
    out = kubectl(
        bins,
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}",
        check=False,
    ).stdout.split()
    return out.count("True") >= count


def real_node_up(bins: dict[str, Path], opts: Options) -> str:
    """Start (or reuse, or take over) the machine's real node for this cluster; wait Ready."""
    pki = STATE / "pki"
    for name in ("kubelet", "kubelet-healthz"):
        if name not in opts.ports or not port_free(opts.ports[name]):
            opts.ports[name] = pick_port(set(opts.ports.values()))
    save_options(opts)
    cfg = realnode.NodeConfig(
        cluster_dir=str(STATE),
        node_bin_dir=str(node_bin_dir()),
        kubelet=str(bins["kubelet"]),
        kube_version=_versions()["KUBE_VERSION"],
        ca_cert=str(pki / "ca.crt"),
        ca_key=str(pki / "ca.key"),
        apiserver=f"https://127.0.0.1:{opts.ports['apiserver']}",
        kubelet_port=opts.ports["kubelet"],
        healthz_port=opts.ports["kubelet-healthz"],
    )
    started = time.monotonic()
    since = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    try:
        outcome = realnode.start(cfg, sys.executable, HACK / "realnode.py")
    except realnode.NodeError as e:
        raise ClusterError(f"real node: {e}") from None

    def node_ready() -> bool:
        """Ready as posted by this kubelet (not a Ready left from an earlier start)."""
        if realnode.status(STATE) not in ("running", "starting"):
            raise ClusterError(f"the real node stopped; see {logs_dir() / 'realnode.log'}")
        out = kubectl(
            bins,
            "get",
            "node",
            realnode.NODE_NAME,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status} "
            "{.status.conditions[?(@.type=='Ready')].lastHeartbeatTime}",
            check=False,
        ).stdout.split()
        return (
            len(out) == 2
            and out[0] == "True"
            and (
                outcome == "reused"
                or datetime.datetime.fromisoformat(out[1].replace("Z", "+00:00")) >= since
            )
        )

    wait_until("the real node to be Ready", node_ready, 120, "kube-apiserver")
    # The kubelet taints the Node only when it registers it; a test that lifted the
    # taint and was interrupted before putting it back must not leave it off.
    kubectl(
        bins,
        "taint",
        "node",
        realnode.NODE_NAME,
        f"{realnode.ROLE_LABEL}=true:NoSchedule",
        "--overwrite",
    )
    log(
        f"real node {realnode.NODE_NAME} Ready ({outcome}) in "
        f"{time.monotonic() - started:.1f}s; logs: {logs_dir() / 'realnode-kubelet.log'}"
    )
    return outcome


def up(args: argparse.Namespace) -> dict[str, str]:
    bins = resolve_binaries(real_node=args.real_node)
    if (
        args.reset_stopped
        and STATE.exists()
        and not any(running_pid(c) is not None for c in COMPONENTS)
    ):
        log(f"the cluster in {STATE} is stopped: starting from empty state (--reset-stopped)")
        shutil.rmtree(STATE)
    opts = load_options() or Options()
    for name in ("nodes", "cpu", "memory", "pods", "gpu_nodes", "gpus"):
        if getattr(args, name) is not None:
            setattr(opts, name, getattr(args, name))
    alive = [c for c in COMPONENTS if running_pid(c) is not None]
    if len(alive) == len(COMPONENTS) and (
        not args.apiserver_port or args.apiserver_port == opts.ports["apiserver"]
    ):
        save_options(opts)
        pki = STATE / "pki"
        wait_until(
            "the API server",
            lambda: _https_ok(f"https://127.0.0.1:{opts.ports['apiserver']}/readyz", pki),
            120,
            "kube-apiserver",
        )
        bootstrap(bins, opts)
        log(f"already running; kubeconfig: {kubeconfig_path()}")
        result = info(bins)
        if args.real_node:
            result["real_node"] = real_node_up(bins, opts)
        return result
    if alive and "etcd" not in alive:
        log(
            f"found a half-started cluster without etcd (running: {', '.join(alive)}); "
            "restarting it"
        )
        for c in reversed(COMPONENTS):
            stop(c)
        alive = []
    elif alive:
        log(f"found a half-started cluster (running: {', '.join(alive)}); starting the rest")
    if not alive:
        assign_ports(opts, args.apiserver_port)
        check_ports(opts)
    save_options(opts)
    pki = ensure_pki()
    write_kubeconfig(opts, pki)
    started = time.monotonic()
    starters = {
        "etcd": lambda: etcd_argv(bins, opts),
        "kube-apiserver": lambda: apiserver_argv(bins, opts, pki),
        "kube-controller-manager": lambda: controller_manager_argv(bins, opts, pki),
        "kube-scheduler": lambda: scheduler_argv(bins, opts),
        "kwok": lambda: kwok_argv(bins, opts, pki),
        "simkubelet": simkubelet_argv,
    }
    for component in COMPONENTS:
        if component not in alive:
            if component == "kwok":
                release_node_leases(bins, opts)
            start(component, starters[component]())
        if component == "etcd":
            wait_until(
                "etcd",
                lambda: _http_ok(f"http://127.0.0.1:{opts.ports['etcd']}/health"),
                60,
                "etcd",
            )
        elif component == "kube-apiserver":
            wait_until(
                "the API server",
                lambda: _https_ok(f"https://127.0.0.1:{opts.ports['apiserver']}/readyz", pki),
                120,
                "kube-apiserver",
            )
            bootstrap(bins, opts)
    wait_until(f"{opts.nodes} Ready nodes", lambda: nodes_ready(bins, opts.nodes), 120, "kwok")
    wait_until(
        "the default ServiceAccount",
        lambda: (
            kubectl(
                bins, "get", "serviceaccount", "default", "-n", "default", check=False
            ).returncode
            == 0
        ),
        60,
        "kube-controller-manager",
    )
    log(
        f"up in {time.monotonic() - started:.1f}s; kubeconfig: {kubeconfig_path()}; "
        f"logs: {logs_dir()}"
    )
    result = info(bins)
    if args.real_node:
        result["real_node"] = real_node_up(bins, opts)
    return result


def stop_real_node(_: argparse.Namespace | None = None) -> dict[str, str]:
    """Stop this cluster's real node (if it holds it); the rest keeps running."""
    try:
        stopped = realnode.stop(STATE)
    except realnode.NodeError as e:
        raise ClusterError(f"real node: {e}") from None
    if stopped:
        log("real node stopped; kernel settings restored")
    return {**info(), "real-node": realnode.status(STATE)}


def stop_local_operator() -> None:
    """Stop the operator `hack/local-operator.sh` runs against this cluster, if any:
    its supervisor would otherwise restart it against a cluster that is gone."""
    if _pid_file("operator").exists():
        subprocess.run(
            ["bash", str(HACK / "local-operator.sh"), "stop"],
            check=False,
            env={**os.environ, "KD_CLUSTER_DIR": str(STATE)},
            timeout=60,
            stdout=subprocess.DEVNULL,
        )


def down(_: argparse.Namespace) -> dict[str, str]:
    stop_local_operator()
    stop_real_node()
    for c in reversed(COMPONENTS):
        stop(c)
    result = info()
    if STATE.exists():
        shutil.rmtree(STATE)
        log(f"stopped and removed {STATE}")
    else:
        log("nothing to stop")
    return result


def status(_: argparse.Namespace) -> dict[str, str]:
    out = info()
    for c in COMPONENTS:
        out[c] = "running" if running_pid(c) is not None else "stopped"
    out["running"] = str(all(out[c] == "running" for c in COMPONENTS)).lower()
    out["real-node"] = realnode.status(STATE)
    return out


def load_image(args: argparse.Namespace) -> dict[str, str]:
    """Import an OCI archive into the real node's containerd (pods: imagePullPolicy Never)."""
    state = realnode.status(STATE)
    if state != "running":
        raise ClusterError(
            f"this cluster's real node is {state}: run `hack/localcluster.py up --real-node` first"
        )
    layout = realnode.Layout(STATE)
    started = time.monotonic()
    try:
        out = realnode.ctr(layout, str(node_bin_dir()), "images", "import", str(args.archive))
    except realnode.NodeError as e:
        raise ClusterError(str(e)) from None
    log(f"imported {args.archive} in {time.monotonic() - started:.1f}s")
    return {**info(), "imported": out.stdout.decode().strip()}


def restart_apiserver(args: argparse.Namespace) -> dict[str, str]:
    """Restart the API server, optionally with extra flags (kept until the next restart),
    then every other component but etcd."""
    opts = load_options()
    if opts is None or running_pid("etcd") is None:
        raise ClusterError("no local cluster is running: run `hack/localcluster.py up` first")
    bins = resolve_binaries()
    pki = STATE / "pki"
    stop("kube-apiserver")
    opts.apiserver_args = list(args.apiserver_arg or [])
    save_options(opts)
    start("kube-apiserver", apiserver_argv(bins, opts, pki))
    wait_until(
        "the API server",
        lambda: _https_ok(f"https://127.0.0.1:{opts.ports['apiserver']}/readyz", pki),
        120,
        "kube-apiserver",
    )
    # The other components start over with fresh watches, as after a real control-
    # plane outage; after a compaction their caches (and kwok) could lag for minutes.
    for component, argv in (
        ("kube-controller-manager", controller_manager_argv(bins, opts, pki)),
        ("kube-scheduler", scheduler_argv(bins, opts)),
        ("kwok", kwok_argv(bins, opts, pki)),
        ("simkubelet", simkubelet_argv()),
    ):
        stop(component)
        if component == "kwok":
            release_node_leases(bins, opts)
        start(component, argv)
    wait_until(f"{opts.nodes} Ready nodes", lambda: nodes_ready(bins, opts.nodes), 120, "kwok")
    return info(bins)


def _etcd_post(opts: Options, path: str, body: dict) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{opts.ports['etcd']}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def compact_etcd(_: argparse.Namespace) -> dict[str, str]:
    """Compact etcd to its current revision, so older resourceVersions expire (410 Gone)."""
    opts = load_options()
    if opts is None or running_pid("etcd") is None:
        raise ClusterError("no local cluster is running: run `hack/localcluster.py up` first")
    head = _etcd_post(opts, "/v3/kv/range", {"key": base64.b64encode(b"/").decode()})
    revision = int(head["header"]["revision"])
    _etcd_post(opts, "/v3/kv/compaction", {"revision": revision, "physical": True})
    out = info()
    out["compacted_revision"] = str(revision)
    return out


def binaries(args: argparse.Namespace) -> dict[str, str]:
    out = info(resolve_binaries(real_node=args.real_node))
    if args.real_node:
        out["node_bin_dir"] = str(node_bin_dir())
    return out


def logs(_: argparse.Namespace) -> dict[str, str]:
    return {"logs_dir": str(logs_dir()), **{c: str(logs_dir() / f"{c}.log") for c in COMPONENTS}}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: object, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--json", action="store_true", help="print one JSON line")
        sp.set_defaults(fn=fn)
        return sp

    u = add("up", up, "start (or reuse, or repair) the local cluster")
    u.add_argument("--nodes", type=positive, help="number of simulated nodes (default 8)")
    u.add_argument("--cpu", type=quantity, help="CPU per node (default 32)")
    u.add_argument("--memory", type=quantity, help="memory per node (default 128Gi)")
    u.add_argument("--pods", type=positive, help="pods per node (default 110)")
    u.add_argument(
        "--gpu-nodes", type=non_negative, help="how many nodes advertise nvidia.com/gpu (default 2)"
    )
    u.add_argument("--gpus", type=non_negative, help="nvidia.com/gpu per GPU node (default 4)")
    u.add_argument(
        "--reset-stopped",
        action="store_true",
        help="if the cluster is stopped (e.g. after a reboot), discard its state and "
        "start empty (the test suite does this)",
    )
    u.add_argument(
        "--apiserver-port",
        type=port_number,
        help="API server port (default: a free port, kept across restarts)",
    )
    u.add_argument(
        "--real-node",
        action="store_true",
        help="also run the machine's one real node (kubelet, containerd) for this "
        "cluster, taking it over from another cluster if one holds it",
    )
    add("down", down, "stop every component (and this cluster's real node); remove the state")
    add("stop-real-node", stop_real_node, "stop only this cluster's real node, if it holds it")
    add("status", status, "which components run; paths")
    add("logs", logs, "where each component's log is")
    b = add("binaries", binaries, "build or locate the binaries; print their folder")
    b.add_argument("--real-node", action="store_true", help="also the real node's binaries")
    li = add("load-image", load_image, "import an OCI image archive into the real node")
    li.add_argument("archive", type=Path, help="OCI archive (hack/build-image.sh prints one)")
    r = add(
        "restart-apiserver",
        restart_apiserver,
        "restart the API server (tests: resume after a restart, 410 Gone)",
    )
    r.add_argument(
        "--apiserver-arg",
        action="append",
        help="extra kube-apiserver flag, e.g. --apiserver-arg=--watch-cache=false",
    )
    add("compact-etcd", compact_etcd, "compact etcd to its current revision")
    return p


def positive(value: str) -> int:
    n = non_negative(value)
    if n == 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return n


def non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value!r}")
    return n


def port_number(value: str) -> int:
    n = positive(value)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {value!r}")
    return n


def quantity(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?", value):
        raise argparse.ArgumentTypeError(f"not a Kubernetes quantity: {value!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.fn(args)
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
