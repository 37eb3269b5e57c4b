"""configcli in the members of a multi-role cluster, asked what setup scripts ask
(upstream-pods.md 2.3 step 7 and section 3), and the documented answers.

Shared by the simulated guest (test_configcli.py: each exec runs on this machine under
the pod's `$KD_GUEST_ROOT`) and a real container on the real node
(test_realnode_configcli.py: `$R` is empty).  The test app `asker` has two roles: `a`
with the new setup layout (commands in /usr/local/bin, links in /usr/bin), `b` with the
legacy one (commands in /usr/bin); its startscript calls configcli during `--configure`
and fails without it.  The operator installs configcli with its normal install step;
the checks then exec into each member.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Records what configcli answered while `--configure` ran; exit 111 without it,
# as the BlueData sample scripts do.
STARTSCRIPT = """#!/bin/bash
R="${KD_GUEST_ROOT:-}"
if [ "$1" = "--configure" ]; then
  {
    "$R/usr/bin/bd_vcli" --get node.role_id &&
    "$R/usr/bin/bdvcli" --get node.fqdn &&
    "$R/usr/bin/configcli" --get_local_group_fqdns
  } >"$R/var/log/guestconfig/configcli.seen" || exit 111
fi
exit 0
"""
ROLES = ("a", "b")  # a: the new setup layout; b: the legacy one
CPU_LIMIT, MEMORY_LIMIT_MI = 1, 256


def asker_app(url: str, image: str = "example/asker:1") -> dict:
    """The app whose setup package (at `url`) is STARTSCRIPT."""
    role = {"cardinality": "0+", "imageRepoTag": image}
    return {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorApp",
        "metadata": {"name": "asker"},
        "spec": {
            "label": {"name": "asker"},
            "distroID": "example/asker",
            "version": "1",
            "configSchemaVersion": 7,
            "defaultConfigPackage": {"packageURL": url, "useNewSetupLayout": True},
            "services": [
                {
                    "id": "ssh",
                    "label": {"name": "ssh"},
                    "endpoint": {"port": 22, "urlScheme": "ssh"},
                }
            ],
            "roles": [
                {**role, "id": "a", "cardinality": "1"},
                {**role, "id": "b", "configPackage": {"packageURL": url}},
            ],
            "config": {
                "selectedRoles": list(ROLES),
                "roleServices": [{"roleID": r, "serviceIDs": ["ssh"]} for r in ROLES],
                "configMeta": {"answer": "42"},
            },
        },
    }


def asker_cluster(
    role_fields: dict[str, Any] | None = None, spec_fields: dict[str, Any] | None = None
) -> dict:
    """Role a with 1 member, role b with 2; `role_fields` go into both roles,
    `spec_fields` into the spec."""
    res = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": str(CPU_LIMIT), "memory": f"{MEMORY_LIMIT_MI}Mi"},
    }
    extra = role_fields or {}
    return {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorCluster",
        "metadata": {"name": "ask"},
        "spec": {
            "app": "asker",
            "roles": [
                {"id": "a", "members": 1, "resources": res, **extra},
                {"id": "b", "members": 2, "resources": res, **extra},
            ],
            **(spec_fields or {}),
        },
    }


def ready_members(
    kubectl, namespace: str, name: str, timeout: int = 120
) -> tuple[dict, dict[str, dict]]:
    """The cluster's status once Ready, and its members by pod (with their role)."""
    kubectl(
        "wait",
        "--for=condition=Ready",
        f"kdcluster/{name}",
        "-n",
        namespace,
        f"--timeout={timeout}s",
        timeout=timeout + 10,
    )
    status = json.loads(kubectl("get", "kdcluster", name, "-n", namespace, "-o", "json").stdout)[
        "status"
    ]
    return status, {m["pod"]: {**m, "role": r["id"]} for r in status["roles"] for m in r["members"]}


def guest(kubectl, namespace: str, pod: str, script: str) -> str:
    """Run `script` in the member (`$R` is its guest root); it must succeed."""
    return kubectl(
        "exec",
        pod,
        "-n",
        namespace,
        "--",
        "bash",
        "-c",
        f'R="${{KD_GUEST_ROOT:-}}"; set -e; {script}',
    ).stdout


