"""Reading and changing objects through kubectl, as the e2e tests do: any object by
`kind/name`, and what the tests do to KubeDirectorClusters."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Kubectl = Callable[..., Any]


def get(kubectl: Kubectl, namespace: str, what: str) -> dict[str, Any]:
    """`kubectl get <what> -o json` in the namespace (`what` is a kind or `kind/name`)."""
    return dict(json.loads(kubectl("get", what, "-n", namespace, "-o", "json").stdout))


def events(kubectl: Kubectl, namespace: str, field_selector: str) -> list[dict[str, Any]]:
    """The namespace's Events that match the field selector (e.g. `involvedObject.name=x`)."""
    out = kubectl(
        "get", "events", "-n", namespace, "--field-selector", field_selector, "-o", "json"
    ).stdout
    return list(json.loads(out)["items"])


def apply_list(kubectl: Kubectl, docs: list[dict[str, Any]]) -> None:
    """`kubectl apply` of the documents as one List (each names its namespace, if any)."""
    kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
    )


def patch(
    kubectl: Kubectl,
    namespace: str,
    what: str,
    body: Any,
    *,
    patch_type: str = "merge",
    status: bool = False,
    check: bool = True,
) -> Any:
    """`kubectl patch <what>` (`kind/name`) with a merge patch (or `patch_type="json"`),
    of its status subresource when `status`; `check=False` to look at a refusal."""
    return kubectl(
        "patch",
        what,
        "-n",
        namespace,
        *(["--subresource=status"] if status else []),
        f"--type={patch_type}",
        "-p",
        json.dumps(body),
        check=check,
    )


def one_controller_cluster(name: str) -> str:
    """A spark221e2 cluster of one controller, as `kubectl create -f -` input: the
    least a request about clusters needs."""
    return json.dumps(
        {
            "apiVersion": "kubedirector.hpe.com/v1beta1",
            "kind": "KubeDirectorCluster",
            "metadata": {"name": name},
            "spec": {
                "app": "spark221e2",
                "roles": [
                    {
                        "id": "controller",
                        "members": 1,
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                    }
                ],
            },
        }
    )


def wait_ready(kubectl: Kubectl, namespace: str, name: str, timeout: int = 90) -> dict[str, Any]:
    """The cluster once its Ready condition holds.  `kubectl wait` honours the
    condition's observedGeneration: a Ready of an older generation does not count.
    On a timeout the failure shows the cluster's status, to say what it waited on."""
    done = kubectl(
        "wait",
        "--for=condition=Ready",
        f"kdcluster/{name}",
        "-n",
        namespace,
        f"--timeout={timeout}s",
        timeout=timeout + 10,
        check=False,
    )
    found = get(kubectl, namespace, f"kdcluster/{name}")
    assert done.returncode == 0, (
        f"kdcluster/{name} not Ready within {timeout}s: {done.stderr.strip()}\n"
        f"{json.dumps(found.get('status'), indent=1)[-3000:]}"
    )
    return found


def set_workers(kubectl: Kubectl, namespace: str, name: str, count: int) -> None:
    """Set the member count of the cluster's second role (the workers in the tests' apps)."""
    ops = [{"op": "replace", "path": "/spec/roles/1/members", "value": count}]
    patch(kubectl, namespace, f"kdcluster/{name}", ops, patch_type="json")
