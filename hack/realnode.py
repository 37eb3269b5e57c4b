#!/usr/bin/env python3
"""One real node (kubelet + containerd + runc + CNI) for a local control plane.

The simulated nodes cannot run the operator's image; this node can (docs/realnode.md,
docs/spec/realnode.md).  Its kubelet and containerd state is machine-wide
(`/var/lib/kubelet`, `/run/containerd`, `kubepods` cgroups, kernel settings), so at
most one real node runs per machine:

- A supervisor process (`realnode.py supervise`) owns the node for its whole life: it
  holds an exclusive flock on MACHINE_DIR/node.lock, starts containerd and the kubelet
  as its children, adopts everything they leave running (it is a child subreaper), and
  on any exit (`down`, SIGTERM, containerd or the kubelet dying, a failed start) tears
  all of it down and restores the kernel settings the kubelet changed.
- If the supervisor itself is killed, the lock is released with it; the next request
  (`up --real-node` or `down` of any cluster) finds the leftovers recorded in
  MACHINE_DIR/holder.json and cleans them up first.
- A second cluster asking for the node while another cluster holds it **takes it
  over**: the holder's supervisor is told to stop (it tears down and restores), then
  the new one starts.  Nothing waits on the other cluster, so no order can hang;
  transitions are serialised by a second flock held only for their (bounded) length.

Used by hack/localcluster.py (`up --real-node`, `down`, `status`, `load-image`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import fcntl
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MACHINE_DIR = Path(os.environ.get("KD_REAL_NODE_DIR", "/run/kubedirector-realnode"))
NODE_LOCK = MACHINE_DIR / "node.lock"
TRANSITION_LOCK = MACHINE_DIR / "transition.lock"
HOLDER_FILE = MACHINE_DIR / "holder.json"
SAVED_SYSCTLS = MACHINE_DIR / "sysctls.json"

# The kubelet refuses a loopback --node-ip, but a node *named* 127.0.0.1 gets that
# InternalIP, so the API server reaches its kubelet on loopback.
NODE_NAME = "127.0.0.1"
ROLE_LABEL = "kubedirector.hpe.com/real-node"  # label and NoSchedule taint key
BRIDGE = "kdrn0"
POD_SUBNET = "10.250.0.0/24"  # an isolated bridge: no gateway, no masquerade, no forwarding
CRI_NAMESPACE = "k8s.io"
# Kernel settings the kubelet changes at start (protectKernelDefaults: false).
SYSCTLS = (
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# What the kubelet and containerd leave outside the state folder, whatever they are told.
MACHINE_PATHS = (
    Path("/var/lib/kubelet"),
    Path("/var/log/pods"),
    Path("/var/log/containers"),
    Path("/var/lib/cni"),
    Path("/run/containerd"),
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
# A unix socket path has at most 107 bytes; the kubelet puts its own sockets this
# far below its root folder (device-plugins/kubelet.sock, pod-resources/...).
SOCKET_PATH_MAX = 107
KUBELET_SOCKET_SUFFIX = len("/device-plugins/kubelet.sock")
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
PR_SET_CHILD_SUBREAPER = 36


class NodeError(Exception):
    """A problem the user can act on; printed without a traceback."""


def log(msg: str) -> None:
    print(f"[realnode] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    """Where one cluster's real node keeps everything (under the cluster's state dir)."""

    cluster_dir: Path

    @property
    def root(self) -> Path:
        return self.cluster_dir / "realnode"

    @property
    def socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def logs(self) -> Path:
        return self.cluster_dir / "logs"

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def ready_file(self) -> Path:
        return self.root / "ready"


@dataclass(frozen=True)
class NodeConfig:
    """What the supervisor needs; written by `start` into the layout's config.json."""

    cluster_dir: str
    node_bin_dir: str
    kubelet: str
    kube_version: str
    ca_cert: str
    ca_key: str
    apiserver: str
    kubelet_port: int
    healthz_port: int


@dataclass(frozen=True)
class Holder:
    """Who holds the machine's real node (MACHINE_DIR/holder.json)."""

    cluster_dir: str
    supervisor: int
    pids: dict[str, int]


def read_holder() -> Holder | None:
    try:
        return Holder(**json.loads(HOLDER_FILE.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_holder(holder: Holder) -> None:
    tmp = HOLDER_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(holder)))
    tmp.replace(HOLDER_FILE)


# --------------------------------------------------------------------------- locks


