"""Health and metrics endpoints: /healthz, /readyz and /metrics on one small HTTP server.

Readiness means "caches synced (and webhook serving)", never leadership: a standby
replica is ready to serve webhooks. Leadership is the leader_election_master_status metric.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog

from kubedirector.metrics.registry import render

log = structlog.get_logger(__name__)

Check = Callable[[], bool]


def parse_address(address: str) -> tuple[str, int]:
    """ "host:port", ":port" (all interfaces) or "[v6]:port" to (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


class HealthServer:
    """Serves the probes and metrics from a daemon thread."""

    def __init__(self, address: str) -> None:
        self.address = parse_address(address)
        self._checks: dict[str, Check] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_ready_check(self, name: str, check: Check) -> None:
        """`/readyz` answers 200 only while every check returns True."""
        self._checks[name] = check

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("health server not started")
        return self._server.server_address[1]

    def failing_checks(self) -> list[str]:
        failing = []
        for name, check in self._checks.items():
            try:
                ok = check()
            except Exception:
                log.exception("health_check_failed", check=name)
                ok = False
            if not ok:
                failing.append(name)
        return failing

    def start(self) -> None:
        """Bind and serve; raises OSError if the address is taken."""
        server = ThreadingHTTPServer(self.address, _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="health-server",
            daemon=True,
        )
        self._thread.start()
        log.info("health_server_started", host=self.address[0], port=self.port)

    def stop(self, timeout: float = 2.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)


def _handler(health: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, content_type = render()
                self._reply(200, body, content_type)
            elif path == "/healthz":
                self._reply(200, b"ok\n")
            elif path == "/readyz":
                failing = health.failing_checks()
                if failing:
                    self._reply(503, f"not ready: {', '.join(failing)}\n".encode())
                else:
                    self._reply(200, b"ok\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes every few seconds would flood the log; stay quiet."""

    return Handler
