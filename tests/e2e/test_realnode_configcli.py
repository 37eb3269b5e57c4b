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

import pytest

from tests.e2e.support.configcli_guest import check_members, guest, ready_members
from tests.e2e.support.realnode import (
    asker_on_the_real_node,
    guest_image,  # noqa: F401 - the fixture
    members_may_land_on_the_real_node,  # noqa: F401 - the fixture
    on_the_real_node,
)
from tests.e2e.test_setup import apply

pytestmark = pytest.mark.realnode


def test_configcli_in_real_containers_answers_as_documented(
    kubectl,
    namespace,
    operator,
    guest_image,  # noqa: F811
    members_may_land_on_the_real_node,  # noqa: F811
    tmp_path,
):
    app, cluster = asker_on_the_real_node(kubectl, namespace, tmp_path, guest_image)
    apply(kubectl, namespace, app)
    apply(kubectl, namespace, cluster)
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
