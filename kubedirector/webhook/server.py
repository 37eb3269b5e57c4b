"""The HTTPS admission server: POST /validate and /mutate, AdmissionReview v1.

TLS is set up per connection, in the connection's own thread, from the context
current at accept time: a renewed certificate is swapped in with `use()` while the
listener stays open and connections already established finish undisturbed.
Every request is answered from a `View` of the informer caches and, for clusters,
a few bounded `Live` lookups (see `admission`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from kubedirector.controller.endpoint import parse_address
from kubedirector.metrics.registry import WEBHOOK_CERT_EXPIRY, WEBHOOK_LATENCY, WEBHOOK_REQUESTS
from kubedirector.webhook import pki
from kubedirector.webhook.admission import Mode, review
from kubedirector.webhook.live import Live
from kubedirector.webhook.view import View

log = structlog.get_logger(__name__)

PATHS: dict[str, Mode] = {"/validate": "validate", "/mutate": "mutate"}
CONNECTION_TIMEOUT = 10.0  # handshake and each read; the API server waits at most 30 s
MAX_BODY = 16 * 1024 * 1024  # an AdmissionReview carries the object twice (3 MiB each)


def tls_context(bundle: pki.Bundle) -> ssl.SSLContext:
    """A server context for the bundle's serving certificate (TLS 1.2 or later)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # ssl loads keys only from files: write them where only we can read, then remove.
    with tempfile.TemporaryDirectory(prefix="kd-webhook-") as tmp:
        cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        for path, text in ((cert, bundle.tls_crt), (key, bundle.tls_key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        context.load_cert_chain(cert, key)
    return context


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], webhook: WebhookServer) -> None:
        self.webhook = webhook
        self.open: set[ssl.SSLSocket] = set()  # kept-alive connections, closed by stop()
        self.open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.webhook.context
        if context is None:  # no certificate yet: nothing sensible to say
            return
        request.settimeout(CONNECTION_TIMEOUT)
        try:
            tls = context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.debug("webhook_tls_handshake_failed", client=client_address[0], error=str(e))
            return
        with self.open_lock:
            self.open.add(tls)
        try:
            super().finish_request(tls, client_address)
        finally:
            with self.open_lock:
                self.open.discard(tls)
            tls.close()

    def close_open(self) -> None:
        """End kept-alive connections too: a stopped server must stop answering."""
        with self.open_lock:
            connections = list(self.open)
        for tls in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                tls.shutdown(socket.SHUT_RDWR)


class WebhookServer:
    """Serves admission from `view` and `live` on `address` ("host:port")."""

    def __init__(self, address: str, view: View, live: Live | None = None) -> None:
        self.view = view
        self.live = live
        self.context: ssl.SSLContext | None = None
        self._server = _TLSServer(parse_address(address), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="webhook-server",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def use(self, bundle: pki.Bundle) -> None:
        """Serve `bundle`'s certificate to every connection from now on."""
        self.context = tls_context(bundle)
        WEBHOOK_CERT_EXPIRY.set(pki.not_after(bundle.tls_crt).timestamp())
        log.info("webhook_cert_loaded", port=self.port)

    def start(self) -> None:
        self._thread.start()
        log.info("webhook_server_started", host=self._server.server_address[0], port=self.port)

    def serving(self) -> bool:
        return self.context is not None and self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_open()
        self._thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    server: _TLSServer
    protocol_version = "HTTP/1.1"  # keep-alive: the API server reuses connections
    timeout = CONNECTION_TIMEOUT

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True  # the unread body would garble the next request
            self._reply(400, {"error": "a JSON body with Content-Length is required"})
            return
        started = time.monotonic()
        raw = self.rfile.read(length)
        mode = PATHS.get(self.path.split("?", 1)[0])
        if mode is None:
            self._reply(404, {"error": f"no handler for {self.path}"})
            return
        try:
            body = json.loads(raw)
            webhook = self.server.webhook
            answer = review(body, webhook.view, mode, webhook.live)
        except (ValueError, AttributeError, TypeError) as e:
            self._reply(400, {"error": f"not an AdmissionReview: {e}"})
            return
        elapsed = time.monotonic() - started
        self._record(mode, body["request"], answer["response"], elapsed)
        self._reply(200, answer)

    def do_GET(self) -> None:
        self.close_connection = True
        self._reply(405, {"error": "POST an AdmissionReview to /validate or /mutate"})

    def _record(
        self, mode: Mode, request: dict[str, Any], response: dict[str, Any], elapsed: float
    ) -> None:
        kind = (request.get("kind") or {}).get("kind", "")
        operation = request.get("operation", "")
        allowed = bool(response.get("allowed"))
        WEBHOOK_REQUESTS.labels(operation=operation, kind=kind, allowed=str(allowed).lower()).inc()
        WEBHOOK_LATENCY.observe(elapsed)
        log.info(
            "admission_reviewed",
            webhook=mode,
            uid=request.get("uid", ""),
            kind=kind,
            operation=operation,
            namespace=request.get("namespace", ""),
            name=request.get("name", ""),
            dry_run=bool(request.get("dryRun")),
            allowed=allowed,
            patched="patch" in response,
            warnings=len(response.get("warnings") or []),
            message=(response.get("status") or {}).get("message", "")[:500],
            duration_ms=round(elapsed * 1000, 2),
        )

    def _reply(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Each review is logged once, structured, by `_record`."""

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError, ssl.SSLError):
            self.close_connection = True