NEW_LAYOUT = (
    'test -f "$R/usr/local/bin/configcli"; '
    "for c in configcli bdvcli bd_vcli ccli configmacro; do "
    'test -L "$R/usr/bin/$c"; test -f "$R/usr/bin/$c"; done; '
    'test -L "$R/usr/local/bin/bdvcli"; test -L "$R/usr/local/bin/bd_vcli"'
)
LEGACY_LAYOUT = (
    'test -f "$R/usr/bin/configcli"; '
    '! test -L "$R/usr/bin/configcli"; ! test -e "$R/usr/local/bin/configcli"; '
    'test -L "$R/usr/bin/bd_vcli"; test -f "$R/usr/bin/configmacro"'
)

# The invocations of upstream-pods.md 3.9 (items 1-7, 9 and 10's exit codes) and the
# checklist of 3.10, each answer as NAME=value.  The Python module is imported by the
# interpreter the commands use (in the simulated guest from under `$R`).
INVOCATIONS = r"""
bd() { eval "\"$R/usr/bin/bd_vcli\" $*" || exit 111; }
code() { "$@" >/dev/null 2>&1 && echo 0 || echo $?; }
FQDN=$(bd --get node.fqdn); ROLE=$(bd --get node.role_id); DOMAIN=$(bd --get node.domain)
DISTRO=$(bd --get node.distro_id); HOST=$(bd --get node.hostname)
NODEGROUP=$(bd --get node.nodegroup_id); DEPENDS=$(bd --get node.depends_on)
CLUSTER=$(bd --get cluster.name); ISOLATED=$(bd --get cluster.isolated)
CORES=$(bd --get "distros.$DISTRO.$NODEGROUP.roles.$ROLE.flavor.cores")
MEMORY=$(bd --get "distros.$DISTRO.$NODEGROUP.roles.$ROLE.flavor.memory")
INDEX=$(bd --get_local_group_fqdns | tr ',' '\n' | sort -V | grep -n -x "$FQDN" | cut -d: -f1)
ALL=$(bd --get_all_fqdns)
SERVICE_NGS=$(bd --get services.ssh); SERVICE_ROLES=$(bd --get "services.ssh.$NODEGROUP")
B_FQDNS=$(bd --get "services.ssh.$NODEGROUP.b.fqdns")
A_ENDPOINTS=$(bd --get "services.ssh.$NODEGROUP.a.endpoints")
SERVICE_FIELDS=$(bd --get "services.ssh.$NODEGROUP.$ROLE")
ID=$("$R/usr/bin/configcli" namespace node id)
NODE_FQDN=$("$R/usr/bin/configcli" namespace node fqdn)
DISTROS=$("$R/usr/bin/configcli" namespace distros)
ANSWER=$("$R/usr/bin/ccli" --get cluster.config_metadata.1.answer)
VERSION=$("$R/usr/bin/bdvcli" -v)
SELF_ID=$("$R/usr/bin/configmacro" node --get_self_id)
SELF_INDEX=$("$R/usr/bin/configmacro" node --get_self_index)
NOOP=$(bd --service_key "services.ssh.1.$ROLE" --systemctl=sshd; echo "exit $?")
MISSING_KEY=$(code "$R/usr/bin/bd_vcli" --get node.nope)
NOT_A_NAMESPACE=$(code "$R/usr/bin/configcli" --get nodegroups.1)
EPIC_OPTION=$(code "$R/usr/bin/bd_vcli" --startconfiguration)
WAIT_NOOP=$(code "$R/usr/bin/bd_vcli" --wait services.ssh.1.a)
PY=$(sed -n '1s/^#!//p' "$R/usr/bin/configcli")
LIB=$(sed -n 's/^sys.path.insert(0, "\(.*\)")$/\1/p' "$R/usr/bin/configcli")
PYTHON_API=$(PYTHONPATH="${R:+$LIB}" "$PY" -c '
from configcli import ConfigCli, errors
cli = ConfigCli(shell=False)
ns = cli.getCommandObject("namespace")
try:
    ns.getWithTokens(["node", "nope"])
    raised = "no"
except errors.KeyError:
    raised = "KeyError"
print("%s|%s|%s|%s|%s" % (ns.getWithTokens(["node", "role_id"]),
      ns.getWithTokens(["cluster", "isolated"]), ns.getValue("node.fqdn"),
      ",".join(cli.getCommandObject("macro").getSubcommandObject("nodegroup").getClusterFqdns()),
      raised))')
for v in FQDN ROLE DOMAIN DISTRO HOST NODEGROUP DEPENDS CLUSTER ISOLATED CORES MEMORY INDEX \
         ALL SERVICE_NGS SERVICE_ROLES B_FQDNS A_ENDPOINTS SERVICE_FIELDS ID NODE_FQDN DISTROS \
         ANSWER VERSION SELF_ID SELF_INDEX NOOP MISSING_KEY NOT_A_NAMESPACE EPIC_OPTION \
         WAIT_NOOP PYTHON_API; do
  echo "$v=${!v}"
done
"""
SERVICE_FIELDS = "qualifiers,name,id,hostnames,global_id,fqdns,exported_service,endpoints,authToken"


