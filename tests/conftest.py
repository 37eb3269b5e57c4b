"""Shared fixtures: one local control plane per test run, a namespace per test.

The cluster comes from `hack/localcluster.py up --reset-stopped` (reused if running,
else started from empty state), unless `KD_TEST_KUBECONFIG` names an existing cluster.
It lives in a state directory of its own (`suite_cluster_dir`), never the one
`make walkthrough` and `make cluster-up` use: the walkthrough leaves an operator and
cluster-wide webhooks running there, and the suite restarts its API server.
Tests under tests/unit are marked `unit`, those under tests/e2e `e2e`.

Tests marked `realnode` need the machine's real node (`up --real-node`, docs/realnode.md):
the `real_node` fixture starts it and fails if it cannot.  Only `KD_NO_REAL_NODE=1`
leaves them out, and the summary then says how many were not run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import config
from kubernetes.client import ApiClient

REPO = Path(__file__).resolve().parent.parent
LOCALCLUSTER = REPO / "hack" / "localcluster.py"
NO_REAL_NODE = "KD_NO_REAL_NODE"
_LEFT_OUT = pytest.StashKey[int]()


def suite_cluster_dir(env: Mapping[str, str]) -> Path:
    """The suite's cluster: KD_TEST_CLUSTER_DIR, else the walkthrough's directory
    (KD_CLUSTER_DIR, default $KD_CACHE_DIR/cluster) with `-test` appended."""
    if env.get("KD_TEST_CLUSTER_DIR"):
        return Path(env["KD_TEST_CLUSTER_DIR"])
    cache = Path(env.get("KD_CACHE_DIR") or Path.home() / ".cache" / "kubedirector")
    walkthrough = env.get("KD_CLUSTER_DIR") or str(cache / "cluster")
    return Path(f"{walkthrough.rstrip('/')}-test")


def pytest_configure(config: pytest.Config) -> None:
    # Every `hack/localcluster.py` the tests run (directly or through a fixture)
    # manages the suite's cluster unless a test names another directory.
    # Both are set, so that configuring twice in one process names the same directory.
    os.environ["KD_TEST_CLUSTER_DIR"] = os.environ["KD_CLUSTER_DIR"] = str(
        suite_cluster_dir(os.environ)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked `disruptive` (they restart the API server) run after all others.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] == "unit":
            item.add_marker(pytest.mark.unit)
        elif parts and parts[0] == "e2e":
            item.add_marker(pytest.mark.e2e)
    if os.environ.get(NO_REAL_NODE):
        left_out = [i for i in items if i.get_closest_marker("realnode")]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [i for i in items if not i.get_closest_marker("realnode")]
        config.stash[_LEFT_OUT] = len(left_out)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    left_out = config.stash.get(_LEFT_OUT, None)
    if left_out is not None:
        terminalreporter.write_line(
            f"real node: {left_out} test(s) NOT RUN because {NO_REAL_NODE} is set "
            "(the in-cluster path: image, Deployment, token, webhook Service, failover)",
            yellow=True,
            bold=True,
        )


@dataclass(frozen=True)
class LocalCluster:
    """Where the test cluster is and the tools that talk to it."""

    kubeconfig: Path
    bin_dir: Path
    state_dir: Path | None

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"


def _localcluster(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(LOCALCLUSTER), *args, "--json"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=1200,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def local_cluster() -> LocalCluster:
    existing = os.environ.get("KD_TEST_KUBECONFIG")
    if existing:
        info = _localcluster("binaries")
        cluster = LocalCluster(Path(existing), Path(info["bin_dir"]), None)
    else:
        info = _localcluster("up", "--reset-stopped")
        cluster = LocalCluster(
            Path(info["kubeconfig"]), Path(info["bin_dir"]), Path(info["state_dir"])
        )
    subprocess.run(
        [
            str(cluster.kubectl_path),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(REPO / "manifests" / "crds"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    subprocess.run(
        [
            str(cluster.kubectl_path),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            str(REPO / "manifests" / "crds"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=90,
    )
    return cluster


@pytest.fixture(scope="session")
def real_node(local_cluster: LocalCluster) -> Iterator[str]:
    """The machine's real node, joined to the test cluster (started, reused or taken over
    from another local cluster).  Fails the test if it cannot start: no silent skip.
    Stopped at the end of the session, so the kernel settings it changes are restored."""
    if local_cluster.state_dir is None:
        raise AssertionError(
            "the real node needs the suite's own local cluster; unset "
            f"KD_TEST_KUBECONFIG, or set {NO_REAL_NODE}=1 to leave it out"
        )
    yield _localcluster("up", "--real-node")["real_node"]
    _localcluster("stop-real-node")


Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="session")
def kubectl(local_cluster: LocalCluster) -> Kubectl:
    """Run kubectl against the test cluster; `check=False` to inspect failures."""

    def run(
        *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(local_cluster.kubectl_path), "--kubeconfig", str(local_cluster.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def api_client(local_cluster: LocalCluster) -> Iterator[ApiClient]:
    api = config.new_client_from_config(config_file=str(local_cluster.kubeconfig))
    yield api
    api.close()


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    base = request.node.name.lower().replace("_", "-")
    stem = "".join(c for c in base if c.isalnum() or c == "-")[:40].strip("-")
    name = f"t-{stem}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)
