"""API client construction and the one wrapper every API request goes through.

Every request, typed (`CoreV1Api` ...) or raw (`request_json`), passes through
`InstrumentedApiClient.request`, which waits for the client-side rate limiter (client-go's
QPS and burst: the Python client has none) and counts it in `rest_client_requests_total`.
Raw helpers return parsed JSON dicts: the client's model objects are slow and large.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes import config
from kubernetes.client import ApiClient, ApiException, Configuration

from kubedirector.controller.ratelimiter import BucketRateLimiter
from kubedirector.metrics.registry import REST_CLIENT_RATE_LIMITER_DURATION, REST_CLIENT_REQUESTS

IN_CLUSTER_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# (connect, read) seconds for ordinary requests; watches pass their own.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# Each informer's watch holds a connection for minutes; workers and leases need more.
# The client's default (5 x CPUs) makes urllib3 discard connections and re-handshake.
CONNECTION_POOL_SIZE = 64


class InstrumentedApiClient(ApiClient):
    """An `ApiClient` that holds each request to `limiter`'s rate (None: unlimited) and
    counts it by status code, verb and host."""

    def __init__(
        self,
        configuration: Configuration | None = None,
        *,
        limiter: BucketRateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(configuration)
        self.limiter = limiter
        self._sleep = sleep

    def throttle(self, verb: str, host: str) -> None:
        """Wait for the client-side rate limiter (none: return at once); every request
        waits here, and so does each exec, which opens its own websocket."""
        if self.limiter is None:
            return
        delay = self.limiter.when(verb)
        REST_CLIENT_RATE_LIMITER_DURATION.labels(verb=verb, host=host).observe(delay)
        if delay > 0:
            self._sleep(delay)

    def request(
        self,
        method: str,
        url: str,
        *,
        query_params: Any = None,
        headers: Any = None,
        post_params: Any = None,
        body: Any = None,
        _preload_content: bool = True,
        _request_timeout: Any = None,
    ) -> Any:
        verb = method.upper()
        host = urlsplit(url).netloc
        self.throttle(verb, host)
        code = "<error>"
        try:
            response = super().request(
                method,
                url,
                query_params=query_params,
                headers=headers,
                post_params=post_params,
                body=body,
                _preload_content=_preload_content,
                _request_timeout=_request_timeout,
            )
            code = str(response.status)
            return response
        except ApiException as e:
            code = str(e.status) if e.status else code
            raise
        finally:
            REST_CLIENT_REQUESTS.labels(code=code, method=verb, host=host).inc()


def in_cluster() -> bool:
    """True when running in a pod with a service account token."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and IN_CLUSTER_NAMESPACE_FILE.exists()


def load_configuration(kubeconfig: str | None = None) -> Configuration:
    """The explicit kubeconfig, else the in-cluster service account, else `~/.kube/config`."""
    cfg = Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    elif in_cluster():
        config.load_incluster_config(client_configuration=cfg)
    else:
        config.load_kube_config(client_configuration=cfg)
    return cfg


def new_api_client(
    kubeconfig: str | None = None, *, qps: float = 0.0, burst: int = 1
) -> InstrumentedApiClient:
    """A counted API client for the configured cluster, held to `qps` requests a second
    with bursts of `burst` (qps 0: unlimited)."""
    cfg = load_configuration(kubeconfig)
    cfg.connection_pool_maxsize = CONNECTION_POOL_SIZE
    limiter = BucketRateLimiter(qps=qps, burst=burst) if qps > 0 else None
    return InstrumentedApiClient(cfg, limiter=limiter)


def resource_path(
    group: str,
    version: str,
    plural: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The REST path of a collection or object (`group` "" is the core API)."""
    parts = ["/api", version] if not group else ["/apis", group, version]
    if namespace:
        parts += ["namespaces", namespace]
    parts.append(plural)
    if name:
        parts.append(name)
        if subresource:
            parts.append(subresource)
    return "/".join(parts)


def open_request(
    api: ApiClient,
    method: str,
    path: str,
    *,
    query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    body: Any = None,
    content_type: str = "application/json",
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> urllib3.HTTPResponse:
    """Send a request; return the unread urllib3 response. Non-2xx raises `ApiException`."""
    query_params = list(query.items()) if isinstance(query, Mapping) else list(query or [])
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    return api.call_api(
        path,
        method,
        query_params=query_params,
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=timeout,
    )


def request_json(
    api: ApiClient,
    method: str,
    path: str,
    *,
    query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    body: Any = None,
    content_type: str = "application/json",
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Send a request and return its parsed JSON body as a dict."""
    response = open_request(
        api, method, path, query=query, body=body, content_type=content_type, timeout=timeout
    )
    data = response.data
    return json.loads(data) if data else {}


def api_message(e: ApiException) -> str:
    """The API server's own message for a refused request (admission's names the field)."""
    try:
        message = json.loads(e.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or f"{e.status} {e.reason}")


def requests_by_verb() -> dict[str, float]:
    """Requests made so far by this process, summed per HTTP verb (e.g. to count writes)."""
    totals: dict[str, float] = {}
    for metric in REST_CLIENT_REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                verb = sample.labels["method"]
                totals[verb] = totals.get(verb, 0.0) + sample.value
    return totals


def write_count() -> float:
    """How many create/update/patch/delete requests this process has sent."""
    return sum(n for verb, n in requests_by_verb().items() if verb in WRITE_VERBS)