@dataclass(frozen=True)
class Topology:
    """What the documented answers are worked out from: the cluster's status."""

    namespace: str
    status: dict
    members: dict[str, dict]  # pod -> member (with its role)

    @property
    def domain(self) -> str:
        return f"{self.status['clusterService']}.{self.namespace}.svc.cluster.local"

    def fqdn(self, pod: str) -> str:
        return f"{pod}.{self.domain}"

    def pods(self, role: str) -> list[str]:
        return sorted(p for p, m in self.members.items() if m["role"] == role)

    def all_fqdns(self) -> list[str]:
        return [self.fqdn(p) for r in ROLES for p in self.pods(r)]

    def expected(self, pod: str) -> dict[str, str]:
        """upstream-pods.md 3.4-3.8: INVOCATIONS' answers in `pod`."""
        member = self.members[pod]
        fqdn, node_id = self.fqdn(pod), str(member["nodeID"])
        all_fqdns = self.all_fqdns()
        ids = sorted(int(m["nodeID"]) for m in self.members.values())
        return {
            "FQDN": fqdn,
            "ROLE": member["role"],
            "DOMAIN": self.domain,
            "DISTRO": "example/asker",
            "HOST": fqdn,
            "NODEGROUP": "1",
            "DEPENDS": "",  # an empty object: no keys, an empty line
            "CLUSTER": "ask",
            "ISOLATED": "false",
            "CORES": str(CPU_LIMIT),
            "MEMORY": str(MEMORY_LIMIT_MI),
            "INDEX": str(1 + sorted(all_fqdns, key=_version_key).index(fqdn)),
            "ALL": ",".join(all_fqdns),
            "SERVICE_NGS": "1",
            "SERVICE_ROLES": "a,b",
            "B_FQDNS": ",".join(self.fqdn(p) for p in self.pods("b")),
            "A_ENDPOINTS": ",".join(f"ssh://{self.fqdn(p)}:22" for p in self.pods("a")),
            "SERVICE_FIELDS": SERVICE_FIELDS,
            "ID": node_id,
            "NODE_FQDN": fqdn,
            "DISTROS": "example/asker",
            "ANSWER": "42",
            "VERSION": "1.0",
            "SELF_ID": node_id,
            "SELF_INDEX": str(ids.index(int(node_id))),
            "NOOP": "*** Unknown syntax: service register --app-srvc "
            f"services.ssh.1.{member['role']} --systemctl sshd\n\nexit 0",
            "MISSING_KEY": "1",
            "NOT_A_NAMESPACE": "1",
            "EPIC_OPTION": "2",
            "WAIT_NOOP": "0",
            "PYTHON_API": f"{member['role']}|False|{fqdn}|{','.join(all_fqdns)}|KeyError",
        }


def _version_key(text: str) -> list[Any]:
    """`sort -V` for these names: digit runs compare as numbers."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _answers(output: str) -> dict[str, str]:
    """NAME=value lines; a value may span lines (up to the next NAME=)."""
    answers: dict[str, str] = {}
    name = ""
    for line in output.splitlines():
        match = re.fullmatch(r"([A-Z_]+)=(.*)", line)
        if match:
            name = match.group(1)
            answers[name] = match.group(2)
        else:
            answers[name] += "\n" + line
    return answers


def check_members(kubectl, namespace: str, status: dict, members: dict[str, dict]) -> None:
    """Every member: configcli answered during `--configure`, sits at its layout's
    paths, and answers every documented invocation as documented."""
    topology = Topology(namespace, status, members)
    assert sorted(m["role"] for m in members.values()) == ["a", "b", "b"]
    for pod, member in members.items():
        seen = guest(kubectl, namespace, pod, 'cat "$R/var/log/guestconfig/configcli.seen"')
        assert seen == (
            f"{member['role']}\n{topology.fqdn(pod)}\n{','.join(topology.all_fqdns())}\n"
        ), pod
        guest(kubectl, namespace, pod, NEW_LAYOUT if member["role"] == "a" else LEGACY_LAYOUT)
        answers = _answers(guest(kubectl, namespace, pod, INVOCATIONS))
        assert answers == topology.expected(pod), pod
