"""Health and metrics endpoints: /healthz, /readyz and (unless served securely elsewhere)
/metrics on one small plain-HTTP server.

Readiness means "caches synced (and webhook serving)", never leadership: a standby
replica is ready to serve webhooks. Leadership is the leader_election_master_status metric.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message

import structlog

from kubedirector.controller.endpoint import HttpEndpoint, Reply, Route
from kubedirector.metrics.registry import render

log = structlog.get_logger(__name__)

Check = Callable[[], bool]


def metrics_reply(_headers: Message | None = None) -> Reply:
    """The registry in the Prometheus text format."""
    body, content_type = render()
    return Reply(200, body, content_type)


class HealthServer(HttpEndpoint):
    """Serves the probes, and /metrics when `metrics` is true, from a daemon thread."""

    def __init__(self, address: str, *, metrics: bool = True) -> None:
        self._checks: dict[str, Check] = {}
        routes: dict[str, Route] = {
            "/healthz": lambda _h: Reply(200, b"ok\n"),
            "/readyz": self._readyz,
        }
        if metrics:
            routes["/metrics"] = metrics_reply
        super().__init__("health", address, routes)

    def add_ready_check(self, name: str, check: Check) -> None:
        """`/readyz` answers 200 only while every check returns True."""
        self._checks[name] = check

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

    def _readyz(self, _headers: Message) -> Reply:
        failing = self.failing_checks()
        if failing:
            return Reply(503, f"not ready: {', '.join(failing)}\n".encode())
        return Reply(200, b"ok\n")
