"""The few requests admission makes of the API server, all at once and within a deadline.

Some answers are not in the shared caches: whether a Secret, ServiceAccount or
claim exists (caching every Secret of every namespace would hold them all in
memory), whether the requesting user may use a ServiceAccount, and whether the
API server accepts the objects a cluster will become (a server-side dry run).
Admission builds `Request`s and reads `Reply`s; `ApiLive` sends them in
parallel and gives up at a deadline well inside the webhook's own timeout, so
a slow API server costs a warning, never a failed admission.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from kubernetes.client import ApiClient, ApiException

from kubedirector.cache.informer import Resource
from kubedirector.kube import resource_path

log = structlog.get_logger(__name__)

# The webhook registrations time out after 10 s (manifests/base/webhook.yaml); all
# live requests of one review together get at most this long.
LIVE_DEADLINE = 4.0
CONNECT_TIMEOUT = 2.0
# A Secret's existence is all admission needs: ask for its metadata, never its data.
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
NO_ANSWER = 0  # Reply.status when no HTTP answer came (timeout, connection refused)

SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview"
)


@dataclass(frozen=True)
class Request:
    """One API request: a read (`GET`) or a dry-run create (`POST`)."""

    method: str
    path: str
    body: Mapping[str, Any] | None = None
    query: tuple[tuple[str, str], ...] = ()
    accept: str = "application/json"


@dataclass(frozen=True)
class Reply:
    """The API server's answer: HTTP status and parsed body (`NO_ANSWER`, {} if none)."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.status != NO_ANSWER


class Live(Protocol):
    """Sends requests; one reply per request, in order."""

    def send(self, requests: Sequence[Request]) -> list[Reply]: ...


def get(resource: Resource, namespace: str, name: str, *, metadata_only: bool = False) -> Request:
    path = resource_path(
        resource.group, resource.version, resource.plural, namespace=namespace, name=name
    )
    return Request("GET", path, accept=METADATA_ONLY if metadata_only else "application/json")


def dry_run_create(resource: Resource, obj: Mapping[str, Any]) -> Request:
    namespace = (obj.get("metadata") or {}).get("namespace")
    path = resource_path(resource.group, resource.version, resource.plural, namespace=namespace)
    return Request("POST", path, body=obj, query=(("dryRun", "All"),))


def access_review(user_info: Mapping[str, Any], attributes: Mapping[str, str]) -> Request:
    """May the user who sent the admission request do `attributes`?"""
    spec: dict[str, Any] = {
        "resourceAttributes": dict(attributes),
        "user": user_info.get("username", ""),
        "uid": user_info.get("uid", ""),
        "groups": list(user_info.get("groups") or []),
        "extra": {k: list(v) for k, v in (user_info.get("extra") or {}).items()},
    }
    body = {
        "apiVersion": SUBJECT_ACCESS_REVIEWS.api_version,
        "kind": SUBJECT_ACCESS_REVIEWS.kind,
        "spec": spec,
    }
    r = SUBJECT_ACCESS_REVIEWS
    return Request("POST", resource_path(r.group, r.version, r.plural), body=body)


class ApiLive:
    """Sends requests through the counted API client, in parallel, within `deadline`."""

    def __init__(self, api: ApiClient, deadline: float = LIVE_DEADLINE, workers: int = 32) -> None:
        self.api = api
        self.deadline = deadline
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="webhook-live")

    def send(self, requests: Sequence[Request]) -> list[Reply]:
        if not requests:
            return []
        futures = [self._pool.submit(self._one, r) for r in requests]
        done, late = wait(futures, timeout=self.deadline)
        if late:
            log.warning("admission_live_requests_late", late=len(late), deadline=self.deadline)
        return [f.result() if f in done else Reply(NO_ANSWER) for f in futures]

    def _one(self, request: Request) -> Reply:
        try:
            response = self.api.call_api(
                request.path,
                request.method,
                query_params=list(request.query),
                header_params={"Accept": request.accept, "Content-Type": "application/json"},
                body=request.body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=(CONNECT_TIMEOUT, self.deadline),
            )
            return Reply(response.status, _json(response.data))
        except ApiException as e:
            return Reply(e.status or NO_ANSWER, _json(e.body))
        except Exception as e:  # any transport failure (timeout, refused) is "no answer"
            log.warning("admission_live_request_failed", path=request.path, error=str(e)[:200])
            return Reply(NO_ANSWER)

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _json(data: Any) -> Mapping[str, Any]:
    try:
        parsed = json.loads(data) if data else {}
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, Mapping) else {}
