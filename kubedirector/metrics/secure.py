"""/metrics over HTTPS for authorized scrapers only, as kubebuilder's secure metrics do.

A scraper sends a bearer token; the API server says who it is (TokenReview) and whether
that identity may `get` the non-resource URL `/metrics` (SubjectAccessReview).  No token
or an unknown one: 401; a known identity without the permission: 403.  Decisions are
cached for a few seconds per token (by its hash), so a scrape costs no API request.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import structlog
from kubernetes.client import ApiClient, ApiException

from kubedirector.controller.endpoint import HttpEndpoint, Reply
from kubedirector.controller.health import metrics_reply
from kubedirector.kube import request_json
from kubedirector.webhook import pki
from kubedirector.webhook.server import tls_context

log = structlog.get_logger(__name__)

METRICS_PATH = "/metrics"
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
DECISION_TTL = 10.0
MAX_CACHED = 1024


@dataclass(frozen=True)
class Decision:
    """The HTTP status a scrape gets (200, 401 or 403; 500 if the API could not say) and a
    short reason for the body and the log."""

    code: int
    reason: str


Review = Callable[[str], Decision]
Clock = Callable[[], float]


def bearer_token(headers: Message) -> str | None:
    """The token of an `Authorization: Bearer ...` header, else None."""
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def review_token(api: ApiClient, token: str) -> Decision:
    """Ask the API server: TokenReview, then SubjectAccessReview for get /metrics."""
    try:
        authn = request_json(
            api,
            "POST",
            TOKEN_REVIEWS,
            body={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": token},
            },
        )
        status = authn.get("status") or {}
        if not status.get("authenticated"):
            return Decision(401, "token not authenticated")
        user = status.get("user") or {}
        authz = request_json(
            api,
            "POST",
            ACCESS_REVIEWS,
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user.get("username", ""),
                    "groups": user.get("groups") or [],
                    "uid": user.get("uid", ""),
                    "extra": user.get("extra") or {},
                    "nonResourceAttributes": {"path": METRICS_PATH, "verb": "get"},
                },
            },
        )
    except ApiException as e:
        log.warning("metrics_auth_review_failed", status=e.status, reason=e.reason)
        return Decision(500, "authorization unavailable")
    if (authz.get("status") or {}).get("allowed"):
        return Decision(200, "allowed")
    return Decision(403, f"{user.get('username', '')} may not get {METRICS_PATH}")


class CachedReviews:
    """Decisions per token hash for `ttl` seconds; a 500 is never cached."""

    def __init__(
        self, review: Review, ttl: float = DECISION_TTL, clock: Clock = time.monotonic
    ) -> None:
        self._review = review
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def decide(self, token: str | None) -> Decision:
        if not token:
            return Decision(401, "no bearer token")
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        decision = self._review(token)
        if decision.code != 500:
            with self._lock:
                if len(self._cache) >= MAX_CACHED:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) < MAX_CACHED:
                    self._cache[key] = (now + self._ttl, decision)
        return decision


def serving_context(cert_dir: str | None) -> ssl.SSLContext:
    """TLS from `cert_dir`'s tls.crt and tls.key, else a self-signed certificate (scrapers
    then skip verification, as with kubebuilder's default)."""
    if cert_dir is None:
        host = socket.gethostname()
        return tls_context(pki.issue(["localhost", "127.0.0.1", host]))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(Path(cert_dir) / "tls.crt"), str(Path(cert_dir) / "tls.key"))
    return context


def secure_metrics_endpoint(
    address: str, reviews: CachedReviews, tls: ssl.SSLContext
) -> HttpEndpoint:
    """The HTTPS /metrics server; not started."""

    def metrics(headers: Message) -> Reply:
        decision = reviews.decide(bearer_token(headers))
        if decision.code != 200:
            log.info("metrics_scrape_refused", code=decision.code, reason=decision.reason)
            return Reply(decision.code, f"{decision.reason}\n".encode())
        return metrics_reply(headers)

    return HttpEndpoint("secure-metrics", address, {METRICS_PATH: metrics}, tls=tls)
