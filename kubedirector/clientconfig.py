"""Which cluster and namespace a user command talks to (the way kubectl decides), and
reading the KubeDirectorCluster it names.

`--kubeconfig`, else `KUBECONFIG` (several files joined with `:` merge), else
`~/.kube/config`; `--namespace`, else the current context's namespace, else
`default` (in a pod without a kubeconfig: the service account's namespace).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TextIO

from kubernetes.client import ApiClient, ApiException
from kubernetes.config import ConfigException, list_kube_config_contexts

from kubedirector.api.constants import GROUP, PLURAL_CLUSTER, VERSION
from kubedirector.kube import (
    IN_CLUSTER_NAMESPACE_FILE,
    MERGE_PATCH,
    InstrumentedApiClient,
    api_message,
    in_cluster,
    new_api_client,
    request_json,
    resource_path,
)

DEFAULT_NAMESPACE = "default"


class CommandError(RuntimeError):
    """What stopped a user command; the message says why, for the user."""


class ClientConfigError(CommandError):
    """No usable kubeconfig; the message says what was tried."""


def context_namespace(kubeconfig: str | None) -> str:
    """The current context's namespace, or `default` when it sets none."""
    if kubeconfig is None and in_cluster():
        return IN_CLUSTER_NAMESPACE_FILE.read_text().strip() or DEFAULT_NAMESPACE
    try:
        _, current = list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError) as e:
        raise ClientConfigError(f"cannot read the kubeconfig: {e}") from e
    context = (current or {}).get("context") or {}
    return str(context.get("namespace") or DEFAULT_NAMESPACE)


def connect(kubeconfig: str | None, namespace: str | None) -> tuple[InstrumentedApiClient, str]:
    """An API client and the namespace to use."""
    try:
        api = new_api_client(kubeconfig)
    except (ConfigException, OSError) as e:
        raise ClientConfigError(f"cannot load the kubeconfig: {e}") from e
    return api, namespace or context_namespace(kubeconfig)


def get_cluster(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """The stored KubeDirectorCluster; CommandError if it cannot be read."""
    path = resource_path(GROUP, VERSION, PLURAL_CLUSTER, namespace=namespace, name=name)
    try:
        return request_json(api, "GET", path)
    except ApiException as e:
        if e.status == 404:
            raise CommandError(f"kdcluster {name!r} not found in namespace {namespace!r}") from e
        raise CommandError(api_message(e)) from e


def patch_cluster_spec(api: ApiClient, cluster: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
    """Merge `spec` into the cluster as read; its resourceVersion makes a concurrent
    edit fail rather than vanish.  CommandError with the server's refusal."""
    meta = cluster["metadata"]
    path = resource_path(
        GROUP, VERSION, PLURAL_CLUSTER, namespace=meta["namespace"], name=meta["name"]
    )
    body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "spec": dict(spec)}
    try:
        request_json(api, "PATCH", path, body=body, content_type=MERGE_PATCH)
    except ApiException as e:
        raise CommandError(f"refused: {api_message(e)}") from e


def run_on_cluster(
    action: Callable[[ApiClient, str], str],
    *,
    kubeconfig: str | None,
    namespace: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """A user command's frame: connect, run `action(api, namespace)` and print the
    line it returns (exit 0); what stops it is printed as `error: ...` (exit 1)."""
    try:
        api, ns = connect(kubeconfig, namespace)
        try:
            said = action(api, ns)
        finally:
            api.close()
    except CommandError as e:
        print(f"error: {e}", file=err)
        return 1
    print(said, file=out)
    return 0
