"""An informer: LIST then WATCH one resource into a `Store`, telling handlers what changed.

Follows client-go's reflector: a paginated LIST, then a WATCH from the list's
resourceVersion (bookmarks on, a random server timeout, a client read timeout so a
dead connection is noticed), resuming from the last resourceVersion when a watch
ends, and relisting when the server answers 410 Gone. Objects are raw dicts.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
import urllib3
from kubernetes.client import ApiClient, ApiException
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from kubedirector.cache.indexers import IndexFunc, default_indexers
from kubedirector.cache.store import Store, object_key
from kubedirector.cache.transforms import strip_managed_fields
from kubedirector.kube import open_request, resource_path

log = structlog.get_logger(__name__)

WATCH_TIMEOUT_RANGE = (300, 600)  # server-side timeoutSeconds
READ_TIMEOUT_RANGE = (90.0, 120.0)  # bookmarks arrive about once a minute
CONNECT_TIMEOUT = 10.0
LIST_TIMEOUT = (10.0, 60.0)
BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0
PAGE_SIZE = 500

Obj = dict[str, Any]
AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]


@dataclass(frozen=True)
class Resource:
    """Which resource an informer watches: group ("" for core), version, plural, kind."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class _Handlers:
    on_add: AddHandler | None
    on_update: UpdateHandler | None
    on_delete: DeleteHandler | None


class _StoppedError(Exception):
    """Raised inside the informer thread to unwind when `stop()` was called."""


class _WatchError(Exception):
    """The server ended a watch with an ERROR event other than 410."""


def _uid(obj: Obj) -> str | None:
    uid: str | None = obj.get("metadata", {}).get("uid")
    return uid


def _rv(obj: Obj) -> str | None:
    rv: str | None = obj.get("metadata", {}).get("resourceVersion")
    return rv


