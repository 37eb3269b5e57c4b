"""configcli in members of a simulated cluster (upstream-pods.md 2.3 step 7 and 3).

The operator installs configcli before the setup package runs; the test app's
startscript calls it during `--configure` (and fails without it), and the test
then execs into each member to ask the documented questions. One role uses the
new setup layout (commands in /usr/local/bin, links in /usr/bin), the other the
legacy one (commands in /usr/bin).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.support.guest import serve_package

REPO = Path(__file__).resolve().parents[2]
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


@pytest.fixture(scope="module")
def package_url(tmp_path_factory) -> Iterator[str]:
    with serve_package(tmp_path_factory.mktemp("packages"), "asker", STARTSCRIPT) as url:
        yield f"{url}/asker.tgz"


def asker_app(url: str) -> dict:
    role = {"cardinality": "0+", "imageRepoTag": "example/asker:1"}
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
                "selectedRoles": ["a", "b"],
                "roleServices": [{"roleID": r, "serviceIDs": ["ssh"]} for r in "ab"],
                "configMeta": {"answer": "42"},
            },
        },
    }


def asker_cluster() -> dict:
    res = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "256Mi"},
    }
    return {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorCluster",
        "metadata": {"name": "ask"},
        "spec": {
            "app": "asker",
            "roles": [
                {"id": "a", "members": 1, "resources": res},
                {"id": "b", "members": 2, "resources": res},
            ],
        },
    }


def ready_members(kubectl, namespace: str, name: str) -> tuple[dict, dict[str, dict]]:
    kubectl(
        "wait",
        "--for=condition=Ready",
        f"kdcluster/{name}",
        "-n",
        namespace,
        "--timeout=120s",
        timeout=130,
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


def test_members_get_configcli_before_setup_and_it_answers(
    kubectl, namespace, operator, package_url
):
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(asker_app(package_url)))
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(asker_cluster()))
    status, members = ready_members(kubectl, namespace, "ask")
    domain = f"{status['clusterService']}.{namespace}.svc.cluster.local"
    by_role = {r["id"]: [m["pod"] for m in r["members"]] for r in status["roles"]}
    all_fqdns = ",".join(f"{p}.{domain}" for r in ("a", "b") for p in sorted(by_role[r]))
    assert len(members) == 3
    for pod, member in members.items():
        fqdn = f"{pod}.{domain}"
        seen = guest(kubectl, namespace, pod, 'cat "$R/var/log/guestconfig/configcli.seen"')
        assert seen == f"{member['role']}\n{fqdn}\n{all_fqdns}\n", pod
        if member["role"] == "a":  # new layout: /usr/local/bin, links in /usr/bin
            guest(
                kubectl,
                namespace,
                pod,
                'test -f "$R/usr/local/bin/configcli"; '
                "for c in configcli bdvcli bd_vcli ccli configmacro; do "
                'test -L "$R/usr/bin/$c"; test -f "$R/usr/bin/$c"; done; '
                'test -L "$R/usr/local/bin/bdvcli"; test -L "$R/usr/local/bin/bd_vcli"',
            )
        else:  # legacy layout: /usr/bin itself
            guest(
                kubectl,
                namespace,
                pod,
                'test -f "$R/usr/bin/configcli"; '
                '! test -L "$R/usr/bin/configcli"; ! test -e "$R/usr/local/bin/configcli"; '
                'test -L "$R/usr/bin/bd_vcli"; test -f "$R/usr/bin/configmacro"',
            )
        answers = guest(
            kubectl,
            namespace,
            pod,
            "; ".join(
                [
                    '"$R/usr/bin/configcli" namespace node id',
                    '"$R/usr/bin/ccli" --get services.ssh.1',
                    '"$R/usr/bin/bd_vcli" --get distros',
                    '"$R/usr/bin/configcli" --get cluster.config_metadata.1.answer',
                    '"$R/usr/bin/configmacro" node --get_self_id',
                    '"$R/usr/bin/bd_vcli" --get cluster.isolated',
                    '"$R/usr/bin/bd_vcli" --get node.nope || echo "exit $?"',
                    '"$R/usr/bin/bd_vcli" --startconfiguration 2>/dev/null || echo "exit $?"',
                ]
            ),
        )
        node_id = str(member["nodeID"])
        assert answers.splitlines() == [
            node_id,
            "a,b",
            "example/asker",
            "42",
            node_id,
            "false",
            "exit 1",
            "exit 2",
        ], pod


def test_catalog_app_members_have_configcli(kubectl, namespace, operator):
    example = REPO / "manifests/examples/clusters/cr-cluster-cassandra311.yaml"
    kubectl("apply", "-n", namespace, "-f", str(REPO / "manifests/catalog/cassandra311.json"))
    kubectl("apply", "-n", namespace, "-f", str(example))
    name = yaml.safe_load(example.read_text())["metadata"]["name"]
    _, members = ready_members(kubectl, namespace, name)
    assert members
    for pod, member in members.items():
        answer = guest(kubectl, namespace, pod, '"$R/usr/bin/bd_vcli" --get node.role_id')
        assert answer == f"{member['role']}\n", pod
