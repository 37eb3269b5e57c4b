"""The one call `kubedirector run` makes to serve admission: `start_webhook`.

It registers the informers admission reads in the shared factories (the manager
starts them with the controllers' ones; `informers` on the result lists them),
binds the HTTPS listener at once, and leaves the certificate to a background loop.
`ready()` is true once the certificate is served, its CA published and the caches
synced: the readiness probe, so a replica that cannot answer gets no traffic.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubernetes.client import ApiClient

from kubedirector.cache.factory import InformerFactory
from kubedirector.cache.informer import Informer
from kubedirector.webhook import pki
from kubedirector.webhook.certs import CertRotator, CertSettings, CertStore
from kubedirector.webhook.live import ApiLive
from kubedirector.webhook.server import WebhookServer
from kubedirector.webhook.view import STORAGE_CLASSES, CacheView

DEFAULT_CERT_SECRET = "kubedirector-webhook-cert"
DEFAULT_SERVICE = "kubedirector-webhook"
DEFAULT_CONFIG_NAMES = ("kubedirector-webhook",)


@dataclass
class Webhook:
    """A running webhook: its server, its certificate loop and the informers it reads."""

    server: WebhookServer
    rotator: CertRotator
    view: CacheView
    live: ApiLive
    informers: list[Informer]

    @property
    def port(self) -> int:
        return self.server.port

    def ready(self) -> bool:
        return self.server.serving() and self.rotator.published and self.view.synced()

    def stop(self) -> None:
        self.rotator.stop()
        self.server.stop()
        self.live.stop()


def system_factory(api: ApiClient, informers: InformerFactory, namespace: str) -> InformerFactory:
    """`informers` if it covers the operator's namespace, else one that does (the one
    `build_controllers` uses too, so their informers are shared)."""
    return informers.covering(namespace)


def start_webhook(
    api: ApiClient,
    informers: InformerFactory,
    *,
    namespace: str,
    address: str,
    cert_secret: str = DEFAULT_CERT_SECRET,
    webhook_config_names: Sequence[str] = DEFAULT_CONFIG_NAMES,
    service_name: str = DEFAULT_SERVICE,
    url: str | None = None,
    system: InformerFactory | None = None,
    manage_certs: bool = True,
    leaf_validity: datetime.timedelta = pki.LEAF_VALIDITY,
    check_interval: float = 60.0,
) -> Webhook:
    """Serve admission on `address`; informers in the result must still be started
    (by the manager, or by the caller) before `ready()` turns true.

    `url`: the base URL the API server calls (the local overlay's
    https://127.0.0.1:<port>); its host joins the certificate's names.
    `manage_certs` False: another issuer (cert-manager) fills the Secret and the
    `caBundle`; the webhook only loads and follows it.
    """
    system = system or system_factory(api, informers, namespace)
    classes = InformerFactory(api).informers(STORAGE_CLASSES)[0]
    view = CacheView(informers, system, classes, namespace)
    live = ApiLive(api)
    server = WebhookServer(address, view, live)
    extra = [urlsplit(url).hostname or ""] if url else []
    settings = CertSettings(
        namespace=namespace,
        secret=cert_secret,
        hosts=pki.service_hosts(service_name, namespace, [h for h in extra if h]),
        webhook_configs=tuple(webhook_config_names),
        leaf_validity=leaf_validity,
        manage=manage_certs,
    )
    rotator = CertRotator(CertStore(api, settings), server.use, interval=check_interval)
    server.start()
    rotator.start()
    return Webhook(server, rotator, view, live, list(dict.fromkeys(view.used)))
