"""configcli in members of a simulated cluster (upstream-pods.md 2.3 step 7 and 3).

The operator installs configcli before the setup package runs; the test app's
startscript calls it during `--configure` (and fails without it), and the test
then execs into each member to ask the documented questions
(tests/e2e/support/configcli_guest.py, shared with the real container of
test_realnode_configcli.py). One role uses the new setup layout (commands in
/usr/local/bin, links in /usr/bin), the other the legacy one (commands in /usr/bin).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.support.configcli_guest import (
    STARTSCRIPT,
    asker_app,
    asker_cluster,
    check_members,
    guest,
    ready_members,
)
from tests.e2e.support.guest import serve_package

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package_url(tmp_path_factory) -> Iterator[str]:
    with serve_package(tmp_path_factory.mktemp("packages"), "asker", STARTSCRIPT) as url:
        yield f"{url}/asker.tgz"


def test_members_get_configcli_before_setup_and_it_answers(
    kubectl, namespace, operator, package_url
):
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(asker_app(package_url)))
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(asker_cluster()))
    status, members = ready_members(kubectl, namespace, "ask")
    check_members(kubectl, namespace, status, members)


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
