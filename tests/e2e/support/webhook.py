"""Run the admission webhook in-process and register it, scoped to one test namespace.

The registration is the manifests' own (manifests/base/webhook.yaml) with a unique
name, a `url` clientConfig on 127.0.0.1 and a namespaceSelector on the test
namespace, so it never touches another test; it is deleted even when a test fails.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from kubedirector.cache.factory import InformerFactory
from kubedirector.kube import new_api_client
from kubedirector.webhook import pki
from kubedirector.webhook.start import Webhook, start_webhook
from tests.e2e.support.operator import REPO, free_port, wait_until

WEBHOOK_MANIFEST = REPO / "manifests" / "base" / "webhook.yaml"


def scoped_registration(name: str, namespace: str, port: int) -> list[dict]:
    """The manifests' webhook configurations, renamed, by URL, for `namespace` only."""
    docs = list(yaml.safe_load_all(WEBHOOK_MANIFEST.read_text()))
    for doc in docs:
        doc["metadata"]["name"] = name
        for hook in doc["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}"}
            hook["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    return docs


@contextmanager
def registered(kubectl, namespace: str, port: int) -> Iterator[str]:
    """Register the scoped webhook configurations; yield their name; always remove them."""
    name = f"kd-test-{namespace}"[:63]
    try:
        kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": scoped_registration(name, namespace, port),
                }
            ),
        )
        yield name
    finally:
        delete_surely(kubectl, "validatingwebhookconfiguration,mutatingwebhookconfiguration", name)


def delete_surely(kubectl, kinds: str, name: str, timeout: float = 60) -> None:
    """Delete cluster-scoped test objects, retrying through API server restarts (other
    tests restart it): a leftover webhook or role would outlive the test."""
    wait_until(
        lambda: kubectl("delete", kinds, name, "--ignore-not-found", check=False).returncode == 0,
        timeout,
        f"{kinds} {name} deleted",
        interval=1,
    )


@contextmanager
def webhook_in_namespace(
    kubeconfig: Path,
    kubectl,
    namespace: str,
    *,
    leaf_validity: datetime.timedelta = pki.LEAF_VALIDITY,
    check_interval: float = 5.0,
) -> Iterator[Webhook]:
    """A webhook serving `namespace` (also its operator namespace), registered and
    answering through the API server before the body runs."""
    port = free_port()
    api = new_api_client(str(kubeconfig))
    informers = InformerFactory(api, (namespace,))
    with registered(kubectl, namespace, port) as name:
        webhook = start_webhook(
            api,
            informers,
            namespace=namespace,
            address=f"127.0.0.1:{port}",
            cert_secret="kd-webhook-cert",
            webhook_config_names=[name],
            url=f"https://127.0.0.1:{port}",
            leaf_validity=leaf_validity,
            check_interval=check_interval,
        )
        for informer in webhook.informers:
            informer.start()
        try:
            wait_until(webhook.ready, 30, "webhook ready (cert, caBundle, caches)")
            wait_until(lambda: _answers(kubectl, namespace), 30, "API server calling the webhook")
            yield webhook
        finally:
            webhook.stop()
            for informer in webhook.informers:
                informer.stop(timeout=2)
            api.close()


def _answers(kubectl, namespace: str) -> bool:
    """True once a server-side dry run of an invalid config comes back with our refusal."""
    probe = {
        "apiVersion": "kubedirector.hpe.com/v1beta1",
        "kind": "KubeDirectorConfig",
        "metadata": {"name": "probe", "namespace": namespace},
        "spec": {},
    }
    out = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False)
    return "metadata.name: must be 'kd-global-config'" in out.stderr
