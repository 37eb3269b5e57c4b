"""/healthz, /readyz and /metrics of the health server."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from kubedirector.controller.endpoint import parse_address
from kubedirector.controller.health import HealthServer


def fetch(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


@pytest.fixture
def server():
    health = HealthServer("127.0.0.1:0")
    health.start()
    yield health
    health.stop()


def test_readyz_follows_its_checks_and_healthz_does_not(server):
    synced = {"value": False}
    server.add_ready_check("informers", lambda: synced["value"])
    status, _, body = fetch(server.port, "/readyz")
    assert status == 503 and "informers" in body
    assert fetch(server.port, "/healthz")[0] == 200
    synced["value"] = True
    assert fetch(server.port, "/readyz")[0] == 200


def test_a_failing_check_means_not_ready(server):
    def broken() -> bool:
        raise RuntimeError("boom")

    server.add_ready_check("webhook", broken)
    status, _, body = fetch(server.port, "/readyz")
    assert status == 503 and "webhook" in body


def test_metrics_are_prometheus_text(server):
    status, content_type, body = fetch(server.port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=")
    assert "# TYPE rest_client_requests_total counter" in body
    assert "process_resident_memory_bytes" in body
    assert fetch(server.port, "/nope")[0] == 404


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (":8080", ("0.0.0.0", 8080)),
        ("[::1]:9090", ("::1", 9090)),
    ],
)
def test_parse_address(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["8080", "host:", "host:http", "host:70000"])
def test_parse_address_refuses(address):
    with pytest.raises(ValueError, match="host:port"):
        parse_address(address)