def _lock_fd(path: Path) -> int:
    MACHINE_DIR.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def node_lock_held() -> bool:
    """True while a supervisor holds the node lock (it is released when it dies)."""
    fd = _lock_fd(NODE_LOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def transition(timeout: float = START_TIMEOUT + STOP_TIMEOUT + 30) -> Iterator[None]:
    """Serialise starts and stops of the node across clusters, for a bounded time."""
    fd = _lock_fd(TRANSITION_LOCK)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise NodeError(
                        f"another real-node start or stop held {TRANSITION_LOCK} "
                        f"for over {timeout:.0f}s"
                    ) from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- kernel settings


def save_sysctls() -> None:
    """Record the settings once, before the first kubelet start (never over a record)."""
    if SAVED_SYSCTLS.exists():
        return
    values = {name: (Path("/proc/sys") / name).read_text().strip() for name in SYSCTLS}
    tmp = SAVED_SYSCTLS.with_suffix(".tmp")
    tmp.write_text(json.dumps(values))
    tmp.replace(SAVED_SYSCTLS)


def restore_sysctls() -> None:
    """Put back what save_sysctls recorded (panic_on_oops=1 with panic=10 reboots on an oops)."""
    try:
        values = json.loads(SAVED_SYSCTLS.read_text())
    except (OSError, ValueError):
        return
    for name, value in values.items():
        (Path("/proc/sys") / name).write_text(value)
    SAVED_SYSCTLS.unlink(missing_ok=True)
    log("kernel settings restored: " + ", ".join(f"{k}={v}" for k, v in values.items()))


# --------------------------------------------------------------------------- processes


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _ours(pid: int, marker: str) -> bool:
    """The pid still runs the process we recorded (its command line names `marker`)."""
    return pid > 0 and _alive(pid) and marker.encode() in _cmdline(pid)


def _children_of(root: int) -> list[int]:
    """Every descendant of `root`, deepest first (a subreaper adopts orphans, so all)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parent[int(entry.name)] = int(stat.rsplit(")", 1)[-1].split()[1])
    out: list[int] = []
    frontier = [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        out.extend(kids)
        frontier = kids
    return list(reversed(out))


def _kill_and_wait(pids: list[int], sig: int, timeout: float) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.1)


def _stop_pid(pid: int, timeout: float) -> None:
    _kill_and_wait([pid], signal.SIGTERM, timeout)
    if _alive(pid):
        _kill_and_wait([pid], signal.SIGKILL, 5)


def _cgroup_dirs() -> list[Path]:
    """Every `kubepods` cgroup the kubelet made, in every hierarchy, deepest first."""
    found: list[Path] = []
    if CGROUP_ROOT.is_dir():
        for hierarchy in CGROUP_ROOT.iterdir():
            top = hierarchy / "kubepods"
            if top.is_dir():
                found.extend(d for d in top.rglob("*") if d.is_dir())
                found.append(top)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _cgroup_pids() -> list[int]:
    pids: set[int] = set()
    for d in _cgroup_dirs():
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(x) for x in (d / "cgroup.procs").read_text().split())
    return sorted(pids)


# --------------------------------------------------------------------------- teardown


def _mounts_under(prefixes: list[Path]) -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4].replace("\\040", " ")
        if any(target == str(p) or target.startswith(f"{p}/") for p in prefixes):
            out.append(target)
    return sorted(set(out), key=lambda t: t.count("/"), reverse=True)


def _unmount_all(prefixes: list[Path]) -> None:
    for _ in range(3):  # lazily unmounted parents may reveal more
        targets = _mounts_under(prefixes)
        if not targets:
            return
        for target in targets:
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def cleanup(layout: Layout | None, holder: Holder | None) -> None:
    """Remove everything a real node leaves: processes (recorded pids, the kubepods
    cgroups), mounts, cgroups, the bridge, netns files, state; restore kernel settings."""
    markers = [str(Path(holder.cluster_dir) / "realnode")] if holder else []
    if layout is not None:
        markers.append(str(layout.root))
    recorded = [
        pid
        for pid in (holder.pids.values() if holder else [])
        if any(_ours(pid, m) for m in markers)
    ]
    for pid in recorded:  # the kubelet first, so it restarts nothing
        _stop_pid(pid, 10)
    # Containers (in the kubelet's cgroups) and the shims that ran them (their
    # command line names the node's containerd socket).
    _kill_and_wait(_cgroup_pids(), signal.SIGKILL, 10)
    shims = [
        int(e.name)
        for e in Path("/proc").iterdir()
        if e.name.isdigit()
        and any(_ours(int(e.name), m) for m in markers)
        and b"containerd-shim" in _cmdline(int(e.name))
    ]
    _kill_and_wait(shims, signal.SIGKILL, 10)
    netns = sorted(Path("/run/netns").glob("cni-*")) if Path("/run/netns").is_dir() else []
    roots = [Path(m) for m in markers] + list(MACHINE_PATHS) + netns
    _unmount_all(roots)
    for d in _cgroup_dirs():
        with contextlib.suppress(OSError):
            d.rmdir()
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "delete", BRIDGE], check=False, capture_output=True)
    for path in [*netns, *MACHINE_PATHS, *(Path(m) for m in markers)]:
        if path.is_dir() and not path.is_symlink():
            subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
        else:
            path.unlink(missing_ok=True)
    restore_sysctls()
    if holder and read_holder() == holder:
        HOLDER_FILE.unlink(missing_ok=True)


# --------------------------------------------------------------------------- configuration


def _node_certificate(cfg: NodeConfig, out_dir: Path) -> tuple[Path, Path]:
    """The kubelet's client identity: O=system:nodes, CN=system:node:<name>, from the CA."""
    ca_key = serialization.load_pem_private_key(Path(cfg.ca_key).read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey), "the local cluster's CA key is RSA"
    ca = x509.load_pem_x509_certificate(Path(cfg.ca_cert).read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{NODE_NAME}"),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    crt, pem = out_dir / "node.crt", out_dir / "node.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pem.chmod(0o600)
    return crt, pem


def pause_image_ref(kube_version: str) -> str:
    return f"localhost/kubedirector-pause:v{kube_version}"


def containerd_config(layout: Layout, cfg: NodeConfig) -> str:
    """containerd config version 3: own root/state/socket; runc with cgroupfs;
    restrict_oom_score_adj (this VM lacks CAP_SYS_RESOURCE); the local pause image."""
    root, bins = layout.root, cfg.node_bin_dir
    return f"""version = 3
root = "{root}/containerd/root"
state = "{root}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri"]
[grpc]
  address = "{layout.socket}"
[ttrpc]
  address = "{layout.socket}.ttrpc"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{pause_image_ref(cfg.kube_version)}"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "{bins}/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["{bins}"]
    conf_dir = "{root}/cni/net.d"
"""


def cni_config(layout: Layout) -> dict:
    """An isolated bridge (no gateway, no masquerade): enough for the node to be Ready."""
    return {
        "cniVersion": "1.0.0",
        "name": "kd-realnode",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": False,
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "dataDir": str(layout.root / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(layout: Layout, cfg: NodeConfig) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # this machine has the cgroup v1 hierarchy
        "failSwapOn": False,
        "address": "127.0.0.1",
        "port": cfg.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": cfg.healthz_port,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": cfg.ca_cert},
        },
        "authorization": {"mode": "Webhook"},
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "containerRuntimeEndpoint": f"unix://{layout.socket}",
        "podLogsDir": str(layout.root / "pod-logs"),
        "registerWithTaints": [{"key": ROLE_LABEL, "value": "true", "effect": "NoSchedule"}],
        "maxPods": 20,
        "clusterDomain": "cluster.local",
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "resolvConf": "/etc/resolv.conf",
    }


def kubelet_kubeconfig(cfg: NodeConfig, crt: Path, key: Path) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "node",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": cfg.apiserver, "certificate-authority": cfg.ca_cert},
            }
        ],
        "users": [
            {"name": "node", "user": {"client-certificate": str(crt), "client-key": str(key)}}
        ],
        "contexts": [{"name": "node", "context": {"cluster": "local", "user": "node"}}],
    }


