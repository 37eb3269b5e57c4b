"""Member pods as the tests see and change them: a pod's UID (a re-created pod has a
new one) and its Ready condition, set the way a kubelet reports a failing probe
(kwok's simulated nodes run no probes)."""

from __future__ import annotations

import json

# Long past any policy's afterSeconds: the member is judged unresponsive at once.
LONG_AGO = "2026-01-01T00:00:00Z"


def pod_uid(kubectl, namespace: str, pod: str) -> str | None:
    """The pod's UID; None while it does not exist."""
    out = kubectl("get", "pod", pod, "-n", namespace, "-o", "json", check=False)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)["metadata"]["uid"]


def set_ready(kubectl, namespace: str, pod: str, ready: bool, since: str = LONG_AGO) -> None:
    """Report the pod Ready or not, as a kubelet does when a readiness probe passes or
    fails: only the `Ready` condition changes (a strategic patch merges by type)."""
    condition = {"type": "Ready", "status": str(ready), "lastTransitionTime": since}
    if not ready:
        condition["reason"] = "ProbeFailed"
    kubectl(
        "patch",
        "pod",
        pod,
        "-n",
        namespace,
        "--subresource=status",
        "--type=strategic",
        "-p",
        json.dumps({"status": {"conditions": [condition]}}),
    )
