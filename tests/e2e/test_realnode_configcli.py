"""configcli in real containers on the real node (upstream-pods.md 2.3 step 7 and 3).

The same app, cluster and documented answers as the simulated guest's test
(test_configcli.py, tests/e2e/support/configcli_guest.py), but the members are real
containers: a member image built like the operator's (hack/build-image.sh guest: the
Debian base with bash and python3; bookworm has no python2.7) and imported into the
real node, no registry.  The operator installs configcli with its normal install step
(new layout in role a, legacy in role b), then the test execs the commands there.

Getting members onto the real node, least invasively: the roles pin them there with
their `affinity` (a field the original copies into the pod as-is), and the node's
`NoSchedule` taint, which keeps catalog members off it, is lifted for this test only
and put back in a `finally` (the role spec has no tolerations).  The setup package
reaches the container as a file: a Secret mounted through the cluster's
`defaultSecret`, named by a `file://` package URL (the pod network cannot reach this
machine's loopback, where the simulated test serves it).  The app does not set
`systemdRequired`: the plain container runs no systemd, so the journald gate would
never open.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.support.configcli_guest import (
    STARTSCRIPT,
    asker_app,
    asker_cluster,
    check_members,
    guest,
    ready_members,
)
from tests.e2e.support.guest import serve_package
from tests.e2e.support.realnode import (
    ON_THE_REAL_NODE,
    PACKAGE_DIR,
    guest_image,  # noqa: F401 - the fixture
    members_may_land_on_the_real_node,  # noqa: F401 - the fixture
    on_the_real_node,
    package_secret,
)

pytestmark = pytest.mark.realnode

PACKAGE_SECRET = "asker-package"


def test_configcli_in_real_containers_answers_as_documented(
    kubectl,
    namespace,
    operator,
    guest_image,  # noqa: F811
    members_may_land_on_the_real_node,  # noqa: F811
    tmp_path,
):
    with serve_package(tmp_path, "asker", STARTSCRIPT):  # the simulated test's package
        secret = package_secret(kubectl, namespace, PACKAGE_SECRET, tmp_path / "asker.tgz")
    app = asker_app(f"file://{PACKAGE_DIR}/asker.tgz", image=guest_image)
    cluster = asker_cluster(
        role_fields={"affinity": ON_THE_REAL_NODE}, spec_fields={"defaultSecret": secret}
    )
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(app))
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(cluster))
    status, members = ready_members(kubectl, namespace, "ask", timeout=300)
    for pod in members:
        on_the_real_node(kubectl, namespace, pod)
        # A real container: no simulated guest root, and the operator's install used
        # the image's own interpreter.
        installed = guest(
            kubectl,
            namespace,
            pod,
            'echo "root=${KD_GUEST_ROOT:-none}"; cat /var/log/guestconfig/configcli-install.log',
        )
        assert installed.startswith(
            "root=none\nconfigcli installed for /usr/bin/python in /usr/"
        ), installed
    check_members(kubectl, namespace, status, members)
