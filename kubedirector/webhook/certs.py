"""The serving certificate's life in the cluster: kept in a Secret, renewed before expiry,
its CA published in the webhook configurations' `caBundle`.

Every replica runs the same loop.  The Secret is the one authority: it is created
only if absent and replaced only at the resourceVersion that was read, so when
two replicas race, one write wins and the other adopts it.  The CA stays the same
across renewals (pki.py), so replicas may switch to a new serving certificate at
different moments without a failed request.
"""

from __future__ import annotations

import base64
import datetime
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
import urllib3
from kubernetes.client import ApiClient, ApiException

from kubedirector.kube import JSON_PATCH, request_json, resource_path
from kubedirector.webhook import pki

log = structlog.get_logger(__name__)

ADMISSION_GROUP = "admissionregistration.k8s.io"
WEBHOOK_KINDS = ("validatingwebhookconfigurations", "mutatingwebhookconfigurations")
CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class CertSettings:
    """Where the certificate lives and what it is for."""

    namespace: str
    secret: str
    hosts: Sequence[str]
    webhook_configs: Sequence[str]  # names of the Validating/MutatingWebhookConfigurations
    leaf_validity: datetime.timedelta = pki.LEAF_VALIDITY
    manage: bool = True  # False: someone else (cert-manager) issues and injects


def bundle_from_secret(secret: dict[str, Any]) -> pki.Bundle | None:
    """The PEMs in a Secret (keys tls.crt, tls.key, ca.crt, ca.key), or None if incomplete."""
    data = secret.get("data") or {}
    try:
        text = {
            k: base64.b64decode(data.get(k) or "").decode()
            for k in ("ca.crt", "ca.key", "tls.crt", "tls.key")
        }
    except ValueError:
        return None
    if not (text["ca.crt"] and text["tls.crt"] and text["tls.key"]):
        return None
    return pki.Bundle(text["ca.crt"], text["ca.key"], text["tls.crt"], text["tls.key"])


def _secret_body(settings: CertSettings, bundle: pki.Bundle, rv: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": settings.secret,
        "namespace": settings.namespace,
        "labels": {
            "app.kubernetes.io/name": "kubedirector",
            "app.kubernetes.io/component": "webhook-cert",
        },
    }
    if rv:
        meta["resourceVersion"] = rv
    fields = {
        "ca.crt": bundle.ca_crt,
        "ca.key": bundle.ca_key,
        "tls.crt": bundle.tls_crt,
        "tls.key": bundle.tls_key,
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": meta,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in fields.items()},
    }


class CertStore:
    """Reads, creates and renews the certificate Secret with optimistic concurrency."""

    def __init__(self, api: ApiClient, settings: CertSettings) -> None:
        self.api = api
        self.settings = settings

    def _path(self, name: str | None = None) -> str:
        return resource_path("", "v1", "secrets", namespace=self.settings.namespace, name=name)

    def _get(self) -> dict[str, Any] | None:
        try:
            return request_json(self.api, "GET", self._path(self.settings.secret))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def current(self, now: datetime.datetime | None = None) -> pki.Bundle:
        """The bundle to serve: created if absent, renewed if due (unless not managed)."""
        for _ in range(CONFLICT_RETRIES):
            secret = self._get()
            bundle = bundle_from_secret(secret) if secret else None
            if not self.settings.manage:
                if bundle is None:
                    raise RuntimeError(
                        f"Secret {self.settings.namespace}/{self.settings.secret}"
                        " has no certificate yet (waiting for its issuer)"
                    )
                return bundle
            if bundle is None or not bundle.ca_key:
                reason = "absent"
                fresh = pki.issue(
                    self.settings.hosts, leaf_validity=self.settings.leaf_validity, now=now
                )
            else:
                due = pki.renewal_reason(bundle, self.settings.hosts, now)
                if due is None:
                    return bundle
                reason = due
                fresh = pki.renew(
                    bundle, self.settings.hosts, leaf_validity=self.settings.leaf_validity, now=now
                )
            if self._write(secret, fresh):
                log.info("webhook_cert_issued", reason=reason, secret=self.settings.secret)
                return fresh
            log.info("webhook_cert_write_conflict", secret=self.settings.secret)
        raise RuntimeError(
            f"Secret {self.settings.secret}: gave up after {CONFLICT_RETRIES} conflicting writes"
        )

    def _write(self, existing: dict[str, Any] | None, bundle: pki.Bundle) -> bool:
        """Create, or replace at the version read; False if another writer was first."""
        try:
            if existing is None:
                request_json(
                    self.api, "POST", self._path(), body=_secret_body(self.settings, bundle, None)
                )
            else:
                request_json(
                    self.api,
                    "PUT",
                    self._path(self.settings.secret),
                    body=_secret_body(
                        self.settings, bundle, existing["metadata"]["resourceVersion"]
                    ),
                )
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def publish_ca(self, ca_crt: str) -> int:
        """Set `caBundle` on every webhook of our configurations where it differs; returns
        how many configurations were patched.  A missing configuration is skipped (the
        webhook may not be registered yet)."""
        ca_b64 = base64.b64encode(ca_crt.encode()).decode()
        patched = 0
        for kind in WEBHOOK_KINDS:
            for name in self.settings.webhook_configs:
                path = resource_path(ADMISSION_GROUP, "v1", kind, name=name)
                try:
                    config = request_json(self.api, "GET", path)
                except ApiException as e:
                    if e.status == 404:
                        continue
                    raise
                ops: list[dict[str, Any]] = [
                    {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": ca_b64}
                    for i, hook in enumerate(config.get("webhooks") or [])
                    if (hook.get("clientConfig") or {}).get("caBundle") != ca_b64
                ]
                if not ops:
                    continue
                ops.insert(
                    0,
                    {
                        "op": "test",
                        "path": "/metadata/resourceVersion",
                        "value": config["metadata"]["resourceVersion"],
                    },
                )
                request_json(self.api, "PATCH", path, body=ops, content_type=JSON_PATCH)
                log.info("webhook_ca_bundle_published", kind=kind, name=name, webhooks=len(ops) - 1)
                patched += 1
        return patched


class CertRotator:
    """A thread that keeps the served certificate and the `caBundle` current."""

    def __init__(
        self,
        store: CertStore,
        on_bundle: Callable[[pki.Bundle], None],
        *,
        interval: float = 60.0,
        retry: float = 5.0,
    ) -> None:
        self.store = store
        self.on_bundle = on_bundle
        self.interval = interval
        self.retry = retry
        self.bundle: pki.Bundle | None = None
        self.published = False  # the caBundle matched our CA at least once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-certs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def check(self, now: datetime.datetime | None = None) -> None:
        """One pass: load or renew the certificate, serve it if new, publish its CA."""
        bundle = self.store.current(now)
        if bundle != self.bundle:
            self.on_bundle(bundle)
            self.bundle = bundle
        if self.store.settings.manage:
            self.store.publish_ca(bundle.ca_crt)
        self.published = True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
                wait = self.interval
            except (
                ApiException,
                urllib3.exceptions.HTTPError,
                OSError,
                RuntimeError,
                ValueError,
            ) as e:
                log.warning("webhook_cert_check_failed", error=str(e)[:300])
                wait = self.retry
            self._stop.wait(wait)
