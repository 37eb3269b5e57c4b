"""configcli as setup scripts use it (upstream-pods.md section 3).

The tool is installed into a temp guest root by the operator's own install step
(configcli_install.fragment, run with bash) and run as a subprocess through the
installed commands, against (a) the configmeta the original built
(docs/spec/upstream-configmeta.sample.json), whose outputs section 3 quotes,
and (b) configmetas this operator builds for multi-role clusters, with the
answers worked out from the cluster's own inputs.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubedirector.api.app import App
from kubedirector.api.cluster import Cluster
from kubedirector.api.config import Config
from kubedirector.api.secretkeys import encrypt
from kubedirector.setup import configcli_install
from kubedirector.setup.configmeta import (
    CONFIGMAP_TYPE_LABEL,
    SECRET_TYPE_LABEL,
    ConnectionsData,
    build_configmeta,
    configmeta_json,
)
from tests.unit.kd_fixtures import spark_app, spark_cluster

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "docs" / "spec" / "upstream-configmeta.sample.json"
COMMANDS = ("configcli", "ccli", "bdvcli", "bd_vcli")
KEY = "00112233445566778899aabbccddeeff" * 2
CONFIG = Config(master_encryption_key=KEY)
NS = "apps"
HEADLESS = "kdhs-x7k2p"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass
class Guest:
    """A guest root with configcli installed the way the operator installs it."""

    root: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "KD_GUEST_ROOT": str(self.root)}

    def configmeta(self, text: str) -> None:
        path = self.root / "etc" / "guestconfig" / "configmeta.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, command: str, *args: str, stdin: str = "") -> Run:
        proc = subprocess.run(
            [str(self.root / command.lstrip("/")), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=30,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def get(self, key: str, command: str = "/usr/bin/bd_vcli") -> str:
        """`<command> --get KEY`, which must succeed; its one output line."""
        result = self.run(command, "--get", key)
        assert result.code == 0, (key, result)
        assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result
        return result.stdout[:-1]

    def bash(self, script: str) -> Run:
        """A setup-script-like bash snippet; `$R` is the guest root."""
        proc = subprocess.run(
            ["bash", "-c", f'R="$KD_GUEST_ROOT"\n{script}'],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def python(self, code: str) -> Run:
        """Python code importing the installed module (sys.path as the commands set it)."""
        entry = (self.root / "usr/local/bin/configcli").read_text().splitlines()
        interpreter = entry[0][2:]
        path_line = next(line for line in entry if line.startswith("sys.path.insert"))
        proc = subprocess.run(
            [interpreter, "-c", f"import sys\n{path_line}\n{code}"],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=30,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)


# The member's interpreter: this one unless KD_TEST_GUEST_PYTHON names another (e.g. a
# python2.7, to run these tests on what old catalog images ship).
GUEST_PYTHON = os.environ.get("KD_TEST_GUEST_PYTHON") or sys.executable


def install(
    root: Path, layout: configcli_install.Layout, python: str | None = GUEST_PYTHON
) -> subprocess.CompletedProcess[str]:
    """Run the install step in `root`, with `python` first on PATH (None: the host's PATH)."""
    script = 'set -u\nR="${KD_GUEST_ROOT:-}"\n' + configcli_install.fragment(layout) + "exit 0\n"
    env = {**os.environ, "KD_GUEST_ROOT": str(root)}
    if python is not None:
        bin_dir = root.parent / f"{root.name}-python"
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "python").unlink(missing_ok=True)
        (bin_dir / "python").symlink_to(python)
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return subprocess.run(
        ["bash", "-s"],
        input=script,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    root = tmp_path_factory.mktemp("guest")
    proc = install(root, configcli_install.Layout.NEW)
    assert proc.returncode == 0, proc.stderr
    assert (root / "usr/local/bin/configcli").is_file(), (
        root / configcli_install.INSTALL_LOG.lstrip("/")
    ).read_text()
    yield Guest(root)


@pytest.fixture
def sample(guest: Guest) -> Guest:
    guest.configmeta(SAMPLE.read_text())
    return guest


# ---------------------------------------------------------------- the original's outputs


SAMPLE_GETS = [
    ("distros", "bluek8s/spark"),
    (
        "services.ssh.1.worker",
        "qualifiers,name,id,hostnames,global_id,fqdns,exported_service,endpoints,authToken",
    ),
    ("connections.secrets.extAuth.data.type", "TERBUA=="),
    ("connections.configmaps.dsr-config.data.dsr.properties", "dsr.properties"),
    ("connections.secrets.extAuth", "annotations,data,labels,metadata"),
    ("node", "role_id,nodegroup_id,id,hostname,fqdn,domain,distro_id,depends_on"),
    ("node.fqdn", "kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local"),
    ("node.depends_on", ""),
    ("cluster.isolated", "false"),
    ("cluster.config_metadata.1", "mykey"),
    ("cluster.config_metadata.1.mykey", "myval"),
    ("services", "spark,ssh"),
    ("services.ssh.1", "controller,worker"),
    (
        "services.ssh.1.worker.fqdns",
        "kdss-bbbbb-0.kdhs-abcde.ns1.svc.cluster.local,kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local",
    ),
    (
        "services.spark.1.controller.endpoints",
        "spark://kdss-aaaaa-0.kdhs-abcde.ns1.svc.cluster.local:7077",
    ),
    ("services.spark.1.controller.qualifiers", ""),
    ("distros.bluek8s/spark.1.roles.worker.flavor.cores", "4"),
    ("distros.bluek8s/spark.1.roles.controller.flavor.memory", "4096"),
    ("distros.bluek8s/spark.1.roles.controller.secret_keys.some-key-name", "some-key-value"),
    ("distros.bluek8s/spark.1", "roles,distro_id,catalog_entry_version,config_metadata"),
    ("version", "8"),
    ("node.fqdn.more.than.one", None),  # a string cannot be walked into
    ("nodegroups.1", None),  # not a namespace sub-command
    ("namespaces.x", None),
    ("node.nope", None),
    ("distros.bluek8s/spark.1.roles.worker.fqdns.0", None),
]


@pytest.mark.parametrize(("key", "expected"), SAMPLE_GETS)
def test_get_on_the_originals_configmeta(sample: Guest, key: str, expected: str | None) -> None:
    result = sample.run("/usr/bin/bd_vcli", "--get", key)
    if expected is None:
        assert (result.code, result.stdout) == (1, ""), result
        assert result.stderr
    else:
        assert (result.code, result.stdout) == (0, expected + "\n"), result


@pytest.mark.parametrize(
    "command", [f"{d}/{c}" for d in ("/usr/local/bin", "/usr/bin") for c in COMMANDS]
)
def test_every_command_name_at_both_paths(sample: Guest, command: str) -> None:
    assert sample.run(command, "-g", "node.id") == Run(0, "3\n", "")
    assert sample.run(command, "namespace", "node", "role_id") == Run(0, "worker\n", "")


OPTIONS = [
    # (argv, exit code, stdout); stdout None: anything
    (["-v"], 0, "1.0\n"),
    (["--version"], 0, "1.0\n"),
    (["ccli", "version"], 0, "1.0\n"),
    (["--baseimg_version"], 0, "\n"),
    (
        ["--wait", "services.x.1.y"],
        0,
        "*** Unknown syntax: dsync wait --srvckey services.x.1.y --timeout 3600\n\n",
    ),
    (["-w", "k", "-t", "5"], 0, "*** Unknown syntax: dsync wait --srvckey k --timeout 5\n\n"),
    (["--tokenwait", "tok", "--fqdn", "a.b"], 0, None),
    (
        ["--service_key", "services.X.1.ROLE", "--systemctl=NAME"],
        0,
        "*** Unknown syntax: service register --app-srvc services.X.1.ROLE --systemctl NAME\n\n",
    ),
    (
        ["--service_key", "services.X.1.ROLE", "--systemv", "NAME"],
        0,
        "*** Unknown syntax: service register --app-srvc services.X.1.ROLE --systemv NAME\n\n",
    ),
    (["--unregister_srvc", "services.X.1.ROLE"], 0, None),
    (["--service_key", "services.X.1.ROLE"], 1, ""),
    (["--tokenwake", "tok", "--success"], 1, ""),
    (["--cp", "--node", "n", "--src", "/a", "--dest", "/b"], 1, ""),
    (["--execute", "--remote_node", "n", "--script", "/s"], 1, ""),
    (["--tenant_info"], 1, ""),
    (["--tenant_info_lookup", "k"], 1, ""),
    (["--startconfiguration"], 2, ""),
    (["--nodegroup_primary"], 2, ""),
    (["--restart_all_services"], 2, ""),
    (["namespace", "nodegroups"], 1, ""),
    (["namespace"], 1, ""),
    (["namespace", "node", "id"], 0, "3\n"),
    (["namespace", "distros"], 0, "bluek8s/spark\n"),
    (["namespace", "version", "ignored.key"], 0, "8\n"),
    (
        ["namespace", "services", "ssh.1.worker.fqdns"],
        0,
        "kdss-bbbbb-0.kdhs-abcde.ns1.svc.cluster.local,kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local\n",
    ),
    (["no", "such", "command"], 0, "*** Unknown syntax: no such command\n\n"),
    (
        ["--get_local_group_fqdns"],
        0,
        "kdss-aaaaa-0.kdhs-abcde.ns1.svc.cluster.local,kdss-bbbbb-0.kdhs-abcde.ns1.svc.cluster.local,"
        "kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local\n",
    ),
    (["--get_nodegroup_fqdns", "1"], 0, None),
    (["--get_nodegroup_fqdns", "2"], 1, ""),
    (
        ["--get_all"],
        0,  # argparse prefix of --get_all_fqdns
        "kdss-aaaaa-0.kdhs-abcde.ns1.svc.cluster.local,kdss-bbbbb-0.kdhs-abcde.ns1.svc.cluster.local,"
        "kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local\n",
    ),
    (["macro", "node", "--get_self_id"], 0, "3\n"),
    (["macro", "nodegroup", "--num_nodegroups"], 0, "1\n"),
    (["macro", "nodegroup"], 2, ""),
]


@pytest.mark.parametrize(("argv", "code", "stdout"), OPTIONS)
def test_options_outputs_and_exit_codes(
    sample: Guest, argv: list[str], code: int, stdout: str | None
) -> None:
    result = sample.run("/usr/bin/configcli", *argv)
    assert result.code == code, result
    if stdout is not None:
        assert result.stdout == stdout, result
    if code != 0:
        assert result.stderr.strip(), "a failure says why on stderr"


def test_tenant_info_is_rejected_by_the_namespace_parser(sample: Guest) -> None:
    assert (
        "unrecognized arguments: --info" in sample.run("/usr/bin/configcli", "--tenant_info").stderr
    )


def test_baseimg_version_prints_the_first_line(sample: Guest) -> None:
    path = sample.root / "etc/guestconfig/base_img_version"
    path.write_text("4.2.1\nsecond line\n")
    try:
        assert sample.run("/usr/bin/configcli", "--baseimg_version") == Run(0, "4.2.1\n", "")
    finally:
        path.unlink()


MACROS = [
    (["node", "--get_self_id"], 0, "3\n"),
    (["node", "--get_self_index"], 0, "2\n"),
    (["node", "--get_id", "kdss-bbbbb-0.kdhs-abcde.ns1.svc.cluster.local"], 0, "2\n"),
    (["node", "--get_index", "kdss-aaaaa-0.kdhs-abcde.ns1.svc.cluster.local"], 0, "0\n"),
    (["node", "--get_id", "nobody.example"], 1, ""),
    (["nodegroup", "--num_nodegroups"], 0, "1\n"),
    (
        ["nodegroup", "--get_all_fqdns"],
        0,
        "kdss-aaaaa-0.kdhs-abcde.ns1.svc.cluster.local,kdss-bbbbb-0.kdhs-abcde.ns1.svc.cluster.local,"
        "kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local\n",
    ),
    (["nodegroup"], 2, ""),
    (["--tokens"], 2, ""),
    (["node"], 2, ""),
]


@pytest.mark.parametrize(("argv", "code", "stdout"), MACROS)
def test_configmacro(sample: Guest, argv: list[str], code: int, stdout: str) -> None:
    for command in ("/usr/local/bin/configmacro", "/usr/bin/configmacro"):
        result = sample.run(command, *argv)
        assert (result.code, result.stdout) == (code, stdout), result


def test_interactive_shell(sample: Guest) -> None:
    result = sample.run(
        "/usr/bin/configcli",
        stdin="namespace distros\nnamespace node nope\n"
        "ccli version\nmacro node --get_self_id\nexit\n",
    )
    assert result.code == 0, result
    assert result.stdout.startswith("Configuration CLI 1.0.\nccli> bluek8s/spark\n")
    assert result.stdout.count("ccli> ") == 5
    assert "1.0\nccli> 3\nccli> " in result.stdout
    assert "nope" in result.stderr  # the failed lookup, and the shell went on


def test_debug_traces_the_instruction(sample: Guest) -> None:
    env = {**sample.env(), "ConfigCLI_DEBUG": "true"}
    proc = subprocess.run(
        [str(sample.root / "usr/bin/configcli"), "-g", "node.id"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert proc.stdout == "EXECUTING: namespace node id\n3\n"


def test_configcli_conf_points_at_another_configmeta(guest: Guest, tmp_path: Path) -> None:
    guest.configmeta(SAMPLE.read_text())
    other = json.loads(SAMPLE.read_text())
    other["node"]["id"] = "42"
    (guest.root / "etc/guestconfig/other.json").write_text(json.dumps(other))
    conf = guest.root / "etc/guestconfig/configcli.conf"
    conf.write_text("[configcli]\nconfigmeta = /etc/guestconfig/other.json\n")
    try:
        assert guest.get("node.id") == "42"
    finally:
        conf.unlink()
    assert guest.get("node.id") == "3"


def test_missing_configmeta_fails_clearly(guest: Guest) -> None:
    (guest.root / "etc/guestconfig/configmeta.json").unlink(missing_ok=True)
    result = guest.run("/usr/bin/configcli", "-g", "node.id")
    assert result.code == 1 and "configmeta" in result.stderr, result
    assert guest.run("/usr/bin/configcli", "-v") == Run(0, "1.0\n", "")


def test_python_interface(sample: Guest) -> None:
    result = sample.python(
        "import base64, json\n"
        "from configcli import ConfigCli\n"
        "from configcli import errors\n"
        "cli = ConfigCli(shell=False)\n"
        "ns = cli.getCommandObject('namespace')\n"
        "out = {\n"
        "  'role': ns.getWithTokens(['node', 'role_id']),\n"
        "  'isolated': ns.getWithTokens(['cluster', 'isolated']),\n"
        "  'nodegroups': ns.getWithTokens(['nodegroups', '1', 'roles']),\n"
        "  'base_dn': base64.b64decode(ns.getWithTokens(\n"
        "      ['connections', 'secrets', 'extAuth', 'data', 'base_dn'])).decode(),\n"
        "  'value': ns.getValue('node.fqdn'),\n"
        "  'search': ns.searchForToken(['nodegroups', '1', 'roles', 'worker'], 'fqdns'),\n"
        "  'fqdns': cli.getCommandObject('macro').getSubcommandObject('nodegroup')"
        ".getClusterFqdns(),\n"
        "}\n"
        "try:\n"
        "    ns.getWithTokens(['node', 'nope'])\n"
        "except errors.KeyError:\n"
        "    out['raised'] = True\n"
        "print(json.dumps(out))\n"
    )
    assert result.code == 0, result
    out = json.loads(result.stdout)
    assert out == {
        "role": "worker",
        "isolated": False,
        "nodegroups": ["controller", "worker"],
        "base_dn": "dc=x",
        "value": "kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local",
        "search": [
            ["nodegroups", "1", "roles", "worker", "fqdns"],
            ["nodegroups", "1", "roles", "worker", "services", "ssh", "fqdns"],
        ],
        "fqdns": [
            "kdss-aaaaa-0.kdhs-abcde.ns1.svc.cluster.local",
            "kdss-bbbbb-0.kdhs-abcde.ns1.svc.cluster.local",
            "kdss-bbbbb-1.kdhs-abcde.ns1.svc.cluster.local",
        ],
        "raised": True,
    }


def test_null_on_the_path_fails_and_a_null_leaf_prints_an_empty_line(guest: Guest) -> None:
    doc = json.loads(SAMPLE.read_text())
    doc["nodegroups"]["1"]["config_metadata"] = None
    guest.configmeta(json.dumps(doc))
    assert guest.get("cluster.config_metadata.1") == ""
    assert guest.run("/usr/bin/configcli", "--get", "cluster.config_metadata.1.mykey").code == 1


def test_text_beyond_ascii(guest: Guest) -> None:
    doc = json.loads(SAMPLE.read_text())
    doc["nodegroups"]["1"]["config_metadata"] = {"grüße": "héllo ☃"}
    guest.configmeta(json.dumps(doc))
    env = {**guest.env(), "LC_ALL": "C", "LANG": "C"}
    proc = subprocess.run(
        [str(guest.root / "usr/bin/configcli"), "--get", "cluster.config_metadata.1.grüße"],
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (0, "héllo ☃\n".encode()), proc.stderr


# ---------------------------------------------------------------- this operator's configmeta


def _member(pod: str, node_id: int, state: str = "configured") -> dict[str, Any]:
    return {"pod": pod, "service": pod, "nodeID": node_id, "state": state}


@dataclass(frozen=True)
class Ours:
    """A spark221e2 cluster with 1 controller, 3 workers and 2 jupyter members."""

    app: App
    cluster: Cluster
    connections: ConnectionsData
    pods: dict[str, list[str]]  # role -> pods, in node-id order

    def fqdn(self, pod: str) -> str:
        return f"{pod}.{HEADLESS}.{NS}.svc.cluster.local"

    def configmeta(self, pod: str) -> str:
        return configmeta_json(
            build_configmeta(
                self.app,
                self.cluster,
                CONFIG,
                self.cluster.status,
                member_pod=pod,
                connections=self.connections,
            )
        )


@pytest.fixture(scope="module")
def ours() -> Ours:
    app_doc = spark_app()
    app_doc["spec"]["config"]["configMeta"] = {"spark_version": "2.2.1"}
    doc = spark_cluster()
    controller, worker, jupyter = doc["spec"]["roles"]
    worker["members"], jupyter["members"] = 3, 2
    controller["secretKeys"] = [
        {"name": "db-password", "encryptedValue": encrypt("hunter2", KEY, nonce=bytes(12))}
    ]
    doc["spec"]["connections"] = {"configmaps": ["scm"], "secrets": ["ldap"]}
    pods = {
        "controller": ["spark221e2-controller-abcde-0"],
        "worker": [f"spark221e2-worker-fghij-{i}" for i in range(3)],
        "jupyter": [f"spark221e2-jupyter-klmno-{i}" for i in range(2)],
    }
    ids = iter(range(1, 7))
    doc["status"] = {
        "clusterService": HEADLESS,
        "lastNodeID": 6,
        "roles": [
            {
                "id": role,
                "statefulSet": members[0].rsplit("-", 1)[0],
                "members": [_member(p, next(ids)) for p in members],
            }
            for role, members in pods.items()
        ],
    }
    app = App.from_dict(app_doc)
    cluster = Cluster.from_dict(doc, CONFIG, app)
    connections = ConnectionsData(
        configmaps={
            "scm": {
                "metadata": {"name": "scm", "labels": {CONFIGMAP_TYPE_LABEL: "source-control"}},
                "data": {"branch": "main"},
            }
        },
        secrets={
            "ldap": {
                "metadata": {"name": "ldap", "labels": {SECRET_TYPE_LABEL: "extAuth"}},
                "data": {"base_dn": base64.b64encode(b"dc=example,dc=com").decode()},
            }
        },
    )
    return Ours(app, cluster, connections, pods)


# The shape of the invocations in upstream-pods.md 3.9 (items 1-7 and 9).
SETUP_SCRIPT = r"""
set -e
bd() { eval "$R/usr/bin/bd_vcli $*" || exit 111; }
FQDN=$(bd --get node.fqdn); ROLE=$(bd --get node.role_id); DOMAIN=$(bd --get node.domain)
DISTRO=$(bd --get node.distro_id); HOST=$(bd --get node.hostname)
NODEGROUP=$(bd --get node.nodegroup_id); DEPENDS=$(bd --get node.depends_on)
CLUSTER=$(bd --get cluster.name)
CORES=$(bd --get distros.${DISTRO}.${NODEGROUP}.roles.${ROLE}.flavor.cores)
MEMORY=$(bd --get distros.${DISTRO}.${NODEGROUP}.roles.${ROLE}.flavor.memory)
INDEX=$(bd --get_local_group_fqdns | tr ',' '\n' | sort -V | grep -n -x "$FQDN" | cut -d: -f1)
SERVICE_NGS=$(bd --get services.spark-worker)
SERVICE_ROLES=$(bd --get services.spark-worker.${NODEGROUP})
WORKER_FQDNS=$(bd --get services.spark-worker.${NODEGROUP}.worker.fqdns)
MASTER=$(bd --get services.spark-master.${NODEGROUP}.controller.endpoints)
bd --service_key "services.spark-worker.1.worker" --systemctl=spark-worker >/dev/null
KEYS="distros.$DISTRO.$NODEGROUP.roles.controller.secret_keys"
SECRET=$("$R/usr/bin/ccli" --get "$KEYS.db-password" || true)
ID=$("$R/usr/bin/configcli" namespace node id)
NODE_FQDN=$("$R/usr/bin/configcli" namespace node fqdn)
DISTROS=$("$R/usr/bin/configcli" namespace distros)
BRANCH=$("$R/usr/bin/configcli" --get connections.configmaps.source-control.data.branch)
for v in FQDN ROLE DOMAIN DISTRO HOST NODEGROUP DEPENDS CLUSTER CORES MEMORY INDEX \
         SERVICE_NGS SERVICE_ROLES WORKER_FQDNS MASTER SECRET ID NODE_FQDN DISTROS BRANCH; do
  echo "$v=${!v}"
done
"""


@pytest.mark.parametrize(
    ("role", "index"), [("controller", 0), ("worker", 0), ("worker", 2), ("jupyter", 1)]
)
def test_real_invocations_on_our_configmeta(
    guest: Guest, ours: Ours, role: str, index: int
) -> None:
    pod = ours.pods[role][index]
    guest.configmeta(ours.configmeta(pod))
    result = guest.bash(SETUP_SCRIPT)
    assert result.code == 0, result
    got = dict(line.split("=", 1) for line in result.stdout.splitlines())
    all_fqdns = [ours.fqdn(p) for r in sorted(ours.pods) for p in ours.pods[r]]
    node_id = str(1 + [p for ps in ours.pods.values() for p in ps].index(pod))
    assert got == {
        "FQDN": ours.fqdn(pod),
        "ROLE": role,
        "DOMAIN": f"{HEADLESS}.{NS}.svc.cluster.local",
        "DISTRO": "bluedata/spark221e2",
        "HOST": ours.fqdn(pod),
        "NODEGROUP": "1",
        "DEPENDS": "",
        "CLUSTER": "spark221e2",
        "CORES": "2",
        "MEMORY": "4096",
        "INDEX": str(1 + sorted(all_fqdns, key=_version_key).index(ours.fqdn(pod))),
        "SERVICE_NGS": "1",
        "SERVICE_ROLES": "controller,worker",
        "WORKER_FQDNS": ",".join(ours.fqdn(p) for p in ours.pods["worker"]),
        "MASTER": f"spark://{ours.fqdn(ours.pods['controller'][0])}:7077",
        # secret keys are in the own role's configmeta only
        "SECRET": "hunter2" if role == "controller" else "",
        "ID": node_id,
        "NODE_FQDN": ours.fqdn(pod),
        "DISTROS": "bluedata/spark221e2",
        "BRANCH": "main",
    }


def _version_key(text: str) -> list[Any]:
    """`sort -V` for these names: digit runs compare as numbers."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def test_macros_and_python_interface_on_our_configmeta(guest: Guest, ours: Ours) -> None:
    pod = ours.pods["worker"][1]
    guest.configmeta(ours.configmeta(pod))
    all_fqdns = [ours.fqdn(p) for r in sorted(ours.pods) for p in ours.pods[r]]
    for argv, expected in [
        (["--get_all_fqdns"], ",".join(all_fqdns)),
        (["--get_local_group_fqdns"], ",".join(all_fqdns)),
        (["macro", "node", "--get_self_id"], "3"),
        (["macro", "node", "--get_self_index"], "2"),
        (["macro", "node", "--get_index", ours.fqdn(ours.pods["jupyter"][1])], "5"),
        (["--get", "node.block_device_paths"], ""),
        (["--get", "connections.secrets.extAuth"], "annotations,data,labels,metadata"),
        (["--get", "cluster.config_metadata.1.spark_version"], "2.2.1"),
        (
            ["--get", "services.jupyter.1.jupyter"],
            "qualifiers,name,id,hostnames,global_id,fqdns,exported_service,endpoints,authToken",
        ),
    ]:
        assert guest.run("/usr/bin/configcli", *argv) == Run(0, expected + "\n", ""), argv
    result = guest.python(
        "import base64\nfrom configcli import ConfigCli\n"
        "ns = ConfigCli(shell=False).getCommandObject('namespace')\n"
        "print(ns.getWithTokens(['cluster', 'id']))\n"
        "print(ns.getWithTokens(['cluster', 'isolated']))\n"
        "print(base64.b64decode(ns.getWithTokens(\n"
        "    ['connections', 'secrets', 'extAuth', 'data', 'base_dn'])).decode())\n"
    )
    assert result == Run(0, "uid-1\nFalse\ndc=example,dc=com\n", "")


# ---------------------------------------------------------------- Python 2.7 and 3.6


def test_the_tool_needs_nothing_newer_than_python_27_and_36(tmp_path: Path) -> None:
    vermin = Path(sys.executable).parent / "vermin"
    guest_package = REPO / "kubedirector" / "guest"  # the tool and its installer
    argv = [str(vermin), "-t=2.7-", "-t=3.6-", "--no-tips"]
    ok = subprocess.run(
        [*argv, str(guest_package)], capture_output=True, text=True, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Minimum required versions: 2.7, 3." in ok.stdout, ok.stdout
    # The check is live: a 3.6+ construct fails it.
    newer = tmp_path / "newer.py"
    newer.write_text('name = "x"\nprint(f"{name}")\n')
    bad = subprocess.run(
        [*argv, str(newer)], capture_output=True, text=True, timeout=120, check=False
    )
    assert bad.returncode != 0, bad.stdout
