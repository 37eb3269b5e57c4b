"""The HTTPS server on a loopback port: routing, TLS, and certificate swaps."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator

import pytest
from cryptography import x509

from kubedirector.metrics.registry import WEBHOOK_REQUESTS
from kubedirector.webhook import pki
from kubedirector.webhook.server import WebhookServer
from tests.admission_cases import CASES, app, document
from tests.unit.static_view import StaticView
from tests.unit.test_admission import NS, request, view

HOSTS = pki.service_hosts("kubedirector-webhook", NS)


@pytest.fixture
def served() -> Iterator[tuple[WebhookServer, pki.Bundle]]:
    srv = WebhookServer("127.0.0.1:0", view())
    bundle = pki.issue(HOSTS)
    srv.use(bundle)
    srv.start()
    yield srv, bundle
    srv.stop()


def connect(srv: WebhookServer, ca: str) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cadata=ca)
    return http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=5)


def post(conn: http.client.HTTPSConnection, path: str, body: object) -> tuple[int, dict]:
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def served_serial(conn: http.client.HTTPSConnection) -> int:
    assert isinstance(conn.sock, ssl.SSLSocket)
    der = conn.sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_validate_and_mutate_over_tls(served: tuple[WebhookServer, pki.Bundle]):
    server, bundle = served
    conn = connect(server, bundle.ca_crt)
    before = WEBHOOK_REQUESTS.labels(
        operation="CREATE", kind="KubeDirectorApp", allowed="false"
    )._value.get()
    status, out = post(conn, "/validate", request("kdapp", "CREATE", document(CASES[0], NS)))
    assert status == 200 and out["response"]["allowed"] is False
    assert (
        WEBHOOK_REQUESTS.labels(
            operation="CREATE", kind="KubeDirectorApp", allowed="false"
        )._value.get()
        == before + 1
    )
    status, out = post(conn, "/mutate", request("kdapp", "CREATE", app(NS)))
    assert status == 200 and out["response"]["allowed"] is True


def test_bad_requests(served: tuple[WebhookServer, pki.Bundle]):
    server, bundle = served
    conn = connect(server, bundle.ca_crt)
    assert post(conn, "/elsewhere", {})[0] == 404
    assert post(conn, "/validate", {"kind": "Pod"})[0] == 400
    conn.request("GET", "/validate")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 405


def test_certificate_swap_keeps_the_listener_and_open_connections(
    served: tuple[WebhookServer, pki.Bundle],
):
    server, bundle = served
    ca = bundle.ca_crt
    old = connect(server, ca)
    assert post(old, "/validate", request("kdapp", "CREATE", app(NS)))[0] == 200
    old_serial = served_serial(old)
    renewed = pki.renew(bundle, HOSTS)
    server.use(renewed)
    fresh = connect(server, ca)  # same CA: clients need no new trust
    assert post(fresh, "/validate", request("kdapp", "CREATE", app(NS)))[0] == 200
    assert (
        served_serial(fresh)
        == x509.load_pem_x509_certificate(renewed.tls_crt.encode()).serial_number
        != old_serial
    )
    assert post(old, "/validate", request("kdapp", "CREATE", app(NS)))[0] == 200


def test_not_ready_without_certificate():
    srv = WebhookServer("127.0.0.1:0", StaticView(operator_namespace=NS))
    srv.start()
    try:
        assert not srv.serving()
    finally:
        srv.stop()