def pause_image_archive(pause_binary: Path, ref: str) -> bytes:
    """A one-layer OCI image archive holding /pause (tar + sha256 + JSON)."""

    def blob(data: bytes) -> tuple[str, bytes]:
        return f"sha256:{hashlib.sha256(data).hexdigest()}", data

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        data = pause_binary.read_bytes()
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    layer_digest, layer_bytes = blob(layer.getvalue())
    config_digest, config_bytes = blob(
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            }
        ).encode()
    )
    manifest_digest, manifest_bytes = blob(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config_bytes),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest,
                        "size": len(layer_bytes),
                    }
                ],
            }
        ).encode()
    )
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "annotations": {
                        "io.containerd.image.name": ref,
                        "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1],
                    },
                }
            ],
        }
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index}
        for digest, data in (
            (layer_digest, layer_bytes),
            (config_digest, config_bytes),
            (manifest_digest, manifest_bytes),
        ):
            files[f"blobs/sha256/{digest.split(':')[1]}"] = data
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def ctr(
    layout: Layout, node_bin_dir: str, *args: str, stdin: bytes | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [
            f"{node_bin_dir}/ctr",
            f"--address={layout.socket}",
            f"--namespace={CRI_NAMESPACE}",
            *args,
        ],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise NodeError(f"ctr {' '.join(args)} failed: {proc.stderr.decode().strip()}")
    return proc


# --------------------------------------------------------------------------- supervisor


def _wait_for(
    what: str, check: Callable[[], bool], timeout: float, watched: list[subprocess.Popen]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in watched:
            if proc.poll() is not None:
                argv = proc.args
                assert isinstance(argv, list)  # started by _start, from an argv list
                raise NodeError(f"{argv[0]} exited ({proc.returncode}) while waiting for {what}")
        if check():
            return
        time.sleep(0.2)
    raise NodeError(f"timed out after {timeout:.0f}s waiting for {what}")


class Supervisor:
    """Owns the node from start to teardown; see the module docstring."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.cfg = NodeConfig(**json.loads(layout.config.read_text()))
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopping = False
        self.starting = True  # a signal now interrupts the start; later it only asks to stop

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        with (self.layout.logs / f"realnode-{name}.log").open("ab") as out:
            out.write(
                f"\n==== {datetime.datetime.now().isoformat()} start {' '.join(argv)}\n".encode()
            )
            out.flush()
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env},
            )
        self.procs[name] = proc
        write_holder(
            Holder(
                str(self.layout.cluster_dir), os.getpid(), {n: p.pid for n, p in self.procs.items()}
            )
        )
        return proc

    def run(self) -> int:
        lock = _lock_fd(NODE_LOCK)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another real node holds {NODE_LOCK}")
            return 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        code = 0
        try:
            cleanup(self.layout, read_holder())  # what a killed supervisor left
            save_sysctls()
            write_holder(Holder(str(self.layout.cluster_dir), os.getpid(), {}))
            self._bring_up()
            self.starting = False
            self.layout.ready_file.write_text(str(os.getpid()))
            log("real node running")
            while not self.stopping:
                dead = [n for n, p in self.procs.items() if p.poll() is not None]
                if dead:
                    log(f"{', '.join(dead)} exited: tearing the node down")
                    code = 1
                    break
                time.sleep(0.5)
        except (NodeError, OSError, subprocess.SubprocessError) as e:
            log(f"error: {e}")
            code = 1
        finally:
            self.starting = False
            self._teardown()
            os.close(lock)
        return code

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.starting:
            self.starting = False
            raise NodeError(f"stopped by signal {signum} while starting")

    def _bring_up(self) -> None:
        layout, cfg = self.layout, self.cfg
        for d in ("containerd", "cni/net.d", "cni/ipam", "kubelet", "pki", "pod-logs"):
            (layout.root / d).mkdir(parents=True, exist_ok=True)
        (layout.root / "containerd.toml").write_text(containerd_config(layout, cfg))
        (layout.root / "cni/net.d/10-kd-realnode.conflist").write_text(
            json.dumps(cni_config(layout), indent=2)
        )
        crt, key = _node_certificate(cfg, layout.root / "pki")
        (layout.root / "kubelet.kubeconfig").write_text(
            yaml.safe_dump(kubelet_kubeconfig(cfg, crt, key))
        )
        (layout.root / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config(layout, cfg)))
        env = {"PATH": f"{cfg.node_bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        containerd = self._start(
            "containerd",
            [
                f"{cfg.node_bin_dir}/containerd",
                f"--config={layout.root / 'containerd.toml'}",
                "--log-level=warn",
            ],
            env,
        )
        _wait_for("containerd's socket", layout.socket.exists, 60, [containerd])
        ref = pause_image_ref(cfg.kube_version)
        ctr(
            layout,
            cfg.node_bin_dir,
            "images",
            "import",
            "-",
            stdin=pause_image_archive(Path(cfg.node_bin_dir) / "pause", ref),
        )
        ctr(layout, cfg.node_bin_dir, "images", "label", ref, "io.cri-containerd.pinned=pinned")
        self._start(
            "kubelet",
            [
                cfg.kubelet,
                f"--config={layout.root / 'kubelet.yaml'}",
                f"--kubeconfig={layout.root / 'kubelet.kubeconfig'}",
                f"--root-dir={layout.kubelet_dir}",
                f"--hostname-override={NODE_NAME}",
                f"--node-labels={ROLE_LABEL}=true",
                "--v=1",
            ],
            env,
        )

    def _teardown(self) -> None:
        self.layout.ready_file.unlink(missing_ok=True)
        for name in ("kubelet", "containerd"):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                _stop_pid(proc.pid, 15)
        try:
            cleanup(self.layout, read_holder())
        finally:
            restore_sysctls()
            # Whatever is still ours (adopted shims, containers) goes with us.
            _kill_and_wait(_children_of(os.getpid()), signal.SIGKILL, 10)
            log("real node stopped and cleaned up")


# --------------------------------------------------------------------------- client side


def status(cluster_dir: Path) -> str:
    """running (this cluster holds it) | held-by:<dir> | stopped."""
    holder = read_holder()  # None too where nothing ever ran (no machine folder)
    if holder is None or not node_lock_held():
        return "stopped"
    if Path(holder.cluster_dir) != cluster_dir:
        return f"held-by:{holder.cluster_dir}"
    return "running" if Layout(cluster_dir).ready_file.exists() else "starting"


def _stop_holder(holder: Holder) -> None:
    """Tell a live supervisor to stop and wait (bounded) until it released the node."""
    marker = str(Path(holder.cluster_dir) / "realnode")
    if _ours(holder.supervisor, "realnode.py") and marker.encode() in _cmdline(holder.supervisor):
        os.kill(holder.supervisor, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while node_lock_held() and time.monotonic() < deadline:
            time.sleep(0.2)
        if node_lock_held() and _alive(holder.supervisor):
            log(f"supervisor {holder.supervisor} did not stop in {STOP_TIMEOUT:.0f}s: killing it")
            os.kill(holder.supervisor, signal.SIGKILL)
            time.sleep(0.5)
    if node_lock_held():
        raise NodeError(
            f"{NODE_LOCK} is still held after stopping the real node of {holder.cluster_dir}"
        )


def start(cfg: NodeConfig, python: str, script: Path) -> str:
    """Start this cluster's real node, taking it over from another cluster if needed.

    Returns "reused", "started" or "taken-over:<other cluster dir>"."""
    layout = Layout(Path(cfg.cluster_dir))
    if len(str(layout.kubelet_dir)) + KUBELET_SOCKET_SUFFIX > SOCKET_PATH_MAX:
        raise NodeError(
            f"the cluster folder {cfg.cluster_dir} is too long for the kubelet's "
            f"unix sockets (at most {SOCKET_PATH_MAX} bytes): use a shorter "
            "KD_CLUSTER_DIR"
        )
    with transition():
        holder = read_holder()
        live = node_lock_held()
        if (
            live
            and holder
            and Path(holder.cluster_dir) == layout.cluster_dir
            and layout.ready_file.exists()
        ):
            return "reused"
        outcome = "started"
        if live:
            other = holder.cluster_dir if holder else "unknown"
            log(
                f"the real node is held by the cluster in {other}: taking it over "
                "(its node stops; `up --real-node` there takes it back)"
            )
            if holder is None:
                raise NodeError(f"{NODE_LOCK} is held but {HOLDER_FILE} names no holder")
            _stop_holder(holder)
            outcome = f"taken-over:{other}"
        elif holder is not None:
            log(f"cleaning up a real node left by {holder.cluster_dir}")
            cleanup(None, holder)
        layout.root.mkdir(parents=True, exist_ok=True)
        layout.ready_file.unlink(missing_ok=True)
        layout.config.write_text(json.dumps(asdict(cfg)))
        layout.logs.mkdir(parents=True, exist_ok=True)
        with (layout.logs / "realnode.log").open("ab") as out:
            sup = subprocess.Popen(
                [python, str(script), "supervise", str(layout.root)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not layout.ready_file.exists():
            if sup.poll() is not None or time.monotonic() > deadline:
                if sup.poll() is None:
                    sup.send_signal(signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        sup.wait(STOP_TIMEOUT)
                raise NodeError(
                    "the real node did not start; see "
                    f"{layout.logs / 'realnode.log'}, realnode-containerd.log "
                    "and realnode-kubelet.log there"
                )
            time.sleep(0.3)
        return outcome


def stop(cluster_dir: Path) -> bool:
    """Stop and clean up this cluster's real node, if it holds it.  True if it did."""
    holder = read_holder()
    if holder is None or Path(holder.cluster_dir) != cluster_dir:
        return False  # not ours: leave it (and take no machine-wide lock)
    with transition():
        holder = read_holder()
        if holder is None or Path(holder.cluster_dir) != cluster_dir:
            return False
        if node_lock_held():
            _stop_holder(holder)
        else:
            cleanup(Layout(cluster_dir), holder)
        return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("supervise", help="(internal) run the node until told to stop")
    s.add_argument("root", type=Path, help="the node's folder (<cluster dir>/realnode)")
    args = p.parse_args(argv)
    return Supervisor(Layout(args.root.parent)).run()


if __name__ == "__main__":
    sys.exit(main())
