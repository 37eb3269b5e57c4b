"""A small HTTP(S) server for the operator's own GET endpoints (probes, metrics, debug).

Routes map a path to a function of the request's headers, so what each endpoint answers
is plain code the tests call directly.  With a TLS context the handshake runs in the
connection's own thread (not the accepting one), so a slow client holds up nobody.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

log = structlog.get_logger(__name__)

CONNECTION_TIMEOUT = 10.0  # handshake and each read


@dataclass(frozen=True)
class Reply:
    """What an endpoint answers."""

    code: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[Message], Reply]


def parse_address(address: str) -> tuple[str, int]:
    """ "host:port", ":port" (all interfaces) or "[v6]:port" to (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], routes: Mapping[str, Route], tls: ssl.SSLContext | None
    ) -> None:
        self.routes = routes
        self.tls = tls
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(CONNECTION_TIMEOUT)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.debug("endpoint_tls_handshake_failed", client=client_address[0], error=str(e))
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()


class HttpEndpoint:
    """Serves `routes` (exact paths, GET only) on `address` from a daemon thread."""

    def __init__(
        self,
        name: str,
        address: str,
        routes: Mapping[str, Route],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.address = parse_address(address)
        self.routes = routes
        self.tls = tls
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} server not started")
        return self._server.server_address[1]

    def start(self) -> None:
        """Bind and serve; raises OSError if the address is taken."""
        self._server = _Server(self.address, self.routes, self.tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name=f"{self.name}-server",
            daemon=True,
        )
        self._thread.start()
        log.info(
            "endpoint_started",
            endpoint=self.name,
            host=self.address[0],
            port=self.port,
            tls=self.tls is not None,
            paths=sorted(self.routes),
        )

    def stop(self, timeout: float = 2.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = CONNECTION_TIMEOUT

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        reply = route(self.headers) if route else Reply(404, b"not found\n")
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.code == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="kubedirector"')
        self.end_headers()
        self.wfile.write(reply.body)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError, ssl.SSLError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Probes and scrapes every few seconds would flood the log; stay quiet."""