class Informer:
    """Keeps `store` in step with one resource and calls handlers for each change."""

    def __init__(
        self,
        api: ApiClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
        page_size: int = PAGE_SIZE,
        name: str | None = None,
        transform: Callable[[Obj], Obj] | None = strip_managed_fields,
    ) -> None:
        self.api = api
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.transform = transform
        self.name = name or str(resource)
        self.store = Store(default_indexers() if indexers is None else indexers)
        self.gone_relists = 0  # relists caused by 410 Gone; tests assert on it
        self._rv = ""
        self._needs_list = True
        self._gone_rv: str | None = None
        self._rv_unavailable = False
        self._handlers: list[_Handlers] = []
        self._dispatch_lock = threading.RLock()  # one change or resync at a time
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._response_lock = threading.Lock()
        self._response: urllib3.BaseHTTPResponse | None = None
        self._thread: threading.Thread | None = None
        self._log = log.bind(informer=self.name, namespace=namespace or "")

    def add_handlers(
        self,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> None:
        """Register callbacks; if the cache already has objects, `on_add` sees them now."""
        handlers = _Handlers(on_add, on_update, on_delete)
        with self._dispatch_lock:
            self._handlers.append(handlers)
            if on_add is not None:
                for obj in self.store.list():
                    self._call(on_add, obj)

    def start(self) -> None:
        """Start the list/watch loop in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError(f"informer {self.name} already started")
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """End the thread: close the open watch so it returns now. True if it ended in time."""
        self._stop.set()
        with self._response_lock:
            response = self._response
        if response is not None:
            try:
                response.shutdown()
            except (ValueError, RuntimeError, OSError):
                self._log.debug("informer_shutdown_socket_unavailable")
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def has_synced(self) -> bool:
        """True once the first LIST has been applied to the store."""
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float) -> bool:
        """Block until the first LIST is applied, at most `timeout` seconds."""
        return self._synced.wait(timeout)

    def resync(self) -> None:
        """Replay the cache to handlers as updates (old == new); no API call."""
        with self._dispatch_lock:
            for obj in self.store.list():
                self._notify_update(obj, obj)

    # The loop.

    def _run(self) -> None:
        self._log.info("informer_started")
        try:
            while not self._stop.is_set():
                if self._needs_list:
                    self._with_backoff(self._list)
                self._with_backoff(self._watch)
        except _StoppedError:
            pass
        self._log.info("informer_stopped")

    def _with_backoff(self, fn: Callable[[], None]) -> None:
        """Run `fn` until it returns, backing off 0.8 s doubling to 30 s (jittered) on errors."""
        retrying = Retrying(
            wait=wait_exponential_jitter(
                multiplier=BACKOFF_INITIAL, max=BACKOFF_MAX, jitter=BACKOFF_INITIAL
            ),
            sleep=self._sleep,
            retry=retry_if_exception(lambda e: not isinstance(e, _StoppedError)),
            before_sleep=self._log_retry,
            reraise=True,
        )
        retrying(fn)

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _StoppedError

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        self._log.warning(
            "informer_backoff",
            operation=getattr(state.fn, "__name__", "?"),
            attempt=state.attempt_number,
            delay=round(delay, 2),
            error=_describe(error),
        )

    # LIST.

    def _list(self) -> None:
        rv = "" if self._rv_unavailable else self._rv
        try:
            items, list_rv = self._list_pages(rv)
        except ApiException as e:
            if e.status != 410 or rv == "":
                raise
            self._log.info("informer_relist_expired", resource_version=rv)
            items, list_rv = self._list_pages("")
        self._replace(items, list_rv)
        self._rv_unavailable = False
        self._needs_list = False
        self._log.info(
            "informer_listed",
            objects=len(items),
            resource_version=list_rv,
            from_resource_version=rv,
        )
        self._synced.set()

    def _list_pages(self, rv: str) -> tuple[list[Obj], str]:
        items: list[Obj] = []
        token = ""
        while True:
            if self._stop.is_set():
                raise _StoppedError
            query = [*self._selectors(), ("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            elif rv:
                query.append(("resourceVersion", rv))
            response = open_request(
                self.api, "GET", self._path(), query=query, timeout=LIST_TIMEOUT
            )
            page = json.loads(response.data)
            kind = page.get("kind", "").removesuffix("List") or self.resource.kind
            for obj in page.get("items") or []:
                obj.setdefault("kind", kind)
                obj.setdefault("apiVersion", page.get("apiVersion", self.resource.api_version))
                items.append(obj)
            metadata = page.get("metadata", {})
            token = metadata.get("continue", "")
            if not token:
                return items, metadata.get("resourceVersion", "")

    def _replace(self, items: list[Obj], list_rv: str) -> None:
        """Make the store equal the list, delivering adds, updates and deletes for differences."""
        with self._dispatch_lock:
            seen: set[str] = set()
            for obj in items:
                seen.add(object_key(obj))
                self._apply(obj)
            for key in set(self.store.keys()) - seen:
                old = self.store.delete(key)
                if old is not None:
                    self._notify_delete(old)
            self._rv = list_rv

    # WATCH.

    def _watch(self) -> None:
        query = [
            *self._selectors(),
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self._rv),
            ("timeoutSeconds", random.randint(*WATCH_TIMEOUT_RANGE)),
        ]
        timeout = (CONNECT_TIMEOUT, random.uniform(*READ_TIMEOUT_RANGE))
        try:
            response = open_request(self.api, "GET", self._path(), query=query, timeout=timeout)
        except ApiException as e:
            if e.status == 410:
                self._gone()
                return
            raise
        with self._response_lock:
            self._response = response
        try:
            if self._stop.is_set():
                raise _StoppedError
            self._consume(response)
        except urllib3.exceptions.ReadTimeoutError:
            self._log.info("informer_watch_read_timeout", resource_version=self._rv)
        except (urllib3.exceptions.HTTPError, OSError):
            if self._stop.is_set():
                raise _StoppedError from None
            raise
        finally:
            with self._response_lock:
                self._response = None
            # Close before releasing: a half-read stream must never go back to the pool.
            response.close()
            response.release_conn()
        if self._stop.is_set():
            raise _StoppedError

    def _consume(self, response: urllib3.BaseHTTPResponse) -> None:
        """Apply watch events until the stream ends; return early on 410."""
        for line in response:
            if self._stop.is_set():
                raise _StoppedError
            if not line.strip():
                continue
            event = json.loads(line)
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    self._gone()
                    return
                raise _WatchError(f"{obj.get('code')} {obj.get('reason')}: {obj.get('message')}")
            rv = _rv(obj)
            if kind == "BOOKMARK":
                self._rv = rv or self._rv
                continue
            with self._dispatch_lock:
                if kind in ("ADDED", "MODIFIED"):
                    self._apply(obj)
                elif kind == "DELETED":
                    self._delete(obj)
                if rv:
                    self._rv = rv

    def _gone(self) -> None:
        """410 Gone: relist; if relisting from this same RV already failed to help, use ""."""
        self.gone_relists += 1
        if self._gone_rv == self._rv:
            self._rv_unavailable = True
        self._gone_rv = self._rv
        self._needs_list = True
        self._log.info(
            "informer_watch_gone", resource_version=self._rv, gone_relists=self.gone_relists
        )

    # Store changes and notifications (callers hold the dispatch lock).

    def _apply(self, obj: Obj) -> None:
        if self.transform is not None:
            obj = self.transform(obj)
        old = self.store.upsert(obj)
        if old is None:
            self._notify_add(obj)
        elif _uid(old) != _uid(obj):
            self._notify_delete(old)
            self._notify_add(obj)
        elif _rv(old) != _rv(obj):
            self._notify_update(old, obj)

    def _delete(self, obj: Obj) -> None:
        key = object_key(obj)
        cached = self.store.get(key)
        if cached is None or _uid(cached) != _uid(obj):
            return
        self.store.delete(key)
        self._notify_delete(obj)

    def _notify_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _notify_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:
            self._log.exception("informer_handler_failed", key=object_key(args[-1]))

    def _path(self) -> str:
        r = self.resource
        return resource_path(r.group, r.version, r.plural, namespace=self.namespace)

    def _selectors(self) -> list[tuple[str, Any]]:
        query: list[tuple[str, Any]] = []
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        if self.field_selector:
            query.append(("fieldSelector", self.field_selector))
        return query


def _describe(error: BaseException | None) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return repr(error)
